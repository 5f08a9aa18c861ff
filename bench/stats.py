"""Summaries of timings (nearest-rank percentiles, as /v1/stats reports them) and text tables."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from cerebrum.core.stats import Window


@dataclass(frozen=True, slots=True)
class Summary:
    """n samples: median, p90, p99 (nearest rank), mean, min, max; in the samples' unit."""

    n: int
    p50: float
    p90: float
    p99: float
    mean: float
    min: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        if not values:
            raise ValueError("no samples to summarise")
        return cls(
            n=len(values),
            p50=percentile(values, 50),
            p90=percentile(values, 90),
            p99=percentile(values, 99),
            mean=statistics.fmean(values),
            min=min(values),
            max=max(values),
        )

    def scaled(self, factor: float) -> Summary:
        """The same summary in another unit (seconds * 1000 = milliseconds)."""
        return Summary(
            n=self.n,
            p50=self.p50 * factor,
            p90=self.p90 * factor,
            p99=self.p99 * factor,
            mean=self.mean * factor,
            min=self.min * factor,
            max=self.max * factor,
        )

    def as_dict(self, digits: int = 4) -> dict[str, float]:
        return {key: round(value, digits) for key, value in asdict(self).items()}


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile: the smallest sample with at least q% of samples <= it."""
    window = Window(size=max(1, len(values)))
    for value in values:
        window.add(value)
    found = window.percentile(q)
    if found is None:
        raise ValueError("no samples")
    return float(found)


def differences(first: Sequence[float], second: Sequence[float]) -> list[float]:
    """Pairwise first[i] - second[i] (paired samples taken side by side)."""
    return [a - b for a, b in zip(first, second, strict=True)]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table: text columns left-aligned, numbers right-aligned."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [
        max(len(header), *(len(row[i]) for row in cells)) if cells else len(header)
        for i, header in enumerate(headers)
    ]
    numeric = [
        bool(rows) and all(isinstance(row[i], int | float) for row in rows)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric, strict=True)
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in cells)])


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
