"""Drawing for dataset audits: the SpRAy cluster gallery, the heatmap embedding as a scatter, and the
map of winning channels (filter activation statistics).

Pure NumPy + OpenCV; every function returns an RGB uint8 array (``png`` turns one into bytes). The
engine (:mod:`cnnviz.audit`) never draws.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from cnnviz.render.heatmaps import DEFAULT_COLORMAP, colorize, overlay, png
from cnnviz.render.inside import BACKGROUND, enlarge, grid

#: Qualitative colours (RGB) for clusters and channels, from matplotlib's "tab10".
PALETTE: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
)
DEFAULT_CELL = 112
DEFAULT_EXAMPLES = 6
SCATTER_SIDE = 420
POINT_RADIUS = 4
LEGEND_ROW = 18
FONT = cv2.FONT_HERSHEY_SIMPLEX
FONT_SCALE = 0.42
MAX_LEGEND_CHANNELS = 10  # winning channels beyond these share one grey


def colour_of(index: int) -> tuple[int, int, int]:
    """The palette colour for cluster or legend entry ``index`` (repeats after 10)."""
    return PALETTE[int(index) % len(PALETTE)]


def cluster_row(mean_heatmap: np.ndarray, images: Sequence[np.ndarray], maps: Sequence[np.ndarray],
                caption: str, captions: Sequence[str], cell: int = DEFAULT_CELL,
                colormap: str = DEFAULT_COLORMAP) -> np.ndarray:
    """One cluster: its mean heatmap, then a few members with their own heatmaps over them."""
    scaled = mean_heatmap / max(float(mean_heatmap.max()), 1e-12)
    tiles = [enlarge(colorize(scaled, colormap), cell, smooth=True)]
    tiles += [enlarge(overlay(image, heatmap, colormap), cell) for image, heatmap in zip(images, maps)]
    return grid(tiles, columns=len(tiles), captions=[caption, *captions])


def cluster_gallery(audit: object, images: Mapping[int, np.ndarray], examples: int = DEFAULT_EXAMPLES,
                    cell: int = DEFAULT_CELL, colormap: str = DEFAULT_COLORMAP) -> np.ndarray:
    """Every cluster of a :class:`cnnviz.audit.Audit` as a row: mean heatmap + its most typical
    members (``images``: dataset index -> image, e.g. from :func:`cnnviz.audit.member_images`)."""
    rows = []
    for cluster in audit.clusters:
        members = audit.typical_members(cluster, examples)
        shown = [i for i in members if int(i) in images]
        rows.append(cluster_row(
            cluster.mean_heatmap, [images[int(i)] for i in shown], [audit.heatmap_of(int(i)) for i in shown],
            f"cluster {cluster.id}: {cluster.size}, score {cluster.outlier_score:.2f}",
            [audit.files[audit.position_of(int(i))].rsplit("/", 1)[-1] for i in shown], cell, colormap))
    width = max(row.shape[1] for row in rows)
    padded = [np.pad(row, ((0, 4), (0, width - row.shape[1]), (0, 0)), constant_values=BACKGROUND)
              for row in rows]
    return np.concatenate(padded, axis=0)


def _legend(entries: Sequence[tuple[tuple[int, int, int], str]], width: int) -> np.ndarray:
    strip = np.full((LEGEND_ROW * max(1, len(entries)) + 4, width, 3), BACKGROUND, np.uint8)
    for row, (colour, text) in enumerate(entries):
        y = LEGEND_ROW * row + 4
        cv2.rectangle(strip, (4, y), (16, y + 12), colour, -1)
        cv2.putText(strip, text, (22, y + 11), FONT, FONT_SCALE, (30, 30, 30), 1, cv2.LINE_AA)
    return strip


def embedding_scatter(points: np.ndarray, labels: np.ndarray, names: Sequence[str] | None = None,
                      marked: np.ndarray | None = None, side: int = SCATTER_SIDE) -> np.ndarray:
    """A 2-D embedding (n, 2) as a scatter: one colour per label, a legend below; ``marked`` (bool
    (n,)) points get a black ring (e.g. the images known to carry a planted cue)."""
    canvas = np.full((side, side, 3), BACKGROUND, np.uint8)
    points = np.asarray(points, np.float64)
    low, high = points.min(axis=0), points.max(axis=0)
    margin = 2 * POINT_RADIUS + 4
    scaled = margin + (points - low) / np.where(high > low, high - low, 1.0) * (side - 2 * margin)
    cv2.rectangle(canvas, (0, 0), (side - 1, side - 1), (200, 200, 200), 1)
    for index, ((x, y), label) in enumerate(zip(scaled, labels)):
        centre = (int(round(x)), int(round(side - y)))
        cv2.circle(canvas, centre, POINT_RADIUS, colour_of(label), -1, cv2.LINE_AA)
        if marked is not None and marked[index]:
            cv2.circle(canvas, centre, POINT_RADIUS + 2, (0, 0, 0), 1, cv2.LINE_AA)
    unique = sorted({int(label) for label in labels})
    entries = [(colour_of(label), names[label] if names else f"cluster {label}") for label in unique]
    if marked is not None:
        entries.append(((0, 0, 0), "ringed: known to carry the cue"))
    return np.concatenate([canvas, _legend(entries, side)], axis=0)


def audit_scatter(audit: object, marked: Sequence[int] | np.ndarray | None = None,
                  side: int = SCATTER_SIDE) -> np.ndarray:
    """The audit's t-SNE picture coloured by cluster; ``marked``: dataset indices to ring."""
    if audit.embedding is None:
        from cnnviz.errors import ParameterError

        raise ParameterError("This audit was run without its embedding (embedding=False): nothing to draw.")
    ring = None if marked is None else np.isin(audit.indices, np.asarray(marked))
    names = {c.id: f"cluster {c.id} ({c.size})" for c in audit.clusters}
    return embedding_scatter(audit.embedding, audit.labels, [names[i] for i in range(len(names))], ring, side)


def winners_map(winners: np.ndarray, share: np.ndarray, channels: Sequence[int],
                side: int = 224) -> np.ndarray:
    """The winning channel at each position as a colour (the first ``MAX_LEGEND_CHANNELS`` of
    ``channels`` get palette colours, the rest grey), darker where the vote was less clear; legend below."""
    shown = list(channels)[:MAX_LEGEND_CHANNELS]
    lookup = {c: colour_of(i) for i, c in enumerate(shown)}
    colours = np.array([[lookup.get(int(c), (170, 170, 170)) for c in row] for row in winners], np.float32)
    shade = 0.35 + 0.65 * np.clip(share, 0, 1)[..., None]
    picture = enlarge(np.clip(colours * shade, 0, 255).astype(np.uint8), side)
    entries = [(lookup[c], f"channel {c}") for c in shown]
    if len(channels) > len(shown):
        entries.append(((170, 170, 170), f"{len(channels) - len(shown)} other channels"))
    return np.concatenate([picture, _legend(entries, side)], axis=0)


def statistics_map(statistics: object, side: int = 224) -> np.ndarray:
    """:func:`winners_map` of a :class:`cnnviz.audit.FilterStatistics`."""
    return winners_map(statistics.winners, statistics.share, [w.channel for w in statistics.channels()], side)


__all__ = ["PALETTE", "colour_of", "cluster_row", "cluster_gallery", "embedding_scatter", "audit_scatter",
           "winners_map", "statistics_map", "png"]
