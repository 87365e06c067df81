"""Shared Streamlit helpers for the cnnviz pages. The engine (``cnnviz/``) never imports Streamlit.

A page is a short script from top to bottom: read the state, call the engine (cached), draw.

Adding a page
    Write ``pages/<name>.py`` and add one ``PageEntry`` line to ``ui/navigation.py`` (section, title,
    Material icon, one-sentence summary). ``app.py`` builds ``st.navigation`` from that table and
    the home page lists it. Do not call ``st.set_page_config`` in a page.

Reading the model and the image (``ui.state``)
    ``model = state.require_model()`` and ``image = state.require_image()`` return the sidebar's
    choice, or show why there is none (with the typed error's message) and stop the page.
    ``model.loaded`` is the ``cnnviz.models.LoadedModel``; ``model.key`` names the model and its
    weights for caching. ``image.image`` is the original RGB uint8 array (any size),
    ``image.sha256`` its cache key, ``image.preview`` a display copy, ``image.class_name`` /
    ``image.mask`` the ground truth of a generated sample (None for uploads).
    ``state.fit()`` is the sidebar's "crop" or "stretch": pass it to engine calls that resize.
    Never keep results in module globals: session state or the caches below only.

Caching engine calls (``ui.engine``)
    Key results on the model key, the image sha256 and every parameter; pass the model and the
    image as unhashed ``_`` arguments (Streamlit hashes only a sample of big arrays)::

        @st.cache_data(max_entries=32, show_spinner=False)
        def _explain(model_key: str, image_sha256: str, method: str, layer: str, class_index: int,
                     fit: str, _loaded_model: LoadedModel, _image: np.ndarray):
            return cnnviz.explain(_loaded_model, _image, method=method, layer=layer,
                                  class_index=class_index, fit=fit)

        result = _explain(model.key, image.sha256, method, layer, class_index, state.fit(),
                          model.loaded, image.image)

    Parameters must be simple values (str, int, float, tuples of them); an array parameter (a
    mask...) goes in as its sha256 plus an unhashed ``_`` copy. Results must pickle (frozen
    dataclasses of arrays do). ``engine.predict(model, image, top, fit)`` is the worked example.
    Models come only from ``engine.load_zoo_model`` / ``engine.load_user_model`` (the sidebar
    calls them); never mutate ``model.loaded.model``; build sub-models with
    ``model.loaded.cached(key, build)``.

Errors (``ui.errors``)
    Wrap engine calls in ``with user_errors():``. A ``CnnvizError`` is shown as ``st.error`` with
    its message and the page stops there (``user_errors(stop=False)`` to go on); a
    ``CancelledError`` is shown as a note. Unexpected exceptions are bugs: Streamlit shows a
    generic message without details (``client.showErrorDetails = "none"``).

Progress and Stop (``ui.progress``)
    For computations longer than about a second::

        params = (layer, channel, steps, seed)
        if progress.requested("maximize", params):          # draws a Run button
            with user_errors(), progress.progress_bar("Optimizing the image", key="maximize") as bar:
                result = _maximize(model.key, *params, _loaded_model=model.loaded, _progress=bar)
            ...draw result...

    ``bar`` is a cnnviz progress callback; pass it as an unhashed ``_progress`` argument (it may
    run inside ``st.cache_data``: its drawing is kept out of the cache's replay). Stop works by
    Streamlit's own rerun interrupt: pressing Stop reruns the page, which interrupts the running
    script at the callback's next bar update (a ``BaseException`` that the engine does not catch;
    nothing half-done is cached). In the rerun, ``requested`` returns False (a note says it was
    stopped) and ``progress_bar`` raises ``CancelledError`` instead of starting over, so a page
    that computes without a Run button shows "stopped" until a setting changes. The engine must
    call the callback regularly (at least every second or so), and never catch ``BaseException``.

Downloads (``ui.downloads``)
    ``download_png(label, source, file_name, key=...)`` for a uint8 image array, a matplotlib
    ``Figure`` or a zero-argument callable returning one (rendered only when clicked). Plotly
    cannot export PNG here (no kaleido): draw a matplotlib version for the download, using
    ``matplotlib.figure.Figure`` (not pyplot: it renders on another thread).

Tests
    AppTest: ``AppTest.from_file("app.py", default_timeout=60)``, ``at.switch_page("pages/x.py")``.
    Browser: the ``streamlit_server`` and ``browser_page`` fixtures in ``tests/browser_helpers.py``.
"""
