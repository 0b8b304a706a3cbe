"""One result type and one verdict function for every engine (explore, fuzz, prove, and the
audit, matrix and JSON outputs built on them).

The verdicts, and the exit status `ackcheck` gives for each:

| verdict | meaning | exit |
|---|---|---|
| `holds` | the exhaustive search finished: every checked invariant holds within the bounds | 0 |
| `violated` | a counterexample was found (its trace is reported) | 1 |
| `no-violation-up-to-depth` | the search was cut at `--max-depth` (or prove's `--depth`): nothing found up to it, nothing said beyond | 0 |
| `proved` | the symbolic engine proved the invariants for every depth (at this cluster size) | 0 |
| `no-violation-found` | random exploration (fuzz) found nothing: evidence, never a proof | 0 |
| `incomplete` | stopped by Ctrl-C, a time or memory limit before the search finished | 4 |
| `unknown` | the solver gave up | 3 |

A search cut short is never reported as `holds`.
"""

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
    workers: int = 1  # processes the exhaustive search ran in
    peak_memory_bytes: int = 0  # peak resident memory of the search's processes (summed)
    bytes_per_state: float = 0.0  # the search's tables (seen sets, parent pointers) per distinct state
    # of `transitions`, those a sleep set skipped (their successors were not computed). The one
    # figure that may vary with the workers and checkpoints (each may drop sleep sets), so it
    # is not part of as_dict()
    transitions_asleep: int = 0
    # while a level is expanded (for progress lines only): states of the current frontier
    # expanded so far, and its size
    level_expanded: int = 0
    level_size: int = 0

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
            "workers": self.workers,
            "peak_memory_bytes": self.peak_memory_bytes,
            "bytes_per_state": round(self.bytes_per_state, 1),
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
    ctrl_c: bool = False  # it was Ctrl-C that interrupted it (a caller running many searches stops too)

    unknown: bool = False  # the solver gave up (prove)
    proved: bool = False  # the symbolic engine proved it for all depths (prove)
    # vacuity warnings: witnesses (invariants/witnesses.py) the search never reached
    warnings: list[str] = field(default_factory=list)
    liveness: dict | None = None  # liveness runs: fairness assumptions, graph figures

    @property
    def verdict(self) -> str:
        return verdict_of(self.engine, violated=bool(self.violation), interrupted=self.interrupted,
                          complete=self.stats.complete, proved=self.proved, unknown=self.unknown)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

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
            "warnings": list(self.warnings),
            **({"liveness": self.liveness} if self.liveness else {}),
        }


EXIT_CODES = {"holds": 0, "violated": 1, "no-violation-up-to-depth": 0, "proved": 0, "no-violation-found": 0,
              "incomplete": 4, "unknown": 3}


def verdict_of(engine: str, *, violated: bool, interrupted: bool = False, complete: bool = True,
               proved: bool = False, unknown: bool = False) -> str:
    """The one verdict function (see the table above)."""
    if violated:
        return "violated"
    if interrupted:
        return "incomplete"
    if unknown:
        return "unknown"
    if proved:
        return "proved"
    if engine in ("fuzz", "chaos", "clients"):  # random exploration: evidence, never a proof
        return "no-violation-found"
    if not complete:
        return "no-violation-up-to-depth"
    return "holds"
