/*
 * check_abi.c - libprotets.so as other languages load it: dlopen'ed (by C
 * and by Python's ctypes) into a running process, it works; it exports
 * the functions of protets.h, each at version PROTETS_0.1, and nothing
 * else; it uses no initial-exec thread-local storage, whose static TLS
 * block a dlopen'ed library may not get (it failed with "cannot allocate
 * memory in static TLS block").
 */
#include <ctype.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "protets.h"
#include "testutil.h"

#define MAXSYMS	256

struct names {
	char	*v[MAXSYMS];
	int	 n;
};

static void
names_add(struct names *s, const char *name, size_t len)
{
	int	i;

	for (i = 0; i < s->n; i++)
		if (strlen(s->v[i]) == len && strncmp(s->v[i], name, len) == 0)
			return;
	ck_assert_int_lt(s->n, MAXSYMS);
	ck_assert_ptr_nonnull(s->v[s->n++] = strndup(name, len));
}

static int
names_has(const struct names *s, const char *name)
{
	int	i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i], name) == 0)
			return 1;
	return 0;
}

static void
names_free(struct names *s)
{
	while (s->n > 0)
		free(s->v[--s->n]);
}

/*
 * The functions protets.h declares: outside comments, every protets_name
 * followed by "(", but for a typedef's "(*protets_fn)(".
 */
static void
header_functions(struct names *s)
{
	char	*text, *p, *q, *e;
	FILE	*f;
	long	 sz;

	ck_assert_ptr_nonnull(f = fopen("client/protets.h", "r"));
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	rewind(f);
	ck_assert_ptr_nonnull(text = malloc((size_t)sz + 1));
	ck_assert_int_eq(fread(text, 1, (size_t)sz, f), sz);
	text[sz] = '\0';
	fclose(f);
	/* blank out comments */
	for (p = text; (p = strstr(p, "/*")) != NULL;) {
		ck_assert_ptr_nonnull(q = strstr(p + 2, "*/"));
		memset(p, ' ', (size_t)(q + 2 - p));
		p = q + 2;
	}
	for (p = text; (p = strstr(p, "protets_")) != NULL; p = e) {
		for (e = p; isalnum((unsigned char)*e) || *e == '_'; e++)
			;
		if (p > text && (isalnum((unsigned char)p[-1]) ||
		    p[-1] == '_'))
			continue;
		if (p > text + 1 && p[-1] == '*' && p[-2] == '(')
			continue;	/* a typedef of a function pointer */
		for (q = e; *q == ' ' || *q == '\t' || *q == '\n'; q++)
			;
		if (*q == '(')
			names_add(s, p, (size_t)(e - p));
	}
	free(text);
}

/* What nm -D --defined-only says the library exports, with versions. */
static void
library_exports(const char *lib, struct names *s, int *unversioned)
{
	char	 cmd[512], line[512], *name, *at;
	FILE	*f;

	*unversioned = 0;
	snprintf(cmd, sizeof(cmd), "nm -D --defined-only %s", lib);
	ck_assert_ptr_nonnull(f = popen(cmd, "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		/* "addr T name@@PROTETS_0.1", or "0 A PROTETS_0.1" */
		if ((name = strrchr(line, ' ')) == NULL)
			continue;
		name++;
		if (strcmp(name, "PROTETS_0.1") == 0)
			continue;
		if ((at = strstr(name, "@@PROTETS_0.1")) != NULL)
			*at = '\0';
		else
			(*unversioned)++;
		names_add(s, name, strlen(name));
	}
	ck_assert_int_eq(pclose(f), 0);
}

START_TEST(test_exports_are_the_header)
{
	struct names	 hdr = { .n = 0 }, lib = { .n = 0 };
	char		 so[256];
	int		 i, unversioned;

	header_functions(&hdr);
	ck_assert_int_gt(hdr.n, 40);
	library_exports(tu_bin("libprotets.so.0", so, sizeof(so)), &lib,
	    &unversioned);
	for (i = 0; i < lib.n; i++)
		ck_assert_msg(names_has(&hdr, lib.v[i]),
		    "%s exported, not in protets.h", lib.v[i]);
	for (i = 0; i < hdr.n; i++)
		ck_assert_msg(names_has(&lib, hdr.v[i]),
		    "%s in protets.h, not exported", hdr.v[i]);
	ck_assert_int_eq(unversioned, 0);
	fprintf(stderr, "abi: %d functions, each in protets.h and exported "
	    "at PROTETS_0.1\n", lib.n);
	names_free(&hdr);
	names_free(&lib);
}
END_TEST

START_TEST(test_no_static_tls)
{
	char	so[256], out[4096];

	tu_bin("libprotets.so.0", so, sizeof(so));
	/* the dynamic section's FLAGS say STATIC_TLS for initial-exec */
	ck_assert_int_eq(tu_sh(out, sizeof(out), "readelf -dW %s", so), 0);
	ck_assert_ptr_nonnull(strstr(out, "SONAME"));
	ck_assert_msg(strstr(out, "STATIC_TLS") == NULL,
	    "libprotets.so uses initial-exec TLS:\n%s", out);
}
END_TEST

/* dlopen'ed into this process: connect, get, insert, look up. */
START_TEST(test_dlopen_c)
{
	struct td	 d;
	char		 so[256], buf[16];
	void		*h;
	size_t		 n = 0;
	protets_t	*p;
	protets_table_t	*t;
	int		 (*connect_)(const char *, protets_t **);
	int		 (*get_)(protets_t *, const char *, const protets_opts *,
			    protets_table_t **);
	int		 (*insert_)(protets_table_t *, const void *, size_t,
			    const void *, size_t);
	int		 (*lookup_)(protets_table_t *, const void *, size_t,
			    void *, size_t, size_t *);
	void		 (*close_)(protets_table_t *);
	void		 (*disconnect_)(protets_t *);

	td_start(&d, 1, NULL, NULL);
	h = dlopen(tu_bin("libprotets.so.0", so, sizeof(so)), RTLD_NOW |
	    RTLD_LOCAL);
	ck_assert_msg(h != NULL, "dlopen: %s", dlerror());
	*(void **)&connect_ = dlsym(h, "protets_connect");
	*(void **)&get_ = dlsym(h, "protets_get");
	*(void **)&insert_ = dlsym(h, "protets_insert");
	*(void **)&lookup_ = dlsym(h, "protets_lookup");
	*(void **)&close_ = dlsym(h, "protets_close");
	*(void **)&disconnect_ = dlsym(h, "protets_disconnect");
	ck_assert(connect_ && get_ && insert_ && lookup_ && close_ &&
	    disconnect_);
	/* an internal name is not to be had */
	ck_assert_ptr_null(dlsym(h, "tbl_open"));
	ck_assert_int_eq(connect_(d.sock, &p), 0);
	ck_assert_int_eq(get_(p, "dl", NULL, &t), 0);
	ck_assert_int_eq(insert_(t, "k", 1, "from-dlopen", 11), 0);
	ck_assert_int_eq(lookup_(t, "k", 1, buf, sizeof(buf), &n), 0);
	ck_assert_int_eq(n, 11);
	ck_assert_int_eq(memcmp(buf, "from-dlopen", 11), 0);
	close_(t);
	disconnect_(p);
	/*
	 * Not dlclose'd, as language runtimes leave it: the library's
	 * registry of mapped tables lives as long as the process (under
	 * LeakSanitizer, unloading it reports that as a leak).
	 */
	/* the same table, seen by this program's own (static) library */
	p = td_connect(&d);
	ck_assert_int_eq(protets_open(p, "dl", &t), 0);
	ck_assert_int_eq(protets_lookup(t, "k", 1, buf, sizeof(buf), &n), 0);
	ck_assert_int_eq(n, 11);
	protets_close(t);
	protets_disconnect(p);
	td_stop(&d);
}
END_TEST

/*
 * And from Python, through ctypes: the usual door of other languages.
 * Not under ASan: an instrumented library needs its runtime loaded
 * first, which python3 is not.
 */
START_TEST(test_dlopen_python)
{
#ifdef __SANITIZE_ADDRESS__
	fprintf(stderr, "test_dlopen_python: not under ASan\n");
#else
	struct td	 d;
	char		 so[256], out[4096];
	int		 rc;

	if (tu_sh(NULL, 0, "command -v python3") != 0) {
		fprintf(stderr, "test_dlopen_python: no python3 "
		    "(tools/deps.sh installs it)\n");
		ck_abort_msg("python3 missing");
	}
	td_start(&d, 1, NULL, NULL);
	tu_bin("libprotets.so.0", so, sizeof(so));
	rc = tu_sh(out, sizeof(out), "python3 -c '\n"
	    "import ctypes, sys\n"
	    "lib = ctypes.CDLL(sys.argv[1])\n"
	    "p, t = ctypes.c_void_p(), ctypes.c_void_p()\n"
	    "assert lib.protets_connect(sys.argv[2].encode(), "
	    "ctypes.byref(p)) == 0\n"
	    "assert lib.protets_get(p, b\"py\", None, ctypes.byref(t)) == 0\n"
	    "assert lib.protets_insert(t, b\"k\", 1, b\"from-python\", 11) "
	    "== 0\n"
	    "buf, n = ctypes.create_string_buffer(16), ctypes.c_size_t()\n"
	    "assert lib.protets_lookup(t, b\"k\", 1, buf, 16, "
	    "ctypes.byref(n)) == 0\n"
	    "print(buf.raw[:n.value].decode())\n"
	    "' %s %s 2>&1", so, d.sock);
	ck_assert_msg(rc == 0 && strcmp(out, "from-python\n") == 0,
	    "python3 (exit %d): %s", rc, out);
	td_stop(&d);
#endif
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("abi");
	TCase	*tc = tcase_create("abi");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_exports_are_the_header);
	tcase_add_test(tc, test_no_static_tls);
	tcase_add_test(tc, test_dlopen_c);
	tcase_add_test(tc, test_dlopen_python);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
