"""What the encoded logs answer (one record per batch): the leader's idempotence check and
KIP-279 truncation, each mirroring its Model counterpart."""

from __future__ import annotations

from ackcheck.checker.engines.prove.layout import S
from ackcheck.checker.engines.prove.ops import AND, EQ, LE, LT, MIN, NOT, OR, SELECT, ite
from ackcheck.model.state import (
    E_DUPLICATE_SEQUENCE_NUMBER,
    E_INVALID_PRODUCER_EPOCH,
    E_OUT_OF_ORDER_SEQUENCE_NUMBER,
)


def check_sequence(enc, s: S, b: int, pe, seq):
    """_check_sequence over b's log: (append?, error, offset). The producer state is folded
    from the entries of the one idempotent producer (producer epoch >= 0; other producers'
    records carry -1); it has at most 5 batches in a log (check_fragment), so the dedup
    window is all of them."""
    leo = s.leo[b]
    L = enc.L
    # before 2.5 (a producer id reset per generation) each generation has a state of its own
    mine = [AND(LT(j, leo), LE(0, s.lpe[b][j]), EQ(s.lpe[b][j], pe) if enc.pid_resets else True) for j in range(L)]
    cur, last_seq = 0, 0
    for j in range(L):
        cur = ite(mine[j], s.lpe[b][j], cur)
        last_seq = ite(mine[j], s.lseq[b][j], last_seq)
    dup_off = -1
    for j in range(L - 1, -1, -1):
        dup_off = ite(AND(mine[j], EQ(s.lpe[b][j], pe), EQ(s.lseq[b][j], seq)), j, dup_off)
    empty = NOT(OR(*mine))
    older = LT(pe, cur)
    dup = LE(0, dup_off)
    newer = LT(cur, pe)
    append = OR(empty, AND(NOT(older), NOT(dup), ite(newer, EQ(seq, 0), EQ(seq, last_seq + 1))))
    err = ite(older, E_INVALID_PRODUCER_EPOCH, ite(dup, E_DUPLICATE_SEQUENCE_NUMBER,
                                                       E_OUT_OF_ORDER_SEQUENCE_NUMBER))
    return append, err, ite(dup, dup_off, -1)


def truncate_kip279(enc, s: S, r: int, ldr: int):
    """truncation.truncate_kip279 for 1-record batches, the loop unrolled L times."""
    L = enc.L
    lleo = s.leo[ldr]
    leo = s.leo[r]
    done = False
    for _ in range(L + 1):
        requested = SELECT([s.lep[r][j] for j in range(L)], leo - 1, 0)
        # the leader's cache: the last (in offset order) epoch <= requested
        e = -1
        for j in range(L):
            e = ite(AND(LT(j, lleo), LE(s.lep[ldr][j], requested)), s.lep[ldr][j], e)
        known = LE(0, e)
        leader_end = lleo
        follower_end = leo
        for j in range(L - 1, -1, -1):
            leader_end = ite(AND(LT(j, lleo), LT(e, s.lep[ldr][j])), j, leader_end)
            follower_end = ite(AND(LT(j, leo), LT(e, s.lep[r][j])), j, follower_end)
        t = MIN(MIN(leader_end, follower_end), leo)
        empty = EQ(leo, 0)
        stop = OR(empty, NOT(known), LE(leo, t))
        new_leo = ite(empty, leo, ite(NOT(known), 0, ite(LE(leo, t), leo, t)))
        leo = ite(done, leo, new_leo)
        done = OR(done, stop)
    return leo


def truncate_kip101(enc, s: S, r: int, ldr: int):
    """truncation.truncate_kip101: OffsetsForLeaderEpoch once, for the follower's last epoch -
    the leader's start offset of its first later epoch (its LEO if none), capped by the
    follower's LEO; 0 for an empty log."""
    leo, lleo = s.leo[r], s.leo[ldr]
    last = SELECT([s.lep[r][j] for j in range(enc.L)], leo - 1, 0)
    end = lleo
    for j in range(enc.L - 1, -1, -1):
        end = ite(AND(LT(j, lleo), LT(last, s.lep[ldr][j])), j, end)
    return ite(EQ(leo, 0), 0, MIN(end, leo))
