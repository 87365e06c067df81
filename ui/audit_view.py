"""Draw a SpRAy audit on a page: the clusters (mean heatmap, size, outlier score, typical members), the
t-SNE scatter of the heatmaps, downloads (PNG, HTML report). Any page can call :func:`show_audit`
(the Clever Hans lab, the Dataset page's audit)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from cnnviz.audit import Audit, FilterStatistics
from cnnviz.audit.report import audit_report_html
from cnnviz.render import audit as render_audit
from cnnviz.render.heatmaps import colorize, overlay
from ui.downloads import download_png

EXAMPLES = 6
THUMBNAIL = 112


def _hex(colour: tuple[int, int, int]) -> str:
    return "#%02x%02x%02x" % colour


def scatter_figure(result: Audit, marked: Sequence[int] | None = None) -> go.Figure:
    """The t-SNE picture as a Plotly scatter: one colour per cluster, file names on hover."""
    figure = go.Figure()
    ring = np.isin(result.indices, np.asarray(marked if marked is not None else [], np.int64))
    for cluster in result.clusters:
        inside = result.labels == cluster.id
        figure.add_trace(go.Scattergl(
            x=result.embedding[inside, 0], y=result.embedding[inside, 1], mode="markers",
            name=f"cluster {cluster.id} ({cluster.size})",
            text=[result.files[i] for i in np.flatnonzero(inside)],
            hovertemplate="%{text}<extra></extra>",
            marker={"color": _hex(render_audit.colour_of(cluster.id)), "size": 8,
                    "line": {"color": "black", "width": [2 if r else 0 for r in ring[inside]]}}))
    figure.update_layout(height=420, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                         xaxis={"visible": False}, yaxis={"visible": False}, legend={"orientation": "h"})
    return figure


def show_audit(result: Audit, images: Mapping[int, np.ndarray], *, key: str, dataset_name: str = "",
               model_name: str = "", marked: Sequence[int] | None = None,
               on_member: Callable[[int], None] | None = None) -> None:
    """The audit's clusters, most suspicious first, then the scatter and the downloads.

    ``images``: dataset index -> image for the members to show (``cnnviz.audit.member_images``);
    ``marked``: images known to carry a planted cue (counted per cluster, ringed in the scatter);
    ``on_member(index)``: when given, each member gets a button that calls it (e.g. to open the
    image on the Heatmaps page).
    """
    known = None if marked is None else {int(i) for i in marked}
    st.caption(f"{len(result.indices)} images of {result.class_name}, {len(result.clusters)} clusters "
               f"(number {'from the eigengap' if result.chosen_by == 'eigengap' else 'given'}), "
               f"{result.method}; {result.seconds:.1f} s. "
               "Most suspicious first: small and far from the rest.")
    for cluster in result.clusters:
        cued = f", {sum(int(i) in known for i in cluster.members)} known cued" if known is not None else ""
        with st.expander(f"Cluster {cluster.id}: {cluster.size} images, outlier score "
                         f"{cluster.outlier_score:.2f}{cued}", expanded=cluster.id == 0):
            members = [int(i) for i in result.typical_members(cluster, EXAMPLES) if int(i) in images]
            columns = st.columns(EXAMPLES + 1)
            mean = cluster.mean_heatmap / max(float(cluster.mean_heatmap.max()), 1e-12)
            columns[0].image(colorize(mean), caption="mean heatmap", width=THUMBNAIL)
            for column, index in zip(columns[1:], members):
                name = result.files[result.position_of(index)]
                column.image(overlay(images[index], result.heatmap_of(index)),
                             caption=name.rsplit("/", 1)[-1], width=THUMBNAIL)
                if on_member is not None:
                    column.button("Open", key=f"{key}.open.{index}", on_click=on_member, args=(index,),
                                  help=f"Open {name} on the Heatmaps page")
    if result.embedding is not None:
        st.plotly_chart(scatter_figure(result, marked), key=f"{key}.scatter")
        download_png("Download the scatter (PNG)", lambda: render_audit.audit_scatter(result, marked),
                     f"audit-{result.class_name}-scatter.png", key=f"{key}.scatter.png")
    download_png("Download the clusters (PNG)", lambda: render_audit.cluster_gallery(result, images),
                 f"audit-{result.class_name}-clusters.png", key=f"{key}.clusters.png")
    st.download_button("Download the audit report (HTML)", key=f"{key}.html", mime="text/html",
                       file_name=f"audit-{result.class_name}.html", icon=":material/description:",
                       on_click="ignore",
                       data=lambda: audit_report_html(result, images, dataset_name=dataset_name,
                                                      model_name=model_name, marked=marked))


WINNERS_SHOWN = 8  # winning channels listed under the map


def _open_on_maximize(layer: str, channel: int) -> None:
    """Button callback: pre-set the Maximize page on this channel (its widgets read these keys)."""
    st.session_state["maximize.kind"] = "channel"
    st.session_state["maximize.layer"] = layer
    st.session_state["maximize.channels"] = [channel]
    st.session_state["cnnviz.audit_view.go_maximize"] = True


def show_filter_statistics(statistics: FilterStatistics, *, key: str, link_to_maximize: bool = False) -> None:
    """The winning channel at each position of the layer (Satizabal 2016) as a colour-coded map with
    its legend, and the winning channels listed. ``link_to_maximize``: when the statistics are of the
    sidebar's model, each channel gets a button that opens it on the Maximize page (its optimised
    image and its top activating examples)."""
    if st.session_state.pop("cnnviz.audit_view.go_maximize", False):
        st.switch_page("pages/maximize.py")
    picture = render_audit.statistics_map(statistics)
    left, right = st.columns([1, 1])
    left.image(picture, caption=f"Most often the most active channel at each position of {statistics.layer} "
                                f"over {statistics.images} images of {statistics.class_name}; "
                                "darker where the vote was less clear")
    download_png("Download the map (PNG)", picture, f"filters-{statistics.class_name}.png", key=f"{key}.png")
    for winner in statistics.channels()[:WINNERS_SHOWN]:
        row = right.columns([3, 2])
        row[0].markdown(f"**channel {winner.channel}**: wins {winner.positions} positions, in "
                        f"{100 * winner.share:.0f} % of the images there")
        if link_to_maximize:
            row[1].button("Open on the Maximize page", key=f"{key}.max.{winner.channel}",
                          on_click=_open_on_maximize, args=(statistics.layer, winner.channel))


__all__ = ["show_audit", "scatter_figure", "show_filter_statistics"]
