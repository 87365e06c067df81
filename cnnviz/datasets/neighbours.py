"""Leave-one-out k-nearest-neighbour accuracy of feature vectors (k = 5, cosine distance).

Each image is classified by the majority label of its k nearest other images (Cover & Hart,
1967); ties go to the class of the nearest neighbour among the tied ones. A high accuracy means
the features already separate the classes, before any classifier is trained on them (the
lectures' kNN on pretrained VGG features).
"""

from __future__ import annotations

import numpy as np

DEFAULT_K = 5


def knn_predictions(features: np.ndarray, labels: np.ndarray, k: int = DEFAULT_K) -> np.ndarray:
    """The leave-one-out kNN label of every row of ``features`` (each row never votes for itself)."""
    from sklearn.neighbors import NearestNeighbors

    from cnnviz.datasets.projection import one_openmp_thread

    labels = np.asarray(labels, np.int64)
    with one_openmp_thread():  # kneighbors() without X leaves each point out of its own neighbours
        neighbours = NearestNeighbors(n_neighbors=k, metric="cosine").fit(features).kneighbors(
            return_distance=False)
    votes = labels[neighbours]  # (n, k), nearest first
    predictions = np.empty(len(labels), np.int64)
    for row, vote in enumerate(votes):
        counts = np.bincount(vote)
        tied = np.flatnonzero(counts == counts.max())
        predictions[row] = next(label for label in vote if label in tied)
    return predictions


def knn_accuracy(features: np.ndarray, labels: np.ndarray, k: int = DEFAULT_K) -> float | None:
    """Fraction of images whose leave-one-out kNN label is right; None with k or fewer images."""
    if len(features) <= k:
        return None
    return float(np.mean(knn_predictions(features, labels, k) == np.asarray(labels)))
