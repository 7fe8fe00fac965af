"""``make chaos``: the chaos run at full size, printing the results table.

  python -m tests.chaos [--workflows 10000] [--kills 10] [--window 200] [--seed N]
                        [--sdk dapr|ms|js] [--postgres [--daemons 3] [--lease-ttl 2]]

With --postgres, the daemons share one PostgreSQL database (tests/chaos/cluster.py): one
at a time is SIGKILLed and restarted, and one is SIGSTOPped past its lease once.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from tests.chaos.cluster import run_cluster_chaos
from tests.chaos.harness import Report, run_chaos
from tests.chaos.sdks import SDKS


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--workflows", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--window", type=int, default=200,
                        help="most instances in progress at once")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--sdk", choices=sorted(SDKS), default="dapr",
                        help="the worker: Dapr's Python SDK, or Microsoft's Python (ms) or JS SDK "
                             "(both add a durable entity)")
    parser.add_argument("--postgres", action="store_true",
                        help="several daemons on one PostgreSQL database (a throwaway cluster)")
    parser.add_argument("--daemons", type=int, default=3, help="with --postgres")
    parser.add_argument("--lease-ttl", type=float, default=2.0,
                        help="with --postgres: the daemons' lease TTL in seconds")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the database and logs go (default: a new temp dir)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="wfsidecar-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"chaos: {args.workflows} workflows, {args.kills} kills, {args.sdk} SDK, "
          f"workdir {workdir}", flush=True)
    report: Report
    if args.postgres:
        print(f"chaos: {args.daemons} daemons on one PostgreSQL database", flush=True)
        report = asyncio.run(run_cluster_chaos(
            workdir, workflows=args.workflows, kills=args.kills, daemons=args.daemons,
            window=args.window, seed=args.seed, sdk=args.sdk, lease_ttl=args.lease_ttl))
    else:
        report = asyncio.run(run_chaos(workdir, workflows=args.workflows, kills=args.kills,
                                       window=args.window, seed=args.seed, sdk=args.sdk))
    print(report.table())
    for problem in report.problems[:50]:
        print("PROBLEM:", problem)
    if len(report.problems) > 50:
        print(f"... and {len(report.problems) - 50} more")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
