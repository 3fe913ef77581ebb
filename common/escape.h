/*
 * escape.h - text others wrote (a table name, a log line holding one),
 * made safe to print on one line of a tab-separated or line-based output.
 */
#ifndef PROTETS_COMMON_ESCAPE_H
#define PROTETS_COMMON_ESCAPE_H

#include <stddef.h>

/*
 * s as it is when it holds no control character (C0, DEL) and no
 * backslash; else its C escape (vis(3): "\t", "\n", "\033", "\\") in buf,
 * cut to bufsz (4 bytes per byte of s, and one, hold any s whole).
 * Returns s or buf.
 */
const char	*escape_line(const char *s, char *buf, size_t bufsz);

#endif /* PROTETS_COMMON_ESCAPE_H */
