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
