"""Xplique's first and second calls in a fresh process, beside bench/first_call.py's cnnviz figures
(never part of CI): import, model build, then Grad-CAM and Occlusion (cnnviz's default patch at 224:
28 px, stride 14) on two random images, each explainer built once.

    python bench/first_call_xplique.py [MobileNetV2|ResNet50|VGG16]   # prints one JSON line

Zoo models with random weights (seeded), inputs in the model's own [-1, 1]-ish range: speed does not
depend on either. Needs xplique in the bench environment (pip install xplique --no-deps).
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

PATCH, STRIDE, BATCH = 28, 14, 32


def main(name: str) -> dict[str, float]:
    started = time.perf_counter()
    import keras
    import numpy as np
    import tensorflow as tf
    from xplique.attributions import GradCAM, Occlusion

    figures = {"import": time.perf_counter() - started}
    started = time.perf_counter()
    keras.utils.set_random_seed(0)
    model = getattr(keras.applications, name)(weights=None)
    figures["load"] = time.perf_counter() - started
    explainers = {"gradcam": GradCAM(model),
                  "occlusion": Occlusion(model, patch_size=PATCH, patch_stride=STRIDE, batch_size=BATCH)}
    rng = np.random.default_rng(0)
    for call in ("first", "second"):
        image = rng.uniform(-1, 1, (1, 224, 224, 3)).astype("float32")
        target = tf.one_hot([int(np.argmax(model(image)))], 1000)
        for label, explainer in explainers.items():
            started = time.perf_counter()
            explainer.explain(image, target)
            figures[f"{label} {call}"] = time.perf_counter() - started
    return {key: round(value, 3) for key, value in figures.items()}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else "ResNet50")))
