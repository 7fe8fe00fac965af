"""Scrape a daemon's ``/metrics`` over real HTTP and read the Prometheus text format.

The parser is written out here (not prometheus-client's) so that the tests hold the
exposition to the text format itself: every sample line parsed, every TYPE recorded.
"""

from __future__ import annotations

import re
import urllib.request
from dataclasses import dataclass, field

import aiohttp

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

Labels = frozenset[tuple[str, str]]


@dataclass
class Scrape:
    """One scrape: ``types[family]`` and ``samples[(name, labels)] = value``."""

    content_type: str
    types: dict[str, str] = field(default_factory=dict)
    samples: dict[tuple[str, Labels], float] = field(default_factory=dict)

    def value(self, name: str, **labels: str) -> float:
        """The sample of ``name`` whose labels include ``labels``; there must be one."""
        found = self.find(name, **labels)
        assert len(found) == 1, (name, labels, found)
        return next(iter(found.values()))

    def get(self, name: str, **labels: str) -> float:
        """Like ``value``, but 0 when no sample matches (a series never recorded)."""
        found = self.find(name, **labels)
        assert len(found) <= 1, (name, labels, found)
        return next(iter(found.values()), 0.0)

    def find(self, name: str, **labels: str) -> dict[Labels, float]:
        wanted = set(labels.items())
        return {have: value for (sample, have), value in self.samples.items()
                if sample == name and wanted <= have}

    def names(self) -> set[str]:
        return {name for name, _ in self.samples}


def parse(text: str, content_type: str = "") -> Scrape:
    scrape = Scrape(content_type)
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(" ")
            scrape.types[family] = kind
        elif line and not line.startswith("#"):
            match = _SAMPLE.match(line)
            assert match, f"not a sample line: {line!r}"
            name, labels, value = match.groups()
            pairs = frozenset(_LABEL.findall(labels or ""))
            assert (name, pairs) not in scrape.samples, f"duplicate sample: {line!r}"
            scrape.samples[(name, pairs)] = float(value)
    return scrape


async def scrape(port: int, host: str = "127.0.0.1") -> Scrape:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://{host}:{port}/metrics") as response:
            assert response.status == 200
            return parse(await response.text(), response.headers["Content-Type"])


def scrape_blocking(port: int, host: str = "127.0.0.1") -> Scrape:
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as response:
        return parse(response.read().decode(), response.headers["Content-Type"])


def assert_histograms_consistent(scrape: Scrape) -> None:
    """Every histogram series: buckets cumulative, +Inf equal to _count, a _sum."""
    for family, kind in scrape.types.items():
        if kind != "histogram":
            continue
        for labels, count in scrape.find(family + "_count").items():
            buckets = sorted(
                ((float(dict(have)["le"]), value) for have, value
                 in scrape.find(family + "_bucket", **dict(labels)).items()),
                key=lambda b: b[0])
            assert buckets and buckets[-1][0] == float("inf"), (family, labels)
            values = [value for _, value in buckets]
            assert values == sorted(values), (family, labels, values)
            assert values[-1] == count, (family, labels)
            assert (family + "_sum", labels) in scrape.samples
