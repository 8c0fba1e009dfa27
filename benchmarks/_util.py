"""Shared helpers of the benchmark scripts: machine description, JSON results, medians.

The scripts are run as files (``python benchmarks/bench_x.py``), so this module is imported by
its plain name from the ``benchmarks`` folder. Nothing here asserts on time: the machine is
shared and noisy, so every script reports figures (and ratios measured side by side in one run),
never a pass/fail on an absolute duration.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import resource
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from glossfree.io import atomic_write_json


def cpu_model() -> str:
    """CPU model name from ``/proc/cpuinfo`` (Linux), else ``platform.processor()``."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def available_cores() -> int:
    """Cores this process may run on (``nproc``), not the cores of the whole host."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def machine() -> dict[str, Any]:
    """What a figure was measured on: cores, CPU model, Python, torch, date (UTC)."""
    import torch

    return {
        "nproc": available_cores(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        # other processes on the machine: 1-minute load average when the figures were printed
        "load_avg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def machine_line(info: dict[str, Any]) -> str:
    return (
        f"machine: {info['nproc']} cores (nproc), {info['cpu_model']}, Python {info['python']}, "
        f"torch {info['torch']}, {info['date_utc']} UTC, load average {info.get('load_avg_1min') or 0:.2f}"
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def write_json(path: str | Path, data: dict[str, Any]) -> None:
    """Write a results file atomically."""
    atomic_write_json(path, data)


def goal(value: float, limit: float, *, at_most: bool) -> str:
    """``met`` / ``not met`` against a goal (a report, never an assertion)."""
    ok = value <= limit if at_most else value >= limit
    return "met" if ok else "NOT met"


def _machine_busy_s() -> float | None:
    """Core-seconds all processes spent on the CPUs since boot (``/proc/stat``), or None."""
    stat = Path("/proc/stat")
    if not stat.is_file():
        return None
    fields = stat.read_text(encoding="ascii").splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    """Core-seconds of this process and its finished children (all threads)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class CpuMeter:
    """How busy the machine was while a block ran: this process vs everything else.

    ``with CpuMeter() as meter: ...`` then ``meter.result()``: wall seconds, core-seconds used by
    this process, and core-seconds used by other processes (``/proc/stat``, Linux only), so a
    figure measured on a shared machine says how much it was disturbed.
    """

    def __enter__(self) -> CpuMeter:
        self._wall, self._own, self._busy = time.perf_counter(), _own_cpu_s(), _machine_busy_s()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = time.perf_counter() - self._wall
        self.own_cpu_s = _own_cpu_s() - self._own
        busy = _machine_busy_s()
        self.others_cpu_s = None if busy is None or self._busy is None else max(0.0, busy - self._busy - self.own_cpu_s)

    def result(self) -> dict[str, Any]:
        others = self.others_cpu_s
        return {
            "wall_s": self.wall_s,
            "own_cpu_s": self.own_cpu_s,
            "others_cpu_s": others,
            # average number of cores other processes kept busy while this ran
            "others_cores": None if others is None else others / self.wall_s,
        }


def cpu_line(cpu: dict[str, Any]) -> str:
    others = "n/a" if cpu["others_cpu_s"] is None else (
        f"{cpu['others_cpu_s']:.0f} core-s ({cpu['others_cores']:.2f} cores busy on average)"
    )
    return f"CPU over {cpu['wall_s']:.0f} s wall: this benchmark {cpu['own_cpu_s']:.0f} core-s, other processes {others}"
