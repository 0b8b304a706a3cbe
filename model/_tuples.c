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

static PyMethodDef methods[] = {
    {"build", (PyCFunction)(void (*)(void))build, METH_FASTCALL,
     "build(cls, items) -> tuple.__new__(cls, items), for a list or tuple of items and a tuple class."},
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
