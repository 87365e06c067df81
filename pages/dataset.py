"""Dataset: a whole set of images through the model's eyes. Upload a zip of class folders (or generate
shapes), see what was usable, evaluate the model (confusion matrix with the images of each cell and
their Grad-CAM, mistakes, calibration) and map the model's features in 2-D."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
import pandas as pd
import streamlit as st
from matplotlib.figure import Figure

from cnnviz import render
from cnnviz.errors import CancelledError, CnnvizError
from cnnviz.graph import spatial_layer_names
from cnnviz.render import datasets as render_datasets
from cnnviz.render import inside as render_inside
from cnnviz.explanation import METHODS
from ui import dataset_charts, dataset_engine, dataset_state, progress, state
from ui.audit_view import show_audit
from ui.dataset_state import DatasetChoice
from ui.downloads import download_png, png_bytes
from ui.errors import show_error, user_errors

ZIP, GENERATED = "zip", "generated"
SOURCE_LABELS = {ZIP: "Upload a zip", GENERATED: "Generated shapes"}
AUDIT_METHODS = ("gradcam", "gradcam++", "layercam", "saliency", "integrated_gradients")
SPLIT_LABELS = {"all": "All images", "test": "The test split only"}
PROJECTION_LABELS = {"pca": "PCA (fast, linear)", "tsne": "t-SNE (local neighbours)", "umap": "UMAP"}
SAMPLES_PER_CLASS = 8
SAMPLE_CELL = 96
CARD_SIDE = 192  # pixels of an image card (overlays are enlarged by whole pixels)
CARD_COLUMNS = 4
MAX_CARDS = 12
MAX_TABLE_ROWS = 50
CHART_CACHE_ENTRIES = 32
CELL_KEY = "dataset.cell"
MATRIX_KEY = "dataset.matrix"
MAP_KEY = "dataset.map"
FAILED_KEY = "dataset.failed_uploads"  # zip origin -> the error it gave


@st.cache_data(max_entries=CHART_CACHE_ENTRIES, show_spinner=False)
def _chart_png(key: tuple, _draw: Callable[[], Figure]) -> bytes:
    """A static chart's PNG, drawn once per ``key`` (what it shows), not on every rerun."""
    return png_bytes(_draw())


# --- choosing the dataset -----------------------------------------------------------------------
def _choose_zip() -> None:
    # the server's limit (1 GB in .streamlit/config.toml; the Docker image sets its own): said as it is
    limit_mb = int(st.get_option("server.maxUploadSize"))
    limit = f"{limit_mb // 1024} GB" if limit_mb >= 1024 else f"{limit_mb} MB"
    st.caption("A .zip with one folder per class, the folder name being the class name "
               "(`circle/a.png`, `square/b.jpg`, ...; one top folder around them is fine). JPEG, PNG, "
               "BMP, GIF, WebP and TIFF are read by their content. Files that cannot be used are listed "
               f"below with the reason. Up to {limit} per zip (the server's upload limit); for larger "
               "sets use the command line: `python -m cnnviz evaluate --folder DIR --model NAME`.")
    upload = st.file_uploader("Zip of class folders", type=["zip"], key="dataset.zip",
                              max_upload_size=limit_mb)
    if upload is None:
        return
    data = upload.getvalue()
    origin = dataset_engine.zip_origin(data)
    current = dataset_state.current_dataset()
    if current is not None and current.origin == origin:
        return
    failed = st.session_state.setdefault(FAILED_KEY, {})  # not re-read on every rerun
    if origin not in failed:
        try:
            with progress.progress_bar(f"Reading {upload.name}", key="dataset.open") as bar:
                dataset_state.set_dataset(dataset_engine.open_zip(upload.name, data, progress=bar))
            return
        except CancelledError as error:  # stopped: read again when asked, not remembered
            show_error(error, upload.name)
            return
        except CnnvizError as error:
            failed[origin] = error
    show_error(failed[origin], upload.name)
    if current is not None:
        st.caption(f"Still showing the dataset chosen before: {current.dataset.name}.")


def _choose_generated() -> None:
    columns = st.columns([2, 2, 3], vertical_alignment="bottom")
    count = columns[0].number_input("Images per class", 5, 500, 20, step=5, key="dataset.gen_count")
    seed = columns[1].number_input("Seed", 0, 2**31 - 1, 0, step=1, key="dataset.gen_seed")
    current = dataset_state.current_dataset()
    same = current is not None and current.origin == dataset_engine.generated_origin(count, seed)
    if columns[2].button("Use this generated set", key="dataset.gen_use", icon=":material/category:",
                         disabled=same):
        with user_errors():
            dataset_state.set_dataset(dataset_engine.open_generated(int(count), int(seed)))
            st.rerun()
    st.caption("The shapes the demo model knows, drawn by cnnviz with their masks (ground truth for "
               "where the object is). Same seed, same images.")


def _require_dataset() -> DatasetChoice:
    source = st.segmented_control("Images", tuple(SOURCE_LABELS), format_func=SOURCE_LABELS.__getitem__,
                                  default=ZIP, key="dataset.source", label_visibility="collapsed")
    if source == GENERATED:
        _choose_generated()
    else:
        _choose_zip()
    choice = dataset_state.current_dataset()
    if choice is None:
        st.info("Upload a zip of class folders, or choose a generated set.", icon=":material/folder_zip:")
        st.stop()
    return choice


# --- what is in it ------------------------------------------------------------------------------
def _class_of(choice: DatasetChoice, index: int) -> str:
    label = choice.dataset.records[index].label
    return choice.dataset.class_names[label] if label is not None else "unlabelled"


def _sample_rows(choice: DatasetChoice) -> list[tuple[str, np.ndarray]]:
    """(class name, a captioned row of its first images) per class, or one row when unlabelled."""
    dataset = choice.dataset
    labels = dataset.labels()
    groups = ([(name, np.flatnonzero(labels == k)) for k, name in enumerate(dataset.class_names)]
              if dataset.labelled else [("unlabelled", np.arange(len(dataset)))])
    rows = []
    for name, members in groups:
        shown = members[:SAMPLES_PER_CLASS]
        if not len(shown):
            continue
        tiles = dataset_engine.thumbnails(choice, shown, SAMPLE_CELL)
        captions = [dataset.records[i].file.rsplit("/", 1)[-1] for i in shown]
        rows.append((name, render_inside.grid(list(tiles), columns=SAMPLES_PER_CLASS, captions=captions)))
    return rows


def _table(frame: pd.DataFrame) -> None:
    """A plain table (text a reader can search and copy) when short, a scrolling data frame when long."""
    if len(frame) <= MAX_TABLE_ROWS:
        st.table(frame.set_index(frame.columns[0]))
    else:
        st.dataframe(frame, hide_index=True)


def _overview(choice: DatasetChoice) -> None:
    dataset = choice.dataset
    st.subheader(dataset.name, divider="gray")
    figures = st.columns(4)
    figures[0].metric("Usable images", len(dataset))
    figures[1].metric("Classes", len(dataset.class_names) if dataset.labelled else "unlabelled")
    figures[2].metric("Skipped files", len(dataset.skipped))
    figures[3].metric("Duplicate groups", len(dataset.duplicates))
    for warning in dataset.warnings:
        st.warning(warning, icon=":material/warning:")
    left, right = st.columns([3, 2], gap="large")
    with left:
        if dataset.labelled:
            chart = _chart_png(("counts", choice.sha256),
                               lambda: render_datasets.class_counts_figure(dataset.class_counts()))
            st.image(chart, caption="Usable images per class (unusable files are skipped)", width=560)
            st.download_button("Download the chart (PNG)", chart, f"class-counts-{choice.sha256[:8]}.png",
                               mime="image/png", key="dataset.download.counts", on_click="ignore",
                               icon=":material/download:")
    with right:
        if dataset.skipped:
            st.markdown(f"**Skipped files ({len(dataset.skipped)})**: not used anywhere on this page.")
            _table(pd.DataFrame([{"file": s.file, "reason": s.reason} for s in dataset.skipped]))
        else:
            st.success("Every file was a usable image.", icon=":material/check_circle:")
        if dataset.duplicates:
            with st.expander(f"Files with the same pixels ({len(dataset.duplicates)} groups)"):
                _table(pd.DataFrame({"files": [", ".join(group) for group in dataset.duplicates]}))
    st.markdown("**Samples**: the first images of each class.")
    rows = _sample_rows(choice)
    for name, row in rows:
        st.image(row, caption=f"{name} ({dataset.class_counts().get(name, len(dataset))} images)")
    if rows:
        download_png("Download the samples (PNG)", lambda: render.stack_rows([row for _, row in rows]),
                     f"samples-{choice.sha256[:8]}.png", key="dataset.download.samples")


# --- evaluation ---------------------------------------------------------------------------------
def _positions(result, record_indices) -> np.ndarray:
    """Positions in the evaluation's arrays of the given record indices (in their order)."""
    position_of = {int(i): p for p, i in enumerate(result.indices)}
    return np.array([position_of[int(i)] for i in record_indices], dtype=int)


def _card_lines(result, model_names: Sequence[str], position: int, choice: DatasetChoice) -> list[str]:
    """[file, 'predicted X 93 %'] and, for a mistake, 'true Y 4 %' (the probability the true class got)."""
    probabilities = np.asarray(result.probabilities[position])
    predicted, true = int(result.predicted[position]), int(result.true_model[position])
    lines = [choice.dataset.records[int(result.indices[position])].file,
             f"predicted {model_names[predicted]} {100 * probabilities[predicted]:.0f} %"]
    if true != predicted:
        lines.append(f"true {model_names[true]} {100 * probabilities[true]:.0f} %")
    return lines


def _cards(model, choice: DatasetChoice, result, positions: np.ndarray, key: str,
           with_heatmaps: bool) -> None:
    """Image cards (Grad-CAM of the predicted class over what the model saw, or the image), with the
    probabilities, an Open button each, and one PNG of them all."""
    names = model.loaded.class_names
    shown = [int(p) for p in positions[:MAX_CARDS]]
    if len(positions) > len(shown):
        st.caption(f"Showing {len(shown)} of {len(positions)} images.")
    tiles, lines = [], []
    cards = st.container(key=f"cards-{key.replace('.', '-')}")  # CSS class st-key-cards-... (browser test)
    grid = cards.columns(CARD_COLUMNS)
    for slot, position in enumerate(shown):
        index = int(result.indices[position])
        lines.append(_card_lines(result, names, position, choice))
        if with_heatmaps:
            heatmap = dataset_engine.heatmap(model, choice, index, int(result.predicted[position]))
            tile = render.heatmap_overlay(heatmap)
            mask = dataset_engine.dataset_image(choice, index).mask
            if mask is not None and mask.shape == heatmap.heatmap.shape:  # generated: where the shape is
                on = bool(mask.flat[int(np.argmax(heatmap.heatmap))])
                lines[-1].append(f"Grad-CAM peak {'on' if on else 'off'} the shape")
        else:
            tile = dataset_engine.dataset_image(choice, index).image
        tile = render_inside.fit_square(tile, CARD_SIDE)
        tiles.append(tile)
        with grid[slot % CARD_COLUMNS]:
            st.image(tile, caption=f"{lines[-1][0]}: {', '.join(lines[-1][1:])}", width="stretch")
            st.button("Open on the Heatmaps page", key=f"{key}.open.{index}", icon=":material/open_in_new:",
                      on_click=dataset_state.pick_image, args=(index,), type="tertiary")
    if tiles:
        download_png("Download these images (PNG)",
                     lambda: render.stack_rows([
                         render.captioned_row(tiles[i:i + CARD_COLUMNS], lines[i:i + CARD_COLUMNS], CARD_SIDE)
                         for i in range(0, len(tiles), CARD_COLUMNS)]),
                     f"{key.replace('.', '-')}-{choice.sha256[:8]}.png", key=f"{key}.download")


def _select_cell() -> None:
    """The matrix's on_select callback: the clicked cell becomes the chosen cell."""
    points = st.session_state[MATRIX_KEY].selection.points
    if points:
        row, column = (int(dataset_charts.customdata(points[0], i)) for i in (0, 1))
        st.session_state[CELL_KEY] = (row, column)


def _confusion(model, choice: DatasetChoice, result) -> None:
    matrix = np.asarray(result.confusion_matrix)
    true_names, predicted_names = list(result.classes), list(result.predicted_classes)
    cells = [(r, c) for r in range(matrix.shape[0]) for c in range(matrix.shape[1]) if matrix[r, c]]
    if st.session_state.get(CELL_KEY) not in cells:
        st.session_state.pop(CELL_KEY, None)
    selected = st.session_state.get(CELL_KEY)
    st.markdown("**Confusion matrix**: rows are the true classes, columns what the model said. "
                "Click a cell to see its images.")
    st.plotly_chart(dataset_charts.confusion_figure(matrix, true_names, predicted_names, selected),
                    key=MATRIX_KEY, on_select=_select_cell, selection_mode="points", width="content",
                    config={"displayModeBar": False})
    download_png("Download the confusion matrix (PNG)",
                 lambda: render_datasets.confusion_matrix_figure(
                     matrix, true_names, predicted_names, title=f"{model.label} on {choice.dataset.name}"),
                 f"confusion-{model.loaded.name}-{choice.sha256[:8]}.png", key="dataset.download.confusion")
    st.selectbox("Cell (or click one in the matrix)", cells, key=CELL_KEY, index=None,
                 placeholder="Click a cell, or choose one here",
                 format_func=lambda cell: f"true {true_names[cell[0]]}, predicted {predicted_names[cell[1]]} "
                                          f"({matrix[cell]} images)")
    selected = st.session_state.get(CELL_KEY)
    if selected is None:
        return
    positions = _positions(result, result.cell(*selected))
    verdict = "correct" if true_names[selected[0]] == predicted_names[selected[1]] else "mistaken"
    st.markdown(f"**True {true_names[selected[0]]}, predicted {predicted_names[selected[1]]}** "
                f"({len(positions)} {verdict} images): Grad-CAM of the predicted class on what the model "
                "saw.")
    _cards(model, choice, result, positions, "dataset.cell_images", with_heatmaps=True)


def _calibration(model, choice: DatasetChoice, split: str, result) -> None:
    title = f"{model.loaded.name} on {choice.dataset.name}"
    chart = _chart_png(("reliability", model.key, choice.sha256, split),
                       lambda: render_datasets.reliability_figure(result.calibration.bins,
                                                                  result.calibration.ece, title=title))
    st.image(chart, width=520)
    st.download_button("Download the reliability diagram (PNG)", chart, "reliability.png", mime="image/png",
                       key="dataset.download.reliability", on_click="ignore", icon=":material/download:")


def _evaluation(model, choice: DatasetChoice, split: str) -> None:
    st.subheader("Evaluation", divider="gray")
    if not choice.dataset.labelled:
        st.info("These images have no classes (a flat folder): evaluation needs one folder per class. "
                "The embedding map below still works.", icon=":material/label_off:")
        return
    run_key = (model.key, choice.sha256, split)
    if not progress.requested("dataset.evaluate", run_key, label="Evaluate"):
        st.caption(f"Runs {model.label} on every image of the chosen split, in batches.")
        return
    try:
        with progress.progress_bar("Evaluating", key="dataset.evaluate") as bar:
            result = dataset_engine.evaluation(model, choice, split, progress=bar)
    except CnnvizError as error:  # e.g. classes the model does not know: the map below still works
        show_error(error)
        return
    figures = st.columns(4)
    figures[0].metric("Images evaluated", result.images)
    figures[1].metric("Accuracy", f"{100 * result.accuracy:.1f} %")
    figures[2].metric("Top-5 accuracy", "n/a" if result.top5_accuracy is None else
                      f"{100 * result.top5_accuracy:.1f} %",
                      help="Only meaningful with more than 5 classes.")
    figures[3].metric("Calibration error (ECE)", f"{100 * result.calibration.ece:.1f} %")
    for warning in result.warnings:
        st.warning(warning, icon=":material/warning:")
    _confusion(model, choice, result)
    with st.expander("Precision, recall and F1 per class"):
        st.dataframe(pd.DataFrame(result.per_class).T, key="dataset.per_class")
    mistakes, unsure, calibration = st.tabs(["Most confident mistakes", "Least confident correct answers",
                                             "Reliability diagram"])
    with mistakes:
        positions = _positions(result, [m.index for m in result.mistakes])
        if len(positions):
            _cards(model, choice, result, positions, "dataset.mistakes", with_heatmaps=True)
        else:
            st.success("No mistakes on these images.", icon=":material/check_circle:")
    with unsure:
        positions = _positions(result, [m.index for m in result.least_confident_correct])
        if len(positions):
            _cards(model, choice, result, positions, "dataset.unsure", with_heatmaps=True)
        else:
            st.info("No correct answers to show.", icon=":material/info:")
    with calibration:
        _calibration(model, choice, split, result)


# --- embedding ----------------------------------------------------------------------------------
def _open_point() -> None:
    """The map's on_select callback: open the clicked image on the Heatmaps page."""
    points = st.session_state[MAP_KEY].selection.points
    if points:
        dataset_state.pick_image(int(dataset_charts.customdata(points[0], 0)))


def _embedding(model, choice: DatasetChoice, split: str) -> None:
    st.subheader("Embedding map", divider="gray")
    st.caption("Each image becomes the vector of one layer's features (averaged over positions); the "
               "map places similar vectors close together. Hover a point for its file and class; click "
               "it to open the image on the Heatmaps page.")
    projections = [p for p in PROJECTION_LABELS if p != "umap" or importlib.util.find_spec("umap")]
    columns = st.columns([3, 2, 2], vertical_alignment="bottom")
    layers = [""] + spatial_layer_names(model.loaded)
    layer = columns[0].selectbox("Layer", layers, key="dataset.layer",
                                 format_func=lambda name: name or "the layer before the classifier")
    projection = columns[1].selectbox("Projection", projections, key="dataset.projection",
                                      format_func=PROJECTION_LABELS.__getitem__)
    thumbs = columns[2].toggle("Thumbnails on the map", value=True, key="dataset.thumbs",
                               help="Draws each image at its point (up to "
                                    f"{dataset_charts.MAX_THUMBNAILS_ON_MAP} images).")
    if not progress.requested("dataset.embed", (model.key, choice.sha256, split, layer, projection),
                              label="Compute the map"):
        return
    try:
        with progress.progress_bar("Computing features", key="dataset.embed") as bar:
            mapped = dataset_engine.embedding(model, choice, layer, projection, split, progress=bar)
    except CnnvizError as error:
        show_error(error)
        return
    indices = [int(i) for i in mapped.indices]
    labels = [_class_of(choice, i) for i in indices]
    files = [choice.dataset.records[i].file for i in indices]
    order = list(choice.dataset.class_names) or ["unlabelled"]
    title = f"{model.loaded.name}, layer {mapped.layer}, {mapped.projection}"
    if mapped.knn_accuracy is not None:
        st.metric(f"kNN accuracy of the features (k = {mapped.knn_k}, cosine, leave-one-out)",
                  f"{100 * mapped.knn_accuracy:.1f} %")
    few = len(indices) <= dataset_charts.MAX_THUMBNAILS_ON_MAP
    tiles = dataset_engine.thumbnails(choice, indices) if thumbs and few else None
    if thumbs and not few:
        st.caption(f"{len(indices)} images: too many to draw as thumbnails (at most "
                   f"{dataset_charts.MAX_THUMBNAILS_ON_MAP}); hover a point for its file.")
    points = np.asarray(mapped.points, dtype=float)
    st.plotly_chart(dataset_charts.embedding_figure(points, labels, files, indices, order, tiles, title),
                    key=MAP_KEY, on_select=_open_point, selection_mode="points")
    download_png("Download the map (PNG)",
                 lambda: render_datasets.embedding_figure(points, mapped.labels, choice.dataset.class_names,
                                                          title),
                 f"embedding-{model.loaded.name}-{choice.sha256[:8]}.png", key="dataset.download.map")


# --- audit --------------------------------------------------------------------------------------
def _audit(model, choice: DatasetChoice, split: str) -> None:
    st.subheader("Audit a class (SpRAy)", divider="gray")
    st.caption("Clusters the heatmaps of every image of one class (Spectral Relevance Analysis, Lapuschkin "
               "et al., Nature Communications 2019): images the model recognises by the same evidence fall "
               "together. A small cluster far from the rest deserves a look: it may be a shortcut, like the "
               "copyright tag the winning PASCAL VOC model read on horse photos. The Clever Hans lab plants "
               "such a cue and finds it again.")
    if not choice.dataset.labelled:
        st.info("An audit looks at one class at a time: it needs one folder per class.",
                icon=":material/label_off:")
        return
    columns = st.columns(2)
    class_name = columns[0].selectbox("Class to audit", choice.dataset.class_names, key="dataset.audit_class")
    method = columns[1].selectbox("Heatmap method", AUDIT_METHODS, key="dataset.audit_method",
                                  format_func=lambda name: METHODS[name].title,
                                  help="The heatmaps that are clustered; Grad-CAM is the fastest.")
    if not progress.requested("dataset.audit", (model.key, choice.sha256, split, class_name, method),
                              label="Audit the class"):
        return
    try:
        with progress.progress_bar("Explaining every image of the class", key="dataset.audit") as bar:
            result, images = dataset_engine.class_audit(model, choice, split, class_name, method, progress=bar)
    except CnnvizError as error:  # e.g. too few images of the class to cluster
        show_error(error)
        return
    show_audit(result, images, key="dataset.audit_view", dataset_name=choice.dataset.name,
               model_name=model.label,
               on_member=partial(dataset_state.pick_image, method=method, class_name=result.class_name))


# --- the page -----------------------------------------------------------------------------------
dataset_state.switch_if_picked()
st.title("Dataset")
st.caption("A whole set of your images through the model's eyes: what it gets right, what it confuses "
           "and why, and whether its features separate the classes.")

choice = _require_dataset()
_overview(choice)
model = state.require_model()
split = st.radio("Images to use", tuple(SPLIT_LABELS), format_func=SPLIT_LABELS.__getitem__,
                 key="dataset.split", horizontal=True,
                 help="The test split is a seeded, stratified 15 % of every class, the same one the "
                      "training pages hold out. A model that never saw these images can be judged on all.")
_evaluation(model, choice, split)
_embedding(model, choice, split)
_audit(model, choice, split)

with st.expander("How to read this", expanded=False):
    st.markdown(
        "**Confusion matrix.** Row *i*, column *j* counts the images of true class *i* that the model "
        "called *j*; the diagonal holds the correct answers, every other cell one kind of mistake. "
        "Reading along a row gives the recall of that class (how many of its images were found), down a "
        "column the precision (how many answers of that class were right); F1 is their harmonic mean. "
        "Accuracy alone hides which classes suffer, especially when the classes have very different "
        "sizes. Clicking a cell shows its images with Grad-CAM (Selvaraju et al., 2017) for the "
        "predicted class: whether a mistake rests on the object or on something else in the picture.\n\n"
        "**Calibration.** A model is calibrated when, among the images it answers with 80 % confidence, "
        "80 % are right. The reliability diagram sorts the images into confidence bins and compares "
        "each bin's accuracy with its mean confidence; the expected calibration error (ECE) is the "
        "average gap, weighted by the number of images per bin (Naeini et al., 2015; Guo et al., "
        "2017). Bars below the diagonal mean over-confidence, which Guo et al. found typical of "
        "modern deep networks. With few images per bin the ECE is noisy.\n\n"
        "**Embedding map and kNN.** Drop a network's classifier and average its last feature maps "
        "over the positions: what is left is one vector per image (2048 numbers for ResNet50), a "
        "description that is useful beyond the classes the network was trained on (the lectures: "
        "a pretrained network as a feature extractor). Such off-the-shelf features fed to a simple "
        "classifier match or beat tuned hand-crafted systems (Razavian et al., 2014), and a t-SNE "
        "map of pretrained VGG features puts images of one kind together, so that a "
        "k-nearest-neighbour classifier on them already works. The map here does the same with the "
        "chosen model and layer (by default the layer before the classifier). The kNN accuracy "
        "labels each image by "
        "the majority of its 5 nearest neighbours (cosine distance, the image itself left out): high "
        "means the features separate your classes before any training. PCA projects the features onto "
        "the two directions in which they vary most: a linear, faithful view of those two "
        "directions, where classes that differ along other directions fall on top of each other. "
        "t-SNE (van der Maaten & Hinton, 2008) and UMAP (McInnes et al., 2018) keep each image "
        "near its nearest neighbours but distort the distances between clusters and their sizes: "
        "read which points are close, not how far apart groups are.\n\n"
        "**References.** C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger, *On Calibration of Modern "
        "Neural Networks*, ICML 2017. M. P. Naeini, G. Cooper, M. Hauskrecht, *Obtaining Well "
        "Calibrated Probabilities Using Bayesian Binning*, AAAI 2015. A. S. Razavian, H. Azizpour, J. "
        "Sullivan, S. Carlsson, *CNN Features off-the-shelf: an Astounding Baseline for "
        "Recognition*, CVPR Workshops 2014. L. van der Maaten, G. Hinton, *Visualizing Data using "
        "t-SNE*, JMLR 2008. L. McInnes, J. Healy, J. Melville, *UMAP*, arXiv:1802.03426, 2018. "
        "R. R. Selvaraju et al., *Grad-CAM*, ICCV 2017. Lecture decks: "
        "*Deep architectures and transfer learning* (CS5489 lecture 10b, 'Computing Image "
        "Features'), and B. Sick, O. Dürr, *What does a CNN look at* (WBL Deep Learning lecture 3, "
        "'Use features from a pretrained VGG as input to t-SNE')."
    )
