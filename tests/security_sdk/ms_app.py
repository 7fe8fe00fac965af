"""A Microsoft durabletask (1.12) app: worker and client in one process, the token as
``authorization: Bearer`` metadata, TLS with ``secure_channel=True``.

Environment: DT_ADDRESS (host:port), DT_TOKEN (the worker's; the client's too unless
DT_CLIENT_TOKEN is set), DT_SECURE (1 for TLS).
``run`` / ``call`` as in dapr_app.py. Runs inside the SDK virtualenv.
"""

from __future__ import annotations

import os
import sys

import _client_cert

_client_cert.install()

import grpc  # noqa: E402
from durabletask import client as dt_client  # noqa: E402
from durabletask import task, worker  # noqa: E402

ADDRESS = os.environ["DT_ADDRESS"]
METADATA = [("authorization", f"Bearer {os.environ['DT_TOKEN']}")]
# The client may hold another role's token than the worker (DT_CLIENT_TOKEN).
CLIENT_METADATA = [("authorization",
                    f"Bearer {os.environ.get('DT_CLIENT_TOKEN') or os.environ['DT_TOKEN']}")]
SECURE = os.environ.get("DT_SECURE") == "1"


def hello(ctx: task.ActivityContext, name: str) -> str:
    return f"hello {name}"


def greet(ctx: task.OrchestrationContext, name: str):  # type: ignore[no-untyped-def]
    return (yield ctx.call_activity(hello, input=name))


def main(mode: str) -> int:
    client = dt_client.TaskHubGrpcClient(host_address=ADDRESS, metadata=CLIENT_METADATA,
                                         secure_channel=SECURE)
    if mode == "call":
        try:
            client.schedule_new_orchestration(greet, input="x", instance_id="refused-1")
        except grpc.RpcError as exc:
            print("REFUSED", exc.code().name, flush=True)  # type: ignore[attr-defined]
            return 3
        print("OK", flush=True)
        return 0
    with worker.TaskHubGrpcWorker(host_address=ADDRESS, metadata=METADATA,
                                  secure_channel=SECURE) as w:
        w.add_orchestrator(greet)
        w.add_activity(hello)
        w.start()
        instance = client.schedule_new_orchestration(greet, input="ms")
        state = client.wait_for_orchestration_completion(instance, timeout=60)
        assert state is not None
        print(state.runtime_status.name, state.serialized_output, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
