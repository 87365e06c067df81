"""Loading models: reuse, failed downloads that leave no partial file, and users' own model files."""

from __future__ import annotations

import errno
import urllib.error
from pathlib import Path

import keras
import numpy as np
import pytest
from keras.src.backend import config as keras_config
from keras.src.utils import file_utils

from cnnviz.errors import (
    LabelsFileError,
    ModelFileError,
    NotAnImageModelError,
    ParameterError,
    WeightsDownloadError,
)
from cnnviz.models import is_cached, load_model, load_model_file
from cnnviz.zoo import get_spec


def test_a_model_loaded_twice_is_reused() -> None:
    assert load_model("MobileNetV2", weights=None) is load_model("mobilenetv2", weights=None)


def test_weights_argument_is_checked() -> None:
    with pytest.raises(ParameterError, match="'imagenet' or None"):
        load_model("MobileNetV2", weights="places365")


# --- failed downloads (the network is replaced at urllib's edge; everything else is real) ------------
@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path))
    return tmp_path / "models"


def _fail_with(error: BaseException, partial: bytes = b""):
    def urlretrieve(url: str, filename: str, reporthook=None) -> None:
        if partial:
            Path(filename).write_bytes(partial)
        raise error

    return urlretrieve


def test_offline_download_gives_a_clear_error(empty_cache: Path, monkeypatch) -> None:
    monkeypatch.setattr(file_utils, "urlretrieve",
                        _fail_with(urllib.error.URLError("Name or service not known")))
    with pytest.raises(WeightsDownloadError, match="no internet connection.*demo model 'shapes'"):
        load_model("MobileNet")
    assert list(empty_cache.iterdir()) == []


def test_partial_download_is_removed(empty_cache: Path, monkeypatch) -> None:
    monkeypatch.setattr(file_utils, "urlretrieve",
                        _fail_with(ConnectionResetError("connection reset"), partial=b"\x89HDF" * 1000))
    with pytest.raises(WeightsDownloadError, match="MobileNet"):
        load_model("MobileNet")
    assert list(empty_cache.iterdir()) == []


def test_full_disk_is_named(empty_cache: Path, monkeypatch) -> None:
    monkeypatch.setattr(file_utils, "urlretrieve",
                        _fail_with(OSError(errno.ENOSPC, "No space left on device"), partial=b"x" * 10))
    with pytest.raises(WeightsDownloadError, match="disk is full"):
        load_model("MobileNet")
    assert list(empty_cache.iterdir()) == []


def test_corrupt_download_is_detected_and_removed(empty_cache: Path, monkeypatch) -> None:
    def urlretrieve(url: str, filename: str, reporthook=None) -> None:
        Path(filename).write_bytes(b"not an hdf5 file")  # "succeeds" but the hash cannot match

    monkeypatch.setattr(file_utils, "urlretrieve", urlretrieve)
    with pytest.raises(WeightsDownloadError, match="damaged"):
        load_model("MobileNet")
    assert list(empty_cache.iterdir()) == []
    assert not is_cached(get_spec("MobileNet"))


# --- a user's own model file -----------------------------------------------------------------------
def _small_classifier(classes: int = 3) -> keras.Model:
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_user_model_file_loads_with_input_size_and_logits(tmp_path: Path, suffix: str) -> None:
    model = _small_classifier()
    path = tmp_path / f"mine{suffix}"
    model.save(path)
    loaded = load_model_file(path, labels=["cat", "dog", "fox"])
    assert loaded.input_size == (32, 32) and loaded.class_names == ("cat", "dog", "fox")
    assert loaded.preprocessing == "scale01"  # no Rescaling layer inside: pixels are scaled to [0, 1]
    pixels = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3)).astype(np.uint8)
    expected = model.predict(pixels.astype(np.float32) / 255.0, verbose=0)
    np.testing.assert_allclose(loaded.probabilities(pixels), expected, rtol=1e-4, atol=1e-6)
    assert loaded.class_index("DOG") == 1


def test_user_model_from_bytes_with_labels_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.keras"
    _small_classifier().save(path)
    loaded = load_model_file(path.read_bytes(), filename="upload.keras", labels=b"a\nb\nc\n")
    assert loaded.class_names == ("a", "b", "c") and loaded.labels_known
    with pytest.raises(LabelsFileError, match="2 labels but the model has 3 outputs"):
        load_model_file(path, labels=b"a\nb\n")


def test_lambda_layers_are_refused_by_safe_mode(tmp_path: Path) -> None:
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, keras.layers.Dense(2)(x)).save(path)
    with pytest.raises(ModelFileError, match="Lambda layer"):
        load_model_file(path)


def test_models_without_an_image_input_are_refused(tmp_path: Path) -> None:
    inputs = keras.Input((10,))
    path = tmp_path / "tabular.keras"
    keras.Model(inputs, keras.layers.Dense(2)(inputs)).save(path)
    with pytest.raises(NotAnImageModelError, match=r"\(batch, height, width, 1 or 3\)"):
        load_model_file(path)


def test_damaged_or_misnamed_model_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not a readable Keras model"):
        load_model_file(b"garbage" * 100, filename="broken.keras")
    with pytest.raises(ModelFileError, match="must end in .keras"):
        load_model_file(b"whatever", filename="model.pt")
