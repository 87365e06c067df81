"""A one-file HTML report of an image: what each model predicts and the heatmaps that explain it.

The report is self-contained (pictures embedded as PNG data URIs, inline CSS, no script, nothing
fetched) so it can be mailed, archived or printed to PDF from a browser. Every text is escaped:
labels may come from a user's file. :func:`report_html` lays out results computed elsewhere (the
app's cached ones); :func:`build_report` computes them first (the CLI).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from cnnviz import __version__
from cnnviz.errors import ParameterError
from cnnviz.explanation import METHODS, Heatmap, explain, get_method
from cnnviz.faithfulness import Faithfulness, faithfulness
from cnnviz.images import image_sha256
from cnnviz.models import LoadedModel
from cnnviz.prediction import Prediction, predict
from cnnviz.progress import ProgressCallback
from cnnviz.render import DEFAULT_COLORMAP, DEFAULT_OPACITY, check_style, heatmap_overlay, png

TOP = 5
FAITHFULNESS_STEPS = 16
IMAGE_WIDTH = 224  # CSS pixels of each picture in the report
SPEED_ONLY_PARAMS = ("batch_size",)  # settings that change the speed, not the map: left out of captions

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1100px;
       color: #222; line-height: 1.45; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2rem; margin-top: 2rem; }
.meta { color: #555; font-size: 0.9rem; }
.row { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
figure { margin: 0; width: %dpx; } figure img { width: 100%%; image-rendering: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.85rem; color: #333; }
table { border-collapse: collapse; font-size: 0.9rem; } td, th { padding: 0.15rem 0.6rem; text-align: left; }
.bar { background: #3b528b; height: 0.8rem; display: inline-block; vertical-align: middle;
       -webkit-print-color-adjust: exact; print-color-adjust: exact; }  /* browsers drop backgrounds */
.note { font-size: 0.85rem; color: #444; }
@media print { figure { break-inside: avoid; } }
""" % IMAGE_WIDTH


@dataclass(frozen=True)
class ReportSection:
    """One model's part of a report: its top predictions and the heatmaps explaining one class."""

    model_label: str
    predictions: Sequence[Prediction]
    heatmaps: Sequence[Heatmap]
    scores: Sequence[Faithfulness | None] = ()  # one per heatmap, or empty

    def __post_init__(self) -> None:
        if not self.heatmaps:
            raise ParameterError(f"The report's part for {self.model_label} has no heatmap.")
        if self.scores and len(self.scores) != len(self.heatmaps):
            raise ParameterError(f"The report's part for {self.model_label} has {len(self.heatmaps)} "
                                 f"heatmaps but {len(self.scores)} faithfulness figures.")


def _data_uri(image: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png(image)).decode("ascii")


def _figure(image: np.ndarray, caption: str) -> str:
    return (f'<figure><img src="{_data_uri(image)}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _predictions_table(predictions: Sequence[Prediction]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(p.label)}</td><td>{100 * p.probability:.1f} %</td>"
        f'<td><span class="bar" style="width:{max(1, round(200 * p.probability))}px"></span></td></tr>'
        for p in predictions)
    return f"<table><tr><th>class</th><th>probability</th><th></th></tr>{rows}</table>"


def _heatmap_caption(result: Heatmap, score: Faithfulness | None) -> str:
    parts = [f"{result.title}: {result.label} ({100 * result.probability:.1f} %)"]
    if result.layer:
        parts.append(f"layer {result.layer}")
    settings = ", ".join(f"{name}={'default' if value is None else value}"
                         for name, value in result.params.items() if name not in SPEED_ONLY_PARAMS)
    if settings:
        parts.append(settings)
    parts.append(f"{result.seconds:.2f} s")
    if score is not None:
        parts.append(f"deletion {score.deletion:.2f}, insertion {score.insertion:.2f}, "
                     f"confidence drop {100 * score.confidence_drop:.0f} %")
    return "; ".join(parts)


def _section(section: ReportSection, colormap: str, opacity: float) -> str:
    scores = list(section.scores) or [None] * len(section.heatmaps)
    first = section.heatmaps[0]
    figures = [_figure(first.image, f"what {section.model_label} sees "
                                    f"({first.image.shape[1]}x{first.image.shape[0]})")]
    figures += [_figure(heatmap_overlay(result, None, colormap, opacity), _heatmap_caption(result, score))
                for result, score in zip(section.heatmaps, scores)]
    return (f"<h2>{html.escape(section.model_label)}</h2>{_predictions_table(section.predictions)}"
            f'<div class="row" style="margin-top:1rem">{"".join(figures)}</div>')


def _methods_note(sections: Sequence[ReportSection]) -> str:
    names = dict.fromkeys(h.method for s in sections for h in s.heatmaps)
    items = "".join(f"<li><b>{html.escape(METHODS[n].title)}</b>: {html.escape(METHODS[n].about)} "
                    f"<i>({html.escape(METHODS[n].citation)})</i></li>" for n in names if n in METHODS)
    return ("<h2>How to read this</h2><p class='note'>Areas at the top of the colour scale (yellow in "
            "viridis, inferno and magma; red in jet, turbo and hot) carry the most evidence for the class "
            "named under each picture; each map is scaled to its own maximum, so "
            "compare where, not how bright. Deletion (Petsiuk et al., BMVC 2018), with blurred pixels: the "
            "class probability as the brightest pixels are blurred away first (area under the curve, lower "
            "is better; the paper deletes to black); insertion: as they are revealed (higher is better). "
            "Confidence drop: how much less sure the model is of "
            "the image multiplied by the map (lower is better).</p>"
            f"<ul class='note'>{items}</ul>")


def report_html(image: np.ndarray, image_name: str, sections: Sequence[ReportSection],
                colormap: str = DEFAULT_COLORMAP, opacity: float = DEFAULT_OPACITY,
                created: dt.datetime | None = None) -> str:
    """The HTML text of a report on ``image`` (the user's original) with one section per model."""
    if not sections:
        raise ParameterError("A report needs at least one model with at least one heatmap.")
    check_style(colormap, opacity)
    created = created or dt.datetime.now().astimezone()
    height, width = image.shape[:2]
    header = (f"<h1>cnnviz report: {html.escape(image_name)}</h1>"
              f"<p class='meta'>{width}x{height} pixels, sha256 of the pixels {image_sha256(image)}<br>"
              f"cnnviz {__version__}, {created:%Y-%m-%d %H:%M %Z}; colour map {html.escape(colormap)}, "
              f"opacity {opacity:.2f}</p>")
    body = "".join(_section(section, colormap, opacity) for section in sections)
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>cnnviz report: {html.escape(image_name)}</title><style>{_STYLE}</style></head>"
            f"<body>{header}<div class='row'>{_figure(image, 'your image')}</div>{body}"
            f"{_methods_note(sections)}</body></html>")


def build_section(loaded_model: LoadedModel, image: np.ndarray, methods: Sequence[str], *,
                  fit: str = "crop", label: str | None = None, scores: bool = True,
                  progress: Callable[[str], ProgressCallback | None] | None = None) -> ReportSection:
    """Predict and explain the top class of ``image`` with each method (faithfulness if ``scores``).

    ``progress(method_name)`` may give a callback for each slow method (the CLI's terminal bar).
    """
    if not methods:
        raise ParameterError("Choose at least one heatmap method for the report.")
    chosen = [get_method(name) for name in methods]  # unknown names fail before any work
    predictions = predict(loaded_model, image, top=TOP, fit=fit)
    heatmaps = [explain(loaded_model, image, method=method.name, fit=fit,
                        progress=progress(method.name) if progress and method.progress else None)
                for method in chosen]
    figures = [faithfulness(loaded_model, h, steps=FAITHFULNESS_STEPS) for h in heatmaps] if scores else []
    return ReportSection(label or loaded_model.name, predictions, heatmaps, figures)


def build_report(models: Sequence[LoadedModel], image: np.ndarray, image_name: str,
                 methods: Sequence[str], *, fit: str = "crop", colormap: str = DEFAULT_COLORMAP,
                 opacity: float = DEFAULT_OPACITY,
                 progress: Callable[[str], ProgressCallback | None] | None = None) -> str:
    """Compute and lay out a report: every model explains its top class with every method."""
    if not models:
        raise ParameterError("Choose at least one model for the report.")
    check_style(colormap, opacity)  # before the work, not after
    sections = [build_section(loaded, image, methods, fit=fit, progress=progress) for loaded in models]
    return report_html(image, image_name, sections, colormap, opacity)


__all__ = ["ReportSection", "report_html", "build_section", "build_report"]
