"""A one-file HTML report of a SpRAy audit: the clusters (mean heatmap, size, outlier score, typical
members), the t-SNE picture, and how to read them. Built on :mod:`cnnviz.report`'s pieces (same style,
pictures embedded as PNG data URIs, no script, every text escaped)."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence

import numpy as np

from cnnviz import __version__
from cnnviz.report import _STYLE, _data_uri  # the report module's building blocks

EXAMPLES = 6  # members shown per cluster


def _figure(image: np.ndarray, caption: str) -> str:
    """A picture at its own width (the report's figures are one fixed width; audit rows are wide)."""
    return (f'<figure style="width:{image.shape[1]}px;max-width:100%"><img src="{_data_uri(image)}" '
            f'alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}</figcaption></figure>')


def _cluster_table(audit: object, marked: set[int] | None) -> str:
    head = "<tr><th>cluster</th><th>images</th><th>outlier score</th><th>mean probability</th>"
    head += "<th>known cued</th></tr>" if marked is not None else "</tr>"
    rows = []
    for cluster in audit.clusters:
        inside = audit.labels == cluster.id
        cells = (f"<td>{cluster.id}</td><td>{cluster.size}</td><td>{cluster.outlier_score:.3f}</td>"
                 f"<td>{100 * float(audit.probabilities[inside].mean()):.1f} %</td>")
        if marked is not None:
            cells += f"<td>{sum(int(i) in marked for i in cluster.members)}</td>"
        rows.append(f"<tr>{cells}</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def audit_report_html(audit: object, images: Mapping[int, np.ndarray], *, dataset_name: str, model_name: str,
                      marked: Sequence[int] | None = None, statistics: object | None = None,
                      created: dt.datetime | None = None) -> str:
    """The HTML text of an audit report; ``images``: dataset index -> image for the members shown
    (:func:`cnnviz.audit.member_images`); ``marked``: images known to carry a planted cue (shown
    per cluster); ``statistics``: a FilterStatistics of the same class, drawn when given."""
    from cnnviz.render.audit import audit_scatter, cluster_row, statistics_map

    created = created or dt.datetime.now().astimezone()
    known = None if marked is None else {int(i) for i in marked}
    title = f"cnnviz audit: class {audit.class_name} of {dataset_name}"
    header = (f"<h1>{html.escape(title)}</h1><p class='meta'>model {html.escape(model_name)}, method "
              f"{html.escape(audit.method)}{', layer ' + html.escape(audit.layer) if audit.layer else ''}; "
              f"{len(audit.indices)} images, {len(audit.clusters)} clusters "
              f"({html.escape(audit.chosen_by)}); "
              f"{audit.seconds:.1f} s; cnnviz {__version__}, {created:%Y-%m-%d %H:%M %Z}</p>")
    sections = []
    for cluster in audit.clusters:
        shown = [int(i) for i in audit.typical_members(cluster, EXAMPLES) if int(i) in images]
        names = [audit.files[audit.position_of(i)].rsplit("/", 1)[-1] for i in shown]
        row = cluster_row(cluster.mean_heatmap, [images[i] for i in shown],
                          [audit.heatmap_of(i) for i in shown], "mean heatmap", names)
        files = ", ".join(html.escape(f) for f in cluster.files[:40])
        more = f" and {cluster.size - 40} more" if cluster.size > 40 else ""
        sections.append(f"<h2>Cluster {cluster.id}: {cluster.size} images, outlier score "
                        f"{cluster.outlier_score:.3f}</h2><div class='row'>"
                        f"{_figure(row, f'cluster {cluster.id}: mean heatmap and its most typical members')}"
                        f"</div><p class='note'>Members: {files}{more}</p>")
    pictures = []
    if audit.embedding is not None:
        pictures.append(_figure(audit_scatter(audit, marked),
                                "t-SNE of the heatmaps, one colour per cluster"))
    if statistics is not None:
        pictures.append(_figure(statistics_map(statistics),
                                f"most frequent winning channel per position of {statistics.layer} "
                                f"over {statistics.images} images"))
    note = ("<h2>How to read this</h2><p class='note'>Every image of the class was explained with the "
            "method above; the heatmaps, downsized, were grouped by spectral clustering of their "
            "nearest-neighbour graph (SpRAy, Lapuschkin et al., Nature Communications 2019). A cluster "
            "whose mean heatmap sits off the object, on a corner, a frame or a watermark, is a sign that "
            "the model uses a shortcut there. The outlier score ranks small clusters far from the rest "
            "first: look at those first. Clusters are groups of similar explanations, not proof: open "
            "their members and check.</p>")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>{header}"
            f"{_cluster_table(audit, known)}"
            f"<div class='row' style='margin-top:1rem'>{''.join(pictures)}</div>"
            f"{''.join(sections)}{note}</body></html>")


__all__ = ["audit_report_html"]
