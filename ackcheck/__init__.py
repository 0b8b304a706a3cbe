"""ackcheck: what a Kafka configuration actually guarantees under crashes, power loss and elections.

The public API (everything else is internal and may change between releases)::

    import ackcheck

    config = ackcheck.build_config({"acks": "all", "min.insync.replicas": "2"},
                                   max_records=2, max_crashes=2)
    result = ackcheck.check(config, invariants=["acked-write-survives"])
    result.verdict                  # "holds" | "violated" | ...
    result.trace                    # the shortest counterexample (a Trace) or None

    TestMyKafkaConfig = ackcheck.machine_for(config, ["acked-write-survives"]).TestCase   # pytest

    trace = ackcheck.load_trace("t.json")
    sorted(ackcheck.INVARIANTS)     # the invariant ids

Settings are Kafka's own property names and values (strings, as in a .properties file),
over the chosen version's defaults (`kafka_version`, default the newest preset).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from ackcheck import _compiled  # noqa: E402 - first: the model's compiled build, when it is current

_compiled.install()

__all__ = ["INVARIANTS", "__version__", "build_config", "check", "load_trace", "machine_for"]

if TYPE_CHECKING:  # pragma: no cover
    from ackcheck.checker.engines.result import Result
    from ackcheck.traces.format import Trace
    from ackcheck.traces.settings import Config


def build_config(properties: dict[str, Any] | None = None, *, kafka_version: str | None = None,
                 rules: dict[str, bool] | None = None, **bounds: int) -> Config:
    """A validated run configuration from plain Kafka properties.

    `properties`: Kafka property names to values (`{"acks": "all", "min.insync.replicas": 2}`);
    `kafka_version`: a preset such as "3.6" (default: the newest); `rules`: protocol rules
    switched on or off (`{"fenced_leader_epoch": False}`, see `ackcheck versions`);
    `bounds`: exploration bounds by name (`max_records=2, max_crashes=2`, see `ackcheck check --help`).
    Raises `ConfigError` (a ValueError) with a one-line message on bad input."""
    from ackcheck.traces.settings import Setting
    from ackcheck.traces.settings import build_config as _build

    settings = [Setting(str(k), _text(v), "build_config") for k, v in (properties or {}).items()]
    overrides = [f"{name}={'on' if on else 'off'}" for name, on in (rules or {}).items()]
    return _build(settings, kafka_version=kafka_version, rule_overrides=overrides, bounds=dict(bounds) or None,
                  version_origin="kafka_version")


def check(config: Config | dict[str, Any] | None = None, *, invariants: list[str] | None = None,
          symmetry: bool = True, reduction: bool = True, **kwargs: Any) -> Result:
    """Exhaustive breadth-first check of `config` (a Config, or plain Kafka properties plus
    the keyword arguments of `build_config`); returns the Result: `verdict`, `violation`,
    `trace` (a shortest counterexample) and `stats`. `symmetry` and `reduction` (see
    Model.abstract) only change how many states are explored, never a verdict or a length."""
    from ackcheck.checker.engines.check import run_check

    if not _is_config(config):
        config = build_config(config, **kwargs)
    elif kwargs:
        raise TypeError(f"check(): {', '.join(kwargs)} apply only when config is a dict of properties")
    return run_check(config, invariants, symmetry=symmetry, reduction=reduction)


def machine_for(config: Config | dict[str, Any] | None = None, invariants: list[str] | None = None, *,
                trace_out: str | None = None, **kwargs: Any):
    """A Hypothesis RuleBasedStateMachine exploring `config`; `.TestCase` runs under pytest.
    A failure is shrunk and printed as a runnable sequence of steps (and kept as an ackcheck
    trace with `trace_out`)."""
    from ackcheck.checker.engines.fuzz import machine_for as _machine_for

    if not _is_config(config):
        config = build_config(config, **kwargs)
    return _machine_for(config, invariants, trace_out=trace_out)


def load_trace(path: str) -> Trace:
    """Read and validate an ackcheck trace file (raises TraceError with the first bad field)."""
    from ackcheck.traces.format import load_trace as _load

    return _load(path)


def __getattr__(name: str):
    if name == "INVARIANTS":
        from ackcheck.invariants.catalogue import INVARIANTS

        return INVARIANTS
    if name in ("ConfigError", "TraceError"):
        from ackcheck.traces import format as _format
        from ackcheck.traces import settings as _settings

        return getattr(_settings if name == "ConfigError" else _format, name)
    raise AttributeError(f"module 'ackcheck' has no attribute {name!r}")


def _text(v: Any) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def _is_config(c: Any) -> bool:
    from ackcheck.traces.settings import Config

    return isinstance(c, Config)
