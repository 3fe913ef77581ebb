/*
 * cli_stats.h - the statistics commands of protets(1): stats, metrics,
 * top (cli_stats.c).  Each returns the command's exit status.
 */
#ifndef PROTETS_CLI_STATS_H
#define PROTETS_CLI_STATS_H

#include "protets.h"

/* stats' operands, checked before connecting: exits 2 if wrong. */
void	cli_stats_check(int argc, char **argv);
/* stats [NAME]: argv[0] "stats", then the operands. */
int	cli_stats(protets_t *, int argc, char **argv);
/* top [-n COUNT] (cli_top.c): its operands, checked before connecting. */
void	cli_top_check(int argc, char **argv);
/* The live view until q (or COUNT refreshes). */
int	cli_top(protets_t *, int argc, char **argv);
/* metrics: the Prometheus text format on stdout. */
int	cli_metrics(protets_t *, int argc, char **argv);

#endif /* PROTETS_CLI_STATS_H */
