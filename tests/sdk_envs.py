"""Per-SDK virtualenvs under ``.sdk-venvs/`` (created once per machine, then reused).

The Dapr SDK packages clash with each other (and with Microsoft's ``durabletask``): they
install the same top-level modules and register the same un-packaged proto symbols. Each
one therefore gets its own venv. Used by the conformance and e2e tests and by
``scripts/gen_protos.py`` (which imports this module), so the requirement sets live here only.

Creation is idempotent (a stamp file records the exact requirement set) and safe against
concurrent pytest processes (an exclusive ``fcntl`` lock per venv).
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SDK_VENVS = REPO / ".sdk-venvs"

OTEL_APP = ("opentelemetry-sdk==1.45.2", "opentelemetry-exporter-zipkin-json==1.45.1")

# name -> pip requirements. Changing a set rebuilds that venv on next use.
SDK_SETS: dict[str, tuple[str, ...]] = {
    "dt-dapr-017": ("durabletask-dapr==0.17.4", "pytest>=8", "pytest-asyncio>=0.23"),
    # dapr-ext-workflow 1.18.3 requires an unpinned ``dapr``; dapr 1.19 ships its own copy of
    # ``dapr/ext/workflow`` that would overwrite the 1.18.3 protos, so pin the matching core.
    "dapr-ext-118": ("dapr-ext-workflow==1.18.3", "dapr==1.18.3"),
    "dapr-119": ("dapr==1.19.0",),
    # The last Python SDK whose DaprClient drives workflows through Dapr's runtime API
    # (dapr.proto.runtime.v1.Dapr's *WorkflowBeta1 RPCs); its protos feed protos/dapr_runtime.
    "dapr-114": ("dapr==1.14.0",),
    # Microsoft's SDK: the other wire dialect (and, in ``durabletask.testing``, its reference
    # in-memory server). It installs the same top-level ``durabletask`` as durabletask-dapr.
    "durabletask-112": ("durabletask==1.12.0",),
    # The tracing tests' apps: each SDK with the OpenTelemetry SDK, whose spans join the
    # daemon's trace through the contexts it hands out (tests/tracing).
    "dapr-119-otel": ("dapr==1.19.0", *OTEL_APP),
    "durabletask-112-otel": ("durabletask==1.12.0", *OTEL_APP),
}

# name -> the SDK's generated ``*_pb2`` modules, as given to ``scripts/dump_descriptors.py``.
SDK_PB2_MODULES: dict[str, tuple[str, ...]] = {
    "dt-dapr-017": ("durabletask.internal.orchestrator_service_pb2",),
    "dapr-ext-118": ("dapr.ext.workflow._durabletask.internal",),
    "dapr-119": ("dapr.ext.workflow._durabletask.internal",),
    "durabletask-112": ("durabletask.internal.orchestrator_service_pb2",),
}

_STAMP = ".wfsidecar-stamp.json"


def sdk_python(name: str) -> Path:
    """Return the python of the named SDK venv, creating it first if needed."""
    requirements = SDK_SETS[name]
    venv = SDK_VENVS / name
    python = venv / "bin" / "python"
    stamp = venv / _STAMP
    wanted = {"requirements": list(requirements)}
    if _stamp_matches(stamp, wanted):
        return python
    with _locked(SDK_VENVS / f".{name}.lock"):
        if _stamp_matches(stamp, wanted):  # another process built it while we waited
            return python
        if venv.exists():
            shutil.rmtree(venv)
        _run([sys.executable, "-m", "venv", str(venv)])
        _run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
              *requirements])
        stamp.write_text(json.dumps(wanted, sort_keys=True) + "\n")
    return python


def sdk_sdist(requirement: str) -> Path:
    """Download and unpack the PyPI sdist of ``requirement`` (``name==version``) once.

    Returns the unpacked source tree, ``.sdk-venvs/sdists/<name>-<version>/<tree>``.
    """
    name, _, version = requirement.partition("==")
    if not version:
        raise ValueError(f"pin an exact version: {requirement!r}")
    root = SDK_VENVS / "sdists" / f"{name}-{version}"
    stamp = root / _STAMP
    wanted = {"requirements": [requirement]}
    if not _stamp_matches(stamp, wanted):
        with _locked(SDK_VENVS / f".sdist-{name}-{version}.lock"):
            if not _stamp_matches(stamp, wanted):
                _unpack_sdist(requirement, root)
                stamp.write_text(json.dumps(wanted, sort_keys=True) + "\n")
    trees = [p for p in root.iterdir() if p.is_dir() and p.name != "download"]
    if len(trees) != 1:
        raise RuntimeError(f"expected one source tree in {root}, found {trees}")
    return trees[0]


def _unpack_sdist(requirement: str, root: Path) -> None:
    if root.exists():
        shutil.rmtree(root)
    download = root / "download"
    download.mkdir(parents=True)
    _run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
          "--no-deps", "--no-binary", ":all:", requirement, "-d", str(download)])
    archives = sorted(download.glob("*.tar.gz"))
    if len(archives) != 1:
        raise RuntimeError(f"expected one sdist for {requirement}, got {archives}")
    with tarfile.open(archives[0]) as tar:
        tar.extractall(root, filter="data")


def _stamp_matches(stamp: Path, wanted: dict[str, list[str]]) -> bool:
    try:
        return bool(json.loads(stamp.read_text()) == wanted)
    except (OSError, ValueError):
        return False


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )


if __name__ == "__main__":  # python -m tests.sdk_envs [name...]: prebuild venvs
    for _name in sys.argv[1:] or list(SDK_SETS):
        print(_name, sdk_python(_name))
