"""``wfsidecar workflow storage``: the storage report as a table, JSON and YAML, equal to
the API's object; and a bulk purge's dry run answering how many and how many bytes."""

from __future__ import annotations

import json
import re

import yaml

from tests.cli._operator import Operator
from wfsidecar.cli_output import size


async def test_storage_report_in_every_format(op: Operator) -> None:
    await op.started("c-1", end="COMPLETED", output={"ok": "x" * 3000})
    await op.started("f-1", end="FAILED", failure="boom")
    await op.started("r-1")
    op.disconnect_worker()

    as_json = await op.cli("storage", "--largest", "2", "-o", "json")
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)
    assert report == await op.call("storage", 2)
    assert report["instances"]["count"] == 3
    assert [r["instanceID"] for r in report["largest"]] == ["c-1", "f-1"]
    assert report["retention"] == {"policySeconds": {}, "backlog": {},
                                   "lastSweep": report["retention"]["lastSweep"]}
    as_yaml = await op.cli("storage", "--largest", "2", "-o", "yaml")
    assert yaml.safe_load(as_yaml.stdout)["instances"] == report["instances"]

    table = await op.cli("storage")
    assert table.exit_code == 0, table.output
    assert re.search(r"^store: sqlite, file [\d.]+ [kM]?B \(", table.stdout, re.M)
    assert re.search(r"^COMPLETED\s+1\s+[\d.]+ [k]?B\s+keep\s+-$", table.stdout, re.M)
    assert re.search(r"^c-1\s+\S+\s+COMPLETED", table.stdout, re.M), table.stdout

    dry = await op.cli("purge", "--all", "-s", "COMPLETED", "--dry-run")
    stored = report["instances"]["byStatus"]["COMPLETED"]["storedBytes"]
    assert dry.stdout == f"Would purge 1 finished instance(s), {size(stored)} stored\n"
    assert (await op.cli("storage", "--largest", "101")).exit_code == 2
