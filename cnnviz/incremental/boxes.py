"""Receptive-field box propagation (Krypton: Nakandala, Kumar and Papakonstantinou, SIGMOD 2019).

A changed input patch changes, in every layer, only the outputs whose window reads a changed input:
an interval per spatial axis that grows with the kernel (and dilation), shrinks with the stride and
moves with the padding. Rows and columns are independent, so each axis is an :class:`Axis`: the exact
changed interval ``[lo, hi)`` for *every* possible patch start along that axis (NumPy arrays indexed
by the patch's start in the image). A batch of patches of one size then shares one static box size
per layer (the largest interval over all starts), and each patch's box start is a table look-up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Axis:
    """Changed outputs ``[lo[t], hi[t])`` along one axis of a map of ``length``, for each patch start t."""

    lo: np.ndarray
    hi: np.ndarray
    length: int

    @property
    def size(self) -> int:
        """The static box side: the largest changed interval (at least 1, at most the map)."""
        return int(min(self.length, max(1, int((self.hi - self.lo).max()))))

    @property
    def starts(self) -> np.ndarray:
        """Box start per patch start: the changed interval's start, moved in so the box fits the map."""
        return np.clip(np.minimum(self.lo, self.length - self.size), 0, None).astype(np.int32)

    @property
    def full(self) -> bool:
        return self.size == self.length


@dataclass(frozen=True)
class Window:
    """A sliding window along one axis: kernel, stride, dilation and the padding before the map."""

    kernel: int
    stride: int
    dilation: int
    pad_before: int

    @property
    def span(self) -> int:
        """Input positions one window covers, from its first tap to its last."""
        return (self.kernel - 1) * self.dilation + 1


def window(kernel: int, stride: int, dilation: int, padding: str, length_in: int) -> Window:
    """The window of a Keras layer with 'valid' or 'same' padding (TensorFlow's split: less before)."""
    span = (kernel - 1) * dilation + 1
    if padding == "same":
        length_out = -(-length_in // stride)
        total = max((length_out - 1) * stride + span - length_in, 0)
        return Window(kernel, stride, dilation, total // 2)
    return Window(kernel, stride, dilation, 0)


def input_axis(length: int, patch: int) -> Axis:
    """The model input: a patch of ``patch`` pixels at every start 0 .. length - patch."""
    lo = np.arange(length - patch + 1)
    return Axis(lo, lo + patch, length)


def through_window(axis: Axis, win: Window, length_out: int) -> Axis:
    """Outputs o whose taps o*stride - pad + j*dilation (0 <= j < kernel) meet the changed inputs."""
    lo = -((-(axis.lo + win.pad_before - (win.span - 1))) // win.stride)  # ceil division
    hi = (axis.hi - 1 + win.pad_before) // win.stride + 1
    lo, hi = np.clip(lo, 0, length_out), np.clip(hi, 0, length_out)
    return Axis(lo, np.maximum(hi, lo), length_out)


def shifted(axis: Axis, offset: int, length_out: int) -> Axis:
    """Padding (offset > 0) or cropping (offset < 0): the interval moves, clipped to the new map."""
    lo, hi = np.clip(axis.lo + offset, 0, length_out), np.clip(axis.hi + offset, 0, length_out)
    return Axis(lo, np.maximum(hi, lo), length_out)


def union(axes: list[Axis]) -> Axis:
    """A merge (add, multiply, concatenate) changes where any input changed."""
    return Axis(np.min([a.lo for a in axes], axis=0), np.max([a.hi for a in axes], axis=0),
                axes[0].length)


def region(axis: Axis, win: Window) -> tuple[np.ndarray, int]:
    """Per patch start, where the box's input region starts in the *padded* input, and its size."""
    return (axis.starts * win.stride).astype(np.int32), (axis.size - 1) * win.stride + win.span


def capped(axis: Axis, threshold: float) -> Axis:
    """Krypton's approximate mode (projective-field thresholding): an interval longer than
    ``threshold`` of the map is cut to that share around its centre; changes outside it are dropped.
    ``threshold`` >= 1 keeps the exact interval."""
    if threshold >= 1.0:
        return axis
    side = max(1, int(np.ceil(threshold * axis.length)))
    long = (axis.hi - axis.lo) > side
    lo = np.where(long, np.clip((axis.lo + axis.hi - side) // 2, 0, axis.length - side), axis.lo)
    return Axis(lo, np.where(long, lo + side, axis.hi), axis.length)
