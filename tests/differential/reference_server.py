"""The reference Microsoft-dialect server, run by ``test_differential.py``.

Runs inside the ``durabletask-112`` SDK virtualenv (never imported by the project): starts
``durabletask.testing.InMemoryOrchestrationBackend`` (the in-memory TaskHubSidecarService that
ships in the ``durabletask`` 1.12.0 wheel) on a free port, prints ``READY <port>`` and serves
until it is killed or its stdin closes.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading

from durabletask.testing import create_test_backend


def _free_port() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
        sock.bind(("::", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    port = int(sys.argv[1]) if len(sys.argv) > 1 else _free_port()
    backend = create_test_backend(port=port)
    print(f"READY {port}", flush=True)
    stop = threading.Event()

    def watch_stdin() -> None:  # the parent closing our stdin means "stop"
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    backend.stop(grace=0)


if __name__ == "__main__":
    main()
