"""Filter activation statistics (Satizabal 2016; lecture 1, "Visualization tools (4)"): for one class
and one layer, over all the class's images, which channel is most often the most active at each
position of the layer's grid.

The map of winning channels shows which filters a class leans on, and where: on digits, one filter
wins the strokes of a "1", another the loop of a "0". Each winning channel is listed with how many
positions it wins, so a front end can link it to its activation-maximisation image and its top
activating examples (the Maximize page's views, ``cnnviz.maximize`` / ``cnnviz.inside.top_activating``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from cnnviz.progress import ProgressCallback, report

DEFAULT_BATCH_SIZE = 32


@dataclass(frozen=True)
class WinningChannel:
    """A channel that is the most frequent winner somewhere: where and how clearly it wins."""

    channel: int
    positions: int  # grid cells where it is the most frequent winner
    share: float  # mean, over those cells, of the share of images in which it won there


@dataclass(frozen=True)
class FilterStatistics:
    """Counts (h, w, channels) of how often each channel was the most active one at each position."""

    class_name: str
    layer: str
    images: int
    counts: np.ndarray  # int32 (h, w, channels)
    seconds: float

    @property
    def winners(self) -> np.ndarray:
        """(h, w) the channel most often the most active at each position."""
        return np.argmax(self.counts, axis=-1)

    @property
    def share(self) -> np.ndarray:
        """(h, w) in how many of the images (0..1) the winner won there: how clear the vote is."""
        return self.counts.max(axis=-1) / max(self.images, 1)

    def channels(self) -> tuple[WinningChannel, ...]:
        """The winning channels, the one winning most positions first."""
        winners, share = self.winners, self.share
        found = [WinningChannel(int(c), int((winners == c).sum()), float(share[winners == c].mean()))
                 for c in np.unique(winners)]
        return tuple(sorted(found, key=lambda w: (-w.positions, -w.share, w.channel)))

    def to_json(self) -> dict[str, Any]:
        return {"class": self.class_name, "layer": self.layer, "images": self.images,
                "grid": list(self.counts.shape[:2]),
                "channels": [{"channel": w.channel, "positions": w.positions, "share": round(w.share, 4)}
                             for w in self.channels()]}


def filter_statistics(loaded_model: Any, dataset: Any, class_name: str, layer: str | None = None, *,
                      split: str = "all", batch_size: int = DEFAULT_BATCH_SIZE,
                      progress: ProgressCallback | None = None) -> FilterStatistics:
    """Per position of ``layer`` (default: the last convolutional one), how often each channel is the
    most active one over the images of ``class_name`` in ``split``. Streams the images in batches."""
    import tensorflow as tf

    from cnnviz.audit.spectral import check_enough
    from cnnviz.audit.spray import class_images, more_images_hint
    from cnnviz.inside.access import activation_function, check_layer, default_layer

    started = time.perf_counter()
    indices = class_images(dataset, class_name, split)
    check_enough(len(indices), f"Class {class_name!r} ({split} images)", more_images_hint(split))
    layer = check_layer(loaded_model, layer or default_layer(loaded_model))
    forward = activation_function(loaded_model, [layer])
    counts: np.ndarray | None = None
    done = 0
    for batch_indices, images in dataset.batches(indices, loaded_model.input_size, batch_size=batch_size):
        with loaded_model.lock:
            (activations,), _ = forward(loaded_model.preprocess(tf.constant(images, tf.float32)))
        values = np.asarray(activations)
        if values.ndim != 4:
            from cnnviz.errors import LayerNotSpatialError

            raise LayerNotSpatialError(f"Layer {layer} has no (height, width, channels) output to count "
                                       "winners on; choose a convolutional layer.")
        if counts is None:
            counts = np.zeros(values.shape[1:], np.int32)
        winners = np.argmax(values, axis=-1)  # (n, h, w)
        channels = counts.shape[-1]
        rows, cols = np.indices(winners.shape[1:])
        flat = (rows * counts.shape[1] + cols)[None] * channels + winners
        counts += np.bincount(flat.ravel(), minlength=counts.size).reshape(counts.shape).astype(np.int32)
        done += len(batch_indices)
        report(progress, done, len(indices), stage="activations")
    name = dataset.class_names[int(dataset.labels(indices[:1])[0])]
    return FilterStatistics(name, layer, len(indices), counts, time.perf_counter() - started)


__all__ = ["filter_statistics", "FilterStatistics", "WinningChannel"]
