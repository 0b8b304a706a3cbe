from dataclasses import dataclass
@dataclass(frozen=True)
class Scenario:
    id: str
    label: str
    settings: tuple
    kafka_version: str | None = None
SEED_SCENARIOS = (
    Scenario("acks0", "acks=0", (("acks", "0"),)),
    Scenario("acks1", "acks=1", (("acks", "1"),)),
    Scenario("acksall-no-idem", "acks=all, idempotence off (the note's era)", (("acks", "all"), ("enable.idempotence", "false"))),
    Scenario("idempotence", "enable.idempotence=true", (("enable.idempotence", "true"),)),
    Scenario("retries0", "retries=0", (("retries", "0"),)),
    Scenario("page-cache", "Kafka defaults: flush never", ()),
    Scenario("flush-every", "log.flush.interval.messages=1", (("log.flush.interval.messages", "1"),)),
)
