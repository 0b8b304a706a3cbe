"""Kafka's plain-text checkpoint files (CheckpointFile: version, count, one entry a line).

```
leader-epoch-checkpoint            replication-offset-checkpoint / recovery-point-offset-checkpoint
0                                  0
2                                  1
0 0                                topic 0 17
3 5
```
The consumer group offsets file uses the same layout with "group topic partition offset".
"""

from __future__ import annotations

VERSION = 0


class CheckpointError(ValueError):
    pass


def _lines(text: bytes | None, name: str, fields: int) -> list[list[str]]:
    if text is None:
        return []
    lines = text.decode("utf-8", "replace").splitlines()
    if len(lines) < 2 or lines[0].strip() != str(VERSION):
        raise CheckpointError(f"{name}: bad header")
    try:
        count = int(lines[1])
    except ValueError:
        raise CheckpointError(f"{name}: bad entry count") from None
    entries = [ln.split() for ln in lines[2:] if ln.strip()]
    if count != len(entries) or any(len(e) != fields for e in entries):
        raise CheckpointError(f"{name}: expected {count} entries of {fields} fields")
    return entries


def format_epochs(entries: list[tuple[int, int]]) -> bytes:
    body = "".join(f"{e} {o}\n" for e, o in entries)
    return f"{VERSION}\n{len(entries)}\n{body}".encode()


def parse_epochs(text: bytes | None, name: str = "leader-epoch-checkpoint") -> list[tuple[int, int]]:
    return [(int(e), int(o)) for e, o in _lines(text, name, 2)]


def format_offsets(entries: dict[tuple[str, int], int]) -> bytes:
    body = "".join(f"{t} {p} {o}\n" for (t, p), o in sorted(entries.items()))
    return f"{VERSION}\n{len(entries)}\n{body}".encode()


def parse_offsets(text: bytes | None, name: str) -> dict[tuple[str, int], int]:
    return {(t, int(p)): int(o) for t, p, o in _lines(text, name, 3)}


def format_group_offsets(entries: dict[tuple[str, str, int], int]) -> bytes:
    body = "".join(f"{g} {t} {p} {o}\n" for (g, t, p), o in sorted(entries.items()))
    return f"{VERSION}\n{len(entries)}\n{body}".encode()


def parse_group_offsets(text: bytes | None, name: str = "consumer-offsets") -> dict[tuple[str, str, int], int]:
    return {(g, t, int(p)): int(o) for g, t, p, o in _lines(text, name, 4)}
