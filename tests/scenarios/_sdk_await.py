"""The ``await`` command shared by the Dapr SDK scenario apps (``fault_app.py``,
``restart_app.py``). It runs in the SDK venv, imported as a sibling module: Python puts
the running script's folder first on ``sys.path``."""

from __future__ import annotations

import json
from typing import Any


def await_all(client: Any, instance_ids: list[str], timeout: int) -> dict[str, list[Any]]:
    """Wait for each instance to finish; ``{id: [status, output]}``, output JSON-decoded."""
    done = {}
    for instance_id in instance_ids:
        state = client.wait_for_workflow_completion(instance_id, timeout_in_seconds=timeout)
        assert state is not None
        output = json.loads(state.serialized_output) if state.serialized_output else None
        done[instance_id] = [state.runtime_status.name, output]
    return done
