"""AppTest of the app shell: home and Predict pages, the sidebar's model and image pickers, errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from apptest_helpers import app_test, messages, navigation_mode
from streamlit.testing.v1 import AppTest

from cnnviz.images import encode_png
from cnnviz.models import is_cached
from cnnviz.demo.shapes import SHAPE_CLASSES, TEST_SEED, generate_sample
from cnnviz.zoo import DEMO_MODEL_NAME, get_spec, imagenet_models
from ui.navigation import PAGES

MODEL = "cnnviz.model_name"
WEIGHTS = "cnnviz.weights"
SOURCE = "cnnviz.image_source"


@pytest.fixture
def app() -> Iterator[AppTest]:
    """The app after its first run, on the home page; every run goes through app.py."""
    with navigation_mode():
        at = app_test()
        at.run()
        assert not at.exception, messages(at)
        yield at


def top_line(at: AppTest) -> str:
    lines = [m.value for m in at.markdown if " says: " in m.value]
    assert lines, messages(at)
    return lines[0]


def test_home_page_explains_the_app_and_lists_the_pages(app: AppTest) -> None:
    assert app.title[0].value == "cnnviz: see what a CNN sees"
    assert any("How to use it" in s.value for s in app.subheader)
    links = {link.label for link in app.get("page_link")}
    for entry in PAGES:
        if not entry.default:
            assert any(entry.title in label for label in links), (entry.title, links)
    assert not app.error, messages(app)


def test_demo_model_is_the_default_when_no_imagenet_weights_are_cached(app: AppTest) -> None:
    if any(is_cached(spec) for spec in imagenet_models()):
        pytest.skip("ImageNet weights are cached here: the default is then an ImageNet model")
    assert app.selectbox(key=MODEL).value == DEMO_MODEL_NAME
    assert app.radio(key=SOURCE).value == "sample"


def top5_chart(app: AppTest) -> list:
    """The Predict page's bar chart (a PNG with the caption 'Top 5 of N classes')."""
    return [image for image in app.main.get("image") if "Top 5 of" in str(image.proto)]


def test_predict_names_the_shape_of_a_generated_sample(app: AppTest) -> None:
    app.switch_page("pages/predict.py").run()
    app.selectbox(key="cnnviz.sample_class").set_value("star")
    app.number_input(key="cnnviz.sample_seed").set_value(TEST_SEED)
    app.run()
    assert not app.exception and not app.error, messages(app)
    assert "says: **star**" in top_line(app)
    assert any("Ground truth of this generated sample: **star** :green[(correct)]" in m.value
               for m in app.markdown)
    assert top5_chart(app), "the top-5 chart is missing"
    assert any("Prediction took" in c.value and " ms " in c.value for c in app.caption)
    # the image persists across pages: home reports the same sample
    app.switch_page("pages/home.py").run()
    assert any(f"generated star (seed {TEST_SEED})" in c.value for c in app.caption)


def test_uploaded_png_of_a_shape_is_predicted(app: AppTest) -> None:
    sample = generate_sample(TEST_SEED + 1, class_index=SHAPE_CLASSES.index("cross"))
    app.switch_page("pages/predict.py").run()
    app.radio(key=SOURCE).set_value("upload").run()
    assert any("Upload an image" in i.value for i in app.info), messages(app)
    app.file_uploader(key="cnnviz.image_file").set_value(
        ("cross.png", encode_png(sample.image), "image/png")).run()
    assert not app.exception and not app.error, messages(app)
    assert "says: **cross**" in top_line(app)


def test_a_bad_upload_shows_a_readable_message_and_no_exception(app: AppTest) -> None:
    app.switch_page("pages/predict.py").run()
    app.radio(key=SOURCE).set_value("upload").run()
    app.file_uploader(key="cnnviz.image_file").set_value(
        ("holiday.jpg", b"these are not the pixels you are looking for\n" * 20, "image/jpeg")).run()
    assert not app.exception, messages(app)
    errors = [e.value for e in app.error]
    assert len(errors) == 1 and "not an image cnnviz can read" in errors[0], errors
    assert "text file" in errors[0]  # says what the file seems to be
    assert not top5_chart(app)
    # a good upload afterwards recovers
    sample = generate_sample(TEST_SEED, class_index=SHAPE_CLASSES.index("ring"))
    app.file_uploader(key="cnnviz.image_file").set_value(
        ("ring.png", encode_png(sample.image), "image/png")).run()
    assert not app.error, messages(app)
    assert "says: **ring**" in top_line(app)


def test_mobilenetv2_with_random_weights_and_the_offline_fallback(app: AppTest) -> None:
    """ImageNet weights cannot be downloaded here: the page offers the demo model or random weights."""
    app.switch_page("pages/predict.py").run()
    app.selectbox(key=MODEL).set_value("MobileNetV2").run()
    assert not app.exception, messages(app)
    if is_cached(get_spec("MobileNetV2")):
        assert "MobileNetV2 (imagenet weights)" in top_line(app)
    else:  # offline: a readable WeightsDownloadError with ways out
        assert any("Could not get the ImageNet weights of MobileNetV2" in e.value
                   for e in app.error), messages(app)
        assert app.button(key="cnnviz.errors.use_demo").label == "Use the offline demo model"
        app.button(key="cnnviz.errors.use_random").click().run()
        assert app.radio(key=WEIGHTS).value == "random"
    app.radio(key=WEIGHTS).set_value("random").run()
    assert not app.exception and not app.error, messages(app)
    assert "MobileNetV2 (random weights)" in top_line(app)
    assert any("random weights" in w.value for w in app.warning)
    # back to the demo model through the sidebar: its answer is right again
    app.selectbox(key=MODEL).set_value(DEMO_MODEL_NAME).run()
    assert not app.error, messages(app)
    assert "shapes (demo)" in top_line(app)


def test_failed_download_offers_the_demo_model(app: AppTest) -> None:
    if is_cached(get_spec("MobileNetV2")):
        pytest.skip("MobileNetV2 weights are cached here: nothing fails")
    app.switch_page("pages/predict.py").run()
    app.selectbox(key=MODEL).set_value("MobileNetV2").run()
    app.button(key="cnnviz.errors.use_demo").click().run()
    assert not app.exception and not app.error, messages(app)
    assert app.selectbox(key=MODEL).value == DEMO_MODEL_NAME
    assert "shapes (demo)" in top_line(app)


def test_two_sessions_keep_their_own_model_image_and_results() -> None:
    """Sessions share the model and result caches, never their choices or each other's results."""
    with navigation_mode():
        first, second = app_test(), app_test()
        for at in (first, second):
            at.run()
            at.switch_page("pages/predict.py").run()
        first.selectbox(key="cnnviz.sample_class").set_value("heart")
        first.number_input(key="cnnviz.sample_seed").set_value(TEST_SEED).run()
        second.selectbox(key="cnnviz.sample_class").set_value("triangle")
        second.number_input(key="cnnviz.sample_seed").set_value(TEST_SEED).run()
        second.selectbox(key=MODEL).set_value("MobileNetV2").run()
        second.radio(key=WEIGHTS).set_value("random").run()
        first.run()
        assert "shapes (demo)" in top_line(first) and "says: **heart**" in top_line(first)
        assert "MobileNetV2 (random weights)" in top_line(second), messages(second)
        second.selectbox(key=MODEL).set_value(DEMO_MODEL_NAME).run()
        assert "says: **triangle**" in top_line(second)
        first.run()
        assert "says: **heart**" in top_line(first)


def _tiny_classifier(with_lambda: bool = False) -> bytes:
    """A small Keras image classifier (32x32 RGB -> 3 classes, softmax) saved as .keras bytes."""
    import tempfile
    from pathlib import Path

    import keras

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    if with_lambda:
        x = keras.layers.Lambda(lambda t: t * 2.0)(x)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tiny.keras"
        keras.Model(inputs, outputs).save(path)
        return path.read_bytes()


def test_own_model_file_is_opt_in_and_unsafe_files_are_refused(app: AppTest) -> None:
    app.switch_page("pages/predict.py").run()
    assert all(u.key != "cnnviz.own_model_file" for u in app.file_uploader)  # opt-in only
    app.checkbox(key="cnnviz.own_model").check().run()
    assert any("Upload your model file" in i.value for i in app.info), messages(app)
    app.file_uploader(key="cnnviz.own_labels_file").set_value(
        ("labels.txt", b"apple\nbanana\ncherry\n", "text/plain"))
    app.file_uploader(key="cnnviz.own_model_file").set_value(
        ("tiny.keras", _tiny_classifier(), "application/octet-stream")).run()
    assert not app.exception and not app.error, messages(app)
    line = top_line(app)
    assert "tiny.keras (your file)" in line
    assert any(name in line for name in ("apple", "banana", "cherry")), line
    # a model with a Lambda layer (arbitrary code) is refused with a readable message
    app.file_uploader(key="cnnviz.own_model_file").set_value(
        ("lambda.keras", _tiny_classifier(with_lambda=True), "application/octet-stream")).run()
    assert not app.exception, messages(app)
    assert any("Lambda" in e.value for e in app.error), messages(app)
    # unticking goes back to the zoo
    app.checkbox(key="cnnviz.own_model").uncheck().run()
    assert "shapes (demo)" in top_line(app)
