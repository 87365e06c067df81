"""The app's pages, grouped by section: adding a page is adding one line to ``PAGES``.

``app.py`` turns this table into ``st.navigation``; the home page lists the same entries with their
one-line summaries, so the two never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageEntry:
    """One page of the app: its script, section, title, icon and a one-line summary."""

    path: str  # script, relative to the repository root
    section: str  # heading the page is listed under in the sidebar
    title: str
    icon: str  # a Material Symbols name, ":material/<name>:"
    summary: str  # one sentence for the home page
    default: bool = False  # the page shown at "/"


PAGES: tuple[PageEntry, ...] = (
    PageEntry("pages/home.py", "Start", "Home", ":material/home:",
              "What cnnviz shows and how to use it.", default=True),
    PageEntry("pages/predict.py", "What the model says", "Predict", ":material/bar_chart:",
              "The five classes the model finds most likely, and how sure it is."),
    PageEntry("pages/dataset.py", "What the model says", "Dataset", ":material/folder_zip:",
              "A zip of your images (or generated shapes) evaluated at once: confusion matrix with the "
              "images of each cell, mistakes, calibration, and a map of the model's features."),
    PageEntry("pages/heatmaps.py", "Why it says it", "Heatmaps", ":material/local_fire_department:",
              "Which pixels the decision rests on (Grad-CAM, occlusion, gradients...)."),
    PageEntry("pages/compare.py", "Why it says it", "Compare", ":material/compare:",
              "Several methods and several models on the same image in one grid, and a report to download."),
    PageEntry("pages/feature_maps.py", "Inside the network", "Feature maps", ":material/grid_view:",
              "What every channel of a layer responds to, and the kernels it learned."),
    PageEntry("pages/maximize.py", "Inside the network", "Activation maximization",
              ":material/auto_awesome:",
              "The image a channel or class wants, and the real images that excite it most."),
    PageEntry("pages/architecture.py", "Inside the network", "Architecture", ":material/account_tree:",
              "Layer table with receptive fields and FLOPs, model catalog, a convolution worked out, "
              "invariance."),
    PageEntry("pages/train.py", "Train your own", "Train", ":material/model_training:",
              "Transfer learning on your images (features, head, fine-tuning), live curves, then explain "
              "the trained model on every page."),
    PageEntry("pages/adversarial.py", "Fooling the model", "Adversarial", ":material/bug_report:",
              "Change a few pixels, or all of them a little, to flip the model's answer "
              "(one-pixel, FGSM, PGD)."),
    PageEntry("pages/clever_hans.py", "Fooling the model", "Clever Hans lab", ":material/pets:",
              "Plant a shortcut in a dataset, watch a model learn it, and find it again in the heatmaps."),
)
