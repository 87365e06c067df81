"""Filter activation statistics and the audit's bad input, on the bundled demo model and generated shapes."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.audit import audit, filter_statistics
from cnnviz.datasets import generated, open_dataset
from cnnviz.errors import ClassIndexError, ParameterError, TooFewImagesError, UnknownLayerError
from cnnviz.models import load_model
from cnnviz.render.audit import statistics_map


@pytest.fixture(scope="module")
def demo():
    return load_model("shapes")


@pytest.fixture(scope="module")
def dataset():
    return open_dataset(generated(12, seed=5))  # 64 px, the demo model's size


def test_winning_channel_counts_match_an_independent_pass(demo, dataset):
    import keras

    statistics = filter_statistics(demo, dataset, "ring", "fine_relu", batch_size=5)
    indices = [i for i in range(len(dataset)) if dataset.class_names[dataset.labels([i])[0]] == "ring"]
    images = np.stack([dataset.image(i) for i in indices]).astype(np.float32)
    probe = keras.Model(demo.model.inputs, demo.model.get_layer("fine_relu").output)
    winners = np.argmax(probe.predict(images, verbose=0), axis=-1)  # (n, h, w)
    expected = np.zeros_like(statistics.counts)
    for n in range(len(winners)):
        for y in range(winners.shape[1]):
            for x in range(winners.shape[2]):
                expected[y, x, winners[n, y, x]] += 1
    assert statistics.images == len(indices) == 12
    assert np.array_equal(statistics.counts, expected)
    assert np.array_equal(statistics.winners, np.argmax(expected, axis=-1))
    channels = statistics.channels()
    assert sum(c.positions for c in channels) == expected.shape[0] * expected.shape[1]
    assert [c.positions for c in channels] == sorted((c.positions for c in channels), reverse=True)
    picture = statistics_map(statistics)
    assert picture.shape[1] == 224 and picture.dtype == np.uint8


def test_audit_bad_input_is_typed(demo, dataset):
    with pytest.raises(ClassIndexError, match="circle"):
        audit(demo, dataset, "horse")
    with pytest.raises(TooFewImagesError, match="at least 8"):
        audit(demo, dataset, "ring", split="test")  # 2 ring images in the test split
    with pytest.raises(ParameterError, match="auto"):
        audit(demo, dataset, "ring", clusters=50)
    with pytest.raises(ParameterError, match="method"):
        audit(demo, dataset, "ring", method="magic")
    with pytest.raises(UnknownLayerError):
        filter_statistics(demo, dataset, "ring", "no_such_layer")
