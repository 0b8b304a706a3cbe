"""Reach benchmark: the R1-R4 scenarios of docs/reach.md, each as `ackcheck check --json`
in a fresh process, with 1 and 2 workers. Prints one markdown row per run: verdict,
distinct states, wall seconds, CPU seconds (all processes), states/s, peak memory (all processes) and the search's
bytes per state. Asserts nothing; the machine may be shared, so run it more than once and
keep the best. `--builds compiled,pure` runs each case with the compiled model and with
ACKCHECK_PURE_PYTHON=1, one after the other (so both see the same machine).
Run: python bench/bench_reach.py [R1 R2 ...] [--workers 1,2] [--timeout 600] [--builds compiled,pure]
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

R1 = ("--acks all --min-insync-replicas 2 --max-records 2 --max-crashes 2 "
      "--invariant acked-write-survives")
R2 = ("--acks all --min-insync-replicas 2 --max-records 2 --max-crashes 1 --max-elections 1 --max-isr-shrinks 1 "
      "--max-attempts 1 --invariant acked-write-survives")
R3 = ("--acks all --min-insync-replicas 2 --max-records 2 --max-crashes 1 --max-elections 2 --max-isr-shrinks 0 "
      "--max-attempts 1 --max-delayed-fetches 1 --invariant acked-write-survives")
R4 = R1 + " --max-elections 2"
SCENARIOS = {"R1": R1, "R2": R2, "R3": R3, "R4": R4}


def run(flags: str, workers: int, timeout: float, pure: bool = False) -> dict:
    cmd = [sys.executable, "-m", "ackcheck", "check", *flags.split(), "--json", "--workers", str(workers)]
    env = {**os.environ, "ACKCHECK_PURE_PYTHON": "1" if pure else "0"}
    t0 = time.perf_counter()
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"verdict": f"not finished in {timeout:.0f}s", "wall": time.perf_counter() - t0}
    wall = time.perf_counter() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime
    try:
        j = json.loads(p.stdout)
    except ValueError:
        return {"verdict": f"exit {p.returncode}: {p.stderr.strip()[-200:]}", "wall": wall}
    return {"verdict": j["verdict"], "wall": wall, "cpu": cpu, **j["stats"]}


def main(argv: list[str]) -> None:
    names = [a for a in argv if a in SCENARIOS] or ["R1", "R2"]
    workers = [1, 2]
    timeout = 600.0
    if "--workers" in argv:
        workers = [int(x) for x in argv[argv.index("--workers") + 1].split(",")]
    if "--timeout" in argv:
        timeout = float(argv[argv.index("--timeout") + 1])
    builds = ["compiled"]
    if "--builds" in argv:
        builds = argv[argv.index("--builds") + 1].split(",")
        if set(builds) - {"compiled", "pure"}:
            raise SystemExit("--builds takes compiled and/or pure")
    from ackcheck import _compiled

    if "compiled" in builds and not _compiled.in_use():
        print(f"note: the model is not compiled here ({_compiled.status()})", file=sys.stderr)
    print("| scenario | build | workers | verdict | distinct states | wall s | CPU s | states/s | peak memory MB | "
          "bytes/state |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        for w in workers:
            for build in builds:
                r = run(SCENARIOS[name], w, timeout, pure=build == "pure")
                n = r.get("distinct_states")
                if n is None:
                    print(f"| {name} | {build} | {w} | {r['verdict']} | | {r['wall']:.1f} | | | | |", flush=True)
                    continue
                print(f"| {name} | {build} | {r.get('workers', w)} | {r['verdict']} | {n:,} | {r['wall']:.1f} | "
                      f"{r['cpu']:.1f} | {n / r['wall']:,.0f} | {r['peak_memory_bytes'] / 2**20:,.0f} | "
                      f"{r['bytes_per_state']:.1f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
