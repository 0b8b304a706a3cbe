import pytest

from ackcheck.traces.settings import Setting, build_config


def make_config(props: dict | None = None, version: str | None = None, rules=(), **bounds):
    """A Config from Kafka properties and bounds, as the CLI would build it."""
    settings = [Setting(k, str(v), "test") for k, v in (props or {}).items()]
    return build_config(settings, kafka_version=version, rule_overrides=list(rules), bounds=bounds)


@pytest.fixture
def config():
    return make_config
