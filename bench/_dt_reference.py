"""The reference sidecar: ``durabletask.testing``'s in-memory server from Microsoft's
``durabletask`` 1.12 (not durable: everything lives in this process's memory).

Runs in the ``durabletask-112`` virtualenv (bench/compare.py starts it). Binds a free
loopback port, prints ``ready <port>`` and serves until its stdin closes.

One change to the stock server: its gRPC thread pool. ``start()`` builds a pool of 10
threads, and every open ``GetWorkItems`` stream and every pending
``WaitForInstanceCompletion`` holds one of them, so more than a handful of waiting clients
starve it. The subclass binds the same servicer to a pool of ``POOL_THREADS``.
"""

from __future__ import annotations

import logging
import sys
from concurrent import futures

import grpc
from durabletask.internal import orchestrator_service_pb2_grpc as stubs
from durabletask.testing.in_memory_backend import InMemoryOrchestrationBackend

POOL_THREADS = 256


class WideReference(InMemoryOrchestrationBackend):
    """The in-memory backend served from a wider thread pool, on port 0."""

    def start(self) -> str:
        self._shutdown_event.clear()
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=POOL_THREADS))
        stubs.add_TaskHubSidecarServiceServicer_to_server(self, server)
        self._port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self._server = server
        return f"127.0.0.1:{self._port}"


def main() -> None:
    logging.disable(logging.CRITICAL)
    backend = WideReference()
    address = backend.start()
    print("ready", address.rsplit(":", 1)[1], flush=True)
    sys.stdin.read()  # until bench/compare.py closes the pipe
    backend.stop(0)


if __name__ == "__main__":
    main()
