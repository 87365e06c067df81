"""AppTest of the inside-the-network pages on the demo model: each page runs and shows its parts."""

from __future__ import annotations

import base64
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
from apptest_helpers import app_on_page, messages, navigation_mode
from streamlit.testing.v1 import AppTest

from cnnviz.zoo import get_spec


@pytest.fixture
def open_page() -> Iterator:
    """open_page(path) -> the app on that page with the demo model and a generated star."""
    with navigation_mode():
        yield app_on_page


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_feature_maps_page(open_page) -> None:
    at = open_page("pages/feature_maps.py")
    assert at.title[0].value == "Feature maps and filters"
    assert at.selectbox(key="features.layer").value == "last_conv"
    assert any("96 channels of 16x16" in c.value for c in at.caption), messages(at)
    assert {m.label for m in at.metric} >= {"Mean", "Max", "Active positions"}
    at.selectbox(key="features.layer").set_value("stem1_relu").run()
    at.selectbox(key="features.sort").set_value("max").run()
    assert not at.exception and not at.error, messages(at)
    assert any("stem1_relu: 16 channels of 64x64" in c.value for c in at.caption)
    assert any("kernel 3x3x3x16" in c.value for c in at.caption)  # the filters tab, first conv
    at.selectbox(key="filters.layer").set_value("fine_conv").run()
    assert not at.exception and not at.error, messages(at)
    assert at.number_input(key="filters.output").value == 0
    assert len(at.get("download_button")) >= 3


def test_maximize_page_optimises_classes_and_finds_top_examples(open_page) -> None:
    at = open_page("pages/maximize.py")
    assert at.title[0].value == "Activation maximization"
    at.multiselect(key="maximize.classes").set_value([3]).run()
    at.slider(key="maximize.steps").set_value(32).run()
    _button(at, "Optimise").click().run()
    assert not at.exception and not at.error, messages(at)
    assert any("Classified as the class asked for with p >= 0.9: 1 of 1" in c.value for c in at.caption), (
        messages(at)
    )
    assert at.get("plotly_chart")
    labels = [b.label for b in at.get("download_button")]
    assert "Download the images (PNG)" in labels and "Download the chart (PNG)" in labels
    at.selectbox(key="examples.size").set_value(32).run()
    _button(at, "Find").click().run()
    assert not at.exception and not at.error, messages(at)
    assert any("32 images scored" in c.value for c in at.caption), messages(at)


def test_architecture_page(open_page) -> None:
    at = open_page("pages/architecture.py")
    assert at.title[0].value == "Architecture"
    assert {m.label for m in at.metric} >= {"Layers", "Parameters", "Multiply-adds per image"}
    assert next(m for m in at.metric if m.label == "Layers").value == "27"
    assert at.get("arrow_data_frame") or at.dataframe
    assert any("batch normalisation (stem1_bn)" in m.value for m in at.markdown), messages(at)
    assert any("max pooling (stem1_pool)" in m.value for m in at.markdown), messages(at)
    at.slider(key="convolution.row").set_value(0).run()
    assert not at.exception and not at.error, messages(at)
    at.number_input(key="invariance.points").set_value(5).run()
    _button(at, "Probe").click().run()
    assert not at.exception and not at.error, messages(at)
    assert any("Following **star**" in c.value for c in at.caption), messages(at)


def _plotly(at: AppTest, key: str) -> go.Figure:
    """The Plotly figure drawn with widget key ``key``, its typed arrays ({dtype, bdata}) decoded."""

    def decode(value: object) -> object:
        if isinstance(value, dict) and "bdata" in value:
            return np.frombuffer(base64.b64decode(value["bdata"]), value["dtype"])
        if isinstance(value, dict):
            return {k: decode(v) for k, v in value.items()}
        return [decode(v) for v in value] if isinstance(value, list) else value

    chart = next(c for c in at.get("plotly_chart") if key in c.proto.id)
    return go.Figure(decode(json.loads(chart.proto.spec)))


def test_latency_chart_puts_published_and_measured_time_per_image(open_page) -> None:
    at = open_page("pages/architecture.py")
    _button(at, "Measure").click().run()  # MobileNetV2, random weights, batch 1
    assert not at.exception and not at.error, messages(at)
    latency = _plotly(at, "catalog.latency")
    assert latency.layout.xaxis.title.text == "CPU milliseconds per image (log scale)"
    published = next(t for t in latency.data if t.name == "MobileNet")
    assert published.legendgroup == "published"
    mobilenet_v2 = list(published.text).index("MobileNetV2")
    assert published.x[mobilenet_v2] == pytest.approx(get_spec("MobileNetV2").cpu_ms / 32)
    measured = next(t for t in latency.data if t.legendgroup == "measured")
    assert measured.name == "measured here: batch 1, time / 1" and list(measured.text) == ["MobileNetV2"]
    table = next(d.value for d in at.dataframe if "top-1 %" in d.value)  # the catalog tab's table
    row = table[table["model"] == "MobileNetV2"].iloc[0]
    assert measured.x[0] == pytest.approx(row["measured here, ms per image"])
    assert row["published CPU ms per batch-32 step"] == get_spec("MobileNetV2").cpu_ms
    # the size chart no longer carries the measured milliseconds on its parameters axis
    size = _plotly(at, "catalog.params")
    assert all(t.legendgroup != "measured" for t in size.data)
    assert any("divided by 32 for the chart" in c.value and "a batch of 1 on this machine" in c.value
               for c in at.caption), messages(at)


def _strided_classifier() -> bytes:
    """A .keras classifier whose second convolution strides 2 down the rows and 1 across, followed
    by a depthwise convolution with two kernels per channel."""
    import keras

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="square")(inputs)
    x = keras.layers.Conv2D(4, (3, 1), strides=(2, 1), name="tall")(x)
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, name="depthwise")(x)
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "strided.keras"
        keras.Model(inputs, outputs).save(path)
        return path.read_bytes()


def _with_strided_classifier(at: AppTest) -> AppTest:
    at.checkbox(key="cnnviz.own_model").check().run()
    at.file_uploader(key="cnnviz.own_model_file").set_value(
        ("strided.keras", _strided_classifier(), "application/octet-stream")
    ).run()
    assert not at.exception and not at.error, messages(at)
    return at


def test_layer_table_shows_both_axes_when_they_differ(open_page) -> None:
    at = _with_strided_classifier(open_page("pages/architecture.py"))
    table = next(d.value for d in at.dataframe if "jump" in d.value).set_index("layer")
    assert (table.loc["square", "jump"], table.loc["square", "start"]) == ("1", "0")  # square: one number
    assert table.loc["tall", "receptive field"] == "5x3"
    assert (table.loc["tall", "jump"], table.loc["tall", "start"]) == ("2x1", "1, 0")
    assert (table.loc["depthwise", "receptive field"], table.loc["depthwise", "start"]) == ("9x5", "3, 1")
    assert next(m for m in at.metric if m.label.startswith("Receptive field")).value == "9x5 px"


def test_architecture_page_without_an_image_keeps_the_parts_that_need_none(open_page) -> None:
    at = open_page("pages/architecture.py")
    at.radio(key="cnnviz.image_source").set_value("upload").run()  # nothing uploaded: no image
    assert not at.exception and not at.error, messages(at)
    assert at.dataframe and next(m for m in at.metric if m.label == "Layers").value == "27"
    infos = [i.value for i in at.info]
    assert any("to see a convolution worked out on it" in i for i in infos), messages(at)
    assert any("to probe how its class changes" in i for i in infos), messages(at)
    assert at.number_input(key="invariance.points").value == 21  # the probe's settings still show
    assert not [b for b in at.button if b.label == "Probe"]
    assert [e.label for e in at.expander] == ["How to read this"]


def test_filters_caption_counts_depthwise_filters_per_output_channel(open_page) -> None:
    at = _with_strided_classifier(open_page("pages/feature_maps.py"))
    at.selectbox(key="filters.layer").set_value("depthwise").run()
    assert not at.exception and not at.error, messages(at)
    assert any(
        "depthwise: depthwise kernel 3x3x4x2, 8 depthwise filters (2 3x3 kernels per input channel, "
        "4 channels), stride 1" in c.value
        for c in at.caption
    ), [c.value for c in at.caption]
