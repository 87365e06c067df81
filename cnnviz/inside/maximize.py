"""Activation maximisation: an image that makes a chosen channel, or a class score, as large as possible.

Erhan, Bengio, Courville & Vincent (2009) ascend the gradient of a unit with respect to the input
pixels. Plain pixel-space ascent ("pixel") finds high-frequency patterns; the Feature Visualization
recipe of Olah, Mordvintsev & Schubert (2017) ("fourier", the default) optimises a frequency-scaled
Fourier spectrum with Lucid's colour decorrelation and a sigmoid (see :mod:`.parametrization`), then
the model's own preprocessing, with random padding/jitter/scale/rotation at every step, using Adam
at 0.05. The objective is a channel's mean activation without a thin border (padding artefacts live
there) or a class logit (the score before softmax: maximising a probability can be done by lowering
the other classes). A channel of a ReLU layer (or of a pooling layer after one) is optimised before the
ReLU, as Lucid does, so that it has a gradient even where it is still zero; its gain is measured
on the layer asked for. Optional penalties: L1, L2, total variation, blur, and Lucid's diversity
term (pairwise Gram-matrix similarity inside a group of images of the same target). Several targets
are optimised in one batch; ``progress`` is called every few steps and can cancel.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf

from cnnviz.errors import ParameterError
from cnnviz.inside import parametrization as param
from cnnviz.inside.access import activation_function, default_layer
from cnnviz.inside.architecture import layer_row
from cnnviz.inside.architecture import layers as layer_table
from cnnviz.models import LoadedModel
from cnnviz.precision import batched_model, check_precision
from cnnviz.progress import ProgressCallback, report

METHODS = ("fourier", "pixel")
DEFAULT_STEPS = 256
MAX_STEPS = 10_000
DEFAULT_LEARNING_RATE = 0.05  # Lucid's Adam learning rate
MAX_LEARNING_RATE = 10.0
ADAM_BETAS = (0.9, 0.999)
ADAM_EPSILON = 1e-8
PROGRESS_EVERY = 16  # steps between progress reports (and chances to cancel)
MAX_BATCH = 64  # images optimised together (targets x images_per_target)
MAX_IMAGES_PER_TARGET = 8
BORDER_FRACTION = 1 / 16  # of the activation map's side, dropped from the channel mean
MIN_SIDE_FOR_BORDER = 5  # maps smaller than this keep every position
BLUR_SIGMA = 1.0
RELU_TYPES = ("ReLU", "Activation")
#: Layers that pool each channel on its own: a ReLU before them still decides where they are zero.
POOLING_TYPES = ("MaxPooling2D", "AveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling2D")
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class Penalties:
    """Weights of the optional regularisers (0 switches one off); images are in [0, 1].

    ``l1``/``l2``: distance from grey; ``total_variation``: Mahendran & Vedaldi (2015); ``blur``: the
    squared distance to a blurred copy (Lucid's blur_input_each_step as a penalty); ``diversity``:
    Lucid's Gram-matrix similarity between images of the same target (Olah et al. 2017).
    """

    l1: float = 0.0
    l2: float = 0.0
    total_variation: float = 0.0
    blur: float = 0.0
    diversity: float = 0.0

    def weights(self) -> np.ndarray:
        return np.array([self.l1, self.l2, self.total_variation, self.blur, self.diversity], np.float32)


@dataclass(frozen=True)
class Maximization:
    """Images that maximise each target, with the objective before and after.

    ``targets`` has one entry per image (a channel of ``layer``, or a class index). ``history`` holds
    the objective of every step, measured on the randomly transformed images the optimiser saw;
    ``start_objective`` and ``final_objective`` are measured on the untransformed starting and final
    images (uint8, as shown).
    """

    method: str
    target_kind: str  # "channel" or "class"
    layer: str | None  # None for class targets
    targets: tuple[int, ...]
    labels: tuple[str, ...]
    images: np.ndarray  # (n, h, w, 3) uint8
    start_images: np.ndarray
    start_objective: np.ndarray  # (n,)
    final_objective: np.ndarray  # (n,)
    history: np.ndarray  # (steps, n)
    probabilities: (
        np.ndarray
    )  # (n,) softmax probability of the target class (class targets), else of the top class
    predicted: np.ndarray  # (n,) top class of each final image
    steps: int
    params: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def gains(self) -> np.ndarray:
        """final / start objective per image (inf where the start was 0 or below and the end is not)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.start_objective > 0, self.final_objective / self.start_objective, np.inf)

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds else float("nan")


# --- argument checks ----------------------------------------------------------------------------
def _as_list(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple, np.ndarray)):
        return list(value)
    return [value]


def _check_steps(steps: Any) -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= MAX_STEPS:
        raise ParameterError(
            f"steps must be a whole number from 1 to {MAX_STEPS}, not {steps!r} (a few hundred is typical)."
        )
    return int(steps)


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise ParameterError(f"seed must be a whole number from 0 to {MAX_SEED}, not {seed!r}.")
    return int(seed)


def _targets(
    loaded_model: LoadedModel, layer: str | None, channels: Any, class_index: Any
) -> tuple[str, str | None, list[int], list[str], int]:
    """(kind, layer, target per distinct target, labels, number of channels or classes)."""
    if (channels is None) == (class_index is None):
        raise ParameterError("Give either channels (of a layer) or class_index, not both and not neither.")
    if class_index is not None:
        indices = [loaded_model.class_index(c) for c in _as_list(class_index)]
        return (
            "class",
            None,
            indices,
            [loaded_model.class_names[i] for i in indices],
            loaded_model.num_classes,
        )
    row = layer_row(loaded_model, layer or default_layer(loaded_model))
    name = row.name
    count = int(row.output_shape[-1] or 0)
    chosen = []
    for channel in _as_list(channels):
        if (
            isinstance(channel, bool)
            or not isinstance(channel, (int, np.integer))
            or not 0 <= channel < count
        ):
            raise ParameterError(
                f"Channel {channel!r} is out of range: layer {name!r} has channels 0 to {count - 1}."
            )
        chosen.append(int(channel))
    return "channel", name, chosen, [f"{name} channel {c}" for c in chosen], count


def pre_activation_layer(loaded_model: LoadedModel, layer: str) -> str:
    """The layer feeding a ReLU layer (Lucid optimises "pre_relu" tensors), else ``layer`` itself.

    A channel that is zero everywhere after a ReLU has zero gradient, so ascent could never start
    from an image that does not excite it yet; its input is the same channel before the cut. A
    pooling layer after a ReLU (max, average, global) is looked through to that ReLU's input too.
    """
    table = layer_table(loaded_model)
    row = table.row(layer)
    channels = row.output_shape[-1]
    while (
        row.type in POOLING_TYPES
        and len(row.inputs) == 1
        and row.inputs[0] != ""
        and table.row(row.inputs[0]).output_shape[-1] == channels
    ):
        row = table.row(row.inputs[0])
    if row.type not in RELU_TYPES or len(row.inputs) != 1 or row.inputs[0] == "":
        return layer
    from cnnviz.inside.architecture import layer_object

    operation = layer_object(loaded_model, row.name)
    if row.type == "Activation" and getattr(operation.activation, "__name__", "") not in ("relu", "relu6"):
        return layer
    source = table.row(row.inputs[0])
    return source.name if source.output_shape == row.output_shape else layer


def _border(side: int | None) -> int:
    if side is None or side < MIN_SIDE_FOR_BORDER:
        return 0
    return max(1, round(side * BORDER_FRACTION))


# --- the compiled optimisation ------------------------------------------------------------------
@dataclass(frozen=True)
class _Plan:
    """What the compiled step depends on (anything else is passed as a tensor)."""

    kind: str
    layer: str | None  # layer whose activations the objective reads while optimising
    report_layer: str | None  # layer the start and final objectives are measured on (the one asked for)
    diversity_layer: str | None  # layer whose Gram matrices the diversity term compares (None: off)
    penalties: tuple[bool, bool, bool, bool]  # which of l1, l2, total variation, blur are on
    method: str
    transforms: bool
    group: int  # images per target (diversity compares images inside a group)
    height: int
    width: int


def _channel_means(maps: tf.Tensor) -> tf.Tensor:
    """Mean of each channel of (b, h, w, c) maps without a thin border: (b, c).

    The border is weighted out rather than sliced off: the slice's gradient cost 1.8 ms a step on
    the demo model (a third of a plain pass), the weights 0.2 ms.
    """
    sides = maps.shape[1:3]
    border = _border(None if None in sides else min(sides))
    if not border:
        return tf.reduce_mean(maps, axis=[1, 2])
    height, width = sides
    weights = np.zeros((height, width, 1), np.float32)
    weights[border : height - border, border : width - border] = 1 / ((height - 2 * border) * (width - 2 * border))
    return tf.reduce_sum(maps * weights, axis=[1, 2])


def _objective(plan: _Plan, activations: list[tf.Tensor], logits: tf.Tensor, onehot: tf.Tensor) -> tf.Tensor:
    if plan.kind == "class":
        return tf.reduce_sum(logits * onehot, axis=-1)
    values = activations[0]
    if len(values.shape) == 4:
        values = _channel_means(values)
    elif len(values.shape) > 2:
        values = tf.reshape(values, [tf.shape(values)[0], -1, values.shape[-1]])
        values = tf.reduce_mean(values, axis=1)
    return tf.reduce_sum(values * onehot, axis=-1)


def _diversity(plan: _Plan, activations: list[tf.Tensor]) -> tf.Tensor:
    """Lucid's diversity: mean cosine similarity of Gram matrices between images of one group."""
    values = activations[-1]
    channels = values.shape[-1]
    flat = tf.reshape(values, [tf.shape(values)[0], -1, channels])
    grams = tf.matmul(flat, flat, transpose_a=True)
    grams = tf.math.l2_normalize(tf.reshape(grams, [-1, plan.group, channels * channels]), axis=-1)
    similarity = tf.matmul(grams, grams, transpose_b=True)  # (groups, k, k)
    off_diagonal = tf.reduce_sum(similarity, axis=[1, 2]) - tf.linalg.trace(similarity)
    return tf.repeat(off_diagonal / plan.group, plan.group)  # per image


def _l1_from_grey(images: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.abs(images - 0.5), axis=[1, 2, 3])


def _l2_from_grey(images: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.square(images - 0.5), axis=[1, 2, 3])


def _distance_to_blurred(images: tf.Tensor) -> tf.Tensor:
    blurred = tf.stop_gradient(param.gaussian_blur(images, BLUR_SIGMA))
    return tf.reduce_mean(tf.square(images - blurred), axis=[1, 2, 3])


#: In the order of Penalties.weights().
_PENALTY_TERMS = (_l1_from_grey, _l2_from_grey, param.total_variation, _distance_to_blurred)


def _with_penalties(plan: _Plan, loss: tf.Tensor, images: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """``loss`` (per image) plus the weighted penalties switched on in the plan (the others cost nothing)."""
    for index, term in enumerate(_PENALTY_TERMS):
        if plan.penalties[index]:
            loss += weights[index] * term(images)
    return loss


def _render(plan: _Plan, variable: tf.Tensor) -> tf.Tensor:
    if plan.method == "fourier":
        return param.fourier_image(variable, plan.height, plan.width)
    return tf.sigmoid(variable)


def _adam_update(
    variable: tf.Tensor, m: tf.Tensor, v: tf.Tensor, gradient: tf.Tensor, t: tf.Tensor, learning_rate: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """One Adam step (Kingma & Ba 2015) at step ``t`` (from 0): new variable, first and second moments."""
    beta1, beta2 = ADAM_BETAS
    m = beta1 * m + (1 - beta1) * gradient
    v = beta2 * v + (1 - beta2) * tf.square(gradient)
    t1 = tf.cast(t + 1, tf.float32)
    m_hat = m / (1 - tf.pow(beta1, t1))
    v_hat = v / (1 - tf.pow(beta2, t1))
    return variable - learning_rate * m_hat / (tf.sqrt(v_hat) + ADAM_EPSILON), m, v


def _build_step(loaded_model: LoadedModel, plan: _Plan, stepper: LoadedModel | None = None) -> Any:
    """The compiled optimisation step, rendering and evaluation (traced once per plan). The steps
    run on ``stepper`` (a reduced-precision twin, cnnviz.precision) if given; the evaluation of the
    start and final images always on ``loaded_model`` (float32)."""
    read = ([plan.layer] if plan.layer else []) + ([plan.diversity_layer] if plan.diversity_layer else [])
    reduced = activation_function(stepper or loaded_model, read)

    def forward(inputs: tf.Tensor) -> tuple[list[tf.Tensor], tf.Tensor]:  # 16-bit outputs -> float32
        activations, logits = reduced(inputs)
        return [tf.cast(a, tf.float32) for a in activations], tf.cast(logits, tf.float32)
    side = min(plan.height, plan.width)
    jitter = param.JITTER_FRACTION * side

    def loss_and_objective(
        variable: tf.Tensor, onehot: tf.Tensor, weights: tf.Tensor, seed: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        images = _render(plan, variable)
        seen = images
        if plan.transforms:
            matrices = param.random_transforms(
                seed,
                tf.shape(images)[0],
                plan.height,
                plan.width,
                jitter,
                param.SCALE_RANGE,
                param.ROTATION_DEGREES,
            )
            seen = param.apply_transforms(images, matrices)
        activations, logits = forward(loaded_model.preprocess(seen * 255.0))
        objective = _objective(plan, activations, logits, onehot)
        loss = _with_penalties(plan, -objective, images, weights)
        if plan.diversity_layer:
            loss += weights[4] * _diversity(plan, activations)
        return tf.reduce_sum(loss), objective

    def step(variable, m, v, t, onehot, weights, learning_rate, seed):  # type: ignore[no-untyped-def]
        with tf.GradientTape() as tape:
            tape.watch(variable)
            loss, objective = loss_and_objective(variable, onehot, weights, seed)
        gradient = tape.gradient(loss, variable)
        return (*_adam_update(variable, m, v, gradient, t, learning_rate), objective)

    def compiled_step(variable, m, v, t, onehot, weights, learning_rate, seed):  # type: ignore[no-untyped-def]
        return step(variable, m, v, t, onehot, weights, learning_rate, tf.stack([seed, t]))

    shape = (
        [None, *param.spectrum_shape(plan.height, plan.width)]
        if plan.method == "fourier"
        else [None, plan.height, plan.width, 3]
    )
    state = tf.TensorSpec(shape, tf.float32)
    signature = [
        state,
        state,
        state,
        tf.TensorSpec([], tf.int64),
        tf.TensorSpec([None, None], tf.float32),
        tf.TensorSpec([5], tf.float32),
        tf.TensorSpec([], tf.float32),
        tf.TensorSpec([], tf.int64),
    ]
    # One compiled call per step: measured here, a tf.while_loop of steps ran about 25 % slower
    # than the same steps called one by one (the loop body is optimised less well). Calling the
    # concrete function skips tf.function's argument matching: 0.5 ms less a step for 8 arguments.
    # The batch stays dynamic: a static one saved 0.3 to 0.6 ms a step on the demo model (none on
    # MobileNetV2) but cost a new trace, 1 to 3.5 s, whenever the number of images changes.
    compiled = tf.function(compiled_step, input_signature=signature).get_concrete_function()

    @tf.function(input_signature=[state])
    def render(variable: tf.Tensor) -> tf.Tensor:
        return _render(plan, variable)

    measure = activation_function(loaded_model, [plan.report_layer] if plan.report_layer else [])

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, plan.height, plan.width, 3], tf.float32),
            tf.TensorSpec([None, None], tf.float32),
        ]
    )
    def evaluate(pixels: tf.Tensor, onehot: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        activations, logits = measure(loaded_model.preprocess(pixels))
        return _objective(plan, activations, logits, onehot), logits

    return compiled, render, evaluate


def _to_uint8(images: tf.Tensor) -> np.ndarray:
    return np.clip(np.round(np.asarray(images) * 255.0), 0, 255).astype(np.uint8)


def maximize(
    loaded_model: LoadedModel,
    layer: str | None = None,
    channels: int | Sequence[int] | None = None,
    class_index: int | str | Sequence[int | str] | None = None,
    steps: int = DEFAULT_STEPS,
    *,
    method: str = "fourier",
    images_per_target: int = 1,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    transforms: bool | None = None,
    penalties: Penalties | None = None,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    precision: str | None = None,
) -> Maximization:
    """Optimise images that maximise ``channels`` of ``layer`` or the logit of ``class_index``.

    ``transforms`` defaults to True for "fourier" and False for plain "pixel" ascent. Every target
    gets ``images_per_target`` images (use ``Penalties(diversity=...)`` to make them differ).
    ``precision`` ("auto", "float32", "bfloat16"; cnnviz.precision): the optimisation steps run in
    16 bits where that measured faster; the reported objectives and probabilities are float32.
    """
    started = time.perf_counter()
    steps = _check_steps(steps)
    seed = _check_seed(seed)
    if method not in METHODS:
        raise ParameterError(f"Unknown method {method!r}; choose one of {', '.join(METHODS)}.")
    if isinstance(learning_rate, bool) or not (
        isinstance(learning_rate, (int, float, np.floating)) and 0 < learning_rate <= MAX_LEARNING_RATE
    ):
        raise ParameterError(
            f"learning_rate must be above 0 and at most {MAX_LEARNING_RATE}, not "
            f"{learning_rate!r} (0.05 is typical)."
        )
    if not (
        isinstance(images_per_target, (int, np.integer)) and 1 <= images_per_target <= MAX_IMAGES_PER_TARGET
    ):
        raise ParameterError(f"images_per_target must be from 1 to {MAX_IMAGES_PER_TARGET}.")
    penalties = penalties or Penalties()
    if np.any(penalties.weights() < 0) or not np.all(np.isfinite(penalties.weights())):
        raise ParameterError("Penalty weights must be finite and not negative.")
    kind, name, distinct, distinct_labels, width_of_target = _targets(
        loaded_model, layer, channels, class_index
    )
    targets = [t for t in distinct for _ in range(images_per_target)]
    labels = tuple(label for label in distinct_labels for _ in range(images_per_target))
    if len(targets) > MAX_BATCH:
        raise ParameterError(
            f"At most {MAX_BATCH} images at once ({len(targets)} asked for); ask for fewer targets."
        )
    transforms = method == "fourier" if transforms is None else bool(transforms)
    read_layer = None if name is None else pre_activation_layer(loaded_model, name)
    diversity_layer = None
    if images_per_target > 1 and penalties.diversity > 0:
        diversity_layer = name or default_layer(loaded_model)
    height, width = loaded_model.input_size
    switched_on = tuple(bool(w > 0) for w in penalties.weights()[:4])
    plan = _Plan(
        kind,
        read_layer,
        name,
        diversity_layer,
        switched_on,
        method,
        transforms,  # type: ignore[arg-type]
        images_per_target,
        height,
        width,
    )
    stepper, choice = batched_model(loaded_model, check_precision(precision), "gradient")
    step, render, evaluate = loaded_model.cached(
        ("inside", "maximize", plan, choice.policy), lambda: _build_step(loaded_model, plan, stepper)
    )

    rng = np.random.default_rng(seed)
    batch = len(targets)
    start = (
        param.initial_spectrum(rng, batch, height, width)
        if method == "fourier"
        else param.initial_pixels(rng, batch, height, width)
    )
    onehot = tf.constant(np.eye(width_of_target, dtype=np.float32)[targets])
    variable = tf.constant(start)
    m = tf.zeros_like(variable)
    v = tf.zeros_like(variable)
    weights = tf.constant(penalties.weights())
    history = []
    rate, base_seed = tf.constant(learning_rate, tf.float32), tf.constant(seed, tf.int64)
    with loaded_model.lock:
        start_images = _to_uint8(render(variable))
    report(progress, 0, steps)
    loop_started = time.perf_counter()
    for done in range(steps):
        with loaded_model.lock:  # per step, so other sessions sharing the model are not locked out
            variable, m, v, objective = step(
                variable, m, v, tf.constant(done, tf.int64), onehot, weights, rate, base_seed
            )
        history.append(objective)
        if (done + 1) % PROGRESS_EVERY == 0 or done + 1 == steps:
            report(progress, done + 1, steps, objective=float(np.mean(objective)))
    optimising_seconds = time.perf_counter() - loop_started
    with loaded_model.lock:
        images = _to_uint8(render(variable))
        both = tf.constant(np.concatenate([start_images, images]).astype(np.float32))
        objective, logits = evaluate(both, tf.concat([onehot, onehot], axis=0))
    objective = objective.numpy()
    probabilities = loaded_model.probabilities_from_logits(logits[batch:]).numpy()
    predicted = probabilities.argmax(axis=1)
    chosen = np.array(targets) if kind == "class" else predicted
    return Maximization(
        method=method,
        target_kind=kind,
        layer=name,
        targets=tuple(targets),
        labels=labels,
        images=images,
        start_images=start_images,
        start_objective=objective[:batch],
        final_objective=objective[batch:],
        history=np.stack([np.asarray(h) for h in history]),
        probabilities=probabilities[np.arange(batch), chosen],
        predicted=predicted,
        steps=steps,
        params={
            "optimised_layer": read_layer,
            "diversity_layer": diversity_layer,
            "learning_rate": learning_rate,
            "transforms": transforms,
            "seed": seed,
            "images_per_target": images_per_target,
            "penalties": asdict(penalties),
            "optimising_seconds": optimising_seconds,
            "precision": choice.to_json(),
        },
        seconds=time.perf_counter() - started,
    )
