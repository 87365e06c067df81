"""Clever Hans lab: plant a shortcut in a dataset, train a model on it and one on the clean data, see
the damage on three test versions and in the heatmaps, then find the cued images again with SpRAy."""

from __future__ import annotations

import hashlib
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from cnnviz import render
from cnnviz.audit import audit, class_images, filter_statistics, member_images
from cnnviz.audit.lab import DEFAULT_EPOCHS, LAB_METHOD, compare, train_from_scratch
from cnnviz.datasets import generated, open_dataset
from cnnviz.datasets.cues import CUES, DEFAULT_STRENGTH, POSITIONS, TEST_VERSIONS, Cue, Shortcut
from cnnviz.explanation import METHODS, explain_batch
from ui import dataset_state, progress, state
from ui.audit_view import show_audit, show_filter_statistics
from ui.downloads import download_png
from ui.errors import user_errors
from ui.kept_settings import kept_zip_upload

SIZES = (40, 48, 64)
DEFAULT_SIZE = 40  # measured: 40 px, 120 per class, 10 epochs (bench/cleverhans.py, docs/benchmarks.md)
DEFAULT_PER_CLASS = 120
PREVIEW = 6
SHOWN_TEST_IMAGES = 4
WINNING_SHOWN = 3  # winning channels whose optimised image and top examples are shown
MAXIMIZE_STEPS = 128
TOP_EXAMPLES = 6
CUE_HELP = {"tag": "semi-transparent white text in a corner, like the copyright notice on the PASCAL horses",
            "patch": "a small coloured square in a corner", "tint": "a colour cast over the whole image",
            "border": "a coloured frame"}
_STORE = "clever_hans.results"


def _store() -> dict[str, Any]:
    """Per-session results (trained models, comparisons, audits), keyed on what produced them."""
    return st.session_state.setdefault(_STORE, {})


def _key(*parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


@st.cache_resource(max_entries=4, show_spinner="Reading the images...")
def _generated(per_class: int, size: int, seed: int) -> Any:
    return open_dataset(generated(per_class, seed=seed, size=size))


@st.cache_resource(max_entries=2, show_spinner="Reading the zip...")
def _zip(sha256: str, _data: bytes, seed: int) -> Any:
    return open_dataset(_data, seed=seed)


def _dataset() -> tuple[Any, int]:
    """The dataset the lab works on and the image side the models get."""
    kind = st.radio("Images", ["Generated shapes", "My own (zip of class folders)"], horizontal=True,
                    key="clever_hans.kind")
    columns = st.columns(3)
    seed = int(columns[2].number_input("Seed", 0, 10_000, 0, key="clever_hans.seed",
                                       help="of the split, the generated images and the cued images"))
    size = int(columns[1].selectbox("Image side for the models (px)", SIZES, index=SIZES.index(DEFAULT_SIZE),
                                    key="clever_hans.size", help="small images train in seconds"))
    if kind.startswith("Generated"):
        per_class = int(columns[0].number_input("Images per class", 20, 1000, DEFAULT_PER_CLASS, step=20,
                                                key="clever_hans.per_class"))
        return _generated(per_class, size, seed), size
    _, data = kept_zip_upload("A zip with one folder of images per class", "clever_hans.zip",
                              "Upload a zip to continue, or use the generated shapes.")
    return _zip(hashlib.sha256(data).hexdigest(), data, seed), size


def _shortcut(dataset: Any) -> Shortcut:
    columns = st.columns(5)
    class_name = columns[0].selectbox("Class that gets the cue", dataset.class_names, key="clever_hans.class")
    cue = columns[1].selectbox("Cue", CUES, key="clever_hans.cue", format_func=str.capitalize,
                               help="; ".join(f"{name}: {text}" for name, text in CUE_HELP.items()))
    fraction = columns[2].slider("Share of the class", 0.05, 1.0, 1.0, 0.05, key="clever_hans.fraction",
                                 help="how many of the class's images carry the cue "
                                      "(train, validation and test)")
    position = columns[3].selectbox("Corner", POSITIONS, key="clever_hans.position",
                                    disabled=cue not in ("tag", "patch"))
    strength = columns[4].slider("Opacity", 0.1, 1.0, DEFAULT_STRENGTH[cue], 0.05,
                                 key=f"clever_hans.strength.{cue}")
    seed = int(st.session_state["clever_hans.seed"])
    return Shortcut(class_name, Cue(cue, position, strength), fraction, seed)


def _preview(dataset: Any, shortcut: Shortcut) -> None:
    cued = shortcut.apply(dataset, "cued")
    indices = shortcut.cued_indices(dataset)[:PREVIEW]
    images = [cued.image(int(i)) for i in indices]
    names = [[dataset.records[int(i)].file.rsplit("/", 1)[-1]] for i in indices]
    st.image(render.captioned_row(images, names, tile=128),
             caption=f"{len(shortcut.cued_indices(dataset))} images carry the cue ({shortcut.cue.name})")


def _train(dataset: Any, size: int, shortcut: Shortcut, epochs: int) -> dict[str, Any]:
    """The same recipe (the small CNN from scratch, cnnviz.training.train) on the clean and on the
    cued data: label -> LoadedModel."""
    store, key = _store(), _key("models", dataset.sha256(), size, shortcut, epochs)
    if key in store:
        return store[key]
    models = {}
    runs = (("clean", dataset), ("cued", shortcut.apply(dataset, "cued")))
    with progress.progress_bar("Training on the clean, then on the cued images", "clever_hans.train") as bar:
        for number, (label, data) in enumerate(runs):
            def step(done: int, total: int, info: Any, number: int = number) -> Any:
                return bar(number * total + done, len(runs) * total, {"model": label, **info})

            models[label] = train_from_scratch(data, size, epochs, seed=shortcut.seed, progress=step).loaded
    store[key] = models
    return models


def _comparison(models: dict[str, Any], dataset: Any, shortcut: Shortcut, method: str) -> list[Any]:
    store, key = _store(), _key("compare", dataset.sha256(), shortcut, method,
                                tuple(map(id, models.values())))
    if key not in store:
        with progress.progress_bar("Scoring both models on the three test versions",
                                   "clever_hans.compare") as bar:
            store[key] = compare(models, dataset, shortcut, method, progress=bar)
    return store[key]


def _scores_table(reports: list[Any], class_name: str) -> pd.DataFrame:
    rows = []
    for report in reports:
        row = {"model": f"{report.label} model"}
        for version in TEST_VERSIONS:
            score = report.scores[version]
            row[f"{version}: accuracy"] = f"{100 * score.accuracy:.0f} %"
            row[f"{version}: {class_name}"] = f"{100 * score.class_accuracy:.0f} %"
        row[f"moved: others called {class_name}"] = f"{100 * report.scores['moved'].predicted_as_class:.0f} %"
        row["heatmap mass on the cue"] = f"{100 * report.cue_mass:.0f} %"
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


def _heatmaps(models: dict[str, Any], dataset: Any, shortcut: Shortcut, method: str) -> None:
    versions = shortcut.versions(dataset)
    tested = shortcut.test_indices(dataset, "cued")
    chosen = st.multiselect("Test images (of the cued class, with the cue)", [int(i) for i in tested],
                            default=[int(i) for i in tested[:SHOWN_TEST_IMAGES]], key="clever_hans.shown",
                            format_func=lambda i: dataset.records[i].file)
    if not chosen:
        return
    rows = []
    for index in chosen:
        for version in ("cued", "clean"):
            image = versions[version].image(index)
            results = [explain_batch(models[label], [image], method, shortcut.class_name)[0]
                       for label in models]
            notes = [f"{label} model" for label in models]
            rows.append(render.side_by_side(results, image, tile=160, notes=notes))
    grid = render.stack_rows(rows)
    st.image(grid, caption=f"{METHODS[method].title} of class {shortcut.class_name}: each test image with "
                           "its cue, then without it; the clean model's map, then the cued model's")
    download_png("Download the heatmaps (PNG)", grid, "clever-hans-heatmaps.png",
                 key="clever_hans.heatmaps.png")


def _audit(models: dict[str, Any], dataset: Any, shortcut: Shortcut, method: str) -> None:
    cued = shortcut.apply(dataset, "cued")
    label = st.radio("Audit which model", list(models), index=len(models) - 1, horizontal=True,
                     key="clever_hans.audit_model")
    params = (dataset.sha256(), shortcut, method, label)
    if not progress.requested("clever_hans.audit", params, label="Audit the class"):
        return
    store, key = _store(), _key("audit", *params, id(models[label]))
    if key not in store:
        with progress.progress_bar("Explaining every image of the class", "clever_hans.audit") as bar:
            result = audit(models[label], cued, shortcut.class_name, method, progress=bar)
            store[key] = (result, member_images(result, cued, models[label].input_size))
    result, images = store[key]
    show_audit(result, images, key="clever_hans.audit_view", dataset_name=cued.name,
               model_name=f"{label} model", marked=shortcut.cued_indices(dataset),
               on_member=partial(_open_on_heatmaps, models[label], label, cued, method, result.class_name))


def _open_on_heatmaps(model: Any, label: str, dataset: Any, method: str, class_name: str, index: int) -> None:
    """Button callback: the audited model becomes every page's model, the member the current image,
    and the Heatmaps page opens on the audit's method and class (as the Dataset page's audit does)."""
    state.use_trained_model(state.ModelChoice(key=f"{state.LAB_MODEL_PREFIX}{label}:{id(model)}",
                                              label=f"{label} model", loaded=model))
    dataset_state.pick_image(index, dataset, method, class_name)


def _filters(models: dict[str, Any], dataset: Any, shortcut: Shortcut) -> None:
    """Which channels win where for the class (filter activation statistics), and what excites the
    top winners: their optimised images and the class images that excite them most."""
    from cnnviz.graph import spatial_layer_names
    from cnnviz.inside import maximize, top_activating
    from cnnviz.render.inside import boxed_examples

    cued = shortcut.apply(dataset, "cued")
    label = st.session_state.get("clever_hans.audit_model", "cued")
    loaded = models[label]
    layers = spatial_layer_names(loaded)
    layer = st.selectbox("Layer", layers, index=len(layers) - 1, key="clever_hans.filters_layer")
    if not progress.requested("clever_hans.filters", (dataset.sha256(), shortcut, label, layer),
                              label="Count the winning channels"):
        return
    store, key = _store(), _key("filters", dataset.sha256(), shortcut, label, layer, id(loaded))
    if key not in store:
        with progress.progress_bar("Counting the winning channels", "clever_hans.filters") as bar:
            statistics = filter_statistics(loaded, cued, shortcut.class_name, layer, progress=bar)
            winners = [w.channel for w in statistics.channels()[:WINNING_SHOWN]]
            optimised = maximize(loaded, layer, channels=winners, steps=MAXIMIZE_STEPS)
            members = class_images(cued, shortcut.class_name)
            images = [cued.model_input(int(i), loaded.input_size) for i in members]
            examples = [top_activating(loaded, images, layer, c, top=TOP_EXAMPLES) for c in winners]
            store[key] = (statistics, optimised, examples)
    statistics, optimised, examples = store[key]
    show_filter_statistics(statistics, key="clever_hans.filters_view")
    for image, result in zip(optimised.images, examples):
        row = st.columns([1, 5])
        row[0].image(image, caption=f"channel {result.channel}: optimised image", width=96)
        examples = result.examples
        row[1].image(boxed_examples([e.image for e in examples], [e.box for e in examples],
                                    [f"{e.score:.3g}" for e in examples], cell=96, columns=TOP_EXAMPLES),
                     caption=f"channel {result.channel}: the class images that excite it most (receptive "
                             "field of the strongest unit boxed)")


dataset_state.switch_if_picked()
st.title("Clever Hans lab")
st.caption("Plant a shortcut, watch a model learn it, and find it again in the heatmaps of the whole class.")
st.markdown(
    "The winning PASCAL VOC model found horses by the copyright notice printed on many horse photos "
    "(Lapuschkin et al., 2019). Like the horse Clever Hans, who 'counted' by reading his trainer's face, "
    "it was right for the wrong reason. Here you plant such a cue yourself: **1.** choose images and a "
    "cue, **2.** train the same small network on the clean and on the cued images, **3.** compare them on "
    "three versions of the test images (the cue as in training, no cue, the cue moved onto the other "
    "classes) and in their heatmaps, **4.** audit the class: cluster the heatmaps of all its images "
    "(SpRAy) and see whether the cued images stand apart.")

with user_errors():
    st.subheader("1. Images and cue")
    dataset, size = _dataset()
    shortcut = _shortcut(dataset)
    _preview(dataset, shortcut)

    st.subheader("2. Train both models")
    epochs = int(st.number_input("Epochs", 1, 100, DEFAULT_EPOCHS, key="clever_hans.epochs"))
    st.caption("A small CNN (four convolutions) trained from scratch, the same recipe on both versions "
               "(the Train page's 'scratch' strategy). On 120 generated images per class a tag, patch, tint "
               "or border is learned within 10 epochs; the shapes themselves take far longer, so the clean "
               "model stays a weak classifier. Fewer images or epochs, or a faint cue, may not be enough.")
    if not progress.requested("clever_hans.train", (dataset.sha256(), size, shortcut, epochs),
                              label="Train both models"):
        st.stop()
    models = _train(dataset, size, shortcut, epochs)

    st.subheader("3. Compare")
    method = st.selectbox("Heatmap method", list(METHODS), index=list(METHODS).index(LAB_METHOD),
                          key="clever_hans.method", format_func=lambda name: METHODS[name].title,
                          help="Integrated Gradients by default: pixel by pixel. This small network's Grad-CAM "
                               "lives on its last map, an eighth of the image's side (5 x 5 at 40 px): "
                               "too coarse to hold a small tag.")
    reports = _comparison(models, dataset, shortcut, method)
    st.dataframe(_scores_table(reports, shortcut.class_name))
    st.caption("A model that learned the cue does well where the cue is where it was in training, worse "
               "without it, and calls the other classes by the cued class when the cue moves there. The mass "
               "on the cue is the share of the evidence for the cued class (the positive part of its "
               "heatmap, over the cued test images) that lies on the cue's region; a model that weighs "
               "every pixel alike would score the cue's share of the image.")
    _heatmaps(models, dataset, shortcut, method)

    st.subheader("4. Audit the class (SpRAy)")
    _audit(models, dataset, shortcut, method)

    st.subheader("5. Which filters the class leans on")
    st.caption("Filter activation statistics (Satizabal 2016): at each position of a layer, the channel "
               "that is most often the most active over the class's images. A model that reads the tag has "
               "a channel of its own winning the tag's corner.")
    _filters(models, dataset, shortcut)
