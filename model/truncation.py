"""Follower truncation rules, one per protocol era (replaceable: the model picks by rule).

Each function answers: given the follower's log and the leader's log, to which offset does
the follower truncate before fetching? Epoch caches are derived from the logs (every
batch carries the partition leader epoch that appended it), as Kafka's
leader-epoch-checkpoint is.
"""

from __future__ import annotations

from ackcheck.traces.observation import Batch


def epoch_cache(log: tuple[Batch, ...]) -> list[tuple[int, int]]:
    """[(leader_epoch, start_offset)] in offset order, as leader-epoch-checkpoint holds it."""
    out: list[tuple[int, int]] = []
    off = 0
    for b in log:
        if not out or out[-1][0] != b.leader_epoch:
            out.append((b.leader_epoch, off))
        off += len(b.records)
    return out


def _end_offset_for(cache: list[tuple[int, int]], epoch: int, leo: int) -> int:
    """The start offset of the first epoch after `epoch` in the cache, or LEO."""
    for e, start in cache:
        if e > epoch:
            return start
    return leo


def truncate_kip101(follower: tuple[Batch, ...], f_leo: int, leader: tuple[Batch, ...], l_leo: int) -> int:
    """KIP-101 (0.11): OffsetsForLeaderEpoch for the follower's latest epoch.

    The leader answers the end offset of the requested epoch; for an epoch it never had,
    the start offset of the next epoch it has (or its LEO). The follower truncates to
    min(answer, own LEO), once. KIP-279 showed this leaves logs diverged after fast
    successive failovers (the follower keeps entries of an epoch the leader never had).
    """
    if not follower:
        return 0
    last_epoch = follower[-1].leader_epoch
    return min(_end_offset_for(epoch_cache(leader), last_epoch, l_leo), f_leo)


def truncate_kip279(follower: tuple[Batch, ...], f_leo: int, leader: tuple[Batch, ...], l_leo: int) -> int:
    """KIP-279 (2.0) and the 2.8+ diverging-epoch fetch: converge on the true divergence.

    The leader answers (largest epoch <= requested that it has, that epoch's end offset);
    the follower truncates to min(leader's end, its own end of that epoch) and repeats
    with its new latest epoch until nothing changes.
    """
    l_cache = epoch_cache(leader)
    leo = f_leo
    log = follower
    while log:
        requested = log[-1].leader_epoch
        known = [e for e, _ in l_cache if e <= requested]
        if not known:
            return 0
        e = known[-1]
        leader_end = _end_offset_for(l_cache, e, l_leo)
        follower_end = _end_offset_for(epoch_cache(log), e, leo)
        t = min(leader_end, follower_end, leo)
        if t >= leo:
            return leo
        log, leo = cut(log, t)
    return leo


def diverges(leader: tuple[Batch, ...], l_leo: int, last_fetched_epoch: int, fetch_offset: int) -> bool:
    """The 2.7+ fetch check (Partition.fetchRecords with lastFetchedEpoch): the leader's
    largest epoch <= the follower's last fetched epoch, and that epoch's end offset; the
    fetch diverges if that epoch is older or ends before the fetch offset."""
    cache = epoch_cache(leader)
    known = [e for e, _ in cache if e <= last_fetched_epoch]
    if not known:
        return True
    e = known[-1]
    return e < last_fetched_epoch or _end_offset_for(cache, e, l_leo) < fetch_offset


def cut(log: tuple[Batch, ...], offset: int) -> tuple[tuple[Batch, ...], int]:
    """Truncate a log to `offset`, batch-aligned (a batch is wholly present or absent)."""
    off = 0
    for i, b in enumerate(log):
        n = len(b.records)
        if off + n > offset:
            return log[:i], off
        off += n
    return log, off


# A truncation rule is a pure function of two logs and their end offsets, and a search asks
# the same few pairs again and again: the model calls these, which remember the answers
# (a bounded memo per rule; a full one is cleared).
_MEMO_SIZE = 1 << 16


def _memoised(rule):
    memo: dict = {}

    def truncate(follower, f_leo: int, leader, l_leo: int) -> int:
        key = (follower, f_leo, leader, l_leo)
        t = memo.get(key)
        if t is None:
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            t = memo[key] = rule(follower, f_leo, leader, l_leo)
        return t

    # the module-level name, so that a pickled Model (parallel and Dask workers) refers to it
    truncate.__name__ = truncate.__qualname__ = rule.__name__ + "_memo"
    return truncate


truncate_kip101_memo = _memoised(truncate_kip101)
truncate_kip279_memo = _memoised(truncate_kip279)
