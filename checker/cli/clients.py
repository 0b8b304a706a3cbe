"""`ackcheck clients`: a real Kafka client library against the reference broker, under a
seeded fault schedule (or a model counterexample's fault steps), its history judged by
the invariant catalogue. Exit 0: no violation; 1: a violation; 2: bad input."""

from __future__ import annotations

import json
import sys

from ackcheck.broker.wire.faults import FAMILIES
from ackcheck.checker.cli.options import ArgumentParser, add_config_flags, config_from_args
from ackcheck.checker.engines.clients import CLIENTS, client_version, run_clients, write_history
from ackcheck.traces.settings import ConfigError, Setting


def _families(text: str | None) -> list[str]:
    if not text:
        return []
    out = []
    for f in text.split(","):
        f = f.strip()
        if f not in FAMILIES:
            raise ConfigError(f"--faults {f}: unknown fault family (known: {', '.join(FAMILIES)})")
        if f not in out:
            out.append(f)
    return out


def main(argv: list[str]) -> int:
    p = ArgumentParser(prog="ackcheck clients", description=(
        "Run a real Kafka client library (producer, then consumer) against the reference broker's wire front "
        "end while seeded faults hit the cluster; judge the client-observed history (send outcomes, consumer "
        "reads) with the invariant catalogue and compare with what the model predicts. Exit 0: no violation; "
        "1: a violation; 2: bad input."))
    p.add_argument("--client", required=True, metavar="|".join(CLIENTS),
                   help="the client library to drive (with --table: a comma-separated list)")
    p.add_argument("--records", type=int, default=20, metavar="N", help="records to produce, 1-10000 (default 20)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the fault schedule (default 0)")
    p.add_argument("--faults", metavar="FAMILY,...",
                   help=f"fault families to inject: {', '.join(FAMILIES)} (default: none)")
    p.add_argument("--replay", metavar="TRACE",
                   help="take the fault steps of this trace (e.g. a model counterexample from `ackcheck check "
                        "--trace-out`) instead of a seeded schedule; its config is used unless flags are given")
    p.add_argument("--enable-idempotence", metavar="true|false", help="enable.idempotence of the producer")
    p.add_argument("--max-in-flight", metavar="N", help="max.in.flight.requests.per.connection (1-5)")
    p.add_argument("--retries", metavar="N", help="retries of the producer (default: Kafka's, 2147483647)")
    p.add_argument("--replica-lag-ms", type=float, default=0.0, metavar="MS",
                   help="a batch becomes fetchable by the followers MS milliseconds after its append (the "
                        "network and the fetch loop; default 0: the next 3 ms tick)")
    p.add_argument("--no-model", action="store_true", help="skip the model's prediction")
    p.add_argument("--table", metavar="FILE.json",
                   help="instead of one run: every configuration of the finding table (acks 1/all x idempotence x "
                        "in-flight 1/5) x every fault family for --client (repeatable with commas: "
                        "kafka-python,aiokafka,...), seeds 1..--table-seeds; JSON rows to FILE, markdown to stdout")
    p.add_argument("--table-seeds", type=int, default=1, metavar="K", help="seeds per table cell (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--trace-out", metavar="FILE", help="write the history (and the observation judged) to FILE")
    add_config_flags(p, bounds=False)
    args = p.parse_args(argv)
    names = [c.strip() for c in args.client.split(",")]
    for c in names:
        if c not in CLIENTS:
            raise ConfigError(f"--client {c}: unknown client library (known: {', '.join(CLIENTS)})")
    if len(names) > 1 and not args.table:
        raise ConfigError("--client: one library (a list only with --table)")
    if args.table:
        return _table(names, args)
    if not 0 <= args.replica_lag_ms <= 10_000:
        raise ConfigError(f"--replica-lag-ms {args.replica_lag_ms}: expected 0..10000")
    if not 1 <= args.records <= 10_000:
        raise ConfigError(f"--records {args.records}: expected 1..10000")
    families = _families(args.faults)
    extra = []
    for flag, prop in (("enable_idempotence", "enable.idempotence"),
                       ("max_in_flight", "max.in.flight.requests.per.connection"), ("retries", "retries")):
        v = getattr(args, flag)
        if v is not None:
            extra.append(Setting(prop, v, "--" + flag.replace("_", "-")))
    actions = None
    if args.replay:
        from ackcheck.traces.format import load_trace
        from ackcheck.traces.settings import config_from_dict

        trace = load_trace(args.replay)
        actions = [a for a, _ in trace.steps if a is not None]
        if families:
            raise ConfigError("--replay and --faults: give one or the other")
        base = config_from_dict(trace.config)
        config = base if not (argv_has_config(argv) or extra) else config_from_args(args, extra)
    else:
        config = config_from_args(args, extra)
    if client_version(args.client) is None:
        print(f"ackcheck clients: the {args.client} library is not installed (pip install {args.client})",
              file=sys.stderr)
        return 2

    def progress(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    res = run_clients(config, args.client, records=args.records, seed=args.seed, families=families,
                      replay_actions=actions, model=not args.no_model, progress=progress,
                      replica_lag_ms=args.replica_lag_ms)
    if args.trace_out:
        write_history(res, args.trace_out)
    if args.json:
        d = res.as_dict()
        d["trace_out"] = args.trace_out
        print(json.dumps(d, indent=1))
        return res.exit_code
    c = res.counts()
    print(f"{res.version}: {res.records} record(s), acks={config.acks}, enable.idempotence="
          f"{str(config.enable_idempotence).lower()}, max.in.flight={config.max_in_flight_requests_per_connection}, "
          f"seed {res.seed}, faults {','.join(res.families) or 'none'} ({res.seconds:.1f}s)")
    for a in res.applied:
        print(f"  fault: {a}")
    if res.fatal:
        print(f"  fatal producer error: {res.fatal}")
    print(f"  sends: ok {c['ok']}, failed {c['failed']}, indeterminate {c['indeterminate']}, pending {c['pending']}; "
          f"consumer read {len(res.reads)} record(s)" + ("" if res.consumer_complete else " (incomplete)"))
    for s in res.sends:
        if s.outcome != "ok":
            print(f"    record {s.record}: {s.outcome} ({s.error})")
    pred = res.prediction.get("invariants", {})
    for inv_id, v in pred.items():
        seen = next((x for x in res.violations if x["invariant"] == inv_id), None)
        print(f"  {inv_id:28} model: {v['verdict']:9} client: {'VIOLATED' if seen else 'held'}")
    for v in res.violations:
        print(f"VIOLATED {v['invariant']} ({v['anomaly'] or 'no Jepsen name'}): {v['message']}")
    if not res.violations:
        print("no violation in the client's history")
    return res.exit_code


def argv_has_config(argv: list[str]) -> bool:
    flags = ("--acks", "--replication-factor", "--min-insync-replicas", "--unclean-leader-election-enable",
             "--log-flush-interval-messages", "--records-per-batch", "--set", "--config", "--kafka-version", "--rule")
    return any(a.split("=")[0] in flags for a in argv)


LABEL = {"acked-write-survives": "lost-write", "no-duplicates": "duplicate", "producer-order": "reorder",
         "failed-write-invisible": "G1a", "read-durability": "lost-read", "committed-prefix-agreement": "diverged",
         "leader-completeness": "lost-commit", "consumer-monotonic": "nonmonotonic-poll"}


def _cell(items) -> str:
    return ", ".join(sorted({LABEL.get(i, i) for i in items})) or "-"


def render_table(rows, versions: dict[str, str]) -> str:
    clients = list(versions)
    out = []
    for fam in dict.fromkeys(r["family"] for r in rows):
        out.append(f"\n### {fam}\n")
        out.append("| acks | idempotence | in-flight | model predicts | "
                   + " | ".join(versions[c] for c in clients) + " |")
        out.append("|---|---|---|---|" + "---|" * len(clients))
        for r in rows:
            if r["family"] != fam:
                continue
            c = r["config"]
            pred = _cell([k for k, v in r["prediction"].items() if v == "violated"])
            cells = []
            for cl in clients:
                runs = r["runs"].get(cl, [])
                seen = [(i, run["seed"]) for run in runs for i in run["violations"]]
                text = _cell([i for i, _ in seen])
                if seen:
                    text += " (seed " + ",".join(str(s) for s in sorted({s for _, s in seen})) + ")"
                if any(run["fatal"] for run in runs):
                    text += " [fatal error]"
                cells.append(text)
            out.append(f"| {c['acks']} | {c['enable.idempotence']} | {c['max.in.flight']} | {pred} | "
                       + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def _table(names: list[str], args) -> int:
    from ackcheck.checker.engines.clients import finding_table

    if args.table_seeds < 1 or args.table_seeds > 20:
        raise ConfigError(f"--table-seeds {args.table_seeds}: expected 1..20")
    versions = {}
    for c in names:
        v = client_version(c)
        if v is None:
            raise ConfigError(f"--client {c}: the library is not installed (pip install {c})")
        versions[c] = v
    rows = finding_table(names, range(1, args.table_seeds + 1), records=args.records,
                         replica_lag_ms=args.replica_lag_ms,
                         progress=lambda m: print(m, file=sys.stderr, flush=True))
    with open(args.table, "w", encoding="utf-8") as f:
        json.dump({"versions": versions, "records": args.records, "rows": rows}, f, indent=1)
    print(render_table(rows, versions))
    return 0
