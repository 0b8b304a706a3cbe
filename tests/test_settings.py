from pathlib import Path

import pytest

from ackcheck.traces import eras
from ackcheck.traces.settings import ConfigError, Setting, build_config, parse_set, read_properties

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "kafka-config"  # Kafka's sample configs


def cfg(**props):
    return build_config([Setting(k.replace("_", "."), v, "t") for k, v in props.items()])


def test_defaults_are_kafka_41():
    c = build_config([])
    assert c.kafka_version == eras.NEWEST == "4.1"
    assert c.acks == "all" and c.enable_idempotence and not c.unclean_leader_election_enable
    assert c.min_insync_replicas == 1 and c.replication_factor == 3
    assert c.rule("eligible_leader_replicas") and c.rule("strict_min_isr")


def test_acks_minus_one_is_all():
    assert cfg(acks="-1").acks == "all"


@pytest.mark.parametrize("key,value", [("acks", "7"), ("acks", "banana"), ("min.insync.replicas", "x"),
                                       ("unclean.leader.election.enable", "yes")])
def test_bad_values_name_the_key(key, value):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        build_config([Setting(key, value, "--set")])


def test_min_isr_above_rf_is_refused():
    with pytest.raises(ConfigError, match="exceeds"):
        build_config([Setting("min.insync.replicas", "3", "--min-insync-replicas"),
                      Setting("replication.factor", "2", "--replication-factor")])


def test_misspelt_set_key_suggests():
    with pytest.raises(ConfigError, match="did you mean 'acks'"):
        parse_set(["acsk=1"])


def test_idempotence_default_dropped_silently_with_note():
    c = cfg(acks="1")
    assert not c.enable_idempotence
    assert any("idempotence turned off" in n for n in c.notes)


def test_explicit_idempotence_conflict_is_config_exception():
    with pytest.raises(ConfigError, match="enable.idempotence=true conflicts"):
        build_config([Setting("enable.idempotence", "true", "--set"),
                      Setting("max.in.flight.requests.per.connection", "6", "--set")])


def test_version_presets_change_defaults():
    old = build_config([], kafka_version="0.10")
    assert old.acks == "1" and old.unclean_leader_election_enable and not old.rule("epoch_truncation")
    assert build_config([], kafka_version="3.7.1").kafka_version == "3.7"
    with pytest.raises(ConfigError, match="unsupported Kafka version"):
        build_config([], kafka_version="0.8")


def test_rule_override():
    c = build_config([], rule_overrides=["strict_min_isr=off"])
    assert not c.rule("strict_min_isr")
    with pytest.raises(ConfigError, match="unknown rule"):
        build_config([], rule_overrides=["strict_min_ist=off"])


@pytest.mark.parametrize("name", ["server.properties", "producer.properties", "kraft/server.properties"])
def test_kafka_sample_files_load(name):
    settings = read_properties(FIXTURES / name)
    c = build_config(settings)
    notes = " ".join(c.notes)
    assert "set aside" in notes
    assert "warning" not in notes  # every key in Kafka's own samples is known
    if name.startswith("kraft"):
        assert c.rule("kraft_controller")


def test_properties_error_names_file_and_line(tmp_path):
    p = tmp_path / "p.properties"
    p.write_text("# comment\nbootstrap.servers=x\nacks=banana\n")
    with pytest.raises(ConfigError, match=r"p\.properties:3"):
        build_config(read_properties(p))


def test_unknown_file_key_is_a_warning_not_an_error(tmp_path):
    p = tmp_path / "p.properties"
    p.write_text("ackss=1\n")
    c = build_config(read_properties(p))
    assert any("warning: unknown Kafka property ackss" in n for n in c.notes)
