"""Spectral clustering of heatmaps (SpRAy's core) on synthetic maps whose answer is known; no model."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.audit.spectral import (
    auto_count,
    eigengap_count,
    knn_affinity,
    normalised_laplacian,
    outlier_scores,
    spectral_clusters,
    tsne,
)
from cnnviz.errors import ParameterError, TooFewImagesError

SIDE = 16


def _blob(rng: np.random.Generator, centre: tuple[float, float], spread: float = 1.8) -> np.ndarray:
    rows, cols = np.mgrid[:SIDE, :SIDE]
    peak = np.exp(-((rows - centre[0]) ** 2 + (cols - centre[1]) ** 2) / (2 * spread ** 2))
    return peak + 0.1 * rng.random((SIDE, SIDE))


def _maps(rng: np.random.Generator,
          groups: list[tuple[int, tuple[float, float] | None]]) -> tuple[np.ndarray, np.ndarray]:
    """Maps in groups: (count, fixed centre) or (count, None) for a centre drawn anywhere in the middle."""
    maps, truth = [], []
    for label, (count, centre) in enumerate(groups):
        for _ in range(count):
            maps.append(_blob(rng, centre if centre is not None else tuple(rng.uniform(4, 11, 2))))
            truth.append(label)
    order = rng.permutation(len(maps))
    return np.array(maps)[order], np.array(truth)[order]


def test_a_small_far_group_gets_its_own_cluster_and_ranks_first():
    rng = np.random.default_rng(0)
    maps, truth = _maps(rng, [(70, None), (30, (14.5, 13.0))])  # 30 % of the maps peak in a corner
    clustering = spectral_clusters(maps, "auto", seed=0)
    assert clustering.chosen_by == "eigengap" and clustering.count >= 2
    corner = [label for label in range(clustering.count) if truth[clustering.labels == label].mean() > 0.5]
    assert len(corner) == 1
    members = clustering.labels == corner[0]
    assert truth[members].mean() >= 0.95 and members[truth == 1].mean() >= 0.95  # purity, recall
    scores = outlier_scores(maps, clustering.labels)
    assert max(scores, key=scores.get) == corner[0]


def test_three_well_separated_groups_give_three_clusters_by_the_eigengap():
    rng = np.random.default_rng(1)
    maps, truth = _maps(rng, [(20, (3.0, 3.0)), (25, (12.0, 12.0)), (15, (3.0, 12.0))])
    clustering = spectral_clusters(maps, "auto", neighbours=8, seed=0)
    assert clustering.count == 3
    for label in range(3):  # each cluster is exactly one group
        assert len(set(truth[clustering.labels == label])) == 1
    assert clustering.eigenvalues[2] < 1e-6 < clustering.eigenvalues[3]  # three components: three zeros
    given = spectral_clusters(maps, 2, seed=0)
    assert given.count == 2 and given.chosen_by == "given"


def test_the_graph_and_laplacian_follow_their_definitions():
    points = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]])
    affinity = knn_affinity(points, neighbours=2)
    assert np.array_equal(affinity, affinity.T) and affinity[:3, 3:].sum() == 0
    laplacian = normalised_laplacian(affinity)
    degree = affinity.sum(axis=1)
    expected = np.eye(6) - affinity / np.sqrt(np.outer(degree, degree))
    assert np.allclose(laplacian, expected)
    eigenvalues = np.linalg.eigvalsh(laplacian)
    assert eigengap_count(eigenvalues[:4]) == 2


def test_one_homogeneous_group_scores_zero_and_the_embedding_separates_groups():
    rng = np.random.default_rng(2)
    same = np.array([_blob(rng, (8.0, 8.0)) for _ in range(12)])
    assert outlier_scores(same, np.zeros(12, int)) == {0: 0.0}
    maps, truth = _maps(rng, [(15, (3.0, 3.0)), (15, (12.0, 12.0))])
    points = tsne(maps, seed=0)
    assert points.shape == (30, 2)
    centres = [points[truth == k].mean(axis=0) for k in (0, 1)]
    spread = max(np.linalg.norm(points[truth == k] - centres[k], axis=1).max() for k in (0, 1))
    assert np.linalg.norm(centres[0] - centres[1]) > spread


def test_too_few_maps_and_bad_cluster_counts_are_typed_errors():
    rng = np.random.default_rng(3)
    with pytest.raises(TooFewImagesError, match="at least 8"):
        spectral_clusters(np.array([_blob(rng, (8.0, 8.0)) for _ in range(5)]))
    maps = np.array([_blob(rng, (8.0, 8.0)) for _ in range(10)])
    for bad in (0, 11, "many", 2.5, True):
        with pytest.raises(ParameterError, match="auto"):
            spectral_clusters(maps, bad)


def test_empty_maps_neither_crash_the_clustering_nor_the_embedding():
    """A model with no evidence for the class gives all-zero maps (t-SNE's C code crashed on them)."""
    maps = np.zeros((12, SIDE, SIDE))
    assert spectral_clusters(maps).count >= 1
    assert np.array_equal(tsne(maps), np.zeros((12, 2), np.float32))


def test_nearly_zero_eigenvalues_count_before_the_largest_gap():
    # A group tied to the rest by a few edges keeps an eigenvalue near 0 (here 0.002, the lab's tagged
    # images); the largest gap further up (0.22 -> 0.43) would split the groups into 6 clusters.
    eigenvalues = np.array([0.0, 0.002, 0.073, 0.113, 0.147, 0.22, 0.433, 0.506, 0.538])
    assert eigengap_count(eigenvalues) == 6 and auto_count(eigenvalues) == 2
    assert auto_count(np.array([0.0, 0.3, 0.35, 0.4])) == 1  # one group: the first gap is the largest
