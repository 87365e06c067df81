"""Feature maps, top activating examples and their drawings, on the demo model and MobileNetV2."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from inside_helpers import wrap

from cnnviz.errors import LayerNotSpatialError, ParameterError, UnknownLayerError
from cnnviz.graph import activations_and_logits, spatial_layer_names
from cnnviz.inside import demo_images, feature_maps, folder_images, receptive_field, top_activating
from cnnviz.models import load_model
from cnnviz.prediction import class_probabilities
from cnnviz.render.inside import CAPTION_HEIGHT, GAP, channel_overlay, draw_box, feature_map_grid
from cnnviz.demo.shapes import TEST_SEED, generate_dataset


@pytest.fixture(scope="module")
def demo():
    return load_model("shapes")


@pytest.fixture(scope="module")
def dataset():
    images, labels, masks = generate_dataset(64, TEST_SEED)
    return images, labels, masks


@pytest.mark.parametrize("name, count", [("shapes", None), ("MobileNetV2", 40)])
def test_layers_in_one_pass_equal_each_layers_own_output(name, count):
    loaded = load_model(name, weights=None)
    image = np.random.default_rng(0).integers(0, 256, (*loaded.input_size, 3), dtype=np.uint8)
    names = spatial_layer_names(loaded)[:count]  # MobileNetV2: the first 40 (ReLU6, batch norm, adds)
    result = feature_maps(loaded, image, None if count is None else names)
    assert result.layer_names == tuple(names)
    assert any(entry.steps for entry in result.layers)  # batch norm and activations recomputed
    reference, _ = activations_and_logits(loaded, names)(
        loaded.preprocess(tf.constant(image[None], tf.float32))
    )
    for entry, expected in zip(result.layers, reference):
        np.testing.assert_allclose(
            entry.maps,
            np.asarray(expected)[0],
            rtol=1e-4,
            atol=1e-5 * float(np.abs(expected).max() + 1),
            err_msg=entry.layer,
        )
    np.testing.assert_allclose(result.probabilities, class_probabilities(loaded, [image])[0], atol=1e-5)


def _nested_mobilenet() -> tuple[keras.Model, keras.Model]:
    """A MobileNetV2 base inside an outer model with a head, batch-norm statistics drawn at random
    (fresh ones are an identity, which would hide a wrong scale or shift)."""
    rng = np.random.default_rng(2)
    base = keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3), include_top=False)
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.gamma.shape[0]
            layer.set_weights([
                rng.uniform(0.5, 1.5, channels),  # gamma
                rng.normal(0, 0.3, channels),  # beta
                rng.normal(0, 0.3, channels),  # moving mean
                rng.uniform(0.5, 2.0, channels),  # moving variance
            ])
    inputs = keras.Input((96, 96, 3))
    x = keras.layers.GlobalAveragePooling2D()(base(inputs))
    return base, keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Dropout(0.2)(x)))


def test_feature_maps_of_a_nested_model_equal_each_inner_layers_own_output():
    base, outer = _nested_mobilenet()
    loaded = wrap(outer, "nested", preprocess=lambda pixels: pixels / 127.5 - 1)
    image = np.random.default_rng(3).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    result = feature_maps(loaded, image)  # every spatial layer, all of them inside the base
    inner = [name.split("/", 1)[1] for name in result.layer_names]
    assert result.layer_names == tuple(f"{base.name}/{name}" for name in inner) and len(inner) > 100
    assert any(entry.steps for entry in result.layers)  # batch norm and ReLU6 recomputed in NumPy
    probe = keras.Model(base.inputs, [base.get_layer(name).output for name in inner])
    pixels = image[None].astype(np.float32) / 127.5 - 1
    for entry, expected in zip(result.layers, probe([pixels])):
        expected = np.asarray(expected)[0]
        np.testing.assert_allclose(
            entry.maps,
            expected,
            rtol=1e-4,
            atol=1e-5 * float(np.abs(expected).max() + 1),
            err_msg=entry.layer,
        )
    expected_probabilities = tf.nn.softmax(outer(pixels, training=False))[0]
    np.testing.assert_allclose(result.probabilities, expected_probabilities, atol=1e-5)


def test_channel_statistics_equal_numpys_on_the_maps(demo, dataset):
    images, _, _ = dataset
    names = ["fine_conv", "fine_bn", "fine_relu"]  # batch norm and ReLU derived from the convolution
    result = feature_maps(demo, images[5], names)
    pixels = demo.preprocess(tf.constant(images[5][None], tf.float32))
    reference, _ = activations_and_logits(demo, names)(pixels)
    for name, expected in zip(names, reference):
        maps = result[name]
        expected = np.asarray(expected, np.float64)[0].reshape(-1, maps.channels)  # (positions, channels)
        tolerance = {"rtol": 1e-4, "atol": 1e-5 * (np.abs(expected).max() + 1), "err_msg": name}
        np.testing.assert_allclose(maps.mean, expected.mean(axis=0), **tolerance)
        np.testing.assert_allclose(maps.max, expected.max(axis=0), **tolerance)
        np.testing.assert_allclose(maps.min, expected.min(axis=0), **tolerance)
        np.testing.assert_allclose(maps.std, expected.std(axis=0), **tolerance)
        assert maps.std.shape == maps.min.shape == (maps.channels,)
        active = (expected > 0).mean(axis=0)
        # a value within rounding of zero may fall either side: allow one position per channel
        np.testing.assert_allclose(maps.active, active, atol=1.5 / expected.shape[0], err_msg=name)
    assert result["fine_relu"].min.min() >= 0 and result["fine_conv"].min.min() < 0
    assert np.all(result["fine_relu"].std <= result["fine_bn"].std * 1.0001)  # ReLU only shrinks spread


def test_channels_are_sorted_paged_and_described(demo, dataset):
    images, _, _ = dataset
    maps = feature_maps(demo, images[0], ["last_conv"])["last_conv"]
    assert maps.maps.shape == (16, 16, 96)
    order = maps.order("mean")
    assert np.all(np.diff(maps.mean[order]) <= 0)
    assert maps.max[maps.order("max")[0]] == pytest.approx(maps.maps.max())
    assert maps.num_pages(40) == 3 and len(maps.page(2, 40)) == 16
    np.testing.assert_array_equal(np.concatenate([maps.page(p, 40) for p in range(3)]), order)
    assert 0 <= maps.active.min() and maps.active.max() <= 1
    with pytest.raises(ParameterError, match="pages 0 to 2"):
        maps.page(3, 40)
    with pytest.raises(ParameterError, match="channels 0 to 95"):
        maps.channel(96)


def test_wide_layers_are_paged(dataset):
    mobilenet = load_model("MobileNetV2", weights=None)
    image = np.random.default_rng(1).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    maps = feature_maps(mobilenet, image, "Conv_1")["Conv_1"]
    assert maps.channels == 1280 and maps.num_pages(64) == 20
    grid = feature_map_grid(maps.maps, maps.page(0, 64), cell=32)
    assert grid.dtype == np.uint8 and grid.shape[2] == 3
    assert grid.shape[0] == 8 * (32 + CAPTION_HEIGHT + GAP) - GAP  # 64 tiles in 8 rows, not 1280


def test_a_channel_drawn_over_the_image(demo, dataset):
    images, _, _ = dataset
    maps = feature_maps(demo, images[0], "fine_relu")["fine_relu"]
    overlay = channel_overlay(images[0], maps.channel(int(maps.order("max")[0])))
    assert overlay.shape == images[0].shape and overlay.dtype == np.uint8


def test_bad_layers_raise_typed_errors(demo, dataset):
    images, _, _ = dataset
    with pytest.raises(UnknownLayerError, match="no layer called 'conv42'"):
        feature_maps(demo, images[0], "conv42")
    with pytest.raises(LayerNotSpatialError, match="'gap'"):
        feature_maps(demo, images[0], ["last_conv", "gap"])
    with pytest.raises(ParameterError, match="at least one layer"):
        feature_maps(demo, images[0], [])


def test_top_examples_of_a_class_channel_show_that_class(demo, dataset):
    images, labels, _ = dataset
    kernel = demo.model.get_layer("logits").get_weights()[0]  # (channels, classes)
    hits = 0
    for class_index in range(demo.num_classes):
        channel = int(np.argmax(kernel[:, class_index]))  # the channel voting most for this class
        result = top_activating(demo, list(images), "last_conv", channel, top=5)
        hits += sum(int(labels[e.index]) == class_index for e in result.examples)
    assert hits >= 0.6 * 5 * demo.num_classes  # chance would be 1/8


def test_top_examples_patches_are_the_receptive_fields_of_the_peaks(demo, dataset):
    images, _, _ = dataset
    calls = []
    result = top_activating(
        demo,
        list(images[:20]),
        "fine_relu",
        7,
        top=4,
        batch_size=8,
        progress=lambda done, total, info: calls.append(done),
    )
    assert calls == [8, 16, 20]
    assert [e.score for e in result.examples] == sorted(result.scores, reverse=True)[:4]
    geometry = receptive_field(demo, "fine_relu")
    for example in result.examples:
        assert example.activation[example.position] == pytest.approx(example.score)
        top, left, bottom, right = example.box
        assert example.patch.shape == (bottom - top + 1, right - left + 1, 3)
        assert bottom - top + 1 <= geometry.size[0]
        centre = geometry.start[0] + example.position[0] * geometry.jump[0]
        assert top <= centre <= bottom
        assert draw_box(example.image, example.box).shape == example.image.shape
    with pytest.raises(ParameterError, match="channels 0 to 63"):
        top_activating(demo, list(images[:2]), "fine_relu", 64)
    with pytest.raises(LayerNotSpatialError):
        top_activating(demo, list(images[:2]), "logits", 0)
    assert len(demo_images(3)) == 3


def test_a_folder_of_images_is_an_image_set(demo, dataset, tmp_path):
    from PIL import Image

    images, _, _ = dataset
    for index in range(3):
        Image.fromarray(images[index]).save(tmp_path / f"{index}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    loaded, names, skipped = folder_images(tmp_path)
    assert len(loaded) == 3 and names == ["0.png", "1.png", "2.png"] and skipped == ["broken.png"]
    np.testing.assert_array_equal(loaded[1], images[1])
    assert len(top_activating(demo, loaded, "last_conv", 0, top=2).examples) == 2
    with pytest.raises(ParameterError, match="not a folder"):
        folder_images(tmp_path / "nope")
