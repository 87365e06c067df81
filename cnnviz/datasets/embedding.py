"""embed: one feature vector per image from a layer of the model, a 2-D map and the kNN accuracy.

The features are a layer's output: global-averaged over height and width for a spatial layer (one
number per channel), as they are for a dense layer. The default layer is the one feeding the
classifier (the pooled features of a keras.applications model, "gap" on the demo model), the
lectures' "pretrained features" that a linear classifier or kNN would use. Activations come from
cnnviz.graph's cached compiled functions, batch by batch under the model's lock.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from cnnviz.datasets.dataset import DEFAULT_BATCH_SIZE, Dataset
from cnnviz.datasets.neighbours import DEFAULT_K, knn_accuracy
from cnnviz.datasets.projection import project
from cnnviz.errors import EmptyDatasetError
from cnnviz.progress import ProgressCallback, report


@dataclass(frozen=True)
class Embedding:
    """Feature vectors of a dataset's images, their 2-D map and how well kNN separates them."""

    layer: str
    projection: str
    features: np.ndarray  # (n, d) float32
    points: np.ndarray  # (n, 2) float32
    indices: np.ndarray  # (n,) record indices
    labels: np.ndarray  # (n,) dataset class index, -1 when unlabelled
    files: tuple[str, ...]
    class_names: tuple[str, ...]
    knn_accuracy: float | None  # leave-one-out, k = knn_k, cosine; None when unlabelled or tiny
    knn_k: int = DEFAULT_K
    seed: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "layer": self.layer, "projection": self.projection, "knn_accuracy": self.knn_accuracy,
            "knn_k": self.knn_k, "images": int(len(self.indices)), "features": int(self.features.shape[1]),
            "classes": list(self.class_names), "seed": self.seed,
            "points": [{"file": file, "class": self.class_names[label] if label >= 0 else None,
                        "x": float(x), "y": float(y), "index": int(index)}
                       for file, label, (x, y), index in zip(self.files, self.labels, self.points,
                                                               self.indices)],
        }


def default_embedding_layer(loaded_model: Any) -> str:
    """The layer whose output feeds the classifier (the model's last layer)."""
    from cnnviz.graph import default_target_layer, flat_graph

    graph = flat_graph(loaded_model)
    producers = graph[graph.output].inputs if graph.output in graph.names else ()
    if producers and producers[0]:
        return producers[0]
    return default_target_layer(loaded_model)


def _features(loaded_model: Any, dataset: Dataset, indices: np.ndarray, layer: str, batch_size: int,
              fit: str, progress: ProgressCallback | None) -> np.ndarray:
    import tensorflow as tf

    from cnnviz.graph import activations_and_logits

    function = activations_and_logits(loaded_model, [layer])
    parts = []
    batches = dataset.batches(indices, loaded_model.input_size, batch_size=batch_size, fit=fit)
    with contextlib.closing(batches):
        for _, pixels in batches:
            with loaded_model.lock:
                inputs = loaded_model.preprocess(tf.cast(tf.convert_to_tensor(pixels), tf.float32))
                activations, _ = function(inputs)
            values = np.asarray(activations[0], np.float32)
            if values.ndim > 2:  # spatial (or sequence) output: average over all but channels
                values = values.mean(axis=tuple(range(1, values.ndim - 1)))
            parts.append(values.reshape(len(values), -1))
            report(progress, sum(len(p) for p in parts), len(indices), stage="features")
    return np.concatenate(parts)


def embed(loaded_model: Any, dataset: Dataset, *, layer: str | None = None, projection: str = "pca",
          split: str = "all", seed: int = 0, batch_size: int = DEFAULT_BATCH_SIZE, fit: str = "crop",
          k: int = DEFAULT_K, progress: ProgressCallback | None = None) -> Embedding:
    """Features of ``layer`` (default: the one before the classifier) for the images of ``split``,
    their 2-D ``projection`` ("pca", "tsne", "umap") and the leave-one-out kNN accuracy."""
    from cnnviz.datasets.projection import PROJECTIONS
    from cnnviz.errors import ParameterError
    from cnnviz.graph import resolve_layer

    started = time.perf_counter()
    if projection not in PROJECTIONS:
        raise ParameterError(f"Unknown projection {projection!r}: use one of {', '.join(PROJECTIONS)}.")
    layer = resolve_layer(loaded_model, layer) if layer else default_embedding_layer(loaded_model)
    indices = dataset.indices(split)
    if len(indices) < 3:
        raise EmptyDatasetError(
            f"The {split} split of {dataset.name} holds {len(indices)} image(s); a map needs at least 3."
        )
    features = _features(loaded_model, dataset, indices, layer, batch_size, fit, progress)
    points = project(features, projection, seed)
    labels = dataset.labels(indices)
    accuracy = knn_accuracy(features, labels, k) if dataset.labelled else None
    return Embedding(layer=layer, projection=projection, features=features, points=points,
                     indices=indices, labels=labels, files=tuple(dataset.files(indices)),
                     class_names=tuple(dataset.class_names), knn_accuracy=accuracy, knn_k=k, seed=seed,
                     seconds=time.perf_counter() - started)
