"""Each protocol fix and the failure it removed, found by the engine.

`ERA_SCENARIOS` names, per rule, a configuration where switching the rule off yields a
counterexample for the invariant it protects while the same configuration with the rule
on holds within the same bounds (tests/test_eras.py checks both). `python -m
ackcheck versions --doc FILE`
regenerates the page from these runs - nothing in it is typed in by hand.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from ackcheck.checker.engines.check import replay_on_model, run_check
from ackcheck.traces import eras
from ackcheck.traces.render import summary_lines
from ackcheck.traces.settings import Config, Setting, build_config


@dataclass(frozen=True)
class EraScenario:
    rule: str
    props: dict
    bounds: dict
    invariant: str
    version: str = eras.NEWEST
    slow: bool = False  # seconds to tens of seconds: skipped by default in tests
    # other rules set the same way in both runs (e.g. "fenced_leader_epoch=off")
    others: tuple[str, ...] = ()
    # why the engine cannot show the fix within the model (None: it can)
    unreachable: str | None = None

    def config(self, rule_on: bool) -> Config:
        return build_config(
            [Setting(k, v, "scenario") for k, v in self.props.items()],
            kafka_version=self.version,
            rule_overrides=[*self.others, f"{self.rule}={'on' if rule_on else 'off'}"],
            bounds=self.bounds,
        )

    def flags(self) -> str:
        parts = [f"--kafka-version {self.version}"]
        parts += [f"--set {k}={v}" for k, v in self.props.items()]
        parts += [f"--{k.replace('_', '-')} {v}" for k, v in self.bounds.items()]
        parts += [f"--rule {o}" for o in self.others]
        parts.append(f"--invariant {self.invariant}")
        return " ".join(parts)


IDEMPOTENT_PROPS = {"acks": "all", "replication.factor": "3", "min.insync.replicas": "2",
                    "enable.idempotence": "true", "retries": "3"}
ONE_POWER_LOSS_TWO_SHRINKS = {"max_records": 1, "max_crashes": 0, "max_power_losses": 1, "max_elections": 0,
                              "max_isr_shrinks": 2, "max_attempts": 1}
KAFKA_15591_BOUNDS = {"max_records": 2, "max_crashes": 0, "max_isr_shrinks": 2, "max_lost_messages": 1,
                      "max_other_writes": 1, "max_attempts": 2}

ERA_SCENARIOS: tuple[EraScenario, ...] = (
    EraScenario("epoch_truncation", {"acks": "all", "replication.factor": "2", "min.insync.replicas": "1"},
                {"max_records": 1, "max_crashes": 2, "max_elections": 0, "max_isr_shrinks": 0, "max_attempts": 1},
                "acked-write-survives", version="3.9"),
    EraScenario("epoch_truncation_fast_failover", {"acks": "1", "replication.factor": "2"},
                {"max_records": 2, "max_crashes": 2, "max_elections": 1, "max_isr_shrinks": 1, "max_attempts": 1},
                "committed-prefix-agreement"),
    # KAFKA-6880: a follower that missed two leader changes keeps fetching by offset from
    # a broker that leads again in a later epoch, without truncating
    EraScenario("fenced_leader_epoch", {"acks": "1", "replication.factor": "3"},
                {"max_records": 2, "max_crashes": 0, "max_elections": 2, "max_isr_shrinks": 0, "max_attempts": 1},
                "committed-prefix-agreement", version="2.1"),
    # the same race on a release with the diverging-epoch fetch, KIP-320 switched off: the
    # fetch itself detects the divergence
    EraScenario("diverging_epoch_fetch", {"acks": "1", "replication.factor": "3"},
                {"max_records": 2, "max_crashes": 0, "max_elections": 2, "max_isr_shrinks": 0, "max_attempts": 1},
                "committed-prefix-agreement", others=("fenced_leader_epoch=off",)),
    EraScenario("maximal_isr", {"acks": "all", "replication.factor": "3", "min.insync.replicas": "2"},
                {"max_records": 1, "max_crashes": 1, "max_elections": 0, "max_isr_shrinks": 1, "max_attempts": 1},
                "acked-write-survives"),
    # KAFKA-7128: the new leader's HW lags the old one's by the batches its last fetch
    # committed; a follower at that lagging HW is let back into the ISR, and is elected
    # when the new leader dies. Two uncommitted batches on the leader at once are needed
    # (the joining follower copies one batch per fetch): the producer's connection is
    # muted while its acks=all request waits in purgatory, so the second batch comes from
    # another producer (--max-other-writes)
    EraScenario("isr_join_at_epoch_start", {"acks": "all", "replication.factor": "3", "min.insync.replicas": "2"},
                {"max_records": 1, "max_other_writes": 1, "max_crashes": 1, "max_elections": 1, "max_isr_shrinks": 1,
                 "max_attempts": 1},
                "acked-write-survives", slow=True),
    # The three KRaft-era rules below are shown with one power loss and two ISR shrinks but
    # no crash: with a crash on top, Kafka 4.1's last-known-leader election (KIP-966,
    # PartitionChangeBuilder.canElectLastKnownLeader) loses the record even with every
    # rule on (see test_last_known_leader_loses_with_a_crash_and_a_power_loss), so those
    # bounds could not show what each rule fixes.
    EraScenario("strict_min_isr", {"acks": "all", "replication.factor": "3", "min.insync.replicas": "2"},
                ONE_POWER_LOSS_TWO_SHRINKS, "leader-completeness"),
    EraScenario("eligible_leader_replicas", {"acks": "all", "replication.factor": "3", "min.insync.replicas": "2"},
                ONE_POWER_LOSS_TWO_SHRINKS, "acked-write-survives"),
    # a leader's pending ISR expansion reaches the controller after the added replica lost
    # power (and its unflushed copy of the record); a leadership move (a rebalance or a
    # controlled shutdown) then hands the partition to it
    EraScenario("fenced_replicas_not_in_isr", {"acks": "all", "replication.factor": "3", "min.insync.replicas": "2"},
                {"max_records": 1, "max_crashes": 0, "max_power_losses": 1, "max_elections": 1,
                 "max_isr_shrinks": 1, "max_attempts": 1},
                "acked-write-survives"),
    # KAFKA-15591 without a crash: another producer's record lets a follower fall behind and
    # out of the ISR; batch 0 is refused NOT_ENOUGH_REPLICAS, batch 1 lands with sequence 1
    # (KAFKA-8710), the answers are lost, batch 0's retry gets OUT_OF_ORDER_SEQUENCE_NUMBER and
    # the client bumps its epoch and re-stamps batch 1 (KAFKA-8805), which lands again. These
    # two rules open the hole: with either off the same bounds hold.
    EraScenario("any_first_sequence", IDEMPOTENT_PROPS, KAFKA_15591_BOUNDS, "no-duplicates"),
    EraScenario("idempotent_epoch_bump", IDEMPOTENT_PROPS, KAFKA_15591_BOUNDS, "no-duplicates"),
    EraScenario("kraft_controller", {"acks": "all", "replication.factor": "3", "min.insync.replicas": "2"},
                ONE_POWER_LOSS_TWO_SHRINKS, "acked-write-survives"),
)


BY_RULE = {s.rule: s for s in ERA_SCENARIOS}


# KIP-320 against a delayed fetch request (--max-delayed-fetches): the stale fetch of an
# old epoch that a returning leader takes at face value. Its bounds are too large to
# exhaust with the rule on, so the fix is shown on the counterexample itself: replayed
# with the rule on, the same steps do not lose the record.
STALE_FETCH = EraScenario(
    "fenced_leader_epoch", {"acks": "all", "replication.factor": "3", "min.insync.replicas": "2"},
    {"max_records": 2, "max_crashes": 1, "max_elections": 2, "max_isr_shrinks": 0, "max_attempts": 1,
     "max_delayed_fetches": 1},
    "acked-write-survives", slow=True)


def replay_with_rule(sc: EraScenario, trace) -> str:
    """What the counterexample found without the rule does with it: a sentence."""
    from ackcheck.checker.engines.check import replay_on_model
    from ackcheck.traces.render import describe_action

    rep = replay_on_model(trace, [sc.invariant], config=sc.config(True))
    if rep.error:
        k = len(rep.steps)  # the first step the model refused
        return (f"With the rule on, the same steps do not get that far: step {k} "
                f"({describe_action(trace.steps[k][0])}) cannot happen, and no step before it breaks "
                f"`{sc.invariant}`.") \
            if rep.violation is None else f"With the rule on, the trace still breaks `{rep.violation[0]}`."
    if rep.violation is None:
        return f"With the rule on, the same steps keep `{sc.invariant}`."
    return f"With the rule on, the same steps still break `{rep.violation[0]}` (step {rep.violation[2]})."


# The bench reference config (bench/bench_explore.py), run on every preset.
REFERENCE_PROPS = {"acks": "all", "min.insync.replicas": "2", "enable.idempotence": "false"}


REFERENCE_BOUNDS = {"max_records": 2, "max_crashes": 2, "max_power_losses": 0, "max_elections": 0,
                    "max_isr_shrinks": 0, "max_attempts": 1}


def reference_config(version: str) -> Config:
    return build_config([Setting(k, v, "reference") for k, v in REFERENCE_PROPS.items()],
                        kafka_version=version, bounds=REFERENCE_BOUNDS)


def generate(out=sys.stdout, progress=None) -> None:
    w = out.write
    w("# Kafka's protocol history in ackcheck\n\n")
    w("Generated by `ackcheck versions --doc docs/eras.md` from engine runs; do not edit by hand.\n\n")
    w("## Rules\n\n| rule | fix | default since | protects | what it does |\n|---|---|---|---|---|\n")
    for r in eras.RULES:
        opened = " (its presence breaks it)" if r.opens else ""
        w(f"| `{r.name}` | {r.reference} | {r.since} | `{r.protects}`{opened} | {r.summary} |\n")
    w("\nSwitch one with `--rule name=on|off` (e.g. `ackcheck check --rule strict_min_isr=off`).\n")
    w("`kraft_controller` is on from 4.0, or whenever a config file sets `process.roles`; KIP-966's ELR only "
      "takes effect under KRaft. `maximal_isr` is on in every preset: before 2.7 the leader applied an ISR "
      "change only after its ZooKeeper write succeeded, which is as safe; switching it off asks what an "
      "asynchronous AlterPartition without the maximal ISR would allow.\n")
    w("\n## Presets\n\n| version | acks | enable.idempotence | unclean.leader.election.enable | retries | rules on |\n")
    w("|---|---|---|---|---|---|\n")
    for v in eras.VERSIONS:
        d = eras.kafka_defaults(v)
        on = ", ".join(n for n, x in eras.rules_for(v).items() if x and n != "kraft_controller")
        kraft = " (KRaft)" if eras.rules_for(v)["kraft_controller"] else ""
        w(f"| {v}{kraft} | {d['acks']} | {d['enable.idempotence']} | {d['unclean.leader.election.enable']} | "
          f"{d['retries']} | {on or '-'} |\n")
    w("\n## Cost per preset\n\nThe bench reference config (RF 3, `acks=all`, `min.insync.replicas=2`, "
      "`enable.idempotence=false`, 2 records, 2 process crashes, 1 attempt, `acked-write-survives`) on each preset; distinct states "
      "with broker symmetry (seconds depend on the machine):\n\n")
    w("| version | verdict | distinct states | transitions | depth | seconds |\n|---|---|---|---|---|---|\n")
    for v in eras.VERSIONS:
        if progress:
            progress(f"preset {v}")
        r = run_check(reference_config(v), ["acked-write-survives"])
        st = r.stats
        w(f"| {v} | {r.verdict} | {st.distinct_states:,} | {st.transitions:,} | {st.max_depth} | "
          f"{st.seconds:.1f} |\n")
    w("\n## What each fix removed: the shortest counterexample without it\n")
    for sc in ERA_SCENARIOS:
        rule = eras.RULE_BY_NAME[sc.rule]
        if progress:
            progress(sc.rule)
        if sc.unreachable:
            w(f"\n### {rule.reference}: `{sc.rule}`\n\n{rule.summary}.\n\n"
              f"Not shown by the engine: {sc.unreachable}.\n")
            continue
        if rule.opens:
            generate_opening(out, sc, rule)
            continue
        off = run_check(sc.config(False), [sc.invariant])
        on = run_check(sc.config(True), [sc.invariant])
        w(f"\n### {rule.reference}: `{sc.rule}`\n\n{rule.summary}.\n\n")
        w(f"`ackcheck check {sc.flags()} --rule {sc.rule}=off`\n\n")
        if off.trace is not None:
            write_counterexample(w, "Without the rule", off)
        else:
            w(f"Without the rule: no violation within these bounds ({off.stats.distinct_states:,} states).\n\n")
        w(f"With the rule: **{on.verdict}** ({on.stats.distinct_states:,} states, {on.stats.seconds:.1f} s).\n")
        if sc.rule == "fenced_leader_epoch":
            generate_stale_fetch(out, progress)


def write_counterexample(w, lead: str, result) -> None:
    """`lead: **invariant violated** (states, seconds):` and the trace's summary lines."""
    w(f"{lead}: **{result.violation[0]} violated** "
      f"({result.stats.distinct_states:,} states, {result.stats.seconds:.1f} s):\n\n```\n")
    w("\n".join(summary_lines(result.trace, limit=30)) + "\n```\n\n")


def generate_opening(out, sc: EraScenario, rule) -> None:
    """A rule that opens a hole (Rule.opens): the counterexample with it, as Kafka ships it
    since `rule.since`, and the same bounds without it."""
    w = out.write
    on = run_check(sc.config(True), [sc.invariant])
    off = run_check(sc.config(False), [sc.invariant])
    w(f"\n### {rule.reference}: `{sc.rule}` (opens a hole)\n\n{rule.summary}.\n\n")
    w(f"`ackcheck check {sc.flags()}`\n\n")
    if on.trace is not None:
        write_counterexample(w, f"With the rule (Kafka {rule.since} on)", on)
        rep = replay_on_model(on.trace, [sc.invariant], config=sc.config(False))
        if rep.error:
            w(f"Replayed with `--rule {sc.rule}=off` the trace is refused ({rep.error}).\n")
        elif rep.mismatch:
            w(f"Replayed with `--rule {sc.rule}=off` the trace is refused: {rep.mismatch}"
              + (f"; it still breaks `{rep.violation[0]}`.\n" if rep.violation else
                 f", and `{sc.invariant}` holds.\n"))
    else:
        w(f"With the rule: no violation within these bounds ({on.stats.distinct_states:,} states).\n\n")
    w(f"Without the rule (`--rule {sc.rule}=off`): **{off.verdict}** ({off.stats.distinct_states:,} states, "
      f"{off.stats.seconds:.1f} s); see docs/producer.md for what Kafka before 2.5 does instead.\n")


def generate_stale_fetch(out, progress=None) -> None:
    w = out.write
    sc = STALE_FETCH
    if progress:
        progress("fenced_leader_epoch (delayed fetch)")
    off = run_check(sc.config(False), [sc.invariant])
    w("\n### KIP-320 against a delayed fetch request\n\n")
    w("A fetch request held up in the network (`--max-delayed-fetches 1`) reaches a broker that leads again "
      "in a later epoch, after the follower truncated: without fencing the leader takes the old fetch offset "
      "as the follower's and commits on it.\n\n")
    w(f"`ackcheck check {sc.flags()} --rule {sc.rule}=off`\n\n")
    if off.trace is None:
        w(f"Without the rule: no violation within these bounds ({off.stats.distinct_states:,} states).\n")
        return
    write_counterexample(w, "Without the rule", off)
    w(replay_with_rule(sc, off.trace) + " (Replayed, not explored: these bounds are too large to exhaust with "
      "the rule on; the exhaustive check of the fix is the scenario above.)\n")
