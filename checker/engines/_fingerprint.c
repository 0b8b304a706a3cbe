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
