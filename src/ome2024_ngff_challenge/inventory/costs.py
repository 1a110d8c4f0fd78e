"""What converting a dataset cost, from the statistics its arrays record
(``attributes._ome2024_ngff_challenge_stats``), and the cost summary of a
catalog: the challenge's "baseline for the conversion costs".

The statistics are read as any tool of the challenge writes them: ``read`` and
``written`` (bytes), ``elapsed`` (seconds), ``start``/``stop`` (epoch seconds or
ISO 8601), ``threads``, ``cpu_count`` (and ``sched_affinity``), ``tool`` and
``version``; CPU time as ``cpu_seconds`` where a tool records it.

Core-seconds: the recorded CPU seconds when every array has them; otherwise an
estimate, the conversion's wall time x the cores it could use (its threads,
but no more than its CPUs: a remote run's extra threads wait on the network).
The wall time is the union of the arrays' start-stop intervals (arrays
converted at the same time count once, a pause between two runs not at all);
without timestamps, the sum of the arrays' ``elapsed``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

TB = 1e12
MB = 1e6
CPU_KEYS = ("cpu_seconds", "cpu_time")
RECORDED = "recorded"
ESTIMATED_THREADS = "estimated: elapsed x threads"
ESTIMATED_CPUS = "estimated: elapsed x CPUs (fewer CPUs than threads)"
ESTIMATED_SUM = "estimated: sum of elapsed x threads (no start/stop times)"


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _count(value: object) -> int | None:
    n = _number(value)
    return int(n) if n is not None and n >= 0 and n == int(n) else None


def _time(value: object) -> float | None:
    """Epoch seconds from epoch seconds or an ISO 8601 text."""
    n = _number(value)
    if n is not None:
        return n
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.timezone.utc)
        return parsed.timestamp()
    return None


def union_length(intervals: Iterable[tuple[float, float]]) -> float:
    total, end = 0.0, -math.inf
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


@dataclass
class Cost:
    """One dataset's conversion, summed over the arrays that record statistics."""

    arrays: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    elapsed: float | None = None  # wall seconds
    core_seconds: float | None = None
    source: str = ""  # RECORDED or how it was estimated
    threads: int | None = None
    tools: list[str] = field(default_factory=list)


def dataset_cost(stats: list[dict]) -> Cost | None:
    """The cost of a dataset from its arrays' statistics (None: none recorded)."""
    stats = [s for s in stats if isinstance(s, dict)]
    if not stats:
        return None
    cost = Cost(arrays=len(stats))
    intervals, elapsed_sum, cpu, threads, cpus = [], 0.0, [], [], []
    for s in stats:
        cost.bytes_read += _count(s.get("read")) or 0
        cost.bytes_written += _count(s.get("written")) or 0
        start, stop = _time(s.get("start")), _time(s.get("stop"))
        if start is not None and stop is not None and stop >= start:
            intervals.append((start, stop))
        elapsed_sum += max(_number(s.get("elapsed")) or 0.0, 0.0)
        cpu.append(next((v for k in CPU_KEYS if (v := _number(s.get(k))) is not None), None))
        if (n := _count(s.get("threads"))) is not None and n > 0:
            threads.append(n)
        usable = _count(s.get("sched_affinity")) or _count(s.get("cpu_count"))
        if usable:
            cpus.append(usable)
        tool = s.get("tool")
        if isinstance(tool, str) and tool:
            name = f"{tool} {s['version']}" if isinstance(s.get("version"), str) else tool
            if name not in cost.tools:
                cost.tools.append(name)
    timed = len(intervals) == len(stats)
    cost.elapsed = union_length(intervals) if timed else elapsed_sum
    cost.threads = max(threads) if threads else None
    if all(c is not None for c in cpu):
        cost.core_seconds, cost.source = sum(cpu), RECORDED
        return cost
    cores = cost.threads or (max(cpus) if cpus else None)
    if cores is None:
        return cost  # neither threads nor CPUs: no estimate
    source = ESTIMATED_THREADS if timed else ESTIMATED_SUM
    if cpus and max(cpus) < cores:
        cores, source = max(cpus), ESTIMATED_CPUS if timed else ESTIMATED_SUM
    cost.core_seconds, cost.source = cost.elapsed * cores, source
    return cost


# ---------------------------------------------------------------------------
# the summary
# ---------------------------------------------------------------------------


@dataclass
class Entry:
    """What the summary needs of one catalog row."""

    ok: bool
    codec: str
    layout: str
    bytes_on_disk: int | None
    cost: Cost | None


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _group(entries: list[Entry], price: float | None) -> dict:
    costed = [e.cost for e in entries if e.cost is not None]
    timed = [c for c in costed if c.core_seconds is not None]
    read = sum(c.bytes_read for c in costed)
    written = sum(c.bytes_written for c in costed)
    core_seconds = sum(c.core_seconds for c in timed)
    sized = [e.bytes_on_disk for e in entries if e.bytes_on_disk is not None]
    read_timed = sum(c.bytes_read for c in timed)
    core_hours = core_seconds / 3600
    out = {
        "datasets": len(entries),
        "failed": sum(not e.ok for e in entries),
        "with_stats": len(costed),
        "bytes_read": read,
        "bytes_written": written,
        "tb_in": read / TB,
        "tb_out": written / TB,
        "compression_ratio": _ratio(read, written),
        "sized": len(sized),
        "bytes_on_disk": sum(sized),
        "tb_on_disk": sum(sized) / TB,
        "with_core_seconds": len(timed),
        "core_seconds_estimated": sum(c.source != RECORDED for c in timed),
        "core_hours": core_hours,
        "mb_per_s_per_core": _ratio(read_timed / MB, core_seconds),
        "core_hours_per_tb_in": _ratio(core_hours, read_timed / TB),
        "core_hours_per_tb_out": _ratio(core_hours, sum(c.bytes_written for c in timed) / TB),
    }
    if price is not None:
        out["cost"] = core_hours * price
        out["cost_per_tb_in"] = None if out["core_hours_per_tb_in"] is None else out["core_hours_per_tb_in"] * price
        out["cost_per_tb_out"] = None if out["core_hours_per_tb_out"] is None else out["core_hours_per_tb_out"] * price
    return out


def summary(entries: list[Entry], price: float | None = None) -> dict:
    """The cost summary: everything, by codec and by layout (see README)."""
    result = {"price_per_core_hour": price, **_group(entries, price)}
    for key, attr in (("by_codec", "codec"), ("by_layout", "layout")):
        groups: dict[str, list[Entry]] = {}
        for e in entries:
            if e.ok:
                groups.setdefault(getattr(e, attr) or "unknown", []).append(e)
        result[key] = {name: _group(members, price) for name, members in sorted(groups.items())}
    notes = []
    if result["core_seconds_estimated"]:
        notes.append(f"core-seconds of {result['core_seconds_estimated']} of {result['with_core_seconds']} datasets "
                     "are estimated as the conversion's elapsed time x its threads (at most its CPUs): "
                     "their statistics record no CPU time")
    if result["with_stats"] < result["datasets"] - result["failed"]:
        notes.append(f"{result['datasets'] - result['failed'] - result['with_stats']} datasets record no conversion "
                     "statistics: they count in datasets and bytes on disk only")
    if result["sized"] < result["datasets"] - result["failed"]:
        notes.append(f"the bytes on disk of {result['datasets'] - result['failed'] - result['sized']} datasets are "
                     "unknown (their store cannot be listed, e.g. HTTP)")
    result["notes"] = notes
    return result


def human_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1000
    return f"{n:.2f} PB"  # pragma: no cover


def _fmt(value: float | None, spec: str = ".3g") -> str:
    return "-" if value is None else format(value, spec)


def summary_lines(s: dict) -> list[str]:
    """The summary as the command prints it."""
    lines = [
        f"datasets: {s['datasets']} ({s['failed']} failed), {s['with_stats']} with conversion statistics",
        f"in: {human_bytes(s['bytes_read'])} read ({s['tb_in']:.6g} TB), out: {human_bytes(s['bytes_written'])} "
        f"written ({s['tb_out']:.6g} TB), compression ratio {_fmt(s['compression_ratio'])}",
        f"on disk: {human_bytes(s['bytes_on_disk'])} ({s['sized']} datasets listed)",
        f"core-hours: {_fmt(s['core_hours'], '.4g')} ({s['core_seconds_estimated']} of {s['with_core_seconds']} "
        f"estimated), {_fmt(s['mb_per_s_per_core'])} MB/s per core, "
        f"{_fmt(s['core_hours_per_tb_in'])} core-hours per TB in",
    ]
    if s.get("price_per_core_hour") is not None:
        lines.append(f"at {s['price_per_core_hour']:g} per core-hour: {_fmt(s.get('cost'), '.4g')} in all, "
                     f"{_fmt(s.get('cost_per_tb_in'), '.4g')} per TB in, {_fmt(s.get('cost_per_tb_out'), '.4g')} per TB out")
    for key, title in (("by_codec", "by codec"), ("by_layout", "by layout")):
        lines.append(f"{title}:")
        for name, g in s[key].items():
            lines.append(f"  {name}: {g['datasets']} datasets, {human_bytes(g['bytes_read'])} in, "
                         f"{human_bytes(g['bytes_written'])} out, ratio {_fmt(g['compression_ratio'])}, "
                         f"{_fmt(g['core_hours'], '.4g')} core-hours, {_fmt(g['mb_per_s_per_core'])} MB/s per core")
    lines.extend(f"note: {n}" for n in s["notes"])
    return lines
