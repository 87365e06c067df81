"""Image parametrisations and random transforms for activation maximisation (Olah et al. 2017).

Optimising pixels directly finds high-frequency patterns a network reacts to but a person cannot
read. Feature Visualization (Olah, Mordvintsev & Schubert 2017, Distill) and its library Lucid
instead optimise a *Fourier spectrum* scaled by 1/frequency (so every frequency learns at a similar
rate, a preconditioning that favours natural-image statistics), map it through Lucid's *colour
decorrelation* (the square root of ImageNet's colour covariance) and a sigmoid to valid pixels, and
apply small random transforms at every step (padding, jitter, scale, rotation) so the image has to
work from any nearby viewpoint ("transformation robustness"). These functions are pure TensorFlow so
the optimiser can differentiate through them. Images here are floats in [0, 1], (batch, h, w, 3).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

#: Lucid's colour correlation (square root of ImageNet's RGB covariance, from an SVD).
COLOR_CORRELATION_SVD_SQRT = np.array(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], np.float32
)
_COLOR_MATRIX = (
    COLOR_CORRELATION_SVD_SQRT / np.max(np.linalg.norm(COLOR_CORRELATION_SVD_SQRT, axis=0))
).T.astype(np.float32)
SPECTRUM_INIT_SD = 0.01  # Lucid's initial spectrum standard deviation
SPECTRUM_DECAY_POWER = 1.0  # amplitude scale 1 / frequency^decay
SPECTRUM_OUTPUT_SCALE = 0.25  # Lucid divides the image by 4
PIXEL_INIT_SD = 0.4  # pixel parametrisation: logits N(0, 0.4^2), i.e. grey +- about 0.1 after the sigmoid

# Random transforms (Lucid's standard_transforms, given relative to a 224-pixel input).
JITTER_FRACTION = 8 / 224  # translation up to this fraction of the side, each way
SCALE_RANGE = (0.9, 1.1)
ROTATION_DEGREES = 10.0
FILL_VALUE = 0.5  # grey padding that appears where the transform uncovers the border
WARP_INTERPOLATION = "BILINEAR"


def spectrum_frequencies(height: int, width: int) -> np.ndarray:
    """|frequency| of each coefficient of a real 2-D FFT of an image of that size, (h, w // 2 + 1)."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    return np.sqrt(fx * fx + fy * fy)


def spectrum_scale(height: int, width: int, decay_power: float = SPECTRUM_DECAY_POWER) -> np.ndarray:
    """Per-coefficient scale 1 / max(f, 1 / max(h, w))^decay, times sqrt(h w) (unitary inverse FFT)."""
    freqs = spectrum_frequencies(height, width)
    scale = 1.0 / np.maximum(freqs, 1.0 / max(height, width)) ** decay_power
    return (scale * math.sqrt(height * width)).astype(np.float32)


def initial_spectrum(rng: np.random.Generator, batch: int, height: int, width: int) -> np.ndarray:
    """Random start (batch, 2, 3, h, w // 2 + 1): real and imaginary parts, small."""
    shape = (batch, 2, 3, *spectrum_frequencies(height, width).shape)
    return (SPECTRUM_INIT_SD * rng.standard_normal(shape)).astype(np.float32)


def initial_pixels(rng: np.random.Generator, batch: int, height: int, width: int) -> np.ndarray:
    """Random start of the pixel parametrisation (Lucid's naive one): per-pixel logits, sigmoid to [0, 1]."""
    return (PIXEL_INIT_SD * rng.standard_normal((batch, height, width, 3))).astype(np.float32)


def decorrelate_colors(image: tf.Tensor) -> tf.Tensor:
    """Map decorrelated colour channels to RGB with Lucid's normalised colour-correlation matrix."""
    return tf.tensordot(image, tf.constant(_COLOR_MATRIX), axes=[[3], [0]])


def _half_spectrum_weights(height: int, width: int) -> np.ndarray:
    """w_l / (h w): how often each bin of a real FFT's half spectrum counts in the full one."""
    weight = np.full(width // 2 + 1, 2.0)
    weight[0] = 1.0
    if width % 2 == 0:
        weight[-1] = 1.0
    return (weight / (height * width)).astype(np.float32)


def inverse_rfft2d(spectrum: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """(b, 2, 3, h, w // 2 + 1) real/imaginary planes -> (b, h, w, 3), equal to ``tf.signal.irfft2d``.

    Its gradient is written out as one ``rfft2d``: y = sum_kl w_l/(hw) (a cos t - b sin t), so
    dy/da = w_l/(hw) Re rfft2d(g) and dy/db = w_l/(hw) Im rfft2d(g). TensorFlow's own gradient of
    irfft2d took 7 of the 9 ms forward and backward for 4 images of 224x224 (this one: 2 of 4 ms),
    and made an earlier version multiply DFT matrices instead for images up to 128 pixels.
    """
    weights = tf.constant(_half_spectrum_weights(height, width))

    @tf.custom_gradient
    def transform(planes: tf.Tensor) -> tuple[tf.Tensor, object]:
        image = tf.signal.irfft2d(tf.complex(planes[:, 0], planes[:, 1]), fft_length=[height, width])

        def gradient(upstream: tf.Tensor) -> tf.Tensor:
            spectrum_of_upstream = tf.signal.rfft2d(tf.transpose(upstream, [0, 3, 1, 2]))
            return tf.stack([tf.math.real(spectrum_of_upstream), tf.math.imag(spectrum_of_upstream)],
                            axis=1) * weights

        return tf.transpose(image, [0, 2, 3, 1]), gradient

    return transform(spectrum)


def fourier_image(spectrum: tf.Tensor, scale: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """Pixels in [0, 1] from a frequency-scaled spectrum, colour decorrelation and a sigmoid."""
    image = inverse_rfft2d(spectrum * scale, height, width) * SPECTRUM_OUTPUT_SCALE
    return tf.sigmoid(decorrelate_colors(image))


def random_transforms(
    seed: tf.Tensor,
    batch: tf.Tensor,
    height: int,
    width: int,
    jitter: float,
    scale_range: tuple[float, float],
    degrees: float,
) -> tf.Tensor:
    """(batch, 8) projective matrices: rotation and scale about the centre, then a translation.

    Each row maps an output pixel (x, y) to where it is read in the source image, the convention of
    ``ImageProjectiveTransformV3``. ``seed`` is a stateless seed (2,), so a run is reproducible.
    """
    seeds = tf.random.experimental.stateless_split(seed, 3)
    angle = tf.random.stateless_uniform([batch], seeds[0], -degrees, degrees) * (math.pi / 180)
    zoom = tf.random.stateless_uniform([batch], seeds[1], scale_range[0], scale_range[1])
    shift = tf.random.stateless_uniform([batch, 2], seeds[2], -jitter, jitter)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    cos, sin = tf.cos(angle) / zoom, tf.sin(angle) / zoom  # inverse map: rotate by -angle, scale 1/zoom
    a0, a1 = cos, sin
    b0, b1 = -sin, cos
    a2 = cx - a0 * cx - a1 * cy + shift[:, 0]
    b2 = cy - b0 * cx - b1 * cy + shift[:, 1]
    zeros = tf.zeros_like(angle)
    return tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)


def apply_transforms(images: tf.Tensor, transforms: tf.Tensor) -> tf.Tensor:
    """Warp each image by its matrix (bilinear, grey fill where the border is uncovered)."""
    height, width = images.shape[1], images.shape[2]
    size = tf.shape(images)[1:3] if height is None or width is None else tf.constant([height, width])
    warped = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=size,
        fill_value=FILL_VALUE,
        interpolation=WARP_INTERPOLATION,
        fill_mode="CONSTANT",
    )
    return tf.ensure_shape(warped, images.shape)


def gaussian_blur(images: tf.Tensor, sigma: float = 1.0) -> tf.Tensor:
    """A small separable Gaussian blur (for the blur penalty), same size, reflect-free (zero) border."""
    radius = max(1, round(2 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps = (taps / taps.sum()).astype(np.float32)
    kernel = np.zeros((len(taps), len(taps), 3, 1), np.float32)
    kernel[:, :, :, 0] = np.outer(taps, taps)[:, :, None]
    return tf.nn.depthwise_conv2d(images, tf.constant(kernel), [1, 1, 1, 1], "SAME")


def total_variation(images: tf.Tensor) -> tf.Tensor:
    """Mean absolute difference between neighbouring pixels, per image (Mahendran & Vedaldi 2015)."""
    dy = tf.abs(images[:, 1:] - images[:, :-1])
    dx = tf.abs(images[:, :, 1:] - images[:, :, :-1])
    return tf.reduce_mean(dy, axis=[1, 2, 3]) + tf.reduce_mean(dx, axis=[1, 2, 3])
