/*
 * watch.h - etl-job watch: follow LISTEN etl_job_status (lib/status.h
 * sends the whole status on every change) and show a job's progress:
 * a table of steps x stages redrawn in place on a terminal, else one
 * NDJSON line per change ({"type": "job_status_update", "job_id",
 * "tenant_id", "status"}, the notification itself; a notification too
 * big for NOTIFY is completed from the database).
 */
#ifndef ETL_WATCH_H
#define ETL_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct etl_db;

struct etl_watch_opts {
	int64_t job_id;      /* 0: every job, until SIGINT/SIGTERM */
	bool tty;            /* progress display instead of NDJSON */
	long timeout_ms;     /* give up after this long; -1: never */
	FILE *out;
};

/*
 * Watch until job o->job_id reaches FINISHED (returns 0) or FAILED
 * (returns 1); the current state is shown first, so a job already
 * finished returns at once.  ETL_TEMPFAIL when the timeout passed or a
 * signal stopped the watch first, ETL_NOINPUT for no such job,
 * ETL_UNAVAIL when the connection broke.  With no job: every change of
 * every job, until a signal (then 0).
 */
int etl_watch(struct etl_db *db, const struct etl_watch_opts *o);

#endif
