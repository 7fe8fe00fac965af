"""A Dapr SDK worker (dapr-ext-workflow 1.18.3) that tests drive from outside, run by tests.

Runs inside the SDK virtualenv, never imported by the project. It registers the workflows
that the runtime-API scenario (``runtime_api_client.py``, through ``DaprClient``, which runs
no workflow code), the HTTP API test (tests/http/test_sdk_worker.py) and the dashboard's
tests (tests/ui, ``fanout``) drive, prints
``SERVING`` once connected to the daemon at ``$DAPR_GRPC_ENDPOINT``, and runs until its
stdin closes.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta

from dapr.ext import workflow as wf

HOST, PORT = os.environ["DAPR_GRPC_ENDPOINT"].rsplit(":", 1)
runtime = wf.WorkflowRuntime(host=HOST, port=PORT)


@runtime.activity(name="approve_item")
def approve_item(ctx: wf.WorkflowActivityContext, who: str) -> str:
    return f"approved by {who}"


@runtime.activity(name="explode")
def explode(ctx: wf.WorkflowActivityContext, _: object) -> None:
    raise ValueError("boom")


@runtime.workflow(name="approval")
def approval(ctx: wf.DaprWorkflowContext, order: dict):  # type: ignore[no-untyped-def,type-arg]
    ctx.set_custom_status("waiting")
    who = yield ctx.wait_for_external_event("approve")
    verdict = yield ctx.call_activity(approve_item, input=who)
    return {"item": order["item"], "verdict": verdict}


@runtime.workflow(name="waiter")
def waiter(ctx: wf.DaprWorkflowContext, _: object):  # type: ignore[no-untyped-def]
    yield ctx.wait_for_external_event("never")


@runtime.workflow(name="tree")
def tree(ctx: wf.DaprWorkflowContext, _: object):  # type: ignore[no-untyped-def]
    yield ctx.call_child_workflow(waiter, instance_id=f"{ctx.instance_id}-child")


@runtime.workflow(name="failing")
def failing(ctx: wf.DaprWorkflowContext, _: object):  # type: ignore[no-untyped-def]
    yield ctx.call_activity(explode, input=None)


@runtime.workflow(name="double")
def double(ctx: wf.DaprWorkflowContext, value: int):  # type: ignore[no-untyped-def]
    return value * 2


@runtime.workflow(name="sleeper")
def sleeper(ctx: wf.DaprWorkflowContext, _: object):  # type: ignore[no-untyped-def]
    yield ctx.create_timer(timedelta(hours=1))


_attempts: dict[str, int] = {}


@runtime.activity(name="square")
def square(ctx: wf.WorkflowActivityContext, n: int) -> int:
    time.sleep(0.05 * n)  # unequal durations, so the dashboard's timeline bars differ
    return n * n


@runtime.activity(name="flaky")
def flaky(ctx: wf.WorkflowActivityContext, key: str) -> str:
    # Fails its first attempt per key, so the retry policy's second attempt is in the history.
    _attempts[key] = _attempts.get(key, 0) + 1
    if _attempts[key] == 1:
        raise ConnectionError(f"{key}: warehouse unreachable (attempt 1)")
    return f"reserved on attempt {_attempts[key]}"


@runtime.workflow(name="fanout")
def fanout(ctx: wf.DaprWorkflowContext, n: int):  # type: ignore[no-untyped-def]
    """Every kind of step the dashboard's timeline draws: a fan-out of activities, a
    durable timer, an activity retried once, a child workflow and an event wait."""
    squares = yield wf.when_all([ctx.call_activity(square, input=i) for i in range(n)])
    yield ctx.create_timer(timedelta(seconds=0.5))
    retry = wf.RetryPolicy(first_retry_interval=timedelta(milliseconds=300),
                           max_number_of_attempts=3)
    reserved = yield ctx.call_activity(flaky, input=ctx.instance_id, retry_policy=retry)
    doubled = yield ctx.call_child_workflow(double, input=sum(squares),
                                            instance_id=f"{ctx.instance_id}-child")
    ctx.set_custom_status("waiting for approval")
    who = yield ctx.wait_for_external_event("approve")
    return {"squares": squares, "reserved": reserved, "doubled": doubled, "approvedBy": who}


if __name__ == "__main__":
    runtime.start()
    print("SERVING", flush=True)
    sys.stdin.read()  # until the test closes our stdin
    runtime.shutdown()
