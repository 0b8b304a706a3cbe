"""The client libraries `ackcheck clients` drives: for each, a producer that sends the
workload's records and reports every send's outcome as the library reported it, and a
consumer that reads the partition from offset 0 up to a given end.

Settings follow the run's config (acks, enable.idempotence, max.in.flight, retries);
timeouts are short so a run never hangs. Each producer sets `started` just before its
first send: the fault schedule's clock starts there, not at the library's start-up (request.timeout.ms 1.5 s, delivery.timeout.ms /
message.timeout.ms 10 s). aiokafka has no max.in.flight setting: it sends one batch per
partition at a time, whatever the config says.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from dataclasses import dataclass

from ackcheck.traces.settings import Config

TOPIC = "ackcheck-clients"
REQUEST_TIMEOUT_MS = 1500
DELIVERY_TIMEOUT_MS = 10000
# Kafka error codes after which nothing was appended (the broker refused before the log):
# NOT_ENOUGH_REPLICAS, OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH,
# MESSAGE_TOO_LARGE, CORRUPT_MESSAGE, INVALID_RECORD, UNSUPPORTED_COMPRESSION_TYPE,
# INVALID_REQUIRED_ACKS, INVALID_TOPIC_EXCEPTION
DEFINITE_ERRORS = frozenset({19, 45, 47, 10, 2, 87, 76, 21, 17})


@dataclass
class Send:
    record: int
    outcome: str = "pending"  # ok | failed | indeterminate | pending
    offset: int = -1
    error: str | None = None


# ====================================================================== classification
def classify(errno: int | None, name: str) -> str:
    """A client's final error for a record: failed (definitely not appended) or indeterminate."""
    return "failed" if errno in DEFINITE_ERRORS else "indeterminate"


# ============================================================================ producers
def _produce_kafka_python(boot: str, cfg: Config, sends: list[Send], pace: float, single: bool,
                          started: threading.Event) -> str | None:
    from kafka import KafkaProducer

    extra = {"batch_size": 1} if single else {}
    p = KafkaProducer(**extra,
        bootstrap_servers=boot, acks=_acks(cfg), enable_idempotence=cfg.enable_idempotence,
        max_in_flight_requests_per_connection=cfg.max_in_flight_requests_per_connection,
        retries=cfg.retries, request_timeout_ms=REQUEST_TIMEOUT_MS, delivery_timeout_ms=DELIVERY_TIMEOUT_MS,
        retry_backoff_ms=100, reconnect_backoff_ms=50, reconnect_backoff_max_ms=500, metadata_max_age_ms=1000,
        max_block_ms=DELIVERY_TIMEOUT_MS, linger_ms=0)
    futures = []
    started.set()  # the fault schedule's clock starts with the first send
    try:
        for s in sends:
            try:
                futures.append(p.send(TOPIC, str(s.record).encode()))
            except Exception as e:  # max.block.ms passed (no metadata, a full buffer): never sent
                s.outcome, s.error = "failed", type(e).__name__
                futures.append(None)
            time.sleep(pace)
        deadline = time.monotonic() + DELIVERY_TIMEOUT_MS / 1000 + 5
        for s, f in zip(sends, futures):
            if f is None:
                continue
            try:
                md = f.get(timeout=max(0.1, deadline - time.monotonic()))
                s.outcome, s.offset = "ok", md.offset
            except Exception as e:  # the client's own error classes
                errno = getattr(e, "errno", None)
                s.error = type(e).__name__
                s.outcome = classify(errno, s.error) if f.is_done else "indeterminate"
    finally:
        with contextlib.suppress(Exception):  # close flushes; what is left was judged already
            p.close(timeout=2)
    return None


def _acks(cfg: Config):
    return {"all": "all", "1": 1, "0": 0}[cfg.acks]


def _produce_aiokafka(boot: str, cfg: Config, sends: list[Send], pace: float, single: bool,
                      started: threading.Event) -> str | None:
    from aiokafka import AIOKafkaProducer

    async def run():
        p = AIOKafkaProducer(bootstrap_servers=boot, acks=_acks(cfg), enable_idempotence=cfg.enable_idempotence,
                             request_timeout_ms=REQUEST_TIMEOUT_MS, retry_backoff_ms=100, metadata_max_age_ms=1000,
                             linger_ms=0, **({"max_batch_size": 64} if single else {}))
        await asyncio.wait_for(p.start(), DELIVERY_TIMEOUT_MS / 1000)
        try:
            futs = []
            started.set()
            for s in sends:
                try:
                    futs.append(await asyncio.wait_for(p.send(TOPIC, str(s.record).encode()), 5))
                except Exception as e:
                    s.outcome, s.error = "indeterminate", type(e).__name__
                    futs.append(None)
                await asyncio.sleep(pace)
            for s, f in zip(sends, futs):
                if f is None:
                    continue
                try:
                    md = await asyncio.wait_for(f, DELIVERY_TIMEOUT_MS / 1000 + 5)
                    # acks=0: aiokafka resolves the send with no metadata at all
                    s.outcome, s.offset = "ok", (md.offset if md is not None else -1)
                except Exception as e:
                    s.error = type(e).__name__
                    s.outcome = classify(getattr(e, "errno", None), s.error)
        finally:
            await asyncio.wait_for(p.stop(), 5)

    asyncio.run(run())
    return None


def _produce_confluent(boot: str, cfg: Config, sends: list[Send], pace: float, single: bool,
                       started: threading.Event) -> str | None:
    import confluent_kafka as ck

    fatal: list[str] = []

    errs: list = []
    # librdkafka's own log (level 0 only: its FATAL lines name the error and the state)
    rdlog = logging.getLogger(f"ackcheck.librdkafka.{id(sends)}")
    rdlog.propagate = False
    fatal_lines: list[str] = []

    class _Keep(logging.Handler):
        def emit(self, record):
            msg = record.getMessage()
            if "Fatal error" in msg or "FATAL" in msg:
                fatal_lines.append(msg.split("Fatal error: ", 1)[-1])

    rdlog.addHandler(_Keep())

    def on_error(err):
        errs.append(err)  # examined after flush: a fatal error's callback runs with an exception set

    conf = {"bootstrap.servers": boot, "acks": cfg.acks, "enable.idempotence": cfg.enable_idempotence,
            "max.in.flight.requests.per.connection": cfg.max_in_flight_requests_per_connection,
            "retries": min(cfg.retries, 2147483647), "request.timeout.ms": REQUEST_TIMEOUT_MS,
            "message.timeout.ms": DELIVERY_TIMEOUT_MS, "retry.backoff.ms": 100, "reconnect.backoff.ms": 50,
            "reconnect.backoff.max.ms": 500, "topic.metadata.refresh.interval.ms": 1000, "linger.ms": 0,
            "error_cb": on_error, "log_level": 0, "logger": rdlog, **({"batch.num.messages": 1} if single else {})}
    p = ck.Producer(conf)
    by_record = {s.record: s for s in sends}

    def report(err, msg):
        try:
            _report(err, msg)
        except Exception as e:  # an exception must not escape into librdkafka's callback
            errors.append(str(e.args[0]) if e.args else repr(e))

    errors: list[str] = []

    def _report(err, msg):
        s = by_record[int(msg.value())]
        if err is None:
            off = msg.offset()
            s.outcome, s.offset = "ok", -1 if off is None else off
        else:
            s.error = err.name()
            s.outcome = classify(err.code() if err.code() > 0 else None, s.error)

    left = 0
    started.set()
    try:
        for s in sends:
            p.produce(TOPIC, str(s.record).encode(), on_delivery=report)
            p.poll(0)  # serve delivery reports; poll(t) returns early once one is served
            time.sleep(pace)
        left = p.flush(DELIVERY_TIMEOUT_MS / 1000 + 5)
    except (ck.KafkaException, SystemError) as e:
        # a fatal error (the idempotent producer's guarantee broken) surfaces as an
        # exception from poll/flush; the producer is unusable from then on
        fatal.append(str(e.args[0] if e.args and isinstance(e, ck.KafkaException) else e))
        with contextlib.suppress(Exception):
            left = p.flush(2)
    fatal[:0] = fatal_lines
    for text in errors:  # a fatal error raised into a delivery callback
        if "FATAL" in text:
            fatal.insert(0, text)
    for err in errs:
        with contextlib.suppress(Exception):
            if err.fatal():
                fatal.insert(0, f"{err.name()}: {err.str()}")
    for s in sends:
        if s.outcome == "pending":
            s.outcome, s.error = "indeterminate", "not reported" + (" (fatal error)" if fatal else "")
    del left
    return fatal[0] if fatal else None


# ============================================================================ consumers
def _consume_kafka_python(boot: str, end: int, timeout: float) -> list[tuple[int, bytes]]:
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=boot, enable_auto_commit=False, request_timeout_ms=3000,
                      auto_offset_reset="earliest", metadata_max_age_ms=1000)
    out = []
    try:
        tp = TopicPartition(TOPIC, 0)
        c.assign([tp])
        c.seek(tp, 0)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (not out or out[-1][0] + 1 < end):
            for recs in c.poll(timeout_ms=200).values():
                out += [(r.offset, r.value) for r in recs]
    finally:
        c.close()
    return out


def _consume_aiokafka(boot: str, end: int, timeout: float) -> list[tuple[int, bytes]]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def run():
        c = AIOKafkaConsumer(bootstrap_servers=boot, enable_auto_commit=False, request_timeout_ms=3000,
                             auto_offset_reset="earliest", metadata_max_age_ms=1000)
        await c.start()
        out = []
        try:
            tp = TopicPartition(TOPIC, 0)
            c.assign([tp])
            c.seek(tp, 0)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and (not out or out[-1][0] + 1 < end):
                for recs in (await c.getmany(timeout_ms=200)).values():
                    out += [(r.offset, r.value) for r in recs]
        finally:
            await c.stop()
        return out

    return asyncio.run(run())


def _consume_confluent(boot: str, end: int, timeout: float) -> list[tuple[int, bytes]]:
    import confluent_kafka as ck

    c = ck.Consumer({"bootstrap.servers": boot, "group.id": "ackcheck-clients", "enable.auto.commit": False,
                     "auto.offset.reset": "earliest", "topic.metadata.refresh.interval.ms": 1000, "log_level": 0})
    out = []
    try:
        c.assign([ck.TopicPartition(TOPIC, 0, 0)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (not out or out[-1][0] + 1 < end):
            m = c.poll(0.2)
            if m is None or m.error():
                continue
            out.append((m.offset(), m.value()))
    finally:
        c.close()
    return out


PRODUCERS = {"kafka-python": _produce_kafka_python, "aiokafka": _produce_aiokafka,
             "confluent-kafka": _produce_confluent}
CONSUMERS = {"kafka-python": _consume_kafka_python, "aiokafka": _consume_aiokafka,
             "confluent-kafka": _consume_confluent}
