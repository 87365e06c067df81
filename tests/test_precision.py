"""Precision "auto" (cnnviz.precision): 16-bit maps agree with float32's on the demo model and on
a small-input VGG16 (random weights), the decision follows real measured timings, attacks
report a success only the float32 model confirms, and bad values are typed errors."""

from __future__ import annotations

import time

import keras
import numpy as np
import pytest

from cnnviz.attacks.onepixel import one_pixel_attack
from cnnviz.cli import main
from cnnviz.demo.shapes import TEST_SEED, generate_sample
from cnnviz.errors import ParameterError
from cnnviz.explanation import explain
from cnnviz.models import LoadedModel, load_model, preprocessing_function
from cnnviz.precision import (
    calibrate,
    choose,
    cpu_has_bfloat16,
    decide,
)

SIZE = 64
MIN_R = 0.99


def small_zoo_model(constructor, family: str) -> LoadedModel:
    """An ImageNet architecture at 64 x 64 with random (seeded) weights and a 10-class head."""
    keras.utils.set_random_seed(0)
    base = constructor(weights=None, include_top=False, input_shape=(SIZE, SIZE, 3), pooling="avg")
    model = keras.Model(base.inputs, keras.layers.Dense(10)(base.outputs[0]))
    return LoadedModel(name=constructor.__name__, model=model, input_size=(SIZE, SIZE),
                       class_names=tuple(f"c{i}" for i in range(10)), preprocess=preprocessing_function(family),
                       preprocessing=family, weights=None, labels_known=False)


@pytest.fixture(scope="module")
def models() -> dict[str, LoadedModel]:
    return {"shapes": load_model("shapes"),
            "VGG16": small_zoo_model(keras.applications.VGG16, "caffe")}


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def image_for(loaded: LoadedModel) -> np.ndarray:
    return generate_sample(TEST_SEED + 7, size=loaded.input_size[0]).image


@pytest.mark.skipif(not cpu_has_bfloat16(), reason="needs a CPU with bfloat16 instructions to be fast")
@pytest.mark.parametrize("name, methods", [("shapes", ("occlusion", "scorecam")), ("VGG16", ("occlusion",))])
def test_bfloat16_maps_agree_with_float32(models: dict, name: str, methods: tuple[str, ...]) -> None:
    loaded = models[name]
    image = image_for(loaded)
    settings = {"occlusion": {"patch_size": 16, "stride": 16}, "scorecam": {"top_k": 16}}
    for method in methods:
        reference = explain(loaded, image, method, precision="float32", **settings[method])
        reduced = explain(loaded, image, method, precision="bfloat16", **settings[method])
        assert reduced.precision["policy"] == "mixed_bfloat16" and reference.precision["policy"] == "float32"
        assert pearson(reduced.heatmap, reference.heatmap) >= MIN_R, (name, method)
        # the class and its score come from the float32 pass, not the 16-bit one
        assert reduced.class_index == reference.class_index
        assert reduced.probability == pytest.approx(reference.probability, rel=1e-6)


def test_auto_maps_agree_with_float32(models: dict) -> None:
    """Auto keeps 16 bits only where they measured faster and agreed on the calibration batch;
    whatever it chose, its maps agree with float32's."""
    loaded = models["shapes"]
    image = image_for(loaded)
    auto = explain(loaded, image, "smoothgrad", precision="auto", samples=16)
    reference = explain(loaded, image, "smoothgrad", precision="float32", samples=16)
    assert auto.precision["asked"] == "auto" and auto.precision["speedup"] is not None
    assert pearson(auto.heatmap, reference.heatmap) >= MIN_R, auto.precision


def test_auto_decides_from_measured_time() -> None:
    """Real timings of controlled work: the slower reduced pass is refused, the faster one kept."""
    def sleeper(seconds: float):
        return lambda: time.sleep(seconds)

    slower = calibrate(sleeper(0.02), sleeper(0.08))  # 4x slower: robust to a loaded machine's jitter
    assert slower.speedup < 0.8
    kept = decide(slower, "mixed_bfloat16")
    assert kept.policy == "float32" and "not worth it" in kept.reason

    faster = calibrate(sleeper(0.08), sleeper(0.02))
    chosen = decide(faster, "mixed_bfloat16")
    assert chosen.policy == "mixed_bfloat16" and chosen.speedup > 1.5
    assert decide(faster, "mixed_bfloat16", agreement=0.9).policy == "float32"  # fast but wrong

    calls = []
    calibrate(lambda: calls.append("32"), lambda: calls.append("16"), repeats=2)
    assert calls == ["32", "16"] * 3  # one warm-up each, then alternating


def test_decision_is_cached_and_reported(models: dict) -> None:
    loaded = models["shapes"]
    first = choose(loaded, "auto", "forward")
    started = time.perf_counter()
    assert choose(loaded, "auto", "forward") is first  # measured once per process
    assert time.perf_counter() - started < 0.01
    assert first.speedup is not None and first.policy in ("float32", "mixed_bfloat16")
    if not cpu_has_bfloat16():
        assert first.policy == "float32"


def test_attack_success_is_confirmed_in_float32(models: dict) -> None:
    loaded = models["shapes"]
    image = image_for(loaded)
    result = one_pixel_attack(loaded, image, pixels=3, popsize=60, maxiter=6, seed=1, precision="bfloat16")
    assert result.params["precision"]["policy"] == "mixed_bfloat16"
    exact = loaded.probabilities(result.adversarial[None])[0]
    np.testing.assert_array_equal(result.probabilities_after, exact)  # scored in float32
    assert result.success == (int(np.argmax(exact)) != result.original_class)


def test_bad_precision_is_a_typed_error(models: dict, tmp_path) -> None:
    loaded, image = models["shapes"], image_for(models["shapes"])
    with pytest.raises(ParameterError, match="precision must be one of auto, float32, bfloat16"):
        explain(loaded, image, "occlusion", precision="half")
    with pytest.raises(ParameterError, match="precision"):
        one_pixel_attack(loaded, image, popsize=10, maxiter=1, precision="float16")
    with pytest.raises(ParameterError, match="precision"):
        choose(loaded, "fp32")
    with pytest.raises(SystemExit) as exit_info:
        main(["explain", str(tmp_path / "x.png"), "--model", "shapes", "--precision", "half"])
    assert exit_info.value.code == 2
