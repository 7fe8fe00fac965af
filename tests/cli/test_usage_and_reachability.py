"""Exit code 2 for every kind of usage mistake, 3 for a daemon that is not there or does
not answer (refused, silent, not speaking the API), and the pure pieces of the output:
kubectl's AGE and the duration-or-time flags. No daemon is started here."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner, Result

from tests.daemon import REPO
from wfsidecar.cli import main
from wfsidecar.cli_filters import parse_when
from wfsidecar.cli_output import human_age


def cli(*args: str, address: str = "http://127.0.0.1:9", input: str | None = None) -> Result:
    return CliRunner().invoke(main, ["workflow", *args], input=input,
                              env={"WFSIDECAR_ADDRESS": address}, catch_exceptions=False)


@pytest.mark.parametrize(("args", "says"), [
    (["list", "-s", "DONE"], "'DONE' is not a runtime status"),
    (["list", "-o", "xml"], "'xml' is not one of"),
    (["list", "-m", "yesterday"], "neither a duration"),
    (["list", "--limit", "-1"], "--limit"),
    (["count", "--created-from", "3 days"], "neither a duration"),
    (["list", "--address", "ftp://daemon"], "not a daemon address"),
    (["purge"], "give instance IDs to purge, or --all / --all-older-than"),
    (["purge", "-s", "FAILED"], "add --all to purge every instance the filters select"),
    (["purge", "x", "--all"], "not both"),
    (["terminate", "x", "-w", "Order"], "not both"),
    (["raise-event", "no-slash"], "expected ID/EVENT"),
    (["rerun", "x"], "Missing option '--event-id'"),
    (["get"], "Missing argument 'INSTANCE_ID'"),
    (["watch", "x", "--interval", "0"], "--interval"),
    (["frobnicate"], "No such command 'frobnicate'"),
])
def test_usage_mistakes_exit_2_before_any_call(args: list[str], says: str) -> None:
    # The address is a closed port: a call would have exited 3, not 2.
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert says in result.stderr


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


@pytest.mark.parametrize("args", [
    ["list"], ["count"], ["get", "x"], ["history", "x"], ["export", "x"], ["watch", "x"],
    ["run", "W"], ["raise-event", "x/e"], ["suspend", "x"], ["resume", "x"],
    ["terminate", "x"], ["purge", "x"], ["purge", "--all", "--yes"], ["rerun", "x", "-e", "1"],
    ["storage"],
])
def test_every_verb_exits_3_when_nothing_listens(args: list[str], closed_port: int) -> None:
    address = f"http://127.0.0.1:{closed_port}"
    result = cli(*args, address=address)
    assert result.exit_code == 3, result.output
    assert result.stdout == ""
    assert result.stderr.startswith(f"wfsidecar: cannot reach the daemon at {address}: ")
    assert result.stderr.endswith("(is the daemon running? see --address, "
                                  "$WFSIDECAR_ADDRESS)\n")
    assert result.stderr.count("\n") == 1


def test_a_daemon_that_does_not_answer_exits_3_after_the_timeout(silent_port: int) -> None:
    result = cli("list", "--timeout", "0.3", address=f"127.0.0.1:{silent_port}")
    assert result.exit_code == 3
    assert "no answer within 0.3s" in result.stderr


def test_the_installed_command_exits_3_too(closed_port: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO),
           "WFSIDECAR_ADDRESS": f"127.0.0.1:{closed_port}"}
    done = subprocess.run([sys.executable, "-m", "wfsidecar", "workflow", "list"], env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 3
    assert done.stderr.startswith("wfsidecar: cannot reach the daemon at http://127.0.0.1:")


@pytest.mark.parametrize(("seconds", "age"), [
    (0, "0s"), (59, "59s"), (119, "119s"), (120, "2m"), (150, "2m30s"), (599, "9m59s"),
    (600, "10m"), (179 * 60, "179m"), (3 * 3600, "3h"), (5 * 3600 + 20 * 60, "5h20m"),
    (8 * 3600, "8h"), (47 * 3600, "47h"), (2 * 86400, "2d"), (3 * 86400 + 4 * 3600, "3d4h"),
    (8 * 86400, "8d"), (729 * 86400, "729d"), (2 * 365 * 86400, "2y"),
    (2 * 365 * 86400 + 30 * 86400, "2y30d"), (9 * 365 * 86400, "9y"), (-5, "<invalid>"),
])
def test_age_is_kubectls_human_duration(seconds: int, age: str) -> None:
    assert human_age(seconds) == age


def test_times_are_durations_ago_or_timestamps() -> None:
    now = datetime(2025, 7, 6, 12, 0, tzinfo=UTC)
    assert parse_when("90s", now) == now - timedelta(seconds=90)
    assert parse_when("1h30m", now) == now - timedelta(minutes=90)
    assert parse_when("7d", now) == now - timedelta(days=7)
    assert parse_when("250ms", now) == now - timedelta(milliseconds=250)
    assert parse_when("2025-01-02T15:04:05Z", now) == datetime(2025, 1, 2, 15, 4, 5,
                                                              tzinfo=UTC)
    assert parse_when("2025-01-02", now) == datetime(2025, 1, 2, tzinfo=UTC)
    offset = parse_when("2025-01-02T15:04:05+02:00", now)
    assert offset == datetime(2025, 1, 2, 13, 4, 5, tzinfo=UTC)
    for bad in ("", "7 days", "1h30", "soon"):
        with pytest.raises(ValueError):
            parse_when(bad, now)
