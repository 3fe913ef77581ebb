/*
 * escape.c - see escape.h.  A tab or a newline in a name would forge a
 * field of ls or a line of the daemon's log; a backslash is escaped too,
 * so that a name holding "\012" is not read as an escaped newline.
 */
#define LIBBSD_OPENBSD_VIS	/* strnvis(3) of OpenBSD: dst, src, size */
#include <vis.h>

#include "escape.h"

const char *
escape_line(const char *s, char *buf, size_t bufsz)
{
	const char	*p;

	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '\\')
			break;
	if (*p == '\0' || bufsz == 0)
		return s;
	(void)strnvis(buf, s, bufsz, VIS_OCTAL | VIS_CSTYLE | VIS_TAB |
	    VIS_NL);
	return buf;
}
