"""Top activating examples: the images, and the image patches, that excite one channel the most.

Following Girshick et al. (2014, "Rich feature hierarchies", the top regions of pool5 units) and
Zeiler & Fergus (2014): run a set of images through the network, score each image by the channel's
strongest activation, and show the receptive field of that unit, computed from the graph (jump,
start and size of the layer, :mod:`.architecture`), cut out of the image.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnviz.errors import LayerNotSpatialError, ParameterError
from cnnviz.inside.access import activation_function, check_layer
from cnnviz.inside.architecture import Geometry, receptive_field
from cnnviz.inside.architecture import layers as layer_table
from cnnviz.models import LoadedModel
from cnnviz.prediction import DEFAULT_BATCH_SIZE, model_input
from cnnviz.progress import ProgressCallback, report

DEFAULT_TOP = 9
DEFAULT_DEMO_IMAGES = 64
MAX_IMAGES = 2000
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


@dataclass(frozen=True)
class TopExample:
    """One of the most activating images: where the channel peaked and the patch it saw there."""

    index: int  # position in the image set
    score: float  # the channel's maximum activation in this image
    position: tuple[int, int]  # (row, column) of the peak in the activation map
    box: tuple[
        int, int, int, int
    ]  # receptive field (top, left, bottom, right), inclusive, clipped to the image
    image: np.ndarray  # the model input (h, w, 3) uint8
    patch: np.ndarray  # image[top:bottom + 1, left:right + 1]
    activation: np.ndarray  # the channel's map for this image (h', w')


@dataclass(frozen=True)
class TopExamples:
    """The ``top`` images of a set that most activate ``channel`` of ``layer``, best first."""

    layer: str
    channel: int
    examples: tuple[TopExample, ...]
    scores: np.ndarray  # (n,) maximum activation of every image in the set
    geometry: Geometry
    seconds: float


def demo_images(count: int = DEFAULT_DEMO_IMAGES, seed: int | None = None) -> list[np.ndarray]:
    """Generated shapes images (cnnviz.demo.shapes) as a ready-made image set, held out from training."""
    from cnnviz.demo.shapes import TEST_SEED, generate_dataset

    images, _, _ = generate_dataset(count, seed=TEST_SEED if seed is None else seed)
    return list(images)


def folder_images(
    folder: str | Path, max_images: int = MAX_IMAGES
) -> tuple[list[np.ndarray], list[str], list[str]]:
    """The readable images of a folder (sorted by name, at most ``max_images``), their file names,
    and the names of the image files skipped (unreadable, or over the limit)."""
    from cnnviz.errors import CnnvizError
    from cnnviz.images import load_image

    path = Path(folder)
    if not path.is_dir():
        raise ParameterError(f"{path} is not a folder; give a folder of images.")
    images, names, skipped = [], [], []
    for file in sorted(p for p in path.iterdir() if p.is_file()):
        if file.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if len(images) == max_images:
            skipped.append(file.name)
            continue
        try:
            images.append(load_image(file))
        except CnnvizError:
            skipped.append(file.name)
            continue
        names.append(file.name)
    if not images:
        raise ParameterError(f"No readable image in {path} ({', '.join(IMAGE_SUFFIXES)}).")
    return images, names, skipped


def _box(geometry: Geometry, position: tuple[int, int], size: tuple[int, int]) -> tuple[int, int, int, int]:
    top, left, bottom, right = geometry.field(*position)
    height, width = size
    return (
        int(max(0, np.floor(top))),
        int(max(0, np.floor(left))),
        int(min(height - 1, np.ceil(bottom))),
        int(min(width - 1, np.ceil(right))),
    )


def top_activating(
    loaded_model: LoadedModel,
    images: Sequence[np.ndarray],
    layer: str,
    channel: int,
    top: int = DEFAULT_TOP,
    fit: str = "crop",
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
) -> TopExamples:
    """Score every image by the channel's peak activation; return the ``top`` ones with their patches."""
    import tensorflow as tf

    started = time.perf_counter()
    layer = check_layer(loaded_model, layer)
    row = layer_table(loaded_model).row(layer)
    if not row.spatial or row.geometry is None:
        raise LayerNotSpatialError(
            f"Layer {layer!r} ({row.type}) has no spatial output, so its units have no image patch; "
            "choose a convolution, pooling or activation layer."
        )
    channels = int(row.output_shape[-1] or 0)
    if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)) or not 0 <= channel < channels:
        raise ParameterError(
            f"Channel {channel!r} is out of range: layer {layer!r} has channels 0 to {channels - 1}."
        )
    if not 1 <= len(images) <= MAX_IMAGES:
        raise ParameterError(f"Give between 1 and {MAX_IMAGES} images (got {len(images)}).")
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ParameterError(f"top must be a positive whole number, not {top!r}.")
    if batch_size < 1:
        raise ParameterError(f"batch_size must be at least 1, not {batch_size}.")
    geometry = receptive_field(loaded_model, layer)
    pixels = np.stack([model_input(loaded_model, image, fit) for image in images])
    function = activation_function(loaded_model, [layer])
    maps = []
    for start in range(0, len(pixels), batch_size):
        batch = loaded_model.preprocess(tf.constant(pixels[start : start + batch_size], tf.float32))
        with loaded_model.lock:
            activations, _ = function(batch)
        maps.append(np.asarray(activations[0])[..., int(channel)])
        report(progress, min(start + batch_size, len(pixels)), len(pixels))
    channel_maps = np.concatenate(maps)
    scores = channel_maps.reshape(len(channel_maps), -1).max(axis=1)
    examples = []
    for index in np.argsort(-scores, kind="stable")[:top]:
        flat = int(np.argmax(channel_maps[index]))
        position = np.unravel_index(flat, channel_maps[index].shape)
        position = (int(position[0]), int(position[1]))
        box = _box(geometry, position, loaded_model.input_size)
        patch = pixels[index, box[0] : box[2] + 1, box[1] : box[3] + 1]
        examples.append(
            TopExample(
                int(index), float(scores[index]), position, box, pixels[index], patch, channel_maps[index]
            )
        )
    return TopExamples(layer, int(channel), tuple(examples), scores, geometry, time.perf_counter() - started)
