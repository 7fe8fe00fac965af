"""Differential test of the Microsoft dialect (issue #4).

The same scenario script (``scenarios.py``, run inside the ``durabletask-112`` SDK venv with the
real ``durabletask`` 1.12.0 clients and worker) runs against two servers:

- the reference: ``durabletask.testing.InMemoryOrchestrationBackend`` from the same wheel
  (``reference_server.py``);
- the candidate: a real ``wfsidecar`` daemon on its ``durabletask_grpc_port``.

Every scenario's normalized outcome must be equal on both, except where the reference is known
to be wrong or to lack a feature: ``KNOWN_REFERENCE_GAPS`` states the reason and the correct
outcome, and the daemon must produce that instead.

Set ``WFSIDECAR_DIFF_CANDIDATE=reference`` to use a second reference server as the candidate:
reference vs reference proves the harness is deterministic (every scenario must then be equal,
gaps included).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from tests.daemon import REPO, WFSIDECAR, Daemon, daemon_args
from tests.sdk_envs import sdk_python

HERE = REPO / "tests" / "differential"
SCENARIOS_PY = HERE / "scenarios.py"
REFERENCE_PY = HERE / "reference_server.py"
CANDIDATE = os.environ.get("WFSIDECAR_DIFF_CANDIDATE", "daemon")
# Hard cap on one scenarios.py run (it also has its own budget, DIFF_RUN_BUDGET).
RUN_TIMEOUT = 720

pytestmark = [pytest.mark.process, pytest.mark.timeout(900)]


def _scenario_names() -> list[str]:
    """Names of the ``@scenario``-decorated functions, in file order (no SDK import needed)."""
    names = []
    for node in ast.parse(SCENARIOS_PY.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                if isinstance(target, ast.Name) and target.id == "scenario":
                    names.append(node.name)
    return names


SCENARIO_NAMES = _scenario_names()

_NONE_OK = {"custom_status": None, "failure": None}


def _done(name: str, status: str, output: Any, input: Any = None, **extra: Any) -> dict[str, Any]:
    """A normalized orchestration summary, as ``scenarios.summary`` prints it."""
    return {**_NONE_OK, "name": name, "status": status, "input": input, "output": output, **extra}


# scenario -> why the reference is wrong, and the outcome a correct server must produce.
KNOWN_REFERENCE_GAPS: dict[str, dict[str, Any]] = {
    "wait_unknown_instance": {
        "reason": "protocol.md §3.2: WaitForInstanceStart/Completion return exists=false "
                  "immediately for an unknown instance (the client maps that to None); the "
                  "reference long-polls until the client deadline (then None or "
                  "TimeoutError, by timing).",
        "expected": {"wait_start": None, "wait_completion": None},
    },
    "sub_orchestration_parent_id": {
        "reason": "protocol.md §5.2 createSubOrchestration: the child's ExecutionStarted carries "
                  "parentInstance{orchestrationInstance{parentId}}, so ctx.parent_instance_id is "
                  "the parent's id; the reference creates children without parentInstance.",
        "expected": {
            "done": _done("parent_asks_child_ids", "COMPLETED",
                          {"instance_id": "<P>-main:0001", "parent_instance_id": "<P>-main"}),
            "child": _done("child_reports_ids", "COMPLETED",
                           {"instance_id": "<P>-main:0001", "parent_instance_id": "<P>-main"}),
        },
    },
    "sub_orchestration_failure_caught": {
        "reason": "protocol.md §5.2: SubOrchestrationInstanceFailed carries the child's own "
                  "failureDetails (go does); the reference wraps the message in a new "
                  "builtins.Exception, losing the child's error type (builtins.ValueError).",
        "expected": {
            "done": _done("parent_catches_child", "COMPLETED", {
                "caught": "TaskFailedError", "error_type": "builtins.ValueError",
                "message": "child boom", "str": "Sub-orchestration task #1 failed: child boom"}),
            "child": {**_done("failing_child", "FAILED", None, input="child boom"),
                      "failure": {"message": "child boom", "type": "builtins.ValueError"}},
            "history": ["ExecutionStarted", "SubOrchestrationInstanceCreated",
                        "SubOrchestrationInstanceFailed", "ExecutionCompleted"],
        },
    },
    "terminate_recursive": {
        "reason": "protocol.md §3.2 TerminateInstance: with recursive=true (the MS client "
                  "default) the children listed in the history are terminated too; the "
                  "reference logs 'Recursive termination is not supported' and leaves them "
                  "RUNNING.",
        "expected": {
            "done": _done("waits_for_children", "TERMINATED", "stop all", input=2),
            "children": ["TERMINATED", "TERMINATED"],
        },
    },
    "purge_recursive": {
        "reason": "protocol.md §3.2 PurgeInstances: with recursive=true the sub-orchestrations "
                  "from the history are purged first and counted; the reference purges only "
                  "the parent (deletedInstanceCount 1, children kept).",
        "expected": {"deleted": 3, "parent": None, "children": [None, None]},
    },
    "scheduled_start": {
        "reason": "protocol.md §3.2 StartInstance / §7: a future scheduledStartTimestamp delays "
                  "the first dispatch and the instance stays PENDING until then; the reference "
                  "dispatches at once (it only stamps OrchestratorStarted with the start time).",
        "expected": {
            "status_before_start_at": "PENDING",
            "done": _done("echo", "COMPLETED", "later", input="later"),
            "completed_not_before_start_at": True,
        },
    },
    "tags": {
        "reason": "protocol.md §7 Tags: ScheduleTaskAction.tags -> TaskScheduled.tags -> "
                  "ActivityRequest.tags; the reference drops activity tags from TaskScheduled.",
        "expected": {
            "done": _done("tagged", "COMPLETED", 2),
            "execution_started_tags": [{"owner": "diff", "run": "x"}],
            "task_scheduled_tags": [{"step": "one", "team": "diff"}],
        },
    },
    "entity_lock_isolation": {
        "reason": "Durable entities (DurableTask.Core SchedulerState.MayDequeue): while an "
                  "orchestration holds an entity's lock, operations from anyone else (here a "
                  "client signal) stay queued until the lock is released; the reference runs "
                  "them inside the critical section, so the holder sees the foreign update.",
        "expected": {
            "holding": "locked",
            "locked_while_held": True,
            "done": {**_done("lock_and_hold", "COMPLETED", [1, 1], input="<P>-held"),
                     "custom_status": "locked"},
            "final": 101,
        },
    },
}


# ---------------------------------------------------------------------------------------------
# Servers and runs
# ---------------------------------------------------------------------------------------------


class ReferenceServer:
    """``reference_server.py`` in the SDK venv; stops when its stdin closes (or on kill)."""

    def __init__(self, python: Path, log: Path) -> None:
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [str(python), str(REFERENCE_PY)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._log, env=_sdk_env(), cwd=log.parent,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()  # blocks until READY or exit
        if not line.startswith("READY "):
            self.close()
            raise AssertionError(f"reference server did not start: {line!r} {log.read_text()}")
        self.port = int(line.split()[1])

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()  # reference_server.py stops when its stdin closes
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc.stdout.close()
        self._log.close()


def _sdk_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # the SDK venv must not see the project's modules
    return env


@dataclass
class Run:
    label: str
    proc: subprocess.Popen[bytes]
    stdout: IO[bytes]
    stderr_path: Path

    def result(self, timeout: float) -> dict[str, Any]:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            self.stdout.close()
            raise AssertionError(f"{self.label} run timed out:\n{self.stderr_tail()}") from None
        with self.stdout:
            self.stdout.seek(0)
            lines = self.stdout.read().decode(errors="replace").strip().splitlines()
        if self.proc.returncode != 0 or not lines:
            raise AssertionError(
                f"{self.label} run failed ({self.proc.returncode}):\n{self.stderr_tail()}")
        outcomes: dict[str, Any] = json.loads(lines[-1])
        return outcomes

    def stderr_tail(self, chars: int = 6000) -> str:
        return self.stderr_path.read_text(errors="replace")[-chars:]


def _start_run(python: Path, label: str, port: int, tmp: Path, budget: float) -> Run:
    stdout = (tmp / f"{label}.out").open("w+b")
    stderr_path = tmp / f"{label}.err"
    env = {**_sdk_env(), "DIFF_RUN_BUDGET": str(budget)}
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen([str(python), str(SCENARIOS_PY), f"localhost:{port}"],
                                stdout=stdout, stderr=stderr, env=env, cwd=tmp)
    return Run(label, proc, stdout, stderr_path)


@dataclass
class Outcomes:
    reference: dict[str, Any]
    candidate: dict[str, Any]
    candidate_label: str
    candidate_log: str  # tail of the candidate server's own log (daemon stderr)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcomes]:
    python = sdk_python("durabletask-112")
    tmp = tmp_path_factory.mktemp("differential")
    servers: list[ReferenceServer] = []
    daemon: Daemon | None = None
    try:
        servers.append(ReferenceServer(python, tmp / "reference.log"))
        if CANDIDATE == "reference":
            servers.append(ReferenceServer(python, tmp / "reference2.log"))
            candidate_port = servers[1].port
        else:
            # The function-scoped ``spawn`` fixture cannot serve a module fixture; this is
            # what it does (same argv, same env), with the daemon closed at module end.
            dtmp = tmp / "daemon"
            dtmp.mkdir()
            daemon = Daemon(dtmp, [*WFSIDECAR, *daemon_args(dtmp)],
                            {**os.environ, "PYTHONPATH": str(REPO)})
            candidate_port = daemon.wait_ready()["durabletask_grpc_port"]
        started = time.monotonic()
        ref_run = _start_run(python, "reference", servers[0].port, tmp, budget=600)
        cand_run = _start_run(python, CANDIDATE, candidate_port, tmp, budget=480)
        reference = ref_run.result(RUN_TIMEOUT)
        candidate = cand_run.result(max(30.0, RUN_TIMEOUT - (time.monotonic() - started)))
        log = daemon.stderr()[-4000:] if daemon is not None else ""
        yield Outcomes(reference, candidate, CANDIDATE, log)
    finally:
        if daemon is not None:
            daemon.close()
        for server in servers:
            server.close()


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------


def test_scenario_inventory(outcomes: Outcomes) -> None:
    assert len(SCENARIO_NAMES) >= 30
    assert len(set(SCENARIO_NAMES)) == len(SCENARIO_NAMES)
    assert sorted(outcomes.reference) == sorted(SCENARIO_NAMES)
    assert sorted(outcomes.candidate) == sorted(SCENARIO_NAMES)
    assert set(KNOWN_REFERENCE_GAPS) <= set(SCENARIO_NAMES)


def test_reference_run_has_no_errors(outcomes: Outcomes) -> None:
    errors = {name: out["error"] for name, out in outcomes.reference.items()
              if isinstance(out, dict) and "error" in out}
    assert errors == {}


def test_known_gaps_are_still_gaps(outcomes: Outcomes) -> None:
    """A gap whose stated outcome the reference now produces is stale: drop it."""
    stale = [name for name, gap in KNOWN_REFERENCE_GAPS.items()
             if outcomes.reference.get(name) == gap["expected"]]
    assert stale == []


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_scenario(name: str, outcomes: Outcomes) -> None:
    got = outcomes.candidate[name]
    if outcomes.candidate_label != "reference" and name in KNOWN_REFERENCE_GAPS:
        expected = KNOWN_REFERENCE_GAPS[name]["expected"]
        why = f"reference gap: {KNOWN_REFERENCE_GAPS[name]['reason']}"
    else:
        expected = outcomes.reference[name]
        why = "must equal the reference outcome"
    if got != expected and isinstance(got, dict) and "error" in got:
        why += f"\n{outcomes.candidate_label} error: {got['error']}\n{outcomes.candidate_log}"
    assert got == expected, why
