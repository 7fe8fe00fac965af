"""The durabletask-dapr 0.17.4 sdist's own e2e suite against a wfsidecar daemon.

The sdist on PyPI ships ``tests/durabletask/test_orchestration_e2e{,_async}.py`` (marker
``e2e``; 19 sync + 14 async test cases once parametrized). They find the sidecar through
``DAPR_GRPC_ENDPOINT`` and speak the Dapr dialect, so they run unmodified against the
daemon's Dapr listener (protocol.md §8.1). Nothing here is copied from the SDK: the sdist
is downloaded at test time and cached under ``.sdk-venvs/sdists/``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.daemon import WFSIDECAR, Daemon, daemon_args
from tests.sdk_envs import sdk_python, sdk_sdist

SDIST = "durabletask-dapr==0.17.4"
EXPECTED_PASSED = 33
SUITE_TIMEOUT = 900


@dataclass
class JUnitResult:
    passed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # name -> first message line(s)
    skipped: list[str] = field(default_factory=list)


def parse_junit(path: Path) -> JUnitResult:
    """Outcome per test case of a pytest ``--junitxml`` report."""
    result = JUnitResult()
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        if bad is not None:
            message = bad.get("message") or (bad.text or "").strip()
            result.failed[name] = message[:500]
        elif case.find("skipped") is not None:
            result.skipped.append(name)
        else:
            result.passed.append(name)
    return result


@pytest.mark.process
@pytest.mark.slow
@pytest.mark.timeout(SUITE_TIMEOUT + 300)  # + first-run venv build and sdist download
def test_durabletask_dapr_sdist_e2e_suite(
    tmp_path: Path, spawn: Callable[..., Daemon]
) -> None:
    python = sdk_python("dt-dapr-017")
    source = sdk_sdist(SDIST)
    daemon = spawn([*WFSIDECAR, *daemon_args(tmp_path)])
    port = daemon.wait_ready()["dapr_grpc_port"]

    junit = tmp_path / "junit.xml"
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTEST_ADDOPTS", "DAPR_GRPC_HOST",
                        "DAPR_RUNTIME_HOST", "DAPR_GRPC_PORT")}
    env["DAPR_GRPC_ENDPOINT"] = f"localhost:{port}"
    try:
        run = subprocess.run(
            [str(python), "-m", "pytest", "-m", "e2e", "tests/durabletask",
             "-p", "no:cacheprovider", "-q", f"--junitxml={junit}"],
            cwd=source, env=env, capture_output=True, text=True, timeout=SUITE_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"SDK suite still running after {SUITE_TIMEOUT}s\n"
                    f"{_tail(exc.stdout)}\n--- daemon stderr ---\n{_tail(daemon.stderr())}")

    assert junit.exists(), (
        f"no JUnit report (pytest exit {run.returncode})\n{_tail(run.stdout)}\n{_tail(run.stderr)}"
    )
    result = parse_junit(junit)
    summary = (f"{len(result.passed)} passed, {len(result.failed)} failed, "
               f"{len(result.skipped)} skipped (pytest exit {run.returncode})")
    if result.failed or len(result.passed) != EXPECTED_PASSED:
        failures = "\n".join(f"  FAILED {name}: {msg}" for name, msg in result.failed.items())
        pytest.fail(
            f"durabletask-dapr e2e suite: {summary}, expected {EXPECTED_PASSED} passed\n"
            f"{failures}\n--- suite output ---\n{_tail(run.stdout)}\n"
            f"--- daemon stderr ---\n{_tail(daemon.stderr())}"
        )
    assert run.returncode == 0, summary

    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(30) == 0, f"daemon exit on SIGTERM\n{_tail(daemon.stderr())}"


def _tail(text: str | bytes | None, limit: int = 6000) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return text[-limit:]


def test_parse_junit_counts_outcomes(tmp_path: Path) -> None:
    report = tmp_path / "r.xml"
    report.write_text(
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">'
        '<testcase classname="t.m" name="ok"/>'
        '<testcase classname="t.m" name="bad"><failure message="boom">tb</failure></testcase>'
        '<testcase classname="t.m" name="err"><error message="setup">tb</error></testcase>'
        '<testcase classname="t.m" name="skip"><skipped message="s"/></testcase>'
        "</testsuite></testsuites>"
    )
    result = parse_junit(report)
    assert result.passed == ["t.m::ok"]
    assert result.failed == {"t.m::bad": "boom", "t.m::err": "setup"}
    assert result.skipped == ["t.m::skip"]
