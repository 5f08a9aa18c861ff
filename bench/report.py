"""The tables `python -m bench` prints, from the same dictionaries it writes as JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.stats import table

MIB = 1024  # kB per MiB


def machine(info: Mapping[str, Any], command: str) -> str:
    keys = ("date", "cpu", "cores", "memory_gib", "os", "kernel", "python", "commit",
            "llama_server", "nginx", "wrk", "load_average")  # fmt: skip
    lines = [f"command: {command}", *(f"{key}: {info.get(key)}" for key in keys)]
    return "\n".join(lines)


def section(name: str, data: Mapping[str, Any]) -> str:
    title = f"\n== {name} ({data.get('seconds', '?')} s) =="
    body = {
        "ttft": _ttft,
        "throughput": _throughput,
        "proxy": _proxy,
        "memory": _memory,
        "pipeline": _pipeline,
        "stress": _stress,
    }[name](data)
    return f"{title}\n{body}"


def load(data: Mapping[str, Any]) -> str:
    """The 1-minute load average before and after a measurement: "0.31>0.52"."""
    return f"{data['load_before'][0]:.2f}>{data['load_after'][0]:.2f}"


def _ttft(data: Mapping[str, Any]) -> str:
    headers = ("prompt", "tokens", "pairs", "direct p50", "p99", "orch p50", "p99", "added p50",
               "added p99", "paired p50", "paired p99", "errors", "load 1m")  # fmt: skip
    parts = []
    for key, title in (("real", "llama-server"), ("instant", "instant upstream (nginx)")):
        rows = []
        for run in data[key]:
            direct, orch, paired = run["direct_ms"], run["orchestrator_ms"], run["paired_added_ms"]
            tokens = (run.get("prompt_tokens") or {}).get("direct", "-")
            rows.append((run["size"], tokens, run["pairs"], direct["p50"], direct["p99"],
                         orch["p50"], orch["p99"], run["added_ms"]["p50"], run["added_ms"]["p99"],
                         paired["p50"], paired["p99"], len(run["errors"]), load(run)))  # fmt: skip
        parts.append(f"time to first token, ms, {title}:\n{table(headers, rows)}")
    return "\n\n".join(parts)


def _throughput(data: Mapping[str, Any]) -> str:
    headers = ("streams", "rounds", "direct tok/s", "orch tok/s", "ratio",
               "direct aggr", "orch aggr", "ratio", "errors", "load 1m")  # fmt: skip
    rows = []
    for run in data["runs"]:
        per, agg = run["per_stream_tokens_per_s"], run["aggregate_tokens_per_s"]
        rows.append((run["concurrency"], run["rounds"], per["direct"]["p50"],
                     per["orchestrator"]["p50"], run["ratio_per_stream"],
                     agg["direct"]["p50"], agg["orchestrator"]["p50"], run["ratio_aggregate"],
                     len(run["errors"]), load(run)))  # fmt: skip
    return "tokens/s (per-stream median, aggregate), medians over rounds:\n" + table(headers, rows)


def _proxy(data: Mapping[str, Any]) -> str:
    headers = ("run", "conns", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors",
               "CPU us/req", "load 1m")  # fmt: skip
    rows = [
        (name, run["connections"], run["requests_per_s"], run["latency_ms"]["p50"],
         run["latency_ms"]["p90"], run["latency_ms"]["p99"], run["latency_ms"]["max"],
         run["error_total"], run["cpu_us_per_request"] or "-", load(run))
        for name, run in data["wrk"].items()
    ]  # fmt: skip
    check = data["open_streams"]
    hwm = check["hwm_kib"] / MIB if check["hwm_kib"] else 0.0
    return (
        f"{_peers(data['peers'])}\n\n"
        f"wrk, one thread, orchestrator on CPU 0, nginx and wrk on CPU 1, "
        f"{data['tokens_per_answer']} tokens per answer:\n{table(headers, rows)}\n"
        f"{check['streams']} streams opened at once (Python client): {check['completed']} "
        f"completed, {check['failure_total']} failed, at most {check['max_open_at_once']} open "
        f"at once; orchestrator peak RSS {hwm:.1f} MiB; load {load(check)}"
    )


def _peers(data: Mapping[str, Any]) -> str:
    headers = ("request", "proxy", f"req/s ({data['rate_connections']} conns)", "upstream alone",
               "p50 ms (1 conn)",
               "p99 ms", "added p50", "added p99", "CPU us/req", "errors", "RSS warm MiB",
               "peak MiB", "load 1m")  # fmt: skip
    rows = [
        (row["mode"], row["proxy"], row["requests_per_s"], row["direct_requests_per_s"],
         row["p50_ms"], row["p99_ms"], row["added_p50_ms"], row["added_p99_ms"],
         row["cpu_us_per_request"] or "-", row["errors"], row["rss_warm_kib"] / MIB,
         row["rss_peak_kib"] / MIB, load(row))
        for row in data["summary"]
    ]  # fmt: skip
    return (
        f"POST /v1/completions (16 tokens), each proxy alone on CPU 0, nginx and wrk on CPU 1, "
        f"LiteLLM {data['litellm']}; added = the proxy's percentile minus the upstream's alone:\n"
        f"{table(headers, rows)}"
    )


def _memory(data: Mapping[str, Any]) -> str:
    headers = ("idle MiB", "peak MiB (sampled)", "VmHWM MiB", "after MiB", "streams",
               "open at once", "errors", "load 1m")  # fmt: skip
    row = (data["idle_kib"] / MIB, data["peak_sampled_kib"] / MIB, data["hwm_kib"] / MIB,
           data["after_kib"] / MIB, data["streams"], data["max_open_at_once"],
           len(data["errors"]), load(data))  # fmt: skip
    return "orchestrator resident memory:\n" + table(headers, [row])


def _pipeline(data: Mapping[str, Any]) -> str:
    stages = list(next(iter(data["sizes"].values()))["cold_ms"]["stage_p50"])  # STAGES' order
    headers = ("context", "chunks", "mode", "p50 ms", "p99 ms", *stages, "load 1m")
    rows = []
    for name, run in data["sizes"].items():
        for mode in ("cold", "warm"):
            timing = run[f"{mode}_ms"]
            medians = [timing["stage_p50"][stage] for stage in stages]
            rows.append((name, run["chunks"], mode, timing["total"]["p50"], timing["total"]["p99"],
                         *medians, load(run)))  # fmt: skip
    scaling = data["dedup_scaling"]
    scale_rows = [
        (row["chunks"], row["ms"], row.get("growth", "-"), row.get("exponent", "-"), row["dropped"])
        for row in scaling["rows"]
    ]
    text = (
        "build_prompt, ms (the whole call p50/p99; medians of its stages):\n"
        f"{table(headers, rows)}\n\n"
        f"dedup, cold, best of 3 (exponent: log(time ratio) / log(size ratio); 1 = linear, "
        f"2 = quadratic):\n"
        f"{table(('chunks', 'ms', 'growth', 'exponent', 'dropped'), scale_rows)}\n"
        f"exponent 1k->20k: {scaling['exponent_1k_to_20k']}; load {load(scaling)}"
    )
    if "adversarial" in data:
        text += "\n\n" + _adversarial(data["adversarial"])
    return text


def _adversarial(data: Mapping[str, Any]) -> str:
    figures = data["adversarial_ms_per_mb"]
    headers = ("input", "ms per MB")
    rows = [("normal code (stdlib)", data["normal_ms_per_mb"])]
    rows += [(row["input"], row["ms_per_mb"]) for row in data["slowest"]]
    return (
        f"build_prompt, cold, CPU ms per MB on {data['input_bytes'] // 1024} KB "
        f"(target <= {data['target_ms_per_mb']}):\n{table(headers, rows)}\n"
        f"adversarial inputs: {figures['inputs']}, median {figures['median']:.1f}, worst "
        f"{figures['worst']} ({figures['worst_input']}), over target {figures['over_target']}; "
        f"load {load(data)}"
    )


def _stress(data: Mapping[str, Any]) -> str:
    kinds = ", ".join(f"{count} {kind}" for kind, count in data["by_kind"].items())
    failures = "".join(f"\n  {failure}" for failure in data["failures"])
    return (
        f"{data['requests']} requests, {data['concurrency']} at a time ({kinds}): "
        f"{data['failure_total']} failed; slowest {data['slowest_s']} s; "
        f"{data['busy_slots_after']} slots still busy afterwards; load {load(data)}{failures}"
    )
