"""Saving a trained model: a .keras file that takes raw 0..255 RGB (preprocessing inside) and a labels
file beside it (one class name per line, in the order of the outputs).

``cnnviz.models.load_model_file(path, labels=labels_path(path))`` loads it back with the same
predictions; the file holds only built-in Keras layers, so it loads in safe mode anywhere.
"""

from __future__ import annotations

from pathlib import Path

from cnnviz.errors import ParameterError
from cnnviz.models import LoadedModel, load_model_file


def labels_path(model_path: str | Path) -> Path:
    """model.keras -> model.labels.txt (beside it)."""
    path = Path(model_path)
    return path.with_name(f"{path.stem}.labels.txt")


def labels_text(class_names: tuple[str, ...] | list[str]) -> str:
    return "".join(f"{name}\n" for name in class_names)


def save(loaded: LoadedModel, path: str | Path) -> tuple[Path, Path]:
    """Write the model (``path``, must end in .keras) and its labels file; returns both paths."""
    path = Path(path)
    if path.suffix.lower() != ".keras":
        raise ParameterError(f"The model file must end in .keras (Keras 3 format), not {path.name!r}.")
    if not path.parent.exists():
        raise ParameterError(f"The folder {path.parent} does not exist; create it or write elsewhere.")
    with loaded.lock:
        loaded.model.save(path)
    labels = labels_path(path)
    labels.write_text(labels_text(loaded.class_names), encoding="utf-8")
    return path, labels


def model_bytes(loaded: LoadedModel) -> bytes:
    """The .keras file's bytes (for a download button)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path, _ = save(loaded, Path(folder) / "model.keras")
        return path.read_bytes()


def load(path: str | Path) -> LoadedModel:
    """Load an exported model with its labels file (when it is there)."""
    labels = labels_path(path)
    return load_model_file(path, labels=labels if labels.is_file() else None)
