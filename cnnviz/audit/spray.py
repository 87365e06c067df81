"""Spectral Relevance Analysis (SpRAy; Lapuschkin et al., Nature Communications 2019): audit a
class of a dataset by clustering the heatmaps of all its images.

``audit(loaded_model, dataset, "horse")`` explains the class on every image of the class (any method
of the registry, in batches, with progress), downsizes and normalises the maps, clusters them
spectrally (:mod:`cnnviz.audit.spectral`) and returns the clusters with their size, mean heatmap,
members and outlier score, most suspicious first, plus a t-SNE picture of the maps. A model that
learned a shortcut on part of the class (a copyright tag, a watermark) explains those images by the
shortcut: their maps look alike and unlike the rest, and they form their own small, far cluster.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from cnnviz.audit.spectral import (
    DEFAULT_NEIGHBOURS,
    MAX_CLUSTERS,
    check_cluster_count,
    check_enough,
    outlier_scores,
    spectral_clusters,
    tsne,
)
from cnnviz.errors import ParameterError
from cnnviz.progress import ProgressCallback, report

#: Side of the downsized maps that are clustered (SpRAy downsizes to keep distances meaningful).
MAP_SIZE = 16
#: Side of the maps kept for drawing (mean heatmaps, member overlays).
DISPLAY_SIZE = 64
DEFAULT_BATCH_SIZE = 32


@dataclass(frozen=True)
class Cluster:
    """One group of images whose heatmaps look alike; ``id`` is its rank (0 = most suspicious)."""

    id: int
    members: np.ndarray  # int indices into dataset.records
    files: tuple[str, ...]
    mean_heatmap: np.ndarray  # float32 (DISPLAY_SIZE, DISPLAY_SIZE), in [0, 1]
    outlier_score: float

    @property
    def size(self) -> int:
        return len(self.members)


@dataclass(frozen=True)
class Audit:
    """The SpRAy audit of one class: every image's heatmap, the clusters and the 2-D picture."""

    class_name: str
    method: str
    layer: str | None
    indices: np.ndarray  # (n,) the class's images, indices into dataset.records
    files: tuple[str, ...]
    heatmaps: np.ndarray  # float32 (n, DISPLAY_SIZE, DISPLAY_SIZE), each scaled to [0, 1]
    probabilities: np.ndarray  # (n,) the model's probability of the class
    labels: np.ndarray  # (n,) cluster id of each image
    clusters: tuple[Cluster, ...]  # sorted by outlier score, highest first
    eigenvalues: np.ndarray
    chosen_by: str  # "eigengap" or "given"
    embedding: np.ndarray | None  # (n, 2) t-SNE of the maps, or None when not asked for
    seconds: float

    def position_of(self, index: int) -> int:
        """Where dataset image ``index`` is in :attr:`indices` (ParameterError if not audited)."""
        found = np.flatnonzero(self.indices == index)
        if not len(found):
            raise ParameterError(f"Image {index} is not among the {len(self.indices)} audited images.")
        return int(found[0])

    def cluster_of(self, index: int) -> Cluster:
        """The cluster holding dataset image ``index``."""
        return self.clusters[int(self.labels[self.position_of(index)])]

    def heatmap_of(self, index: int) -> np.ndarray:
        """The (display-size) heatmap of dataset image ``index``."""
        return self.heatmaps[self.position_of(index)]

    def typical_members(self, cluster: Cluster, count: int) -> np.ndarray:
        """Up to ``count`` members of ``cluster`` whose heatmaps are closest to its mean, closest first."""
        inside = self.labels == cluster.id
        differences = (self.heatmaps[inside] - cluster.mean_heatmap).reshape(int(inside.sum()), -1)
        distances = np.linalg.norm(differences, axis=1)
        return self.indices[inside][np.argsort(distances, kind="stable")[:count]]

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON: class, method, clusters (id, size, members as files, outlier score)."""
        return {
            "class": self.class_name, "method": self.method, "layer": self.layer, "images": len(self.indices),
            "chosen_by": self.chosen_by, "eigenvalues": [round(float(v), 6) for v in self.eigenvalues],
            "clusters": [{"id": c.id, "size": c.size, "members": list(c.files),
                          "outlier_score": round(c.outlier_score, 6)} for c in self.clusters],
            "seconds": round(self.seconds, 3),
        }


def _downsize(maps: np.ndarray, side: int) -> np.ndarray:
    """(n, h, w) maps area-averaged to (n, side, side), each rescaled to a maximum of 1."""
    import cv2

    small = np.stack([cv2.resize(m, (side, side), interpolation=cv2.INTER_AREA) for m in maps])
    peaks = small.reshape(len(small), -1).max(axis=1)[:, None, None]
    return np.where(peaks > 0, small / np.where(peaks > 0, peaks, 1.0), 0.0).astype(np.float32)


def _resized(values: np.ndarray, side: int) -> np.ndarray:
    """A 2-D map (or channels summed) resized to (side, side): area average down, bilinear up."""
    import cv2

    values = np.asarray(values, np.float32)
    if values.ndim == 3:
        values = values.sum(axis=-1)
    flags = cv2.INTER_AREA if values.shape[0] >= side else cv2.INTER_LINEAR
    return cv2.resize(values, (side, side), interpolation=flags)


def more_images_hint(split: str) -> str:
    """What to do when a class has too few images in ``split``."""
    return "Add images to the class." if split == "all" else "Add images, or use all of them (split 'all')."


def class_images(dataset: Any, class_name: str, split: str = "all") -> np.ndarray:
    """The indices of ``split`` whose label is ``class_name`` (ClassIndexError for an unknown class)."""
    from cnnviz.datasets.cues import class_index_of

    target = class_index_of(dataset, class_name)
    indices = np.asarray(dataset.indices(split))
    return indices[np.asarray(dataset.labels(indices)) == target]


def evidence_map(result: Any, signed: bool) -> np.ndarray:
    """The map of a Heatmap whose mass is the evidence FOR its class: for a ``signed`` method the
    positive part of its signed attribution (``raw``, at the model's input size; the drawn map is
    its magnitude, which counts evidence against the class too), otherwise the drawn map."""
    return np.maximum(result.raw, 0.0) if signed else result.heatmap


def class_heatmaps(loaded_model: Any, dataset: Any, indices: np.ndarray, class_name: str,
                   method: str = "gradcam", *, layer: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                   progress: ProgressCallback | None = None, evidence: bool = False,
                   **method_params: Any) -> tuple[list[Any], ...]:
    """Heatmaps of ``class_name`` on the images ``indices``, batch by batch (bounded memory).

    Returns (maps (n, DISPLAY_SIZE, DISPLAY_SIZE) each scaled to [0, 1] for drawing, relevance (n,
    MAP_SIZE, MAP_SIZE): the method's own maps before that scaling, positive part, for clustering;
    probabilities (n,), layer). The model explains its own class of the same name or WordNet id
    (ClassMismatchError if it has none). ``evidence``: ``maps`` are the :func:`evidence_map` instead
    of the drawn maps (the same for unsigned methods such as Grad-CAM), e.g. to measure where the
    evidence for the class lies; the audit clusters the drawn maps.
    """
    from cnnviz.datasets.labels import match_classes
    from cnnviz.explanation import explain_batch, get_method

    chosen = get_method(method)
    model_class = int(match_classes([class_name], loaded_model)[0])  # by name or WordNet id
    maps, relevance, probabilities, used_layer = [], [], [], None
    done = 0
    for batch_indices, images in dataset.batches(indices, loaded_model.input_size, batch_size=batch_size):
        results = explain_batch(loaded_model, list(images), chosen.name, model_class, layer, **method_params)
        drawn = [evidence_map(r, chosen.signed) if evidence else r.heatmap for r in results]
        maps.append(_downsize(np.stack(drawn), DISPLAY_SIZE))
        relevance.append(np.stack([_resized(np.maximum(r.raw, 0.0), MAP_SIZE) for r in results]))
        probabilities.extend(r.probability for r in results)
        used_layer = results[0].layer
        done += len(batch_indices)
        report(progress, done, len(indices), stage="heatmaps")
    return np.concatenate(maps), np.concatenate(relevance), np.asarray(probabilities, np.float32), used_layer


def audit(loaded_model: Any, dataset: Any, class_name: str, method: str = "gradcam",
          clusters: int | str = "auto", *, split: str = "all", layer: str | None = None,
          neighbours: int = DEFAULT_NEIGHBOURS, max_clusters: int = MAX_CLUSTERS, embedding: bool = True,
          seed: int = 0, batch_size: int = DEFAULT_BATCH_SIZE, progress: ProgressCallback | None = None,
          **method_params: Any) -> Audit:
    """SpRAy audit of ``class_name``: cluster the heatmaps of all its images in ``split``.

    ``method``: any method of :data:`cnnviz.explanation.METHODS` (``method_params`` its settings);
    ``clusters``: "auto" (the eigengap, at most ``max_clusters``) or a number; ``neighbours``: of the
    affinity graph; ``embedding``: also compute the t-SNE picture. ``progress`` sees the heatmap
    batches (then the clustering as one last step).
    """
    from cnnviz.explanation import get_method

    started = time.perf_counter()
    get_method(method)  # unknown names fail before any work
    indices = class_images(dataset, class_name, split)
    name = dataset.class_names[int(dataset.labels(indices[:1])[0])] if len(indices) else class_name
    check_enough(len(indices), f"Class {name!r} ({split} images)", more_images_hint(split))
    check_cluster_count(clusters, len(indices))
    maps, small, probabilities, used_layer = class_heatmaps(
        loaded_model, dataset, indices, name, method, layer=layer, batch_size=batch_size,
        progress=progress, **method_params)
    clustering = spectral_clusters(small, clusters, neighbours=neighbours, max_clusters=max_clusters,
                                   seed=seed)
    scores = outlier_scores(small, clustering.labels)
    ranked = sorted(scores, key=lambda label: (-scores[label], label))
    relabel = {old: new for new, old in enumerate(ranked)}
    labels = np.array([relabel[int(label)] for label in clustering.labels], np.int64)
    files = tuple(dataset.records[int(i)].file for i in indices)
    groups = tuple(Cluster(
        id=rank, members=indices[labels == rank], files=tuple(f for f, l in zip(files, labels) if l == rank),
        mean_heatmap=maps[labels == rank].mean(axis=0), outlier_score=float(scores[old]),
    ) for rank, old in enumerate(ranked))
    picture = tsne(small, seed) if embedding else None
    report(progress, len(indices), len(indices), stage="clusters")
    return Audit(name, get_method(method).name, used_layer, indices, files, maps, probabilities, labels,
                 groups, clustering.eigenvalues, clustering.chosen_by, picture, time.perf_counter() - started)


def member_images(audit_result: Audit, dataset: Any, size: tuple[int, int], per_cluster: int = 6,
                  batch_size: int = DEFAULT_BATCH_SIZE) -> dict[int, np.ndarray]:
    """The most typical ``per_cluster`` members of every cluster, read at ``size``: index -> image."""
    wanted = np.concatenate([audit_result.typical_members(c, per_cluster) for c in audit_result.clusters])
    images: dict[int, np.ndarray] = {}
    for batch_indices, batch in dataset.batches(np.sort(wanted), size, batch_size=batch_size):
        images.update({int(i): image for i, image in zip(batch_indices, batch)})
    return images


def purity_and_recall(audit_result: Audit, truth: np.ndarray) -> tuple[float, float, Cluster]:
    """How well one cluster isolates the images ``truth`` (dataset indices, e.g. the cued ones): the
    cluster holding most of them, the share of it that is in ``truth`` (purity) and the share of
    ``truth`` it holds (recall)."""
    truth = np.asarray(truth)
    wanted = np.intersect1d(truth, audit_result.indices)
    if not len(wanted):
        raise ParameterError("None of the given images is among the audited ones.")
    best = max(audit_result.clusters, key=lambda c: len(np.intersect1d(c.members, wanted)))
    hits = len(np.intersect1d(best.members, wanted))
    return hits / best.size, hits / len(wanted), best


__all__ = ["audit", "Audit", "Cluster", "class_images", "class_heatmaps", "evidence_map", "member_images",
           "purity_and_recall",
           "MAP_SIZE", "DISPLAY_SIZE"]
