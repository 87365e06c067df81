"""Gradient attacks: FGSM (Goodfellow et al., 2015) and PGD (Madry et al., 2018) in pixel units."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from cnnviz.attacks import attack
from cnnviz.attacks.gradient import loss_gradient_function
from cnnviz.errors import ParameterError
from cnnviz.images import encode_png, load_image
from cnnviz.models import LoadedModel, load_model, preprocessing_function
from cnnviz.prediction import class_probabilities, predict
from cnnviz.demo.shapes import TEST_SEED, generate_dataset

EPSILON = 4  # pixel levels on the 0..255 scale (4/255)
IMAGES = 24


@pytest.fixture(scope="module")
def demo():
    return load_model("shapes")


@pytest.fixture(scope="module")
def correct(demo):
    """Correctly classified generated test images (never used in training) and their labels."""
    images, labels, _ = generate_dataset(IMAGES + 8, TEST_SEED)
    keep = np.argmax(class_probabilities(demo, images), axis=1) == labels
    return images[keep][:IMAGES], labels[keep][:IMAGES]


def test_pgd_fools_most_images_within_epsilon(demo, correct):
    images, labels = correct
    results = [attack(demo, image, "pgd", epsilon=EPSILON, seed=i) for i, image in enumerate(images)]
    for image, result in zip(images, results):
        assert result.adversarial.dtype == np.uint8
        change = np.abs(result.adversarial.astype(int) - image.astype(int))
        assert change.max() <= EPSILON and result.linf <= EPSILON
    fooled = np.array([r.success for r in results])
    assert fooled.mean() >= 0.8, f"PGD fooled {fooled.sum()} of {len(results)}"
    # what is reported is what the uint8 image gives when fed back
    adversarial = np.stack([r.adversarial for r in results])
    predicted = np.argmax(class_probabilities(demo, adversarial), axis=1)
    assert np.array_equal(predicted, [r.adversarial_class for r in results])
    assert np.all((predicted != labels) == fooled)


def test_fgsm_moves_every_channel_by_epsilon_unless_clipped(demo, correct):
    image = correct[0][0]
    result = attack(demo, image, "fgsm", epsilon=EPSILON)
    change = result.perturbation
    inside = (image.astype(int) >= EPSILON) & (image.astype(int) <= 255 - EPSILON)
    assert np.all(np.abs(change[inside]) == EPSILON)  # the sign of a nonzero gradient, times epsilon
    assert result.linf == EPSILON and result.queries == 2  # one gradient step, one re-check
    assert result.l0 == int(np.count_nonzero(np.any(change != 0, axis=-1)))
    assert result.l2 == pytest.approx(np.sqrt((change.astype(float) ** 2).sum()))


def test_targeted_pgd_reaches_the_target_and_survives_png(demo, correct):
    image, label = correct[0][0], int(correct[1][0])
    target = (label + 1) % demo.num_classes
    result = attack(demo, image, "pgd", epsilon=16, steps=20, target=target, seed=0)
    assert result.success and result.adversarial_class == target
    assert result.linf <= 16
    reloaded = load_image(encode_png(result.adversarial))
    assert predict(demo, reloaded, top=1)[0].class_index == target
    assert result.fitness_history[0] > result.fitness_history[-1]  # 1 - p(target) went down


def test_pgd_is_repeatable_with_a_seed(demo, correct):
    image = correct[0][0]
    first = attack(demo, image, "pgd", epsilon=2, steps=3, seed=5)
    second = attack(demo, image, "pgd", epsilon=2, steps=3, seed=5)
    assert np.array_equal(first.adversarial, second.adversarial)
    assert first.queries == 4


def test_gradient_is_taken_through_the_preprocessing():
    """With tf-style preprocessing (x / 127.5 - 1) inside the tape, the gradient with respect to raw
    pixels matches finite differences in pixel units (it would be 127.5 times too large otherwise)."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 3))
    hidden = keras.layers.Dense(4, activation="tanh")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3)(hidden))
    loaded = LoadedModel(name="tiny", model=model, input_size=(6, 6), class_names=("a", "b", "c"),
                         preprocess=preprocessing_function("tf"), preprocessing="tf")
    pixels = np.random.default_rng(0).uniform(20, 235, (1, 6, 6, 3)).astype(np.float32)
    gradient = loss_gradient_function(loaded)(tf.constant(pixels), tf.constant([1]))[0].numpy()

    def loss(x: np.ndarray) -> float:
        logits = model(loaded.preprocess(x.astype(np.float64)).astype(np.float32))
        return float(tf.nn.sparse_softmax_cross_entropy_with_logits([1], logits)[0])

    for index in [(0, 0, 0, 0), (0, 2, 3, 1), (0, 5, 5, 2)]:
        step = np.zeros_like(pixels)
        step[index] = 2.0
        numeric = (loss(pixels + step) - loss(pixels - step)) / 4.0
        assert gradient[index] == pytest.approx(numeric, rel=0.05, abs=1e-6)


@pytest.mark.parametrize("method, settings, words", [
    ("pgd", {"epsilon": 0}, "positive"),
    ("pgd", {"epsilon": -3}, "positive"),
    ("fgsm", {"epsilon": 8 / 255}, "8/255"),
    ("fgsm", {"epsilon": 300}, "at most 255"),
    ("pgd", {"steps": 0}, "steps"),
    ("pgd", {"step_size": 0}, "step_size"),
    ("fgsm", {"pixels": 1}, "no setting 'pixels'"),
])
def test_bad_settings_are_typed_errors(demo, correct, method, settings, words):
    with pytest.raises(ParameterError, match=words):
        attack(demo, correct[0][0], method, **settings)


def test_target_equal_to_the_prediction_is_refused(demo, correct):
    with pytest.raises(ParameterError, match="already predicts the target"):
        attack(demo, correct[0][0], "pgd", target=int(correct[1][0]))
