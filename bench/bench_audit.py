"""Benchmark: `ackcheck audit` and `ackcheck matrix` from a cold cache, with states per cell.

    python bench/bench_audit.py [--jobs N] [--skip-matrix]

Prints wall seconds for the audit of Kafka's defaults, of Kafka's sample config files, and
for the default matrix, then the states explored per guarantee (audit) and per cell (matrix).
Figures only: nothing is asserted (docs/design.md: benchmarks print, tests never time).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

from ackcheck.checker.cli import audit as audit_cli
from ackcheck.checker.cli import matrix as matrix_cli

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "kafka-config"


def timed_audit(argv: list[str]) -> tuple[float, dict]:
    buf = StringIO()
    t0 = time.perf_counter()
    with redirect_stdout(buf):
        audit_cli.main(argv + ["--json"])
    return time.perf_counter() - t0, json.loads(buf.getvalue())


def print_audit(name: str, seconds: float, j: dict) -> None:
    print(f"\n== audit {name}: {seconds:.1f}s wall")
    print(f"   {'guarantee':<26} {'verdict':<9} {'states':>8} {'seconds':>8}  fix (states re-checked)")
    for g in j["guarantees"]:
        fix = g["fix"] or {}
        fixed = f"{fix.get('text', '')[:60]} ({fix.get('states', 0):,})" if fix else ""
        print(f"   {g['id']:<26} {g['verdict']:<9} {g['states']:>8,} {g['seconds']:>8.2f}  {fixed}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=None)
    p.add_argument("--skip-matrix", action="store_true")
    args = p.parse_args()
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []
    with tempfile.TemporaryDirectory() as tmp:
        common = ["--trace-dir", f"{tmp}/traces", *jobs]
        for name, extra in (
            ("defaults (cold cache)", ["--cache-dir", f"{tmp}/c1"]),
            ("defaults (warm cache)", ["--cache-dir", f"{tmp}/c1"]),
            ("server.properties + producer.properties", [
                "--cache-dir", f"{tmp}/c2", "--broker", str(FIXTURES / "server.properties"),
                "--producer", str(FIXTURES / "producer.properties")]),
            ("kraft/server.properties + producer.properties", [
                "--cache-dir", f"{tmp}/c3", "--broker", str(FIXTURES / "kraft" / "server.properties"),
                "--producer", str(FIXTURES / "producer.properties")]),
            ("acks=1 (cold cache)", ["--cache-dir", f"{tmp}/c4", "--acks", "1"]),
            ("Kafka 3.6 defaults (cold cache)", ["--cache-dir", f"{tmp}/c5", "--kafka-version", "3.6"]),
        ):
            if "properties" in name and not FIXTURES.exists():
                continue
            s, j = timed_audit(common + extra)
            print_audit(name, s, j)
        if args.skip_matrix:
            return 0
        out = Path(tmp) / "m.json"
        t0 = time.perf_counter()
        matrix_cli.main(["--format", "json", "--out", str(out), "--cache-dir", f"{tmp}/cm", *jobs])
        wall = time.perf_counter() - t0
        m = json.loads(out.read_text())
        valid = [r for r in m["rows"] if r["valid"]]
        print(f"\n== matrix (default space, cold cache): {wall:.1f}s wall, {len(valid)} configurations "
              f"({len(m['rows']) - len(valid)} invalid), {m['runs']} runs, {m['states']:,} states explored")
        print(f"   {'guarantee':<26} {'holds':>5} {'viol.':>5} {'min':>7} {'median':>7} {'max':>7}  states per cell")
        for g in m["guarantees"]:
            cells = [r["cells"][g["id"]] for r in valid]
            st = [c["states"] for c in cells]
            print(f"   {g['id']:<26} {sum(c['verdict'] == 'holds' for c in cells):>5} "
                  f"{sum(c['verdict'] == 'violated' for c in cells):>5} {min(st):>7,} "
                  f"{int(statistics.median(st)):>7,} {max(st):>7,}")
        print("\n   states per cell (H holds, V violated):")
        ids = [g["id"] for g in m["guarantees"]]
        print("   " + " " * 62 + " ".join(f"{i[:12]:>12}" for i in ids))
        for r in valid:
            cells = " ".join(f"{r['cells'][i]['verdict'][0].upper()}{r['cells'][i]['states']:>11,}" for i in ids)
            print(f"   {r['label'][:62]:<62}{cells}")
        t0 = time.perf_counter()
        matrix_cli.main(["--format", "json", "--out", str(out), "--cache-dir", f"{tmp}/cm", *jobs])
        print(f"\n== matrix again (warm cache): {time.perf_counter() - t0:.1f}s wall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
