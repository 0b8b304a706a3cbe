"""`ackcheck serve`: the reference broker behind Kafka's wire protocol.

Brokers on 127.0.0.1:P..P+N-1 (port 0: free ports, printed), every topic created on
first use with one partition and the configured replication factor (N unless given),
real segment files under --data-dir (a temporary directory otherwise). Runs until
SIGTERM or Ctrl-C, then shuts the brokers down cleanly and exits 0.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from ackcheck.broker.wire.server import MESSAGE_MAX_BYTES, SOCKET_REQUEST_MAX_BYTES, run_until_stopped
from ackcheck.checker.cli.options import ArgumentParser, add_config_flags, config_from_args
from ackcheck.traces.settings import ConfigError, Setting


def main(argv: list[str]) -> int:
    p = ArgumentParser(prog="ackcheck serve", description=(
        "Serve the reference broker over Kafka's wire protocol on 127.0.0.1 (ApiVersions, Metadata, Produce, "
        "Fetch, ListOffsets, InitProducerId, FindCoordinator, OffsetCommit, OffsetFetch), so real clients can "
        "produce and consume. Runs until SIGTERM or Ctrl-C; exit 0."))
    p.add_argument("--brokers", type=int, default=3, metavar="N", help="number of brokers, 1-5 (default 3)")
    p.add_argument("--port", type=int, default=9092, metavar="P",
                   help="port of broker 0; broker b listens on P+b (default 9092; 0: free ports)")
    p.add_argument("--data-dir", metavar="DIR",
                   help="where the brokers' segment files go, DIR/<topic>/broker-N/ (default: a temporary "
                        "directory, removed at exit)")
    p.add_argument("--segment-bytes", type=int, default=1 << 30, metavar="N",
                   help="log.segment.bytes (default 1073741824)")
    p.add_argument("--socket-request-max-bytes", type=int, default=SOCKET_REQUEST_MAX_BYTES, metavar="N",
                   help=f"largest request frame accepted (default {SOCKET_REQUEST_MAX_BYTES})")
    p.add_argument("--message-max-bytes", type=int, default=MESSAGE_MAX_BYTES, metavar="N",
                   help=f"largest record batch accepted (default {MESSAGE_MAX_BYTES})")
    p.add_argument("--os-flush-seconds", type=float, default=30.0, metavar="S",
                   help="the OS flusher writes each host's page cache out every S seconds (default 30)")
    p.add_argument("--replica-lag-ms", type=float, default=0.0, metavar="MS",
                   help="a batch becomes fetchable by the followers MS milliseconds after its append (default 0)")
    add_config_flags(p, bounds=False)
    args = p.parse_args(argv)
    if not 1 <= args.brokers <= 5:
        raise ConfigError(f"--brokers {args.brokers}: expected 1..5")
    if args.port != 0 and not 1024 <= args.port <= 65535 - args.brokers:
        raise ConfigError(f"--port {args.port}: expected 1024..{65535 - args.brokers} (or 0)")
    if args.segment_bytes < 1024:
        raise ConfigError(f"--segment-bytes {args.segment_bytes}: expected at least 1024")
    if args.socket_request_max_bytes < 1024 or args.message_max_bytes < 1024:
        raise ConfigError("--socket-request-max-bytes / --message-max-bytes: expected at least 1024")
    if not 0 <= args.replica_lag_ms <= 10_000:
        raise ConfigError(f"--replica-lag-ms {args.replica_lag_ms}: expected 0..10000")
    if args.os_flush_seconds <= 0:
        raise ConfigError(f"--os-flush-seconds {args.os_flush_seconds}: expected > 0")
    extra = [] if args.replication_factor is not None else [Setting("replication.factor", str(args.brokers),
                                                                     "--brokers")]
    config = config_from_args(args, extra)
    if config.replication_factor > args.brokers:
        raise ConfigError(f"--replication-factor {config.replication_factor}: more than --brokers {args.brokers}")
    tmp = None
    if args.data_dir:
        data = Path(args.data_dir)
        if data.exists() and (not data.is_dir() or any(data.iterdir())):
            raise ConfigError(f"--data-dir {data}: must be new or an empty directory")
        data.mkdir(parents=True, exist_ok=True)
    else:
        data = Path(tmp := tempfile.mkdtemp(prefix="ackcheck-serve-"))

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

        def ready(front) -> None:
            print(f"bootstrap.servers={front.bootstrap.split(',')[0]}", flush=True)
            print(f"{args.brokers} broker(s): {front.bootstrap}; replication factor {config.replication_factor}, "
                  f"min.insync.replicas {config.min_insync_replicas}, Kafka {config.kafka_version} rules; "
                  f"data in {data}", file=sys.stderr, flush=True)

        front = await run_until_stopped(config, data, args.brokers, args.port, stop, on_ready=ready,
                                        segment_bytes=args.segment_bytes, fsync=True,
                                        os_flush_seconds=args.os_flush_seconds,
                                        replica_lag=args.replica_lag_ms / 1000,
                                        request_max_bytes=args.socket_request_max_bytes,
                                        message_max_bytes=args.message_max_bytes)
        print(f"stopped: {front.stats['requests']} request(s) served, {len(front.live.topics)} topic(s)",
              file=sys.stderr, flush=True)

    try:
        asyncio.run(run())
    except OSError as e:
        raise ConfigError(f"--port {args.port}: cannot listen ({e.strerror or e})") from e
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0
