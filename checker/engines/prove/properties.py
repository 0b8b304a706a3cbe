"""Invariants over the encoded state: the catalogue's guarantees (as "bad state" predicates,
each mirroring its function in invariants/catalogue.py) and the auxiliary invariants that
strengthen k-induction (`--assume-invariant ID`).

A counterexample is never reported from these predicates alone: the decoded trace is
replayed on the Python model and judged by the catalogue's own functions (bmc.py).
"""

from __future__ import annotations

from ackcheck.checker.engines.prove.encoding import M_REQUEST, Encoding, S
from ackcheck.checker.engines.prove.ops import AND, COUNT, EQ, IMPLIES, LE, LT, NE, NOT, OR, ite
from ackcheck.model.state import B_FAILED, B_IN_FLIGHT, B_OK, B_QUEUED, B_RETRY

# ------------------------------------------------------------------ catalogue invariants


def _holds_at(enc: Encoding, s: S, b: int, off, rec):
    """b's log holds record `rec` at offset `off`."""
    return OR(*[AND(EQ(off, j), LT(j, s.leo[b]), EQ(s.lrec[b][j], rec)) for j in range(enc.L)])


def _holds(enc: Encoding, s: S, b: int, rec):
    return OR(*[AND(LT(j, s.leo[b]), EQ(s.lrec[b][j], rec)) for j in range(enc.L)])


def bad_acked_write_survives(enc: Encoding, s: S):
    out = []
    for i in range(enc.NB):
        rec = i + 1
        ok = EQ(s.st[i], B_OK)
        off = s.off[i]
        # acks=0: sent counts as success; judged once the request left the network
        lost0 = AND(NE(s.mk[i], M_REQUEST), ite_leader(enc, s, lambda b: NOT(_holds(enc, s, b, rec)),
                                                        AND(*[NOT(_holds(enc, s, b, rec)) for b in range(enc.R)])))
        lost = ite_leader(enc, s, lambda b: NOT(_holds_at(enc, s, b, off, rec)),
                          AND(*[NOT(_holds_at(enc, s, b, off, rec)) for b in range(enc.R)]))
        out.append(AND(ok, OR(AND(LT(off, 0), lost0), AND(LE(0, off), lost))))
    return OR(*out)


def ite_leader(enc: Encoding, s: S, with_leader, without):
    """with_leader(b) for the controller's leader b, or `without` while offline."""
    return OR(*[AND(EQ(s.c_leader, b), with_leader(b)) for b in range(enc.R)],
              AND(EQ(s.c_leader, -1), without))


def bad_committed_prefix_agreement(enc: Encoding, s: S):
    out = []
    for a in range(enc.R):
        for b in range(a + 1, enc.R):
            for j in range(enc.L):
                below = AND(LT(j, s.hw[a]), LT(j, s.hw[b]))
                in_a, in_b = LT(j, s.leo[a]), LT(j, s.leo[b])
                differ = OR(NE(in_a, in_b),
                            AND(in_a, in_b, OR(NE(s.lrec[a][j], s.lrec[b][j]), NE(s.lep[a][j], s.lep[b][j]))))
                out.append(AND(below, differ))
    return OR(*out)


def bad_hw_bound(enc: Encoding, s: S):
    out = []
    for b in range(enc.R):
        acting = AND(s.alive[b], EQ(s.rep_leader[b], b))
        over = [LT(s.leo[b], s.hw[b])]
        cur = EQ(s.rep_epoch[b], s.c_epoch)
        for m in range(enc.R):
            leo = s.leo[b] if m == b else s.fleo[b][m]
            over.append(AND(cur, s.rep_isr[b][m], LE(0, leo), LT(leo, s.hw[b])))
        out.append(AND(acting, OR(*over)))
    return OR(*out)


def bad_no_duplicates(enc: Encoding, s: S):
    def dup(b):
        return OR(*[AND(LT(k, s.leo[b]), EQ(s.lrec[b][j], s.lrec[b][k]))
                    for j in range(enc.L) for k in range(j + 1, enc.L)])
    return ite_leader(enc, s, dup, False)


def bad_failed_write_invisible(enc: Encoding, s: S):
    def read(rec):
        if not enc.consumer:
            return False
        return OR(*[AND(LT(k, s.cr_n), EQ(s.cr_rec[k], rec)) for k in range(enc.CR)])
    return OR(*[AND(EQ(s.st[i], B_FAILED), OR(read(i + 1), *[_holds(enc, s, b, i + 1) for b in range(enc.R)]))
                for i in range(enc.NB)])


def bad_read_durability(enc: Encoding, s: S):
    """read_durability: a record the consumer read is no longer at its offset on the leader."""
    def gone(b):
        return OR(*[AND(LT(k, s.cr_n), NOT(_holds_at(enc, s, b, s.cr_pos[k], s.cr_rec[k]))) for k in range(enc.CR)])
    return ite_leader(enc, s, gone, False)


def bad_consumer_monotonic(enc: Encoding, prev: S, s: S):
    """consumer_monotonic (a step): the committed offset went back, or the position moved
    by anything but 0 or 1."""
    return OR(LT(s.ccommit, prev.ccommit), AND(NE(s.cpos, prev.cpos), NE(s.cpos, prev.cpos + 1)))


def bad_leader_completeness(enc: Encoding, s: S):
    """leader_completeness: the controller's leader lacks a record of the committed log (the
    records below the highest HW ever reached, a ghost)."""
    def lacks(b):
        return OR(*[AND(LT(j, s.cl_len), OR(LE(s.leo[b], j), NE(s.lrec[b][j], s.cl[j]))) for j in range(enc.L)])
    return ite_leader(enc, s, lacks, False)


def bad_producer_order(enc: Encoding, s: S):
    """producer_order: of two acknowledged records, the one sent later landed at a lower
    offset (acks=0: its position in the leader's log; a record not there is not judged)."""
    pos, valid = [], []
    for i in range(enc.NB):
        ok = EQ(s.st[i], B_OK)
        if enc.acks == "0":
            at, there = -1, False
            for b in range(enc.R):
                first = -1
                for j in range(enc.L - 1, -1, -1):
                    first = ite(AND(LT(j, s.leo[b]), EQ(s.lrec[b][j], i + 1)), j, first)
                at = ite(EQ(s.c_leader, b), first, at)
                there = OR(there, AND(EQ(s.c_leader, b), LE(0, first)))
            known = LE(0, s.off[i])
            pos.append(ite(known, s.off[i], at))
            valid.append(AND(ok, OR(known, there)))
        else:
            pos.append(s.off[i])
            valid.append(AND(ok, LE(0, s.off[i])))
    return OR(*[AND(valid[i], valid[j], LT(pos[j], pos[i])) for i in range(enc.NB) for j in range(i + 1, enc.NB)])


BAD = {
    "leader-completeness": bad_leader_completeness,
    "producer-order": bad_producer_order,
    "acked-write-survives": bad_acked_write_survives,
    "committed-prefix-agreement": bad_committed_prefix_agreement,
    "hw-bound": bad_hw_bound,
    "no-duplicates": bad_no_duplicates,
    "failed-write-invisible": bad_failed_write_invisible,
    "read-durability": bad_read_durability,
}
# invariants over a step (previous state, state)
BAD_STEP = {
    "consumer-monotonic": bad_consumer_monotonic,
}

# ------------------------------------------------------------------ auxiliary invariants


def types_parts(enc: Encoding, s: S) -> list[tuple[str, object]]:
    """The `types` invariant as named parts (a counterexample to induction names the ones it breaks)."""
    R, E, NB, L = enc.R, enc.E, enc.NB, enc.L
    bd = enc.bounds
    parts = [
        ("controller ranges", AND(LE(-1, s.c_leader), LT(s.c_leader, R), LE(0, s.c_epoch), LE(s.c_epoch, E),
                                  LE(-1, s.c_lkl), LT(s.c_lkl, R) if enc.elr_enabled else EQ(s.c_lkl, -1))),
        ("budgets", AND(LE(0, s.crashes), LE(s.crashes, bd.max_crashes), LE(0, s.elections),
                        LE(s.elections, bd.max_elections), LE(0, s.isr_shrinks), LE(s.isr_shrinks, bd.max_isr_shrinks),
                        *[AND(LE(0, getattr(s, n)), LE(getattr(s, n), top))
                          for n, top in (("power_losses", bd.max_power_losses), ("lost", bd.max_lost_messages),
                                         ("dfc", bd.max_delayed_fetches), ("other_writes", bd.max_other_writes))
                          if n in s.f])),
        ("down only after a crash or power loss",
         LE(COUNT([NOT(a) for a in s.alive]), s.crashes + (s.power_losses if "power_losses" in s.f else 0))),
    ]
    others = s.other_writes if "other_writes" in s.f else 0
    if "flushed" in s.f:
        parts += [(f"broker {b} flushed offset", AND(LE(0, s.flushed[b]), LE(s.flushed[b], s.leo[b])))
                  for b in range(R)]
    if "rp" in s.f:
        parts += [(f"broker {b} recovery point", AND(LE(0, s.rp[b]), LE(s.rp[b], s.leo[b]))) for b in range(R)]
    if "cl" in s.f:
        parts.append(("committed log length", AND(LE(0, s.cl_len), LE(s.cl_len, L))))
    if "df" in s.f:
        for r in range(R):
            parts.append((f"delayed fetch of {r}", IMPLIES(s.df[r], AND(
                LE(0, s.df_leader[r]), LT(s.df_leader[r], R), NE(s.df_leader[r], r), LE(0, s.df_off[r]),
                LE(s.df_off[r], L), LE(-1, s.df_lastep[r]), LE(s.df_lastep[r], s.c_epoch), LE(-1, s.df_epoch[r]),
                LE(s.df_epoch[r], s.c_epoch)))))
    for b in range(R):
        parts.append((f"broker {b} ranges", AND(LE(0, s.leo[b]), LE(s.leo[b], L), LE(0, s.hw[b]),
                                                LE(-1, s.rep_leader[b]), LT(s.rep_leader[b], R),
                                                LE(-1, s.rep_epoch[b]), LE(s.rep_epoch[b], s.c_epoch))))
        parts.append((f"broker {b} follower LEOs", AND(*[AND(LE(-1, s.fleo[b][m]), LE(s.fleo[b][m], L))
                                                          for m in range(R)])))
        parts.append((f"broker {b} down forgets", IMPLIES(NOT(s.alive[b]), AND(EQ(s.rep_leader[b], -1),
                                                                               EQ(s.rep_epoch[b], -1)))))
        parts.append((f"broker {b} up knows an epoch", IMPLIES(s.alive[b], LE(0, s.rep_epoch[b]))))
        parts.append((f"broker {b} leader is its epoch's", IMPLIES(
            AND(s.alive[b], LE(0, s.rep_leader[b])),
            OR(*[AND(EQ(s.rep_leader[b], m), EQ(s.dec_leader[e], m), EQ(s.rep_epoch[b], e))
                 for m in range(R) for e in range(1, E + 1)],
               AND(EQ(s.rep_epoch[b], 0), EQ(s.rep_leader[b], 0))))))
        parts.append((f"broker {b} log entries", AND(*[
            IMPLIES(LT(j, s.leo[b]), AND(LE(1, s.lrec[b][j]), LE(s.lrec[b][j], NB + bd.max_other_writes),
                                         LE(0, s.lep[b][j]),
                                         LE(s.lep[b][j], s.c_epoch))) for j in range(L)])))
    for b in range(R):
        for e in range(1, E + 1):
            parts.append((f"update for broker {b} of epoch {e}", IMPLIES(s.cm[b][e], AND(
                s.alive[b], LT(s.rep_epoch[b], e), LE(e, s.c_epoch), LE(0, s.dec_leader[e]), LT(s.dec_leader[e], R),
                *[IMPLIES(EQ(s.dec_leader[e], m), OR(s.dec_isr[e][m], NE(m, b))) for m in range(R)]))))
    for e in range(1, E + 1):
        cur = EQ(s.c_epoch, e)
        parts.append((f"epoch {e} decision", AND(
            IMPLIES(AND(cur, LE(0, s.c_leader)), EQ(s.dec_leader[e], s.c_leader)),
            IMPLIES(AND(cur, EQ(s.c_leader, -1)),
                    AND(*[IMPLIES(EQ(s.dec_leader[e], m), NOT(s.cm[m][e])) for m in range(R)])))))
    # every log entry came from a distinct handled produce request: no log is longer than
    # the attempts made minus those still in the network (the log capacity L)
    handled = 0
    for i in range(NB):
        handled = handled + s.att[i] - ite(EQ(s.mk[i], M_REQUEST), 1, 0)
    parts.append(("logs no longer than handled requests and other writes",
                  AND(*[LE(s.leo[b], handled + others) for b in range(R)])))
    for i in range(NB):
        parts.append((f"batch {i} ranges", AND(
            LE(-1, s.off[i]), LE(s.off[i], L), LE(-1, s.moff[i]), LE(s.moff[i], L), LE(0, s.mend[i]),
            LE(s.mend[i], L), LE(0, s.st[i]), LE(s.st[i], 5), LE(0, s.att[i]), LE(s.att[i], enc.max_attempts),
            LE(0, s.mk[i]), LE(s.mk[i], 3), LE(0, s.mb[i]), LT(s.mb[i], R))))
        parts.append((f"batch {i} message only while sent", IMPLIES(NE(s.mk[i], 0), OR(EQ(s.st[i], B_IN_FLIGHT),
                                                                                      EQ(s.st[i], B_OK)))))
        parts.append((f"batch {i} retry has attempts left", IMPLIES(EQ(s.st[i], B_RETRY),
                                                                     LT(s.att[i], enc.max_attempts))))
        parts.append((f"batch {i} queued is unsent", IMPLIES(EQ(s.st[i], B_QUEUED),
                                                              AND(EQ(s.att[i], 0), EQ(s.mk[i], 0),
                                                                  EQ(s.off[i], -1)))))
        parts.append((f"batch {i} unsent is queued or expired", IMPLIES(
            EQ(s.att[i], 0), AND(OR(EQ(s.st[i], B_QUEUED), EQ(s.st[i], B_FAILED)), EQ(s.mk[i], 0),
                                 NOT(s.maybe[i])))))
        parts.append((f"batch {i} offset only when acknowledged", IMPLIES(NE(s.st[i], B_OK), EQ(s.off[i], -1))))
    return parts


def aux_types(enc: Encoding, s: S):
    """Ranges every reachable state keeps (always assumed by k-induction)."""
    return AND(*[e for _, e in types_parts(enc, s)])


def aux_hw_le_leo(enc: Encoding, s: S):
    """HW <= LEO on every replica."""
    return AND(*[LE(s.hw[b], s.leo[b]) for b in range(enc.R)])


def aux_leader_in_isr(enc: Encoding, s: S):
    """The controller's leader is a live member of its ISR."""
    return AND(*[IMPLIES(EQ(s.c_leader, b), AND(s.c_isr[b], s.alive[b])) for b in range(enc.R)])


def aux_leader_has_committed(enc: Encoding, s: S):
    """The controller's leader's log holds, at the same offsets and epochs, every entry below
    the HW of any replica: the committed prefix is on the leader."""
    out = []
    for ldr in range(enc.R):
        for r in range(enc.R):
            if r == ldr:
                continue
            for j in range(enc.L):
                out.append(IMPLIES(AND(EQ(s.c_leader, ldr), LT(j, s.hw[r])),
                                   AND(LT(j, s.leo[ldr]), EQ(s.lrec[ldr][j], s.lrec[r][j]),
                                       EQ(s.lep[ldr][j], s.lep[r][j]))))
    return AND(*out)


def aux_isr_holds_committed(enc: Encoding, s: S):
    """Every member of the controller's ISR (and, with KIP-966, of its ELR, and its last known
    leader) holds every entry
    below any replica's HW, at the same offsets and epochs."""
    out = []
    for m in range(enc.R):
        for r in range(enc.R):
            if r == m:
                continue
            for j in range(enc.L):
                holder = OR(s.c_isr[m], s.c_elr[m], EQ(s.c_lkl, m)) if enc.elr_enabled else s.c_isr[m]
                out.append(IMPLIES(AND(holder, LT(j, s.hw[r])),
                                   AND(LT(j, s.leo[m]), EQ(s.lrec[m][j], s.lrec[r][j]),
                                       EQ(s.lep[m][j], s.lep[r][j]))))
    return AND(*out)


def aux_acked_below_hw(enc: Encoding, s: S):
    """(acks=all) a record acknowledged at offset o lies below some replica's HW, with that record there."""
    out = []
    for i in range(enc.NB):
        at = OR(*[AND(LT(s.off[i], s.hw[b]), _holds_at(enc, s, b, s.off[i], i + 1)) for b in range(enc.R)])
        out.append(IMPLIES(AND(EQ(s.st[i], B_OK), LE(0, s.off[i])), at))
    return AND(*out)


def aux_single_leader(enc: Encoding, s: S):
    """At most one broker acts as leader in the controller's current epoch, and it is the controller's leader."""
    return AND(*[IMPLIES(AND(s.alive[b], EQ(s.rep_leader[b], b), EQ(s.rep_epoch[b], s.c_epoch)),
                         EQ(s.c_leader, b)) for b in range(enc.R)])


def aux_fleo_le_leo(enc: Encoding, s: S):
    """A leader never believes a follower has more than the follower's log holds."""
    return AND(*[IMPLIES(AND(s.alive[b], EQ(s.rep_leader[b], b), LE(0, s.fleo[b][m])), LE(s.fleo[b][m], s.leo[m]))
                 for b in range(enc.R) for m in range(enc.R) if m != b])


def aux_followers_agree(enc: Encoding, s: S):
    """A live broker that knows the controller's epoch believes in the controller's leader
    (while the partition is online)."""
    return AND(*[IMPLIES(AND(s.alive[b], EQ(s.rep_epoch[b], s.c_epoch), LE(0, s.c_leader)),
                         EQ(s.rep_leader[b], s.c_leader)) for b in range(enc.R)])


def aux_leader_view(enc: Encoding, s: S):
    """A broker acting as leader tracks its own LEO and only its ISR (and pending change) members."""
    out = []
    for b in range(enc.R):
        acting = AND(s.alive[b], EQ(s.rep_leader[b], b))
        out.append(IMPLIES(acting, AND(EQ(s.fleo[b][b], s.leo[b]), s.rep_isr[b][b])))
        # it keeps the fetch offsets of its ISR and pending-change members only (_trim_leos)
        keep = enc.leo_keepers(s, b)
        out += [IMPLIES(AND(acting, NOT(keep[m])), EQ(s.fleo[b][m], -1)) for m in range(enc.R) if m != b]
        # and never believes a follower is past its own log end (a fetch offset is truncated to it)
        out += [IMPLIES(acting, LE(s.fleo[b][m], s.leo[b])) for m in range(enc.R) if m != b]
        # its pending AlterPartition keeps itself, and was made in the epoch it leads
        out.append(IMPLIES(s.ic[b], AND(acting, s.ic_prop[b][b], s.ic_eff[b][b], s.ic_base[b][b],
                                        EQ(s.ic_epoch[b], s.rep_epoch[b]))))
        # the proposal only adds to or only removes from the ISR it was made against; with
        # the maximal ISR (KIP-497) the effective ISR holds both; the leader's ISR only
        # shrinks in place while it waits (KRaft fencing)
        for m in range(enc.R):
            sub = [IMPLIES(s.ic_prop[b][m], s.ic_eff[b][m]), IMPLIES(s.rep_isr[b][m], s.ic_base[b][m])]
            if enc.maximal_isr:
                sub.append(IMPLIES(s.ic_base[b][m], s.ic_eff[b][m]))
            out.append(IMPLIES(s.ic[b], AND(*sub)))
        out.append(IMPLIES(NOT(acting), AND(*[EQ(s.fleo[b][m], -1) for m in range(enc.R)],
                                            *[NOT(s.rep_isr[b][m]) for m in range(enc.R)], NOT(s.ic[b]))))
    return AND(*out)


def aux_current_epoch_on_leader(enc: Encoding, s: S):
    """Every entry of the controller's current epoch, in any log, is on the current leader at
    the same offset (only the leader of an epoch writes it; followers copy it in place)."""
    out = []
    for ldr in range(enc.R):
        for b in range(enc.R):
            if b == ldr:
                continue
            for j in range(enc.L):
                out.append(IMPLIES(AND(EQ(s.c_leader, ldr), LT(j, s.leo[b]), EQ(s.lep[b][j], s.c_epoch)),
                                   AND(LT(j, s.leo[ldr]), EQ(s.lrec[ldr][j], s.lrec[b][j]),
                                       EQ(s.lep[ldr][j], s.c_epoch))))
    return AND(*out)


def aux_hw_below_isr_leos(enc: Encoding, s: S):
    """A leader's HW is at most the actual LEO (and the known fetch offset) of every member of
    the ISR it computes its HW over - the HW a new leader inherits was committed on them all."""
    out = []
    for b in range(enc.R):
        acting = AND(s.alive[b], EQ(s.rep_leader[b], b))
        isr = enc.hw_isr(s, b)
        for m in range(enc.R):
            if m != b:
                member = AND(acting, OR(isr[m], s.rep_isr[b][m]))
                out.append(IMPLIES(member, LE(s.hw[b], s.leo[m])))
                out.append(IMPLIES(AND(member, LE(0, s.fleo[b][m])), LE(s.hw[b], s.fleo[b][m])))
    return AND(*out)


def aux_isr_holds_leader_prefix(enc: Encoding, s: S):
    """Every member of the ISR the leader of the controller's current epoch computes its HW
    over (its view, or its pending change) holds the leader's entries below the leader's HW, at the same offsets and
    epochs - hw-below-isr-leos restated on log contents, so that it survives a follower's
    truncation and carries a committed prefix to the next leader."""
    out = []
    for b in range(enc.R):
        acting = AND(s.alive[b], EQ(s.rep_leader[b], b), EQ(s.rep_epoch[b], s.c_epoch))
        isr = enc.hw_isr(s, b)
        for m in range(enc.R):
            if m == b:
                continue
            member = AND(acting, OR(isr[m], s.rep_isr[b][m]))
            for j in range(enc.L):
                out.append(IMPLIES(AND(member, LT(j, s.hw[b])),
                                   AND(LT(j, s.leo[m]), EQ(s.lrec[m][j], s.lrec[b][j]), EQ(s.lep[m][j], s.lep[b][j]))))
    return AND(*out)


def aux_fetched_prefix_matches(enc: Encoding, s: S):
    """The leader of the controller's current epoch knows a follower's fetch offset only for
    a prefix the follower holds as the leader does (it fetched it from this leader, after
    truncating to their divergence point)."""
    out = []
    for b in range(enc.R):
        cur = AND(s.alive[b], EQ(s.rep_leader[b], b), EQ(s.rep_epoch[b], s.c_epoch))
        for m in range(enc.R):
            if m == b:
                continue
            for j in range(enc.L):
                out.append(IMPLIES(AND(cur, LT(j, s.fleo[b][m])),
                                   AND(LT(j, s.leo[m]), EQ(s.lrec[m][j], s.lrec[b][j]), EQ(s.lep[m][j], s.lep[b][j]))))
    return AND(*out)


def aux_elr_below_min_isr(enc: Encoding, s: S):
    """(KIP-966) The ELR is only non-empty while the ISR is below min.insync.replicas, no
    broker is in both, and a last known leader is only kept while the partition is offline."""
    if not enc.elr_enabled:
        return True
    return AND(IMPLIES(OR(*s.c_elr), LT(COUNT(s.c_isr), enc.min_isr)),
               *[NOT(AND(s.c_isr[m], s.c_elr[m])) for m in range(enc.R)],
               IMPLIES(LE(0, s.c_leader), EQ(s.c_lkl, -1)))


def aux_leader_isr_is_controllers(enc: Encoding, s: S):
    """The leader of the controller's current epoch works with the controller's ISR: once it
    has learned the epoch its ISR view is the controller's ISR (AlterPartition and KRaft
    fencing change both at once), and until then the decision on its way to it carries the
    controller's ISR (only fencing changes the ISR meanwhile, and it updates the decision)."""
    out = []
    for b in range(enc.R):
        cur = AND(s.alive[b], EQ(s.rep_leader[b], b), EQ(s.rep_epoch[b], s.c_epoch))
        out += [IMPLIES(cur, EQ(s.rep_isr[b][m], s.c_isr[m])) for m in range(enc.R)]
        for e in range(1, enc.E + 1):
            pending = AND(s.cm[b][e], EQ(s.c_epoch, e), EQ(s.dec_leader[e], b))
            out += [IMPLIES(pending, EQ(s.dec_isr[e][m], s.c_isr[m])) for m in range(enc.R)]
    return AND(*out)


def aux_deposed_only_by_rebalance(enc: Encoding, s: S):
    """A broker still acting as leader of an older epoch exists only after a leadership move
    without a crash (a rebalance): a failover needs the old leader to go down first."""
    return AND(*[IMPLIES(AND(s.alive[b], EQ(s.rep_leader[b], b), EQ(s.elections, 0)), EQ(s.rep_epoch[b], s.c_epoch))
                 for b in range(enc.R)])


def aux_log_matching(enc: Encoding, s: S):
    """Two logs with an entry of the same epoch at the same offset agree on it and on every
    entry before it (Raft's log matching, for Kafka's epoch-stamped batches)."""
    out = []
    for a in range(enc.R):
        for b in range(a + 1, enc.R):
            for j in range(enc.L):
                same = AND(LT(j, s.leo[a]), LT(j, s.leo[b]), EQ(s.lep[a][j], s.lep[b][j]))
                agree = AND(*[AND(EQ(s.lrec[a][i], s.lrec[b][i]), EQ(s.lep[a][i], s.lep[b][i]))
                              for i in range(j)], EQ(s.lrec[a][j], s.lrec[b][j]))
                out.append(IMPLIES(same, agree))
    return AND(*out)


def aux_epochs_sorted(enc: Encoding, s: S):
    """Epochs never decrease along a log."""
    return AND(*[IMPLIES(LT(j + 1, s.leo[b]), LE(s.lep[b][j], s.lep[b][j + 1]))
                 for b in range(enc.R) for j in range(enc.L - 1)])


def aux_entries_known_epoch(enc: Encoding, s: S):
    """(KIP-320, KRaft with ELR) a live broker holds no entry of an epoch it has not learned,
    and a down broker is not in the ISR (the controller fenced it)."""
    out = []
    for b in range(enc.R):
        if enc.fenced_epoch:
            out += [IMPLIES(AND(s.alive[b], LT(j, s.leo[b])), LE(s.lep[b][j], s.rep_epoch[b])) for j in range(enc.L)]
        if enc.elr_enabled:
            out.append(IMPLIES(NOT(s.alive[b]), NOT(s.c_isr[b])))
    return AND(*out)


def aux_isr_size(enc: Encoding, s: S):
    """The controller's ISR is never empty."""
    return LE(1, COUNT(s.c_isr))


AUX = {
    "types": aux_types,
    "hw-le-leo": aux_hw_le_leo,
    "leader-in-isr": aux_leader_in_isr,
    "leader-has-committed": aux_leader_has_committed,
    "isr-holds-committed": aux_isr_holds_committed,
    "acked-below-hw": aux_acked_below_hw,
    "single-leader": aux_single_leader,
    "isr-nonempty": aux_isr_size,
    "fleo-le-leo": aux_fleo_le_leo,
    "followers-agree": aux_followers_agree,
    "leader-view": aux_leader_view,
    "current-epoch-on-leader": aux_current_epoch_on_leader,
    "hw-below-isr-leos": aux_hw_below_isr_leos,
    "isr-holds-leader-prefix": aux_isr_holds_leader_prefix,
    "fetched-prefix-matches": aux_fetched_prefix_matches,
    "elr-below-min-isr": aux_elr_below_min_isr,
    "leader-isr-is-controllers": aux_leader_isr_is_controllers,
    "deposed-only-by-rebalance": aux_deposed_only_by_rebalance,
    "log-matching": aux_log_matching,
    "epochs-sorted": aux_epochs_sorted,
    "entries-known-epoch": aux_entries_known_epoch,
}

AUX_DESCRIPTIONS = {k: " ".join((f.__doc__ or "").split()) for k, f in AUX.items()}
