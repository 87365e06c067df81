"""The sidebar: which model, which image. Drawn by ``app.py`` on every run, before the page.

Its widgets live in the entry script, so their values persist across pages. It stores the result in
``ui.state`` (a model or the error explaining why there is none; the same for the image).
"""

from __future__ import annotations

import hashlib

import streamlit as st

from cnnviz.errors import CnnvizError
from cnnviz.models import USER_MODEL_SUFFIXES, USER_PREPROCESSING, is_cached
from cnnviz.demo.shapes import SHAPE_CLASSES
from cnnviz.demo.digits import DIGIT_CLASSES
from cnnviz.zoo import LENET_MODEL_NAME, ModelSpec, available_models, get_spec
from ui import dataset_state, engine, state

IMAGE_UPLOAD_LIMIT_MB = 50  # per image; model files may use the server limit (.streamlit/config.toml)
IMAGE_TYPES_SHOWN = "JPEG, PNG, WebP, BMP, GIF or TIFF"
SAMPLE, UPLOAD, DATASET = "sample", "upload", dataset_state.DATASET_SOURCE
_SOURCE_LABELS = {SAMPLE: "Generated demo sample", UPLOAD: "Upload an image", DATASET: "From the dataset"}
_FIT_LABELS = {"crop": "Crop the centre (keeps proportions)", "stretch": "Stretch (keeps everything)"}
_PREPROCESSING_LABELS = {
    "auto": "Automatic (none if the model starts with Rescaling, else 0..1)",
    "none": "None: raw pixels 0..255", "scale01": "Scale to 0..1",
    "tf": "tf: scale to -1..1 (MobileNet, Inception...)",
    "caffe": "caffe: BGR, ImageNet mean subtracted (VGG, ResNet)",
    "torch": "torch: 0..1, ImageNet mean/std (DenseNet)",
    "standardize": "standardize: 0..1, then the mean/std given in a JSON labels file",
}


def _model_label(name: str) -> str:
    spec = get_spec(name)
    if spec.is_demo:
        return f"{name} (demo, offline)"
    if is_cached(spec):
        return f"{name} (downloaded)"
    return f"{name} ({spec.size_mb:g} MB to download)" if spec.size_mb else name


def _spec_caption(spec: ModelSpec) -> str:
    height, width = spec.input_size
    if spec.name == LENET_MODEL_NAME:
        return (f"LeNet-5 (LeCun et al. 1998) trained on generated handwritten digits 0-9; "
                f"grayscale input {height}x{width}. Works offline.")
    if spec.is_demo:
        return (f"A small CNN trained on generated shapes ({', '.join(SHAPE_CLASSES)}); "
                f"input {height}x{width}. Works offline.")
    figures = [f"input {height}x{width}", f"preprocessing {spec.preprocessing}"]
    if spec.params_m:
        figures.append(f"{spec.params_m:g} M parameters")
    if spec.top1:
        figures.append(f"ImageNet top-1 {spec.top1:g} %")
    return ", ".join(figures) + "."


def _zoo_model() -> None:
    names = available_models()
    if st.session_state.get(state.MODEL_NAME_KEY) not in names:
        st.session_state[state.MODEL_NAME_KEY] = state.default_model_name()
    name = st.selectbox("Model", names, key=state.MODEL_NAME_KEY, format_func=_model_label,
                        help="The demo model runs offline. ImageNet models download their weights "
                             "once (into models_cache/) unless you choose random weights.")
    spec = get_spec(name)
    st.caption(_spec_caption(spec))
    weights = "imagenet"
    if not spec.is_demo:
        if st.session_state.get(state.WEIGHTS_KEY) not in state.WEIGHT_CHOICES:
            st.session_state[state.WEIGHTS_KEY] = "imagenet"
        weights = st.radio("Weights", state.WEIGHT_CHOICES, key=state.WEIGHTS_KEY,
                           format_func=state.WEIGHT_LABELS.__getitem__,
                           help="Random weights need no download: enough to study the architecture, "
                                "but its predictions and heatmaps mean nothing.")
    choice = engine.zoo_choice(spec.name, weights)
    if isinstance(choice, CnnvizError):
        state.set_model(None, choice)
    else:
        state.set_model(choice)


def _own_model() -> None:
    st.caption("Only Keras files without custom code load: Lambda layers and custom objects are "
               "refused (Keras safe mode). Load files you trust.")
    model_file = st.file_uploader("Model file (.keras, .h5, or a zipped SavedModel folder)",
                                  key="cnnviz.own_model_file",
                                  type=[suffix.lstrip(".") for suffix in USER_MODEL_SUFFIXES])
    labels_file = st.file_uploader("Class names (optional: one per line, or JSON; a JSON object may "
                                   'add "preprocessing", "mean", "std")',
                                   key="cnnviz.own_labels_file", type=["txt", "json"])
    preprocessing = st.selectbox("Preprocessing", ("auto", *USER_PREPROCESSING),
                                 key="cnnviz.own_preprocessing",
                                 format_func=_PREPROCESSING_LABELS.__getitem__)
    if model_file is None:
        state.set_model(None, hint="Upload your model file (.keras or .h5) in the sidebar, or "
                                   "untick 'Use my own model file'.")
        return
    data = model_file.getvalue()
    labels = labels_file.getvalue() if labels_file is not None else None
    sha = hashlib.sha256(data).hexdigest()
    labels_sha = hashlib.sha256(labels).hexdigest() if labels is not None else None
    chosen = None if preprocessing == "auto" else preprocessing
    key = f"file:{sha}|{preprocessing}|labels:{labels_sha}"
    failed = state.failed_loads()
    if key in failed:
        state.set_model(None, failed[key])
        return
    try:
        loaded = engine.load_user_model(sha, model_file.name, labels_sha, chosen, data, labels)
    except CnnvizError as error:
        failed[key] = error
        state.set_model(None, error)
        return
    state.set_model(state.ModelChoice(key=key, label=f"{model_file.name} (your file)", loaded=loaded))


def _trained_model(choice: state.ModelChoice) -> None:
    """A model trained on the Train page is in use: say so, and offer the pickers back."""
    where = "in the Clever Hans lab" if choice.key.startswith(state.LAB_MODEL_PREFIX) else "on the Train page"
    st.success(f"**{choice.label}**, trained {where}: every page explains it.",
               icon=":material/model_training:")
    st.button("Use a zoo model or a file again", key="cnnviz.trained_model.forget",
              on_click=state.use_trained_model, args=(None,))
    state.set_model(choice)


def _model_section() -> None:
    st.subheader("Model", divider="gray")
    trained = state.trained_model()
    if trained is not None:
        _trained_model(trained)
        return
    pickers = st.container()
    own = st.checkbox("Use my own model file", key=state.OWN_MODEL_KEY,
                      help="Upload a Keras image classifier (.keras or .h5) instead of a zoo model.")
    with pickers:
        if own:
            _own_model()
        else:
            _zoo_model()
        if state.current_model() is None:
            st.caption(":red[No model loaded: see the message on the page.]")


def _image_section() -> None:
    st.subheader("Image", divider="gray")
    if st.session_state.get(state.IMAGE_SOURCE_KEY) not in _SOURCE_LABELS:
        st.session_state[state.IMAGE_SOURCE_KEY] = SAMPLE
    source = st.radio("Image source", tuple(_SOURCE_LABELS), key=state.IMAGE_SOURCE_KEY,
                      format_func=_SOURCE_LABELS.__getitem__, horizontal=True,
                      label_visibility="collapsed")
    if source == SAMPLE:
        model = state.current_model()
        digits = model is not None and model.loaded.name == LENET_MODEL_NAME
        columns = st.columns([3, 2])
        if digits:
            class_name = columns[0].selectbox("Digit", DIGIT_CLASSES, key="cnnviz.sample_digit",
                                              help="LeNet-5 reads handwritten digits 0-9.")
        else:
            class_name = columns[0].selectbox("Shape", SHAPE_CLASSES, key="cnnviz.sample_class",
                                              help="The demo model knows these shapes.")
        seed = columns[1].number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1,
                                       key="cnnviz.sample_seed",
                                       help="Another seed draws another image of the same class.")
        state.set_image(state.sample_image(class_name, int(seed), digits=digits))
    elif source == DATASET:
        picked = dataset_state.picked_image()
        if picked is None:
            state.set_image(None, hint="Open the Dataset page and pick an image there (click a point "
                                       "of the embedding map, or 'Open on the Heatmaps page' under an "
                                       "image).")
        else:
            state.set_image(picked)
    else:
        upload = st.file_uploader(f"Image file ({IMAGE_TYPES_SHOWN})", key="cnnviz.image_file",
                                  max_upload_size=IMAGE_UPLOAD_LIMIT_MB)
        if upload is None:
            state.set_image(None, hint="Upload an image in the sidebar (or choose the generated "
                                       "demo sample).")
        else:
            try:
                state.set_image(state.uploaded_image(upload.name, upload.getvalue()))
            except CnnvizError as error:
                state.set_image(None, error, subject=upload.name)
                st.caption(f":red[{upload.name} cannot be used: see the message on the page.]")
    choice = state.current_image()
    if choice is not None:
        height, width = choice.image.shape[:2]
        st.image(choice.preview, caption=f"{choice.name}, {width}x{height}", width=160)
    if st.session_state.get(state.FIT_KEY) not in state.FIT_CHOICES:
        st.session_state[state.FIT_KEY] = state.FIT_CHOICES[0]
    st.radio("Fit to the model's input", state.FIT_CHOICES, key=state.FIT_KEY,
             format_func=_FIT_LABELS.__getitem__,
             help="A model sees a fixed-size square: either the centre of your image (edges of a "
                  "wide photo are cut off) or the whole image squeezed (shapes distorted).")


def draw_sidebar() -> None:
    """Draw the model and image pickers and store the choices in ``ui.state``."""
    state.mark_entry_script_ran()
    with st.sidebar:
        _model_section()
        _image_section()
