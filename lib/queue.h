/*
 * queue.h - what each etl-queue subcommand does, so cmd/etl-queue.c only
 * parses options.  Every function reports its own errors on stderr and
 * returns the exit status (exit.h): ETL_OK, ETL_NOTHING, ETL_DATAERR,
 * ETL_UNAVAIL, ETL_IOERR, ...
 */
#ifndef ETL_QUEUE_H
#define ETL_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct etl_queue_opts {
	const char *url;        /* NULL: ETL_AMQP_URL, else the default */
	int delivery_limit;     /* setup; the last-attempt guard of peeks */
	size_t window;          /* publish: outstanding confirms */
	size_t max_bytes;       /* publish: largest message */
	bool strict;            /* publish: stop at the first invalid line */
	long skip;              /* publish: input lines to skip */
	long count;             /* consume, dlq requeue: at most; -1 all */
	bool requeue;           /* consume: put everything back (peek) */
	long timeout_ms;        /* consume: stop when idle this long; -1 never */
	unsigned prefetch;      /* consume */
	const char *token;      /* count */
	const char *tier;       /* count: NULL for all tiers */
	bool table;             /* stats, count: a table instead of NDJSON */
};
#define ETL_QUEUE_OPTS_INIT { NULL, 5, 200, 4u << 20, false, 0, -1, false, \
			      1000, 100, NULL, NULL, false }

/* Declare exchanges and queues idempotently. */
int etl_queue_setup(const struct etl_queue_opts *o);
/* Messages and consumers of every queue of the topology, on @out. */
int etl_queue_stats(const struct etl_queue_opts *o, FILE *out);
/*
 * Publish the NDJSON lines of @in to @queue (exchange "etl", or etl.dlx
 * for etl.failed), each validated for the queue's stage, persistent,
 * mandatory and confirmed.  Invalid lines are reported by line number.
 */
int etl_queue_publish(const struct etl_queue_opts *o, const char *queue, FILE *in);
/* Write the bodies of @queue to @out as NDJSON, acking each after it was
 * written and flushed (or, with o->requeue, putting all back). */
int etl_queue_consume(const struct etl_queue_opts *o, const char *queue, FILE *out);
/* Dead letters: list (without removing), requeue to their queue, purge. */
int etl_queue_dlq_list(const struct etl_queue_opts *o, FILE *out);
int etl_queue_dlq_requeue(const struct etl_queue_opts *o);
int etl_queue_dlq_purge(const struct etl_queue_opts *o);
int etl_queue_purge(const struct etl_queue_opts *o, const char *queue);
/* Messages of job run o->token still queued, per tier queue and in total. */
int etl_queue_count(const struct etl_queue_opts *o, FILE *out);
/* The same for a program: the total in *total (every queue counted when it
 * returns ETL_OK), the per-queue lines on @out unless it is NULL. */
int etl_queue_count_total(const struct etl_queue_opts *o, FILE *out, long *total);

#endif
