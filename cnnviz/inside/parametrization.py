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


def spectrum_shape(height: int, width: int) -> tuple[int, int, int, int]:
    """Shape of one image's spectrum: (colour, frequency row, frequency column, real/imaginary)."""
    return (3, height, width // 2 + 1, 2)


def initial_spectrum(rng: np.random.Generator, batch: int, height: int, width: int) -> np.ndarray:
    """Random start (batch, *spectrum_shape): real and imaginary parts, small."""
    # drawn real parts first, then imaginary ones, so that a seed starts from the same image as ever
    drawn = SPECTRUM_INIT_SD * rng.standard_normal((batch, 2, 3, *spectrum_frequencies(height, width).shape))
    return np.ascontiguousarray(np.moveaxis(drawn, 1, -1), dtype=np.float32)


def initial_pixels(rng: np.random.Generator, batch: int, height: int, width: int) -> np.ndarray:
    """Random start of the pixel parametrisation (Lucid's naive one): per-pixel logits, sigmoid to [0, 1]."""
    return (PIXEL_INIT_SD * rng.standard_normal((batch, height, width, 3))).astype(np.float32)


def decorrelate_colors(values: tf.Tensor, axis: int = -1, matrix: np.ndarray = _COLOR_MATRIX) -> tf.Tensor:
    """Map decorrelated colour channels (on ``axis``) to RGB with Lucid's normalised colour matrix.

    Linear and the same at every pixel, so it applies as well to a spectrum (axis 1); written as
    three sums of three products, which XLA fuses with its neighbours. ``matrix.T`` is the adjoint.
    """
    channels = tf.unstack(values, 3, axis=axis)
    mixed = [sum(float(matrix[c, d]) * channels[c] for c in range(3)) for d in range(3)]
    return tf.stack(mixed, axis=axis)


def _half_spectrum_weights(height: int, width: int) -> np.ndarray:
    """w_l / (h w): how often each bin of a real FFT's half spectrum counts in the full one."""
    weight = np.full(width // 2 + 1, 2.0)
    weight[0] = 1.0
    if width % 2 == 0:
        weight[-1] = 1.0
    return (weight / (height * width)).astype(np.float32)


def _irfft2d_of_pairs(pairs: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """(..., h, w // 2 + 1, 2) real and imaginary parts, read as complex numbers in place -> (..., h, w)."""
    return tf.signal.irfft2d(tf.bitcast(pairs, tf.complex64), fft_length=[height, width])


def _rfft2d_as_pairs(planes: tf.Tensor) -> tf.Tensor:
    """(..., h, w) -> (..., h, w // 2 + 1, 2) real and imaginary parts of the real 2-D FFT."""
    return tf.bitcast(tf.signal.rfft2d(planes), tf.float32)


def inverse_rfft2d(spectrum: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """(b, c, h, w // 2 + 1, 2) real and imaginary parts -> (b, c, h, w), ``tf.signal.irfft2d``.

    The gradient is written out as one ``rfft2d``: y = sum_kl w_l/(hw) (a cos t - b sin t), so
    dy/da = w_l/(hw) Re rfft2d(g) and dy/db = w_l/(hw) Im rfft2d(g). TensorFlow's own gradient of
    irfft2d took 7 of the 9 ms forward and backward for 4 images of 224x224 (this one: 2 of 4 ms).
    """
    weights = tf.constant(_half_spectrum_weights(height, width)[:, None])

    @tf.custom_gradient
    def transform(pairs: tf.Tensor) -> tuple[tf.Tensor, object]:
        def gradient(upstream: tf.Tensor) -> tf.Tensor:
            return _rfft2d_as_pairs(upstream) * weights

        return _irfft2d_of_pairs(pairs, height, width), gradient

    return transform(spectrum)


# The steps of fourier_image around the two FFTs, each compiled by XLA into one loop: as separate
# TensorFlow ops they cost 2.2 ms forward and backward for 8 images of 64x64 here, fused 0.9 ms.
@tf.function(jit_compile=True)
def _scale_and_mix(pairs: tf.Tensor, scale: tf.Tensor) -> tf.Tensor:
    return decorrelate_colors(pairs * scale, axis=1)


@tf.function(jit_compile=True)
def _planes_to_pixels(planes: tf.Tensor) -> tf.Tensor:
    return tf.sigmoid(tf.transpose(planes, [0, 2, 3, 1]))


@tf.function(jit_compile=True)
def _pixel_gradient_to_planes(upstream: tf.Tensor, images: tf.Tensor) -> tf.Tensor:
    return tf.transpose(upstream * images * (1 - images), [0, 3, 1, 2])  # through the sigmoid


@tf.function(jit_compile=True)
def _spectrum_gradient(pairs: tf.Tensor, scale: tf.Tensor) -> tf.Tensor:
    return decorrelate_colors(pairs, axis=1, matrix=_COLOR_MATRIX.T) * scale


def fourier_image(spectrum: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """Pixels (b, h, w, 3) in [0, 1] from a spectrum (b, *spectrum_shape): frequency scaling, colour
    decorrelation, inverse FFT, sigmoid.

    The colours are mixed on the spectrum (the same linear map as on pixels), so the planes come
    out of the inverse FFT colour-first and need one transpose. The gradient is written out: the
    sigmoid's, the transpose's, one ``rfft2d`` (see :func:`inverse_rfft2d`), the mixing's adjoint.
    """
    scale = spectrum_scale(height, width)[:, :, None] * SPECTRUM_OUTPUT_SCALE
    forward_scale = tf.constant(scale)
    backward_scale = tf.constant(scale * _half_spectrum_weights(height, width)[:, None])

    @tf.custom_gradient
    def render(pairs: tf.Tensor) -> tuple[tf.Tensor, object]:
        images = _planes_to_pixels(_irfft2d_of_pairs(_scale_and_mix(pairs, forward_scale), height, width))

        def gradient(upstream: tf.Tensor) -> tf.Tensor:
            planes = _pixel_gradient_to_planes(upstream, images)
            return _spectrum_gradient(_rfft2d_as_pairs(planes), backward_scale)

        return images, gradient

    return render(spectrum)


def plain_fourier_image(spectrum: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """What :func:`fourier_image` computes, written plainly and left to TensorFlow to differentiate:
    the reference the fused version is tested and measured against."""
    scale = spectrum_scale(height, width) * SPECTRUM_OUTPUT_SCALE
    spectrum = tf.complex(spectrum[..., 0], spectrum[..., 1]) * scale
    planes = tf.signal.irfft2d(spectrum, fft_length=[height, width])
    pixels = tf.transpose(planes, [0, 2, 3, 1])
    return tf.sigmoid(tf.tensordot(pixels, tf.constant(_COLOR_MATRIX), axes=[[3], [0]]))


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


def _affine_inverse(transforms: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The inverse of each affine matrix (batch, 8), and the determinant of each original."""
    a0, a1, a2, b0, b1, b2 = (transforms[:, i] for i in range(6))
    det = a0 * b1 - a1 * b0
    i0, i1, i3, i4 = b1 / det, -a1 / det, -b0 / det, a0 / det
    zeros = tf.zeros_like(det)
    inverse = tf.stack([i0, i1, -(i0 * a2 + i1 * b2), i3, i4, -(i3 * a2 + i4 * b2), zeros, zeros], axis=1)
    return inverse, det


def _bilinear_sample(images: tf.Tensor, transforms: tf.Tensor, fill: float) -> tf.Tensor:
    """Output pixel (x, y) reads the source at (a0 x + a1 y + a2, b0 x + b1 y + b2), bilinearly.

    The same result as ``ImageProjectiveTransformV3`` with bilinear interpolation and a constant
    fill (tested to 1e-4), written as four gathers from the image with a one-pixel border of
    ``fill`` so that XLA fuses it into a single loop: 3x faster than that op here.
    """
    height, width, channels = images.shape[1], images.shape[2], images.shape[3]
    ys, xs = tf.meshgrid(tf.range(height, dtype=tf.float32), tf.range(width, dtype=tf.float32), indexing="ij")
    t = transforms[:, :, None, None]
    # +1: coordinates in the bordered image; clipped ones read the border, i.e. the fill value
    source_x = tf.clip_by_value(t[:, 0] * xs + t[:, 1] * ys + t[:, 2] + 1.0, 0.0, width + 1.0)
    source_y = tf.clip_by_value(t[:, 3] * xs + t[:, 4] * ys + t[:, 5] + 1.0, 0.0, height + 1.0)
    x0 = tf.minimum(tf.floor(source_x), width)
    y0 = tf.minimum(tf.floor(source_y), height)
    fx = (source_x - x0)[..., None]
    fy = (source_y - y0)[..., None]
    row = width + 2
    bordered = tf.reshape(tf.pad(images - fill, [[0, 0], [1, 1], [1, 1], [0, 0]]), [-1, channels])
    first = tf.range(tf.shape(images)[0])[:, None, None] * ((height + 2) * row)
    corner = first + tf.cast(y0, tf.int32) * row + tf.cast(x0, tf.int32)
    top = tf.gather(bordered, corner) * (1 - fx) + tf.gather(bordered, corner + 1) * fx
    bottom = tf.gather(bordered, corner + row) * (1 - fx) + tf.gather(bordered, corner + row + 1) * fx
    return top * (1 - fy) + bottom * fy + fill


@tf.function(jit_compile=True)
def _warp_forward(images: tf.Tensor, transforms: tf.Tensor) -> tf.Tensor:
    return _bilinear_sample(images, transforms, FILL_VALUE)


@tf.function(jit_compile=True)
def _warp_adjoint(upstream: tf.Tensor, transforms: tf.Tensor) -> tf.Tensor:
    """The warp's gradient: the upstream gradient warped back by the inverse map, times |det|^-1.

    That is the adjoint of the continuous warp (what TensorFlow's own gradient of the op does, but
    for the area factor). Exact autodiff of the gathers would scatter, 3x slower; on smooth
    upstream gradients this one correlates 0.9999 with it (tested).
    """
    inverse, det = _affine_inverse(transforms)
    return _bilinear_sample(upstream, inverse, 0.0) / tf.abs(det)[:, None, None, None]


@tf.custom_gradient
def apply_transforms(images: tf.Tensor, transforms: tf.Tensor) -> tuple[tf.Tensor, object]:
    """Warp each image by its matrix (bilinear, grey fill where the border is uncovered)."""

    def gradient(upstream: tf.Tensor) -> tuple[tf.Tensor, None]:
        return _warp_adjoint(upstream, transforms), None

    return _warp_forward(images, transforms), gradient


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
