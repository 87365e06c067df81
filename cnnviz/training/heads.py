"""The classifier put on a backbone: global average pooling, dropout, Dense (logits).

The lectures' head (MobileNet without its top + GlobalAveragePooling2D + Dense) and the Keras
transfer-learning guide's. The whole model takes raw 0..255 RGB pixels (preprocessing layers first)
and outputs logits, as every cnnviz model does, so explanations, attacks and evaluation accept it.
A frozen backbone is called with ``training=False``: its batch-norm layers stay in inference mode,
even after they are unfrozen for fine-tuning (the guide's advice; their statistics would otherwise
be wrecked by small batches of a new task).
"""

from __future__ import annotations

import keras

from cnnviz.errors import UnknownLayerError
from cnnviz.training import preprocessing

DEFAULT_DROPOUT = 0.2
POOL_LAYER = "gap"
DROPOUT_LAYER = "dropout"
LOGITS_LAYER = "logits"


def classifier(backbone: keras.Model, *, family: str, num_classes: int, input_size: tuple[int, int],
               frozen: bool, dropout: float = DEFAULT_DROPOUT, name: str = "trained") -> keras.Model:
    """raw pixels -> preprocessing -> backbone -> GAP -> dropout -> Dense logits.

    ``frozen``: the backbone's weights are not trained and it runs in inference mode ("features",
    "head", "finetune"); otherwise it trains like any layer ("scratch").
    """
    inputs = keras.Input((*input_size, 3), dtype="float32", name="image")
    x = preprocessing.apply(preprocessing.preprocessing_layers(family), inputs)
    backbone.trainable = not frozen
    x = backbone(x, training=False) if frozen else backbone(x)
    x = keras.layers.GlobalAveragePooling2D(name=POOL_LAYER)(x)
    x = keras.layers.Dropout(dropout, name=DROPOUT_LAYER)(x)
    # On a frozen backbone, zeros: the untrained head says "every class equally likely" (loss ln k), as
    # logistic regression starts. From scratch, zeros would stop every gradient into the backbone at the
    # first steps (d logits / d features = the kernel), so the usual random start.
    initializer = "zeros" if frozen else "glorot_uniform"
    outputs = keras.layers.Dense(num_classes, kernel_initializer=initializer, name=LOGITS_LAYER)(x)
    return keras.Model(inputs, outputs, name=name)


def backbone_of(model: keras.Model) -> keras.Model:
    """The nested backbone of a model built by :func:`classifier`."""
    return next(layer for layer in model.layers if isinstance(layer, keras.Model))


def unfreeze_top(backbone: keras.Model, *, layers: int | None = None, above: str | None = None) -> list[str]:
    """Make the top ``layers`` weight-carrying layers of the backbone trainable (or every layer after
    ``above``); batch normalisation stays frozen. Returns the names of the unfrozen layers."""
    backbone.trainable = True
    candidates = [layer for layer in backbone.layers if layer.weights]
    if above is not None:
        names = [layer.name for layer in backbone.layers]
        start = names.index(check_layer_name(backbone, above)) + 1
        chosen = [layer for layer in backbone.layers[start:] if layer.weights]
    else:
        chosen = candidates[-layers:] if layers else []
    chosen_ids = {id(layer) for layer in chosen}
    unfrozen = []
    for layer in backbone.layers:
        trainable = id(layer) in chosen_ids and not isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = trainable
        if trainable:
            unfrozen.append(layer.name)
    return unfrozen


def check_layer_name(model: keras.Model, name: str) -> str:
    """``name`` if the model has a top-level layer of that name, else a typed error listing some."""
    names = [layer.name for layer in model.layers]
    if name not in names:
        raise UnknownLayerError(f"The backbone has no layer called {name!r} to fine-tune above; its "
                                f"last layers: {', '.join(names[-12:])}.")
    return name
