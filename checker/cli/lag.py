"""``ackcheck lag``: Burrow's consumer-lag evaluation of offset histories people already collect.

Reads kafka-consumer-groups captures, CSV offset histories and ackcheck traces (see
``lag_inputs``), evaluates every partition of every consumer group with Burrow's rules
(``burrow``), and prints a table per group, ``--json``, the status over time (``--over-time``)
and/or a plot of lag with status bands (``--plot``).

Exit status: 0 every group is OK, 1 some group is not (WARN, ERR or NOTFOUND), 2 bad usage or
bad input (a one-line error naming the file and line).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import NoReturn

from rich.console import Console

from ackcheck.checker.lag.burrow import (
    BurrowConfig,
    Status,
)
from ackcheck.checker.lag.inputs import (
    InputError,
    load_inputs,
    parse_timestamp,
)
from ackcheck.checker.lag.report import (
    MAX_PLOTTED_PARTITIONS,
    PLOT_SUFFIXES,
    evaluate,
    print_tables,
    to_json,
    write_plot,
)


class _UsageError(Exception):
    """A bad flag: argparse's message, reported on one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ackcheck lag",
        description=(
            "Evaluate consumer offset histories with Burrow's current rules (docs/lag.md): per partition, "
            "the window of the last --intervals commits; STOP, REWIND, STALL, WARN or OK; a group shows "
            "its worst partition, STOP/STALL/REWIND as ERR."
        ),
        epilog="Exit status: 0 every group OK, 1 some group not OK, 2 bad usage or input. See docs/lag.md.",
    )
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="kafka-consumer-groups captures ('# time:' lines), CSV offset histories or ackcheck traces",
    )
    parser.add_argument(
        "--intervals",
        type=int,
        default=10,
        metavar="N",
        help="commits in each partition's window (default 10)",
    )
    parser.add_argument(
        "--allowed-lag",
        type=int,
        default=0,
        metavar="N",
        help="the rules apply only when the current lag is above N, and a window with a lag <= N is "
        "never STALL or WARN (default 0: Burrow's 'lag is zero')",
    )
    parser.add_argument(
        "--min-distance",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="a commit less than this after the previous stored one replaces it in the window (default 1)",
    )
    parser.add_argument(
        "--now",
        metavar="TIME",
        help="evaluation time, ISO 8601 or epoch ms (default: the last timestamp in the input)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument(
        "--plot", metavar="FILE.png|FILE.svg", help="draw lag per partition over time with status bands"
    )
    parser.add_argument(
        "--over-time", action="store_true", help="also show each partition's status at every timestamp"
    )
    return parser


def _error(message: str) -> int:
    from ackcheck.checker.cli.common import one_line

    print(f"ackcheck lag: error: {one_line(message)}", file=sys.stderr)
    return 2


def main(argv: list[str]) -> int:
    """Run ``ackcheck lag``; returns the exit status (0 all OK, 1 some group not OK, 2 bad input)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        return _error(f"{exc} (see ackcheck lag --help)")
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0

    if args.intervals < 1:
        return _error(f"--intervals must be >= 1, got {args.intervals}")
    if args.allowed_lag < 0:
        return _error(f"--allowed-lag must be >= 0, got {args.allowed_lag}")
    if not args.min_distance >= 0:  # also rejects NaN
        return _error(f"--min-distance must be >= 0 seconds, got {args.min_distance}")
    if args.plot and Path(args.plot).suffix.lower() not in PLOT_SUFFIXES:
        return _error(f"--plot {args.plot}: the file name must end in .png or .svg")
    config = BurrowConfig(args.intervals, args.allowed_lag, args.min_distance)

    now_ms: int | None = None
    if args.now is not None:
        try:
            now_ms = parse_timestamp(args.now)
        except ValueError as exc:
            return _error(f"--now: {exc}")

    try:
        inputs = load_inputs(args.files)
    except InputError as exc:
        return _error(str(exc))
    if not inputs.samples:
        return _error(f"{', '.join(args.files)}: no offset rows in the input")
    if now_ms is None:
        now_ms = inputs.samples[-1].timestamp_ms

    results, eval_notes = evaluate(inputs, config, now_ms, with_timeline=bool(args.over_time or args.plot))
    notes = [*inputs.notes, *eval_notes]

    if args.plot:
        try:
            left_out = write_plot(args.plot, results, config)
        except (OSError, ValueError) as exc:
            return _error(f"{args.plot}: cannot write the plot: {exc}")
        if left_out:
            limit = MAX_PLOTTED_PARTITIONS
            notes.append(
                f"{args.plot}: {left_out} partition(s) not plotted (most severe kept, limit {limit})"
            )

    if args.json:
        print(json.dumps(to_json(results, notes, now_ms, config, args.over_time), indent=2))
    else:
        console = Console(highlight=False)
        if not console.is_terminal:
            console.width = max(console.width, 120)
        print_tables(console, results, now_ms, config, args.over_time)
        for note in notes:
            console.print(f"note: {note}", markup=False)
        if args.plot:
            console.print(f"plot written to {args.plot}", markup=False)
    return 0 if all(g.status is Status.OK for g in results) else 1
