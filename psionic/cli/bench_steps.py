"""Shared pieces of the training benchmarks: alternate the contenders step by step and summarise.

Alternating one step of each contender at a time means both see the same machine load,
which matters more than anything else on a shared machine.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "cpus": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


@dataclass
class StepTimings:
    """Wall and process-CPU seconds per measured step, and every step's loss, per contender."""

    times: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    losses: dict[str, list[float]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "steps_per_s": {n: round(1.0 / statistics.median(t), 4) for n, t in self.times.items()},
            "step_s": {n: [round(x, 3) for x in t] for n, t in self.times.items()},
            # CPU seconds of the whole process per step: steadier than wall time on a shared
            # machine, but it also counts threads that spin while waiting.
            "cpu_s_per_step": {n: round(statistics.median(c), 3) for n, c in self.cpu.items()},
            "losses": {n: [round(x, 5) for x in v] for n, v in self.losses.items()},
        }


def alternate(steps: dict[str, Callable[[], float]], warmup: int, measured: int) -> StepTimings:
    """Run ``warmup + measured`` rounds, one step of each contender per round; time the measured ones."""
    out = StepTimings({n: [] for n in steps}, {n: [] for n in steps}, {n: [] for n in steps})
    for i in range(warmup + measured):
        for name, step in steps.items():
            t0, c0 = time.perf_counter(), time.process_time()
            out.losses[name].append(step())
            if i >= warmup:
                out.times[name].append(time.perf_counter() - t0)
                out.cpu[name].append(time.process_time() - c0)
    return out
