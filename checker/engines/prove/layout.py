"""The encoded state: a fixed-size vector of named fields (see encoding.py for what they
hold), its mapping from and to Model states, and the fragment's limits."""

from __future__ import annotations

from dataclasses import dataclass

import z3

from ackcheck.checker.engines.prove.ops import WIDE_BITS, ite, set_int_bits
from ackcheck.model.state import State
from ackcheck.traces.settings import Config

# the message of a batch's current attempt
M_NONE, M_REQUEST, M_PURGATORY, M_RESPONSE = 0, 1, 2, 3
TS_STEP = 64  # timestamps: clock * TS_STEP + (call within the step) * NB + batch

# invariants encoded symbolically (the others are judged by `ackcheck check` only)
ENCODED_INVARIANTS = ("acked-write-survives", "committed-prefix-agreement", "hw-bound", "no-duplicates",
                      "failed-write-invisible", "leader-completeness", "producer-order", "read-durability",
                      "consumer-monotonic")


class NotEncoded(ValueError):
    """A configuration outside the encoded fragment: one line naming what is missing."""


def check_fragment(config: Config, invariant_ids=None) -> None:
    b = config.bounds
    if config.records_per_batch != 1:
        raise NotEncoded("records.per.batch other than 1 is not encoded symbolically; use ackcheck check")
    attempts = 1 if config.acks == "0" else min(config.retries + 1, b.max_attempts)
    if config.enable_idempotence and b.max_records * attempts > 5:
        raise NotEncoded("more than 5 batches per log with enable.idempotence=true (the broker's 5-batch "
                         "dedup window) is not encoded symbolically; lower --max-records or --max-attempts")
    for i in invariant_ids or ():
        if i not in ENCODED_INVARIANTS:
            raise NotEncoded(f"--invariant {i} is not encoded symbolically (encoded: "
                             f"{', '.join(ENCODED_INVARIANTS)}); use ackcheck check")


class S:
    """A state: named fields, each a scalar, a list, or a list of lists (ints/bools or z3).

    Copies are copy-on-write: a field is copied on its first access after a copy, so the
    many copies the branches of an action make stay cheap."""

    __slots__ = ("f", "own")

    def __init__(self, f: dict, own=None):
        object.__setattr__(self, "f", f)
        object.__setattr__(self, "own", own)  # names this object may mutate (None: all)

    def copy(self) -> S:
        object.__setattr__(self, "own", set())
        return S(dict(self.f), set())

    def __getattr__(self, name):
        f = self.f
        try:
            v = f[name]
        except KeyError:
            raise AttributeError(name) from None
        own = self.own
        if own is not None and name not in own:
            own.add(name)
            if v.__class__ is list:
                v = f[name] = _deep(v)
        return v

    def __setattr__(self, name, value) -> None:
        self.f[name] = value
        if self.own is not None:
            self.own.add(name)


def _deep(v):
    if v.__class__ is list:
        if v and v[0].__class__ is list:
            return [list(x) for x in v]
        return list(v)
    return v


def _merge_val(c, a, b):
    if a is b:  # shared by copy-on-write: unchanged on both sides
        return a
    if isinstance(a, list):
        return [_merge_val(c, x, y) for x, y in zip(a, b)]
    return ite(c, a, b)


def merge(c, s1: S, s2: S) -> S:
    """if c then s1 else s2, field by field."""
    if isinstance(c, bool):
        return s1 if c else s2
    return S({k: _merge_val(c, s1.f[k], s2.f[k]) for k in s1.f})


@dataclass
class Instance:
    """One concrete action instance of the relation: its Model action name and arguments are
    decoded from the state it fires in (e.g. a batch's attempt)."""

    name: str
    args: tuple  # fixed arguments (brokers, batches, epochs, reasons)
    fn: object  # fn(state) -> (enabled, next state)
    decode: object  # decode(state values) -> the Model action tuple

class Layout:
    """Shapes of the fields, fresh z3 states, and Model state <-> encoded state (set up by
    Encoding.__init__: R brokers, NB batches, logs of L slots, epochs 0..E)."""

    # ------------------------------------------------------------------ state layout
    def shapes(self) -> dict[str, tuple[str, tuple[int, ...]]]:
        R, L, NB, E = self.R, self.L, self.NB, self.E
        out = {}
        for n in ("c_leader", "c_epoch", "producer_epoch", "next_sequence", "crashes", "elections",
                  "isr_shrinks", "clock", "last_acked", "c_lkl"):
            out[n] = ("I", ())
        for n in ("alive", "unclean", "ic", "ic_stale", "c_isr", "c_elr"):
            out[n] = ("B", (R,))
        for n in ("leo", "hw", "rep_epoch", "rep_leader", "ic_epoch"):
            out[n] = ("I", (R,))
        out["fleo"] = ("I", (R, R))
        for n in ("rep_isr", "ic_base", "ic_prop", "ic_eff"):
            out[n] = ("B", (R, R))
        for n in ("lrec", "lep", "lpe", "lseq"):
            out[n] = ("I", (R, L))
        for n in ("st", "att", "off", "bpe", "bseq", "mk", "mb", "merr", "moff", "misr", "mend", "mts", "mpe",
                  "mseq"):
            out[n] = ("I", (NB,))
        out["maybe"] = ("B", (NB,))
        out["reseq"] = ("B", (NB,))
        out["cm"] = ("B", (R, E + 1))
        out["dec_leader"] = ("I", (E + 1,))
        out["dec_isr"] = ("B", (E + 1, R))
        # optional parts, present only when the configuration can change them
        if self.track_flush:  # power losses / log.flush.interval.messages
            out["flushed"] = ("I", (R,))
            out["power_losses"] = ("I", ())
        if self.track_rp:
            out["rp"] = ("I", (R,))
        if self.lossy:
            out["lost"] = ("I", ())
        if self.delayed:
            out["df"] = ("B", (R,))
            for n in ("df_leader", "df_epoch", "df_off", "df_lastep"):
                out[n] = ("I", (R,))
            out["dfc"] = ("I", ())
        if self.track_truncating:
            out["ftr"] = ("B", (R,))
        if self.others:
            out["other_writes"] = ("I", ())
        if self.committed_log:
            out["cl_len"] = ("I", ())
            out["cl"] = ("I", (L,))
        if self.consumer:
            for n in ("cpos", "ccommit", "cr_n"):
                out[n] = ("I", ())
            out["cr_pos"] = ("I", (self.CR,))
            out["cr_rec"] = ("I", (self.CR,))
        return out

    def fresh(self, tag: str) -> S:
        """A state of fresh z3 constants named <field>_<tag>_<indices>."""
        set_int_bits(self.bits)
        f = {}
        for name, (sort, dims) in self.shapes().items():
            width = WIDE_BITS if name in ("clock", "mts") else self.bits
            mk = (lambda n, w=width: z3.BitVec(n, w)) if sort == "I" else z3.Bool

            def build(prefix, dims, mk=mk):
                if not dims:
                    return mk(prefix)
                return [build(f"{prefix}_{i}", dims[1:]) for i in range(dims[0])]
            f[name] = build(f"{name}_{tag}", dims)
        return S(f)

    @staticmethod
    def leaves(s: S):
        """(name, value) for every scalar of the state, in a fixed order."""
        out = []

        def walk(prefix, v):
            if isinstance(v, list):
                for i, x in enumerate(v):
                    walk(f"{prefix}[{i}]", x)
            else:
                out.append((prefix, v))
        for k in sorted(s.f):
            walk(k, s.f[k])
        return out

    @staticmethod
    def from_leaves(template: S, values) -> dict:
        """The inverse of leaves(): fields shaped like `template`'s, filled from `values`
        (the scalars in leaves() order)."""
        it = iter(values)

        def fill(shape):
            return [fill(x) for x in shape] if isinstance(shape, list) else next(it)
        return {k: fill(template.f[k]) for k in sorted(template.f)}

    # ------------------------------------------------------- Model state <-> this state
    def from_state(self, st: State) -> S:
        """The encoded form of a Model state (raises NotEncoded outside the fragment)."""
        R, L, NB, E = self.R, self.L, self.NB, self.E
        f = {
            "c_leader": st.leader, "c_epoch": st.leader_epoch, "producer_epoch": st.producer_epoch,
            "next_sequence": st.next_sequence, "crashes": st.crashes, "elections": st.elections,
            "isr_shrinks": st.isr_shrinks, "last_acked": st.last_acked_sequence,
            "c_lkl": st.last_known_leader,
            "clock": 1 + len(st.requests) + len(st.responses),
            "alive": [r.alive for r in st.replicas], "unclean": list(st.unclean_shutdown),
            "leo": [r.log_end_offset for r in st.replicas], "hw": [r.high_watermark for r in st.replicas],
            "rep_epoch": [r.leader_epoch for r in st.replicas], "rep_leader": [r.leader for r in st.replicas],
            "fleo": [list(r.follower_leos) for r in st.replicas],
            "rep_isr": [[m in r.isr for m in range(R)] for r in st.replicas],
            "c_isr": [m in st.isr for m in range(R)], "c_elr": [m in st.elr for m in range(R)],
        }
        if st.leader_epoch > E:
            raise NotEncoded(f"leader epoch {st.leader_epoch} beyond the encoded {E}")
        for name in ("lrec", "lep", "lpe", "lseq"):
            f[name] = [[0] * L for _ in range(R)]
        for b, r in enumerate(st.replicas):
            if len(r.log) > L:
                raise NotEncoded(f"broker {b}'s log holds {len(r.log)} batches > {L}")
            for j, bt in enumerate(r.log):
                if len(bt.records) != 1:
                    raise NotEncoded("a batch of more than one record")
                f["lrec"][b][j], f["lep"][b][j] = bt.records[0], bt.leader_epoch
                f["lpe"][b][j], f["lseq"][b][j] = bt.producer_epoch, bt.base_sequence
        f["st"] = [x.status for x in st.batches]
        f["att"] = [x.attempts for x in st.batches]
        f["off"] = [x.offset for x in st.batches]
        f["maybe"] = [x.maybe_appended for x in st.batches]
        f["bpe"] = [x.producer_epoch for x in st.batches]
        f["bseq"] = [x.base_sequence for x in st.batches]
        f["reseq"] = [x.resequenced for x in st.batches]
        for name in ("mk", "mb", "merr", "moff", "misr", "mend", "mts", "mpe", "mseq"):
            f[name] = [0] * NB
        used = set()

        def slot(i, attempt, kind, broker):
            if i in used or attempt != st.batches[i].attempts:
                raise NotEncoded(f"batch {i} has a message of another attempt in the network")
            used.add(i)
            f["mk"][i], f["mb"][i] = kind, broker
        for pos, (i, attempt, broker, pe, seq) in enumerate(st.requests):
            slot(i, attempt, M_REQUEST, broker)
            f["mts"][i], f["mpe"][i], f["mseq"][i] = pos, pe, seq
        for (broker, i, attempt, end) in st.purgatory:
            slot(i, attempt, M_PURGATORY, broker)
            f["mend"][i] = end
        for pos, (i, attempt, err, off, isr_size, broker) in enumerate(st.responses):
            slot(i, attempt, M_RESPONSE, broker)
            f["merr"][i], f["moff"][i], f["misr"][i], f["mts"][i] = err, off, isr_size, pos
        f["cm"] = [[False] * (E + 1) for _ in range(R)]
        f["dec_leader"] = [-1] * (E + 1)
        f["dec_isr"] = [[False] * R for _ in range(E + 1)]
        for (b, epoch, ldr, isr) in st.controller_messages:
            if f["cm"][b][epoch]:
                raise NotEncoded("two controller messages for one broker and epoch")
            f["cm"][b][epoch] = True
            f["dec_leader"][epoch] = ldr
            f["dec_isr"][epoch] = [m in isr for m in range(R)]
        f["ic"] = [False] * R
        f["ic_epoch"] = [0] * R
        f["ic_stale"] = [False] * R
        for n in ("ic_base", "ic_prop", "ic_eff"):
            f[n] = [[False] * R for _ in range(R)]
        for (ldr, epoch, base, proposed, effective, stale) in st.isr_changes:
            f["ic"][ldr], f["ic_epoch"][ldr], f["ic_stale"][ldr] = True, epoch, stale
            f["ic_base"][ldr] = [m in base for m in range(R)]
            f["ic_prop"][ldr] = [m in proposed for m in range(R)]
            f["ic_eff"][ldr] = [m in effective for m in range(R)]
        if self.track_truncating:
            f["ftr"] = list(st.fetcher_truncating)
        elif any(st.fetcher_truncating):
            raise NotEncoded("fetcher Truncating state")
        if self.track_flush:
            f["flushed"] = [r.flushed_offset for r in st.replicas]
            f["power_losses"] = st.power_losses
        elif any(r.flushed_offset for r in st.replicas) or st.power_losses:
            raise NotEncoded("flushed offsets without power losses or a flush interval")
        if self.track_rp:
            f["rp"] = list(st.recovery_points)
        elif any(st.recovery_points):
            raise NotEncoded("recovery points without a flush interval")
        if self.lossy:
            f["lost"] = st.lost_messages
        elif st.lost_messages:
            raise NotEncoded("lost messages")
        if self.delayed:
            f["dfc"] = st.delayed_fetch_count
            f["df"] = [False] * R
            for n in ("df_leader", "df_epoch", "df_off", "df_lastep"):
                f[n] = [0] * R
            for d in st.delayed_fetches:
                r = d.follower
                if f["df"][r]:
                    raise NotEncoded("two delayed fetches of one follower")
                f["df"][r] = True
                f["df_leader"][r], f["df_epoch"][r] = d.leader, d.leader_epoch
                f["df_off"][r], f["df_lastep"][r] = d.fetch_offset, d.last_fetched_epoch
        elif st.delayed_fetches or st.delayed_fetch_count:
            raise NotEncoded("delayed fetches")
        if self.others:
            f["other_writes"] = st.other_writes
        elif st.other_writes:
            raise NotEncoded("other producers' writes")
        if self.consumer:
            if len(st.consumer_read) > self.CR:
                raise NotEncoded("the consumer read more records than the encoded capacity")
            f["cpos"], f["ccommit"], f["cr_n"] = st.consumer_position, st.committed_offset, len(st.consumer_read)
            f["cr_pos"] = [p for p, _ in st.consumer_read] + [0] * (self.CR - len(st.consumer_read))
            f["cr_rec"] = [r for _, r in st.consumer_read] + [0] * (self.CR - len(st.consumer_read))
        elif st.consumer_read or st.consumer_position or st.committed_offset:
            raise NotEncoded("the consumer")
        if self.committed_log:
            if len(st.committed_log) > L:
                raise NotEncoded("a committed log longer than the log capacity")
            f["cl_len"] = len(st.committed_log)
            f["cl"] = list(st.committed_log) + [0] * (L - len(st.committed_log))
        return S(f)

    def project(self, s: S) -> tuple:
        """The comparable content of a concrete state: don't-care slots masked, message
        timestamps reduced to the order of each connection."""
        f = s.f
        R, NB = self.R, self.NB
        logs = tuple(tuple((f["lrec"][b][j], f["lep"][b][j], f["lpe"][b][j], f["lseq"][b][j])
                           for j in range(f["leo"][b])) for b in range(R))
        msgs = []
        for i in range(NB):
            k = f["mk"][i]
            if k == M_NONE:
                msgs.append((k,))
            elif k == M_REQUEST:
                msgs.append((k, f["mb"][i], f["mpe"][i], f["mseq"][i]))
            elif k == M_PURGATORY:
                msgs.append((k, f["mb"][i], f["mend"][i]))
            else:
                msgs.append((k, f["mb"][i], f["merr"][i], f["moff"][i], f["misr"][i]))
        order = tuple(tuple(sorted((i for i in range(NB) if f["mk"][i] == k and f["mb"][i] == b),
                                   key=lambda i: f["mts"][i])) for k in (M_REQUEST, M_RESPONSE) for b in range(R))
        cms = tuple((b, e, f["dec_leader"][e], tuple(f["dec_isr"][e])) for b in range(R)
                    for e in range(self.E + 1) if f["cm"][b][e])
        ics = tuple((b, f["ic_epoch"][b], tuple(f["ic_base"][b]), tuple(f["ic_prop"][b]), tuple(f["ic_eff"][b]),
                     f["ic_stale"][b]) for b in range(R) if f["ic"][b])
        plain = tuple((k, _tup(f[k])) for k in ("c_leader", "c_epoch", "producer_epoch", "next_sequence", "crashes",
                                                "elections", "isr_shrinks", "last_acked", "c_lkl", "alive", "unclean", "leo", "hw",
                                                "rep_epoch", "rep_leader", "fleo", "rep_isr", "c_isr", "c_elr",
                                                "st", "att", "off", "maybe", "bpe", "bseq", "reseq"))
        opt = tuple((k, _tup(f[k])) for k in ("flushed", "power_losses", "rp", "lost", "dfc", "other_writes",
                                                "cl_len", "ftr") if k in f)
        if "df" in f:
            opt += (("df", tuple((r, f["df_leader"][r], f["df_epoch"][r], f["df_off"][r], f["df_lastep"][r])
                                 for r in range(R) if f["df"][r])),)
        if "cl" in f:
            opt += (("cl", tuple(f["cl"][:f["cl_len"]])),)
        if "cpos" in f:
            opt += (("consumer", f["cpos"], f["ccommit"],
                     tuple(zip(f["cr_pos"][:f["cr_n"]], f["cr_rec"][:f["cr_n"]]))),)
        return plain + opt + (("logs", logs), ("msgs", tuple(msgs)), ("order", order), ("cm", cms), ("ic", ics))


def _tup(v):
    return tuple(_tup(x) for x in v) if isinstance(v, list) else v
