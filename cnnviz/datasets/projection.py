"""2-D maps of feature vectors: PCA, t-SNE (scikit-learn) and UMAP (optional package), seeded.

PCA (Pearson, 1901) is linear and shows global structure; t-SNE (van der Maaten & Hinton, 2008)
keeps neighbourhoods, as in the lectures' VGG-features picture; UMAP (McInnes et al., 2018) keeps
neighbourhoods faster and more of the global layout. t-SNE and UMAP compare cosine distances,
like the kNN accuracy next to them.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import numpy as np

from cnnviz.errors import ParameterError

PROJECTIONS = ("pca", "tsne", "umap")
TSNE_PERPLEXITY = 30.0
UMAP_NEIGHBOURS = 15
UMAP_REQUIREMENTS = "requirements-umap.txt"


@contextlib.contextmanager
def one_openmp_thread() -> Iterator[None]:
    """Run scikit-learn's OpenMP code on one thread. Measured here on a busy 2-core machine:
    t-SNE of 120 points took 0.7 s on one thread and 19 s on two (spinning threads fight for cores)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="openmp"):
        yield


def project(features: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """(n, 2) float32 coordinates of (n, d) features; the same seed gives the same map."""
    if method not in PROJECTIONS:
        raise ParameterError(f"Unknown projection {method!r}: use one of {', '.join(PROJECTIONS)}.")
    features = np.asarray(features, np.float32)
    n = len(features)
    if n < 3:
        raise ParameterError(f"A 2-D map needs at least 3 images, not {n}.")
    with one_openmp_thread():
        points = _fit(features, method, seed)
    points = np.asarray(points, np.float32)
    if points.shape[1] < 2:  # one-dimensional features: put the points on a line
        points = np.concatenate([points, np.zeros((n, 2 - points.shape[1]), np.float32)], axis=1)
    return points


def _fit(features: np.ndarray, method: str, seed: int) -> np.ndarray:
    n = len(features)
    if method == "pca":
        from sklearn.decomposition import PCA

        components = min(2, features.shape[1])
        with warnings.catch_warnings():  # constant features (a dead layer): zero variance, no map
            warnings.simplefilter("ignore", RuntimeWarning)
            return PCA(n_components=components, random_state=seed).fit_transform(features)
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = min(TSNE_PERPLEXITY, (n - 1) / 3)  # t-SNE needs perplexity < n
        return TSNE(n_components=2, perplexity=perplexity, init="pca", metric="cosine",
                    random_state=seed).fit_transform(features)
    try:
        import umap  # type: ignore[import-not-found]
    except ImportError:
        raise ParameterError(
            "The UMAP projection needs the optional umap-learn package: "
            f"pip install -r {UMAP_REQUIREMENTS} (or choose pca or tsne)."
        ) from None
    return umap.UMAP(n_components=2, n_neighbors=min(UMAP_NEIGHBOURS, n - 1), metric="cosine",
                     random_state=seed, n_jobs=1).fit_transform(features)  # seeded UMAP is serial
