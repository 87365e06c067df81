"""Progress reporting for long computations, with cancellation.

The engine never imports a UI. A long computation takes ``progress``, a plain callable
``progress(done, total, info)`` where ``info`` is a small dict of figures worth showing (for example
``{"best_fitness": 0.31, "queries": 1200}``). If the callable returns ``False`` (or raises
:class:`cnnviz.errors.CancelledError`) the computation stops and raises ``CancelledError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cnnviz.errors import CancelledError

ProgressCallback = Callable[[int, int, Mapping[str, Any]], "bool | None"]


def report(progress: ProgressCallback | None, done: int, total: int, **info: Any) -> None:
    """Call ``progress`` if given; raise CancelledError when it asks to stop by returning False."""
    if progress is None:
        return
    if progress(done, total, info) is False:
        raise CancelledError("Cancelled by the user; nothing was changed.")
