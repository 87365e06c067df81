# cnnviz: the Streamlit app in a small CPU image. Build and run: see docs/docker.md.
#   docker build -t cnnviz .
#   docker run -p 8501:8501 -v cnnviz-weights:/app/models_cache cnnviz
FROM python:3.11-slim

# No .pyc files written at run time, logs unbuffered, no pip cache kept in the image, and no pip
# warnings about root (the build installs system-wide as root; the app does not run as root).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /app

# The app runs as this unprivileged user. A numeric UID lets Kubernetes' runAsNonRoot verify it.
RUN groupadd --system --gid 10001 cnnviz \
    && useradd --system --uid 10001 --gid cnnviz --no-log-init --create-home \
        --home-dir /home/cnnviz --shell /usr/sbin/nologin cnnviz

# Dependencies in their own layer: exactly requirements.txt (pinned), rebuilt only when it changes.
# No apt packages are needed: every native library the wheels link against (libc, libstdc++,
# libgcc_s, zlib) is in the base image. opencv-python-headless 4.13.0.90 needed libxcb1
# (opencv-python#1198); the pinned release does not. The import check makes the build fail,
# rather than the app, if a later pin brings such a dependency back
# (then: apt-get install --no-install-recommends libxcb1).
# In the same step (a later one would not make the image smaller), what the app never uses at run
# time goes: TensorFlow's C++ headers (for compiling custom ops, 287 MB), libclang (TensorFlow's
# build tooling, 62 MB; nothing imports it), pydeck (Streamlit's map charts, imported only by
# st.pydeck_chart, which cnnviz does not use; 47 MB with its Jupyter files), the Jupyter front-end
# extensions plotly installs, and the packages' own test suites (150 MB). The compiled .pyc files
# stay: the app user cannot write them, and without them every start compiles TensorFlow again
# (imports take 4 s with them, 17 s without). docs/docker.md lists what remains.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt \
    && pip uninstall --yes libclang pydeck \
    && rm -rf /usr/local/share/jupyter /usr/local/etc/jupyter \
    && site="$(python -c "import importlib.util as u, os; print(os.path.dirname(os.path.dirname(u.find_spec('tensorflow').origin)))")" \
    && rm -rf "$site/tensorflow/include" \
    && find "$site" -type d -name tests -prune -exec rm -rf {} + \
    && python -c "import cv2, keras, streamlit, tensorflow"

# Keras caches downloaded ImageNet weights in $KERAS_HOME/models. Streamlit's server settings
# are environment variables: they take precedence over .streamlit/config.toml, and each can be
# changed per container: docker run -e STREAMLIT_SERVER_MAX_UPLOAD_SIZE=100 ...
ENV KERAS_HOME=/app/models_cache \
    TF_CPP_MIN_LOG_LEVEL=2 \
    STREAMLIT_SERVER_ADDRESS=0.0.0.0 \
    STREAMLIT_SERVER_PORT=8501 \
    STREAMLIT_SERVER_HEADLESS=true \
    STREAMLIT_SERVER_FILE_WATCHER_TYPE=none \
    STREAMLIT_SERVER_MAX_UPLOAD_SIZE=50 \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false

# The code belongs to root (the app cannot rewrite itself); only the weights cache is the app
# user's. The bundled demo model (models_cache/shapes_demo.*) comes with the code.
COPY . .
RUN mkdir -p /app/models_cache/models \
    && chown -R 10001:10001 /app/models_cache

USER 10001:10001

# For offline deployments: docker build --build-arg PRELOAD_MODELS="MobileNetV2 ResNet50" .
# downloads those ImageNet weights into the image (nothing is downloaded by default). The list is
# unquoted on purpose: one argument per model; unknown names fail before any download.
ARG PRELOAD_MODELS=""
RUN if [ -n "$PRELOAD_MODELS" ]; then python -m cnnviz download $PRELOAD_MODELS; fi

# Declared last: Docker discards what a build step writes under a volume after this line.
# A new named volume starts as a copy of this folder (demo model, preloaded weights); a bind
# mount hides it (docs/docker.md).
VOLUME ["/app/models_cache"]

EXPOSE 8501

# Only the flags of Docker Engine 20.10 and Buildah 1.28 (Podman 4): --start-interval needs Docker 25.
# A probe every 10 s, so "docker compose up" sees the app healthy ~10 s after it starts; failures
# in the first 60 s (TensorFlow loading on a busy host) do not count. Podman keeps HEALTHCHECK only
# in Docker-format images: podman build --format docker.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('STREAMLIT_SERVER_PORT', '8501'); sys.exit(urllib.request.urlopen('http://127.0.0.1:' + port + '/_stcore/health', timeout=4).read() != b'ok')"]

CMD ["streamlit", "run", "app.py"]
