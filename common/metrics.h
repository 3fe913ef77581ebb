/*
 * metrics.h - protets' statistics as text: the Prometheus text exposition
 * format (version 0.0.4, what node_exporter's textfile collector and a
 * Prometheus scrape read), for `protets metrics` and protetsd's HTTP
 * listener (metrics_listen), and the names both use.
 */
#ifndef PROTETS_METRICS_H
#define PROTETS_METRICS_H

#include <stdio.h>

#include "protets.h"

/* The name of request op i (protets_daemon_stats.requests), "unknown". */
const char	*metrics_req_name(unsigned i);
/* The name of errors[i] (protets_daemon_stats.errors): "notfound", ... */
const char	*metrics_err_name(unsigned i);

/*
 * Write every metric the daemon behind p gives (its own counts, then each
 * table this uid may see: its counts, entries and bytes) to f.  A table
 * dropped (PROTETS_NOTFOUND) or made another uid's private table
 * (PROTETS_EACCES) between the list and its stats is left out.  Returns
 * 0, or the error of the daemon's own counts, of the list or of a table's
 * stats (nothing written then, but what f already had).
 */
int		 metrics_write(protets_t *p, FILE *f);

#endif /* PROTETS_METRICS_H */
