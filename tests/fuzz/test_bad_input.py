"""Bad input on both dialects (issue 5, item 6): every reply is a correct gRPC status with a
readable message, the daemon stays up, and a completed "witness" instance is untouched.

Design: one in-process daemon per module, running on an event loop in a background thread
(a sync, module-scoped fixture). The tests are sync functions; hypothesis drives them with
plain ``@given`` and each example submits its coroutine to the daemon's loop with
``asyncio.run_coroutine_threadsafe``. This sidesteps hypothesis' lack of native async support
and pytest-asyncio's loop scoping, and keeps one daemon (one SQLite file) for the whole module.
Examples are derandomized and bounded, and no example database is written. The suite's
blockbuster fixture covers async tests only, so the module fixture turns blockbuster on itself:
it fails any blocking call made on the daemon's loop thread (the test thread has no loop).
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Coroutine, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import grpc
import pytest
from blockbuster import blockbuster_ctx
from google.protobuf import empty_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_app import grpc_health, running
from wfsidecar._proto.dapr import orchestrator_service_pb2 as dpb
from wfsidecar._proto.ms import orchestrator_service_pb2 as mpb
from wfsidecar.app import App
from wfsidecar.config import load
from wfsidecar.server.dapr_service import DaprSidecarService
from wfsidecar.server.ms_service import MsSidecarService

SERVICE = "/TaskHubSidecarService/"
WITNESS = "fuzz-witness-0123456789"
T = TypeVar("T")


def _methods(cls: type) -> dict[str, str]:
    """Method name -> request message name ("" = Empty), read from the service class itself so
    that a new RPC is fuzzed without editing this module."""
    service: Any = object.__new__(cls)
    service._task_hub = None  # the task-hub RPCs exist only under a test switch
    service._streams = SimpleNamespace(serve=None)
    return {m: req for m, (_, req) in {**service.rpcs(), **service.streams()}.items()}


DAPR_METHODS = _methods(DaprSidecarService)
# CreateTaskHub/DeleteTaskHub are unregistered by default, NoSuchMethod never: UNIMPLEMENTED.
MS_METHODS = {**_methods(MsSidecarService), "CreateTaskHub": "CreateTaskHubRequest",
              "DeleteTaskHub": "DeleteTaskHubRequest"}
DIALECT_METHODS = {"dapr": {**DAPR_METHODS, "NoSuchMethod": ""},
                   "ms": {**MS_METHODS, "NoSuchMethod": ""}}
# What grpc.aio says when its own request deserializer raises; the handlers parse
# requests themselves (server/requests.py parsing()), so it must never appear.
DECODE_BUG = "Unexpected <class 'google.protobuf.message.DecodeError'>"
STREAMS = {"GetWorkItems", "StreamInstanceHistory"}
WAITS = {"WaitForInstanceStart", "WaitForInstanceCompletion"}
# INTERNAL is not acceptable either: it means a handler crashed on input it should refuse.
GARBLED_OK = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT,
              grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION,
              grpc.StatusCode.UNIMPLEMENTED,
              # a garbled StartInstance can decode to an id that an earlier example started
              grpc.StatusCode.ALREADY_EXISTS}

COUNTS: Counter[str] = Counter()          # examples per category, printed at the end
CODES: Counter[tuple[str, str]] = Counter()  # (dialect/method, status) seen on garbled bytes
FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


class Daemon:
    """An in-process daemon on a background event loop, with one channel per dialect."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzz-daemon",
                                       daemon=True)
        self.channels: dict[str, grpc.aio.Channel] = {}
        self.witness: dict[str, bytes] = {}
        self.witness_token = ""

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __enter__(self) -> Daemon:
        self.thread.start()
        self.run(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.run(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()

    async def _start(self) -> None:
        self.app = App(load(None, env={}, overrides={
            "listeners.dapr_grpc.port": 0, "listeners.durabletask_grpc.port": 0,
            "listeners.http.port": 0, "store.sqlite.path": str(self.db)}),
            configure_logging=False)
        self.context = running(self.app)
        await self.context.__aenter__()
        ports = self.app.ports
        assert ports is not None
        self.channels = {
            "dapr": grpc.aio.insecure_channel(f"127.0.0.1:{ports.dapr_grpc}"),
            "ms": grpc.aio.insecure_channel(f"127.0.0.1:{ports.durabletask_grpc}")}

    async def _stop(self) -> None:
        for channel in self.channels.values():
            await channel.close()
        await self.context.__aexit__(None, None, None)

    # -- raw calls (run on the daemon loop) ---------------------------------------------

    async def raw(self, dialect: str, method: str, data: bytes,
                  deadline: float = 5) -> tuple[grpc.StatusCode, str, Any]:
        """Send ``data`` as the request bytes; return (status, details, response bytes)."""
        channel = self.channels[dialect]
        if method in STREAMS:
            stream: Any = channel.unary_stream(SERVICE + method)(
                data, timeout=deadline)  # type: ignore[arg-type]
            try:
                first = await stream.read()
            except grpc.aio.AioRpcError as exc:
                return exc.code(), exc.details() or "", None
            if first is grpc.aio.EOF:
                return await stream.code(), await stream.details() or "", None
            stream.cancel()
            return grpc.StatusCode.OK, "", first
        try:
            reply: Any = await channel.unary_unary(SERVICE + method)(
                data, timeout=deadline)  # type: ignore[arg-type]
        except grpc.aio.AioRpcError as exc:
            return exc.code(), exc.details() or "", None
        return grpc.StatusCode.OK, "", reply

    async def call(self, dialect: str, method: str, request: Any,
                   deadline: float = 5) -> tuple[grpc.StatusCode, str, Any]:
        return await self.raw(dialect, method, request.SerializeToString(), deadline)

    def sync(self, dialect: str, method: str, request: Any,
             deadline: float = 5) -> tuple[grpc.StatusCode, str, Any]:
        return self.run(self.call(dialect, method, request, deadline))

    # -- the witness ----------------------------------------------------------------------

    async def complete_via_worker(self, dialect: str, instance_id: str, output: str) -> str:
        """Act as a worker until ``instance_id``'s turn arrives; complete the instance with
        ``output`` and return the completion token. Other items read on the way are left
        to be re-dispatched when the stream closes."""
        pb = dpb if dialect == "dapr" else mpb
        stream: Any = self.channels[dialect].unary_stream(
            SERVICE + "GetWorkItems", request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=pb.WorkItem.FromString)(pb.GetWorkItemsRequest())
        try:
            while True:
                item = await asyncio.wait_for(stream.read(), 10)
                if item.orchestratorRequest.instanceId == instance_id:
                    break
            action = pb.OrchestratorAction(id=-1)
            action.completeOrchestration.orchestrationStatus = pb.ORCHESTRATION_STATUS_COMPLETED
            action.completeOrchestration.result.value = output
            code, details, _ = await self.call(dialect, "CompleteOrchestratorTask",
                                               pb.OrchestratorResponse(
                                                   instanceId=instance_id, actions=[action],
                                                   completionToken=item.completionToken))
            assert code == grpc.StatusCode.OK, details
        finally:
            stream.cancel()  # only after the completion: a closed stream re-dispatches
        code, details, _ = await self.call(dialect, "WaitForInstanceCompletion",
                                           pb.GetInstanceRequest(instanceId=instance_id), 10)
        assert code == grpc.StatusCode.OK, details
        return str(item.completionToken)

    async def complete_witness(self) -> None:
        """Start the witness and complete it through a hand-driven worker."""
        code, details, _ = await self.call("dapr", "StartInstance", dpb.CreateInstanceRequest(
            instanceId=WITNESS, name="witness-wf", input=_sv('"in"')))
        assert code == grpc.StatusCode.OK, details
        self.witness_token = await self.complete_via_worker("dapr", WITNESS, '"witness-output"')
        code, details, raw = await self.call("dapr", "GetInstance", dpb.GetInstanceRequest(
            instanceId=WITNESS, getInputsAndOutputs=True))
        state = dpb.GetInstanceResponse.FromString(raw or b"")
        assert state.orchestrationState.orchestrationStatus == dpb.ORCHESTRATION_STATUS_COMPLETED
        self.witness = await self.witness_state()

    async def witness_state(self) -> dict[str, bytes]:
        state: dict[str, bytes] = {}
        for dialect, pb in (("dapr", dpb), ("ms", mpb)):
            code, details, raw = await self.call(dialect, "GetInstance", pb.GetInstanceRequest(
                instanceId=WITNESS, getInputsAndOutputs=True))
            assert code == grpc.StatusCode.OK, details
            state[f"{dialect}:GetInstance"] = raw or b""
        code, details, raw = await self.call("dapr", "GetInstanceHistory",
                                             dpb.GetInstanceHistoryRequest(instanceId=WITNESS))
        assert code == grpc.StatusCode.OK, details
        state["dapr:GetInstanceHistory"] = raw or b""
        code, details, raw = await self.call("ms", "StreamInstanceHistory",
                                             mpb.StreamInstanceHistoryRequest(
                                                 instanceId=WITNESS, forWorkItemProcessing=False))
        assert code == grpc.StatusCode.OK, details
        state["ms:StreamInstanceHistory"] = raw or b""
        return state


def _sv(text: str) -> Any:
    from google.protobuf import wrappers_pb2

    return wrappers_pb2.StringValue(value=text)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with blockbuster_ctx("wfsidecar") as bb:
        for name in ("threading.Lock.acquire", "threading.Lock.acquire_lock"):  # as conftest
            bb.functions[name].can_block_in("threading.py", "_wait_for_tstate_lock")
        with Daemon(tmp_path_factory.mktemp("fuzz") / "wf.db") as d:
            d.run(d.complete_witness())
            yield d


def _readable(details: str) -> bool:
    return len(details.strip()) >= 8 and " " in details.strip()



# -- garbled request bytes on every RPC ------------------------------------------------------

def _unsafe(dialect: str, method: str, data: bytes) -> bool:
    """Bytes that happen to decode to a legitimate purge-everything request would (rightly)
    purge the witness; those examples are not sent. Everything else is."""
    if method != "PurgeInstances":
        return False
    pb = dpb if dialect == "dapr" else mpb
    try:
        request = pb.PurgeInstancesRequest.FromString(data)
    except Exception:
        return False
    return bool(request.WhichOneof("request") != "instanceId"
                or request.instanceId == WITNESS)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, kind: str, value: int | bytes) -> bytes:
    wire = {"varint": 0, "fixed64": 1, "bytes": 2, "fixed32": 5}[kind]
    tag = _varint(number << 3 | wire)
    if kind == "varint":
        return tag + _varint(int(value) % 2**64)  # negatives as two's complement, like int64
    if kind == "bytes":
        assert isinstance(value, bytes)
        return tag + _varint(len(value)) + value
    return tag + int(value).to_bytes(8 if kind == "fixed64" else 4, "little")


# Wire-valid messages made of random fields: these mostly decode, so they reach the handlers
# (random bytes mostly stop at the decoder). Field numbers cover every request's fields.
TEXTS = st.one_of(st.text(max_size=80), st.sampled_from([WITNESS, "x" * 65, "a/b", ""]))
FIELD = st.one_of(
    st.tuples(st.integers(1, 15), st.just("varint"),
              st.one_of(st.integers(-(2**63), 2**64 - 1), st.integers(-5, 200))),
    st.tuples(st.integers(1, 15), st.just("bytes"),
              st.one_of(TEXTS.map(lambda t: t.encode()), st.binary(max_size=40))),
    st.tuples(st.integers(1, 15), st.sampled_from(["fixed32", "fixed64"]),
              st.integers(0, 2**32 - 1)),
)
WIRE = st.lists(FIELD, max_size=6).map(lambda fs: b"".join(_field(*f) for f in fs))
GARBLED = st.one_of(st.binary(max_size=200), WIRE)


def _decodes(dialect: str, method: str, data: bytes) -> bool:
    name = DIALECT_METHODS[dialect][method]
    cls = empty_pb2.Empty if not name else getattr(dpb if dialect == "dapr" else mpb, name)
    try:
        cls.FromString(data)
    except Exception:
        return False
    return True


@pytest.mark.parametrize(("dialect", "method"), [
    (dialect, method) for dialect, methods in DIALECT_METHODS.items() for method in methods])
def test_garbled_bytes(daemon: Daemon, dialect: str, method: str) -> None:
    waits = method in WAITS or method in STREAMS
    timeout = 0.15 if waits else 5

    @settings(FUZZ, max_examples=12 if waits else 40)
    @given(data=GARBLED)
    def example(data: bytes) -> None:
        if _unsafe(dialect, method, data):
            COUNTS["garbled: skipped purge-all decodes"] += 1
            return
        code, details, _ = daemon.run(daemon.raw(dialect, method, data, timeout))
        COUNTS["garbled bytes"] += 1
        CODES[(f"{dialect}/{method}", code.name)] += 1
        registered = DAPR_METHODS if dialect == "dapr" else _methods(MsSidecarService)
        if method in registered and not _decodes(dialect, method, data):
            COUNTS["garbled: undecodable -> INVALID_ARGUMENT"] += 1
            assert code == grpc.StatusCode.INVALID_ARGUMENT, (method, data, code, details)
        if waits and code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return  # a wait or stream on a valid request simply had nothing to say yet
        assert code in GARBLED_OK, (method, data, code, details)
        if code != grpc.StatusCode.OK:
            assert _readable(details), (method, data, code, details)

    example()


@pytest.mark.parametrize("dialect", ["dapr", "ms"])
def test_undecodable_request_is_invalid_argument(daemon: Daemon, dialect: str) -> None:
    bad = b"\x00"  # field number 0: never valid protobuf
    for method in DIALECT_METHODS[dialect]:
        if method == "NoSuchMethod" or method not in (DAPR_METHODS | _methods(MsSidecarService)):
            continue
        timeout = 0.5 if method in WAITS or method in STREAMS else 5
        code, details, _ = daemon.run(daemon.raw(dialect, method, bad, timeout))
        assert code == grpc.StatusCode.INVALID_ARGUMENT, (method, code, details)
        assert _readable(details) and DECODE_BUG not in details, details


# -- instance ids ------------------------------------------------------------------------------

ID_CHARS = st.characters(codec="utf-8", exclude_characters="\x00")
BAD_IDS = st.one_of(
    st.text(alphabet=st.sampled_from("abcXYZ019_-"), min_size=65, max_size=300),
    st.builds(lambda a, bad, b: a + bad + b,
              st.text(alphabet=st.sampled_from("ab1_-"), max_size=20),
              st.text(ID_CHARS, min_size=1, max_size=5).filter(
                  lambda s: any(not (c.isascii() and (c.isalnum() or c in "_-")) for c in s)),
              st.text(alphabet=st.sampled_from("ab1_-"), max_size=20)),
    st.sampled_from(["a/b", "a b", " ", "ünïcödé", "日本", "a\tb", "x" * 65, "../etc"]),
)


@pytest.mark.parametrize("dialect", ["dapr", "ms"])
def test_bad_instance_ids_are_invalid_argument(daemon: Daemon, dialect: str) -> None:
    pb = dpb if dialect == "dapr" else mpb

    @settings(FUZZ)
    @given(instance_id=BAD_IDS)
    def example(instance_id: str) -> None:
        COUNTS["bad instance ids"] += 1
        code, details, _ = daemon.sync(dialect, "StartInstance", pb.CreateInstanceRequest(
            instanceId=instance_id, name="wf"))
        assert code == grpc.StatusCode.INVALID_ARGUMENT, (instance_id, code, details)
        assert "instance id" in details, details
        assert "limit is 64" in details or "only letters, digits" in details, details

    example()


@pytest.mark.parametrize("dialect", ["dapr", "ms"])
def test_empty_instance_id_is_generated_or_refused(daemon: Daemon, dialect: str) -> None:
    pb = dpb if dialect == "dapr" else mpb
    COUNTS["bad instance ids"] += 1
    code, details, raw = daemon.sync(dialect, "StartInstance",
                                     pb.CreateInstanceRequest(instanceId="", name="wf"))
    if code == grpc.StatusCode.OK:  # SDKs omit the id to get a generated one
        assert pb.CreateInstanceResponse.FromString(raw or b"").instanceId
    else:
        assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, details)
        assert "instance id must not be empty" in details


# -- unknown enum values -------------------------------------------------------------------

ENUMS = st.integers(min_value=-(2**31), max_value=2**31 - 1).filter(
    lambda v: v not in dpb.OrchestrationStatus.values())


def test_unknown_status_enums_are_invalid_argument(daemon: Daemon) -> None:
    @settings(FUZZ, max_examples=20)
    @given(status=ENUMS, where=st.sampled_from(["dapr purge", "ms purge", "ms query",
                                                "ms list"]))
    def example(status: int, where: str) -> None:
        COUNTS["unknown enum values"] += 1
        if where == "dapr purge":
            req: Any = dpb.PurgeInstancesRequest()
            req.purgeInstanceFilter.runtimeStatus.append(status)
            code, details, _ = daemon.sync("dapr", "PurgeInstances", req)
        elif where == "ms purge":
            req = mpb.PurgeInstancesRequest()
            req.purgeInstanceFilter.runtimeStatus.append(status)
            code, details, _ = daemon.sync("ms", "PurgeInstances", req)
        elif where == "ms query":
            req = mpb.QueryInstancesRequest()
            req.query.runtimeStatus.append(status)
            code, details, _ = daemon.sync("ms", "QueryInstances", req)
        elif where == "ms list":
            req = mpb.ListInstanceIdsRequest(pageSize=10)
            req.runtimeStatus.append(status)
            code, details, _ = daemon.sync("ms", "ListInstanceIds", req)
        else:
            req = mpb.CreateInstanceRequest(instanceId="fuzz-enum", name="wf")
            req.orchestrationIdReusePolicy.replaceableStatus.append(status)
            code, details, _ = daemon.sync("ms", "StartInstance", req)
        assert code == grpc.StatusCode.INVALID_ARGUMENT, (where, status, code, details)
        assert _readable(details), details

    example()


# -- page sizes ----------------------------------------------------------------------------

def test_negative_or_huge_page_sizes(daemon: Daemon) -> None:
    for i in range(3):  # something to page over
        daemon.sync("dapr", "StartInstance",
                    dpb.CreateInstanceRequest(instanceId=f"fuzz-page-{i}", name="wf"))

    @settings(FUZZ)
    @given(size=st.one_of(st.integers(-(2**31), -1), st.integers(2**20, 2**31 - 1),
                          st.sampled_from([-1, 0, 2**31 - 1, -(2**31)])),
           where=st.sampled_from(["dapr list", "ms query", "ms list"]))
    def example(size: int, where: str) -> None:
        COUNTS["page sizes"] += 1
        if where == "dapr list":
            size = abs(size) if size != -(2**31) else 2**32 - 1  # uint32 on the wire
            code, details, raw = daemon.sync("dapr", "ListInstanceIDs",
                                             dpb.ListInstanceIDsRequest(pageSize=size))
            page = len(dpb.ListInstanceIDsResponse.FromString(raw or b"").instanceIds)
        elif where == "ms query":
            req = mpb.QueryInstancesRequest()
            req.query.maxInstanceCount = size
            code, details, raw = daemon.sync("ms", "QueryInstances", req)
            page = len(mpb.QueryInstancesResponse.FromString(raw or b"").orchestrationState)
        else:
            code, details, raw = daemon.sync("ms", "ListInstanceIds",
                                             mpb.ListInstanceIdsRequest(pageSize=size))
            page = len(mpb.ListInstanceIdsResponse.FromString(raw or b"").instanceIds)
        assert code in {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT}, (
            where, size, code, details)
        if code == grpc.StatusCode.OK:
            assert page <= max(size, 0) or size <= 0, (where, size, page)
            assert page <= 10_000
        else:
            assert _readable(details), details

    example()


# -- completion tokens, unknown instances and tasks ----------------------------------------

def _orch_response(pb: Any, instance_id: str, token: str) -> Any:
    action = pb.OrchestratorAction(id=-1)
    action.completeOrchestration.orchestrationStatus = pb.ORCHESTRATION_STATUS_FAILED
    action.completeOrchestration.result.value = '"hijacked"'
    return pb.OrchestratorResponse(instanceId=instance_id, actions=[action],
                                   completionToken=token)


def test_bogus_and_replayed_completions_are_not_found(daemon: Daemon) -> None:
    ids = st.one_of(st.just(WITNESS), st.just("fuzz-no-such-instance"),
                    st.text(alphabet=st.sampled_from("abc123_-"), min_size=1, max_size=64))
    tokens = st.one_of(st.just(daemon.witness_token), st.text(max_size=80),
                       st.binary(max_size=40).map(lambda b: b.hex()))

    @settings(FUZZ, max_examples=60)
    @given(dialect=st.sampled_from(["dapr", "ms"]), instance_id=ids, token=tokens,
           kind=st.sampled_from(["orchestrator", "activity", "workflow"]),
           task_id=st.integers(-(2**31), 2**31 - 1))
    def example(dialect: str, instance_id: str, token: str, kind: str, task_id: int) -> None:
        COUNTS["bogus/replayed completions"] += 1
        pb = dpb if dialect == "dapr" else mpb
        if kind == "activity":
            request = pb.ActivityResponse(instanceId=instance_id, taskId=task_id,
                                          completionToken=token)
            request.result.value = '"hijacked"'
            method = "CompleteActivityTask"
        else:
            request = _orch_response(pb, instance_id, token)
            method = ("CompleteWorkflowTask" if kind == "workflow" and dialect == "dapr"
                      else "CompleteOrchestratorTask")
        code, details, _ = daemon.sync(dialect, method, request)
        assert code == grpc.StatusCode.NOT_FOUND, (dialect, method, instance_id, token, code,
                                                   details)
        assert "unknown instance ID/task ID combo" in details, details

    example()


# -- events for purged instances ------------------------------------------------------------

def test_events_for_purged_instances_are_not_found(daemon: Daemon) -> None:
    for dialect, pb in (("dapr", dpb), ("ms", mpb)):
        instance_id = f"fuzz-purged-{dialect}"
        assert daemon.sync(dialect, "StartInstance", pb.CreateInstanceRequest(
            instanceId=instance_id, name="wf"))[0] == grpc.StatusCode.OK
        token = daemon.run(daemon.complete_via_worker(dialect, instance_id, '"done"'))
        code, details, raw = daemon.sync(dialect, "PurgeInstances",
                                         pb.PurgeInstancesRequest(instanceId=instance_id))
        assert code == grpc.StatusCode.OK, details
        assert pb.PurgeInstancesResponse.FromString(raw or b"").deletedInstanceCount == 1
        calls = [("RaiseEvent", pb.RaiseEventRequest(instanceId=instance_id, name="late",
                                                     input=_sv("1"))),
                 ("TerminateInstance", pb.TerminateRequest(instanceId=instance_id)),
                 ("SuspendInstance", pb.SuspendRequest(instanceId=instance_id)),
                 ("ResumeInstance", pb.ResumeRequest(instanceId=instance_id)),
                 ("CompleteOrchestratorTask", _orch_response(pb, instance_id, "stale")),
                 ("CompleteOrchestratorTask", _orch_response(pb, instance_id, token)),
                 ("CompleteActivityTask", pb.ActivityResponse(instanceId=instance_id, taskId=0,
                                                              completionToken="stale"))]
        if dialect == "dapr":
            calls.append(("GetInstanceHistory",
                          dpb.GetInstanceHistoryRequest(instanceId=instance_id)))
        else:
            calls += [("RestartInstance", mpb.RestartInstanceRequest(instanceId=instance_id)),
                      ("RewindInstance", mpb.RewindInstanceRequest(instanceId=instance_id))]
        for method, request in calls:
            COUNTS["events for purged instances"] += 1
            code, details, _ = daemon.sync(dialect, method, request)
            assert code == grpc.StatusCode.NOT_FOUND, (dialect, method, code, details)
            assert _readable(details), details
        got = daemon.sync(dialect, "GetInstance", pb.GetInstanceRequest(instanceId=instance_id))
        assert pb.GetInstanceResponse.FromString(got[2] or b"").exists is False


# -- duplicate starts racing -----------------------------------------------------------------

@pytest.mark.parametrize("dialect", ["dapr", "ms"])
def test_duplicate_starts_racing(daemon: Daemon, dialect: str) -> None:
    pb = dpb if dialect == "dapr" else mpb

    async def race(instance_id: str) -> list[grpc.StatusCode]:
        request = pb.CreateInstanceRequest(instanceId=instance_id, name="wf")
        results = await asyncio.gather(*(daemon.call(dialect, "StartInstance", request)
                                         for _ in range(20)))
        return [code for code, _, _ in results]

    for round_ in range(3):
        codes = daemon.run(race(f"fuzz-race-{dialect}-{round_}"))
        COUNTS["duplicate start races (x20)"] += 1
        assert codes.count(grpc.StatusCode.OK) == 1, codes
        assert codes.count(grpc.StatusCode.ALREADY_EXISTS) == 19, codes


# -- afterwards: the witness is untouched and the daemon is up ------------------------------

def test_zz_witness_untouched_and_daemon_up(daemon: Daemon) -> None:
    assert daemon.run(daemon.witness_state()) == daemon.witness
    for dialect in ("dapr", "ms"):
        code, details, _ = daemon.run(daemon.raw(dialect, "Hello",
                                                 empty_pb2.Empty().SerializeToString()))
        assert code == grpc.StatusCode.OK, details
    ports = daemon.app.ports
    assert ports is not None
    for port in (ports.dapr_grpc, ports.durabletask_grpc):
        assert daemon.run(grpc_health(port)) == 1  # SERVING
    lines = [f"  {name}: {count}" for name, count in sorted(COUNTS.items())]
    totals: Counter[str] = Counter()
    for (_, name), count in CODES.items():
        totals[name] += count
    lines.append("  garbled-bytes statuses: " + ", ".join(
        f"{name}={count}" for name, count in sorted(totals.items())))
    print("\nbad-input fuzzing counts:\n" + "\n".join(lines))
