"""wfsidecar beside the reference sidecar, with the same worker and client driving each.

Usage: .venv/bin/python bench/compare.py [--quick] [--reps N] [--json FILE]

The reference is ``durabletask.testing``'s in-memory server from Microsoft's ``durabletask``
1.12 (not durable; bench/_dt_reference.py), wfsidecar a daemon on a fresh SQLite file (WAL,
synchronous FULL). Both are child processes of this one, each started fresh for every run
and driven by Microsoft's ``durabletask`` 1.12 worker and async client (bench/_dt_driver.py,
in its own virtualenv under .sdk-venvs/, built on first use). Workloads (default sizes, the
issue #14 ones; ``--quick`` for a smoke run):

- seq3, 50 in flight: 1,000 workflows of three sequential activities;
- seq3, 1 in flight: 200 workflows, for the latency (start to completion, as the client sees it);
- fan10, 50 in flight: 300 workflows of ten parallel activities and a join;
- ISO (sidecar-only capacity), 50 in flight: a synthetic worker that answers every work item
  at once (bench/_iso_worker.py), so the sidecar is the bottleneck; fan10 (600 workflows of
  ten activities scheduled at once, activities/s) and one activity per workflow (2,000
  workflows, workflows/s);
- three back-to-back sets of seq3 at 50 in flight (1,000 workflows each, a fresh driver
  process per set) on one sidecar that is not restarted: each set's workflows/s, the drop
  from the first to the last and the spread of the three (largest minus smallest over the
  largest), which is what "within 5 % of each other" bounds;
- long-seq: one workflow of 500 sequential activities (one in flight): the time per step
  over the first and the last ten steps (it grows with the history the worker replays on
  every turn), the total time and the sidecar's CPU per step;
- the Dapr SDK's seq3, 50 in flight, 1,000 workflows: ``dapr-ext-workflow`` 1.18's worker and
  async client (bench/_dapr_driver.py) on wfsidecar's Dapr listener. The reference speaks only
  Microsoft's dialect, so this row has no reference beside it.

Each run first completes 20 warm-up workflows that are not counted. Sidecar CPU is the
sidecar process's utime+stime from /proc/<pid>/stat over the counted workflows (all its
threads; clock ticks are 10 ms), worker CPU the driver process's own. Three repetitions
(the reference and wfsidecar take turns going first); each figure is the median with the
range, and the ratio is wfsidecar's median over the reference's (above 1 is better for
throughput, below 1 for latency and CPU). Under the table, issue #14's targets with the
measured figure and whether it is met. The last line:
``ratio_seq3_c50=<x> ratio_fan10_c50=<y> cpu_ratio_seq3=<z>`` (seq3 wf/s at 50 in flight,
fan10 activities/s, sidecar CPU per seq3 workflow at 50 in flight).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._sidecars import drive, reference, wfsidecar  # noqa: E402
from tests.sdk_envs import sdk_python  # noqa: E402

REFERENCE, WFSIDECAR = "reference", "wfsidecar"


class Workload(NamedTuple):
    name: str
    driver: str
    mode: str
    steps: int  # activities per workflow
    workflows: int  # per set
    quick_workflows: int
    concurrency: int
    with_reference: bool
    sets: int = 1  # runs of the driver on the same sidecar, one after the other


WORKLOADS = (
    Workload("seq3 C=50", "_dt_driver.py", "seq3", 3, 1000, 200, 50, True),
    Workload("seq3 C=1", "_dt_driver.py", "seq3", 3, 200, 50, 1, True),
    Workload("fan10 C=50", "_dt_driver.py", "fan10", 10, 300, 60, 50, True),
    Workload("ISO fan10 C=50", "_iso_worker.py", "fan10", 10, 600, 100, 50, True),
    Workload("ISO one-act C=50", "_iso_worker.py", "one", 1, 2000, 300, 50, True),
    Workload("seq3 C=50 3 sets", "_dt_driver.py", "seq3", 3, 1000, 200, 50, True, sets=3),
    Workload("long-seq 500", "_dt_driver.py", "long500", 500, 1, 1, 1, True),
    Workload("Dapr SDK seq3 C=50", "_dapr_driver.py", "seq3", 3, 1000, 200, 50, False),
)

# driver -> (its SDK virtualenv, the wfsidecar listener it speaks to)
DRIVERS = {"_dt_driver.py": ("durabletask-112", "durabletask"),
           "_iso_worker.py": ("durabletask-112", "durabletask"),
           "_dapr_driver.py": ("dapr-ext-118", "dapr")}

# (key, label, digits, has a ratio): what is printed for every workload of one set ...
METRICS = (
    ("wf_s", "workflows/s", 1, True),
    ("act_s", "activities/s", 0, True),
    ("p50_ms", "latency p50 ms", 1, True),
    ("p99_ms", "latency p99 ms", 1, True),
    ("sidecar_ms", "sidecar CPU ms/workflow", 2, True),
    ("app_ms", "worker+client CPU ms/workflow", 2, True),
)
# ... for one long workflow (its time per step grows with the history the worker replays) ...
LONG_METRICS = (
    ("first_step_ms", "time per step, first 10, ms", 2, True),
    ("last_step_ms", "time per step, last 10, ms", 2, True),
    ("seconds", "seconds for all steps", 1, True),
    ("sidecar_ms_step", "sidecar CPU ms/step", 2, True),
)
# ... and for back-to-back sets (a ratio of two drops says nothing: those rows have none).
SET_METRICS = (
    *((f"set{i}_wf_s", f"set {i} workflows/s", 1, True) for i in (1, 2, 3)),
    ("drop_pct", "drop set 1→3 % (+ = slower)", 1, False),
    ("spread_pct", "spread of the 3 sets %", 1, False),
    ("set1_sidecar_ms", "set 1 sidecar CPU ms/workflow", 2, True),
    ("set3_sidecar_ms", "set 3 sidecar CPU ms/workflow", 2, True),
)


def figures(result: dict[str, float], steps: int) -> dict[str, float]:
    n, seconds = result["workflows"], result["seconds"]
    got = {"wf_s": n / seconds, "act_s": n * steps / seconds, "p50_ms": result["p50_ms"],
           "p99_ms": result["p99_ms"], "sidecar_ms": result["sidecar_cpu_s"] * 1000 / n,
           "app_ms": result["app_cpu_s"] * 1000 / n}
    if "first_step_ms" in result:  # long-seq
        got |= {"first_step_ms": result["first_step_ms"], "last_step_ms": result["last_step_ms"],
                "seconds": seconds, "sidecar_ms_step": got["sidecar_ms"] / steps}
    return got


def set_figures(sets: list[dict[str, float]]) -> dict[str, float]:
    rates = [s["wf_s"] for s in sets]
    got = {f"set{i}_wf_s": rate for i, rate in enumerate(rates, 1)}
    got["drop_pct"] = (rates[0] - rates[-1]) * 100 / rates[0]
    got["spread_pct"] = (max(rates) - min(rates)) * 100 / max(rates)
    got["set1_sidecar_ms"], got["set3_sidecar_ms"] = sets[0]["sidecar_ms"], sets[-1]["sidecar_ms"]
    return got


def run_once(side: str, work: Workload, count: int, warmup: int) -> dict[str, float]:
    sdk, dialect = DRIVERS[work.driver]
    python = sdk_python(sdk)
    started = reference(sdk_python("durabletask-112")) if side == REFERENCE else wfsidecar(dialect)
    with started as sidecar:
        sets = [figures(drive(python, work.driver, sidecar, work.mode, count, work.concurrency,
                              warmup), work.steps) for _ in range(work.sets)]
    return sets[0] if work.sets == 1 else set_figures(sets)


def progress(got: dict[str, float]) -> str:
    if "first_step_ms" in got:
        return (f"{got['seconds']:.1f} s, per step {got['first_step_ms']:.2f} → "
                f"{got['last_step_ms']:.2f} ms, sidecar CPU {got['sidecar_ms_step']:.2f} ms/step")
    if "set1_wf_s" in got:
        return (f"{got['set1_wf_s']:.1f} → {got['set2_wf_s']:.1f} → {got['set3_wf_s']:.1f} wf/s"
                f" (drop {got['drop_pct']:.1f} %, spread {got['spread_pct']:.1f} %) sidecar CPU"
                f" {got['set1_sidecar_ms']:.2f} → {got['set3_sidecar_ms']:.2f} ms/wf")
    return (f"{got['wf_s']:.1f} wf/s {got['act_s']:.0f} act/s p50 {got['p50_ms']:.1f} ms"
            f" p99 {got['p99_ms']:.1f} ms sidecar CPU {got['sidecar_ms']:.2f} ms/wf"
            f" worker CPU {got['app_ms']:.2f} ms/wf")


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def spread(values: list[float], digits: int) -> str:
    if not values:
        return "—"
    return (f"{statistics.median(values):,.{digits}f} "
            f"[{min(values):,.{digits}f}–{max(values):,.{digits}f}]")


def ratio(ours: list[float], theirs: list[float]) -> float | None:
    if not ours or not theirs:
        return None
    return statistics.median(ours) / statistics.median(theirs)


def metrics_of(work: Workload) -> tuple[tuple[str, str, int, bool], ...]:
    if work.sets > 1:
        return SET_METRICS
    return LONG_METRICS if work.mode.startswith("long") else METRICS


def print_table(runs: dict[tuple[str, str], list[dict[str, float]]]) -> None:
    print(f"\n{'workload':<20} {'figure':<30} {'reference':>26} {'wfsidecar':>26} {'ratio':>7}"
          "   wfsidecar per rep | reference per rep")
    for work in WORKLOADS:
        for key, label, digits, has_ratio in metrics_of(work):
            ref = [r[key] for r in runs.get((work.name, REFERENCE), [])]
            ours = [r[key] for r in runs.get((work.name, WFSIDECAR), [])]
            if not ours:
                continue
            value = ratio(ours, ref) if has_ratio else None
            shown = "—" if value is None else f"{value:.2f}×"
            reps = " ".join(f"{v:.{digits}f}" for v in ours)
            ref_reps = " ".join(f"{v:.{digits}f}" for v in ref) or "—"
            print(f"{work.name:<20} {label:<30} {spread(ref, digits):>26} "
                  f"{spread(ours, digits):>26} {shown:>7}   {reps} | {ref_reps}")


# Issue #14's targets: (workload, figure key, label, bound, kind). ``min_ratio``/``max_ratio``
# bound wfsidecar's median over the reference's, ``min``/``max`` wfsidecar's median itself.
TARGETS = (
    ("seq3 C=50", "wf_s", "workflows/s", 1.1, "min_ratio"),
    ("fan10 C=50", "act_s", "activities/s", 1.1, "min_ratio"),
    ("seq3 C=1", "p50_ms", "latency p50", 1.0, "max_ratio"),
    ("seq3 C=1", "p99_ms", "latency p99", 1.2, "max_ratio"),
    ("seq3 C=50", "sidecar_ms", "sidecar CPU per workflow", 0.75, "max_ratio"),
    ("fan10 C=50", "sidecar_ms", "sidecar CPU per workflow", 0.75, "max_ratio"),
    # Restate, a compiled-Rust engine, does 1,657 steps/s on the machine.
    ("ISO fan10 C=50", "act_s", "activities/s (this machine)", 1650, "min"),
    ("ISO one-act C=50", "wf_s", "workflows/s", 1.1, "min_ratio"),
    ("seq3 C=50 3 sets", "spread_pct", "spread % (Dapr loses 53 %)", 5, "max"),
)


def print_targets(runs: dict[tuple[str, str], list[dict[str, float]]]) -> None:
    print("\nissue #14 targets (wfsidecar's median; ratios to the reference's):")
    for name, key, label, bound, kind in TARGETS:
        ours = [r[key] for r in runs.get((name, WFSIDECAR), [])]
        theirs = [r[key] for r in runs.get((name, REFERENCE), [])]
        value = ratio(ours, theirs) if kind.endswith("ratio") else (
            statistics.median(ours) if ours else None)
        unit = "× the reference" if kind.endswith("ratio") else ""
        wanted = f"{'≥' if kind.startswith('min') else '≤'} {bound:,g}{unit}"
        if value is None:
            print(f"  {name:<20} {label:<30} {wanted:<22} not measured")
            continue
        met = value >= bound if kind.startswith("min") else value <= bound
        shown = f"{value:,.2f}×" if unit else f"{value:,.1f}"
        print(f"  {name:<20} {label:<30} {wanted:<22} measured {shown}"
              f"  {'met' if met else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, a smoke run")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    args = parser.parse_args()
    warmup = 5 if args.quick else 20
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    for rep in range(1, args.reps + 1):
        for work in WORKLOADS:
            count = work.quick_workflows if args.quick else work.workflows
            sides = [REFERENCE, WFSIDECAR] if work.with_reference else [WFSIDECAR]
            for side in sides if rep % 2 else sides[::-1]:
                got = run_once(side, work, count, warmup)
                runs.setdefault((work.name, side), []).append(got)
                size = f"{count}" if work.sets == 1 else f"{count}×{work.sets}"
                print(f"rep {rep} {work.name:<20} {side:<10} N={size}: {progress(got)}"
                      f" (load {load_average()})", flush=True)
    print_table(runs)
    print_targets(runs)
    if args.json:
        args.json.write_text(json.dumps({f"{w} | {s}": r for (w, s), r in runs.items()},
                                        indent=1) + "\n")

    def headline(work: str, key: str) -> str:
        value = ratio([r[key] for r in runs[(work, WFSIDECAR)]],
                      [r[key] for r in runs[(work, REFERENCE)]])
        return f"{value:.2f}" if value is not None else "nan"

    print(f"ratio_seq3_c50={headline('seq3 C=50', 'wf_s')} "
          f"ratio_fan10_c50={headline('fan10 C=50', 'act_s')} "
          f"cpu_ratio_seq3={headline('seq3 C=50', 'sidecar_ms')}")


if __name__ == "__main__":
    main()
