"""The OpenAPI document is true: schemathesis fuzzes a real daemon (a subprocess, over
real HTTP) from ``/v1.0/openapi.json`` and every answer must be a non-5xx that the
document describes (status, content type and body schema).

Bounded: each operation gets ``EXAMPLES`` valid and ``EXAMPLES`` invalid requests
(hypothesis, derandomized), plus ``EXAMPLES`` valid ones aimed at an instance that
exists; the counts are printed (``-s`` shows them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.daemon import WFSIDECAR, Daemon, daemon_args

pytestmark = [pytest.mark.process, pytest.mark.timeout(240)]

EXAMPLES = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
SEEDED = "seed-1"


def _fuzz(operation: Any, base_url: str, mode: GenerationMode, runs: Counter[str],
          session: requests.Session, **fixed: Any) -> None:
    strategy = operation.as_strategy(generation_mode=mode, **fixed)
    label = f"{operation.label} [{mode.value}{' seeded' if fixed else ''}]"

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate, Phase.shrink])
    @given(case=strategy)
    def run(case: Any) -> None:
        runs[label] += 1
        case.call_and_validate(base_url=base_url, session=session, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        # An operation with nothing to get wrong (no parameters, no body) has no
        # invalid requests to generate.
        assert mode is GenerationMode.NEGATIVE and runs[label] == 0, label


def test_api_matches_its_openapi_document(tmp_path: Path,
                                          spawn: Callable[..., Daemon]) -> None:
    daemon = spawn([*WFSIDECAR, *daemon_args(tmp_path)])
    port = daemon.wait_ready()["http_port"]
    base_url = f"http://127.0.0.1:{port}"
    with requests.Session() as session:
        started = session.post(f"{base_url}/v1.0/workflows/dapr/flow/start",
                               params={"instanceID": SEEDED}, data='{"n": 1}', timeout=10)
        assert started.status_code == 202, started.text
        schema = schemathesis.openapi.from_url(f"{base_url}/v1.0/openapi.json")
        runs: Counter[str] = Counter()
        operations = [result.ok() for result in schema.get_all_operations()]
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz(operation, base_url, mode, runs, session)
            if "{instanceID}" in operation.path:
                _fuzz(operation, base_url, GenerationMode.POSITIVE, runs, session,
                      path_parameters={"component": "dapr", "instanceID": SEEDED})
    total = sum(runs.values())
    print(f"\nschemathesis: {len(operations)} operations, {len(runs)} runs, "
          f"{total} requests, 0 failures")
    for label, count in sorted(runs.items()):
        print(f"  {count:4d}  {label}")
    # Every operation of the document but the document itself, which schemathesis
    # leaves out of the operations it loads from that URL.
    document = requests.get(f"{base_url}/v1.0/openapi.json", timeout=10).json()
    assert {op.label for op in operations} == {
        f"{method.upper()} {path}" for path, methods in document["paths"].items()
        for method in methods} - {"GET /v1.0/openapi.json"}
    assert total >= len(operations) * EXAMPLES
    assert "Traceback" not in daemon.stderr()  # no unexpected error was logged
