"""PNG pictures where one reads better than a table (matplotlib; skipped when missing)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def section(name: str, data: Mapping[str, Any], out: Path) -> list[Path]:
    """The pictures of one section, written into `out`; none when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        return []
    drawers = {"ttft": _ttft, "memory": _memory, "pipeline": _pipeline}
    drawer = drawers.get(name)
    return [drawer(data, out)] if drawer else []


def _ttft(data: Mapping[str, Any], out: Path) -> Path:
    import matplotlib.pyplot as plt

    runs = data["real"]
    figure, axes = plt.subplots(1, len(runs), figsize=(4 * len(runs), 4))
    for axis, run in zip(axes, runs, strict=True):
        samples = run["samples_ms"]
        axis.boxplot(
            [samples["direct"], samples["orchestrator"]],
            tick_labels=["direct", "orchestrator"],
            whis=(1, 99),
            showfliers=True,
        )
        axis.set_title(f"{run['size']} prompt ({run['pairs']} pairs)")
        axis.set_ylabel("time to first token, ms")
    figure.suptitle("Time to first token, real llama-server (whiskers: p1-p99)")
    return _save(figure, out / "ttft.png")


def _memory(data: Mapping[str, Any], out: Path) -> Path:
    import matplotlib.pyplot as plt

    timeline = data["rss_timeline"]
    figure, axis = plt.subplots(figsize=(7, 3.5))
    axis.plot([t for t, _ in timeline], [kib / 1024 for _, kib in timeline])
    axis.axhline(data["idle_kib"] / 1024, linestyle="--", color="grey", label="idle")
    axis.set_xlabel("seconds")
    axis.set_ylabel("orchestrator RSS, MiB")
    axis.set_title(f"Orchestrator RSS while {data['streams']} streams run")
    axis.legend()
    return _save(figure, out / "memory.png")


def _pipeline(data: Mapping[str, Any], out: Path) -> Path:
    import matplotlib.pyplot as plt

    rows = data["dedup_scaling"]["rows"]
    counts = [row["chunks"] for row in rows]
    times = [row["ms"] for row in rows]
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.loglog(counts, times, "o-", label="dedup (measured)")
    axis.loglog(counts, [times[0] * c / counts[0] for c in counts], ":", label="linear")
    axis.loglog(counts, [times[0] * (c / counts[0]) ** 2 for c in counts], ":", label="quadratic")
    axis.set_xlabel("chunks")
    axis.set_ylabel("ms (cold)")
    axis.set_title("Deduplication time against the number of chunks")
    axis.legend()
    return _save(figure, out / "dedup.png")


def _save(figure: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
