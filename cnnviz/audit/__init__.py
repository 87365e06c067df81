"""Dataset audits: find what a model relies on across a whole class, not one image at a time.

One module per job: :mod:`cnnviz.audit.spectral` (spectral clustering of maps, eigengap, outlier
scores, t-SNE; arrays only), :mod:`cnnviz.audit.spray` (SpRAy: the heatmaps of a class, clustered),
:mod:`cnnviz.audit.filters` (filter activation statistics: the winning channel per position),
:mod:`cnnviz.audit.lab` (the Clever Hans lab: models scored on the three test versions of a
planted cue, and their heatmaps' mass on it), :mod:`cnnviz.audit.report` (the HTML audit report).
Importing the package loads no TensorFlow.
"""

from __future__ import annotations

from cnnviz.audit.filters import FilterStatistics, WinningChannel, filter_statistics
from cnnviz.audit.spectral import Clustering, outlier_scores, spectral_clusters, tsne
from cnnviz.audit.spray import Audit, Cluster, audit, class_images, member_images, purity_and_recall

__all__ = ["audit", "Audit", "Cluster", "class_images", "member_images", "purity_and_recall",
           "spectral_clusters", "outlier_scores", "tsne", "Clustering",
           "filter_statistics", "FilterStatistics", "WinningChannel"]
