"""The settings of a run: Kafka properties, protocol era, rules and exploration bounds.

Part of the trace contract (every trace carries its settings), shared by the model, the
checker and the reference broker. Values are validated the way Kafka validates them
(ConfigException for bad values, the idempotence rules of KIP-679) and every error names
the flag, key or file line it came from.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, make_dataclass, replace
from pathlib import Path

from ackcheck.traces import eras, perturbations

LONG_MAX = 9223372036854775807
INT_MAX = 2147483647


class ConfigError(ValueError):
    """Bad user input: a one-line message naming the offending flag, key or file position."""


def _bounds_as_dict(self) -> dict[str, int]:
    # bounds not always shown are written only when used, so traces from before the
    # bound read the same
    return {spec.name: getattr(self, spec.name) for spec in perturbations.BOUNDS
            if perturbations.in_trace(spec, getattr(self, spec.name))}


# Exploration bounds: how many perturbations and records a run may use. Perturbations
# (crashes, power losses, elections, lost messages, ...) are bounded; healing actions
# (restart, fetch, retry) are not. Fields, defaults and ranges come from
# traces/perturbations.py. The defaults keep `ackcheck check` to seconds on 2 cores while
# still including a process crash and an ISR shrink; raise them for deeper checks (state
# spaces grow by 10-50x per extra crash or election).
Bounds = make_dataclass(
    "Bounds",
    [(spec.name, int, field(default=spec.default)) for spec in perturbations.BOUNDS],
    namespace={"as_dict": _bounds_as_dict,
               "__doc__": "Exploration bounds (one field per entry of traces/perturbations.py BOUNDS)."},
    frozen=True,
    slots=True,
)
Bounds.__module__ = __name__  # (pickled by the audit's worker pool)

BOUND_LIMITS: dict[str, tuple[int, int]] = {spec.name: spec.limits for spec in perturbations.BOUNDS}


@dataclass(frozen=True, slots=True)
class Config:
    """One Kafka configuration plus the protocol era and the exploration bounds.

    Field names are Kafka's property names with dots as underscores.
    """

    acks: str = "all"  # "0" | "1" | "all"   (acks=-1 is normalised to "all")
    replication_factor: int = 3
    min_insync_replicas: int = 1
    unclean_leader_election_enable: bool = False
    enable_idempotence: bool = True
    max_in_flight_requests_per_connection: int = 5
    retries: int = INT_MAX
    log_flush_interval_messages: int = LONG_MAX
    auto_leader_rebalance_enable: bool = True
    auto_offset_reset: str = "latest"
    # batch.size / linger.ms abstracted as "records per batch" (docs/kafka.md, section 4)
    records_per_batch: int = 1
    kafka_version: str = eras.NEWEST
    rules: tuple[tuple[str, bool], ...] = tuple(sorted(eras.rules_for(eras.NEWEST).items()))
    bounds: Bounds = field(default_factory=Bounds)
    # what the loading said (defaults applied, idempotence turned off, keys set aside)
    notes: tuple[str, ...] = field(default=(), compare=False)

    def rule(self, name: str) -> bool:
        for key, value in self.rules:
            if key == name:
                return value
        raise KeyError(name)

    @property
    def acks_all(self) -> bool:
        return self.acks == "all"

    def kafka_properties(self) -> dict[str, object]:
        return {
            "acks": self.acks,
            "replication.factor": self.replication_factor,
            "min.insync.replicas": self.min_insync_replicas,
            "unclean.leader.election.enable": self.unclean_leader_election_enable,
            "enable.idempotence": self.enable_idempotence,
            "max.in.flight.requests.per.connection": self.max_in_flight_requests_per_connection,
            "retries": self.retries,
            "log.flush.interval.messages": self.log_flush_interval_messages,
            "auto.leader.rebalance.enable": self.auto_leader_rebalance_enable,
            "auto.offset.reset": self.auto_offset_reset,
        }

    def as_dict(self) -> dict[str, object]:
        """The `config` object of traces and JSON output (Kafka property names)."""
        d = self.kafka_properties()
        d["kafka.version"] = self.kafka_version
        d["records.per.batch"] = self.records_per_batch
        d["rules"] = {k: v for k, v in self.rules}
        d["bounds"] = self.bounds.as_dict()
        return d

    def with_bounds(self, **kw: int) -> Config:
        return replace(self, bounds=replace(self.bounds, **kw))


# --------------------------------------------------------------------------------------
# Parsing

def _bool(text: str) -> bool:
    t = text.strip().lower()
    if t in ("true", "false"):
        return t == "true"
    raise ValueError("expected true or false")


def _acks(text: str) -> str:
    t = text.strip().lower()
    if t in ("all", "-1"):
        return "all"
    if t in ("0", "1"):
        return t
    raise ValueError("expected 0, 1, all or -1")


def _int(lo: int, hi: int):
    def parse(text: str) -> int:
        try:
            v = int(text.strip())
        except ValueError:
            raise ValueError("expected an integer") from None
        if not lo <= v <= hi:
            raise ValueError(f"expected {lo}..{hi}")
        return v

    return parse


def _offset_reset(text: str) -> str:
    t = text.strip().lower()
    if t in ("latest", "earliest"):
        return t
    raise ValueError("expected latest or earliest (none is not modelled)")


# Kafka property -> (Config field, parser). Replication factor is a topic property; the
# broker's default.replication.factor and the CLI's --replication-factor set it too.
MODELLED: dict[str, tuple[str, object]] = {
    "acks": ("acks", _acks),
    "replication.factor": ("replication_factor", _int(1, 5)),
    "default.replication.factor": ("replication_factor", _int(1, 5)),
    "min.insync.replicas": ("min_insync_replicas", _int(1, 5)),
    "unclean.leader.election.enable": ("unclean_leader_election_enable", _bool),
    "enable.idempotence": ("enable_idempotence", _bool),
    "max.in.flight.requests.per.connection": ("max_in_flight_requests_per_connection", _int(1, INT_MAX)),
    "retries": ("retries", _int(0, INT_MAX)),
    "log.flush.interval.messages": ("log_flush_interval_messages", _int(1, LONG_MAX)),
    "flush.messages": ("log_flush_interval_messages", _int(1, LONG_MAX)),  # topic-level name
    "auto.leader.rebalance.enable": ("auto_leader_rebalance_enable", _bool),
    "auto.offset.reset": ("auto_offset_reset", _offset_reset),
    "records.per.batch": ("records_per_batch", _int(1, 4)),
    "kafka.version": ("kafka_version", str),
}

# Kafka settings ackcheck accepts and sets aside (they do not change the modelled
# guarantees, or are abstracted: batch.size/linger.ms -> records.per.batch, timeouts ->
# max_attempts). A key in neither table gets a warning, as Kafka logs for unknown configs.
KNOWN_UNMODELLED = frozenset("""
advertised.listeners auto.create.topics.enable auto.commit.interval.ms background.threads batch.size
bootstrap.servers broker.id broker.rack buffer.memory client.dns.lookup client.id compression.type
compression.gzip.level connections.max.idle.ms controlled.shutdown.enable controller.listener.names
controller.quorum.voters controller.quorum.bootstrap.servers delete.topic.enable delivery.timeout.ms
enable.auto.commit fetch.max.bytes fetch.min.bytes fetch.max.wait.ms group.id group.initial.rebalance.delay.ms
inter.broker.listener.name inter.broker.protocol.version isolation.level key.serializer value.serializer
key.deserializer value.deserializer leader.imbalance.check.interval.seconds leader.imbalance.per.broker.percentage
linger.ms listener.security.protocol.map listeners log.cleaner.enable log.cleanup.policy log.dir log.dirs
log.flush.interval.ms log.flush.offset.checkpoint.interval.ms log.flush.scheduler.interval.ms
log.flush.start.offset.checkpoint.interval.ms log.index.interval.bytes log.index.size.max.bytes
log.message.format.version log.retention.bytes log.retention.check.interval.ms log.retention.hours
log.retention.minutes log.retention.ms log.roll.hours log.roll.ms log.segment.bytes log.segment.delete.delay.ms
max.block.ms max.poll.interval.ms max.poll.records max.request.size message.max.bytes metadata.max.age.ms
metric.reporters metrics.num.samples metrics.recording.level metrics.sample.window.ms node.id num.io.threads
num.network.threads num.partitions num.recovery.threads.per.data.dir num.replica.fetchers
offsets.retention.minutes offsets.topic.num.partitions offsets.topic.replication.factor partitioner.class
partitioner.ignore.keys process.roles queued.max.requests receive.buffer.bytes reconnect.backoff.ms
reconnect.backoff.max.ms replica.fetch.max.bytes replica.fetch.min.bytes replica.fetch.wait.max.ms
replica.high.watermark.checkpoint.interval.ms replica.lag.time.max.ms replica.socket.timeout.ms
request.timeout.ms retry.backoff.ms retry.backoff.max.ms sasl.mechanism sasl.jaas.config security.protocol
send.buffer.bytes session.timeout.ms heartbeat.interval.ms share.coordinator.state.topic.min.isr
share.coordinator.state.topic.replication.factor socket.receive.buffer.bytes socket.request.max.bytes
socket.send.buffer.bytes ssl.keystore.location ssl.keystore.password ssl.truststore.location
ssl.truststore.password transaction.state.log.min.isr transaction.state.log.replication.factor
transaction.timeout.ms transactional.id zookeeper.connect zookeeper.connection.timeout.ms
zookeeper.session.timeout.ms eligible.leader.replicas.enable group.coordinator.rebalance.protocols
retention.ms retention.bytes segment.bytes segment.ms cleanup.policy flush.ms max.message.bytes
message.timestamp.type unclean.leader.election.interval.ms metadata.log.dir
""".split())


@dataclass(slots=True)
class Setting:
    key: str
    value: str
    origin: str  # "--acks", "--set", "server.properties:12", "kafka 4.1 default"


def suggest(key: str, universe) -> str:
    close = difflib.get_close_matches(key, sorted(universe), n=1, cutoff=0.75)
    return f" (did you mean '{close[0]}'?)" if close else ""


def read_properties(path: str | Path) -> list[Setting]:
    """Read a Java .properties file (via javaproperties), keeping each key's line number."""
    import javaproperties

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: cannot read: {e}") from None
    try:
        pairs = list(javaproperties.loads(text).items())
    except Exception as e:  # javaproperties raises ValueError/InvalidUEscapeError
        raise ConfigError(f"{p}: not a valid .properties file: {e}") from None
    lines = text.splitlines()
    out = []
    for key, value in pairs:
        lineno = _line_of(lines, key)
        out.append(Setting(key.strip(), value.strip(), f"{p}:{lineno}" if lineno else str(p)))
    return out


def _line_of(lines: list[str], key: str) -> int:
    pat = re.compile(r"^\s*" + re.escape(key) + r"\s*([=:\s]|$)")
    found = 0
    for i, line in enumerate(lines, 1):
        if pat.match(line):
            found = i  # the last occurrence wins, as in Properties.load
    return found


def parse_set(items: list[str]) -> list[Setting]:
    out = []
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item}: expected kafka.property=value")
        key, value = item.split("=", 1)
        key = key.strip()
        if key not in MODELLED and key not in KNOWN_UNMODELLED:
            raise ConfigError(f"--set {item}: unknown property '{key}'{suggest(key, MODELLED)}")
        out.append(Setting(key, value.strip(), "--set"))
    return out


def build_config(
    settings: list[Setting],
    *,
    kafka_version: str | None = None,
    rule_overrides: list[str] = (),
    bounds: dict[str, int] | None = None,
    version_origin: str = "--kafka-version",
) -> Config:
    """Merge settings (later ones win) over the version's defaults and validate them."""
    notes: list[str] = []
    set_aside: list[str] = []
    unknown: list[str] = []
    # the version can come from a config file (kafka.version=...) or the flag (the flag wins)
    version_text, vorigin = None, version_origin
    for s in settings:
        if s.key == "kafka.version":
            version_text, vorigin = s.value, s.origin
    if kafka_version is not None:
        version_text, vorigin = kafka_version, version_origin
    version = eras.NEWEST
    if version_text is not None:
        v = eras.normalize_version(version_text)
        if v is None:
            raise ConfigError(
                f"{vorigin}: unsupported Kafka version '{version_text}' (supported: {', '.join(eras.VERSIONS)})"
            )
        if v != version_text.strip():
            notes.append(f"kafka version {version_text.strip()} uses the {v} preset")
        version = v

    values: dict[str, object] = {}
    explicit: dict[str, Setting] = {}
    merged: list[Setting] = [Setting(k, v, f"kafka {version} default") for k, v in eras.kafka_defaults(version).items()]
    merged += settings
    kraft = version_key_ge(version, "4.0")
    for s in merged:
        if s.key == "kafka.version":
            continue
        if s.key == "process.roles":
            kraft = True  # a KRaft node config (KIP-500)
        if s.key == "zookeeper.connect" and not version_key_ge(version, "4.0"):
            kraft = False
        if s.key in MODELLED:
            fname, parser = MODELLED[s.key]
            try:
                values[fname] = parser(s.value)
            except ValueError as e:
                raise ConfigError(f"{s.origin}: {s.key}={s.value}: invalid value ({e})") from None
            if not s.origin.startswith("kafka "):
                explicit[fname] = s
        elif s.key in KNOWN_UNMODELLED:
            set_aside.append(s.key)
        else:
            unknown.append(f"{s.key} ({s.origin}){suggest(s.key, set(MODELLED) | KNOWN_UNMODELLED)}")
    if "replication_factor" not in explicit:
        values["replication_factor"] = 3  # a production topic; Kafka's default.replication.factor is 1
    # min(min.insync.replicas, RF) since 3.7 (KAFKA-15583); earlier, a topic with min ISR >
    # RF can never accept acks=all writes: we refuse it as the configuration mistake it is.
    if values["min_insync_replicas"] > values["replication_factor"]:
        s = explicit.get("min_insync_replicas") or explicit.get("replication_factor")
        origin = s.origin if s else "min.insync.replicas"
        raise ConfigError(
            f"{origin}: min.insync.replicas={values['min_insync_replicas']} exceeds "
            f"replication.factor={values['replication_factor']}: acks=all writes could never succeed"
        )

    # enable.idempotence (KIP-679): explicit true + conflict -> ConfigException; default -> off.
    conflicts = []
    if values["acks"] != "all":
        conflicts.append(f"acks={values['acks']}")
    if values["retries"] == 0:
        conflicts.append("retries=0")
    if values["max_in_flight_requests_per_connection"] > 5:
        conflicts.append(f"max.in.flight.requests.per.connection={values['max_in_flight_requests_per_connection']}")
    if values["enable_idempotence"] and conflicts:
        s = explicit.get("enable_idempotence")
        if s is not None:
            raise ConfigError(
                f"{s.origin}: enable.idempotence=true conflicts with {', '.join(conflicts)} "
                "(Kafka: ConfigException; idempotence needs acks=all, retries>0, max.in.flight<=5)"
            )
        values["enable_idempotence"] = False
        notes.append(
            f"enable.idempotence turned off: its default (true) is dropped silently by Kafka "
            f"when {', '.join(conflicts)}"
        )

    rules = eras.rules_for(version)
    rules["kraft_controller"] = kraft
    for item in rule_overrides:
        if "=" not in item:
            raise ConfigError(f"--rule {item}: expected name=on|off")
        name, val = (x.strip() for x in item.split("=", 1))
        if name not in rules:
            raise ConfigError(f"--rule {item}: unknown rule '{name}'{suggest(name, rules)}")
        if val.lower() not in ("on", "off", "true", "false"):
            raise ConfigError(f"--rule {item}: expected on or off")
        rules[name] = val.lower() in ("on", "true")

    b = Bounds()
    if bounds:
        for k, v in bounds.items():
            if v is None:
                continue
            lo, hi = BOUND_LIMITS[k]
            if not lo <= v <= hi:
                raise ConfigError(f"--{k.replace('_', '-')}: {v} out of range {lo}..{hi}")
        b = replace(b, **{k: v for k, v in bounds.items() if v is not None})

    if set_aside:
        notes.append("set aside (not modelled): " + ", ".join(sorted(set(set_aside))))
    for u in unknown:
        notes.append(f"warning: unknown Kafka property {u}, ignored")
    fields = {k: v for k, v in values.items()}
    return Config(
        kafka_version=version,
        rules=tuple(sorted(rules.items())),
        bounds=b,
        notes=tuple(notes),
        **fields,
    )


def version_key_ge(version: str, other: str) -> bool:
    return eras.version_key(version) >= eras.version_key(other)


def config_from_dict(d: dict) -> Config:
    """Rebuild a Config from a trace's `config` object (strict: raises ConfigError)."""
    if not isinstance(d, dict):
        raise ConfigError("config: expected an object")
    settings = []
    for k, v in d.items():
        if k in ("rules", "bounds", "kafka.version"):
            continue
        if k not in MODELLED:
            raise ConfigError(f"config.{k}: unknown property")
        settings.append(Setting(k, str(v).lower() if isinstance(v, bool) else str(v), f"config.{k}"))
    rules = d.get("rules", {})
    if not isinstance(rules, dict):
        raise ConfigError("config.rules: expected an object")
    bounds = d.get("bounds", {})
    if not isinstance(bounds, dict) or any(k not in BOUND_LIMITS or not isinstance(v, int) for k, v in bounds.items()):
        raise ConfigError("config.bounds: expected an object of known integer bounds")
    overrides = []
    for k, v in rules.items():
        if not isinstance(v, bool):
            raise ConfigError(f"config.rules.{k}: expected true or false")
        overrides.append(f"{k}={'on' if v else 'off'}")
    cfg = build_config(
        settings,
        kafka_version=str(d.get("kafka.version", eras.NEWEST)),
        rule_overrides=overrides,
        bounds=bounds,
        version_origin="config.kafka.version",
    )
    return replace(cfg, notes=())
