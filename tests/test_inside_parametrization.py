"""The Fourier/colour parametrisation and the random transforms of activation maximisation."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from cnnviz.inside import parametrization as param


@pytest.mark.parametrize("height, width", [(64, 64), (31, 50), (224, 224)])
def test_inverse_dft_equals_tensorflows_irfft2d(height: int, width: int) -> None:
    spectrum = tf.constant(
        np.random.default_rng(0).standard_normal((2, 2, 3, height, width // 2 + 1)), tf.float32
    )
    planes = tf.signal.irfft2d(tf.complex(spectrum[:, 0], spectrum[:, 1]), fft_length=[height, width])
    expected = tf.transpose(planes, [0, 2, 3, 1]).numpy()
    np.testing.assert_allclose(param.inverse_rfft2d(spectrum, height, width).numpy(), expected, atol=1e-6)


@pytest.mark.parametrize("height, width", [(64, 64), (31, 49), (225, 198)])
def test_gradient_of_the_inverse_dft_equals_tensorflows(height: int, width: int) -> None:
    """The hand-written gradient (one rfft2d) equals TensorFlow's own, odd and even sides alike."""
    rng = np.random.default_rng(1)
    spectrum = tf.constant(rng.standard_normal((2, 2, 3, height, width // 2 + 1)), tf.float32)
    upstream = tf.constant(rng.standard_normal((2, height, width, 3)), tf.float32)

    def gradient(transform) -> np.ndarray:  # type: ignore[no-untyped-def]
        with tf.GradientTape() as tape:
            tape.watch(spectrum)
            loss = tf.reduce_sum(transform(spectrum) * upstream)
        return tape.gradient(loss, spectrum).numpy()

    expected = gradient(lambda s: tf.transpose(
        tf.signal.irfft2d(tf.complex(s[:, 0], s[:, 1]), fft_length=[height, width]), [0, 2, 3, 1]))
    mine = gradient(lambda s: param.inverse_rfft2d(s, height, width))
    assert np.abs(expected).max() > 1e-3
    np.testing.assert_allclose(mine, expected, atol=1e-5 * np.abs(expected).max())


def test_frequency_scaling_favours_low_frequencies_and_images_are_valid_pixels() -> None:
    scale = param.spectrum_scale(64, 64)
    assert scale[0, 0] == scale.max() and scale[32, 32] == scale.min()
    spectrum = param.initial_spectrum(np.random.default_rng(1), 3, 64, 64)
    image = param.fourier_image(tf.constant(spectrum), tf.constant(scale), 64, 64).numpy()
    assert image.shape == (3, 64, 64, 3) and 0 < image.min() and image.max() < 1
    assert abs(float(image.mean()) - 0.5) < 0.05  # starts as near-grey noise


def test_random_transforms_are_seeded_small_and_keep_the_centre() -> None:
    seed = tf.constant([7, 0], tf.int64)
    first = param.random_transforms(seed, 16, 64, 64, 2.0, param.SCALE_RANGE, param.ROTATION_DEGREES).numpy()
    again = param.random_transforms(seed, 16, 64, 64, 2.0, param.SCALE_RANGE, param.ROTATION_DEGREES).numpy()
    np.testing.assert_array_equal(first, again)
    linear = first[:, [0, 1, 3, 4]].reshape(-1, 2, 2)
    zoom = 1 / np.sqrt(np.abs(np.linalg.det(linear)))
    assert np.all((zoom > 0.9 - 1e-5) & (zoom < 1.1 + 1e-5))
    angle = np.degrees(np.arctan2(first[:, 1], first[:, 0]))
    assert np.all(np.abs(angle) <= 10 + 1e-4)
    centre = np.array([31.5, 31.5])
    moved = np.einsum("bij,j->bi", linear, centre) + first[:, [2, 5]] - centre
    assert np.all(np.abs(moved) <= 2 + 1e-4)  # the centre moves by the jitter only
    image = tf.random.uniform((16, 64, 64, 3))
    assert param.apply_transforms(image, tf.constant(first)).shape == (16, 64, 64, 3)


def test_colour_decorrelation_is_lucids_normalised_matrix() -> None:
    matrix = param.COLOR_CORRELATION_SVD_SQRT / np.max(
        np.linalg.norm(param.COLOR_CORRELATION_SVD_SQRT, axis=0)
    )
    pixel = tf.constant([[[[1.0, 0.0, 0.0]]]])
    np.testing.assert_allclose(param.decorrelate_colors(pixel).numpy()[0, 0, 0], matrix[:, 0], rtol=1e-6)
