"""Bad input never reaches a traceback: mutated traces, .properties files and flag lists go
through the command line in-process (`checker.cli.main`); each one is refused with exit 2 and
one error line naming the flag, key, file position or JSON path.

10,000 inputs in all (traces 4,000, properties 3,000, flag lists 3,000), derandomized so CI
runs the same inputs every time; ACKCHECK_BAD_INPUT_RANDOM=1 draws new ones and
ACKCHECK_BAD_INPUT_SCALE=N multiplies the counts.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ackcheck
from ackcheck.checker.cli import main as cli_main
from ackcheck.traces.format import ELECTION_REASONS

SCALE = float(os.environ.get("ACKCHECK_BAD_INPUT_SCALE", "1"))
COUNTS = {"traces": int(4000 * SCALE), "properties": int(3000 * SCALE), "flags": int(3000 * SCALE)}
BATCH = 5  # inputs per Hypothesis example: its own bookkeeping costs more than one CLI run


def batches(strategy):
    return st.lists(strategy, min_size=BATCH, max_size=BATCH)


def fuzz_settings(kind: str):
    return settings(max_examples=max(1, COUNTS[kind] // BATCH), deadline=None, database=None,
                    derandomize=not os.environ.get("ACKCHECK_BAD_INPUT_RANDOM"),
                    suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """Where the inputs are written: memory (/dev/shm) when there is one - thousands of small
    files on a disk-backed temp dir cost more than the runs themselves."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        with tempfile.TemporaryDirectory(prefix="ackcheck-bad-input-", dir=shm) as d:
            yield Path(d)
    else:
        yield tmp_path_factory.mktemp("bad-input")


@contextlib.contextmanager
def inside(directory: Path):
    old = os.getcwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(old)


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """`ackcheck ARGV` in-process: any exception (a traceback) fails the test."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli_main(argv)
        except SystemExit as e:  # argparse's own exits would print usage: not one line
            raise AssertionError(f"SystemExit({e.code}) escaped for {argv!r}: {err.getvalue()[-300:]}") from None
    return rc, out.getvalue(), err.getvalue()


def assert_one_line_error(argv: list[str], rc: int, out: str, err: str) -> None:
    assert "Traceback" not in out + err, argv
    assert rc == 2, f"exit {rc} for {argv!r}: {err[-300:]!r}"
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith(("note:", "warning:"))]
    assert len(lines) == 1, f"not one error line for {argv!r}: {err!r}"
    assert lines[0].startswith("ackcheck") and "error:" in lines[0], lines[0]


# ----------------------------------------------------------------------------- traces

def _base_trace() -> dict:
    """A small trace found by the engine: acks=1 loses an acknowledged write (5 steps), with a
    crash, an election (a `reason` argument) and every observation field."""
    config = ackcheck.build_config({"acks": "1"}, max_records=1, max_crashes=1)
    result = ackcheck.check(config, invariants=["acked-write-survives"])
    assert result.trace is not None
    return result.trace.as_dict()


BASE = _base_trace()

# Wrong values by the type the loader requires at a place. Every one is refused there.
NOT_INT = [None, "7", 1.5, True, {}, [], {"a": 1}]
NOT_BOOL = [None, 0, 1, "true", 1.5, {}, []]
NOT_STR = [None, 7, 1.5, True, {}, ["x"]]
NOT_LIST = [None, 7, "x", 1.5, True, {}, {"0": 1}]
NOT_OBJECT = [None, 7, "x", 1.5, True, [], [{}]]
NOT_SCALAR = [None, 1.5, {}, [], {"a": "b"}, ["all"]]  # config properties: string, number, boolean
NOT_INT_OR_NULL = ["7", 1.5, True, {}, []]


def _typed_places(node, path=()) -> list[tuple[tuple, list]]:
    """(path, wrong values) for every place of BASE the loader checks."""
    places = []
    head = path[:1]
    if isinstance(node, dict):
        if path and path[-1] == "action" and path[0] == "steps":
            places.append((path, NOT_OBJECT[1:] if path[1] > 0 else [{"name": "crash", "broker": 0}, 7, "x"]))
        elif path and path[-1] in ("lag", "violation"):  # optional: null is fine there
            places.append((path, NOT_OBJECT[1:]))
        elif path != ():
            places.append((path, NOT_OBJECT))
        for k, v in node.items():
            places += _typed_places(v, path + (k,))
        return places
    if isinstance(node, list):
        places.append((path, NOT_LIST))
        for i, v in enumerate(node):
            places += _typed_places(v, path + (i,))
        return places
    if head == ("config",):
        if len(path) == 3 and path[1] == "rules":
            return [(path, NOT_BOOL)]
        if len(path) == 3 and path[1] == "bounds":
            return [(path, NOT_INT)]
        return [(path, NOT_SCALAR)]
    if path == ("format",):
        return [(path, ["ackcheck-trace2", 7, None, {}])]
    if path == ("version",):
        return [(path, [2, 0, "1", 1.0, True, None])]
    if "lag" in path:
        return [(path, NOT_INT_OR_NULL)]
    if path[-1] == "name":
        return [(path, ["no_such_action", "", 3, None, {}, ["crash"]])]
    if path[-1] == "reason":
        return [(path, ["power", "", 0, None, {}, list(ELECTION_REASONS)])]
    if path[-1] == "outcome":
        return [(path, ["lost", "", 2, None, {}, []])]
    if path[-2:-1] == ("violation",) and path[-1] in ("invariant", "message"):
        return [(path, NOT_STR)]
    if isinstance(node, bool):
        return [(path, NOT_BOOL)]
    if isinstance(node, int):
        wrong = NOT_INT
        if path[-2:-1] and path[-3:-2] == ("action",) or (len(path) >= 2 and path[-2] == "action"):
            wrong = NOT_INT + [-1, 2**40]  # action arguments: small non-negative integers
        return [(path, wrong)]
    return []


PLACES = _typed_places(BASE)
# keys the loader requires (deleting one is an error); config keys fall back to defaults,
# `lag` and a replica's `broker` are derived, `violation` is optional
REQUIRED = [p for p, _ in PLACES
            if p and isinstance(p[-1], str) and p[0] != "config" and "lag" not in p
            and p[-1] not in ("broker", "violation")]
ACTION_PATHS = [p for p, _ in PLACES if len(p) == 3 and p[0] == "steps" and p[2] == "action" and p[1] > 0]
TRACE_COMMANDS = [
    ["view"],
    ["export", "--itf", "--out", "out.itf.json"],
    ["minimize", "--out", "out.min.json", "--max-tests", "20"],
    ["replay", "--on", "model"],
]


def _get(d, path):
    for p in path:
        d = d[p]
    return d


@st.composite
def mutated_traces(draw) -> bytes:
    kind = draw(st.sampled_from(["retype", "retype", "retype", "delete", "extra-arg", "truncate", "garbage"]))
    if kind == "garbage":
        return draw(st.one_of(st.binary(max_size=64), st.text(max_size=64).map(lambda s: s.encode())))
    d = copy.deepcopy(BASE)
    if kind == "retype":
        path, wrong = draw(st.sampled_from(PLACES))
        value = draw(st.sampled_from(wrong))
        _get(d, path[:-1])[path[-1]] = value
    elif kind == "delete":
        path = draw(st.sampled_from(REQUIRED))
        del _get(d, path[:-1])[path[-1]]
    elif kind == "extra-arg":
        path = draw(st.sampled_from(ACTION_PATHS))
        _get(d, path)[draw(st.sampled_from(["extra", "offset", "records", "batch2"]))] = 0
    text = json.dumps(d).encode()
    if kind == "truncate":
        text = text[: draw(st.integers(0, len(text) - 1))]
    return text


@fuzz_settings("traces")
@given(inputs=batches(st.tuples(mutated_traces(), st.sampled_from(TRACE_COMMANDS))))
def test_mutated_traces_are_refused_in_one_line(workdir, inputs):
    path = workdir / "t.json"
    with inside(workdir):
        for data, command in inputs:
            path.write_bytes(data)
            argv = command + [str(path)]
            rc, out, err = run_cli(argv)
            assert_one_line_error(argv, rc, out, err)
            assert str(path) in err, f"the error does not name the file: {err!r}"


def test_the_trace_places_cover_the_format():
    """The mutations reach every kind of field: actions and their arguments, observations,
    config, violation, format header (so the fuzz above can fail where validation is missing)."""
    kinds = {p[-1] for p, _ in PLACES if p and isinstance(p[-1], str)}
    assert {"name", "broker", "batch", "reason", "alive", "high_watermark", "records", "outcome",
            "committed_offset", "acks", "rules", "bounds", "invariant", "step", "format", "version"} <= kinds


@pytest.mark.parametrize("command", TRACE_COMMANDS, ids=lambda c: c[0])
def test_object_where_a_value_is_expected(tmp_path, command):
    """The original report: a step holding an object where a value belongs."""
    d = copy.deepcopy(BASE)
    d["steps"][1]["action"]["name"] = {"name": "producer_send"}
    path = tmp_path / "t.json"
    path.write_text(json.dumps(d))
    with inside(tmp_path):
        rc, out, err = run_cli(command + [str(path)])
    assert_one_line_error(command, rc, out, err)
    assert "$.steps[1].action.name" in err


def test_the_base_trace_itself_is_accepted(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps(BASE))
    with inside(tmp_path):
        rc, out, err = run_cli(["export", "--itf", "--out", "x.itf.json", str(path)])
    assert rc == 0, err
    assert (tmp_path / "x.itf.json").exists()


# ----------------------------------------------------------------------------- .properties

# one modelled setting with a value Kafka (and ackcheck) refuses
BAD_SETTINGS = [
    "acks=banana", "acks=2", "replication.factor=0", "replication.factor=99", "replication.factor=three",
    "min.insync.replicas=-1", "min.insync.replicas=abc", "unclean.leader.election.enable=maybe",
    "enable.idempotence=yes", "retries=-3", "retries=1e3", "max.in.flight.requests.per.connection=0",
    "log.flush.interval.messages=0", "auto.offset.reset=middle", "min.insync.replicas=9",
]
KEYS = ["acks", "replication.factor", "min.insync.replicas", "unclean.leader.election.enable", "retries",
        "enable.idempotence", "max.in.flight.requests.per.connection", "log.flush.interval.messages",
        "listeners", "num.network.threads", "log.retention.hours", "zookeeper.connect", "process.roles",
        "no.such.key", "acks ", " acks", "ACKS"]
_values = st.one_of(st.sampled_from(["all", "1", "0", "-1", "true", "false", "3", "", "\\", "\\u00e9", "a=b",
                                     "2147483648", "9223372036854775808"]),
                    st.integers(-10, 10).map(str), st.text(max_size=12))
_lines = st.one_of(
    st.tuples(st.sampled_from(KEYS), st.sampled_from(["=", ":", " ", " = "]), _values).map("".join),
    st.sampled_from(["# comment", "! comment", "", "   ", "\\", "key\\", "=value", ":", "\ufeffacks=1",
                     "a\\\n  b=c", "x=\\u12", "x=\\uZZZZ"]),
    st.text(max_size=30),
)


@st.composite
def mutated_properties(draw) -> bytes:
    bad = draw(st.sampled_from(BAD_SETTINGS))
    bad_key = bad.split("=", 1)[0]
    rest = [ln for ln in draw(st.lists(_lines, max_size=8)) if bad_key not in ln.lower()]
    text = "\n".join([bad, *rest]) + draw(st.sampled_from(["", "\n", "\r\n"]))
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()) and draw(st.integers(0, 9)) == 0:
        data += b"\nbroken=\xff\xfe"  # not UTF-8 / ISO-8859-1 mojibake
    return data


@fuzz_settings("properties")
@given(inputs=batches(st.tuples(mutated_properties(), st.sampled_from(["check", "audit"]))))
def test_mutated_properties_files_are_refused_in_one_line(workdir, inputs):
    path = workdir / "bad.properties"
    with inside(workdir):
        for data, command in inputs:
            path.write_bytes(data)
            argv = [command, "--config", str(path), "--max-depth", "1"]
            if command == "audit":
                argv += ["--no-cache", "--jobs", "1", "--no-fix"]
            rc, out, err = run_cli(argv)
            assert_one_line_error(argv, rc, out, err)
            assert str(path) in err, f"the error does not name the file: {err!r}"


# ----------------------------------------------------------------------------- flag lists

CONFIG_FLAGS = ["--acks", "--replication-factor", "--min-insync-replicas", "--unclean-leader-election-enable",
                "--log-flush-interval-messages", "--set", "--kafka-version", "--rule", "--max-records",
                "--max-crashes", "--max-power-losses", "--max-elections", "--max-isr-shrinks",
                "--max-lost-messages", "--max-attempts", "--max-delayed-fetches"]
COMMAND_FLAGS = {
    "check": CONFIG_FLAGS + ["--invariant", "--json", "--full", "--symmetry"],
    "fuzz": CONFIG_FLAGS + ["--invariant", "--json", "--seed", "--examples"],
    "audit": CONFIG_FLAGS + ["--guarantee", "--require", "--json", "--markdown", "--jobs", "--no-fix"],
    "matrix": ["--replication-factor", "--kafka-version", "--rule", "--guarantee", "--jobs", "--max-crashes"],
    "chaos": CONFIG_FLAGS + ["--seed", "--runs", "--steps", "--segment-bytes", "--json"],
    "view": ["--html"],
    "export": ["--itf", "--out"],
    "minimize": ["--invariant", "--max-tests", "--json"],
    "replay": ["--on", "--invariant", "--segment-bytes", "--json"],
    "lag": ["--intervals", "--allowed-lag", "--min-distance", "--now", "--json", "--over-time"],
    "invariants": ["-v"],
    "versions": [],
}
FILE_COMMANDS = {"view", "export", "minimize", "replay", "lag"}
# one element each command refuses, whatever else the list holds
POISON = {
    "check": [["--acks", "7"], ["--max-crashes", "99"], ["--invariant", "no-such-invariant"],
              ["--rule", "no_such_rule=on"], ["--kafka-version", "0.1"], ["--min-insync-replicas", "x"],
              ["--set", "acks"], ["--symmetry", "maybe"], ["--max-depth", "-1"]],
    "audit": [["--guarantee", "no-such"], ["--require", "no-such"], ["--jobs", "0"], ["--max-crashes", "99"],
              ["--acks", "7"], ["--kafka-version", "0.1"]],
    "matrix": [["--replication-factor", "9"], ["--jobs", "0"], ["--guarantee", "no-such"],
               ["--kafka-version", "0.1"], ["--rule", "x"], ["--rule", "no_such_rule=on"]],
    "fuzz": [["--acks", "7"], ["--examples", "x"], ["--invariant", "no-such-invariant"]],
    "chaos": [["--segment-bytes", "1"], ["--acks", "7"], ["--runs", "x"]],
}
_flag_values = st.one_of(
    st.sampled_from(["all", "1", "0", "-1", "3", "true", "false", "2.1", "4.1", "acked-write-survives",
                     "fenced_leader_epoch=off", "acks=all", "model", "broker", "on", "off", ""]),
    st.integers(-5, 2**40).map(str),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=10),
)


@st.composite
def flag_lists(draw) -> list[str]:
    command = draw(st.sampled_from(sorted(COMMAND_FLAGS)))
    argv: list[str] = []
    for _ in range(draw(st.integers(0, 4))):
        flag = draw(st.sampled_from(COMMAND_FLAGS[command] or ["--json"]))
        argv += [flag] + ([draw(_flag_values)] if draw(st.booleans()) else [])
    poison_kinds = ["unknown-flag"] + (["value"] if command in POISON else []) + \
                   (["missing-file"] if command in FILE_COMMANDS else [])
    poison = draw(st.sampled_from(poison_kinds))
    if poison == "unknown-flag":
        bad = [draw(st.sampled_from(["--no-such-flag", "--max-crashesx", "--acks-all", "-Z", "--json=maybe"]))]
    elif poison == "value":
        bad = draw(st.sampled_from(POISON[command]))
    else:
        bad = [draw(st.sampled_from(["no-such-file.json", "missing/dir/t.json", "."]))]
    at = draw(st.integers(0, len(argv)))
    argv[at:at] = bad
    if command in ("check", "audit", "fuzz", "matrix", "chaos"):
        argv += ["--max-depth", "1"] if command != "chaos" else ["--steps", "5"]
    return [command, *argv]


@fuzz_settings("flags")
@given(inputs=batches(flag_lists()))
def test_flag_lists_are_refused_in_one_line(workdir, inputs):
    with inside(workdir):
        for argv in inputs:
            assert_one_line_error(argv, *run_cli(argv))


def test_loop_start_is_accepted_and_checked(tmp_path):
    """The optional `loop_start` of a lasso: a step index is read, anything else refused."""
    d = copy.deepcopy(BASE)
    d["loop_start"] = len(d["steps"]) - 1  # stays in the last state
    path = tmp_path / "t.json"
    path.write_text(json.dumps(d))
    with inside(tmp_path):
        rc, _, err = run_cli(["export", "--itf", "--out", "x.itf.json", str(path)])
        assert rc == 0, err
        for bad in ("1", 1.5, True, -1, len(d["steps"]), {}):
            d["loop_start"] = bad
            path.write_text(json.dumps(d))
            rc, out, err = run_cli(["view", str(path)])
            assert_one_line_error(["view"], rc, out, err)
            assert "$.loop_start" in err
