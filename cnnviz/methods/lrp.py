"""Layer-wise relevance propagation for Keras 3 models (Bach et al., 2015; rules of Montavon et al.,
Layer-Wise Relevance Propagation: An Overview, 2019).

The class logit is the relevance of the output; each layer hands its relevance down to its inputs in
proportion to their contributions, so the input relevances add up to the logit (conservation; exact
without biases). The model is replayed layer by layer (cnnviz.graph, nested models included) and
each layer's backward pass is replaced by its relevance rule, so that the "gradient" that reaches
the input *is* the relevance (zennit's way). Rules for Dense and convolutions (Conv, DepthwiseConv):

- epsilon: R_j = x_j w_jk R_k / (z_k + eps sign(z_k)) (biases absorb relevance);
- zplus (= alpha 1, beta 0): positive contributions only, no biases;
- alpha_beta: alpha times the positive and beta times the negative contributions (alpha - beta = 1);
- gamma (convolutions; Dense use epsilon): weights w + gamma w+ favour positive contributions;
- composites: epsilon_plus (z-plus on convolutions, epsilon on Dense), epsilon_plus_flat (the same
  with the flat rule on the first layer, which spreads relevance uniformly over its receptive field).

Batch normalisation after a Dense/Conv layer is folded into its weights; a batch norm elsewhere is an
element-wise affine layer under the epsilon rule. Add, Average, average and global average pooling
and upsampling share relevance in proportion to their inputs (the epsilon rule without weights);
max pooling gives it to the maximum (its gradient). Activations, dropout and rescaling pass relevance
unchanged; reshaping layers move it with their gradient. Multiply (squeeze-and-excitation gates) gives
all relevance to the feature map, none to the gate. Other layers with weights are refused.

Convention: the relevance lives on the model's (preprocessed) input; ``raw`` is the signed relevance
summed over the colour channels at the input size, and the heatmap shows its magnitude.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from cnnviz.errors import MethodNotApplicableError
from cnnviz.graph import _call_inference, flat_graph, replay_function
from cnnviz.methods.core import (
    _CLASS_SPEC,
    _pixel_spec,
    Maps,
    Method,
    Request,
    check_choice,
    check_number,
    resolve_classes,
)
from cnnviz.methods.linear import affine, has_affine, kernel_and_bias
from cnnviz.models import LoadedModel

RULES = ("epsilon", "zplus", "alpha_beta", "gamma", "epsilon_plus", "epsilon_plus_flat")
DEFAULTS = {"rule": "epsilon_plus_flat", "epsilon": 1e-6, "alpha": 2.0, "beta": 1.0, "gamma": 0.25}

_PASS_UNCHANGED = (keras.layers.ReLU, keras.layers.Activation, keras.layers.LeakyReLU, keras.layers.ELU,
                   keras.layers.PReLU, keras.layers.Softmax, keras.layers.Dropout, keras.layers.SpatialDropout2D,
                   keras.layers.GaussianNoise, keras.layers.GaussianDropout, keras.layers.AlphaDropout,
                   keras.layers.Rescaling, keras.layers.Normalization, keras.layers.ActivityRegularization)
_PROPORTIONAL = (keras.layers.Add, keras.layers.Average, keras.layers.AveragePooling2D,
                 keras.layers.GlobalAveragePooling2D, keras.layers.UpSampling2D, keras.layers.AveragePooling1D,
                 keras.layers.GlobalAveragePooling1D)


def _stabilised(z: tf.Tensor, epsilon: float) -> tf.Tensor:
    """z + epsilon * sign(z), with sign(0) = 1: never zero."""
    return z + epsilon * tf.where(z >= 0, 1.0, -1.0)


def _transposed(layer: Any, x: tf.Tensor, kernel: tf.Tensor, signal: tf.Tensor) -> tf.Tensor:
    """W^T applied to ``signal``: the gradient of the bias-free affine map at ``x`` (it is linear).

    Dense, Conv2D and DepthwiseConv2D use the transposed operation directly (fast to trace); other
    convolutions take the gradient of the affine map.
    """
    inner = getattr(layer, "dense", layer)
    if isinstance(inner, keras.layers.Dense) and len(x.shape) == 2:
        return tf.matmul(signal, kernel, transpose_b=True)
    if isinstance(inner, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)) and getattr(
            inner, "groups", 1) == 1 and inner.data_format == "channels_last":
        strides = (1, *inner.strides, 1)
        dilations = (1, *inner.dilation_rate, 1)
        padding = inner.padding.upper()
        if isinstance(inner, keras.layers.DepthwiseConv2D):
            return tf.nn.depthwise_conv2d_backprop_input(tf.shape(x), kernel, signal, strides, padding,
                                                         dilations=dilations)
        return tf.nn.conv2d_transpose(signal, kernel, tf.shape(x), strides, padding, dilations=dilations)
    with tf.GradientTape() as tape:
        tape.watch(x)
        z = affine(layer, x, kernel, use_bias=False)
    return tape.gradient(z, x, output_gradients=signal)


# --- the rules of an affine layer: (x, relevance of the output) -> relevance of the input ------------
def epsilon_rule(layer: Any, x: tf.Tensor, relevance: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | None,
                 params: dict[str, Any]) -> tf.Tensor:
    z = affine(layer, x, kernel, bias)
    return x * _transposed(layer, x, kernel, relevance / _stabilised(z, params["epsilon"]))


def gamma_rule(layer: Any, x: tf.Tensor, relevance: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | None,
               params: dict[str, Any]) -> tf.Tensor:
    gamma = params["gamma"]
    boosted = kernel + gamma * tf.nn.relu(kernel)
    boosted_bias = None if bias is None else bias + gamma * tf.nn.relu(bias)
    z = affine(layer, x, boosted, boosted_bias)
    return x * _transposed(layer, x, boosted, relevance / _stabilised(z, params["epsilon"]))


def alpha_beta_rule(layer: Any, x: tf.Tensor, relevance: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | None,
                    params: dict[str, Any], alpha: float | None = None, beta: float | None = None) -> tf.Tensor:
    alpha = params["alpha"] if alpha is None else alpha
    beta = params["beta"] if beta is None else beta
    positive_x, negative_x = tf.nn.relu(x), -tf.nn.relu(-x)
    positive_w, negative_w = tf.nn.relu(kernel), -tf.nn.relu(-kernel)
    epsilon = params["epsilon"]

    def contributions(first: tf.Tensor, second: tf.Tensor) -> tf.Tensor:
        return (affine(layer, positive_x, first, use_bias=False)
                + affine(layer, negative_x, second, use_bias=False))

    s_positive = relevance / _stabilised(contributions(positive_w, negative_w), epsilon)
    result = alpha * (positive_x * _transposed(layer, x, positive_w, s_positive)
                      + negative_x * _transposed(layer, x, negative_w, s_positive))
    if beta:
        negative_z = contributions(negative_w, positive_w)
        s_negative = relevance / (negative_z - epsilon * tf.where(negative_z <= 0, 1.0, -1.0))
        result -= beta * (positive_x * _transposed(layer, x, negative_w, s_negative)
                          + negative_x * _transposed(layer, x, positive_w, s_negative))
    return result


def zplus_rule(layer: Any, x: tf.Tensor, relevance: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | None,
               params: dict[str, Any]) -> tf.Tensor:
    return alpha_beta_rule(layer, x, relevance, kernel, bias, params, alpha=1.0, beta=0.0)


def flat_rule(layer: Any, x: tf.Tensor, relevance: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | None,
              params: dict[str, Any]) -> tf.Tensor:
    ones, flat = tf.ones_like(x), tf.ones_like(kernel)
    z = affine(layer, ones, flat, use_bias=False)
    return _transposed(layer, ones, flat, relevance / _stabilised(z, params["epsilon"]))


Rule = Callable[..., tf.Tensor]
_RULES: dict[str, Rule] = {"epsilon": epsilon_rule, "zplus": zplus_rule, "alpha_beta": alpha_beta_rule,
                           "gamma": gamma_rule, "flat": flat_rule}


def layer_rule(rule: str, layer: Any, first: bool) -> str:
    """Which rule a preset gives an affine layer (``first``: the first one from the input)."""
    dense = isinstance(getattr(layer, "dense", layer), keras.layers.Dense)
    if rule in ("epsilon", "zplus", "alpha_beta"):
        return rule
    if rule == "gamma":
        return "epsilon" if dense else "gamma"
    if rule == "epsilon_plus_flat" and first:
        return "flat"
    return "epsilon" if dense else "zplus"


# --- batch-norm folding -------------------------------------------------------------------------
def _bn_scale_shift(bn: Any) -> tuple[tf.Tensor, tf.Tensor]:
    """y = x * scale + shift of a batch norm in inference."""
    scale = tf.math.rsqrt(tf.convert_to_tensor(bn.moving_variance) + bn.epsilon)
    if bn.scale:
        scale = scale * tf.convert_to_tensor(bn.gamma)
    shift = -tf.convert_to_tensor(bn.moving_mean) * scale
    if bn.center:
        shift = shift + tf.convert_to_tensor(bn.beta)
    return scale, shift


def folded(layer: Any, bn: Any | None) -> tuple[tf.Tensor, tf.Tensor | None]:
    """The layer's kernel and bias with the following batch norm folded in (Montavon et al., 2019)."""
    kernel, bias = kernel_and_bias(layer)
    if bn is None:
        return kernel, bias
    scale, shift = _bn_scale_shift(bn)
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kernel = kernel * tf.reshape(scale, kernel.shape[2:])
    else:
        kernel = kernel * scale
    return kernel, shift if bias is None else bias * scale + shift


def _folding_plan(loaded_model: LoadedModel) -> dict[str, str]:
    """Affine layer -> the batch norm folded into it (the batch norm is its only consumer)."""
    graph = flat_graph(loaded_model)
    consumers: dict[str, int] = {}
    for entry in graph.layers:
        for source in entry.inputs:
            consumers[source] = consumers.get(source, 0) + 1
    plan = {}
    for entry in graph.layers:
        if isinstance(entry.layer, keras.layers.BatchNormalization) and len(entry.inputs) == 1:
            source = entry.inputs[0]
            producer = graph[source].layer if source in graph.names else None
            if (producer is not None and has_affine(producer) and consumers.get(source) == 1
                    and getattr(getattr(producer, "activation", None), "__name__", "linear") == "linear"
                    and entry.layer.axis in (-1, [-1], len(entry.output_shape), [len(entry.output_shape)])):
                plan[source] = entry.name
    return plan


# --- the replay hook ------------------------------------------------------------------------------
def _relevance_op(inputs: Sequence[tf.Tensor], output: tf.Tensor,
                  backward: Callable[[list[tf.Tensor], tf.Tensor], list[tf.Tensor]]) -> tf.Tensor:
    """``output`` forward; backward: ``backward(inputs, relevance of the output)`` -> input relevances."""

    @tf.custom_gradient
    def op(*xs: tf.Tensor) -> tuple[tf.Tensor, Callable[[tf.Tensor], Any]]:
        def grad(relevance: tf.Tensor) -> Any:
            result = backward(list(xs), relevance)
            return result if len(result) > 1 else result[0]

        return tf.zeros_like(output), grad

    return tf.stop_gradient(output) + op(*inputs)


def _tensors(args: tuple[Any, ...]) -> tuple[list[tf.Tensor], bool]:
    first = args[0]
    return (list(first), True) if isinstance(first, (list, tuple)) else ([first], False)


class _Hook:
    """The call hook that gives every layer its relevance rule in the replay."""

    def __init__(self, loaded_model: LoadedModel, params: dict[str, Any]) -> None:
        self.params = params
        graph = flat_graph(loaded_model)
        self.fold = _folding_plan(loaded_model)
        self.folded_bns = set(self.fold.values())
        affines = [entry.name for entry in graph.layers if has_affine(entry.layer)]
        self.first = affines[0] if affines else None
        for entry in graph.layers:
            layer = entry.layer
            if layer.weights and not has_affine(layer) and not isinstance(
                    layer, (keras.layers.BatchNormalization, *_PASS_UNCHANGED)):
                raise MethodNotApplicableError(
                    f"LRP has no rule for layer {entry.name!r} ({type(layer).__name__}) of {loaded_model.name}; "
                    "it handles Dense, Conv, DepthwiseConv, batch norm, pooling, Add and activations. "
                    "Use Integrated Gradients or Gradient x Input, which work on any layer.")
        self.graph = graph

    def __call__(self, name: str, layer: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        params = self.params
        if has_affine(layer):
            output = _call_inference(layer, args, kwargs)
            bn = self.graph[self.fold[name]].layer if name in self.fold else None
            kernel, bias = folded(layer, bn)
            rule = _RULES[layer_rule(params["rule"], layer, name == self.first)]
            return _relevance_op([args[0]], output,
                                 lambda xs, r: [rule(layer, xs[0], r, kernel, bias, params)])
        if isinstance(layer, keras.layers.BatchNormalization):
            output = _call_inference(layer, args, kwargs)
            if name in self.folded_bns:
                return _relevance_op([args[0]], output, lambda xs, r: [r])
            scale, shift = _bn_scale_shift(layer)
            return _relevance_op([args[0]], output, lambda xs, r: [
                xs[0] * scale * r / _stabilised(xs[0] * scale + shift, params["epsilon"])])
        if isinstance(layer, _PASS_UNCHANGED):
            output = _call_inference(layer, args, kwargs)
            return _relevance_op([args[0]], output, lambda xs, r: [r])
        if isinstance(layer, _PROPORTIONAL):
            inputs, merged = _tensors(args)
            output = _call_inference(layer, args, kwargs)

            def proportional(xs: list[tf.Tensor], r: tf.Tensor) -> list[tf.Tensor]:
                with tf.GradientTape() as tape:
                    tape.watch(xs)
                    z = layer(xs if merged else xs[0], **kwargs)
                grads = tape.gradient(z, xs, output_gradients=r / _stabilised(z, params["epsilon"]))
                return [x * g for x, g in zip(xs, grads)]

            return _relevance_op(inputs, output, proportional)
        if isinstance(layer, keras.layers.Multiply):
            inputs, _ = _tensors(args)
            output = _call_inference(layer, args, kwargs)
            target = tuple(output.shape[1:])
            main = next((i for i, x in enumerate(inputs) if tuple(x.shape[1:]) == target), 0)
            return _relevance_op(inputs, output, lambda xs, r: [
                r if i == main else tf.zeros_like(x) for i, x in enumerate(xs)])
        return None  # max pooling, padding, reshaping...: the gradient moves relevance as it is


def _build_relevance(loaded_model: LoadedModel, params: dict[str, Any]) -> Callable[..., Any]:
    forward = replay_function(loaded_model, [], call_hook=_Hook(loaded_model, params))

    # autograph off: the replay and the rules have no tensor-dependent Python control flow, and
    # converting them made tracing MobileNetV2 several times slower
    @tf.function(input_signature=[_pixel_spec(loaded_model), _CLASS_SPEC], autograph=False)
    def relevance(pixels: tf.Tensor, class_indices: tf.Tensor) -> tuple[tf.Tensor, ...]:
        inputs = loaded_model.preprocess(pixels)
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            logits = forward(inputs)[1]
        classes = resolve_classes(tf.stop_gradient(logits), class_indices)
        start = tf.one_hot(classes, tf.shape(logits)[1]) * tf.stop_gradient(logits)
        return tape.gradient(logits, inputs, output_gradients=start), logits, classes

    return relevance


def input_relevance(loaded_model: LoadedModel, pixels: np.ndarray, class_indices: np.ndarray,
                    params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(relevance (n, h, w, channels) on the model's input, logits, classes)."""
    key = ("methods.lrp", tuple(sorted(params.items())))
    function = loaded_model.cached(key, lambda: _build_relevance(loaded_model, dict(params)))
    with loaded_model.lock:
        relevance, logits, classes = function(tf.constant(pixels, tf.float32),
                                              tf.constant(class_indices, tf.int32))
    return relevance.numpy(), logits.numpy(), classes.numpy()


def lrp(request: Request) -> Maps:
    relevance, logits, classes = input_relevance(request.loaded_model, request.pixels, request.class_indices,
                                                 dict(request.params))
    signed = relevance.sum(axis=-1).astype(np.float32)
    return Maps(signed, classes, logits, full=np.abs(signed))


def check(params: dict[str, Any], loaded_model: LoadedModel) -> None:
    check_choice(params, "rule", RULES)
    check_number(params, "epsilon", 0.0, 1e3)
    check_number(params, "gamma", 0.0, 1e3)
    check_number(params, "beta", 0.0, 1e3)
    check_number(params, "alpha", 1.0, 1e3)
    if abs(params["alpha"] - params["beta"] - 1.0) > 1e-9:
        from cnnviz.errors import ParameterError

        raise ParameterError(f"alpha - beta must be 1 to conserve relevance (alpha {params['alpha']}, "
                             f"beta {params['beta']}); for example alpha 2 and beta 1, or alpha 1 and beta 0.")


METHOD = Method(
    name="lrp", title="LRP", compute=lrp, uses_layer=False, defaults=DEFAULTS, check=check, signed=True,
    choices={"rule": RULES},
    citation="Bach et al., On Pixel-Wise Explanations by Layer-Wise Relevance Propagation, PLoS ONE 2015; "
             "Montavon et al., Layer-Wise Relevance Propagation: An Overview, 2019",
    about=("Hands the class score back through the network layer by layer, splitting it among each "
           "layer's inputs by their contributions, so the pixel relevances add up to the score. Sharp "
           "and fast (one backward pass); the rule (epsilon, z-plus, alpha-beta, gamma, composites) "
           "shapes the picture. Signed, on the model's input; the map shows its size."),
)
