/*
 * client.c - a small program built against an installed libprotets, by
 * tests/install/run.sh, through pkg-config only.
 *
 *	client TABLE KEY VALUE
 *
 * Connects to the default socket ($PROTETS_SOCKET), gets (creates) a
 * public set TABLE, inserts KEY VALUE, reads it back, and prints
 * "KEY=VALUE ENTRIES" with the table's number of entries.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <protets.h>

int
main(int argc, char *argv[])
{
	protets_t	*p;
	protets_table_t	*t;
	protets_opts	 o = { .type = PROTETS_SET, .access = PROTETS_PUBLIC };
	char		 buf[256];
	size_t		 n;
	uint64_t	 count;
	int		 rc;

	if (argc != 4) {
		fprintf(stderr, "usage: client TABLE KEY VALUE\n");
		return 2;
	}
	if ((rc = protets_connect(NULL, &p)) != 0 ||
	    (rc = protets_get(p, argv[1], &o, &t)) != 0) {
		fprintf(stderr, "client: %s\n", protets_strerror(rc));
		return 1;
	}
	protets_disconnect(p);
	if ((rc = protets_insert(t, argv[2], strlen(argv[2]), argv[3],
	    strlen(argv[3]))) != 0 ||
	    (rc = protets_lookup(t, argv[2], strlen(argv[2]), buf,
	    sizeof(buf), &n)) != 0 ||
	    (rc = protets_count(t, &count)) != 0) {
		fprintf(stderr, "client: %s\n", protets_strerror(rc));
		return 1;
	}
	printf("%s=%.*s %llu\n", argv[2], (int)n, buf,
	    (unsigned long long)count);
	protets_close(t);
	return 0;
}
