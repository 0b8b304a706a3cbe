"""`ackcheck versions [--doc FILE]`: the Kafka version presets and the protocol rules (KIPs) in each."""

from __future__ import annotations

import json
import sys

from ackcheck.checker.cli.common import err
from ackcheck.checker.cli.options import ArgumentParser


# ------------------------------------------------------------------------- invariants
def main(argv: list[str]) -> int:
    from ackcheck.traces import eras

    p = ArgumentParser(prog="ackcheck versions", description="Kafka version presets and their protocol rules.")
    p.add_argument("--json", action="store_true")
    p.add_argument("--doc", metavar="FILE",
                   help="run every fix's scenario with the rule off and on and write the page "
                        "(docs/eras.md) to FILE; takes a few minutes")
    args = p.parse_args(argv)
    if args.doc:
        from ackcheck.checker.audit.eras_doc import generate

        try:
            with open(args.doc, "w", encoding="utf-8") as f:
                generate(f, progress=lambda r: print(f"checking {r} ...", file=sys.stderr, flush=True))
        except OSError as e:
            return err(f"--doc {args.doc}: {e.strerror}")
        print(f"wrote {args.doc}")
        return 0
    if args.json:
        print(json.dumps({
            "versions": {v: {"rules": eras.rules_for(v), "defaults": eras.kafka_defaults(v)} for v in eras.VERSIONS},
            "rules": [{"name": r.name, "since": r.since, "reference": r.reference, "summary": r.summary,
                       "protects": r.protects} for r in eras.RULES],
        }, indent=1))
        return 0
    print("Protocol rules (switch one with --rule name=on|off):")
    for r in eras.RULES:
        print(f"  {r.name:<32} {r.reference:<16} since {r.since:<5} {r.summary}")
    print()
    names = [r.name for r in eras.RULES]
    print("Presets (--kafka-version; default " + eras.NEWEST + "):")
    print(f"  {'version':<8} {'acks':<5} {'idem':<6} {'unclean':<8} rules on")
    for v in eras.VERSIONS:
        d = eras.kafka_defaults(v)
        rules = eras.rules_for(v)
        on = [n for n in names if rules[n]]
        print(f"  {v:<8} {d['acks']:<5} {d['enable.idempotence']:<6} {d['unclean.leader.election.enable']:<8} "
              f"{', '.join(on) or '(none)'}")
    print("\nkraft_controller is on from 4.0, or for a config that sets process.roles (KRaft mode).")
    return 0
