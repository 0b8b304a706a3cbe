"""One result type for every engine (explore, fuzz, and the audit built on them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ackcheck.traces.format import Trace
from ackcheck.traces.settings import Config


@dataclass
class Stats:
    distinct_states: int = 0
    transitions: int = 0
    max_depth: int = 0
    seconds: float = 0.0
    complete: bool = True  # False: stopped early (depth bound, Ctrl-C, example budget)

    @property
    def states_per_second(self) -> float:
        return self.distinct_states / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        return {
            "distinct_states": self.distinct_states,
            "transitions": self.transitions,
            "max_depth": self.max_depth,
            "seconds": round(self.seconds, 3),
            "states_per_second": round(self.states_per_second),
            "complete": self.complete,
        }

    def done_line(self) -> str:
        return (f"Done. distinct={self.distinct_states} transitions={self.transitions} depth={self.max_depth} "
                f"seconds={self.seconds:.2f} states/s={self.states_per_second:,.0f}")


@dataclass
class Result:
    engine: str  # "explore" | "fuzz"
    config: Config
    invariants: list[str]
    violation: tuple[str, str] | None = None  # (invariant id, message)
    trace: Trace | None = None
    stats: Stats = field(default_factory=Stats)
    interrupted: bool = False

    @property
    def verdict(self) -> str:
        if self.violation:
            return "violated"
        if self.engine == "explore" and not self.interrupted:
            return "holds"
        return "no violation found"

    @property
    def exit_code(self) -> int:
        return 1 if self.violation else 0

    def as_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "engine": self.engine,
            "config": {k: v for k, v in self.config.as_dict().items() if k != "bounds"},
            "bounds": self.config.bounds.as_dict(),
            "invariants": list(self.invariants),
            "violation": {"invariant": self.violation[0], "message": self.violation[1]} if self.violation else None,
            "trace": self.trace.as_dict() if self.trace else None,
            "stats": self.stats.as_dict(),
            "interrupted": self.interrupted,
            "notes": list(self.config.notes),
        }
