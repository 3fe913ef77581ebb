/*
 * table.c - the C base of protets.Table, and its key iterator (its walks
 * are walk.c's).  A table
 * is a mapped protets_table_t: every operation calls the library without
 * the GIL (tb_begin/tb_end count the calls in flight, so that close()
 * from another thread frees the handle only when the last one left),
 * point lookups into a buffer on the stack (a larger value gets a second
 * call into a bytes object of its size), walks into a collector (struct
 * cl) turned into Python objects once the call returned.
 */
#include "_protets.h"	/* first: Python.h before any system header */

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A lookup's first try: values up to this size need no second call. */
#define LOOKUP_STACK	512

static PyTypeObject *table_class;	/* protets.Table, set by __init__ */

PyObject *
tb_wrap(ConnObject *conn, protets_table_t *t)
{
	PyTypeObject	*cls = table_class != NULL ? table_class : &TableType;
	TableObject	*o;

	if ((o = (TableObject *)cls->tp_alloc(cls, 0)) == NULL) {
		protets_close(t);
		return NULL;
	}
	o->t = t;
	Py_INCREF(conn);
	o->conn = conn;
	return (PyObject *)o;
}

int
tb_begin(TableObject *self)
{
	if (self->closing) {
		pe_closed("table");
		return -1;
	}
	self->users++;
	return 0;
}

void
tb_end(TableObject *self)
{
	if (--self->users == 0 && self->closing && self->t != NULL) {
		protets_close(self->t);
		self->t = NULL;
	}
}

/* Raise rc of an operation on the table. */
PyObject *
tb_raise(TableObject *self, int rc)
{
	pid_t	 holder = 0;

	if (rc == PROTETS_ELOCKED && self->t != NULL)
		holder = protets_lock_holder(self->t);
	return pe_raise(rc, NULL, holder);
}

/*
 * Raise rc of an operation on key (klen bytes) and value (vlen; 0 when
 * there is none), saying which of them a size error is about.
 */
static PyObject *
tb_raise_kv(TableObject *self, int rc, Py_ssize_t klen, Py_ssize_t vlen)
{
	char	 m[128];

	if (rc == PROTETS_ETOOBIG && klen > PROTETS_KEY_MAX)
		snprintf(m, sizeof(m), "the key has %zd bytes, above KEY_MAX "
		    "(%d)", klen, PROTETS_KEY_MAX);
	else if (rc == PROTETS_ETOOBIG && vlen > (Py_ssize_t)PROTETS_VALUE_MAX)
		snprintf(m, sizeof(m), "the value has %zd bytes, above "
		    "VALUE_MAX (%u)", vlen, PROTETS_VALUE_MAX);
	else if (rc == PROTETS_EINVAL && klen == 0)
		snprintf(m, sizeof(m), "the key is empty");
	else
		return tb_raise(self, rc);
	return pe_raise(rc, m, 0);
}

static void
tb_dealloc(TableObject *self)
{
	if (self->t != NULL)
		protets_close(self->t);
	Py_XDECREF(self->conn);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

/*
 * Look key up.  Returns its (first) value; NULL with no exception set
 * when there is none; NULL with an exception on an error.
 */
static PyObject *
tb_lookup_big(TableObject *self, const struct pb *k, size_t vlen)
{
	PyObject	*v;
	size_t		 got;
	int		 rc;

	for (;;) {
		if ((v = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)vlen)) ==
		    NULL)
			return NULL;
		NOGIL_BEGIN
		rc = protets_lookup(self->t, k->p, (size_t)k->n,
		    PyBytes_AS_STRING(v), vlen, &got);
		NOGIL_END
		if (rc == 0 && got < vlen)
			_PyBytes_Resize(&v, (Py_ssize_t)got);
		if (rc == 0)
			return v;
		Py_DECREF(v);
		if (rc != PROTETS_ERANGE)
			return rc == PROTETS_NOTFOUND ? NULL :
			    tb_raise_kv(self, rc, k->n, 0);
		vlen = got;		/* it grew meanwhile */
	}
}

static PyObject *
tb_lookup_pb(TableObject *self, const struct pb *k)
{
	char		 buf[LOOKUP_STACK];
	size_t		 vlen = 0;
	int		 rc;
	PyObject	*v;

	if (tb_begin(self) < 0)
		return NULL;
	NOGIL_BEGIN
	rc = protets_lookup(self->t, k->p, (size_t)k->n, buf, sizeof(buf),
	    &vlen);
	NOGIL_END
	if (rc == 0)
		v = PyBytes_FromStringAndSize(buf, (Py_ssize_t)vlen);
	else if (rc == PROTETS_ERANGE)
		v = tb_lookup_big(self, k, vlen);
	else if (rc == PROTETS_NOTFOUND)
		v = NULL;
	else
		v = tb_raise_kv(self, rc, k->n, 0);
	tb_end(self);
	return v;
}

static PyObject *
tb_lookup_obj(TableObject *self, PyObject *key)
{
	struct pb	 k;
	PyObject	*v;

	if (pb_get(key, &k, "key") < 0)
		return NULL;
	v = tb_lookup_pb(self, &k);
	pb_release(&k);
	return v;
}

/* t[k] */
static PyObject *
tb_subscript(TableObject *self, PyObject *key)
{
	PyObject	*v = tb_lookup_obj(self, key);

	if (v == NULL && !PyErr_Occurred())
		PyErr_SetObject(PyExc_KeyError, key);
	return v;
}

/* t.get(k, default=None) */
static PyObject *
tb_get(TableObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	PyObject	*v;

	if (!_PyArg_CheckPositional("get", nargs, 1, 2))
		return NULL;
	v = tb_lookup_obj(self, args[0]);
	if (v == NULL && !PyErr_Occurred()) {
		v = nargs > 1 ? args[1] : Py_None;
		Py_INCREF(v);
	}
	return v;
}

/* insert, or insert_new when new_ (PROTETS_EXISTS returned, not raised). */
static int
tb_insert_obj(TableObject *self, PyObject *key, PyObject *val, int new_)
{
	struct pb	 k, v;
	int		 rc;

	if (pb_get(key, &k, "key") < 0)
		return INT_MIN;
	if (pb_get(val, &v, "value") < 0) {
		pb_release(&k);
		return INT_MIN;
	}
	if (tb_begin(self) < 0)
		rc = INT_MIN;
	else {
		NOGIL_BEGIN
		rc = new_ ? protets_insert_new(self->t, k.p, (size_t)k.n, v.p,
		    (size_t)v.n) : protets_insert(self->t, k.p, (size_t)k.n,
		    v.p, (size_t)v.n);
		NOGIL_END
		if (rc != 0 && !(new_ && rc == PROTETS_EXISTS))
			tb_raise_kv(self, rc, k.n, v.n);
		tb_end(self);
	}
	pb_release(&v);
	pb_release(&k);
	return rc;
}

/* Delete key; the number of entries deleted, or -1 with an exception. */
static long long
tb_delete_obj(TableObject *self, PyObject *key)
{
	struct pb	 k;
	uint64_t	 n = 0;
	int		 rc;

	if (pb_get(key, &k, "key") < 0)
		return -1;
	if (tb_begin(self) < 0) {
		pb_release(&k);
		return -1;
	}
	NOGIL_BEGIN
	rc = protets_delete_counted(self->t, k.p, (size_t)k.n, &n);
	NOGIL_END
	if (rc != 0)
		tb_raise_kv(self, rc, k.n, 0);
	tb_end(self);
	pb_release(&k);
	return rc != 0 ? -1 : (long long)n;
}

/* t[k] = v, del t[k] */
static int
tb_ass_subscript(TableObject *self, PyObject *key, PyObject *val)
{
	long long	 n;
	int		 rc;

	if (val != NULL) {
		rc = tb_insert_obj(self, key, val, 0);
		return rc == 0 ? 0 : -1;
	}
	if ((n = tb_delete_obj(self, key)) < 0)
		return -1;
	if (n == 0) {
		PyErr_SetObject(PyExc_KeyError, key);
		return -1;
	}
	return 0;
}

static PyObject *
tb_insert(TableObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	if (!_PyArg_CheckPositional("insert", nargs, 2, 2))
		return NULL;
	if (tb_insert_obj(self, args[0], args[1], 0) != 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *
tb_insert_new(TableObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	int	 rc;

	if (!_PyArg_CheckPositional("insert_new", nargs, 2, 2))
		return NULL;
	rc = tb_insert_obj(self, args[0], args[1], 1);
	if (rc != 0 && rc != PROTETS_EXISTS)
		return NULL;
	return PyBool_FromLong(rc == 0);
}

static PyObject *
tb_delete(TableObject *self, PyObject *key)
{
	long long	 n = tb_delete_obj(self, key);

	return n < 0 ? NULL : PyLong_FromLongLong(n);
}

static int
tb_contains(TableObject *self, PyObject *key)
{
	struct pb	 k;
	int		 rc;

	if (pb_get(key, &k, "key") < 0)
		return -1;
	if (tb_begin(self) < 0) {
		pb_release(&k);
		return -1;
	}
	NOGIL_BEGIN
	rc = protets_member(self->t, k.p, (size_t)k.n);
	NOGIL_END
	if (rc != 0 && rc != PROTETS_NOTFOUND)
		tb_raise_kv(self, rc, k.n, 0);
	tb_end(self);
	pb_release(&k);
	return rc == 0 ? 1 : rc == PROTETS_NOTFOUND ? 0 : -1;
}

static Py_ssize_t
tb_len(TableObject *self)
{
	uint64_t	 n = 0;
	int		 rc;

	if (tb_begin(self) < 0)
		return -1;
	NOGIL_BEGIN
	rc = protets_count(self->t, &n);
	NOGIL_END
	if (rc != 0)
		tb_raise(self, rc);
	tb_end(self);
	return rc != 0 ? -1 : (Py_ssize_t)n;
}

static PyObject *
tb_count(TableObject *self, PyObject *unused)
{
	Py_ssize_t	 n = tb_len(self);

	(void)unused;
	return n < 0 ? NULL : PyLong_FromSsize_t(n);
}

/* ---- writes of several entries ---- */

static PyObject *
tb_delete_object(TableObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	struct pb	 k, v;
	int		 rc = INT_MIN;

	if (!_PyArg_CheckPositional("delete_object", nargs, 2, 2) ||
	    pb_get(args[0], &k, "key") < 0)
		return NULL;
	if (pb_get(args[1], &v, "value") < 0) {
		pb_release(&k);
		return NULL;
	}
	if (tb_begin(self) == 0) {
		NOGIL_BEGIN
		rc = protets_delete_object(self->t, k.p, (size_t)k.n, v.p,
		    (size_t)v.n);
		NOGIL_END
		if (rc != 0)
			tb_raise(self, rc);
		tb_end(self);
	}
	pb_release(&v);
	pb_release(&k);
	if (rc != 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *
tb_clear(TableObject *self, PyObject *unused)
{
	int	 rc;

	(void)unused;
	if (tb_begin(self) < 0)
		return NULL;
	NOGIL_BEGIN
	rc = protets_delete_all_objects(self->t);
	NOGIL_END
	if (rc != 0)
		tb_raise(self, rc);
	tb_end(self);
	if (rc != 0)
		return NULL;
	Py_RETURN_NONE;
}

/*
 * A batch: its entries' buffers, borrowed from the keys' and values'
 * objects, each held by a reference of the batch's own (another thread
 * may change a pair that is a list while the insert runs without the
 * GIL).
 */
struct batch {
	PyObject	*seq;		/* the pairs, as a list */
	PyObject	**held;		/* 2 per entry */
	struct pb	*pb;		/* 2 per entry */
	protets_kv	*kv;
	Py_ssize_t	 n, done;	/* done: pb[] filled */
};

static void
batch_free(struct batch *b)
{
	Py_ssize_t	 i;

	for (i = 0; i < b->done; i++) {
		pb_release(&b->pb[i]);
		Py_DECREF(b->held[i]);
	}
	PyMem_Free(b->held);
	PyMem_Free(b->pb);
	PyMem_Free(b->kv);
	Py_XDECREF(b->seq);
}

/* One (key, value) pair of the batch. */
static int
batch_pair(struct batch *b, Py_ssize_t i, PyObject *pair)
{
	PyObject	*kvo;

	if ((kvo = PySequence_Fast(pair, "insert_many: each item must be a "
	    "(key, value) pair")) == NULL)
		return -1;
	if (PySequence_Fast_GET_SIZE(kvo) != 2) {
		Py_DECREF(kvo);
		PyErr_SetString(PyExc_ValueError, "insert_many: each item "
		    "must be a (key, value) pair");
		return -1;
	}
	b->held[2 * i] = Py_NewRef(PySequence_Fast_GET_ITEM(kvo, 0));
	b->held[2 * i + 1] = Py_NewRef(PySequence_Fast_GET_ITEM(kvo, 1));
	Py_DECREF(kvo);
	if (pb_get(b->held[2 * i], &b->pb[2 * i], "key") < 0) {
		Py_DECREF(b->held[2 * i]);
		Py_DECREF(b->held[2 * i + 1]);
		return -1;
	}
	b->done = 2 * i + 1;
	if (pb_get(b->held[2 * i + 1], &b->pb[2 * i + 1], "value") < 0) {
		Py_DECREF(b->held[2 * i + 1]);
		return -1;
	}
	b->done = 2 * i + 2;
	b->kv[i] = (protets_kv){ b->pb[2 * i].p, (size_t)b->pb[2 * i].n,
	    b->pb[2 * i + 1].p, (size_t)b->pb[2 * i + 1].n };
	return 0;
}

static int
batch_build(struct batch *b, PyObject *items)
{
	PyObject	*src = items;
	Py_ssize_t	 i;
	int		 rc;

	memset(b, 0, sizeof(*b));
	if (PyDict_Check(items))
		src = PyDict_Items(items);
	else
		Py_INCREF(src);
	if (src == NULL)
		return -1;
	/* A tuple pair from a dict's items stays alive in the list. */
	b->seq = PySequence_List(src);
	Py_DECREF(src);
	if (b->seq == NULL)
		return -1;
	b->n = PyList_GET_SIZE(b->seq);
	b->held = PyMem_Calloc((size_t)b->n * 2 + 1, sizeof(*b->held));
	b->pb = PyMem_Calloc((size_t)b->n * 2 + 1, sizeof(*b->pb));
	b->kv = PyMem_Calloc((size_t)b->n + 1, sizeof(*b->kv));
	if (b->held == NULL || b->pb == NULL || b->kv == NULL) {
		PyErr_NoMemory();
		return -1;
	}
	for (i = 0; i < b->n; i++)
		if ((rc = batch_pair(b, i, PyList_GET_ITEM(b->seq, i))) < 0)
			return -1;
	return 0;
}

/* Raise rc of a batch, naming the first entry a size error is about. */
static void
batch_raise(TableObject *self, const struct batch *b, int rc)
{
	const protets_kv	*e;
	char			 m[128];
	Py_ssize_t		 i;

	for (i = 0; rc == PROTETS_ETOOBIG && i < b->n; i++) {
		e = &b->kv[i];
		if (e->klen <= PROTETS_KEY_MAX && e->vlen <= PROTETS_VALUE_MAX)
			continue;
		snprintf(m, sizeof(m), "entry %zd: the %s has %zu bytes, above "
		    "%s (%u)", i, e->klen > PROTETS_KEY_MAX ? "key" : "value",
		    e->klen > PROTETS_KEY_MAX ? e->klen : e->vlen,
		    e->klen > PROTETS_KEY_MAX ? "KEY_MAX" : "VALUE_MAX",
		    e->klen > PROTETS_KEY_MAX ? PROTETS_KEY_MAX :
		    PROTETS_VALUE_MAX);
		pe_raise(rc, m, 0);
		return;
	}
	tb_raise(self, rc);
}

static PyObject *
tb_insert_many(TableObject *self, PyObject *args, PyObject *kw)
{
	static char	*kwl[] = { "items", "new", NULL };
	PyObject	*items;
	struct batch	 b;
	int		 new_ = 0, rc = INT_MIN;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$p:insert_many", kwl,
	    &items, &new_))
		return NULL;
	if (batch_build(&b, items) == 0 && tb_begin(self) == 0) {
		NOGIL_BEGIN
		rc = new_ ? protets_insert_new_many(self->t, b.kv, (size_t)b.n) :
		    protets_insert_many(self->t, b.kv, (size_t)b.n);
		NOGIL_END
		if (rc != 0 && !(new_ && rc == PROTETS_EXISTS))
			batch_raise(self, &b, rc);
		tb_end(self);
	}
	batch_free(&b);
	if (rc != 0 && !(new_ && rc == PROTETS_EXISTS))
		return NULL;
	if (new_)
		return PyBool_FromLong(rc == 0);
	Py_RETURN_NONE;
}

/* t.setdefault(k, default): insert_new, else the value there. */
static PyObject *
tb_setdefault(TableObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	PyObject	*dflt, *v;
	int		 rc, i;

	if (!_PyArg_CheckPositional("setdefault", nargs, 1, 2))
		return NULL;
	dflt = nargs > 1 ? args[1] : Py_None;
	for (i = 0; i < 100; i++) {
		if ((v = tb_lookup_obj(self, args[0])) != NULL ||
		    PyErr_Occurred())
			return v;
		rc = tb_insert_obj(self, args[0], dflt, 1);
		if (rc == 0)
			return tb_lookup_obj(self, args[0]);
		if (rc != PROTETS_EXISTS)
			return NULL;
		/* deleted between the two: once more */
	}
	return pe_raise(PROTETS_EAGAIN, NULL, 0);
}

/* ---- counters ---- */

static int
ctr_opt(PyObject *o, int64_t *out, const char *what)
{
	long long	 v;

	if (o == NULL || o == Py_None)
		return 0;
	v = PyLong_AsLongLong(o);
	if (v == -1 && PyErr_Occurred()) {
		PyErr_Format(PyExc_TypeError, "update_counter: %s must be an "
		    "int in the int64 range", what);
		return -1;
	}
	*out = v;
	return 1;
}

static PyObject *
tb_update_counter(TableObject *self, PyObject *args, PyObject *kw)
{
	static char	*kwl[] = { "key", "incr", "default", "threshold",
			    "setvalue", NULL };
	PyObject	*key, *dflt = NULL, *thr = NULL, *setv = NULL;
	long long	 incr = 1;
	protets_counter_opts o;
	struct pb	 k;
	int64_t		 res = 0;
	int		 rc, ht, hs;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|L$OOO:update_counter",
	    kwl, &key, &incr, &dflt, &thr, &setv))
		return NULL;
	memset(&o, 0, sizeof(o));
	if ((o.has_default = ctr_opt(dflt, &o.dflt, "default")) < 0 ||
	    (ht = ctr_opt(thr, &o.threshold, "threshold")) < 0 ||
	    (hs = ctr_opt(setv, &o.setvalue, "setvalue")) < 0)
		return NULL;
	if (ht != hs)
		return PyErr_Format(PyExc_TypeError, "update_counter: "
		    "threshold and setvalue go together");
	o.has_threshold = ht;
	if (pb_get(key, &k, "key") < 0)
		return NULL;
	if (tb_begin(self) < 0) {
		pb_release(&k);
		return NULL;
	}
	NOGIL_BEGIN
	rc = protets_update_counter(self->t, k.p, (size_t)k.n, incr, &o, &res);
	NOGIL_END
	if (rc == PROTETS_NOTFOUND)
		PyErr_SetObject(PyExc_KeyError, key);
	else if (rc != 0)
		tb_raise_kv(self, rc, k.n, 0);
	tb_end(self);
	pb_release(&k);
	return rc != 0 ? NULL : PyLong_FromLongLong(res);
}

/* ---- key walks: first, next, last, prev ---- */

/* One step; returns the key, None at the end. */
static PyObject *
tb_step(TableObject *self, PyObject *from, int back)
{
	char		 kb[PROTETS_KEY_MAX];
	size_t		 n = 0;
	struct pb	 k = { NULL, 0, { 0 }, 0 };
	int		 rc;

	if (from != NULL && pb_get(from, &k, "key") < 0)
		return NULL;
	if (tb_begin(self) < 0) {
		pb_release(&k);
		return NULL;
	}
	NOGIL_BEGIN
	if (from == NULL)
		rc = back ? protets_last(self->t, kb, sizeof(kb), &n) :
		    protets_first(self->t, kb, sizeof(kb), &n);
	else
		rc = back ? protets_prev(self->t, k.p, (size_t)k.n, kb,
		    sizeof(kb), &n) : protets_next(self->t, k.p, (size_t)k.n,
		    kb, sizeof(kb), &n);
	NOGIL_END
	if (rc != 0 && rc != PROTETS_NOTFOUND)
		tb_raise(self, rc);
	tb_end(self);
	pb_release(&k);
	if (rc == PROTETS_NOTFOUND)
		Py_RETURN_NONE;
	return rc != 0 ? NULL : PyBytes_FromStringAndSize(kb, (Py_ssize_t)n);
}

static PyObject *
tb_first(TableObject *self, PyObject *unused)
{
	(void)unused;
	return tb_step(self, NULL, 0);
}

static PyObject *
tb_last(TableObject *self, PyObject *unused)
{
	(void)unused;
	return tb_step(self, NULL, 1);
}

static PyObject *
tb_next(TableObject *self, PyObject *key)
{
	return tb_step(self, key, 0);
}

static PyObject *
tb_prev(TableObject *self, PyObject *key)
{
	return tb_step(self, key, 1);
}

/* iter(t): the keys through first/next, lazily. */
typedef struct {
	PyObject_HEAD
	TableObject	*tb;
	PyObject	*last;		/* the key returned last, or NULL */
	int		 done;
} IterObject;

static PyObject *
tb_iter(TableObject *self)
{
	IterObject	*it;

	if ((it = PyObject_New(IterObject, &IterType)) == NULL)
		return NULL;
	Py_INCREF(self);
	it->tb = self;
	it->last = NULL;
	it->done = 0;
	return (PyObject *)it;
}

static PyObject *
it_next(IterObject *it)
{
	PyObject	*k;

	if (it->done)
		return NULL;
	k = tb_step(it->tb, it->last, 0);
	if (k == NULL)
		return NULL;
	if (k == Py_None) {
		Py_DECREF(k);
		it->done = 1;
		return NULL;
	}
	Py_XDECREF(it->last);
	Py_INCREF(k);
	it->last = k;
	return k;
}

static void
it_dealloc(IterObject *it)
{
	Py_XDECREF(it->last);
	Py_DECREF(it->tb);
	PyObject_Free(it);
}

PyTypeObject IterType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "protets._TableIterator",
	.tp_basicsize = sizeof(IterObject),
	.tp_dealloc = (destructor)it_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_iter = PyObject_SelfIter,
	.tp_iternext = (iternextfunc)it_next,
};

/* ---- the rest: save, check, info, lock timeout, close ---- */

static PyObject *
tb_save(TableObject *self, PyObject *args)
{
	PyObject	*path;
	int		 rc;

	if (!PyArg_ParseTuple(args, "O&:save", PyUnicode_FSConverter, &path))
		return NULL;
	if (tb_begin(self) < 0) {
		Py_DECREF(path);
		return NULL;
	}
	NOGIL_BEGIN
	rc = protets_save(self->t, PyBytes_AS_STRING(path));
	NOGIL_END
	if (rc != 0)
		tb_raise(self, rc);
	tb_end(self);
	Py_DECREF(path);
	if (rc != 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *
tb_check(TableObject *self, PyObject *unused)
{
	char	 msg[512] = "";
	int	 rc;

	(void)unused;
	if (tb_begin(self) < 0)
		return NULL;
	NOGIL_BEGIN
	rc = protets_check(self->t, msg, sizeof(msg));
	NOGIL_END
	if (rc != 0)
		pe_raise(rc, msg, 0);
	tb_end(self);
	if (rc != 0)
		return NULL;
	Py_RETURN_NONE;
}

/* info of a table whose connection was closed: a connection for it. */
static PyObject *
tb_info_sock(TableObject *self)
{
	protets_t	*p = NULL;
	protets_info	 i;
	struct cn_res	 r;

	if (tb_begin(self) < 0)
		return NULL;
	NOGIL_BEGIN
	cn_note(&r, protets_connect(self->conn->sock, &p));
	if (r.rc == 0) {
		cn_note(&r, protets_info_get(p, protets_table_name(self->t),
		    &i));
		protets_disconnect(p);
	}
	NOGIL_END
	tb_end(self);
	if (r.rc != 0)
		return cn_raise(&r);
	return pi_dict(&i);
}

static PyObject *
tb_info(TableObject *self, PyObject *unused)
{
	(void)unused;
	if (self->closing)
		return pe_closed("table");
	if (self->conn->closing)
		return tb_info_sock(self);
	return cn_info_named(self->conn, protets_table_name(self->t));
}

static PyObject *
tb_close(TableObject *self, PyObject *unused)
{
	(void)unused;
	self->closing = 1;
	if (self->users == 0 && self->t != NULL) {
		protets_close(self->t);
		self->t = NULL;
	}
	Py_RETURN_NONE;
}

static PyObject *
tb_enter(PyObject *self, PyObject *unused)
{
	(void)unused;
	Py_INCREF(self);
	return self;
}

static PyObject *
tb_exit(TableObject *self, PyObject *args)
{
	(void)args;
	return tb_close(self, NULL);
}

static PyObject *
tb_get_name(TableObject *self, void *unused)
{
	(void)unused;
	if (self->closing)
		return pe_closed("table");
	return PyUnicode_FromString(protets_table_name(self->t));
}

static PyObject *
tb_get_type(TableObject *self, void *unused)
{
	(void)unused;
	if (self->closing)
		return pe_closed("table");
	return PyUnicode_FromString(protets_type_name(
	    protets_table_type(self->t)));
}

static PyObject *
tb_get_access(TableObject *self, void *unused)
{
	(void)unused;
	if (self->closing)
		return pe_closed("table");
	return PyUnicode_FromString(protets_access_name(
	    protets_table_access(self->t)));
}

static PyObject *
tb_get_writable(TableObject *self, void *unused)
{
	(void)unused;
	if (self->closing)
		return pe_closed("table");
	return PyBool_FromLong(protets_table_writable(self->t));
}

static PyObject *
tb_get_socket(TableObject *self, void *unused)
{
	(void)unused;
	return PyUnicode_DecodeFSDefault(self->conn->sock);
}

static PyObject *
tb_get_closed(TableObject *self, void *unused)
{
	(void)unused;
	return PyBool_FromLong(self->closing);
}

static PyObject *
tb_get_holder(TableObject *self, void *unused)
{
	(void)unused;
	if (self->closing)
		return pe_closed("table");
	return PyLong_FromLong(protets_lock_holder(self->t));
}

static PyObject *
tb_get_timeout(TableObject *self, void *unused)
{
	(void)unused;
	if (self->closing)
		return pe_closed("table");
	return PyFloat_FromDouble(protets_lock_timeout(self->t) / 1000.0);
}

static int
tb_set_timeout(TableObject *self, PyObject *v, void *unused)
{
	double	 s;

	(void)unused;
	if (self->closing) {
		pe_closed("table");
		return -1;
	}
	if (v == NULL || ((s = PyFloat_AsDouble(v)) == -1.0 &&
	    PyErr_Occurred()))
		return v == NULL ? (PyErr_SetString(PyExc_TypeError,
		    "lock_timeout cannot be deleted"), -1) : -1;
	if (!(s >= 0 && s <= INT_MAX / 1000)) {
		PyErr_SetString(PyExc_ValueError, "lock_timeout must be "
		    "between 0 and 2147483 seconds");
		return -1;
	}
	return protets_set_lock_timeout(self->t, (int)(s * 1000 + 0.5)) == 0 ?
	    0 : -1;
}

static PyObject *
tb_repr(TableObject *self)
{
	if (self->closing)
		return PyUnicode_FromString("<protets.Table closed>");
	return PyUnicode_FromFormat("<protets.Table '%s' %s %s>",
	    protets_table_name(self->t),
	    protets_type_name(protets_table_type(self->t)),
	    protets_access_name(protets_table_access(self->t)));
}

static PyMethodDef tb_methods[] = {
	{ "get", FAST tb_get, METH_FASTCALL,
	  "get(key, default=None): the (first) value of key, or default." },
	{ "insert", FAST tb_insert, METH_FASTCALL,
	  "insert(key, value): t[key] = value (on a bag: add the entry)." },
	{ "insert_new", FAST tb_insert_new, METH_FASTCALL,
	  "insert_new(key, value) -> bool: insert only if key is not there;\n"
	  "False (nothing written) if it is." },
	{ "insert_many", KW tb_insert_many, METH_VARARGS | METH_KEYWORDS,
	  "insert_many(items, *, new=False): insert the (key, value) pairs\n"
	  "(or a dict's items) in one atomic operation, all or nothing;\n"
	  "LimitReached if too large for one.  new=True: only if none of the\n"
	  "keys is there; returns False (nothing written) if one is." },
	{ "delete", (PyCFunction)tb_delete, METH_O,
	  "delete(key) -> int: delete every entry of key; how many there were." },
	{ "delete_object", FAST tb_delete_object, METH_FASTCALL,
	  "delete_object(key, value): delete the entries equal to (key, value)." },
	{ "lookup_all", (PyCFunction)tb_lookup_all, METH_O,
	  "lookup_all(key) -> [bytes]: every value of key, in insertion order\n"
	  "(bags); [] if none." },
	{ "take", (PyCFunction)tb_take, METH_O,
	  "take(key) -> [bytes]: remove every entry of key and return the\n"
	  "values, atomically; [] if none." },
	{ "pop", FAST tb_pop, METH_FASTCALL,
	  "pop(key[, default]): take(key)'s first value; KeyError or default\n"
	  "if none." },
	{ "setdefault", FAST tb_setdefault, METH_FASTCALL,
	  "setdefault(key, default): the value of key, inserting default first\n"
	  "if key is not there." },
	{ "update_counter", KW tb_update_counter, METH_VARARGS | METH_KEYWORDS,
	  "update_counter(key, incr=1, *, default=None, threshold=None,\n"
	  "setvalue=None) -> int\n\n"
	  "Atomically add incr to the counter at key (a value that is the\n"
	  "decimal text of an int64) and return the result.  default: a\n"
	  "missing key starts from it (else KeyError).  threshold/setvalue:\n"
	  "a result beyond threshold becomes setvalue (ets:update_counter/4)." },
	{ "select", KW tb_select, METH_VARARGS | METH_KEYWORDS,
	  "select(*, prefix=None, start=None, stop=None, limit=0)\n"
	  "    -> [(key, value)]\n\n"
	  "The entries whose key starts with prefix and lies in [start, stop)\n"
	  "(start inclusive, stop exclusive, keys compared as bytes; None: no\n"
	  "bound), in table order (key order on an ordered_set), at most limit\n"
	  "of them (0: all)." },
	{ "select_count", KW tb_select_count, METH_VARARGS | METH_KEYWORDS,
	  "select_count(*, prefix=None, start=None, stop=None) -> int" },
	{ "select_delete", KW tb_select_delete, METH_VARARGS | METH_KEYWORDS,
	  "select_delete(*, prefix=None, start=None, stop=None) -> int:\n"
	  "delete the selected entries (each atomically); how many." },
	{ "keys", (PyCFunction)tb_keys, METH_NOARGS,
	  "keys() -> [bytes]: every key (bags: once per entry), one walk." },
	{ "values", (PyCFunction)tb_values, METH_NOARGS,
	  "values() -> [bytes]: every value, one walk." },
	{ "items", (PyCFunction)tb_items, METH_NOARGS,
	  "items() -> [(key, value)]: every entry, in table order, one walk\n"
	  "(each entry read consistently)." },
	{ "count", (PyCFunction)tb_count, METH_NOARGS,
	  "count() -> int: len(t)." },
	{ "clear", (PyCFunction)tb_clear, METH_NOARGS,
	  "clear(): delete every entry, atomically (delete_all_objects)." },
	{ "delete_all_objects", (PyCFunction)tb_clear, METH_NOARGS,
	  "delete_all_objects(): clear()." },
	{ "first", (PyCFunction)tb_first, METH_NOARGS,
	  "first() -> bytes | None: the first key in table order." },
	{ "next", (PyCFunction)tb_next, METH_O,
	  "next(key) -> bytes | None: the key after key (key need not exist)." },
	{ "last", (PyCFunction)tb_last, METH_NOARGS,
	  "last() -> bytes | None: the greatest key of an ordered_set (first()\n"
	  "on the other types)." },
	{ "prev", (PyCFunction)tb_prev, METH_O,
	  "prev(key) -> bytes | None: the key before key (ordered_set)." },
	{ "save", (PyCFunction)tb_save, METH_VARARGS,
	  "save(path): write the table to a file (Connection.load reads it)." },
	{ "check", (PyCFunction)tb_check, METH_NOARGS,
	  "check(): walk the segment; Corrupt (errmsg: what) if damaged,\n"
	  "TryAgain if writers kept it moving." },
	{ "info", (PyCFunction)tb_info, METH_NOARGS,
	  "info() -> dict: Connection.info(name) of this table." },
	{ "close", (PyCFunction)tb_close, METH_NOARGS,
	  "close(): unmap the table (it lives on in the daemon)." },
	{ "__enter__", tb_enter, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)tb_exit, METH_VARARGS, NULL },
	{ NULL, NULL, 0, NULL }
};

static PyGetSetDef tb_getset[] = {
	{ "name", (getter)tb_get_name, NULL, "the table's name", NULL },
	{ "type", (getter)tb_get_type, NULL, "'set', 'ordered_set', 'bag' "
	  "or 'duplicate_bag'", NULL },
	{ "access", (getter)tb_get_access, NULL, "'public', 'protected' or "
	  "'private' (as mapped)", NULL },
	{ "writable", (getter)tb_get_writable, NULL, "True when this process "
	  "may write", NULL },
	{ "closed", (getter)tb_get_closed, NULL, "True once closed", NULL },
	{ "socket", (getter)tb_get_socket, NULL, "the socket of the daemon "
	  "the table came from", NULL },
	{ "lock_holder", (getter)tb_get_holder, NULL, "pid of the process "
	  "that held the write lock at this thread's last Locked", NULL },
	{ "lock_timeout", (getter)tb_get_timeout, (setter)tb_set_timeout,
	  "seconds a write waits for a held lock before Locked (0: not at "
	  "all)", NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

static PyMappingMethods tb_as_mapping = {
	.mp_length = (lenfunc)tb_len,
	.mp_subscript = (binaryfunc)tb_subscript,
	.mp_ass_subscript = (objobjargproc)tb_ass_subscript,
};

static PySequenceMethods tb_as_sequence = {
	.sq_contains = (objobjproc)tb_contains,
};

PyTypeObject TableType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "protets._protets.Table",
	.tp_basicsize = sizeof(TableObject),
	.tp_dealloc = (destructor)tb_dealloc,
	.tp_repr = (reprfunc)tb_repr,
	.tp_as_mapping = &tb_as_mapping,
	.tp_as_sequence = &tb_as_sequence,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_doc = "The C base of protets.Table.",
	.tp_iter = (getiterfunc)tb_iter,
	.tp_methods = tb_methods,
	.tp_getset = tb_getset,
};

/* protets.Table, the Python class tables are made of (__init__.py). */
PyObject *
tb_set_class(PyObject *mod, PyObject *cls)
{
	(void)mod;
	if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls,
	    &TableType))
		return PyErr_Format(PyExc_TypeError, "not a Table subclass");
	Py_INCREF(cls);
	Py_XSETREF(table_class, (PyTypeObject *)cls);
	Py_RETURN_NONE;
}

