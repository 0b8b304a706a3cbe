"""`ackcheck invariants [-v]`: the invariant ids with one-line descriptions (and justifications)."""

from __future__ import annotations

import json

from ackcheck.checker.cli.options import ArgumentParser


# ------------------------------------------------------------------------- invariants
def main(argv: list[str]) -> int:
    from ackcheck.invariants.catalogue import INVARIANTS

    p = ArgumentParser(prog="ackcheck invariants", description="List the invariants.")
    p.add_argument("--json", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true", help="with the justification of each")
    args = p.parse_args(argv)
    if args.json:
        from ackcheck.invariants.liveness import LIVENESS

        print(json.dumps([{"id": i.id, "description": i.description, "anomaly": i.anomaly,
                           "justification": i.justification} for i in INVARIANTS]
                         + [{"id": i.id, "description": i.description, "anomaly": i.anomaly,
                             "justification": i.justification, "liveness": True} for i in LIVENESS], indent=1))
        return 0
    for inv in INVARIANTS:
        anomaly = f" [{inv.anomaly}]" if inv.anomaly else ""
        print(f"{inv.id:<28} {inv.description}{anomaly}")
        if args.verbose:
            print(f"{'':<28} {inv.justification}")
    from ackcheck.invariants.liveness import LIVENESS, fairness_lines

    print("\nliveness (checked when named with --invariant; see docs/liveness.md):")
    for prop in LIVENESS:
        anomaly = f" [{prop.anomaly}]" if prop.anomaly else ""
        print(f"{prop.id:<28} {prop.description}{anomaly}")
        if args.verbose:
            print(f"{'':<28} {prop.justification}")
    if args.verbose:
        print("\n" + "\n".join(fairness_lines()))
    return 0


# --------------------------------------------------------------------------- versions
