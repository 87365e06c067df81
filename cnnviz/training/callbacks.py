"""Keras callbacks of a training run: progress and cancel per batch, history and best weights per epoch.

Progress goes through the usual cnnviz callback ``progress(done, total, info)`` (cnnviz.progress):
after every batch with the running loss and accuracy, after every epoch with the validation
figures too (``info`` then holds ``val_loss``). When it returns False, :class:`Progress` raises
``CancelledError`` from inside ``fit`` right after that batch; :class:`BestWeights` still holds the
weights of the best epoch so far, which the caller restores (early stopping with the best weights
restored, Prechelt 1998, "Early stopping - but when?").
"""

from __future__ import annotations

import math
import time
from typing import Any

import keras
import numpy as np

from cnnviz.progress import ProgressCallback, report

METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


class Progress(keras.callbacks.Callback):
    """Reports batches and epochs of one phase; appends a history row per epoch to ``history``."""

    _supports_tf_logs = True  # Keras then skips converting every log to NumPy; we read two figures

    def __init__(self, progress: ProgressCallback | None, history: list[dict[str, Any]], *, phase: str,
                 total_batches: int, batches_before: int, steps_per_epoch: int) -> None:
        super().__init__()
        self.progress = progress
        self.history = history
        self.phase = phase
        self.total = total_batches
        self.done = batches_before
        self.steps = steps_per_epoch
        self._epoch_start = time.perf_counter()
        self._epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch_start = time.perf_counter()
        self._epoch = len(self.history) + 1

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.done += 1
        logs = logs or {}
        report(self.progress, self.done, self.total, phase=self.phase, epoch=self._epoch,
               batch=batch + 1, batches=self.steps, loss=_number(logs.get("loss")),
               accuracy=_number(logs.get("accuracy")))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        row = {"epoch": len(self.history) + 1, "phase": self.phase,
               **{name: _number(logs.get(name)) for name in METRICS},
               "seconds": round(time.perf_counter() - self._epoch_start, 3)}
        self.history.append(row)
        report(self.progress, self.done, self.total, **row)


class BestWeights(keras.callbacks.Callback):
    """Keeps the weights of the epoch with the lowest validation loss; stops after ``patience``
    epochs without improvement (None: never). ``restore()`` puts the best weights back."""

    _supports_tf_logs = True

    def __init__(self, patience: int | None = None, model: keras.Model | None = None) -> None:
        super().__init__()
        self.patience = patience
        self.best_loss = math.inf
        self.best_epoch: int | None = None
        self.best_weights: list[np.ndarray] | None = None
        self.wait = 0
        self.stopped_early = False
        if model is not None:
            self.set_model(model)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        loss = (logs or {}).get("val_loss")
        if loss is None or not math.isfinite(float(loss)):
            return
        if float(loss) < self.best_loss:
            self.best_loss, self.best_epoch, self.wait = float(loss), epoch, 0
            self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.patience is not None and self.wait >= self.patience:
            self.stopped_early = True
            self.model.stop_training = True

    def restore(self) -> bool:
        """Put the best epoch's weights back; False when no epoch finished."""
        if self.best_weights is None:
            return False
        self.model.set_weights(self.best_weights)
        return True


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(np.asarray(value))
    return round(number, 6) if math.isfinite(number) else number
