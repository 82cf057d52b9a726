/* Avro binary readers run in C: consumer/avro_plan.py turns a writer schema into a plan (nested
 * tuples, one per schema node), Reader(plan, DecodeError) keeps it as a tree of C nodes, and
 * Reader.read(buf, pos) -> (record, end) walks that tree for each record. It builds what the
 * generated Python readers of avro_reader.py build, fastavro's records, without an interpreted
 * bytecode per field: decoding was most of what an Avro message cost the poll thread.
 *
 * Every read is bounds-checked: bytes that end too soon, lengths, counts and indexes out of
 * range raise DecodeError, invalid UTF-8 UnicodeDecodeError, a timestamp outside years 1-9999
 * OverflowError (the caller reads such a record as plain ints), as the Python readers do.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <stdint.h>
#include <string.h>

/* Node kinds: the first item of each plan tuple (avro_plan.py has the same numbers). */
enum {
    K_NULL, K_BOOLEAN, K_LONG, K_FLOAT, K_DOUBLE, K_BYTES, K_STRING, K_RECORD, K_ENUM, K_FIXED,
    K_ARRAY, K_MAP, K_UNION, K_TIMESTAMP_MILLIS, K_TIMESTAMP_MICROS, K_LOGICAL, K_COUNT
};

typedef struct Node {
    int kind;
    Py_ssize_t count;        /* record fields, union branches, fixed size */
    struct Node **children;  /* record fields, union branches; one for array, map, logical */
    PyObject **names;        /* record field names (interned) */
    PyObject *symbols;       /* enum: a tuple of str */
    PyObject *convert;       /* logical: fastavro's converter, called (value, schema, None) */
    PyObject *schema;        /* logical: the schema the converter is given */
} Node;

typedef struct {
    const unsigned char *buf;
    Py_ssize_t size;
    Py_ssize_t pos;
    PyObject *decode_error;
} Cursor;

/* Days from 0001-01-01 and to 9999-12-31, counted from 1970-01-01: what datetime holds. */
#define FIRST_DAY (-719162LL)
#define LAST_DAY 2932896LL

static void node_free(Node *node) {
    if (node == NULL) return;
    if (node->children != NULL) {
        Py_ssize_t n = node->kind == K_RECORD || node->kind == K_UNION ? node->count : 1;
        for (Py_ssize_t i = 0; i < n; i++) node_free(node->children[i]);
        PyMem_Free(node->children);
    }
    if (node->names != NULL) {
        for (Py_ssize_t i = 0; i < node->count; i++) Py_XDECREF(node->names[i]);
        PyMem_Free(node->names);
    }
    Py_XDECREF(node->symbols);
    Py_XDECREF(node->convert);
    Py_XDECREF(node->schema);
    PyMem_Free(node);
}

static Node *node_from_plan(PyObject *plan);

static int plan_children(Node *node, PyObject *plans, Py_ssize_t n) {
    if (!PyTuple_Check(plans) || PyTuple_GET_SIZE(plans) != n) {
        PyErr_SetString(PyExc_TypeError, "a plan's children must be a tuple of its size");
        return -1;
    }
    node->children = PyMem_Calloc(n ? n : 1, sizeof(Node *));
    if (node->children == NULL) return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        node->children[i] = node_from_plan(PyTuple_GET_ITEM(plans, i));
        if (node->children[i] == NULL) return -1;
    }
    return 0;
}

static Node *node_from_plan(PyObject *plan) {
    if (!PyTuple_Check(plan) || PyTuple_GET_SIZE(plan) < 1) {
        PyErr_SetString(PyExc_TypeError, "a plan node must be a non-empty tuple");
        return NULL;
    }
    long kind = PyLong_AsLong(PyTuple_GET_ITEM(plan, 0));
    if (kind == -1 && PyErr_Occurred()) return NULL;
    if (kind < 0 || kind >= K_COUNT) {
        PyErr_Format(PyExc_ValueError, "unknown plan node kind %ld", kind);
        return NULL;
    }
    Py_ssize_t size = PyTuple_GET_SIZE(plan);
    static const Py_ssize_t sizes[K_COUNT] = {1, 1, 1, 1, 1, 1, 1, 3, 2, 2, 2, 2, 2, 1, 1, 4};
    if (size != sizes[kind]) {
        PyErr_Format(PyExc_ValueError, "a plan node of kind %ld has %zd items", kind, size);
        return NULL;
    }
    Node *node = PyMem_Calloc(1, sizeof(Node));
    if (node == NULL) return (Node *)PyErr_NoMemory();
    node->kind = (int)kind;
    PyObject *first = size > 1 ? PyTuple_GET_ITEM(plan, 1) : NULL;
    switch (kind) {
    case K_RECORD: {
        PyObject *names = first;
        if (!PyTuple_Check(names)) goto bad;
        node->count = PyTuple_GET_SIZE(names);
        node->names = PyMem_Calloc(node->count ? node->count : 1, sizeof(PyObject *));
        if (node->names == NULL) goto fail;
        for (Py_ssize_t i = 0; i < node->count; i++) {
            PyObject *name = PyTuple_GET_ITEM(names, i);
            if (!PyUnicode_Check(name)) goto bad;
            Py_INCREF(name);
            PyUnicode_InternInPlace(&name);
            node->names[i] = name;
        }
        if (plan_children(node, PyTuple_GET_ITEM(plan, 2), node->count) < 0) goto fail;
        break;
    }
    case K_UNION:
        if (!PyTuple_Check(first)) goto bad;
        node->count = PyTuple_GET_SIZE(first);
        if (plan_children(node, first, node->count) < 0) goto fail;
        break;
    case K_ENUM:
        if (!PyTuple_Check(first)) goto bad;
        node->symbols = Py_NewRef(first);
        node->count = PyTuple_GET_SIZE(first);
        break;
    case K_FIXED:
        node->count = PyLong_AsSsize_t(first);
        if (node->count < 0) goto bad;
        break;
    case K_LOGICAL:
        node->convert = Py_NewRef(PyTuple_GET_ITEM(plan, 2));
        node->schema = Py_NewRef(PyTuple_GET_ITEM(plan, 3));
        /* like an array or a map, it has one child: the value it converts */
        /* fall through */
    case K_ARRAY:
    case K_MAP:
        node->children = PyMem_Calloc(1, sizeof(Node *));
        if (node->children == NULL || (node->children[0] = node_from_plan(first)) == NULL)
            goto fail;
        break;
    default:
        break;
    }
    return node;
bad:
    if (!PyErr_Occurred()) PyErr_Format(PyExc_ValueError, "a malformed plan node of kind %ld", kind);
fail:
    node_free(node);
    return NULL;
}

/* ---- reading ------------------------------------------------------------------------------ */

static int ended(Cursor *c) {
    PyErr_Format(c->decode_error, "the value ends at byte %zd, before its record does", c->size);
    return -1;
}

static int read_long(Cursor *c, int64_t *out) {
    uint64_t acc = 0;
    for (int shift = 0;; shift += 7) {
        if (shift > 63) {
            PyErr_SetString(c->decode_error, "a varint longer than 10 bytes");
            return -1;
        }
        if (c->pos >= c->size) return ended(c);
        unsigned b = c->buf[c->pos++];
        acc |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) break;
    }
    *out = (int64_t)((acc >> 1) ^ (~(acc & 1) + 1));   /* zigzag */
    return 0;
}

/* A length followed by that many bytes: where they start, in *start. */
static int read_sized(Cursor *c, Py_ssize_t *start, Py_ssize_t *length) {
    int64_t n;
    if (read_long(c, &n) < 0) return -1;
    if (n < 0 || n > c->size - c->pos) {
        PyErr_Format(c->decode_error, "a length of %lld at %zd", (long long)n, c->pos);
        return -1;
    }
    *start = c->pos;
    *length = (Py_ssize_t)n;
    c->pos += (Py_ssize_t)n;
    return 0;
}

static PyObject *read_string(Cursor *c) {
    Py_ssize_t start, length;
    if (read_sized(c, &start, &length) < 0) return NULL;
    return PyUnicode_DecodeUTF8((const char *)c->buf + start, length, NULL);
}

static PyObject *utc_datetime(int64_t ticks, int64_t per_second) {
    const int64_t per_day = 86400 * per_second;
    int64_t days = ticks / per_day, rest = ticks % per_day;
    if (rest < 0) {
        rest += per_day;
        days -= 1;
    }
    if (days < FIRST_DAY || days > LAST_DAY) {
        PyErr_SetString(PyExc_OverflowError, "date value out of range");
        return NULL;
    }
    /* the proleptic Gregorian date of a day count (H. Hinnant's civil_from_days) */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int day = (int)(doy - (153 * mp + 2) / 5 + 1);
    int month = (int)(mp < 10 ? mp + 3 : mp - 9);
    int year = (int)(yoe + era * 400 + (month <= 2));
    int64_t seconds = rest / per_second;
    int micros = (int)(rest % per_second * (1000000 / per_second));
    return PyDateTimeAPI->DateTime_FromDateAndTime(
        year, month, day, (int)(seconds / 3600), (int)(seconds / 60 % 60), (int)(seconds % 60),
        micros, PyDateTime_TimeZone_UTC, PyDateTimeAPI->DateTimeType);
}

/* An enum's symbol or a union's branch: its index, checked against how many there are. */
static int read_index(Cursor *c, Py_ssize_t count, const char *what, Py_ssize_t *index) {
    int64_t n;
    if (read_long(c, &n) < 0) return -1;
    if (n < 0 || n >= count) {
        PyErr_Format(c->decode_error, "%s index %lld", what, (long long)n);
        return -1;
    }
    *index = (Py_ssize_t)n;
    return 0;
}

static PyObject *read_node(Node *node, Cursor *c);

static PyObject *read_record(Node *node, Cursor *c) {
    PyObject *record = _PyDict_NewPresized(node->count);
    if (record == NULL) return NULL;
    for (Py_ssize_t i = 0; i < node->count; i++) {
        PyObject *value = read_node(node->children[i], c);
        if (value == NULL || PyDict_SetItem(record, node->names[i], value) < 0) {
            Py_XDECREF(value);
            Py_DECREF(record);
            return NULL;
        }
        Py_DECREF(value);
    }
    return record;
}

/* The count of the next block of an array or map (0: the end); each item takes a byte or more,
 * so a count larger than the bytes left is corrupt, and caught before anything is allocated. */
static int read_block_count(Cursor *c, Py_ssize_t *count) {
    int64_t n, block_bytes;
    if (read_long(c, &n) < 0) return -1;
    if (n < 0) {
        if (read_long(c, &block_bytes) < 0) return -1;
        n = n == INT64_MIN ? INT64_MAX : -n;
    }
    if (n > c->size - c->pos) {
        PyErr_Format(c->decode_error, "a block of %lld items at %zd", (long long)n, c->pos);
        return -1;
    }
    *count = (Py_ssize_t)n;
    return 0;
}

static PyObject *read_array(Node *node, Cursor *c) {
    PyObject *items = PyList_New(0);
    Py_ssize_t count;
    while (items != NULL) {
        if (read_block_count(c, &count) < 0) break;
        if (count == 0) return items;
        for (Py_ssize_t i = 0; i < count; i++) {
            PyObject *item = read_node(node->children[0], c);
            if (item == NULL || PyList_Append(items, item) < 0) {
                Py_XDECREF(item);
                Py_DECREF(items);
                return NULL;
            }
            Py_DECREF(item);
        }
    }
    Py_XDECREF(items);
    return NULL;
}

static PyObject *read_map(Node *node, Cursor *c) {
    PyObject *map = PyDict_New();
    Py_ssize_t count;
    while (map != NULL) {
        if (read_block_count(c, &count) < 0) break;
        if (count == 0) return map;
        for (Py_ssize_t i = 0; i < count; i++) {
            PyObject *key = read_string(c);
            PyObject *value = key == NULL ? NULL : read_node(node->children[0], c);
            int failed = value == NULL || PyDict_SetItem(map, key, value) < 0;
            Py_XDECREF(key);
            Py_XDECREF(value);
            if (failed) {
                Py_DECREF(map);
                return NULL;
            }
        }
    }
    Py_XDECREF(map);
    return NULL;
}

static PyObject *read_node(Node *node, Cursor *c) {
    int64_t n;
    Py_ssize_t start, length, index;
    switch (node->kind) {
    case K_NULL:
        Py_RETURN_NONE;
    case K_BOOLEAN:
        if (c->pos >= c->size) return ended(c), NULL;
        return PyBool_FromLong(c->buf[c->pos++] != 0);
    case K_LONG:
        if (read_long(c, &n) < 0) return NULL;
        return PyLong_FromLongLong(n);
    case K_FLOAT:
    case K_DOUBLE: {
        Py_ssize_t width = node->kind == K_FLOAT ? 4 : 8;
        if (width > c->size - c->pos) return ended(c), NULL;
        const char *at = (const char *)c->buf + c->pos;
        double value = width == 4 ? PyFloat_Unpack4(at, 1) : PyFloat_Unpack8(at, 1);
        if (value == -1.0 && PyErr_Occurred()) return NULL;
        c->pos += width;
        return PyFloat_FromDouble(value);
    }
    case K_BYTES:
        if (read_sized(c, &start, &length) < 0) return NULL;
        return PyBytes_FromStringAndSize((const char *)c->buf + start, length);
    case K_STRING:
        return read_string(c);
    case K_RECORD:
        return read_record(node, c);
    case K_ENUM:
        if (read_index(c, node->count, "enum", &index) < 0) return NULL;
        return Py_NewRef(PyTuple_GET_ITEM(node->symbols, index));
    case K_FIXED:
        if (node->count > c->size - c->pos) {
            PyErr_SetString(c->decode_error, "a fixed runs past the end");
            return NULL;
        }
        c->pos += node->count;
        return PyBytes_FromStringAndSize((const char *)c->buf + c->pos - node->count,
                                         node->count);
    case K_ARRAY:
        return read_array(node, c);
    case K_MAP:
        return read_map(node, c);
    case K_UNION:
        if (read_index(c, node->count, "union", &index) < 0) return NULL;
        return read_node(node->children[index], c);
    case K_TIMESTAMP_MILLIS:
        if (read_long(c, &n) < 0) return NULL;
        return utc_datetime(n, 1000);
    case K_TIMESTAMP_MICROS:
        if (read_long(c, &n) < 0) return NULL;
        return utc_datetime(n, 1000000);
    case K_LOGICAL: {
        PyObject *value = read_node(node->children[0], c);
        if (value == NULL) return NULL;
        PyObject *converted = PyObject_CallFunctionObjArgs(node->convert, value, node->schema,
                                                           Py_None, NULL);
        Py_DECREF(value);
        return converted;
    }
    }
    PyErr_Format(PyExc_SystemError, "plan node kind %d", node->kind);
    return NULL;
}

/* ---- the Reader type ---------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    Node *root;
    PyObject *decode_error;
} Reader;

static int Reader_init(Reader *self, PyObject *args, PyObject *kwargs) {
    PyObject *plan, *decode_error;
    static char *keywords[] = {"plan", "decode_error", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO:Reader", keywords, &plan, &decode_error))
        return -1;
    if (!PyExceptionClass_Check(decode_error)) {
        PyErr_SetString(PyExc_TypeError, "decode_error must be an exception class");
        return -1;
    }
    Node *root = node_from_plan(plan);
    if (root == NULL) return -1;
    node_free(self->root);
    Py_XSETREF(self->decode_error, Py_NewRef(decode_error));
    self->root = root;
    return 0;
}

static void Reader_dealloc(Reader *self) {
    node_free(self->root);
    Py_XDECREF(self->decode_error);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Reader_read(Reader *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "read(buf, pos) takes two arguments");
        return NULL;
    }
    if (self->root == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the Reader was not initialised");
        return NULL;
    }
    Py_ssize_t pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred()) return NULL;
    Py_buffer view = {0};
    Cursor c;
    if (PyBytes_CheckExact(args[0])) {
        c.buf = (const unsigned char *)PyBytes_AS_STRING(args[0]);
        c.size = PyBytes_GET_SIZE(args[0]);
    } else {
        if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) return NULL;
        c.buf = view.buf;
        c.size = view.len;
    }
    PyObject *record = NULL, *result = NULL;
    if (pos < 0 || pos > c.size) {
        PyErr_Format(self->decode_error, "position %zd is outside the value", pos);
        goto done;
    }
    c.pos = pos;
    c.decode_error = self->decode_error;
    record = read_node(self->root, &c);
    if (record != NULL) {
        PyObject *end = PyLong_FromSsize_t(c.pos);
        result = end == NULL ? NULL : PyTuple_Pack(2, record, end);
        Py_XDECREF(end);
        Py_DECREF(record);
    }
done:
    if (view.obj != NULL) PyBuffer_Release(&view);
    return result;
}

static PyMethodDef Reader_methods[] = {
    {"read", (PyCFunction)(void (*)(void))Reader_read, METH_FASTCALL,
     "read(buf, pos) -> (record, end): the record written at buf[pos:], and where it ends."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "consumer._avro_native.Reader",
    .tp_basicsize = sizeof(Reader),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Reader(plan, decode_error): reads records of the writer schema avro_plan planned.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Reader_init,
    .tp_dealloc = (destructor)Reader_dealloc,
    .tp_methods = Reader_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_avro_native", "Avro binary readers in C (see avro_plan.py).", -1,
    NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__avro_native(void) {
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL || PyType_Ready(&ReaderType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "Reader", (PyObject *)&ReaderType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
