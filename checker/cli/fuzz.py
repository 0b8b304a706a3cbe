"""`ackcheck fuzz`: Hypothesis stateful exploration of one configuration.

Same config flags, exit codes and JSON shape as `ackcheck check` (engine "fuzz"; verdict
"violated" or "no violation found" - never "holds": random exploration proves nothing).
A failure is shrunk by Hypothesis, then by ddmin (`ackcheck minimize`), and written as an
ackcheck trace that `ackcheck view` renders and that replays on the model to the same
violation at the same step.
"""

from __future__ import annotations

import json
import random
import re
import sys
import time

from ackcheck.checker.cli.options import (
    ArgumentParser,
    add_config_flags,
    bounds_from_args,
    settings_from_args,
)
from ackcheck.traces.settings import ConfigError, build_config

# Bounds fuzz uses where the user did not set them: larger than `ackcheck check`'s defaults
# (max_records 1, max_crashes 1, max_isr_shrinks 1), which BFS exhausts in a second, while
# executions run up to --steps (60) actions deep - BFS at these bounds needs millions of
# states. The others stay as check's (no power loss, no leader move without a crash, no
# lost message, 2 attempts per batch): with those perturbations the model finds the
# documented holes of an otherwise safe configuration (docs/producer.md: idempotence
# breaks on a failover with several batches in flight; docs/fuzz.md), which a run should
# only look for when asked (--max-lost-messages 1, --max-elections 1, ...).
FUZZ_DEFAULT_BOUNDS: dict[str, int] = {
    "max_records": 2,
    "max_crashes": 2,
    "max_isr_shrinks": 2,
}


DEFAULT_EXAMPLES = 500


DEFAULT_SHRINK_SECONDS = 60


def auto_steps(config) -> int:
    """Default execution length: room to send and replicate every record and to use every
    perturbation, at most 200: 20 + 10 per record + 5 per perturbation allowed + 3 per
    replica (fuzz defaults, RF 3: 69; RF 5, 6 records, 2 crashes, 4 ISR shrinks: 125).
    Longer executions only add quiescent steps once everything is done."""
    b = config.bounds
    perturbations = (b.max_crashes + b.max_power_losses + b.max_elections + b.max_lost_messages + b.max_isr_shrinks
                     + b.max_delayed_fetches)
    return min(200, 20 + 10 * b.max_records + 5 * perturbations + 3 * config.replication_factor)


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="ackcheck fuzz", description=(
        "Explore long random executions of the model with Hypothesis stateful testing (one rule per "
        "action family, the invariants checked after every step); a failure is shrunk by Hypothesis "
        "and ddmin and written as a trace. Random exploration proves nothing: no violation is "
        "reported as 'no violation found', never 'holds' (use `ackcheck check` for proofs within "
        "bounds). Bounds not given default larger than check's: "
        + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in FUZZ_DEFAULT_BOUNDS.items())
        + ". Exit 0: no violation found; 1: a violation (the trace is printed); 2: bad input."))
    add_config_flags(p)
    for action in p._actions:  # the bound flags' help names check's defaults: say fuzz's
        if action.dest in FUZZ_DEFAULT_BOUNDS and action.help:
            action.help = re.sub(r"\(default \d+\)", f"(fuzz default {FUZZ_DEFAULT_BOUNDS[action.dest]})",
                                 action.help)
    p.add_argument("--invariant", action="append", metavar="ID",
                   help="check only this invariant (repeatable; default: all that apply)")
    p.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES, metavar="N",
                   help=f"executions Hypothesis generates (default {DEFAULT_EXAMPLES})")
    p.add_argument("--steps", type=int, default=None, metavar="N",
                   help="actions per execution at most (Hypothesis stateful_step_count; default: 20 + 10 per "
                        "record + 5 per perturbation allowed + 3 per replica, at most 200)")
    p.add_argument("--seed", type=int, metavar="S",
                   help="random seed: the same seed, config and budgets give the same run (default: random, printed)")
    p.add_argument("--shrink-seconds", type=float, default=DEFAULT_SHRINK_SECONDS, metavar="T",
                   help=f"stop Hypothesis' shrinking after T seconds (default {DEFAULT_SHRINK_SECONDS}; "
                        "a run cut here is only reproducible on a machine as fast)")
    p.add_argument("--no-minimize", action="store_true",
                   help="write the counterexample as Hypothesis shrank it, without ddmin")
    p.add_argument("--json", action="store_true", help="print one JSON object (the `check` contract)")
    p.add_argument("--trace-out", metavar="FILE", help="write the counterexample trace to FILE")
    p.add_argument("--full", action="store_true", help="print the full trace, not the summary")
    return p


def config_for_fuzz(args):
    """The config with fuzz's default bounds where no --max-* flag was given."""
    bounds = dict(FUZZ_DEFAULT_BOUNDS)
    bounds.update(bounds_from_args(args))
    return build_config(settings_from_args(args), kafka_version=args.kafka_version,
                        rule_overrides=args.rule, bounds=bounds)


def main(argv: list[str]) -> int:
    from ackcheck.checker.cli.common import describe_config, err, print_counterexample, write_trace_out
    from ackcheck.checker.engines.check import check_invariant_ids
    from ackcheck.checker.engines.fuzz import run_fuzz
    from ackcheck.checker.engines.minimize import minimize_trace

    p = build_parser()
    args = p.parse_args(argv)
    if args.examples < 1:
        raise ConfigError(f"--examples {args.examples}: expected a positive integer")
    if args.steps is not None and not 1 <= args.steps <= 10000:
        raise ConfigError(f"--steps {args.steps}: expected 1..10000")
    if args.shrink_seconds <= 0:
        raise ConfigError(f"--shrink-seconds {args.shrink_seconds}: expected a positive number")
    if args.seed is not None and args.seed < 0:
        raise ConfigError(f"--seed {args.seed}: expected a non-negative integer")
    config = config_for_fuzz(args)
    check_invariant_ids(args.invariant)
    steps = args.steps if args.steps is not None else auto_steps(config)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    defaulted = {k: v for k, v in FUZZ_DEFAULT_BOUNDS.items() if k not in bounds_from_args(args)}
    if not args.json:
        for note in config.notes:
            print(f"note: {note}", file=sys.stderr)
        print(describe_config(config))
        if defaulted:
            print("fuzz bounds (not given, larger than check's): "
                  + ", ".join(f"{k}={v}" for k, v in defaulted.items()))
        print(f"fuzz: {args.examples} executions of up to {steps} steps, seed {seed}", flush=True)

    t0 = time.perf_counter()
    result = run_fuzz(config, args.invariant, examples=args.examples, steps=steps, seed=seed,
                      shrink_seconds=args.shrink_seconds)
    shrunk_steps = minimized_steps = None
    if result.trace is not None:
        shrunk_steps = len(result.trace.steps) - 1
        if not args.no_minimize and not result.interrupted:  # (after Ctrl-C: the failure as it stands)
            m = minimize_trace(result.trace)
            # keep the invariant Hypothesis reported; ddmin only shortens
            result.trace = m.trace
            result.violation = (m.trace.violation.invariant, m.trace.violation.message)
            minimized_steps = len(m.trace.steps) - 1
    result.stats.seconds = time.perf_counter() - t0
    fuzz_info = {
        "seed": seed,
        "examples": args.examples,
        "steps": steps,
        "executions": result.executions,
        "defaulted_bounds": defaulted,
        "shrunk_steps": shrunk_steps,
        "minimized_steps": minimized_steps,
    }
    if problem := write_trace_out(result.trace, args.trace_out):
        return err(problem)
    if args.json:
        d = result.as_dict()
        d["fuzz"] = fuzz_info
        print(json.dumps(d, indent=1))
        return result.exit_code

    s = result.stats
    if result.violation:
        inv, msg = result.violation
        print(f"VIOLATED {inv}: {msg}")
        how = f"shrunk by Hypothesis to {shrunk_steps} steps"
        if minimized_steps is not None:
            how += f", minimized by ddmin to {minimized_steps}"
        print(f"counterexample ({how}):")
        print_counterexample(result.trace, full=args.full, trace_out=args.trace_out)
    elif result.interrupted:
        print(f"INTERRUPTED: no violation found so far ({', '.join(result.invariants)})")
    else:
        print(f"NO VIOLATION FOUND in {result.executions} random executions of up to "
              f"{steps} steps: {', '.join(result.invariants)}")
        print("(not a proof: `ackcheck check` explores every execution within its bounds)")
    print(f"Done. executions={result.executions} steps={s.transitions} "
          f"distinct={s.distinct_states} max_depth={s.max_depth} seconds={s.seconds:.2f} "
          f"steps/s={s.transitions / s.seconds if s.seconds else 0:,.0f} seed={seed}")
    return result.exit_code
