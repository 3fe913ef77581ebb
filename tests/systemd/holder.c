/*
 * holder.c - a client that keeps a table mapped while protetsd dies and
 * comes back (tests/systemd/run.sh), built against the installed
 * libprotets through pkg-config.
 *
 *	holder TABLE
 *
 * Opens the existing TABLE through the default socket, disconnects, and
 * prints "mapped".  Then, for each line "KEY VALUE" on standard input, it
 * inserts the entry through its own mapping (no daemon involved), reads it
 * back, and prints "ok KEY", or "error KEY: message".  Exits at EOF.
 */
#include <stdio.h>
#include <string.h>

#include <protets.h>

int
main(int argc, char *argv[])
{
	protets_t	*p;
	protets_table_t	*t;
	char		 line[512], buf[512], *val;
	size_t		 n;
	int		 rc;

	if (argc != 2) {
		fprintf(stderr, "usage: holder TABLE\n");
		return 2;
	}
	if ((rc = protets_connect(NULL, &p)) != 0 ||
	    (rc = protets_open(p, argv[1], &t)) != 0) {
		printf("error %s: %s\n", argv[1], protets_strerror(rc));
		return 1;
	}
	protets_disconnect(p);
	printf("mapped\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if ((val = strchr(line, ' ')) == NULL)
			continue;
		*val++ = '\0';
		rc = protets_insert(t, line, strlen(line), val, strlen(val));
		if (rc == 0)
			rc = protets_lookup(t, line, strlen(line), buf,
			    sizeof(buf), &n);
		if (rc == 0 && (n != strlen(val) || memcmp(buf, val, n) != 0))
			printf("error %s: read back another value\n", line);
		else if (rc != 0)
			printf("error %s: %s\n", line, protets_strerror(rc));
		else
			printf("ok %s\n", line);
		fflush(stdout);
	}
	protets_close(t);
	return 0;
}
