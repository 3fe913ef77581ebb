/*
 * log.h - logging for every protetsd process, after OpenBSD's log.c.
 *
 * Lines go to stderr (the journal, under systemd) as
 * "protetsd[pid]: role: message".  log_warn appends strerror(errno).
 */
#ifndef PROTETS_LOG_H
#define PROTETS_LOG_H

#include <stdarg.h>

void	log_init(int debug, const char *role);
void	log_setrole(const char *role);
void	log_setdebug(int debug);
/* Drop every line (fuzzing). */
void	log_setquiet(int quiet);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
