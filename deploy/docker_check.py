"""``make docker-check``: build the Docker image with Podman and run it the way a container runs.

1. Tools: podman and debootstrap from Debian's packages (installed with apt-get when missing);
   Debian's chromium and Playwright (the project venv) for the browser.
2. Base image: no container registry is reachable here, so ``python:3.11-slim`` is replaced
   (``podman build --from``) by an equivalent local image: Debian 12 bootstrapped with debootstrap,
   Python 3.11, pip, venv, ca-certificates (plus this host's CA bundle, so pip reaches the package
   index), ``python`` and ``pip`` on PATH. It is tagged with a digest of its recipe and kept in
   Podman's storage: it is bootstrapped again only when the recipe (or the CA bundle) changes.
3. Build: ``podman build --isolation chroot --network host`` (the OCI runtime cannot create
   containers in this sandbox). Layers are cached, so the pip layer is reused until
   requirements.txt changes; a code change rebuilds only the layers from ``COPY . .`` on.
4. Run: a container is created (not started) and its root filesystem mounted; the image's
   ENTRYPOINT/CMD, HEALTHCHECK and probes run in it with chroot as the image's USER, with the
   image's ENV and WORKDIR, /proc and /dev mounted, and a copy of the image's volume mounted at
   its VOLUME path (what Docker does for a new named volume). Checked: the user can write the
   volume but not the code; the demo model classifies held-out shapes with no network at all;
   ``/_stcore/health`` answers ``ok``; the HEALTHCHECK command passes (and fails once the server
   is gone); Chromium shows the home page and the Heatmaps page's Grad-CAM with no exception;
   SIGTERM stops the server cleanly.
5. Report: image size, the size each installed package takes, build and run seconds
   (tests/artifacts/docker-check/report.json).

Exit status 0: passed; 1: failed; 77: skipped because the tools cannot be had here (not root,
no apt). Needs root (chroot, mounts, Podman's system storage): ``sudo make docker-check``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import inspect
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO_ROOT / "tests" / "artifacts" / "docker-check"
REPORT = ARTIFACTS / "report.json"
IMAGE = "localhost/cnnviz:check"
BASE_REPOSITORY = "localhost/cnnviz-base"
SUITE = "bookworm"  # Debian 12, the Debian of python:3.11-slim
MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = ("python3", "python3-pip", "python3-venv", "ca-certificates")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # python:3.11-slim's PATH
LOCK_FILE = Path("/var/tmp/cnnviz-docker-check.lock")  # one check at a time per machine
SKIPPED = 77
SERVER_START_TIMEOUT_S = 180  # TensorFlow's first import in a cold container, on a busy machine
STOP_TIMEOUT_S = 20  # docker stop's grace period is 10 s; allow for a busy machine
BROWSER_TIMEOUT_MS = 180_000
TOP_PACKAGES = 15


class Skip(Exception):
    """The check cannot run here (missing tools that cannot be installed)."""


class CheckFailed(Exception):
    """The image does not build or does not behave as a container should."""


def check(condition: object, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


_START = time.monotonic()


def log(message: str) -> None:
    print(f"[docker-check {time.monotonic() - _START:5.0f} s] {message}", flush=True)


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    """Run a command; a failure raises CheckFailed with the end of its output."""
    result = subprocess.run(command, text=True, capture_output=True, check=False, **kwargs)
    if result.returncode != 0:
        raise CheckFailed(f"{' '.join(command)} exited with {result.returncode}:\n"
                          f"{(result.stdout + result.stderr)[-4000:]}")
    return result


# --- 1. tools --------------------------------------------------------------------------------
def ensure_tools() -> None:
    """podman and debootstrap (apt-get install when missing), chromium and Playwright."""
    if os.geteuid() != 0:
        raise Skip("needs root (chroot, mounts, Podman's system storage): sudo make docker-check")
    missing = [tool for tool in ("podman", "debootstrap") if shutil.which(tool) is None]
    if missing:
        if shutil.which("apt-get") is None:
            raise Skip(f"{' and '.join(missing)} missing, and no apt-get to install them")
        install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        log(f"installing {' '.join(missing)} with apt-get")
        if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
            result = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise Skip(f"apt-get install {' '.join(missing)} failed: {result.stderr.strip()[-300:]}")
    if shutil.which("chromium") is None:
        raise Skip("Debian's chromium is missing: make chromium (never a downloaded browser)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        raise Skip("Playwright is missing from the venv: make setup-dev") from None


def tool_versions() -> dict[str, str]:
    def first_line(command: list[str]) -> str:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        return (result.stdout or result.stderr).strip().splitlines()[0] if result.returncode == 0 else "?"

    info = json.loads(run(["podman", "info", "--format", "json"]).stdout)
    return {
        "podman": first_line(["podman", "--version"]).split()[-1],
        "buildah (in podman)": info.get("host", {}).get("buildahVersion", "?"),
        "debootstrap": first_line(["dpkg-query", "-W", "-f", "${Version}", "debootstrap"]),
        "chromium": first_line(["chromium", "--version"]),
        "debian": first_line(["cat", "/etc/debian_version"]),
    }


# --- 2. the base image ---------------------------------------------------------------------------
def unmount_below(root: Path) -> None:
    """Unmount whatever a failed debootstrap left mounted inside root (deepest first)."""
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for target in sorted((m for m in mounts if m.startswith(f"{root}/")), reverse=True):
        subprocess.run(["umount", "--lazy", target], check=False)


def configure_base(root: Path) -> None:
    """Make the bootstrapped Debian behave like python:3.11-slim for the Dockerfile's steps."""
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for path in (root / cache).glob("*"):
            if path.is_file():
                path.unlink()
    # python:3.11-slim's pip installs system-wide; Debian's marks its Python externally managed.
    for marker in root.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
        marker.unlink()
    for name, target in (("python", "/usr/bin/python3"), ("pip", "/usr/bin/pip3")):
        link = root / "usr/local/bin" / name
        link.unlink(missing_ok=True)
        link.symlink_to(target)
    # This host's CA bundle: pip must trust whatever certificate the package index shows here.
    shutil.copyfile(HOST_CA_BUNDLE, root / HOST_CA_BUNDLE.relative_to("/"))


def base_image() -> tuple[str, float]:
    """The local stand-in for python:3.11-slim: (tag, seconds spent making it; 0 when cached)."""
    recipe = {"suite": SUITE, "mirror": MIRROR, "packages": BASE_PACKAGES, "path": BASE_PATH,
              "configure": inspect.getsource(configure_base),
              "ca_bundle": hashlib.sha256(HOST_CA_BUNDLE.read_bytes()).hexdigest()}
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]
    tag = f"{BASE_REPOSITORY}:{SUITE}-{digest}"
    if subprocess.run(["podman", "image", "exists", tag], check=False).returncode == 0:
        log(f"base image {tag} (cached)")
        return tag, 0.0
    log(f"bootstrapping Debian {SUITE} for the base image {tag}")
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cnnviz-base-", dir="/var/tmp") as folder:
        root = Path(folder) / "root"
        try:
            run(["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
                 SUITE, str(root), MIRROR])
            configure_base(root)
            tar = subprocess.Popen(["tar", "--numeric-owner", "-C", str(root), "-cf", "-", "."],
                                   stdout=subprocess.PIPE)
            run(["podman", "import", "--change", f"ENV PATH={BASE_PATH}", "--change", "ENV LANG=C.UTF-8",
                 "--change", 'CMD ["python3"]', "-", tag], stdin=tar.stdout)
            check(tar.wait() == 0, "tar of the bootstrapped base failed")
        finally:
            unmount_below(root)
    return tag, time.monotonic() - start


# --- 3. the build --------------------------------------------------------------------------------
def image_id(image: str) -> str | None:
    result = subprocess.run(["podman", "image", "inspect", "--format", "{{.Id}}", image],
                            capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def ancestry(image: str) -> list[str]:
    """The image and the intermediate images below it (the build cache), newest first."""
    chain = []
    while image:
        chain.append(image)
        result = subprocess.run(["podman", "image", "inspect", "--format", "{{.Parent}}", image],
                                capture_output=True, text=True, check=False)
        image = result.stdout.strip() if result.returncode == 0 else ""
    return chain


def remove_previous_build(previous: str | None) -> None:
    """Drop the last build's image and the cache entries only it used (from COPY . . on).

    Each code change would otherwise leave a few MB behind on every CI run; the base and the
    pip layer are shared with the new build and stay.
    """
    current = image_id(IMAGE)
    if previous is None or previous == current:
        return
    keep = set(ancestry(current))
    for stale in ancestry(previous):
        if stale in keep:
            break
        subprocess.run(["podman", "rmi", stale], capture_output=True, check=False)


def build_image(base: str) -> tuple[float, list[str]]:
    """podman build of the repository's Dockerfile on the base; (seconds, the steps taken from cache)."""
    log(f"building {IMAGE} (log: {ARTIFACTS / 'build.log'})")
    previous = image_id(IMAGE)
    command = ["podman", "build", "--format", "docker", "--from", base, "--isolation", "chroot",
               "--network", "host", "--layers", "--tag", IMAGE, str(REPO_ROOT)]
    start = time.monotonic()
    result = subprocess.run(command, text=True, capture_output=True, check=False)
    seconds = time.monotonic() - start
    output = result.stdout + result.stderr
    (ARTIFACTS / "build.log").write_text(output)
    check(result.returncode == 0, f"podman build failed:\n{output[-4000:]}")
    remove_previous_build(previous)
    cached, step = [], ""
    for line in output.splitlines():
        if line.startswith("STEP "):
            step = line.split(": ", 1)[-1][:60]
        elif line.startswith("--> Using cache"):
            cached.append(step)
    return seconds, cached


@dataclass(frozen=True)
class ImageConfig:
    """What a container engine reads from the image to start a container."""

    user: str
    env: dict[str, str]
    workdir: str
    command: list[str]  # ENTRYPOINT + CMD
    healthcheck: list[str]  # ["CMD", ...] or ["CMD-SHELL", "..."]
    volumes: list[str]
    size: int


def image_config(image: str) -> ImageConfig:
    (data,) = json.loads(run(["podman", "image", "inspect", image]).stdout)
    config = data["Config"]
    health = data.get("Healthcheck") or config.get("Healthcheck") or {}  # Docker-format images only
    return ImageConfig(
        user=config.get("User") or "0:0",
        env=dict(item.split("=", 1) for item in config.get("Env") or []),
        workdir=config.get("WorkingDir") or "/",
        command=(config.get("Entrypoint") or []) + (config.get("Cmd") or []),
        healthcheck=health.get("Test") or [],
        volumes=sorted(config.get("Volumes") or {}),
        size=int(data["Size"]),
    )


# --- 4. running it as a container --------------------------------------------------------------
@contextlib.contextmanager
def container_root(image: str) -> Iterator[Path]:
    """A container's writable root filesystem (created, never started: no OCI runtime needed)."""
    name = f"cnnviz-check-{os.getpid()}"
    run(["podman", "create", "--name", name, "--image-volume", "ignore", image])
    try:
        yield Path(run(["podman", "mount", name]).stdout.strip())
    finally:
        subprocess.run(["podman", "rm", "--force", name], capture_output=True, check=False)


def numeric_user(root: Path, user: str) -> tuple[int, int, str]:
    """(uid, gid, home) of a USER value (name or number, optional :group), as the image's own
    /etc/passwd and /etc/group resolve it; like Docker, gid 0 and home / for an unknown number."""
    name, _, group = user.partition(":")

    def row(table: str, key: str) -> list[str] | None:
        rows = [line.split(":") for line in (root / "etc" / table).read_text().splitlines() if line]
        return next((r for r in rows if key in (r[0], r[2])), None)

    account = row("passwd", name)
    uid = int(account[2]) if account else int(name)
    if group:
        entry = row("group", group)
        gid = int(entry[2]) if entry else int(group)
    else:
        gid = int(account[3]) if account else 0
    return uid, gid, account[5] if account else "/"


# Mounts a container engine provides, then chroot as the image's user; env -i leaves exactly the
# image's environment, -C enters its WORKDIR. Run in a private mount namespace: the mounts vanish
# with the process.
_ENTER = ('set -e; root="$1"; volume="$2"; target="$3"; user="$4"; group="$5"; shift 5; '
          'mount -t proc proc "$root/proc"; mount --rbind /dev "$root/dev"; '
          'mount --rbind /sys "$root/sys"; mount --bind "$volume" "$root$target"; '
          'exec chroot --userspec="$user:$group" --groups="$group" "$root" /usr/bin/env -i "$@"')


@dataclass(frozen=True)
class Container:
    root: Path
    config: ImageConfig
    volume: Path  # what is mounted at the image's VOLUME

    def command(self, argv: list[str], env: dict[str, str] | None = None, offline: bool = False) -> list[str]:
        """The command line that runs argv inside the container (offline: in an empty network namespace)."""
        uid, gid, home = numeric_user(self.root, self.config.user)
        environment = {"HOME": home, **self.config.env, **(env or {})}
        (target,) = self.config.volumes
        return ["unshare", "--mount", "--propagation", "private", *(["--net"] if offline else []), "--",
                "/bin/sh", "-c", _ENTER, "sh", str(self.root), str(self.volume), target, str(uid), str(gid),
                "-C", self.config.workdir, *(f"{k}={v}" for k, v in environment.items()), *argv]

    def run(self, argv: list[str], env: dict[str, str] | None = None, offline: bool = False,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(argv, env, offline), text=True, capture_output=True,
                              timeout=timeout, check=False)


@contextlib.contextmanager
def container(image: str, config: ImageConfig) -> Iterator[Container]:
    """The image's filesystem plus a new volume filled from the image (as Docker fills a named one)."""
    check(len(config.volumes) == 1, f"expected one VOLUME (the weights cache), found {config.volumes}")
    with container_root(image) as root, tempfile.TemporaryDirectory(prefix="cnnviz-volume-") as folder:
        volume = Path(folder) / "volume"
        run(["cp", "-a", f"{root}{config.volumes[0]}", str(volume)])  # owner and modes included
        yield Container(root, config, volume)


_PERMISSION_PROBE = """
import errno, json, os, sys
def attempt(action):
    try:
        action()
        return "written"
    except OSError as error:
        return errno.errorcode[error.errno]
cache = os.environ["KERAS_HOME"]
print(json.dumps({
    "uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "cwd": os.getcwd(),
    "cache": attempt(lambda: open(os.path.join(cache, "models", "probe.h5"), "wb").close()),
    "code": attempt(lambda: open("app.py", "a").close()),
    "new_code": attempt(lambda: open("new_module.py", "w").close()),
}))
"""


def check_permissions(box: Container) -> dict:
    """The image's user can write the weights volume, not the code in its WORKDIR."""
    result = box.run(["python", "-c", _PERMISSION_PROBE])
    check(result.returncode == 0, f"permission probe failed:\n{result.stderr[-2000:]}")
    probe = json.loads(result.stdout)
    uid, gid, _ = numeric_user(box.root, box.config.user)
    check((probe["uid"], probe["gid"]) == (uid, gid) and 0 not in probe["groups"],
          f"not running as the image's user {box.config.user}: {probe}")
    check(probe["cwd"] == box.config.workdir, f"not in the WORKDIR: {probe}")
    check(probe["cache"] == "written", f"the user cannot write the weights volume: {probe}")
    check(probe["code"] == probe["new_code"] == "EACCES", f"the user can change the code: {probe}")
    return probe


def check_demo_model_offline(box: Container) -> dict[str, str]:
    """With no network at all, the bundled demo model classifies held-out generated shapes."""
    import numpy as np
    from PIL import Image

    from cnnviz.demo.shapes import SHAPE_CLASSES, TEST_SEED, generate_sample

    inputs = box.root / "tmp" / "cnnviz-check"
    inputs.mkdir(mode=0o755)
    rng = np.random.default_rng(TEST_SEED)  # never used in training
    paths = {}
    for index, name in enumerate(SHAPE_CLASSES):
        path = inputs / f"{name}.png"
        Image.fromarray(generate_sample(rng, class_index=index).image).save(path)
        path.chmod(0o644)
        paths[f"/tmp/cnnviz-check/{name}.png"] = name
    result = box.run(["python", "-m", "cnnviz", "predict", *paths, "--top", "1", "--json"], offline=True)
    check(result.returncode == 0, f"the demo model failed offline:\n{result.stderr[-2000:]}")
    predicted = {item["image"]: item["predictions"][0]["label"] for item in json.loads(result.stdout)}
    wrong = {paths[p]: label for p, label in predicted.items() if label != paths[p]}
    check(not wrong and len(predicted) == len(paths), f"the demo model in the image misclassified {wrong}")
    return {paths[p]: label for p, label in predicted.items()}


def browser_helpers() -> ModuleType:
    """tests/browser_helpers.py, the set-up of the app's own browser tests (imports Playwright)."""
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    return importlib.import_module("browser_helpers")


def healthcheck_argv(config: ImageConfig) -> list[str]:
    kind, *rest = config.healthcheck
    check(kind in ("CMD", "CMD-SHELL"), f"the image has no HEALTHCHECK (build with --format docker): "
                                        f"{config.healthcheck}")
    return rest if kind == "CMD" else ["/bin/sh", "-c", rest[0]]


def check_pages_in_chromium(url: str) -> None:
    """Home page and Heatmaps page (a Grad-CAM computed in the container), no exception."""
    from playwright.sync_api import expect, sync_playwright

    helpers = browser_helpers()
    assert_no_exception, screenshot = helpers.assert_no_exception, helpers.screenshot

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"),
                                             args=helpers.CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=helpers.VIEWPORT)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(url)
            helpers.wait_for_app(page, BROWSER_TIMEOUT_MS)
            main = page.get_by_test_id("stMain")
            expect(main.get_by_role("heading", name="cnnviz: see what a CNN sees")).to_be_visible()
            assert_no_exception(page)
            screenshot(page, "docker-check-home")
            helpers.open_page(page, "Heatmaps")
            expect(main.locator("[data-testid=stImageCaption]:has-text('Grad-CAM:')").first).to_be_visible(
                timeout=BROWSER_TIMEOUT_MS)
            assert_no_exception(page)
            screenshot(page, "docker-check-heatmaps")
            check(not errors, f"JavaScript errors in the page: {errors}")
        except AssertionError as error:  # Playwright's expect and assert_no_exception
            raise CheckFailed(f"in Chromium: {error}") from None
        finally:
            browser.close()


def check_server(box: Container) -> dict[str, float]:
    """The image's command serves the app; health, HEALTHCHECK, the browser, then a clean SIGTERM."""
    helpers = browser_helpers()
    port = helpers.free_port()  # the image's port, changed as `docker run -e STREAMLIT_SERVER_PORT=...` would
    env = {"STREAMLIT_SERVER_PORT": str(port)}
    url = f"http://127.0.0.1:{port}"
    log_path = ARTIFACTS / "server.log"
    probe = healthcheck_argv(box.config)
    start = time.monotonic()
    with log_path.open("w") as server_log:
        server = subprocess.Popen(box.command(box.config.command, env), stdout=server_log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while not helpers._healthy(url):  # "ok" on /_stcore/health
            check(server.poll() is None,
                  f"the server exited with {server.returncode}:\n{log_path.read_text()[-3000:]}")
            check(time.monotonic() - start < SERVER_START_TIMEOUT_S,
                  f"no 'ok' on /_stcore/health after {SERVER_START_TIMEOUT_S} s")
            time.sleep(0.5)
        healthy_after = time.monotonic() - start
        result = box.run(probe, env, timeout=30)
        check(result.returncode == 0,
              f"the HEALTHCHECK command failed on a healthy server: {result.stderr[-1000:]}")
        browser_start = time.monotonic()
        check_pages_in_chromium(url)
        browser_seconds = time.monotonic() - browser_start
        server.send_signal(signal.SIGTERM)  # docker stop
        try:
            server.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise CheckFailed(f"the server ignored SIGTERM for {STOP_TIMEOUT_S} s") from None
        check(server.returncode == 0, f"the server exited with {server.returncode} on SIGTERM")
        check(box.run(probe, env, timeout=30).returncode != 0, "the HEALTHCHECK passes with no server")
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    return {"healthy_after_s": round(healthy_after, 1), "browser_s": round(browser_seconds, 1)}


# --- 5. what the image holds ---------------------------------------------------------------------
def package_sizes(root: Path) -> tuple[list[tuple[str, float]], float]:
    """([(package, MB)] largest first, MB of all installed packages) as the files in the image are."""
    sizes: dict[str, int] = {}
    total = 0
    for site in root.glob("usr/local/lib/python3*/*-packages"):
        for dist in metadata.distributions(path=[str(site)]):
            files = [dist.locate_file(f) for f in dist.files or []]
            sizes[f"{dist.metadata['Name']} {dist.version}"] = sum(
                os.lstat(f).st_size for f in files if os.path.lexists(f))
        total += sum(os.lstat(Path(d) / f).st_size for d, _, names in os.walk(site) for f in names)
    ranked = sorted(sizes.items(), key=lambda item: -item[1])
    return [(name, round(size / 1e6, 1)) for name, size in ranked], round(total / 1e6, 1)


# --- main ----------------------------------------------------------------------------------------
@contextlib.contextmanager
def machine_lock() -> Iterator[None]:
    """One check at a time on a machine: they share Podman's storage and its image tags."""
    with LOCK_FILE.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log("waiting for another docker-check on this machine")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def docker_check() -> dict:
    start = time.monotonic()
    ensure_tools()
    report: dict = {"versions": tool_versions()}
    with machine_lock():
        base, report["base_s"] = base_image()
        report["build_s"], report["cached_steps"] = build_image(base)
        config = image_config(IMAGE)
        base_size = image_config(base).size
        report.update(image=IMAGE, base=base, image_mb=round(config.size / 1e6),
                      base_mb=round(base_size / 1e6),
                      added_mb=round((config.size - base_size) / 1e6))
        log(f"image {report['image_mb']} MB; running it as a container")
        run_start = time.monotonic()
        with container(IMAGE, config) as box:
            report["packages_mb"], report["site_packages_mb"] = package_sizes(box.root)
            report["user"] = check_permissions(box)
            report["demo_predictions"] = check_demo_model_offline(box)
            report.update(check_server(box))
        report["run_s"] = round(time.monotonic() - run_start, 1)
    report["total_s"] = round(time.monotonic() - start, 1)
    # This script, podman, debootstrap and the processes run in the image (server, browser).
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    report["cpu_s"] = round(sum(u.ru_utime + u.ru_stime for u in usage), 1)
    report["base_s"], report["build_s"] = round(report["base_s"], 1), round(report["build_s"], 1)
    return report


def summary(report: dict) -> str:
    top = ", ".join(f"{name} {mb:.0f}" for name, mb in report["packages_mb"][:TOP_PACKAGES])
    return (f"image {report['image_mb']} MB ({report['added_mb']} MB over the {report['base_mb']} MB base; "
            f"installed packages {report['site_packages_mb']:.0f} MB)\n"
            f"largest packages (MB): {top}\n"
            f"base {report['base_s']} s, build {report['build_s']} s "
            f"({len(report['cached_steps'])} steps cached), "
            f"run checks {report['run_s']} s (healthy after {report['healthy_after_s']} s, browser "
            f"{report['browser_s']} s); total {report['total_s']} s, CPU {report['cpu_s']} s\n"
            f"versions: {report['versions']}")


def main() -> int:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(REPO_ROOT))  # cnnviz's shape generator draws the held-out test images
    # docker stop / a cancelled test run: unwind, so the container and its mounts are removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        report = docker_check()
    except Skip as reason:
        REPORT.write_text(json.dumps({"status": "skipped", "reason": str(reason)}, indent=1))
        log(f"SKIPPED: {reason}")
        return SKIPPED
    except (CheckFailed, subprocess.TimeoutExpired) as error:
        REPORT.write_text(json.dumps({"status": "failed", "reason": str(error)}, indent=1))
        log(f"FAILED: {error}")
        return 1
    REPORT.write_text(json.dumps({"status": "passed", **report}, indent=1))
    log(f"PASSED\n{summary(report)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
