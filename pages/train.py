"""Train: transfer learning on your own images, live, then every cnnviz page on the trained model.

Choose a dataset, a backbone and a strategy (the lectures' table suggests one from the dataset's
size), set epochs, batch size, learning rate and augmentation (with a live preview of your images),
and train. Training runs in a background worker (one job at a time per server, in a queue); the
curves update while it runs, Stop ends it within one batch. "Explain this model" makes the trained
model the model of every page.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from cnnviz.errors import CnnvizError
from cnnviz.training import STRATEGIES, Augmentation, export, preview, suggest, train
from cnnviz.training.augmentation import DEFAULT_STRENGTHS, FLIP_MODES
from cnnviz.training.backbone import spatial_cuts
from cnnviz.zoo import DEMO_MODEL_NAME, available_models, get_spec
from ui import engine, state, training_data, training_view
from ui.downloads import download_png
from ui.errors import show_error, user_errors
from ui.kept_settings import kept_zip_upload
from ui.training_jobs import DONE, FAILED, QUEUED, RUNNING, STOPPED, JobQueue, TrainingJob

RUNS_KEY = "cnnviz.train.runs"  # this session's TrainingJob objects, oldest first
SHOWN_KEY = "cnnviz.train.shown"  # the job whose results are shown
POLL_SECONDS = 1.0
PREVIEW_IMAGES = 3
PREVIEW_VERSIONS = 5
PREVIEW_SIDE = 96
CELL_IMAGES = 12  # images of a confusion-matrix cell shown
CELL_COLUMNS = 6
SIDEBAR_MODEL = "(the sidebar's model)"
STRATEGY_LABELS = {
    "features": "features: frozen features + logistic regression (seconds; small datasets)",
    "head": "head: a new head on the frozen backbone, with augmentation",
    "finetune": "finetune: head first, then the top layers at a lower learning rate",
    "scratch": "scratch: the same architecture from random weights (for comparison)",
}
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)


@st.cache_resource
def job_queue() -> JobQueue:
    """The server's one training queue (shared by every session)."""
    return JobQueue()


def _runs() -> list[TrainingJob]:
    return st.session_state.setdefault(RUNS_KEY, [])


# --- 1. dataset ---------------------------------------------------------------------------------
def _dataset():
    st.subheader("1. Images", divider="gray")
    from_page = training_data.dataset_page_dataset()
    sources = (["page"] if from_page is not None else []) + ["generated", "zip"]
    labels = {"page": f"The Dataset page's set ({from_page.name})" if from_page is not None else "",
              "generated": "Generated shapes (offline demo)", "zip": "Upload a zip of class folders"}
    source = st.radio("Images to train on", sources, format_func=labels.__getitem__, horizontal=True,
                      key="train.source")
    if source == "page":
        dataset = from_page
    elif source == "generated":
        columns = st.columns(2)
        per_class = columns[0].number_input("Images per class", 4, 500, 20, key="train.generated_n")
        seed = columns[1].number_input("Seed", 0, 2**31 - 1, 0, key="train.generated_seed")
        dataset = training_data.generated_dataset(int(per_class), int(seed))
    else:
        upload = kept_zip_upload("Zip with one folder of images per class (class_a/..., class_b/...)",
                                 "train.zip", "Upload a zip of class folders, or choose generated shapes.")
        with user_errors():
            dataset = training_data.zip_dataset(*upload)
    counts = dataset.class_counts()
    st.caption(f"{dataset.name}: {len(dataset)} images in {len(counts)} classes "
               f"({', '.join(f'{k} {v}' for k, v in counts.items())}); split 70/15/15 % "
               f"(train {len(dataset.indices('train'))}, validation {len(dataset.indices('val'))}, "
               f"test {len(dataset.indices('test'))}).")
    for warning in dataset.warnings:
        st.warning(warning, icon=":material/warning:")
    return dataset


# --- 2. backbone --------------------------------------------------------------------------------
def _backbone():
    st.subheader("2. Backbone", divider="gray")
    names = [DEMO_MODEL_NAME, *[n for n in available_models() if n != DEMO_MODEL_NAME], SIDEBAR_MODEL]
    columns = st.columns([2, 2, 3])
    name = columns[0].selectbox("Pretrained network", names, key="train.backbone",
                                help="The demo model 'shapes' is pretrained offline on the generated "
                                     "shapes; ImageNet models need their weights downloaded once.")
    weights: str | None = "imagenet"
    if name == SIDEBAR_MODEL:
        choice = state.require_model()
    else:
        spec = get_spec(name)
        picked = columns[1].radio("Weights", ("imagenet", "random"), key="train.weights",
                                  format_func={"imagenet": "pretrained" if spec.is_demo else "ImageNet",
                                               "random": "random (nothing transferred)"}.__getitem__)
        if spec.is_demo and picked == "random":
            weights = None  # train() builds the demo architecture with fresh random weights
        choice = engine.zoo_choice(name, "imagenet" if spec.is_demo else picked)
        if isinstance(choice, CnnvizError) and picked == "imagenet":
            st.warning(f"{choice} Training uses random weights instead.", icon=":material/warning:")
            choice = engine.zoo_choice(name, "random")
        if isinstance(choice, CnnvizError):
            show_error(choice)
            st.stop()
    loaded, label = choice.loaded, choice.label
    if weights is None or loaded.weights is None:
        label = f"{loaded.name} (random weights)"
        st.warning("Random weights: the backbone's features are random and nothing is transferred; a "
                   "baseline for the same head.", icon=":material/shuffle:")
    cuts = spatial_cuts(loaded.model)
    if not cuts:
        st.error(f"{loaded.name} has no layer with a spatial output to cut at; choose a convolutional network.")
        st.stop()
    cut = columns[2].selectbox("Cut at layer (the head reads its output)", cuts[::-1], key=f"train.cut.{name}",
                               help="Default: the last spatial layer. Earlier layers give more generic "
                                    "features (the lectures' advice for tasks unlike the original one).")
    source = loaded if weights is not None else loaded.name
    return source, weights, label, cut


# --- 3. strategy and settings -------------------------------------------------------------------
def _strategy(dataset) -> str:
    st.subheader("3. Strategy", divider="gray")
    smallest = min(dataset.class_counts().values())
    suggestion = suggest(smallest)
    with st.expander("Which strategy? The lectures' table", expanded=False):
        st.markdown(training_view.strategy_table_markdown())
        st.caption("First retrain only the head; only then unfreeze convolutional layers for fine-tuning.")
    if "train.strategy" not in st.session_state:
        st.session_state["train.strategy"] = suggestion.strategy
    strategy = st.radio("Strategy", STRATEGIES, key="train.strategy", format_func=STRATEGY_LABELS.__getitem__)
    st.caption(f"Suggested for this dataset: **{suggestion.strategy}**: {suggestion.reason}")
    return strategy


def _settings(strategy: str) -> dict:
    columns = st.columns(4)
    epochs = columns[0].number_input("Epochs", 1, 200, 30 if strategy == "features" else 10,
                                     key=f"train.epochs.{strategy}")
    batch_size = columns[1].select_slider("Batch size", (8, 16, 32, 64, 128), 32, key="train.batch")
    learning_rate = columns[2].select_slider("Learning rate", LEARNING_RATES, 1e-3, key="train.lr",
                                             format_func=lambda v: f"{v:g}")
    patience = columns[3].number_input("Early stopping patience (epochs)", 1, 50, 3, key="train.patience",
                                       help="Stop when the validation loss has not improved for this many "
                                            "epochs; the best epoch's weights are kept.")
    settings = dict(epochs=int(epochs), batch_size=int(batch_size), learning_rate=float(learning_rate),
                    patience=int(patience))
    if strategy == "finetune":
        columns = st.columns(3)
        settings["finetune_epochs"] = int(columns[0].number_input("Fine-tuning epochs", 1, 200, 5,
                                                                  key="train.ft_epochs"))
        settings["finetune_layers"] = int(columns[1].number_input("Top layers to unfreeze", 1, 500, 4,
                                                                  key="train.ft_layers"))
        settings["finetune_factor"] = float(columns[2].select_slider(
            "Fine-tuning rate (x the learning rate)", (0.01, 0.03, 0.1), 0.1, key="train.ft_factor"))
    return settings


# --- 4. augmentation ----------------------------------------------------------------------------
def _augmentation(dataset, size: tuple[int, int], strategy: str) -> Augmentation:
    st.subheader("4. Augmentation", divider="gray")
    if strategy == "features":
        st.caption("The 'features' strategy computes each image's features once: no augmentation.")
        return Augmentation()
    columns = st.columns(len(DEFAULT_STRENGTHS) + 1)
    flip = columns[0].selectbox("Flip", ("off", *FLIP_MODES), key="train.aug.flip")
    strengths = {name: columns[i].slider(name.capitalize(), 0.0, 0.5, 0.0, 0.05, key=f"train.aug.{name}",
                                         help=f"e.g. {DEFAULT_STRENGTHS[name]:g}")
                 for i, name in enumerate(DEFAULT_STRENGTHS, start=1)}
    with user_errors():
        augmentation = Augmentation(flip=None if flip == "off" else flip, **strengths)
    if augmentation.enabled:
        grid = _preview(dataset, size, augmentation)
        st.image(grid, caption="Your training images (left) and random augmented versions, at the model's "
                               "input size", width=PREVIEW_SIDE * (PREVIEW_VERSIONS + 1))
        download_png("Download the preview (PNG)", grid, "augmentation-preview.png", key="train.aug.download")
    return augmentation


@st.cache_data(max_entries=16, show_spinner=False)
def _preview_grid(dataset_sha256: str, size: tuple[int, int], augmentation: Augmentation,
                  _dataset) -> np.ndarray:
    indices = _dataset.indices("train")[:PREVIEW_IMAGES]
    images = np.concatenate([batch for _, batch in _dataset.batches(indices, size)])
    return preview(images, augmentation, versions=PREVIEW_VERSIONS, seed=0)


def _preview(dataset, size, augmentation) -> np.ndarray:
    return _preview_grid(dataset.sha256(), tuple(size), augmentation, dataset)


# --- 5. training (in the worker) ----------------------------------------------------------------
def _submit(dataset, source, weights: str | None, label: str, cut: str, strategy: str, settings: dict,
            augmentation: Augmentation) -> None:
    number = len(_runs()) + 1
    run_label = f"run {number}: {label.split(' (')[0]} {strategy}"
    kwargs = dict(settings, cut=cut, augmentation=augmentation, name=run_label,
                  weights=weights)

    def work(progress):
        return train(source, dataset, strategy, progress=progress, **kwargs)

    job = TrainingJob(label=run_label, work=work, dataset=dataset, settings={
        "backbone": label, "strategy": strategy, "epochs": settings["epochs"],
        "batch_size": settings["batch_size"], "learning_rate": settings["learning_rate"],
        "augmentation": augmentation.describe(), "cut": cut, "dataset": dataset.name})
    _runs().append(job)
    st.session_state[SHOWN_KEY] = job.number
    job_queue().submit(job)


def _live(job: TrainingJob) -> None:
    """Polled every POLL_SECONDS while the job waits or runs; a full rerun once it has finished."""
    snapshot = job.snapshot()
    status = snapshot["status"]
    if status not in (QUEUED, RUNNING):
        st.rerun()  # draw the results
    if status == QUEUED:
        place = job_queue().place(job)
        st.info(f"{job.label}: waiting, number {place} in the server's training queue (one job runs at a "
                "time).", icon=":material/hourglass_top:")
    else:
        info, total = snapshot["info"], max(snapshot["total"], 1)
        if info.get("phase") == "features" and "batch" not in info:
            text = f"Computing the backbone's features: {snapshot['done']} of {snapshot['total']} images"
        else:
            text = (f"{job.label}: {info.get('phase', '')} epoch {info.get('epoch', 1)}, batch "
                    f"{info.get('batch', 0)} of {info.get('batches', '?')}, loss {info.get('loss') or 0:.3f}")
        st.progress(min(snapshot["done"] / total, 1.0), text=text)
        if snapshot["history"]:
            st.plotly_chart(training_view.curves_figure(snapshot["history"], job.settings["epochs"]),
                            key=f"train.live_curves.{job.number}")
    st.button("Stop", key=f"train.stop.{job.number}", icon=":material/stop:", disabled=job.stop_requested,
              on_click=job_queue().cancel, args=(job,),
              help="Stops within one batch; the model keeps the best epoch so far.")


# --- 6. results ---------------------------------------------------------------------------------
def _model_choice(job: TrainingJob) -> state.ModelChoice:
    return state.ModelChoice(key=f"trained:{job.number}", label=f"{job.label} (trained here)",
                             loaded=job.result.loaded)


def _results(job: TrainingJob) -> None:
    result = job.result
    st.subheader(f"Results of {job.label}", divider="gray")
    for warning in result.warnings:
        st.warning(warning, icon=":material/info:")
    figures = st.columns(4)
    figures[0].metric("Test accuracy", "n/a" if result.test_accuracy is None else f"{100 * result.test_accuracy:.1f} %",
                      help=f"On the {result.images.get('test', 0)} test images, never used in training.")
    figures[1].metric("Best epoch", result.best_epoch or "n/a")
    figures[2].metric("Seconds per epoch", "n/a" if result.seconds_per_epoch is None
                      else f"{result.seconds_per_epoch:.2f}")
    figures[3].metric("Training time", f"{result.seconds:.0f} s")
    if result.history:
        st.plotly_chart(training_view.curves_figure(result.history), key=f"train.curves.{job.number}")
        download_png("Download the curves (PNG)", lambda: training_view.curves_png_figure(result.history, job.label),
                     f"curves-run{job.number}.png", key=f"train.curves.download.{job.number}")
    if result.evaluation is not None:
        _confusion(job)
    columns = st.columns(3)
    columns[0].download_button("Download the model (.keras)", data=lambda: export.model_bytes(result.loaded),
                               file_name=f"run{job.number}.keras", mime="application/octet-stream",
                               on_click="ignore", icon=":material/download:", key=f"train.download.{job.number}")
    columns[1].download_button("Download the labels (.txt)", data=export.labels_text(result.class_names),
                               file_name=f"run{job.number}.labels.txt", mime="text/plain", on_click="ignore",
                               icon=":material/download:", key=f"train.labels.{job.number}")
    columns[2].button("Explain this model", key=f"train.explain.{job.number}", type="primary",
                      icon=":material/visibility:", on_click=state.use_trained_model, args=(_model_choice(job),),
                      help="Makes it the model of every page (sidebar included): heatmaps, feature maps, ...")
    if state.trained_model() is not None and state.trained_model().key == f"trained:{job.number}":
        st.success("This model is now the model of every page: open Heatmaps to see what it looks at.",
                   icon=":material/check_circle:")


def _cell_key(job: TrainingJob) -> str:
    return f"train.cell.{job.number}"


def _select_cell(job: TrainingJob) -> None:
    """The matrix's on_select callback: the clicked cell's images are shown below it."""
    from ui.dataset_charts import customdata

    points = st.session_state[f"train.confusion.{job.number}"].selection.points
    if points:
        st.session_state[_cell_key(job)] = tuple(int(customdata(points[0], i)) for i in (0, 1))


def _confusion(job: TrainingJob) -> None:
    evaluation, dataset = job.result.evaluation, job.dataset
    matrix = np.asarray(evaluation.confusion_matrix)
    selected = st.session_state.get(_cell_key(job))
    figure, clickable = training_view.clickable_confusion(matrix, evaluation.classes,
                                                          evaluation.predicted_classes, selected)
    st.markdown("**Confusion matrix** (test split): rows are the true classes, columns the predictions"
                + (". Click a cell to see its images." if clickable else "."))
    if not clickable:
        st.plotly_chart(figure, key=f"train.confusion.{job.number}")
        return
    st.plotly_chart(figure, key=f"train.confusion.{job.number}", on_select=lambda: _select_cell(job),
                    selection_mode="points", width="content", config={"displayModeBar": False})
    if selected is None:
        return
    indices = evaluation.cell(*selected)[:CELL_IMAGES]
    true, predicted = evaluation.classes[selected[0]], evaluation.predicted_classes[selected[1]]
    st.caption(f"True {true}, predicted {predicted}: {len(evaluation.cell(*selected))} image(s).")
    if len(indices):
        columns = st.columns(CELL_COLUMNS)
        for slot, index in enumerate(indices):
            columns[slot % CELL_COLUMNS].image(dataset.model_input(int(index), job.result.loaded.input_size),
                                               caption=dataset.records[int(index)].file, width="stretch")


def _comparison() -> None:
    runs = _runs()
    if len(runs) < 1:
        return
    st.subheader("This session's runs", divider="gray")
    st.dataframe(training_view.comparison_rows(runs), key="train.comparison", hide_index=True)
    finished = [job for job in runs if job.finished_ok]
    if len(finished) > 1:
        numbers = [job.number for job in finished]
        shown = st.session_state.get(SHOWN_KEY)
        st.selectbox("Show the results of", numbers, index=numbers.index(shown) if shown in numbers else
                     len(numbers) - 1, key=SHOWN_KEY,
                     format_func=lambda n: next(job.label for job in finished if job.number == n))


def main() -> None:
    st.title("Train")
    st.caption("Transfer learning on your own images: a pretrained backbone, a new head, your classes; "
               "then every page of cnnviz on the model you trained.")
    dataset = _dataset()
    source, weights, label, cut = _backbone()
    strategy = _strategy(dataset)
    settings = _settings(strategy)
    size = tuple(source.input_size if not isinstance(source, str) else get_spec(source).input_size)
    augmentation = _augmentation(dataset, size, strategy)
    st.subheader("5. Train", divider="gray")
    runs = _runs()
    active = [job for job in runs if job.status in (QUEUED, RUNNING)]
    if st.button("Train", type="primary", icon=":material/model_training:", key="train.start",
                 disabled=bool(active), help="One run at a time per session; the server queues runs."):
        _submit(dataset, source, weights, label, cut, strategy, settings, augmentation)
        active = [runs[-1]]
    if active:
        st.fragment(run_every=POLL_SECONDS)(_live)(active[0])
    for job in runs:
        if job.status == FAILED:
            st.error(f"{job.label}: {job.error}", icon=":material/error:")
        elif job.status == STOPPED and job.result is None:
            st.info(f"{job.label}: stopped before a model existed. {job.error or ''}", icon=":material/stop_circle:")
    _comparison()
    shown = next((job for job in runs if job.number == st.session_state.get(SHOWN_KEY) and job.finished_ok),
                 next((job for job in reversed(runs) if job.finished_ok), None))
    if shown is not None and shown.status in (DONE, STOPPED):
        _results(shown)


main()
