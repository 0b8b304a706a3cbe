"""Configuration flags shared by every subcommand that runs the model (check, fuzz, audit...)."""

from __future__ import annotations

import argparse

from ackcheck.traces import eras, perturbations
from ackcheck.traces.settings import (
    Bounds,
    Config,
    ConfigError,
    Setting,
    build_config,
    parse_set,
    read_properties,
)

DEFAULT_BOUNDS = Bounds()


# one --max-* flag per bound of traces/perturbations.py
BOUND_HELP = {spec.name: spec.help for spec in perturbations.BOUNDS}


def add_config_flags(p: argparse.ArgumentParser, *, bounds: bool = True) -> None:
    g = p.add_argument_group("Kafka settings (Kafka's defaults for the chosen version unless given)")
    g.add_argument("--acks", metavar="0|1|all|-1", help="producer acks (default: all since 3.0, 1 before)")
    g.add_argument("--replication-factor", metavar="N", help="replicas of the partition, 1-5 (default 3)")
    g.add_argument("--min-insync-replicas", metavar="N", help="min.insync.replicas (default 1)")
    g.add_argument("--unclean-leader-election-enable", metavar="true|false",
                   help="unclean.leader.election.enable (default false since 0.11)")
    g.add_argument("--log-flush-interval-messages", metavar="N",
                   help="fsync after N messages (default: never, Long.MAX_VALUE)")
    g.add_argument("--records-per-batch", metavar="N",
                   help="records per producer batch: batch.size/linger.ms abstracted (default 1)")
    g.add_argument("--set", action="append", default=[], metavar="kafka.property=value",
                   help="any supported Kafka property, e.g. --set enable.idempotence=false (repeatable)")
    g.add_argument("--config", action="append", default=[], metavar="FILE.properties",
                   help="read Kafka settings from a Java .properties file (repeatable; later wins)")
    g.add_argument("--kafka-version", metavar="X.Y",
                   help=f"protocol preset (default {eras.NEWEST}); see `ackcheck versions`")
    g.add_argument("--rule", action="append", default=[], metavar="name=on|off",
                   help="switch one protocol rule of the preset on or off (see `ackcheck versions`)")
    if bounds:
        b = p.add_argument_group("exploration bounds (perturbations are bounded; healing is not)")
        for name, text in BOUND_HELP.items():
            default = getattr(DEFAULT_BOUNDS, name)
            b.add_argument("--" + name.replace("_", "-"), type=int, metavar="N", default=None,
                           help=f"{text} (default {default})")


FLAG_PROPS = {
    "acks": "acks",
    "replication_factor": "replication.factor",
    "min_insync_replicas": "min.insync.replicas",
    "unclean_leader_election_enable": "unclean.leader.election.enable",
    "log_flush_interval_messages": "log.flush.interval.messages",
    "records_per_batch": "records.per.batch",
}


def settings_from_args(args: argparse.Namespace) -> list[Setting]:
    settings: list[Setting] = []
    for path in args.config:
        settings += read_properties(path)
    settings += parse_set(args.set)
    for attr, prop in FLAG_PROPS.items():
        v = getattr(args, attr, None)
        if v is not None:
            settings.append(Setting(prop, v, "--" + attr.replace("_", "-")))
    return settings


def bounds_from_args(args: argparse.Namespace) -> dict[str, int]:
    return {k: getattr(args, k) for k in BOUND_HELP if getattr(args, k, None) is not None}


def config_from_args(args: argparse.Namespace, extra: list[Setting] = ()) -> Config:
    """Raises ConfigError with a one-line message naming the flag, key or file line."""
    return build_config(
        list(extra) + settings_from_args(args),
        kafka_version=args.kafka_version,
        rule_overrides=args.rule,
        bounds=bounds_from_args(args),
    )


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but usage errors exit 2 with one line (no usage dump, no traceback)."""

    def error(self, message: str):  # noqa: D401
        raise ConfigError(f"{self.prog}: {message}")
