"""What every page reads: the chosen model and image, kept in ``st.session_state``.

The sidebar (drawn by ``app.py`` on every run, before the page) decides the model and the image and
stores them here; pages call :func:`require_model` and :func:`require_image`, which either return the
current choice or show why there is none (a readable error, or what to do) and stop the page.
Session state is per browser session, so two users never see each other's model or image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from cnnviz.errors import CnnvizError
from cnnviz.images import image_sha256, load_image, prepare_image
from cnnviz.models import LoadedModel, is_cached
from cnnviz.demo.digits import DIGIT_CLASSES, generate_digit
from cnnviz.demo.shapes import DEMO_IMAGE_SIZE, SHAPE_CLASSES, generate_sample
from cnnviz.zoo import DEMO_MODEL_NAME, get_spec

# Sidebar widget keys. Shared so that buttons elsewhere (``ui.errors``) can change the choice from a
# callback, which runs before the sidebar draws its widgets in the next run.
MODEL_NAME_KEY = "cnnviz.model_name"
WEIGHTS_KEY = "cnnviz.weights"
OWN_MODEL_KEY = "cnnviz.own_model"
IMAGE_SOURCE_KEY = "cnnviz.image_source"
FIT_KEY = "cnnviz.fit"
TRAINED_MODEL_KEY = "cnnviz.trained_model"  # a ModelChoice trained on the Train page, used by every page
LAB_MODEL_PREFIX = "clever_hans:"  # key of a ModelChoice trained in the Clever Hans lab instead

# What the sidebar decided in this run.
_MODEL = "cnnviz.state.model"
_MODEL_ERROR = "cnnviz.state.model_error"
_MODEL_HINT = "cnnviz.state.model_hint"
_IMAGE = "cnnviz.state.image"
_IMAGE_ERROR = "cnnviz.state.image_error"
_IMAGE_HINT = "cnnviz.state.image_hint"
_IMAGE_SUBJECT = "cnnviz.state.image_subject"  # the file name an image error is about
_IMAGE_MEMO = "cnnviz.state.image_memo"  # the last decoded image, reused while its bytes are unchanged
_FAILED_LOADS = "cnnviz.state.failed_loads"  # model key -> error, not retried until asked
_ENTRY_RAN = "cnnviz.state.entry_script_ran"
_ENTRY_RERUNS = "cnnviz.state.entry_script_reruns"

WEIGHT_CHOICES = ("imagenet", "random")  # widget values; cnnviz calls random weights None
WEIGHT_LABELS = {"imagenet": "ImageNet (pretrained)", "random": "Random (architecture only)"}
FIT_CHOICES = ("crop", "stretch")
DEFAULT_ZOO_MODEL = "MobileNetV2"  # preferred when its ImageNet weights are cached
# Shown images: small ones are enlarged with visible pixels, big ones shrunk (fast to send).
PREVIEW_MIN_SIDE = 256
PREVIEW_MAX_SIDE = 1024


@dataclass(frozen=True, eq=False)
class ModelChoice:
    """The model in use: the loaded model and a cache key naming exactly these weights."""

    key: str  # e.g. "MobileNetV2|imagenet", "shapes|bundled", "file:<sha256>|scale01|labels:<sha256>"
    label: str  # what the user sees, e.g. "MobileNetV2 (ImageNet weights)"
    loaded: LoadedModel

    @property
    def random_weights(self) -> bool:
        return self.loaded.weights is None


@dataclass(frozen=True, eq=False)
class ImageChoice:
    """The image in use: original RGB uint8 pixels, their sha256 (the cache key) and a preview."""

    image: np.ndarray  # (H, W, 3) uint8, as loaded: any size
    sha256: str  # cnnviz.images.image_sha256(image)
    name: str  # file name, or a description of the generated sample
    source: str  # "upload" or "sample"
    preview: np.ndarray  # for display only: small images enlarged (crisp pixels), big ones shrunk
    class_name: str | None = None  # ground truth of a generated sample
    mask: np.ndarray | None = None  # the sample's object pixels (H, W) bool


# --- reading the state (pages) ------------------------------------------------------------------
def _ensure_entry_script_ran() -> None:
    """Rerun through app.py if this page was run alone (fresh server, first visit to a page's URL).

    Streamlit's multipage "v1" relic (checked on 1.67): because a ``pages/`` folder exists, the
    first runs of a fresh server execute a page URL's file directly, without app.py, until some run
    reaches ``st.navigation``. Then there is no sidebar and no state. Switch the relic off (as
    ``st.navigation`` itself does) and rerun once, which now goes through app.py.
    """
    if _ENTRY_RAN in st.session_state:
        return
    reruns = st.session_state.get(_ENTRY_RERUNS, 0)
    if reruns >= 1:
        st.error("The app's start script did not run: open the home page (the address without "
                 "a page name) and choose the page again.")
        st.stop()
    st.session_state[_ENTRY_RERUNS] = reruns + 1
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False
    st.rerun()


def mark_entry_script_ran() -> None:
    """Called by the sidebar (app.py) in every run: pages may rely on the state below."""
    st.session_state[_ENTRY_RAN] = True


def current_model() -> ModelChoice | None:
    """The model chosen in the sidebar, or None when none could be loaded."""
    _ensure_entry_script_ran()
    return st.session_state.get(_MODEL)


def current_image() -> ImageChoice | None:
    """The image chosen in the sidebar, or None when there is none (or the upload was unusable)."""
    _ensure_entry_script_ran()
    return st.session_state.get(_IMAGE)


def model_error() -> CnnvizError | None:
    """Why no model is loaded, if loading failed."""
    return st.session_state.get(_MODEL_ERROR)


def fit() -> str:
    """How images are fitted to the model input: "crop" (centre, keeps proportions) or "stretch"."""
    value = st.session_state.get(FIT_KEY, FIT_CHOICES[0])
    return value if value in FIT_CHOICES else FIT_CHOICES[0]


def require_model() -> ModelChoice:
    """The current model; otherwise show why there is none and stop the page."""
    choice = current_model()
    if choice is not None:
        return choice
    from ui.errors import show_error

    error = st.session_state.get(_MODEL_ERROR)
    if error is not None:
        show_error(error)
    else:
        st.info(st.session_state.get(_MODEL_HINT) or "Choose a model in the sidebar.",
                icon=":material/arrow_back:")
    st.stop()


def require_image() -> ImageChoice:
    """The current image; otherwise show why there is none and stop the page."""
    choice = current_image()
    if choice is not None:
        return choice
    from ui.errors import show_error

    error = st.session_state.get(_IMAGE_ERROR)
    if error is not None:
        show_error(error, st.session_state.get(_IMAGE_SUBJECT))
    else:
        st.info(st.session_state.get(_IMAGE_HINT) or "Choose an image in the sidebar.",
                icon=":material/arrow_back:")
    st.stop()


# --- writing the state (sidebar) ----------------------------------------------------------------
def set_model(choice: ModelChoice | None, error: CnnvizError | None = None,
              hint: str | None = None) -> None:
    """Record this run's model, or the error or hint that explains why there is none."""
    st.session_state[_MODEL] = choice
    st.session_state[_MODEL_ERROR] = error
    st.session_state[_MODEL_HINT] = hint


def set_image(choice: ImageChoice | None, error: CnnvizError | None = None,
              hint: str | None = None, subject: str | None = None) -> None:
    """Record this run's image, or the error (about file ``subject``) or hint explaining why not."""
    st.session_state[_IMAGE] = choice
    st.session_state[_IMAGE_ERROR] = error
    st.session_state[_IMAGE_HINT] = hint
    st.session_state[_IMAGE_SUBJECT] = subject


def failed_loads() -> dict[str, CnnvizError]:
    """Models that failed to load in this session (key -> error): not retried on every rerun."""
    return st.session_state.setdefault(_FAILED_LOADS, {})


def forget_failed_load(key: str) -> None:
    failed_loads().pop(key, None)


def zoo_model_key(name: str, weights: str) -> str:
    """The cache key of a zoo model: its name and which weights (never shared between weights)."""
    spec = get_spec(name)
    return f"{spec.name}|bundled" if spec.is_demo else f"{spec.name}|{weights}"


def default_model_name() -> str:
    """MobileNetV2 (or another model) when its ImageNet weights are cached, else the demo model."""
    from cnnviz.zoo import imagenet_models

    cached = [spec.name for spec in imagenet_models() if is_cached(spec)]
    if DEFAULT_ZOO_MODEL in cached:
        return DEFAULT_ZOO_MODEL
    return cached[0] if cached else DEMO_MODEL_NAME


# --- images -------------------------------------------------------------------------------------
def preview_of(image: np.ndarray) -> np.ndarray:
    """A copy for display: enlarged by whole pixels when small, shrunk when very large."""
    height, width = image.shape[:2]
    longest = max(height, width)
    if longest < PREVIEW_MIN_SIDE:
        factor = PREVIEW_MIN_SIDE // longest
        return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1) if factor > 1 else image
    if longest > PREVIEW_MAX_SIDE:
        scale = PREVIEW_MAX_SIDE / longest
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        return prepare_image(image, size, fit="stretch")
    return image


def sample_image(class_name: str, seed: int, digits: bool = False) -> ImageChoice:
    """A generated demo image of a known shape class, or a handwritten-looking digit when
    ``digits`` (for LeNet-5); same class and seed, same image."""
    memo_key = ("sample", class_name, int(seed), digits)
    memo = st.session_state.get(_IMAGE_MEMO)
    if memo is not None and memo[0] == memo_key:
        return memo[1]
    if digits:
        sample = generate_digit(int(seed), class_index=DIGIT_CLASSES.index(class_name))
        what = f"digit {sample.class_name}"
    else:
        sample = generate_sample(int(seed), DEMO_IMAGE_SIZE, SHAPE_CLASSES.index(class_name))
        what = sample.class_name
    choice = ImageChoice(
        image=sample.image, sha256=image_sha256(sample.image),
        name=f"generated {what} (seed {int(seed)})", source="sample",
        preview=preview_of(sample.image), class_name=sample.class_name, mask=sample.mask,
    )
    st.session_state[_IMAGE_MEMO] = (memo_key, choice)
    return choice


def uploaded_image(name: str, data: bytes) -> ImageChoice:
    """Decode an uploaded file (typed ImageError if unusable); decoded once per distinct file."""
    import hashlib

    memo_key = ("upload", hashlib.sha256(data).hexdigest())
    memo = st.session_state.get(_IMAGE_MEMO)
    if memo is not None and memo[0] == memo_key:
        return memo[1]
    image = load_image(data)
    choice = ImageChoice(image=image, sha256=image_sha256(image), name=name, source="upload",
                         preview=preview_of(image))
    st.session_state[_IMAGE_MEMO] = (memo_key, choice)
    return choice


# --- a model trained in this session (Train page) -----------------------------------------------
def trained_model() -> ModelChoice | None:
    """The model the Train page's "Explain this model" made current, or None."""
    return st.session_state.get(TRAINED_MODEL_KEY)


def use_trained_model(choice: ModelChoice | None) -> None:
    """Button callback: make a trained model the model of every page (None: back to the pickers)."""
    st.session_state[TRAINED_MODEL_KEY] = choice
