/* The explorer's fingerprint of a state: hash(state), computed with a memory.

   A state is a tree of tuples (NamedTuples) of small ints, and a successor shares most of
   its subtrees with the state it came from: an action rebuilds the fields it changes and
   keeps the others as they are, the same objects. CPython does not keep a tuple's hash,
   so hash(successor) walks the whole tree again, every log, batch and message, for every
   successor. Here, `remember(s)` hashes the state about to be expanded and keeps the
   hashes of its subtrees, by object identity, in a small direct-mapped table; then
   `fingerprint(successor)` returns exactly hash(successor) - the same function, the same
   64-bit value, so every fingerprint, seen set, checkpoint and result is unchanged - and
   walks only what the action rebuilt, the table answering for the rest.

   Only the expanded state's subtrees are kept, never a successor's: the state is alive
   anyway (it is in the frontier), while most successors are dropped at once as seen, and
   an entry holding their subtrees would keep them from being freed while the allocator
   hands out colder memory instead (kept, they made R4's first levels 8% slower in wall
   time for 5% fewer instructions).

   Why a remembered hash cannot be wrong: an entry holds a strong reference to its tuple,
   so the address cannot be reused by another object while the entry exists; and only a
   tuple whose hash is tuple's own (tp_hash == PyTuple_Type.tp_hash: exact tuples and
   NamedTuples, never a subclass with its own __hash__) and whose items are ints, bools,
   None, strings, bytes, floats or such tuples is remembered - immutable values, whose
   hashes never change (the model's states hold nothing else). A tuple holding anything
   else is hashed afresh every time, and that item by PyObject_Hash, as hash() does.

   The combination is CPython's tuple hash (Objects/tupleobject.c, tuplehash: xxHash's
   round over the items' hashes, then the length), for 64-bit Py_uhash_t; on any other
   size of Py_uhash_t the module falls back to PyObject_Hash throughout.
   tests/test_fingerprint.py compares it with hash() on reachable states of several
   configurations, on their renamings and on generated trees. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define TABLE_BITS 14
#define TABLE_SIZE (1u << TABLE_BITS)

typedef struct {
    PyObject *obj; /* a strong reference, or NULL */
    Py_hash_t hash;
} entry;

static entry table[TABLE_SIZE];
static hashfunc tuple_hash; /* PyTuple_Type.tp_hash */

#if SIZEOF_PY_UHASH_T == 8
#define PRIME_1 ((Py_uhash_t)11400714785074694791ULL)
#define PRIME_2 ((Py_uhash_t)14029467366897019727ULL)
#define PRIME_5 ((Py_uhash_t)2870177450012600261ULL)
#define ROTATE(x) ((x << 31) | (x >> 33))
#define EXACT 1
#else
#define EXACT 0
/* (never used: the renamed fingerprints below are switched off where EXACT is 0) */
#define PRIME_1 ((Py_uhash_t)0)
#define PRIME_2 ((Py_uhash_t)0)
#define PRIME_5 ((Py_uhash_t)0)
#define ROTATE(x) (x)
#endif

static inline size_t slot_of(PyObject *o)
{
    uintptr_t p = (uintptr_t)o;
    return (size_t)((p >> 4) ^ (p >> (4 + TABLE_BITS))) & (TABLE_SIZE - 1);
}

/* what hash_tuple does with the table for a tuple below the top */
#define LOOK 1 /* answer from it when it holds the tuple */
#define KEEP 2 /* and put what it computes in it */

static Py_hash_t hash_tuple(PyObject *t, int mode, int sub, int *pure);
static hashfunc long_hash; /* PyLong_Type.tp_hash (ints and bools) */

/* hash(o); *pure is cleared when o's hash is not a function of immutable values the way
   ints, bools, strings, bytes, floats, None and tuples of them are (an object with a hash
   of its own could change it: a tuple holding one is never remembered). */
static inline Py_hash_t hash_item(PyObject *o, int mode, int *pure)
{
    hashfunc h = Py_TYPE(o)->tp_hash;
    if (h == tuple_hash && PyTuple_Check(o))
        return hash_tuple(o, mode, mode, pure);
    if (h == long_hash) {
#if PY_VERSION_HEX < 0x030C0000
        /* An int (or bool) of one 30-bit digit, the model's every number: long_hash's own
           first cases (Objects/longobject.c, CPython 3.11: the digits follow the size). */
        Py_ssize_t size = Py_SIZE(o);
        if (size == 0)
            return 0;
        if (size == 1)
            return (Py_hash_t)((PyLongObject *)o)->ob_digit[0];
        if (size == -1) {
            Py_hash_t x = -(Py_hash_t)((PyLongObject *)o)->ob_digit[0];
            return x == -1 ? -2 : x;
        }
#endif
        return PyObject_Hash(o);
    }
    if (!(o == Py_None || PyUnicode_CheckExact(o) || PyBytes_CheckExact(o) || PyFloat_CheckExact(o)))
        *pure = 0;
    return PyObject_Hash(o);
}

/* hash(t); with LOOK, the table answers for t when it holds it; with KEEP, t also goes in
   the table once computed; `sub` is the mode for t's items (a state itself is hashed with
   mode 0, its subtrees with the call's mode). */
static Py_hash_t hash_tuple(PyObject *t, int mode, int sub, int *pure)
{
    entry *e = NULL;
    if (mode) {
        e = &table[slot_of(t)];
        if (e->obj == t)
            return e->hash;
    }
    int mine = 1; /* every item's hash is a function of immutable values */
#if EXACT
    Py_ssize_t len = PyTuple_GET_SIZE(t);
    Py_uhash_t acc = PRIME_5;
    for (Py_ssize_t i = 0; i < len; i++) {
        Py_uhash_t lane = (Py_uhash_t)hash_item(PyTuple_GET_ITEM(t, i), sub, &mine);
        if (lane == (Py_uhash_t)-1)
            return -1;
        acc += lane * PRIME_2;
        acc = ROTATE(acc);
        acc *= PRIME_1;
    }
    acc += len ^ (PRIME_5 ^ 3527539UL);
    Py_hash_t h = acc == (Py_uhash_t)-1 ? 1546275796 : (Py_hash_t)acc;
#else
    mine = 0;
    Py_hash_t h = PyObject_Hash(t);
    if (h == -1)
        return -1;
#endif
    if (!mine) {
        *pure = 0;
        return h;
    }
    if (mode == KEEP) {
        /* (the slot's old reference is dropped after the new one is in) */
        PyObject *old = e->obj;
        Py_INCREF(t);
        e->obj = t;
        e->hash = h;
        Py_XDECREF(old);
    }
    return h;
}

static Py_hash_t top(PyObject *obj, int mode)
{
    if (PyTuple_Check(obj) && Py_TYPE(obj)->tp_hash == tuple_hash) {
        int pure = 1;
        return hash_tuple(obj, 0, mode, &pure);
    }
    return PyObject_Hash(obj);
}

static PyObject *fingerprint(PyObject *module, PyObject *obj)
{
    Py_hash_t h = top(obj, LOOK);
    if (h == -1 && PyErr_Occurred())
        return NULL;
    return PyLong_FromSsize_t(h);
}

/* ---------------------------------------------------------------------------------------
   The fingerprint of a renamed state, without building it (model/symmetry.py).

   The explorer stores a state's class under the fingerprint of its canonical form: the
   state with its brokers renamed into signature order (symmetry.permute), or, when brokers
   tie, the renaming whose renamed state has the smallest fingerprint. Most renamed
   successors are seen already, so building each renamed state only to hash it and drop it
   is waste. `canonical(state, candidates)` computes hash(permute(state, pos)) for every
   candidate renaming `pos` from the state itself - the same tuples the renaming would
   build, hashed as they would be, with the remembered hashes for every field the renaming
   leaves as it is - and returns (smallest fingerprint, its pos or None for the identity),
   the first smallest in candidate order as symmetry.canonical_state chooses. The explorer
   then builds the renamed state only when its fingerprint is new.

   What the renaming does to each field is data, given once by `set_layout` from
   model/symmetry.py (where permute is written): a field is left as it is, or is the
   replicas (reordered, each renamed by the replica layout), a broker id (renamed when
   >= 0), a set of broker ids (renamed and sorted), a per-broker tuple (reordered), or a
   message field (every message renamed item by item, then the field sorted as permute
   sorts it: whole messages, or stably by one item). Anything outside that shape - an int
   beyond 30 bits, a field longer than the buffers here, a message item of another kind -
   makes `canonical` answer None, and the explorer then takes symmetry.canonical_state.
   tests/test_fingerprint.py compares it with hash(permute(...)) on every candidate of
   reachable states of every era scenario. */

#define K_PLAIN 0
#define K_REPLICAS 1
#define K_BROKER 2
#define K_SET 3
#define K_PER_BROKER 4
#define K_MESSAGES 5

#define MAX_FIELDS 64
#define MAX_BROKERS 8
#define MAX_ITEMS 8
#define MAX_MESSAGES 64

static int layout_ready = 0;
static Py_ssize_t n_fields;
static Py_ssize_t replicas_field = -1;
static unsigned char state_kind[MAX_FIELDS];
static Py_ssize_t n_replica_items;
static unsigned char replica_kind[MAX_ITEMS * 2];
static Py_ssize_t message_len[MAX_FIELDS];
static unsigned char message_kind[MAX_FIELDS][MAX_ITEMS];
static int message_sort[MAX_FIELDS]; /* -1: whole messages; k: stably by item k */

typedef struct {
    int is_set;
    long v;        /* an int item */
    int n;         /* a set's size */
    long items[MAX_BROKERS];
} value;

typedef struct {
    int n;
    value vals[MAX_ITEMS];
    Py_hash_t hash;
} message;

#define BAIL 2 /* not of the layout's shape: the caller answers None */

static inline Py_uhash_t fold(Py_uhash_t acc, Py_uhash_t lane)
{
    acc += lane * PRIME_2;
    acc = ROTATE(acc);
    acc *= PRIME_1;
    return acc;
}

static inline Py_hash_t finish(Py_uhash_t acc, Py_ssize_t len)
{
    acc += len ^ (PRIME_5 ^ 3527539UL);
    return acc == (Py_uhash_t)-1 ? 1546275796 : (Py_hash_t)acc;
}

static inline Py_hash_t int_hash(long v) /* hash(v) for |v| < 2**30 */
{
    return v == -1 ? -2 : (Py_hash_t)v;
}

/* 0 and *out = the int's value, or BAIL (not an int of at most 30 bits) */
static inline int small_int(PyObject *o, long *out)
{
    if (!PyLong_Check(o))
        return BAIL;
    int overflow = 0;
    long v = PyLong_AsLongAndOverflow(o, &overflow);
    if (overflow || v >= (1L << 30) || v <= -(1L << 30))
        return BAIL;
    *out = v;
    return 0;
}

static inline int renamed_id(PyObject *o, const long *pos, Py_ssize_t nb, long *out)
{
    long v;
    if (small_int(o, &v))
        return BAIL;
    if (v >= 0) {
        if (v >= nb)
            return BAIL;
        v = pos[v];
    }
    *out = v;
    return 0;
}

/* a set of broker ids renamed and sorted (model/symmetry._ids) into val */
static int renamed_set(PyObject *t, const long *pos, Py_ssize_t nb, value *val)
{
    if (!PyTuple_Check(t) || Py_TYPE(t)->tp_hash != tuple_hash)
        return BAIL;
    Py_ssize_t n = PyTuple_GET_SIZE(t);
    if (n > MAX_BROKERS)
        return BAIL;
    val->is_set = 1;
    val->n = (int)n;
    for (Py_ssize_t i = 0; i < n; i++) {
        long x;
        PyObject *o = PyTuple_GET_ITEM(t, i);
        if (small_int(o, &x) || x < 0 || x >= nb)
            return BAIL;
        x = pos[x];
        Py_ssize_t j = i; /* insertion sort: a handful of ids */
        while (j > 0 && val->items[j - 1] > x) {
            val->items[j] = val->items[j - 1];
            j--;
        }
        val->items[j] = x;
    }
    return 0;
}

static inline Py_hash_t set_hash(const value *val)
{
    Py_uhash_t acc = PRIME_5;
    for (int i = 0; i < val->n; i++)
        acc = fold(acc, (Py_uhash_t)int_hash(val->items[i]));
    return finish(acc, val->n);
}

static inline Py_hash_t value_hash(const value *val)
{
    return val->is_set ? set_hash(val) : int_hash(val->v);
}

/* Python's comparison of two values of the same position: ints, or tuples of ints */
static inline int value_cmp(const value *a, const value *b)
{
    if (!a->is_set)
        return (a->v > b->v) - (a->v < b->v);
    int n = a->n < b->n ? a->n : b->n;
    for (int i = 0; i < n; i++)
        if (a->items[i] != b->items[i])
            return a->items[i] > b->items[i] ? 1 : -1;
    return (a->n > b->n) - (a->n < b->n);
}

static inline int message_cmp(const message *a, const message *b, int key)
{
    if (key >= 0)
        return value_cmp(&a->vals[key], &b->vals[key]);
    for (int i = 0; i < a->n; i++) {
        int c = value_cmp(&a->vals[i], &b->vals[i]);
        if (c)
            return c;
    }
    return 0;
}

/* the hash of message field f renamed (symmetry._rename_messages), or BAIL */
static int renamed_messages(PyObject *t, Py_ssize_t f, const long *pos, Py_ssize_t nb, Py_hash_t *out)
{
    static message buf[MAX_MESSAGES];
    int order[MAX_MESSAGES];
    Py_ssize_t n = PyTuple_GET_SIZE(t);
    Py_ssize_t len = message_len[f];
    int key = message_sort[f];
    if (n > MAX_MESSAGES)
        return BAIL;
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *m = PyTuple_GET_ITEM(t, k);
        if (!PyTuple_Check(m) || Py_TYPE(m)->tp_hash != tuple_hash || PyTuple_GET_SIZE(m) != len)
            return BAIL;
        message *cur = &buf[k];
        cur->n = (int)len;
        for (Py_ssize_t i = 0; i < len; i++) {
            PyObject *o = PyTuple_GET_ITEM(m, i);
            value *val = &cur->vals[i];
            switch (message_kind[f][i]) {
            case K_PLAIN:
                val->is_set = 0;
                if (small_int(o, &val->v))
                    return BAIL;
                break;
            case K_BROKER:
                val->is_set = 0;
                if (renamed_id(o, pos, nb, &val->v))
                    return BAIL;
                break;
            case K_SET:
                if (renamed_set(o, pos, nb, val))
                    return BAIL;
                break;
            default:
                return BAIL;
            }
        }
        Py_ssize_t j = k; /* insertion sort of indices, stable (a field holds a few messages) */
        while (j > 0 && message_cmp(&buf[order[j - 1]], cur, key) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = (int)k;
    }
    Py_uhash_t acc = PRIME_5;
    for (Py_ssize_t k = 0; k < n; k++) {
        const message *m = &buf[order[k]];
        Py_uhash_t mh = PRIME_5;
        for (int i = 0; i < m->n; i++)
            mh = fold(mh, (Py_uhash_t)value_hash(&m->vals[i]));
        acc = fold(acc, (Py_uhash_t)finish(mh, m->n));
    }
    *out = finish(acc, n);
    return 0;
}

/* hash of a per-broker tuple reordered (new broker j holds old broker inverse[j]'s item) */
static int reordered(PyObject *t, const long *inverse, Py_ssize_t nb, Py_hash_t *out)
{
    if (!PyTuple_Check(t) || Py_TYPE(t)->tp_hash != tuple_hash || PyTuple_GET_SIZE(t) != nb)
        return BAIL;
    int pure = 1;
    Py_uhash_t acc = PRIME_5;
    for (Py_ssize_t j = 0; j < nb; j++) {
        Py_hash_t h = hash_item(PyTuple_GET_ITEM(t, inverse[j]), LOOK, &pure);
        if (h == -1)
            return -1;
        acc = fold(acc, (Py_uhash_t)h);
    }
    *out = finish(acc, nb);
    return 0;
}

/* the hash of one item renamed by its kind (left alone, a broker id, a set of ids, a
   per-broker tuple): 0 with *h set, BAIL, or -1 with an exception set */
static int renamed_item(PyObject *o, int kind, const long *pos, const long *inverse, Py_ssize_t nb, Py_hash_t *h)
{
    int pure = 1;
    value val;
    switch (kind) {
    case K_PLAIN:
        *h = hash_item(o, LOOK, &pure);
        return *h == -1 && PyErr_Occurred() ? -1 : 0;
    case K_BROKER:
        if (renamed_id(o, pos, nb, &val.v))
            return BAIL;
        *h = int_hash(val.v);
        return 0;
    case K_SET:
        if (renamed_set(o, pos, nb, &val))
            return BAIL;
        *h = set_hash(&val);
        return 0;
    case K_PER_BROKER:
        return reordered(o, inverse, nb, h);
    }
    return BAIL;
}

static int renamed_replica(PyObject *r, const long *pos, const long *inverse, Py_ssize_t nb, Py_hash_t *out)
{
    if (!PyTuple_Check(r) || Py_TYPE(r)->tp_hash != tuple_hash || PyTuple_GET_SIZE(r) != n_replica_items)
        return BAIL;
    Py_uhash_t acc = PRIME_5;
    for (Py_ssize_t i = 0; i < n_replica_items; i++) {
        Py_hash_t h;
        int rc = renamed_item(PyTuple_GET_ITEM(r, i), replica_kind[i], pos, inverse, nb, &h);
        if (rc)
            return rc;
        acc = fold(acc, (Py_uhash_t)h);
    }
    *out = finish(acc, n_replica_items);
    return 0;
}

/* hash(permute(s, pos)): 0 with *out set, BAIL, or -1 with an exception set */
static int renamed_hash(PyObject *s, const long *pos, Py_ssize_t nb, Py_hash_t *out)
{
    long inverse[MAX_BROKERS];
    for (Py_ssize_t b = 0; b < nb; b++)
        inverse[pos[b]] = b;
    Py_uhash_t acc = PRIME_5;
    for (Py_ssize_t f = 0; f < n_fields; f++) {
        PyObject *o = PyTuple_GET_ITEM(s, f);
        Py_hash_t h = 0;
        int rc = 0;
        switch (state_kind[f]) {
        case K_REPLICAS: {
            if (!PyTuple_Check(o) || PyTuple_GET_SIZE(o) != nb || Py_TYPE(o)->tp_hash != tuple_hash)
                return BAIL;
            Py_uhash_t racc = PRIME_5;
            for (Py_ssize_t j = 0; j < nb && !rc; j++) {
                Py_hash_t rh = 0;
                rc = renamed_replica(PyTuple_GET_ITEM(o, inverse[j]), pos, inverse, nb, &rh);
                racc = fold(racc, (Py_uhash_t)rh);
            }
            h = finish(racc, nb);
            break;
        }
        case K_MESSAGES:
            if (!PyTuple_Check(o) || Py_TYPE(o)->tp_hash != tuple_hash)
                return BAIL;
            rc = renamed_messages(o, f, pos, nb, &h);
            break;
        default:
            rc = renamed_item(o, state_kind[f], pos, inverse, nb, &h);
        }
        if (rc)
            return rc;
        acc = fold(acc, (Py_uhash_t)h);
    }
    *out = finish(acc, n_fields);
    return 0;
}

static int read_kinds(PyObject *t, unsigned char *into, Py_ssize_t cap, Py_ssize_t *n)
{
    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) > cap) {
        PyErr_SetString(PyExc_ValueError, "set_layout: a tuple of kinds, not too long");
        return -1;
    }
    *n = PyTuple_GET_SIZE(t);
    for (Py_ssize_t i = 0; i < *n; i++) {
        long k = PyLong_AsLong(PyTuple_GET_ITEM(t, i));
        if (k == -1 && PyErr_Occurred())
            return -1;
        if (k < K_PLAIN || k > K_MESSAGES) {
            PyErr_SetString(PyExc_ValueError, "set_layout: unknown kind");
            return -1;
        }
        into[i] = (unsigned char)k;
    }
    return 0;
}

static PyObject *set_layout(PyObject *module, PyObject *args)
{
    PyObject *state_kinds, *replica_kinds, *messages;
    if (!PyArg_ParseTuple(args, "O!O!O!", &PyTuple_Type, &state_kinds, &PyTuple_Type, &replica_kinds,
                          &PyDict_Type, &messages))
        return NULL;
    layout_ready = 0;
    if (read_kinds(state_kinds, state_kind, MAX_FIELDS, &n_fields) ||
        read_kinds(replica_kinds, replica_kind, MAX_ITEMS * 2, &n_replica_items))
        return NULL;
    PyObject *key, *spec;
    Py_ssize_t it = 0;
    while (PyDict_Next(messages, &it, &key, &spec)) {
        long f = PyLong_AsLong(key);
        PyObject *kinds;
        int sort_key;
        if (f == -1 && PyErr_Occurred())
            return NULL;
        if (f < 0 || f >= n_fields || state_kind[f] != K_MESSAGES) {
            PyErr_SetString(PyExc_ValueError, "set_layout: a message spec for a field that is not a message field");
            return NULL;
        }
        if (!PyArg_ParseTuple(spec, "O!i", &PyTuple_Type, &kinds, &sort_key))
            return NULL;
        if (read_kinds(kinds, message_kind[f], MAX_ITEMS, &message_len[f]))
            return NULL;
        if (sort_key >= message_len[f]) {
            PyErr_SetString(PyExc_ValueError, "set_layout: a sort key beyond the message");
            return NULL;
        }
        message_sort[f] = sort_key;
    }
    for (Py_ssize_t f = 0; f < n_fields; f++)
        if (state_kind[f] == K_MESSAGES && message_len[f] == 0) {
            PyErr_SetString(PyExc_ValueError, "set_layout: a message field without its spec");
            return NULL;
        }
    replicas_field = -1;
    for (Py_ssize_t f = 0; f < n_fields; f++)
        if (state_kind[f] == K_REPLICAS)
            replicas_field = f;
    if (replicas_field < 0) {
        PyErr_SetString(PyExc_ValueError, "set_layout: no replicas field");
        return NULL;
    }
    layout_ready = EXACT;
    Py_RETURN_NONE;
}

/* canonical(state, candidates) -> (fingerprint, pos or None) | None (see above) */
static PyObject *canonical(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "canonical(state, candidates)");
        return NULL;
    }
    PyObject *s = args[0], *cands = args[1];
    if (!layout_ready || !PyTuple_Check(s) || Py_TYPE(s)->tp_hash != tuple_hash || PyTuple_GET_SIZE(s) != n_fields
        || !PyList_Check(cands))
        Py_RETURN_NONE;
    PyObject *reps = PyTuple_GET_ITEM(s, replicas_field);
    if (!PyTuple_Check(reps))
        Py_RETURN_NONE;
    Py_ssize_t brokers = PyTuple_GET_SIZE(reps);
    Py_ssize_t nc = PyList_GET_SIZE(cands);
    PyObject *best_pos = NULL;
    Py_hash_t best = 0;
    for (Py_ssize_t c = 0; c < nc; c++) {
        PyObject *p = PyList_GET_ITEM(cands, c);
        if (!PyTuple_Check(p))
            Py_RETURN_NONE;
        Py_ssize_t nb = PyTuple_GET_SIZE(p);
        if (nb != brokers || nb > MAX_BROKERS)
            Py_RETURN_NONE;
        long pos[MAX_BROKERS];
        int identity = 1;
        for (Py_ssize_t b = 0; b < nb; b++) {
            if (small_int(PyTuple_GET_ITEM(p, b), &pos[b]) || pos[b] < 0 || pos[b] >= nb)
                Py_RETURN_NONE;
            identity &= pos[b] == b;
        }
        Py_hash_t h;
        if (identity) {
            h = top(s, LOOK);
            if (h == -1 && PyErr_Occurred())
                return NULL;
        } else {
            int rc = renamed_hash(s, pos, nb, &h);
            if (rc == -1)
                return NULL;
            if (rc)
                Py_RETURN_NONE;
        }
        if (c == 0 || h < best) {
            best = h;
            best_pos = identity ? Py_None : p;
        }
    }
    if (best_pos == NULL)
        Py_RETURN_NONE;
    PyObject *fp = PyLong_FromSsize_t(best);
    if (fp == NULL)
        return NULL;
    Py_INCREF(best_pos);
    PyObject *out = PyTuple_New(2);
    if (out == NULL) {
        Py_DECREF(fp);
        Py_DECREF(best_pos);
        return NULL;
    }
    PyTuple_SET_ITEM(out, 0, fp);
    PyTuple_SET_ITEM(out, 1, best_pos);
    return out;
}

/* ---------------------------------------------------------------------------------------
   The whole key of a successor: its candidate renamings and the fingerprint of its
   canonical form, in one call (symmetry.candidates, then canonical above).

   Brokers are put in signature order (model/symmetry.py, _signatures and _order): a
   broker's signature is some of its replica's fields, compared one by one as Python
   compares them, then flags - its replica names it leader, the controller names it
   leader or last known leader, it is in the ISR or the ELR, its entry of a per-broker
   field. Which fields and flags, in which order, is data again (`set_signature`, from
   symmetry.SIGNATURE_LAYOUT). The brokers are sorted stably by signature; equal
   signatures (ties) give every order of each tie group as a candidate, in the order
   itertools.product of itertools.permutations gives them (symmetry._reorderings), and the
   first smallest fingerprint wins as in symmetry.canonical_state.

   key(state) -> fingerprint (the state is its own canonical form) | (fingerprint, pos) |
   None (outside the layouts' shape: the caller takes the Python path). */

#define SIG_REPLICA_IS 0  /* the replica's item at `field` is the broker */
#define SIG_STATE_IS 1    /* the state's field is the broker */
#define SIG_IN 2          /* the broker is in the state's field (a tuple of ids) */
#define SIG_ENTRY 3       /* the broker's entry of the state's per-broker field */

static int signature_ready = 0;
static Py_ssize_t sig_fields[MAX_ITEMS * 2], n_sig_fields;
static int sig_flag_kind[MAX_ITEMS * 2];
static Py_ssize_t sig_flag_field[MAX_ITEMS * 2], n_sig_flags;

static PyObject *pos_cache[MAX_BROKERS + 1][3125]; /* pos tuples for up to 5 brokers, by base-n index */

static int flag_of(PyObject *s, PyObject *r, Py_ssize_t b, int k, long *out)
{
    PyObject *o;
    Py_ssize_t field = sig_flag_field[k];
    long v;
    switch (sig_flag_kind[k]) {
    case SIG_REPLICA_IS:
        if (field >= PyTuple_GET_SIZE(r) || small_int(PyTuple_GET_ITEM(r, field), &v))
            return BAIL;
        *out = v == b;
        return 0;
    case SIG_STATE_IS:
        if (small_int(PyTuple_GET_ITEM(s, field), &v))
            return BAIL;
        *out = v == b;
        return 0;
    case SIG_IN:
        o = PyTuple_GET_ITEM(s, field);
        if (!PyTuple_Check(o))
            return BAIL;
        *out = 0;
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(o); i++) {
            if (small_int(PyTuple_GET_ITEM(o, i), &v))
                return BAIL;
            if (v == b) {
                *out = 1;
                break;
            }
        }
        return 0;
    case SIG_ENTRY:
        o = PyTuple_GET_ITEM(s, field);
        if (!PyTuple_Check(o) || b >= PyTuple_GET_SIZE(o) || small_int(PyTuple_GET_ITEM(o, b), &v))
            return BAIL;
        *out = v;
        return 0;
    }
    return BAIL;
}

/* broker a's signature against broker b's: *out -1, 0 or 1 (symmetry._order) */
static int signature_cmp(PyObject *s, PyObject *reps, Py_ssize_t a, Py_ssize_t b, int *out)
{
    PyObject *ra = PyTuple_GET_ITEM(reps, a), *rb = PyTuple_GET_ITEM(reps, b);
    for (Py_ssize_t k = 0; k < n_sig_fields; k++) {
        Py_ssize_t i = sig_fields[k];
        PyObject *x = PyTuple_GET_ITEM(ra, i), *y = PyTuple_GET_ITEM(rb, i);
        long vx, vy;
        if (x == y)
            continue;
        if (!small_int(x, &vx) && !small_int(y, &vy)) {
            if (vx != vy) {
                *out = vx > vy ? 1 : -1;
                return 0;
            }
            continue;
        }
        int ne = PyObject_RichCompareBool(x, y, Py_NE);
        if (ne < 0)
            return -1;
        if (ne) {
            int gt = PyObject_RichCompareBool(x, y, Py_GT);
            if (gt < 0)
                return -1;
            *out = gt ? 1 : -1;
            return 0;
        }
    }
    for (Py_ssize_t k = 0; k < n_sig_flags; k++) {
        long fa, fb;
        if (flag_of(s, ra, a, (int)k, &fa) || flag_of(s, rb, b, (int)k, &fb))
            return BAIL;
        if (fa != fb) {
            *out = fa > fb ? 1 : -1;
            return 0;
        }
    }
    *out = 0;
    return 0;
}

static PyObject *pos_tuple(const long *pos, Py_ssize_t nb)
{
    PyObject **slot = NULL;
    if (nb <= 5) {
        long index = 0;
        for (Py_ssize_t b = nb - 1; b >= 0; b--)
            index = index * nb + pos[b];
        slot = &pos_cache[nb][index];
        if (*slot != NULL) {
            Py_INCREF(*slot);
            return *slot;
        }
    }
    PyObject *t = PyTuple_New(nb);
    if (t == NULL)
        return NULL;
    for (Py_ssize_t b = 0; b < nb; b++) {
        PyObject *x = PyLong_FromLong(pos[b]);
        if (x == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, b, x);
    }
    if (slot != NULL) {
        Py_INCREF(t);
        *slot = t;
    }
    return t;
}

/* the next permutation of idx[0..n) in lexicographic order; 0 (and idx sorted) after the last */
static int next_permutation(int *idx, int n)
{
    int i = n - 2;
    while (i >= 0 && idx[i] >= idx[i + 1])
        i--;
    if (i < 0) {
        for (int a = 0, b = n - 1; a < b; a++, b--) {
            int x = idx[a];
            idx[a] = idx[b];
            idx[b] = x;
        }
        return 0;
    }
    int j = n - 1;
    while (idx[j] <= idx[i])
        j--;
    int x = idx[i];
    idx[i] = idx[j];
    idx[j] = x;
    for (int a = i + 1, b = n - 1; a < b; a++, b--) {
        x = idx[a];
        idx[a] = idx[b];
        idx[b] = x;
    }
    return 1;
}

static PyObject *key(PyObject *module, PyObject *s)
{
    if (!layout_ready || !signature_ready || !PyTuple_Check(s) || Py_TYPE(s)->tp_hash != tuple_hash
        || PyTuple_GET_SIZE(s) != n_fields)
        Py_RETURN_NONE;
    PyObject *reps = PyTuple_GET_ITEM(s, replicas_field);
    if (!PyTuple_Check(reps))
        Py_RETURN_NONE;
    Py_ssize_t nb = PyTuple_GET_SIZE(reps);
    if (nb < 1 || nb > MAX_BROKERS)
        Py_RETURN_NONE;
    for (Py_ssize_t b = 0; b < nb; b++) {
        PyObject *r = PyTuple_GET_ITEM(reps, b);
        if (!PyTuple_Check(r) || PyTuple_GET_SIZE(r) != n_replica_items)
            Py_RETURN_NONE;
    }
    int cmp[MAX_BROKERS][MAX_BROKERS];
    char known[MAX_BROKERS][MAX_BROKERS];
    memset(known, 0, sizeof known);
    int rc;
    /* the common case: already in strictly increasing signature order */
    int increasing = 1;
    for (Py_ssize_t b = 1; b < nb && increasing; b++) {
        rc = signature_cmp(s, reps, b - 1, b, &cmp[b - 1][b]);
        if (rc == -1)
            return NULL;
        if (rc)
            Py_RETURN_NONE;
        known[b - 1][b] = 1;
        increasing = cmp[b - 1][b] < 0;
    }
    if (increasing) {
        Py_hash_t h = top(s, LOOK);
        if (h == -1 && PyErr_Occurred())
            return NULL;
        return PyLong_FromSsize_t(h);
    }
    /* a stable insertion sort of the brokers by signature */
    int order[MAX_BROKERS];
    for (Py_ssize_t k = 0; k < nb; k++) {
        int x = (int)k;
        Py_ssize_t j = k;
        while (j > 0) {
            int a = order[j - 1], c;
            if (!known[a][x]) {
                rc = signature_cmp(s, reps, a, x, &cmp[a][x]);
                if (rc == -1)
                    return NULL;
                if (rc)
                    Py_RETURN_NONE;
                known[a][x] = 1;
            }
            c = cmp[a][x];
            if (c <= 0)
                break;
            order[j] = order[j - 1];
            j--;
        }
        order[j] = x;
    }
    /* tie groups: runs of equal signatures in that order */
    int group_start[MAX_BROKERS + 1], n_groups = 0;
    for (Py_ssize_t k = 0; k < nb; k++) {
        int equal = 0;
        if (k > 0) {
            int a = order[k - 1], x = order[k];
            if (!known[a][x]) {
                rc = signature_cmp(s, reps, a, x, &cmp[a][x]);
                if (rc == -1)
                    return NULL;
                if (rc)
                    Py_RETURN_NONE;
                known[a][x] = 1;
            }
            equal = cmp[a][x] == 0;
        }
        if (!equal)
            group_start[n_groups++] = (int)k;
    }
    group_start[n_groups] = (int)nb;
    /* every choice of an order within each group: itertools.product(*permutations(g)) */
    int perm[MAX_BROKERS]; /* per position: an index into its group's members, in sorted order */
    for (int g = 0; g < n_groups; g++)
        for (int k = group_start[g]; k < group_start[g + 1]; k++)
            perm[k] = k - group_start[g];
    long best_pos[MAX_BROKERS];
    int best_identity = 0, first = 1;
    Py_hash_t best = 0;
    for (;;) {
        long pos[MAX_BROKERS];
        int identity = 1;
        for (int g = 0; g < n_groups; g++)
            for (int k = group_start[g]; k < group_start[g + 1]; k++) {
                int old = order[group_start[g] + perm[k]];
                pos[old] = k;
            }
        for (Py_ssize_t b = 0; b < nb; b++)
            identity &= pos[b] == b;
        Py_hash_t h;
        if (identity) {
            h = top(s, LOOK);
            if (h == -1 && PyErr_Occurred())
                return NULL;
        } else {
            rc = renamed_hash(s, pos, nb, &h);
            if (rc == -1)
                return NULL;
            if (rc)
                Py_RETURN_NONE;
        }
        if (first || h < best) {
            first = 0;
            best = h;
            best_identity = identity;
            memcpy(best_pos, pos, sizeof(long) * nb);
        }
        /* the next choice: the last group varies fastest */
        int g = n_groups - 1;
        while (g >= 0 && !next_permutation(perm + group_start[g], group_start[g + 1] - group_start[g]))
            g--;
        if (g < 0)
            break;
    }
    PyObject *fp = PyLong_FromSsize_t(best);
    if (fp == NULL || best_identity)
        return fp;
    PyObject *p = pos_tuple(best_pos, nb);
    if (p == NULL) {
        Py_DECREF(fp);
        return NULL;
    }
    PyObject *out = PyTuple_New(2);
    if (out == NULL) {
        Py_DECREF(fp);
        Py_DECREF(p);
        return NULL;
    }
    PyTuple_SET_ITEM(out, 0, fp);
    PyTuple_SET_ITEM(out, 1, p);
    return out;
}

static PyObject *set_signature(PyObject *module, PyObject *args)
{
    PyObject *fields, *flags;
    if (!PyArg_ParseTuple(args, "O!O!", &PyTuple_Type, &fields, &PyTuple_Type, &flags))
        return NULL;
    signature_ready = 0;
    if (!layout_ready) {
        PyErr_SetString(PyExc_ValueError, "set_signature: set_layout first");
        return NULL;
    }
    if (PyTuple_GET_SIZE(fields) > MAX_ITEMS * 2 || PyTuple_GET_SIZE(flags) > MAX_ITEMS * 2) {
        PyErr_SetString(PyExc_ValueError, "set_signature: too many fields or flags");
        return NULL;
    }
    n_sig_fields = PyTuple_GET_SIZE(fields);
    for (Py_ssize_t k = 0; k < n_sig_fields; k++) {
        long i = PyLong_AsLong(PyTuple_GET_ITEM(fields, k));
        if (i == -1 && PyErr_Occurred())
            return NULL;
        if (i < 0 || i >= n_replica_items) {
            PyErr_SetString(PyExc_ValueError, "set_signature: a replica field out of range");
            return NULL;
        }
        sig_fields[k] = i;
    }
    n_sig_flags = PyTuple_GET_SIZE(flags);
    for (Py_ssize_t k = 0; k < n_sig_flags; k++) {
        int kind;
        Py_ssize_t field;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(flags, k), "in", &kind, &field))
            return NULL;
        Py_ssize_t limit = kind == SIG_REPLICA_IS ? n_replica_items : n_fields;
        if (kind < SIG_REPLICA_IS || kind > SIG_ENTRY || field < 0 || field >= limit) {
            PyErr_SetString(PyExc_ValueError, "set_signature: a flag of unknown kind or out of range");
            return NULL;
        }
        sig_flag_kind[k] = kind;
        sig_flag_field[k] = field;
    }
    signature_ready = 1;
    Py_RETURN_NONE;
}

static PyObject *remember(PyObject *module, PyObject *obj)
{
    Py_hash_t h = top(obj, KEEP);
    if (h == -1 && PyErr_Occurred())
        return NULL;
    return PyLong_FromSsize_t(h);
}

static PyObject *clear(PyObject *module, PyObject *unused)
{
    for (size_t i = 0; i < TABLE_SIZE; i++) {
        PyObject *old = table[i].obj;
        table[i].obj = NULL;
        Py_XDECREF(old);
    }
    Py_RETURN_NONE;
}

static PyObject *held(PyObject *module, PyObject *unused)
{
    Py_ssize_t n = 0;
    for (size_t i = 0; i < TABLE_SIZE; i++)
        n += table[i].obj != NULL;
    return PyLong_FromSsize_t(n);
}

static PyMethodDef methods[] = {
    {"fingerprint", fingerprint, METH_O,
     "fingerprint(obj) -> hash(obj), using the remembered hashes of the tuples inside it."},
    {"remember", remember, METH_O,
     "remember(obj) -> hash(obj), and remember the hashes of the tuples inside it (by identity)."},
    {"clear", clear, METH_NOARGS, "clear() -> None: forget every remembered hash (and drop its tuple)."},
    {"set_layout", set_layout, METH_VARARGS,
     "set_layout(state_kinds, replica_kinds, messages) -> None: what a renaming of brokers does to each field."},
    {"canonical", (PyCFunction)(void (*)(void))canonical, METH_FASTCALL,
     "canonical(state, candidates) -> (smallest fingerprint of a renamed state, its pos or None) | None."},
    {"set_signature", set_signature, METH_VARARGS,
     "set_signature(replica_fields, flags) -> None: what a broker's signature is made of (after set_layout)."},
    {"key", key, METH_O,
     "key(state) -> fingerprint | (fingerprint, pos) | None: the fingerprint of the state's canonical form."},
    {"held", held, METH_NOARGS, "held() -> the number of tuples whose hash is remembered."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_fingerprint",
    "hash(state) with the hashes of shared subtrees remembered (see the C source's header).",
    -1, methods,
};

PyMODINIT_FUNC PyInit__fingerprint(void)
{
    tuple_hash = PyTuple_Type.tp_hash;
    long_hash = PyLong_Type.tp_hash;
    return PyModule_Create(&module_def);
}
