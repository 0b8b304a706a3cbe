import pytest

from ackcheck.traces.settings import Setting, build_config


def make_config(props: dict | None = None, version: str | None = None, rules=(), **bounds):
    """The one config builder of the tests: a Config from Kafka properties (name -> value),
    a version preset, rule overrides ("name=on|off") and bounds, as the CLI would build it."""
    settings = [Setting(k, str(v), "test") for k, v in (props or {}).items()]
    return build_config(settings, kafka_version=version, rule_overrides=list(rules), bounds=bounds or None)


@pytest.fixture
def config():
    return make_config


@pytest.fixture(scope="module")
def cluster():
    """A local Dask distributed cluster of 2 worker processes (one per module): its
    scheduler's address."""
    distributed = pytest.importorskip("distributed")
    c = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    try:
        yield c.scheduler_address
    finally:
        c.close()


def ctrl_c_after(args: list[str], seconds: float, cwd=None, timeout: float = 120.0):
    """Run `ackcheck ARGS`, press Ctrl-C after `seconds`, and wait for it to end:
    (returncode, stdout, stderr, seconds from the Ctrl-C to the end). The child gets the
    terminal's default SIGINT (a shell that starts a test run in the background has it
    ignored, and Python then installs no Ctrl-C handler)."""
    import signal
    import subprocess
    import sys
    import time

    p = subprocess.Popen([sys.executable, "-m", "ackcheck", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, cwd=cwd, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(seconds)
    p.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err, time.monotonic() - t0
