"""Spectral clustering of heatmaps, the numerical heart of SpRAy (Lapuschkin et al., Nature
Communications 2019, "Unmasking Clever Hans predictors"), on plain arrays.

Following the SpRAy pipeline (as CoRelAy implements it): each image's heatmap, downsized and
flattened, is a point; a k-nearest-neighbour affinity graph links each point to its closest ones;
the normalised graph Laplacian ``L = I - D^-1/2 A D^-1/2`` has one eigenvalue near 0 per loosely
connected group (exactly 0 per connected component), so the number of (nearly) zero eigenvalues,
else the largest gap between consecutive small eigenvalues (the eigengap), give the number of clusters; the points are clustered by k-means in the space of the leading eigenvectors
(rows scaled to unit length, Ng, Jordan and Weiss 2001). A cluster that is small and far from the
rest is what an auditor should look at first: :func:`outlier_scores`. :func:`tsne` gives the 2-D
picture. NumPy, SciPy and scikit-learn; no TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from cnnviz.errors import ParameterError, TooFewImagesError

#: Neighbours per point in the affinity graph (SpRAy / CoRelAy use 10).
DEFAULT_NEIGHBOURS = 10
#: The eigengap looks for at most this many clusters.
MAX_CLUSTERS = 8
#: Laplacian eigenvalues below this count as zero: a group this loosely tied to the rest is a cluster.
NEAR_ZERO = 0.01
#: Fewer maps than this cannot be clustered meaningfully (a neighbour graph needs neighbours).
MIN_MAPS = 8
#: t-SNE's perplexity, lowered for small sets (it must stay below the number of points).
TSNE_PERPLEXITY = 30.0
KMEANS_RESTARTS = 10
#: Threads for scikit-learn's OpenMP loops (t-SNE, k-means). These problems are small (hundreds of
#: points); on a busy machine OpenMP's spinning threads made t-SNE of 120 maps take 51 s instead of
#: 1.8 s with one thread (measured here under load), so one thread it is.
THREADS = 1


@dataclass(frozen=True)
class Clustering:
    """Cluster labels (n,), the Laplacian's smallest eigenvalues, and how the number was chosen."""

    labels: np.ndarray  # int (n,), 0..k-1
    eigenvalues: np.ndarray  # float (up to max_clusters + 1,), ascending
    count: int
    chosen_by: str  # "eigengap" or "given"


def check_cluster_count(clusters: int | str, available: int) -> int | None:
    """None for "auto", else the whole number of clusters (ParameterError outside 1..available)."""
    if isinstance(clusters, str) and clusters.strip().lower() == "auto":
        return None
    if isinstance(clusters, str) and clusters.strip().isdigit():
        clusters = int(clusters)
    if isinstance(clusters, bool) or not isinstance(clusters, (int, np.integer)) or not (
            1 <= clusters <= available):
        raise ParameterError(f"The number of clusters is 'auto' (from the eigengap) or a whole number from 1 "
                             f"to {available} (the number of images), not {clusters!r}.")
    return int(clusters)


def check_enough(count: int, what: str, hint: str = "Add images.") -> None:
    """TooFewImagesError when fewer than :data:`MIN_MAPS` maps are to be clustered."""
    if count < MIN_MAPS:
        raise TooFewImagesError(f"{what} has {count} image(s); clustering heatmaps needs at least "
                                f"{MIN_MAPS}. {hint}")


def flatten_maps(maps: np.ndarray) -> np.ndarray:
    """(n, h, w) maps as (n, h*w) float64 points, all divided by the set's largest value.

    One scale for the whole set, not one per map: SpRAy clusters relevance maps, whose size is the
    evidence for the class, so where *and* how much relevance there is both count. (Scaling each
    map to its own maximum makes the faint noise of an image with little evidence look like a
    strong cue; on the test story that cut the cued cluster's purity from 1.0 to 0.81.)
    """
    points = np.maximum(np.asarray(maps, np.float64), 0.0).reshape(len(maps), -1)
    peak = points.max() if points.size else 0.0
    return points / peak if peak > 0 else points


def knn_affinity(points: np.ndarray, neighbours: int = DEFAULT_NEIGHBOURS) -> np.ndarray:
    """Symmetric 0/1 affinity (n, n): i and j are linked if either is among the other's nearest."""
    from scipy.spatial.distance import cdist

    count = len(points)
    k = max(1, min(int(neighbours), count - 1))
    distances = cdist(points, points)
    np.fill_diagonal(distances, np.inf)
    nearest = np.argpartition(distances, k - 1, axis=1)[:, :k]
    affinity = np.zeros((count, count))
    affinity[np.repeat(np.arange(count), k), nearest.ravel()] = 1.0
    return np.maximum(affinity, affinity.T)


def normalised_laplacian(affinity: np.ndarray) -> np.ndarray:
    """``I - D^-1/2 A D^-1/2`` (isolated points get 1 on the diagonal)."""
    degree = affinity.sum(axis=1)
    scale = np.where(degree > 0, 1.0 / np.sqrt(np.where(degree > 0, degree, 1.0)), 0.0)
    return np.eye(len(affinity)) - scale[:, None] * affinity * scale[None, :]


def eigengap_count(eigenvalues: np.ndarray) -> int:
    """The number of clusters k at the largest gap ``eigenvalues[k] - eigenvalues[k - 1]``."""
    gaps = np.diff(np.asarray(eigenvalues))
    return int(np.argmax(gaps)) + 1 if len(gaps) else 1


def auto_count(eigenvalues: np.ndarray, max_clusters: int = MAX_CLUSTERS) -> int:
    """The number of clusters when none is given: the number of (nearly) zero eigenvalues when there
    are 2 to ``max_clusters`` of them, otherwise the largest eigengap.

    Eigenvalue 0 of the normalised Laplacian repeats once per connected component of the graph, and
    stays near 0 for a group joined to the rest by a few edges only (von Luxburg 2007, "A tutorial on
    spectral clustering"): such groups are clusters whatever larger gap lies further up. (On the lab's
    story the tagged images were such a group, eigenvalue 0 or 0.002, yet the largest gap, higher up,
    split them over 2 to 7 pure clusters.)"""
    values = np.asarray(eigenvalues)[:max_clusters + 1]
    near_zero = int(np.sum(values < NEAR_ZERO))
    if 1 < near_zero <= max_clusters:
        return near_zero
    return eigengap_count(values)


def spectral_clusters(maps: np.ndarray, clusters: int | str = "auto", *,
                      neighbours: int = DEFAULT_NEIGHBOURS, max_clusters: int = MAX_CLUSTERS,
                      seed: int = 0) -> Clustering:
    """Cluster (n, h, w) heatmaps spectrally; ``clusters``: "auto" (eigengap) or a number."""
    from scipy.linalg import eigh
    from sklearn.cluster import KMeans

    count = len(maps)
    check_enough(count, "The set")
    given = check_cluster_count(clusters, count)
    laplacian = normalised_laplacian(knn_affinity(flatten_maps(maps), neighbours))
    wanted = min(count - 1, max(max_clusters, given or 1))
    with threadpool_limits(THREADS):
        eigenvalues, vectors = eigh(laplacian, subset_by_index=[0, wanted])
    count_k = given if given is not None else auto_count(eigenvalues, max_clusters)
    if count_k == 1:
        return Clustering(np.zeros(count, np.int64), eigenvalues, 1, "given" if given else "eigengap")
    embedding = vectors[:, :count_k]
    norms = np.linalg.norm(embedding, axis=1, keepdims=True)
    embedding = embedding / np.where(norms > 0, norms, 1.0)
    with threadpool_limits(THREADS):
        labels = KMeans(count_k, n_init=KMEANS_RESTARTS, random_state=seed).fit_predict(embedding)
    return Clustering(labels.astype(np.int64), eigenvalues, count_k, "given" if given else "eigengap")


def outlier_scores(maps: np.ndarray, labels: np.ndarray) -> dict[int, float]:
    """Per cluster: how far its mean map lies from the mean of all other maps (in units of the maps'
    typical distance to the overall mean) times how small it is (1 - its share of the maps).
    A small cluster far from the rest scores highest; a single cluster scores 0."""
    points = flatten_maps(maps)
    scale = float(np.median(np.linalg.norm(points - points.mean(axis=0), axis=1))) or 1.0
    scores = {}
    for label in np.unique(labels):
        inside = labels == label
        if inside.all():
            scores[int(label)] = 0.0
            continue
        distance = float(np.linalg.norm(points[inside].mean(axis=0) - points[~inside].mean(axis=0)))
        scores[int(label)] = (1.0 - inside.mean()) * distance / scale
    return scores


def tsne(maps: np.ndarray, seed: int = 0) -> np.ndarray:
    """A 2-D t-SNE embedding (n, 2) of the maps, for the picture (van der Maaten and Hinton 2008)."""
    from sklearn.manifold import TSNE

    points = flatten_maps(maps)
    if len(np.unique(points, axis=0)) < 3:  # nothing to spread out (e.g. every map empty): t-SNE's PCA
        return np.zeros((len(points), 2), np.float32)  # start divides by zero and its C code crashes
    perplexity = min(TSNE_PERPLEXITY, max(2.0, (len(points) - 1) / 3.0))
    with threadpool_limits(THREADS):
        embedded = TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(points)
    return embedded.astype(np.float32)


__all__ = ["Clustering", "spectral_clusters", "outlier_scores", "tsne", "knn_affinity",
           "normalised_laplacian", "eigengap_count", "auto_count", "flatten_maps", "check_cluster_count", "check_enough",
           "DEFAULT_NEIGHBOURS", "MAX_CLUSTERS", "MIN_MAPS"]
