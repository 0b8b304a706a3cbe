/* tuple.__new__(cls, items) for the model's NamedTuples, without its detours.

   The model builds every next state as `_new(State, fields)`: the state's fields in a list,
   turned into a State (a NamedTuple: a tuple subclass). `tuple.__new__(State, fields)`
   gets there by way of the argument tuples of a slot wrapper, its argument parsing, and a
   plain tuple built from the list that is then copied into the State and dropped
   (Objects/tupleobject.c, tuple_subtype_new). `build(cls, items)` allocates the instance
   with the class's own allocator and puts the items in it, as tuple_subtype_new does
   last: the same object, the same type, the same items, two allocations and copies fewer.

   Only a list or an exact tuple of items is taken, for a class that is tuple itself or a
   subclass of it with tuple's item layout (every NamedTuple: no instance dict, no extra
   slots); anything else is handed to tuple.__new__, so the result is always what
   tuple.__new__ returns. tests/test_compiled.py compares the two. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static PyObject *tuple_new_method; /* tuple.__new__ */

static PyObject *build(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs == 2 && PyType_Check(args[0])) {
        PyTypeObject *cls = (PyTypeObject *)args[0];
        PyObject *seq = args[1];
        PyObject **items = NULL;
        Py_ssize_t n = -1;
        if (PyList_CheckExact(seq)) {
            n = PyList_GET_SIZE(seq);
            items = ((PyListObject *)seq)->ob_item;
        } else if (PyTuple_CheckExact(seq)) {
            n = PyTuple_GET_SIZE(seq);
            items = ((PyTupleObject *)seq)->ob_item;
        }
        if (n >= 0) {
            PyObject *out = NULL;
            if (cls == &PyTuple_Type) {
                out = PyTuple_New(n);
            } else if (PyType_IsSubtype(cls, &PyTuple_Type) && cls->tp_basicsize == PyTuple_Type.tp_basicsize
                       && cls->tp_itemsize == PyTuple_Type.tp_itemsize && cls->tp_dictoffset == 0
                       && cls->tp_alloc != NULL) {
                out = cls->tp_alloc(cls, n);
            } else {
                goto general;
            }
            if (out == NULL)
                return NULL;
            for (Py_ssize_t i = 0; i < n; i++) {
                PyObject *x = items[i];
                Py_INCREF(x);
                PyTuple_SET_ITEM(out, i, x);
            }
            return out;
        }
    }
general:
    return PyObject_Vectorcall(tuple_new_method, args, nargs, NULL);
}

/* reduce(obj) -> (tuple.__new__, (type(obj), tuple(obj))): how pickle saves a NamedTuple of
   the state (registered with copyreg by model/state.py). Without it pickle calls the
   NamedTuple's __reduce_ex__ and its __getnewargs__, Python code for every object, and
   loads it through the NamedTuple's __new__, Python code again; this is C at both ends,
   and what it writes names only the builtin tuple.__new__, so it loads in any build. */
static PyObject *reduce(PyObject *module, PyObject *obj)
{
    if (!PyTuple_Check(obj)) {
        PyErr_SetString(PyExc_TypeError, "reduce: a tuple");
        return NULL;
    }
    PyObject *items = PyTuple_GetSlice(obj, 0, PyTuple_GET_SIZE(obj)); /* (an exact tuple) */
    if (items == NULL)
        return NULL;
    PyObject *out = Py_BuildValue("(O(ON))", tuple_new_method, (PyObject *)Py_TYPE(obj), items);
    return out;
}

/* ---------------------------------------------------------------------------------------
   pack(obj) -> bytes and unpack(bytes) -> obj: a compact binary form of the model's states
   for the explorer's files on disk (a level past the memory budget, written once and read
   back once by the same run: checker/engines/spill.py), several times cheaper than pickle
   at both ends.

   What it takes: None, bools, ints of at most 64 bits, strings, exact tuples and lists,
   and the NamedTuple classes given to `register` (by index, at most 255). A tuple or
   string held more than once may be shared in the tree (a successor shares most of its
   subtrees with its parent, and a chunk holds siblings): such an object is written once,
   with a flag, and later occurrences refer back to it, so the tree comes back with the
   same sharing (as pickle's memo does). Anything else raises TypeError, and the caller
   pickles instead. unpack checks every length and index against the data and raises
   ValueError on a malformed or truncated input.

   Opcodes (one byte; MEMO (0x80) set on a string, tuple, list or NamedTuple that later
   occurrences refer back to, by its index in order of first occurrence):
     0 None, 1 False, 2 True, 3 int8, 4 int32, 5 int64 (little-endian),
     6 string (length, UTF-8), 7 tuple (length, items), 8 list (length, items),
     9 NamedTuple (u8 class index, length, items), 10 back reference (u32 index);
   a length is one byte below 255, else 255 and a u32. */

#define OP_NONE 0
#define OP_FALSE 1
#define OP_TRUE 2
#define OP_INT8 3
#define OP_INT32 4
#define OP_INT64 5
#define OP_STR 6
#define OP_TUPLE 7
#define OP_LIST 8
#define OP_NAMED 9
#define OP_REF 10
#define MEMO 0x80
#define MAX_DEPTH 64

static PyObject *registered; /* a tuple of classes */

typedef struct {
    char *buf;
    Py_ssize_t len, cap;
    PyObject **keys; /* open addressing, by identity: the objects written with MEMO */
    uint32_t *vals;
    Py_ssize_t slots, used;
    uint32_t next;
} writer;

static int grow(writer *w, Py_ssize_t need)
{
    if (w->len + need <= w->cap)
        return 0;
    Py_ssize_t cap = w->cap ? w->cap : 4096;
    while (cap < w->len + need)
        cap *= 2;
    char *b = PyMem_Realloc(w->buf, cap);
    if (b == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    w->buf = b;
    w->cap = cap;
    return 0;
}

static inline int put(writer *w, const void *p, Py_ssize_t n)
{
    if (grow(w, n))
        return -1;
    memcpy(w->buf + w->len, p, n);
    w->len += n;
    return 0;
}

static inline int put_u8(writer *w, unsigned char c) { return put(w, &c, 1); }

static inline int put_u32(writer *w, uint32_t v)
{
    unsigned char b[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >> 24) & 0xff};
    return put(w, b, 4);
}

/* a length: one byte below 255, else 255 and four bytes */
static inline int put_len(writer *w, Py_ssize_t n)
{
    if (n < 255)
        return put_u8(w, (unsigned char)n);
    return put_u8(w, 255) || put_u32(w, (uint32_t)n);
}

static inline size_t memo_slot(writer *w, PyObject *o)
{
    uintptr_t p = (uintptr_t)o;
    return (size_t)((p >> 4) * 11400714819323198485ull >> 20) & (size_t)(w->slots - 1);
}

/* the object's back-reference index, or -1 (and it is recorded as the next index) */
static long memo_find_or_add(writer *w, PyObject *o)
{
    if (w->used * 2 >= w->slots) {
        Py_ssize_t old_slots = w->slots;
        PyObject **old_keys = w->keys;
        uint32_t *old_vals = w->vals;
        w->slots = old_slots ? old_slots * 2 : 1024;
        w->keys = PyMem_Calloc(w->slots, sizeof(PyObject *));
        w->vals = PyMem_Malloc(w->slots * sizeof(uint32_t));
        if (w->keys == NULL || w->vals == NULL) {
            PyErr_NoMemory();
            return -2;
        }
        for (Py_ssize_t i = 0; i < old_slots; i++)
            if (old_keys[i] != NULL) {
                size_t j = memo_slot(w, old_keys[i]);
                while (w->keys[j] != NULL)
                    j = (j + 1) & (w->slots - 1);
                w->keys[j] = old_keys[i];
                w->vals[j] = old_vals[i];
            }
        PyMem_Free(old_keys);
        PyMem_Free(old_vals);
    }
    size_t j = memo_slot(w, o);
    while (w->keys[j] != NULL) {
        if (w->keys[j] == o)
            return (long)w->vals[j];
        j = (j + 1) & (w->slots - 1);
    }
    w->keys[j] = o;
    w->vals[j] = w->next++;
    w->used++;
    return -1;
}

static int pack_obj(writer *w, PyObject *o, int depth)
{
    if (depth > MAX_DEPTH) {
        PyErr_SetString(PyExc_ValueError, "pack: nested too deep");
        return -1;
    }
    if (o == Py_None)
        return put_u8(w, OP_NONE);
    if (o == Py_False)
        return put_u8(w, OP_FALSE);
    if (o == Py_True)
        return put_u8(w, OP_TRUE);
    PyTypeObject *t = Py_TYPE(o);
    if (t == &PyLong_Type) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (v == -1 && PyErr_Occurred())
            return -1;
        if (overflow) {
            PyErr_SetString(PyExc_TypeError, "pack: an int beyond 64 bits");
            return -1;
        }
        if (v >= -128 && v <= 127) {
            unsigned char b[2] = {OP_INT8, (unsigned char)(signed char)v};
            return put(w, b, 2);
        }
        if (v >= INT32_MIN && v <= INT32_MAX) {
            uint32_t u = (uint32_t)(int32_t)v;
            return put_u8(w, OP_INT32) || put_u32(w, u);
        }
        uint64_t u = (uint64_t)v;
        return put_u8(w, OP_INT64) || put_u32(w, (uint32_t)(u & 0xffffffffu)) || put_u32(w, (uint32_t)(u >> 32));
    }
    int op;
    int cls = -1;
    if (t == &PyUnicode_Type)
        op = OP_STR;
    else if (t == &PyTuple_Type)
        op = OP_TUPLE;
    else if (t == &PyList_Type)
        op = OP_LIST;
    else {
        op = OP_NAMED;
        Py_ssize_t n = registered ? PyTuple_GET_SIZE(registered) : 0;
        for (Py_ssize_t i = 0; i < n; i++)
            if ((PyObject *)t == PyTuple_GET_ITEM(registered, i)) {
                cls = (int)i;
                break;
            }
        if (cls < 0) {
            PyErr_Format(PyExc_TypeError, "pack: cannot pack a %.100s", t->tp_name);
            return -1;
        }
    }
    int flag = 0;
    if (Py_REFCNT(o) > 1 && op != OP_LIST) { /* (it may occur again: share it) */
        long ref = memo_find_or_add(w, o);
        if (ref == -2)
            return -1;
        if (ref >= 0)
            return put_u8(w, OP_REF) || put_u32(w, (uint32_t)ref);
        flag = MEMO;
    }
    if (op == OP_STR) {
        Py_ssize_t size;
        const char *utf8 = PyUnicode_AsUTF8AndSize(o, &size);
        if (utf8 == NULL)
            return -1;
        return put_u8(w, (unsigned char)(OP_STR | flag)) || put_len(w, size) || put(w, utf8, size);
    }
    Py_ssize_t n = op == OP_LIST ? PyList_GET_SIZE(o) : PyTuple_GET_SIZE(o);
    if (put_u8(w, (unsigned char)(op | flag)))
        return -1;
    if (op == OP_NAMED && put_u8(w, (unsigned char)cls))
        return -1;
    if (put_len(w, n))
        return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = op == OP_LIST ? PyList_GET_ITEM(o, i) : PyTuple_GET_ITEM(o, i);
        if (pack_obj(w, item, depth + 1))
            return -1;
    }
    return 0;
}

static PyObject *pack(PyObject *module, PyObject *obj)
{
    writer w = {0};
    PyObject *out = NULL;
    if (put(&w, "AK1", 3) == 0 && pack_obj(&w, obj, 0) == 0)
        out = PyBytes_FromStringAndSize(w.buf, w.len);
    PyMem_Free(w.buf);
    PyMem_Free(w.keys);
    PyMem_Free(w.vals);
    return out;
}

typedef struct {
    const unsigned char *p, *end;
    PyObject **memo;
    Py_ssize_t n_memo, cap_memo;
} reader;

static PyObject *corrupt(const char *why)
{
    PyErr_Format(PyExc_ValueError, "unpack: malformed input (%s)", why);
    return NULL;
}

static inline int get_u32(reader *r, uint32_t *v)
{
    if (r->end - r->p < 4)
        return -1;
    *v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[3] << 24;
    r->p += 4;
    return 0;
}

static inline int get_len(reader *r, uint32_t *n)
{
    if (r->p >= r->end)
        return -1;
    *n = *r->p++;
    return *n == 255 ? get_u32(r, n) : 0;
}

static PyObject *unpack_obj(reader *r, int depth)
{
    if (depth > MAX_DEPTH)
        return corrupt("nested too deep");
    if (r->p >= r->end)
        return corrupt("truncated");
    int byte = *r->p++;
    int op = byte & ~MEMO, flag = byte & MEMO;
    uint32_t u, n;
    switch (op) {
    case OP_NONE:
        Py_RETURN_NONE;
    case OP_FALSE:
        Py_RETURN_FALSE;
    case OP_TRUE:
        Py_RETURN_TRUE;
    case OP_INT8:
        if (r->p >= r->end)
            return corrupt("truncated");
        return PyLong_FromLong((signed char)*r->p++);
    case OP_INT32:
        if (get_u32(r, &u))
            return corrupt("truncated");
        return PyLong_FromLong((int32_t)u);
    case OP_INT64: {
        uint32_t hi;
        if (get_u32(r, &u) || get_u32(r, &hi))
            return corrupt("truncated");
        return PyLong_FromLongLong((long long)((uint64_t)hi << 32 | u));
    }
    case OP_REF:
        if (get_u32(r, &u))
            return corrupt("truncated");
        if (u >= r->n_memo || r->memo[u] == NULL)
            return corrupt("a reference to nothing");
        Py_INCREF(r->memo[u]);
        return r->memo[u];
    case OP_STR: case OP_TUPLE: case OP_LIST: case OP_NAMED:
        break;
    default:
        return corrupt("unknown opcode");
    }
    Py_ssize_t slot = -1;
    if (flag) {
        if (op == OP_LIST)
            return corrupt("a shared list");
        if (r->n_memo == r->cap_memo) {
            Py_ssize_t cap = r->cap_memo ? r->cap_memo * 2 : 1024;
            PyObject **m = PyMem_Realloc(r->memo, cap * sizeof(PyObject *));
            if (m == NULL)
                return PyErr_NoMemory();
            r->memo = m;
            r->cap_memo = cap;
        }
        slot = r->n_memo++;
        r->memo[slot] = NULL; /* (filled once the object is read) */
    }
    PyObject *out;
    if (op == OP_STR) {
        if (get_len(r, &n) || r->end - r->p < (Py_ssize_t)n)
            return corrupt("truncated");
        out = PyUnicode_DecodeUTF8((const char *)r->p, n, "strict");
        r->p += n;
    } else {
        PyTypeObject *cls = &PyTuple_Type;
        if (op == OP_NAMED) {
            if (r->p >= r->end)
                return corrupt("truncated");
            int k = *r->p++;
            if (registered == NULL || k >= PyTuple_GET_SIZE(registered))
                return corrupt("an unknown class");
            cls = (PyTypeObject *)PyTuple_GET_ITEM(registered, k);
        }
        if (get_len(r, &n) || (Py_ssize_t)n > r->end - r->p)
            return corrupt("truncated");
        out = op == OP_LIST ? PyList_New(n) : op == OP_TUPLE ? PyTuple_New(n) : cls->tp_alloc(cls, n);
        if (out == NULL)
            return NULL;
        for (uint32_t i = 0; i < n; i++) {
            PyObject *item = unpack_obj(r, depth + 1);
            if (item == NULL) {
                Py_DECREF(out);
                return NULL;
            }
            if (op == OP_LIST)
                PyList_SET_ITEM(out, i, item);
            else
                PyTuple_SET_ITEM(out, i, item);
        }
    }
    if (out != NULL && slot >= 0) {
        Py_INCREF(out);
        r->memo[slot] = out;
    }
    return out;
}

static PyObject *unpack(PyObject *module, PyObject *data)
{
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE))
        return NULL;
    reader r = {(const unsigned char *)view.buf, (const unsigned char *)view.buf + view.len, NULL, 0, 0};
    PyObject *out = NULL;
    if (view.len < 3 || memcmp(view.buf, "AK1", 3) != 0)
        corrupt("not packed by pack()");
    else {
        r.p += 3;
        out = unpack_obj(&r, 0);
        if (out != NULL && r.p != r.end) {
            Py_DECREF(out);
            out = corrupt("trailing bytes");
        }
    }
    for (Py_ssize_t i = 0; i < r.n_memo; i++)
        Py_XDECREF(r.memo[i]);
    PyMem_Free(r.memo);
    PyBuffer_Release(&view);
    return out;
}

static PyObject *register_classes(PyObject *module, PyObject *classes)
{
    if (!PyTuple_Check(classes) || PyTuple_GET_SIZE(classes) > 255) {
        PyErr_SetString(PyExc_TypeError, "register: a tuple of at most 255 classes");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(classes); i++) {
        PyObject *c = PyTuple_GET_ITEM(classes, i);
        PyTypeObject *t = (PyTypeObject *)c;
        if (!PyType_Check(c) || !PyType_IsSubtype(t, &PyTuple_Type) || t == &PyTuple_Type
            || t->tp_basicsize != PyTuple_Type.tp_basicsize || t->tp_itemsize != PyTuple_Type.tp_itemsize
            || t->tp_dictoffset != 0) {
            PyErr_SetString(PyExc_TypeError, "register: tuple subclasses with tuple's layout (NamedTuples)");
            return NULL;
        }
    }
    Py_INCREF(classes);
    Py_XSETREF(registered, classes);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"build", (PyCFunction)(void (*)(void))build, METH_FASTCALL,
     "build(cls, items) -> tuple.__new__(cls, items), for a list or tuple of items and a tuple class."},
    {"pack", pack, METH_O, "pack(obj) -> bytes: states and their parts in a compact binary form (see the C source)."},
    {"unpack", unpack, METH_O, "unpack(data) -> obj: the inverse of pack."},
    {"register", register_classes, METH_O, "register(classes) -> None: the NamedTuple classes pack encodes."},
    {"reduce", reduce, METH_O, "reduce(obj) -> (tuple.__new__, (type(obj), tuple(obj))): a NamedTuple for pickle."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_tuples", "tuple.__new__ for the model's NamedTuples (see the C source's header).",
    -1, methods,
};

PyMODINIT_FUNC PyInit__tuples(void)
{
    tuple_new_method = PyObject_GetAttrString((PyObject *)&PyTuple_Type, "__new__");
    if (tuple_new_method == NULL)
        return NULL;
    return PyModule_Create(&module_def);
}
