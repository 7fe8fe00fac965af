"""Time series kept on the event loop in plain dicts, exposed as prometheus-client families.

A counter or histogram here is a dict from label values to numbers: recording one value is
a dict lookup and an addition (no lock: only the event loop writes or reads them), cheap
enough for every RPC, turn and commit. Dapr's conventions (names, label keys, milliseconds,
its default buckets) come from dapr/dapr ``pkg/diagnostics/workflow_monitoring.go`` and the
default latency distribution of ``pkg/config``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

# Dapr's default latency distribution, in milliseconds, used by all its workflow histograms.
DAPR_BUCKETS_MS = (1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 30, 40, 50, 65, 80, 100, 130, 160,
                   200, 250, 300, 400, 500, 650, 800, 1_000, 2_000, 5_000, 10_000, 20_000,
                   50_000, 100_000)
SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                   5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
DAPR_LABELS = ("app_id", "namespace")
DAPR_PREFIX = "dapr_runtime_workflow_"
# Dapr's counters: Prometheus counters whose names do not end in _total (see dapr_family).
DAPR_COUNTERS = tuple(DAPR_PREFIX + name for name in (
    "operation_count", "execution_count", "activity_operation_count",
    "activity_execution_count"))

Key = tuple[str, ...]


class Counter:
    __slots__ = ("name", "doc", "labels", "values")

    def __init__(self, name: str, doc: str, labels: Sequence[str]) -> None:
        self.name, self.doc, self.labels = name, doc, tuple(labels)
        self.values: dict[Key, float] = {}

    def inc(self, key: Key, amount: float = 1.0) -> None:
        self.values[key] = self.values.get(key, 0.0) + amount

    def family(self, prefix: Key = (), prefix_labels: Key = ()) -> Metric:
        family = CounterMetricFamily(self.name, self.doc, labels=[*prefix_labels, *self.labels])
        for key, value in self.values.items():
            family.add_metric([*prefix, *key], value)
        return family

    def dapr_family(self, prefix: Key) -> Metric:
        """Dapr exposes its counts as counters without the ``_total`` suffix, which
        prometheus-client always adds to a counter: they go out untyped, and the listener
        restores their TYPE line (``DAPR_COUNTERS``)."""
        family = Metric(self.name, self.doc, "unknown")
        for key, value in self.values.items():
            family.add_sample(self.name, dict(zip((*DAPR_LABELS, *self.labels),
                                                  (*prefix, *key), strict=True)), value)
        return family


class Histogram:
    __slots__ = ("name", "doc", "labels", "bounds", "series")

    def __init__(self, name: str, doc: str, labels: Sequence[str],
                 buckets: Sequence[float]) -> None:
        self.name, self.doc, self.labels = name, doc, tuple(labels)
        self.bounds = tuple(float(b) for b in buckets)
        # Per label values: the count in each bucket (not cumulative), then +Inf, then sum.
        self.series: dict[Key, list[float]] = {}

    def observe(self, key: Key, value: float) -> None:
        counts = self.series.get(key)
        if counts is None:
            counts = self.series[key] = [0.0] * (len(self.bounds) + 2)
        counts[bisect_left(self.bounds, value)] += 1
        counts[-1] += value

    def family(self, prefix: Key = (), prefix_labels: Key = ()) -> Metric:
        family = HistogramMetricFamily(self.name, self.doc,
                                       labels=[*prefix_labels, *self.labels])
        for key, counts in self.series.items():
            cumulative, buckets = 0.0, []
            for bound, count in zip(self.bounds, counts, strict=False):
                cumulative += count
                buckets.append((_bound(bound), cumulative))
            buckets.append(("+Inf", cumulative + counts[len(self.bounds)]))
            family.add_metric([*prefix, *key], buckets, counts[-1])
        return family


def _bound(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)
