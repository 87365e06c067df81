"""tf.data pipelines from a cnnviz Dataset, at the model's input size.

Images are read with ``Dataset.batches`` (decoded lazily, resized with cnnviz.images.prepare_image).
A split small enough (``IN_MEMORY_LIMIT_BYTES`` at the model size) is decoded once and kept as uint8,
so later epochs cost no decoding; a larger one is decoded again, batch by batch, every epoch, so
memory stays bounded whatever the dataset's size. Shuffling is seeded (a new order each epoch, the
same orders for the same seed); augmentation runs in ``dataset.map`` on whole batches, in order, so
its random draws are reproducible too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from cnnviz.progress import ProgressCallback

IN_MEMORY_LIMIT_BYTES = 512 * 2**20
DECODE_BATCH = 64


def decode(dataset: Any, indices: np.ndarray, size: tuple[int, int], *, fit: str = "crop",
           progress: ProgressCallback | None = None) -> np.ndarray:
    """The images at ``indices`` resized to ``size``, as one uint8 array (n, h, w, 3)."""
    images = np.empty((len(indices), *size, 3), np.uint8)
    done = 0
    for _, batch in dataset.batches(indices, size, batch_size=DECODE_BATCH, fit=fit, progress=progress):
        images[done:done + len(batch)] = batch
        done += len(batch)
    return images


def fits_in_memory(count: int, size: tuple[int, int]) -> bool:
    return count * size[0] * size[1] * 3 <= IN_MEMORY_LIMIT_BYTES


def batches(dataset: Any, indices: np.ndarray, size: tuple[int, int], batch_size: int, *,
            shuffle_seed: int | None = None, augment: Callable[[Any], Any] | None = None,
            fit: str = "crop", images: np.ndarray | None = None,
            drop_remainder: bool = False) -> tf.data.Dataset:
    """Batches of (float32 raw pixels 0..255, int32 labels) for ``fit``/``evaluate``.

    ``images``: the split already decoded (see :func:`decode`); otherwise it is decoded in memory
    when it fits, else streamed from the dataset every epoch. ``drop_remainder``: every batch full
    (training: one traced step instead of two; the shuffle leaves out other images each epoch).
    """
    indices = np.asarray(indices)
    labels = np.asarray(dataset.labels(indices), np.int32)
    if images is None and fits_in_memory(len(indices), size):
        images = decode(dataset, indices, size, fit=fit)
    if images is not None:
        data = tf.data.Dataset.from_tensor_slices((images, labels))
        if shuffle_seed is not None:
            data = data.shuffle(len(indices), seed=shuffle_seed, reshuffle_each_iteration=True)
        data = data.batch(batch_size, drop_remainder=drop_remainder)
    else:
        data = _streamed(dataset, indices, labels, size, batch_size, shuffle_seed, fit)
        if drop_remainder:
            data = data.filter(lambda x, y: tf.shape(x)[0] == batch_size)

    def to_float(x: Any, y: Any) -> tuple[Any, Any]:
        x = tf.cast(x, tf.float32)
        return (augment(x) if augment is not None else x), y

    return data.map(to_float).prefetch(2)


def _streamed(dataset: Any, indices: np.ndarray, labels: np.ndarray, size: tuple[int, int],
              batch_size: int, shuffle_seed: int | None, fit: str) -> tf.data.Dataset:
    """Batches decoded from the dataset on the fly; a new seeded order every epoch."""
    epochs = [0]
    position = {int(index): label for index, label in zip(indices, labels)}

    def generate() -> Any:
        order = indices
        if shuffle_seed is not None:
            order = np.random.default_rng((shuffle_seed, epochs[0])).permutation(indices)
        epochs[0] += 1
        for chunk, images in dataset.batches(order, size, batch_size=batch_size, fit=fit):
            yield images, np.array([position[int(i)] for i in chunk], np.int32)

    signature = (tf.TensorSpec((None, *size, 3), tf.uint8), tf.TensorSpec((None,), tf.int32))
    return tf.data.Dataset.from_generator(generate, output_signature=signature)
