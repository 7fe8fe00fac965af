"""Bad input over real HTTP: malformed JSON, bad ids, unknown status names and parameters,
oversized bodies (``listeners.http.max_body_size``), bad cursors and query values. Each
gets a 4xx with the error JSON, and nothing changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from tests.http._support import API, Http, complete, daemon, served, worker

LIMIT = 1024


async def state(http: Http) -> list[tuple[str, str, int]]:
    """What a change would show: every instance, its status and history length."""
    rows = (await http.get(f"{API}?pageSize=10000")).json()["instances"]
    return sorted((r["instanceID"], r["runtimeStatus"], r["historyLength"]) for r in rows)


async def test_each_bad_input_is_a_4xx_and_changes_nothing(tmp_path: Path) -> None:
    app = daemon(tmp_path, **{"listeners.http.max_body_size": LIMIT})
    async with served(app) as http, worker(app) as raw:
        await http.start("flow", "done")
        await raw.accepted(await raw.next("orchestratorRequest"), actions=[complete("1")])
        await http.wait_status("done", "COMPLETED")
        await http.start("flow", "open")
        before = await state(http)

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(4):
                yield b"x" * (LIMIT // 2)

        cases = [
            # malformed JSON and bodies
            ("POST", f"{API}/done/rerun", "{not json", 400, "ERR_MALFORMED_REQUEST"),
            ("POST", f"{API}/done/rerun", "[1, 2]", 400, "ERR_MALFORMED_REQUEST"),
            ("POST", f"{API}/done/rerun", '{"fromEventID": "0"}', 400,
             "ERR_MALFORMED_REQUEST"),
            ("POST", f"{API}/done/rerun", '{"fromEventID": true}', 400,
             "ERR_MALFORMED_REQUEST"),
            ("POST", f"{API}/done/rerun", '{"fromEventID": 0, "extra": 1}', 400,
             "ERR_MALFORMED_REQUEST"),
            ("POST", f"{API}/done/rerun", '{"fromEventID": 0, "newInstanceID": 7}', 400,
             "ERR_MALFORMED_REQUEST"),
            ("POST", f"{API}/flow/start?instanceID=n1", b"\xff\xfe", 400,
             "ERR_MALFORMED_REQUEST"),
            ("POST", f"{API}/open/raiseEvent/e", b"\xc3", 400, "ERR_MALFORMED_REQUEST"),
            # bad ids
            ("POST", f"{API}/flow/start?instanceID=a%2Fb", None, 400, "ERR_INSTANCE_ID_INVALID"),
            ("POST", f"{API}/flow/start?instanceID=%C3%A9t%C3%A9", None, 400,
             "ERR_INSTANCE_ID_INVALID"),
            ("POST", f"{API}/flow/start?instanceID={'a' * 65}", None, 400,
             "ERR_INSTANCE_ID_TOO_LONG"),
            ("POST", f"{API}/done/rerun", '{"fromEventID": 0, "newInstanceID": "no way"}',
             400, "ERR_INSTANCE_ID_INVALID"),
            ("POST", f"{API}/done/rerun", '{"fromEventID": 0, "newInstanceID": "' + "b" * 65
             + '"}', 400, "ERR_INSTANCE_ID_TOO_LONG"),
            # unknown status names and parameters, bad values
            ("GET", f"{API}?status=RUNNNING", None, 400, "ERR_INVALID_QUERY"),
            ("GET", f"{API}?status=UNKNOWN", None, 400, "ERR_INVALID_QUERY"),
            ("POST", f"{API}/purge?status=COMPLETED,DONE", None, 400, "ERR_INVALID_QUERY"),
            ("POST", f"{API}/terminate?stauts=RUNNING", None, 400, "ERR_INVALID_QUERY"),
            ("POST", f"{API}/purge?dryRun=maybe", None, 400, "ERR_INVALID_QUERY"),
            ("POST", f"{API}/purge?createdFrom=yesterday", None, 400, "ERR_INVALID_QUERY"),
            ("POST", f"{API}/purge?createdTo=2025-07-06T10:00:00", None, 400,
             "ERR_INVALID_QUERY"),  # no zone
            ("GET", f"{API}?pageSize=0", None, 400, "ERR_INVALID_QUERY"),
            ("GET", f"{API}?pageSize=10001", None, 400, "ERR_INVALID_QUERY"),
            ("GET", f"{API}?pageSize=-1", None, 400, "ERR_INVALID_QUERY"),
            ("GET", f"{API}?sort=age", None, 400, "ERR_INVALID_QUERY"),
            ("GET", f"{API}?order=up", None, 400, "ERR_INVALID_QUERY"),
            ("GET", f"{API}?count=yes", None, 400, "ERR_INVALID_QUERY"),
            ("GET", f"{API}?dryRun=true", None, 400, "ERR_INVALID_QUERY"),  # bulk only
            # bad cursors
            ("GET", f"{API}?cursor=not-a-cursor", None, 400, "ERR_INVALID_CURSOR"),
            ("GET", f"{API}?cursor=W10", None, 400, "ERR_INVALID_CURSOR"),  # "[]"
            ("GET", f"{API}?cursor=%E2%9C%93", None, 400, "ERR_INVALID_CURSOR"),
            # oversized bodies, with and without a declared length
            ("POST", f"{API}/flow/start?instanceID=big", b"x" * (LIMIT + 1), 413,
             "ERR_BODY_TOO_LARGE"),
            ("POST", f"{API}/open/raiseEvent/e", b"x" * (LIMIT + 1), 413,
             "ERR_BODY_TOO_LARGE"),
            ("POST", f"{API}/open/terminate", b"x" * (10 * LIMIT), 413, "ERR_BODY_TOO_LARGE"),
            ("POST", f"{API}/flow/start?instanceID=chunked", chunks, 413,
             "ERR_BODY_TOO_LARGE"),
        ]
        for method, path, body, status, code in cases:
            data = body() if callable(body) else body
            reply = await http.call(method, path, data)
            assert reply.error() == (status, code), (method, path, body, reply)
            assert reply.content_type == "application/json"
            assert reply.json()["message"]
        assert await state(http) == before
        # A body at the limit is fine.
        assert (await http.post(f"{API}/open/raiseEvent/e", b"y" * LIMIT)).status == 202


async def test_unknown_route_and_method_answer_the_error_json(tmp_path: Path) -> None:
    app = daemon(tmp_path)
    async with served(app) as http:
        assert (await http.get("/v1.0/workflow/dapr")).error() == (404, "ERR_ROUTE_NOT_FOUND")
        wrong = await http.call("DELETE", f"{API}/x")
        assert wrong.error() == (405, "ERR_METHOD_NOT_ALLOWED")
        assert wrong.headers["Allow"] == "GET,HEAD"
        assert (await http.get(f"{API}/x/rerun")).error() == (405, "ERR_METHOD_NOT_ALLOWED")
