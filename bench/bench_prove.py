"""Time to verdict, BFS (`ackcheck check`) against BMC (`ackcheck prove`), each a fresh
process, on the era scenarios (checker/audit/eras_doc.py, rule off and on), R1-R3 of
docs/reach.md and deliberately deep or wide bugs. Prints one markdown row per scenario
(the table of docs/prove.md) and asserts nothing; the machine may be shared, so run it
more than once and keep the best.

BMC's depth: the BFS counterexample's length when BFS finds one (iterative deepening then
stops at the first violating depth, so both lengths are compared), else the row's own
depth (R1-R3 and the wide rows), else min(BFS diameter, --holds-depth).

Run: python bench/bench_prove.py [eras] [reach] [deep] [--timeout 600] [--holds-depth 10]
     [--only NAME ...]
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

REACH = {
    "R1": ("--acks all --min-insync-replicas 2 --max-records 2 --max-crashes 2 --invariant acked-write-survives", 6),
    "R2": ("--acks all --min-insync-replicas 2 --max-records 2 --max-crashes 1 --max-elections 1 --max-isr-shrinks 1 "
           "--max-attempts 1 --invariant acked-write-survives", 6),
    "R3": ("--acks all --min-insync-replicas 2 --max-records 2 --max-crashes 1 --max-elections 2 --max-isr-shrinks 0 "
           "--max-attempts 1 --max-delayed-fetches 1 --invariant acked-write-survives", 6),
}
DEEP = {
    # a shallow loss in a configuration too wide to enumerate: RF 5, 4 records, 3 crashes
    "wide acks=1 loss (RF 5, 4 records, 3 crashes)": (
        "--acks 1 --replication-factor 5 --max-records 4 --max-crashes 3 --max-isr-shrinks 2 "
        "--invariant acked-write-survives", 6),
    # KAFKA-15583 off: the HW moves while the ISR is below min ISR - 2 records, 2 crashes
    "KAFKA-15583 off, 2 records, 2 crashes": (
        "--rule strict_min_isr=off --acks all --min-insync-replicas 2 --max-records 2 --max-crashes 2 "
        "--invariant acked-write-survives", 14),
    # the KIP-966 scenario with a second record and a second crash
    "KIP-966 ELR off, 2 records, 2 crashes": (
        "--rule eligible_leader_replicas=off --acks all --min-insync-replicas 2 --max-records 2 --max-crashes 2 "
        "--max-power-losses 1 --max-isr-shrinks 1 --max-attempts 1 --invariant acked-write-survives", 14),
}


def run(cmd: list[str], timeout: float) -> dict:
    t0 = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, "-m", "ackcheck", *cmd, "--json"], capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"verdict": f"not finished in {timeout:.0f} s", "wall": time.perf_counter() - t0}
    wall = time.perf_counter() - t0
    try:
        j = json.loads(p.stdout)
    except ValueError:
        return {"verdict": f"exit {p.returncode}: {p.stderr.strip()[-160:]}", "wall": wall}
    trace = j.get("trace")
    j["length"] = len(trace["steps"]) - 1 if trace else None
    j["wall"] = wall
    return j


def bfs_cell(r: dict) -> str:
    st = r.get("stats")
    if not st:
        return r["verdict"]
    what = f"{r['verdict']} in {r['length']}" if r["length"] is not None else \
        f"{r['verdict']} (diameter {st['max_depth']})"
    return f"{r['wall']:.1f} s, {st['distinct_states']:,} states: {what}"


def bmc_cell(r: dict, depth: int) -> str:
    st = r.get("stats")
    if not st:
        return f"{r['verdict']} (depth {depth})"
    what = f"violated in {r['length']}" if r["length"] is not None else \
        f"{r['verdict']} {st.get('depth_reached')}"
    return f"{r['wall']:.1f} s (solver {st.get('solver_seconds', 0):.1f} s): {what}"


def row(name: str, flags: list[str], depth: int | None, timeout: float, holds_depth: int) -> None:
    bfs = run(["check", *flags], timeout)
    if bfs.get("length") is not None:
        depth = bfs["length"]
    elif depth is None:
        st = bfs.get("stats") or {}
        depth = min(st.get("max_depth", holds_depth), holds_depth)
    bmc = run(["prove", *flags, "--depth", str(depth)], timeout)
    print(f"| {name} | {bfs_cell(bfs)} | {bmc_cell(bmc, depth)} |", flush=True)


def era_rows():
    from ackcheck.checker.audit.eras_doc import ERA_SCENARIOS, STALE_FETCH

    for sc in [*ERA_SCENARIOS, STALE_FETCH]:
        for on in (False, True):
            name = f"{sc.rule} {'on' if on else 'off'}" + (" (delayed fetch)" if sc is STALE_FETCH else "")
            yield name, [*sc.flags().split(), "--rule", f"{sc.rule}={'on' if on else 'off'}"], None


def main(argv: list[str]) -> None:
    timeout = float(argv[argv.index("--timeout") + 1]) if "--timeout" in argv else 600.0
    holds_depth = int(argv[argv.index("--holds-depth") + 1]) if "--holds-depth" in argv else 10
    only = [argv[i + 1] for i, a in enumerate(argv) if a == "--only"]
    groups = [g for g in ("deep", "reach", "eras") if g in argv] or ["deep", "reach", "eras"]
    rows = []
    if "deep" in groups:
        rows += [(k, f.split(), d) for k, (f, d) in DEEP.items()]
    if "reach" in groups:
        rows += [(k, f.split(), d) for k, (f, d) in REACH.items()]
    if "eras" in groups:
        rows += list(era_rows())
    print("| scenario | BFS (`check`) | BMC (`prove --depth K`) |")
    print("|---|---|---|")
    for name, flags, depth in rows:
        if only and not any(o in name for o in only):
            continue
        row(name, flags, depth, timeout, holds_depth)


if __name__ == "__main__":
    main(sys.argv[1:])
