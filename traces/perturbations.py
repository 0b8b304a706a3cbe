"""Every exploration bound, declared once.

A run is bounded by how many records the producer sends, how many attempts a batch gets,
how long an execution may be, and - above all - by how many *perturbations* (faults) may
happen: healing (restarts, fetches, retries) is never bounded. Each bound is declared here
exactly once, with everything other parts of ackcheck say or do about it:

- the `Bounds` field and default (traces/settings.py builds `Bounds` and `BOUND_LIMITS`
  from `BOUNDS`), the accepted range, and the CLI flag with its help text (cli/options.py);
- the short name in one-line summaries (`bounds_text`, used by `describe_config` and the
  audit's `bounds_short`);
- for a perturbation: the wording of the fault in audit reports (`fault`), the model state
  counter that spends it, the model actions that can spend it with the fuzz family each
  belongs to (checker/engines/fuzz.py builds `FAMILIES` with `fuzz_families`), and the key
  of the reference broker's budget (`broker_key`, broker/cluster.py `used`).

The declaration order is the order bounds are written in traces (`Bounds.as_dict`), in
summaries and in `--help`; do not reorder (traces are compared byte for byte).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    """How an audit report words a perturbation: '1 process crash (kill -9; ...)'."""

    one: str
    many: str
    why: str


@dataclass(frozen=True)
class BoundSpec:
    name: str  # the Bounds field, e.g. max_crashes
    default: int
    limits: tuple[int, int]  # accepted range, inclusive
    help: str  # CLI help (the default is appended)
    short: str  # name in one-line summaries: crashes=1
    # traces write the bound always, or only when it is not 0 (so traces written before
    # the bound existed read the same); one-line summaries likewise
    always_in_trace: bool = True
    always_in_summary: bool = True
    # ---- perturbations only ----
    fault: Fault | None = None
    counter: str | None = None  # the model State field counting what was spent
    # model action -> fuzz family, for the actions that may spend this budget
    actions: tuple[tuple[str, str], ...] = ()
    broker_key: str | None = None  # the reference broker's `used` key

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def perturbation(self) -> bool:
        return self.fault is not None


BOUNDS: tuple[BoundSpec, ...] = (
    BoundSpec("max_records", 1, (1, 8), "records the producer sends", "records"),
    BoundSpec(
        "max_crashes", 1, (0, 6), "process crashes (kill -9: the page cache survives)", "crashes",
        fault=Fault("process crash", "process crashes", "kill -9; the page cache survives"),
        counter="crashes", actions=(("crash", "crash"),), broker_key="crash",
    ),
    BoundSpec(
        "max_power_losses", 0, (0, 6), "power losses / OS crashes (the unflushed page cache is lost)",
        "power_losses",
        fault=Fault("power loss", "power losses", "the host's unflushed page cache is lost"),
        counter="power_losses", actions=(("power_loss", "crash"),), broker_key="power_loss",
    ),
    BoundSpec(
        "max_elections", 0, (0, 6),
        "leadership moves without a crash (preferred-leader rebalance, controlled shutdown, a leader "
        "that lost its session)", "elections",
        fault=Fault("leader move without a crash", "leader moves without a crash",
                    "preferred-leader rebalance, controlled shutdown"),
        counter="elections", actions=(("controller_elect", "controller"),), broker_key="rebalance",
    ),
    BoundSpec(
        "max_lost_messages", 0, (0, 6),
        "produce requests/responses lost in the network, or acks=all requests timed out", "lost_messages",
        fault=Fault("lost produce request/response", "lost produce requests/responses", "network"),
        counter="lost_messages",
        actions=(("leader_timeout_produce", "broker_produce"), ("lose_request", "network"),
                 ("lose_response", "network")),
        broker_key="lost_message",
    ),
    BoundSpec(
        "max_isr_shrinks", 1, (0, 6), "times a live follower falls out of the ISR (replica.lag.time.max.ms)",
        "isr_shrinks",
        fault=Fault("ISR shrink", "ISR shrinks", "a live follower too slow for replica.lag.time.max.ms"),
        counter="isr_shrinks", actions=(("leader_shrink_isr", "isr"),), broker_key="isr_shrink",
    ),
    BoundSpec("max_attempts", 2, (1, 6),
              "send attempts per batch (delivery.timeout.ms abstracted; also capped by retries+1)", "attempts"),
    BoundSpec("max_depth", 0, (0, 10000), "steps per execution (0 = unbounded)", "depth",
              always_in_summary=False),
    BoundSpec(
        "max_delayed_fetches", 0, (0, 6),
        "follower fetch requests held up in the network and handled late (stale fetches, KIP-320)",
        "delayed_fetches", always_in_trace=False, always_in_summary=False,
        fault=Fault("delayed fetch request", "delayed fetch requests", "handled after the follower moved on"),
        counter="delayed_fetch_count", actions=(("follower_fetch_delayed", "fetch"),), broker_key="delayed_fetch",
    ),
    BoundSpec(
        "max_other_writes", 0, (0, 6),
        "records other producers write to the partition while this one runs (non-idempotent, "
        "appended by the leader at any time; they move the log end, so a follower can fall behind "
        "without a crash)",
        "other_writes", always_in_trace=False, always_in_summary=False,
        fault=Fault("record of another producer", "records of other producers",
                    "the log grows while the producer writes"),
        counter="other_writes", actions=(("other_producer_write", "producer"),), broker_key="other_write",
    ),
)

BY_NAME: dict[str, BoundSpec] = {b.name: b for b in BOUNDS}
PERTURBATIONS: tuple[BoundSpec, ...] = tuple(b for b in BOUNDS if b.perturbation)
BROKER_KEYS: tuple[str, ...] = tuple(b.broker_key for b in PERTURBATIONS if b.broker_key)


def in_trace(spec: BoundSpec, value: int) -> bool:
    return spec.always_in_trace or bool(value)


def bounds_text(bounds: dict[str, int]) -> str:
    """'records=1 crashes=1 ...': the bounds of a run on one line (bounds not always shown
    only when set)."""
    return " ".join(f"{spec.short}={bounds[spec.name]}" for spec in BOUNDS
                    if spec.name in bounds and (spec.always_in_summary or bounds[spec.name]))


def describe_faults(bounds: dict[str, int]) -> str:
    """The fault assumptions of a bounds dict, in words."""
    parts = []
    for spec in PERTURBATIONS:
        n = bounds.get(spec.name, 0)
        if n:
            f = spec.fault
            parts.append(f"{n} {f.one if n == 1 else f.many} ({f.why})")
    faults = "; ".join(parts) if parts else "no faults"
    rec = bounds.get("max_records", 1)
    att = bounds.get("max_attempts", 1)
    extra = f"{rec} record{'s' if rec != 1 else ''}, {att} send attempt{'s' if att != 1 else ''} each"
    if bounds.get("max_depth"):
        extra += f", executions cut at {bounds['max_depth']} steps"
    return f"up to {faults}; {extra}"


def fuzz_families(base: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """The fuzz engine's action families: `base` (the actions no budget bounds) with every
    perturbation's actions added to the family declared for them (families keep base's
    order; an action shared by healing and a perturbation is listed once)."""
    out = {fam: tuple(names) for fam, names in base.items()}
    for spec in PERTURBATIONS:
        for action, fam in spec.actions:
            if action not in out[fam]:
                out[fam] = out[fam] + (action,)
    return out
