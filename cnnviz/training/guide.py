"""The lectures' transfer-learning strategy table, as a suggestion from the dataset's size.

                 similar to ImageNet                    very different from ImageNet
  little data    features of a top layer + a simple      trouble: features from earlier stages
                 classifier ("features")                 + a classifier ("features" at an earlier cut)
  lots of data   fine-tune a few layers ("finetune")     fine-tune many layers ("finetune", more layers)

(Lecture 3, after Razavian et al. 2014 and Yosinski et al. 2014; "first retrain only the fully
connected layer, only then add convolutional layers for fine-tuning".) In between, a trained head
with augmentation ("head") is the usual step.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Images per class below which a dataset counts as "little data" / above which as "lots of data".
LITTLE_DATA_PER_CLASS = 50
LOTS_OF_DATA_PER_CLASS = 500


@dataclass(frozen=True)
class Suggestion:
    strategy: str
    reason: str


TABLE: tuple[tuple[str, str, str], ...] = (
    ("little data", "features of a top layer + a simple classifier (features)",
     "features from earlier layers + a classifier (features, cut earlier)"),
    ("some data", "train a new head with augmentation (head)", "train a new head with augmentation (head)"),
    ("lots of data", "fine-tune a few top layers (finetune)", "fine-tune many layers (finetune, more layers)"),
)
COLUMNS = ("", "similar to ImageNet", "very different from ImageNet")


def suggest(images_per_class: float, similar: bool = True) -> Suggestion:
    """The strategy the table suggests for a dataset of this size (smallest class)."""
    if images_per_class < LITTLE_DATA_PER_CLASS:
        where = "at the default cut" if similar else "cut at an earlier layer (more generic features)"
        return Suggestion("features", f"little data ({images_per_class:.0f} images per class): "
                                      f"frozen features and a linear classifier, {where}.")
    if images_per_class < LOTS_OF_DATA_PER_CLASS:
        return Suggestion("head", f"some data ({images_per_class:.0f} images per class): a new head "
                                  "on the frozen backbone, with augmentation against overfitting.")
    layers = "a few top layers" if similar else "many layers"
    return Suggestion("finetune", f"lots of data ({images_per_class:.0f} images per class): train "
                                  f"the head, then fine-tune {layers} at a lower learning rate.")
