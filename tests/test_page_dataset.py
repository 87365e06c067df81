"""AppTest of the Dataset page on the demo model: a zip of images drawn with Pillow (not the shapes
generator) with damaged files mixed in, its evaluation checked against the model's own single-image
predictions, a confusion-matrix cell with its Grad-CAM images, opening an image on the Heatmaps
page; a generated set's Grad-CAM against its masks and its embedding map; typed errors as messages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from apptest_helpers import app_on_page, messages, navigation_mode
from dataset_helpers import drawn_shape, png_bytes, write_damaged_files, write_drawn_folder, zip_folder
from streamlit.testing.v1 import AppTest

from cnnviz.demo.shapes import SHAPE_CLASSES
from cnnviz.images import load_image
from cnnviz.models import load_model
from cnnviz.prediction import predict

PAGE = "pages/dataset.py"
CLASSES = ("circle", "square", "triangle")
PER_CLASS = 5


@pytest.fixture
def page() -> Iterator[AppTest]:
    """The app on the Dataset page with the demo model."""
    with navigation_mode():
        yield app_on_page(PAGE)


@pytest.fixture(scope="module")
def drawn_zip(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, dict[str, str], Path]:
    """Zip bytes of 3 drawn classes x 5 images plus damaged files in the circle folder; the expected
    skipped files; and the folder itself."""
    root = tmp_path_factory.mktemp("drawn")
    write_drawn_folder(root, PER_CLASS, CLASSES)
    damaged = write_damaged_files(root / "circle")
    return zip_folder(root), damaged, root


def _upload(at: AppTest, name: str, data: bytes) -> None:
    at.file_uploader(key="dataset.zip").set_value((name, data, "application/zip"))
    at.run()


def _captions(node) -> list[str]:
    """The captions of the images under an AppTest node (main or sidebar)."""
    return [image.caption for element in node.get("image") for image in element.proto.imgs]


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_zip_is_evaluated_and_a_cell_shows_its_images(page: AppTest, drawn_zip) -> None:
    at = page
    data, damaged, root = drawn_zip
    _upload(at, "drawn.zip", data)
    assert not at.exception and not at.error, messages(at)
    assert _metric(at, "Usable images") == str(PER_CLASS * len(CLASSES))
    skipped = at.table[0].value
    assert dict(zip(skipped.index, skipped["reason"])) == damaged  # every damaged file, with its reason
    assert len(at.get("download_button")) >= 2  # the class counts and the samples

    next(b for b in at.button if b.label == "Evaluate").click().run()
    assert not at.exception and not at.error, messages(at)
    # Independent check: the model's own one-image predictions on the same files.
    loaded = load_model("shapes")
    truth, said = [], []
    for c, name in enumerate(CLASSES):
        for path in sorted((root / name).glob("img*")):
            truth.append(name)
            said.append(predict(loaded, load_image(path.read_bytes()), top=1)[0].label)
    expected = np.mean(np.array(truth) == np.array(said))
    assert _metric(at, "Images evaluated") == str(len(truth))
    assert _metric(at, "Accuracy") == f"{100 * expected:.1f} %"
    assert at.get("plotly_chart"), messages(at)

    cells = at.selectbox(key="dataset.cell").options
    at.selectbox(key="dataset.cell").set_value((0, 0)).run()  # true circle, predicted circle
    assert not at.exception and not at.error, messages(at)
    correct_circles = sum(t == s == "circle" for t, s in zip(truth, said))
    assert any(f"({correct_circles} correct images)" in m.value for m in at.markdown), (cells, messages(at))
    captions = [c for c in _captions(at.main) if "predicted circle" in c]
    assert len(captions) >= min(correct_circles, 12), captions
    assert all(c.startswith("circle/img") for c in captions)

    opened = next(b for b in at.button if b.key and b.key.startswith("dataset.cell_images.open."))
    opened.click().run()
    assert not at.exception, messages(at)
    assert at.title[0].value == "Heatmaps", messages(at)
    assert at.radio(key="cnnviz.image_source").value == "dataset"
    assert any(c.startswith("circle/img") for c in _captions(at.sidebar)), _captions(at.sidebar)
    at.switch_page(PAGE).run()  # the dataset stayed chosen, though the uploader is empty again
    assert at.file_uploader(key="dataset.zip").value is None
    assert _metric(at, "Usable images") == str(PER_CLASS * len(CLASSES)), messages(at)


def test_generated_set_heatmaps_hit_the_shapes_and_the_map_separates_them(page: AppTest,
                                                                           tmp_path: Path) -> None:
    at = page
    at.segmented_control(key="dataset.source").set_value("generated").run()
    at.number_input(key="dataset.gen_count").set_value(6).run()
    next(b for b in at.button if b.label == "Use this generated set").click().run()
    assert not at.exception and not at.error, messages(at)
    assert _metric(at, "Usable images") == "48"
    next(b for b in at.button if b.label == "Evaluate").click().run()
    at.selectbox(key="dataset.cell").set_value((3, 3)).run()  # true star, predicted star
    assert not at.exception and not at.error, messages(at)
    peaks = [c for c in _captions(at.main) if "Grad-CAM peak" in c]
    assert len(peaks) >= 4 and sum("peak on the shape" in c for c in peaks) >= 0.8 * len(peaks), peaks
    next(b for b in at.button if b.label == "Compute the map").click().run()
    assert not at.exception and not at.error, messages(at)
    knn = float(_metric(at, "kNN accuracy of the features (k = 5, cosine, leave-one-out)").rstrip(" %"))
    assert knn > 80  # the demo model's features separate its own shapes
    assert at.get("plotly_chart")
    labels = [b.label for b in at.get("download_button")]
    assert "Download the map (PNG)" in labels

    # The SpRAy audit of one class: 6 images are too few to cluster (a message), 10 fall into clusters,
    # and a member opens on the Heatmaps page.
    at.selectbox(key="dataset.audit_class").set_value("star").run()
    next(b for b in at.button if b.label == "Audit the class").click().run()
    assert not at.exception and at.error and "at least 8" in at.error[0].value, messages(at)
    at.number_input(key="dataset.gen_count").set_value(10).run()
    next(b for b in at.button if b.label == "Use this generated set").click().run()
    at.selectbox(key="dataset.audit_class").set_value("star").run()
    at.selectbox(key="dataset.audit_method").set_value("saliency").run()
    next(b for b in at.button if b.label == "Audit the class").click().run()
    assert not at.exception and not at.error, messages(at)
    clusters = [e.label for e in at.expander if e.label.startswith("Cluster ")]
    assert clusters and sum(int(label.split(": ")[1].split(" ")[0]) for label in clusters) == 10, clusters
    next(b for b in at.button if b.key and b.key.startswith("dataset.audit_view.open.")).click().run()
    assert not at.exception, messages(at)
    assert at.title[0].value == "Heatmaps", messages(at)
    # the page shows the map the audit clustered: its method and class, not the page's defaults
    assert at.multiselect(key="heatmaps.methods").value == ["saliency"]
    assert at.selectbox(key="heatmaps.class").value == SHAPE_CLASSES.index("star")
    assert any(c.startswith("Gradient saliency: star") for c in _captions(at.main)), _captions(at.main)
    assert any(c.startswith("generated/star/") for c in _captions(at.sidebar)), _captions(at.sidebar)
    at.switch_page(PAGE).run()
    at.segmented_control(key="dataset.source").set_value("generated").run()
    at.number_input(key="dataset.gen_count").set_value(6).run()
    next(b for b in at.button if b.label == "Use this generated set").click().run()

    # Typed errors are messages, never tracebacks; the generated set stays chosen meanwhile.
    at.segmented_control(key="dataset.source").set_value("zip").run()
    write_drawn_folder(tmp_path, PER_CLASS, ("circle",))  # photos/circle/...: a labelled task with one class
    _upload(at, "one-class.zip", zip_folder(tmp_path, top="photos/"))
    assert not at.exception, messages(at)
    assert at.error and "class" in at.error[0].value, messages(at)
    _upload(at, "not-a.zip", b"this is not a zip archive")
    assert not at.exception, messages(at)
    assert at.error and "zip" in at.error[0].value, messages(at)
    assert _metric(at, "Usable images") == "48"

    # Classes the model does not know: evaluation says which; the map still works.
    for k, name in enumerate(("apple", "pear")):
        (tmp_path / "fruit" / name).mkdir(parents=True)
        for i in range(PER_CLASS):
            (tmp_path / "fruit" / name / f"{i}.png").write_bytes(png_bytes(drawn_shape(CLASSES[k], i)))
    _upload(at, "fruit.zip", zip_folder(tmp_path / "fruit"))
    next(b for b in at.button if b.label == "Evaluate").click().run()
    assert not at.exception, messages(at)
    assert any("apple" in e.value and "pear" in e.value for e in at.error), messages(at)
    assert any(b.label == "Compute the map" for b in at.button)
