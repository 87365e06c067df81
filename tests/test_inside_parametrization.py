"""The Fourier/colour parametrisation and the random transforms of activation maximisation."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from cnnviz.inside import parametrization as param


def _complex(pairs: tf.Tensor) -> tf.Tensor:
    return tf.complex(pairs[..., 0], pairs[..., 1])


@pytest.mark.parametrize("height, width", [(64, 64), (31, 50), (224, 224)])
def test_inverse_dft_equals_tensorflows_irfft2d(height: int, width: int) -> None:
    spectrum = tf.constant(
        np.random.default_rng(0).standard_normal((2, 3, height, width // 2 + 1, 2)), tf.float32
    )
    expected = tf.signal.irfft2d(_complex(spectrum), fft_length=[height, width]).numpy()
    np.testing.assert_allclose(param.inverse_rfft2d(spectrum, height, width).numpy(), expected, atol=1e-6)


@pytest.mark.parametrize("height, width", [(64, 64), (31, 49), (225, 198)])
def test_gradient_of_the_inverse_dft_equals_tensorflows(height: int, width: int) -> None:
    """The hand-written gradient (one rfft2d) equals TensorFlow's own, odd and even sides alike."""
    rng = np.random.default_rng(1)
    spectrum = tf.constant(rng.standard_normal((2, 3, height, width // 2 + 1, 2)), tf.float32)
    upstream = tf.constant(rng.standard_normal((2, 3, height, width)), tf.float32)

    def gradient(transform) -> np.ndarray:  # type: ignore[no-untyped-def]
        with tf.GradientTape() as tape:
            tape.watch(spectrum)
            loss = tf.reduce_sum(transform(spectrum) * upstream)
        return tape.gradient(loss, spectrum).numpy()

    expected = gradient(lambda s: tf.signal.irfft2d(_complex(s), fft_length=[height, width]))
    mine = gradient(lambda s: param.inverse_rfft2d(s, height, width))
    assert np.abs(expected).max() > 1e-3
    np.testing.assert_allclose(mine, expected, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("height, width", [(64, 64), (37, 50)])
def test_fourier_image_and_its_gradient_equal_the_plain_formula(height: int, width: int) -> None:
    """The fused, hand-differentiated pipeline computes the same image and gradient as the formula
    written plainly with the colour matrix as a tensordot (checked against Lucid's matrix below)."""
    rng = np.random.default_rng(2)
    spectrum = tf.constant(0.3 * rng.standard_normal((2, *param.spectrum_shape(height, width))), tf.float32)
    upstream = tf.constant(rng.standard_normal((2, height, width, 3)), tf.float32)

    def image_and_gradient(render) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
        with tf.GradientTape() as tape:
            tape.watch(spectrum)
            image = render(spectrum)
            loss = tf.reduce_sum(image * upstream)
        return image.numpy(), tape.gradient(loss, spectrum).numpy()

    expected_image, expected_gradient = image_and_gradient(lambda s: param.plain_fourier_image(s, height, width))
    image, gradient = image_and_gradient(lambda s: param.fourier_image(s, height, width))
    assert expected_image.std() > 0.05  # a real image, not flat grey
    np.testing.assert_allclose(image, expected_image, atol=1e-5)
    np.testing.assert_allclose(gradient, expected_gradient, atol=1e-4 * np.abs(expected_gradient).max())


def test_frequency_scaling_favours_low_frequencies_and_images_are_valid_pixels() -> None:
    scale = param.spectrum_scale(64, 64)
    assert scale[0, 0] == scale.max() and scale[32, 32] == scale.min()
    spectrum = param.initial_spectrum(np.random.default_rng(1), 3, 64, 64)
    image = param.fourier_image(tf.constant(spectrum), 64, 64).numpy()
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


@pytest.mark.parametrize("height, width", [(64, 64), (45, 70), (224, 224)])
def test_warp_equals_tensorflows_projective_transform(height: int, width: int) -> None:
    """The XLA warp reads the same bilinear values, grey fill included, as ImageProjectiveTransformV3."""
    images = tf.random.stateless_uniform((6, height, width, 3), [4, 2])
    jitter = param.JITTER_FRACTION * min(height, width)
    transforms = param.random_transforms(
        tf.constant([5, 1], tf.int64), 6, height, width, jitter, param.SCALE_RANGE, param.ROTATION_DEGREES
    )
    expected = tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=[height, width], fill_value=param.FILL_VALUE,
        interpolation="BILINEAR", fill_mode="CONSTANT",
    ).numpy()
    warped = param.apply_transforms(images, transforms).numpy()
    assert np.abs(expected - images.numpy()).mean() > 0.05  # the transforms did move the images
    np.testing.assert_allclose(warped, expected, atol=1e-4)
    identity = tf.constant([[1, 0, 0, 0, 1, 0, 0, 0]] * 6, tf.float32)
    np.testing.assert_allclose(param.apply_transforms(images, identity).numpy(), images.numpy(), atol=1e-6)


def test_warp_gradient_is_the_adjoint_of_the_warp() -> None:
    """The gradient (inverse warp times the area factor) matches exact differentiation of the bilinear
    reads, which scatters: on a smooth upstream gradient, as the model gives, almost exactly."""
    images = tf.random.stateless_uniform((4, 64, 64, 3), [1, 2])
    transforms = param.random_transforms(
        tf.constant([3, 1], tf.int64), 4, 64, 64, 2.3, param.SCALE_RANGE, param.ROTATION_DEGREES
    )
    upstream = tf.image.resize(tf.random.stateless_normal((4, 8, 8, 3), [6, 0]), (64, 64))

    def gradient(warp) -> np.ndarray:  # type: ignore[no-untyped-def]
        with tf.GradientTape() as tape:
            tape.watch(images)
            loss = tf.reduce_sum(warp(images, transforms) * upstream)
        return tape.gradient(loss, images).numpy()

    exact = gradient(lambda x, t: param._bilinear_sample(x, t, param.FILL_VALUE))
    mine = gradient(param.apply_transforms)
    assert np.corrcoef(mine.ravel(), exact.ravel())[0, 1] > 0.999
    assert abs(mine.sum() / exact.sum() - 1) < 0.01
