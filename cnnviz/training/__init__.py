"""Transfer learning on your own images: train a classifier on a backbone, then explain it.

``train(backbone, dataset, strategy, ...)`` -> :class:`TrainingResult` whose ``loaded`` is a
``LoadedModel`` every engine function accepts. One module per job: backbone (cutting), heads,
strategies, augmentation (+ preview), pipeline (tf.data from a Dataset), class_weights, callbacks
(progress, cancel, best weights), export (.keras + labels), guide (the lectures' strategy table).
"""

from __future__ import annotations

from cnnviz.training.augmentation import Augmentation, preview
from cnnviz.training.backbone import Backbone, resolve_backbone
from cnnviz.training.export import labels_path, load, save
from cnnviz.training.guide import suggest
from cnnviz.training.strategies import STRATEGIES, Settings, clear_feature_cache
from cnnviz.training.train import TrainingResult, train

__all__ = ["Augmentation", "Backbone", "STRATEGIES", "Settings", "TrainingResult", "clear_feature_cache",
           "labels_path", "load", "preview", "resolve_backbone", "save", "suggest", "train"]
