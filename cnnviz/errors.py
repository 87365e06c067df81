"""Typed errors of cnnviz.

Every error a user can cause derives from :class:`CnnvizError`; its message says what went wrong
and what to do about it, so front ends (the app, the CLI) can show ``str(error)`` as it is.
"""

from __future__ import annotations


class CnnvizError(Exception):
    """Base class of every error cnnviz raises on purpose; the message is meant for the user."""


# --- images -------------------------------------------------------------------------------------
class ImageError(CnnvizError, ValueError):
    """The image could not be used."""


class EmptyImageError(ImageError):
    """The file or upload holds zero bytes."""


class NotAnImageError(ImageError):
    """The bytes are not an image in a format cnnviz reads."""


class TruncatedImageError(ImageError):
    """The image file ends early or is damaged."""


class ImageTooLargeError(ImageError):
    """The image has more pixels than the configured limit (decompression-bomb guard)."""


class ImageSizeError(ImageError):
    """The image is too small or has an absurd aspect ratio (for example 1x1 or 1x10000)."""


# --- models -------------------------------------------------------------------------------------
class ModelError(CnnvizError):
    """A model could not be loaded or used."""


class UnknownModelError(ModelError, KeyError):
    """No model of that name is registered."""

    def __str__(self) -> str:  # KeyError would add quotes around the message
        return str(self.args[0]) if self.args else ""


class WeightsDownloadError(ModelError):
    """Pretrained weights could not be downloaded or the cached file is unusable."""


class ModelFileError(ModelError):
    """A user's model file could not be loaded (wrong format, unsafe layers, damaged)."""


class NotAnImageModelError(ModelError):
    """The model does not take a 4-D image batch (batch, height, width, channels)."""


class LabelsFileError(ModelError):
    """A labels file does not match the model's outputs."""


# --- layers and parameters ----------------------------------------------------------------------
class LayerError(CnnvizError, ValueError):
    """A layer name is unknown or the layer cannot be used for this purpose."""


class UnknownLayerError(LayerError, KeyError):
    """No layer of that name exists in the model; the message lists valid names."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class LayerNotSpatialError(LayerError):
    """The layer has no spatial (batch, height, width, channels) output."""


class LayerWithoutKernelError(LayerError):
    """The layer has no convolution kernel to show (pooling, activation, dense, normalisation)."""


class ParameterError(CnnvizError, ValueError):
    """A parameter is out of its valid range or impossible for this input."""


class ClassIndexError(ParameterError):
    """A class index or label does not exist in the model's classes."""


class MethodNotApplicableError(CnnvizError, ValueError):
    """The method cannot be applied to this model (for example CAM without a GAP + Dense head)."""


class CancelledError(CnnvizError):
    """A long computation was cancelled by its progress callback."""


# --- datasets -----------------------------------------------------------------------------------
class DatasetError(CnnvizError, ValueError):
    """A dataset (folder, zip archive, generated set) cannot be used as given."""


class EmptyDatasetError(DatasetError):
    """The dataset holds no usable image (or the chosen split is empty)."""


class DatasetLayoutError(DatasetError):
    """The folder layout is not one subfolder per class (for example a single class)."""


class UnsafeArchiveError(DatasetError):
    """A zip archive has entries that would escape their folder (absolute paths, '..')."""


class ArchiveTooLargeError(DatasetError):
    """A zip archive declares more entries or more uncompressed bytes than the limits allow."""


class ClassMismatchError(DatasetError):
    """The dataset's class names do not match the model's; the message names them and the fix."""


# --- training -------------------------------------------------------------------------------------
class TrainingError(CnnvizError, ValueError):
    """A model cannot be trained on this dataset with these settings."""


class TooFewImagesError(TrainingError, DatasetError):
    """A class has too few images in the training or validation split."""
