"""The extensions on an in-process daemon with a raw worker, over real HTTP: list with
filters, sort, cursor paging and count; history; rerun; bulk terminate and purge with
dryRun; diagnostics; the daemon summary."""

from __future__ import annotations

from pathlib import Path

from tests.fakes import FakeClock
from tests.http._support import API, Http, Worker, complete, daemon, schedule, served, timer, worker
from wfsidecar import __version__
from wfsidecar.app import App

T0 = 1_751_830_402_000  # 2025-07-06T19:33:22Z


async def finish(http: Http, raw: Worker, instance_id: str, output: str = "1") -> None:
    await raw.accepted(await raw.next("orchestratorRequest"), actions=[complete(output)])
    await http.wait_status(instance_id, "COMPLETED")


async def test_list_filters_sort_and_count(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    app = daemon(tmp_path, clock)
    async with served(app) as http, worker(app) as raw:
        for n, name in enumerate(["alpha", "beta", "alpha", "beta", "alpha"]):
            await http.start(name, f"job-{n}", str(n))
            clock.advance(1)
        for _ in range(2):  # job-0 and job-1 complete; the rest stay PENDING
            await raw.accepted(await raw.next("orchestratorRequest"), actions=[complete()])
        await http.wait_status("job-1", "COMPLETED")
        await http.start("other", "x-1")

        assert await http.ids("&name=alpha") == ["job-0", "job-2", "job-4"]
        assert await http.ids("&status=COMPLETED") == ["job-0", "job-1"]
        assert await http.ids("&status=completed,pending&idPrefix=job-") == [
            f"job-{n}" for n in range(5)]
        assert await http.ids("&status=PENDING&status=COMPLETED&name=beta") == [
            "job-1", "job-3"]
        # Half-open [from, to), RFC 3339 or epoch milliseconds.
        assert await http.ids("&createdFrom=2025-07-06T19:33:23Z"
                              f"&createdTo={T0 + 3000}") == ["job-1", "job-2"]
        assert await http.ids("&completedFrom=2025-07-06T00:00:00%2B00:00") == [
            "job-0", "job-1"]
        assert await http.ids("&parentID=nobody") == []

        page = (await http.get(f"{API}?sort=id&order=asc&pageSize=2&count=true")).json()
        assert [r["instanceID"] for r in page["instances"]] == ["job-0", "job-1"]
        assert page["count"] == 6 and page["nextCursor"]
        row = page["instances"][0]
        assert row == {
            "instanceID": "job-0", "workflowName": "alpha", "version": None,
            "runtimeStatus": "COMPLETED", "createdAt": "2025-07-06T19:33:22Z",
            "lastUpdatedAt": row["lastUpdatedAt"], "completedAt": row["completedAt"],
            "parentInstanceID": None, "dialect": "dapr", "stalledReason": None,
            "customStatus": None, "historyLength": row["historyLength"],
            "storedBytes": row["storedBytes"]}
        assert row["historyLength"] > 0 and row["storedBytes"] > 0
        assert (await http.get(f"{API}?pageSize=1")).json()["count"] is None
        newest = (await http.get(f"{API}?pageSize=1")).json()["instances"][0]
        assert newest["instanceID"] == "x-1"  # default: newest created first


async def test_cursor_paging_visits_every_match_once(tmp_path: Path) -> None:
    app = daemon(tmp_path)
    async with served(app) as http:
        for n in range(23):
            await http.start("flow", f"i-{n:02d}")
        for sort in ("created", "id", "name", "updated", "completed"):
            for order in ("asc", "desc"):
                seen: list[str] = []
                cursor = ""
                while True:
                    reply = await http.get(f"{API}?sort={sort}&order={order}&pageSize=5"
                                           + (f"&cursor={cursor}" if cursor else ""))
                    assert reply.status == 200, reply
                    page = reply.json()
                    seen += [r["instanceID"] for r in page["instances"]]
                    cursor = page["nextCursor"]
                    if cursor is None:
                        break
                assert sorted(seen) == [f"i-{n:02d}" for n in range(23)], (sort, order)
                assert len(seen) == 23
        # A cursor of another sort order is refused, not misread.
        first = (await http.get(f"{API}?sort=id&pageSize=5")).json()["nextCursor"]
        refused = await http.get(f"{API}?sort=name&pageSize=5&cursor={first}")
        assert refused.error() == (400, "ERR_INVALID_CURSOR")


async def test_history_events_are_readable(tmp_path: Path) -> None:
    app = daemon(tmp_path)
    async with served(app) as http, worker(app) as raw:
        await http.start("flow", "h", '{"item": "book"}')
        await raw.accepted(await raw.next("orchestratorRequest"),
                           actions=[schedule(0, "charge", '{"amount": 5}')])
        activity = await raw.next("activityRequest")
        await raw.accepted(activity, result={"value": "not json"})
        await finish(http, raw, "h", '"paid"')
        reply = await http.get(f"{API}/h/history")
    assert reply.status == 200
    body = reply.json()
    assert body["instanceID"] == "h"
    events = body["events"]
    types = [e["type"] for e in events]
    assert types[:2] == ["OrchestratorStarted", "ExecutionStarted"]
    assert {"TaskScheduled", "TaskCompleted", "ExecutionCompleted"} <= set(types)
    started = next(e for e in events if e["type"] == "ExecutionStarted")
    assert started["name"] == "flow" and started["input"] == {"item": "book"}
    scheduled = next(e for e in events if e["type"] == "TaskScheduled")
    assert (scheduled["eventId"], scheduled["name"], scheduled["input"]) == (
        0, "charge", {"amount": 5})
    done = next(e for e in events if e["type"] == "TaskCompleted")
    assert done["taskScheduledId"] == 0 and done["result"] == "not json"
    assert next(e for e in events if e["type"] == "ExecutionCompleted")["result"] == "paid"
    assert all(e["timestamp"].endswith("Z") for e in events)


async def test_rerun_from_an_activity(tmp_path: Path) -> None:
    app = daemon(tmp_path)
    async with served(app) as http, worker(app) as raw:
        await http.start("flow", "src", '"a"')
        await raw.accepted(await raw.next("orchestratorRequest"),
                           actions=[schedule(0, "step", '"x"')])
        refused = await http.post(f"{API}/src/rerun", '{"fromEventID": 0}')
        assert refused.error() == (409, "ERR_RERUN_WORKFLOW")  # still running
        await raw.accepted(await raw.next("activityRequest"), result={"value": '"y"'})
        await finish(http, raw, "src")

        rerun = await http.post(f"{API}/src/rerun", '{"fromEventID": 0, '
                                '"newInstanceID": "copy-1", "input": {"v": 2}}')
        assert (rerun.status, rerun.json()) == (202, {"instanceID": "copy-1"})
        turn = await raw.next("orchestratorRequest")
        rescheduled = [e.taskScheduled for e in turn.orchestratorRequest.newEvents
                       if e.HasField("taskScheduled")]
        assert [(t.name, t.input.value) for t in rescheduled] == [("step", '{"v":2}')]

        assert (await http.post(f"{API}/src/rerun", '{"fromEventID": 0, '
                                '"newInstanceID": "copy-1"}')).error() == (
            409, "ERR_RERUN_WORKFLOW")
        not_activity = await http.post(f"{API}/src/rerun", '{"fromEventID": 99}')
        assert not_activity.error() == (400, "ERR_RERUN_WORKFLOW")
        random_id = await http.post(f"{API}/src/rerun", '{"fromEventID": 0}')
        assert random_id.status == 202 and random_id.json()["instanceID"] not in (
            "src", "copy-1")
        assert (await http.post(f"{API}/nope/rerun", '{"fromEventID": 0}')).error() == (
            404, "ERR_INSTANCE_ID_NOT_FOUND")


async def test_bulk_dry_run_counts_then_acts(tmp_path: Path) -> None:
    app = daemon(tmp_path)
    async with served(app) as http, worker(app) as raw:
        for n in range(5):
            await http.start("flow", f"b-{n}")
        for _ in range(2):
            await raw.accepted(await raw.next("orchestratorRequest"), actions=[complete()])
        await http.wait_status("b-1", "COMPLETED")
        before = await http.ids()

        purge = (await http.post(f"{API}/purge?dryRun=true")).json()
        assert purge["matched"] == 2 and purge["done"] == 0 and purge["dryRun"] is True
        assert purge["storedBytes"] > 0
        terminate = (await http.post(f"{API}/terminate?dryRun=true&idPrefix=b-")).json()
        assert (terminate["matched"], terminate["done"]) == (3, 0)
        narrowed = (await http.post(f"{API}/terminate?dryRun=1&status=COMPLETED")).json()
        assert narrowed["matched"] == 0  # terminate selects unfinished instances only
        assert await http.ids() == before  # dry runs changed nothing

        done = (await http.post(f"{API}/purge")).json()
        assert (done["matched"], done["done"], done["dryRun"]) == (2, 2, False)
        assert await http.ids() == ["b-2", "b-3", "b-4"]
        done = (await http.post(f"{API}/terminate?name=flow")).json()
        assert (done["matched"], done["done"]) == (3, 3)


async def test_diagnostics_of_a_stuck_instance(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    app = daemon(tmp_path, clock)
    async with served(app) as http:
        await http.start("flow", "d")
        lonely = (await http.get(f"{API}/d/diagnostics")).json()
        assert lonely["workflowTurn"] == {"state": "queued", "attempts": 0, "stream": None}
        assert lonely["inboxSize"] == 1 and lonely["workers"]["canRun"] is False
        assert any("no worker of the dapr dialect" in h for h in lonely["hints"])

        async with worker(app) as raw:
            await raw.accepted(await raw.next("orchestratorRequest"),
                               actions=[schedule(0, "slow"), timer(1, T0 + 60_000)])
            held = await raw.next("activityRequest")  # taken, never answered
            clock.advance(5)
            diagnosis = (await http.get(f"{API}/d/diagnostics")).json()
            assert held.activityRequest.taskId == 0
    assert diagnosis["runtimeStatus"] == "RUNNING" and diagnosis["secondsSinceProgress"] == 5
    [activity] = diagnosis["pendingActivities"]
    assert activity["taskId"] == 0 and activity["name"] == "slow"
    assert activity["dispatch"]["state"] == "dispatched"
    assert activity["dispatch"]["attempts"] == 1
    stream = activity["dispatch"]["stream"]
    assert activity["runnableByStreams"] == [stream]
    assert diagnosis["pendingTimers"] == [{"timerId": 1, "fireAt": "2025-07-06T19:34:22Z"}]
    assert diagnosis["workers"] == {"connectedStreams": [stream], "runnableByStreams": [stream],
                                    "canRun": True}
    assert diagnosis["lastFailure"] is None and diagnosis["inboxSize"] == 0


async def test_metadata_summarizes_the_daemon(tmp_path: Path) -> None:
    app: App = daemon(tmp_path)
    async with served(app) as http, worker(app) as raw:
        await http.start("flow", "m-1")
        await http.start("flow", "m-2")
        await finish(http, raw, "m-1")
        body = (await http.get("/v1.0/metadata")).json()
    assert app.ports is not None
    assert body["version"] == __version__ and body["uptimeSeconds"] >= 0
    listeners = {(li["name"], li["protocol"], li["dialect"], li["port"])
                 for li in body["listeners"]}
    assert listeners == {("dapr", "grpc", "dapr", app.ports.dapr_grpc),
                         ("durabletask", "grpc", "ms", app.ports.durabletask_grpc),
                         ("http", "http", None, app.ports.http)}
    assert body["workers"] == {"dapr": {"streams": 1, "filteredStreams": 0},
                               "ms": {"streams": 0, "filteredStreams": 0}}
    assert body["instances"]["total"] == 2
    assert body["instances"]["byStatus"]["COMPLETED"] == 1
    assert body["instances"]["byStatus"]["PENDING"] == 1
    assert body["store"]["backend"] == "sqlite" and body["store"]["sizeBytes"] > 0


async def test_openapi_document_names_every_route(tmp_path: Path) -> None:
    app = daemon(tmp_path)
    async with served(app) as http:
        document = (await http.get("/v1.0/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    operations = {op["operationId"] for path in document["paths"].values()
                  for op in path.values()}
    assert operations == {
        "healthz", "healthzOutbound", "metadata", "openapi", "start", "get", "raiseEvent",
        "pause", "resume", "terminate", "purge", "list", "history", "rerun", "diagnostics",
        "bulkTerminate", "bulkPurge", "storage"}


async def test_metadata_lists_the_metrics_listener_when_metrics_are_on(tmp_path: Path) -> None:
    app: App = daemon(tmp_path, **{"metrics.enabled": True, "metrics.port": 0})
    async with served(app) as http:
        body = (await http.get("/v1.0/metadata")).json()
    assert app.ports is not None and app.ports.metrics
    assert {"name": "metrics", "protocol": "http", "dialect": None, "host": "127.0.0.1",
            "port": app.ports.metrics} in body["listeners"]
