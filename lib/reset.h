/*
 * reset.h - etl-reset: the system-level reset countdown of the seed
 * ("Job Completion Logic" / "System-Level Reset Countdown") and the
 * recovery of stuck jobs.
 *
 * A run that completes is FINISHED with reset_deadline = now + 30 s.
 * Each pass looks at the FINISHED jobs past their deadline: when every
 * step of the run is finished in all three stages and no message of the
 * run's token is left in any tier's extraction, transform or embedding
 * queue, the job goes back to READY with every step idle (notified);
 * otherwise the deadline moves on by 60, 180, then 300 s and
 * reset_attempt grows.  Concurrent passes never act twice on one job:
 * each job is claimed (FOR UPDATE SKIP LOCKED) while it is checked, the
 * queue checks of all etl-reset processes are serialized (an advisory
 * lock: a check borrows the messages it reads for a moment, which would
 * hide them from another), and every change is guarded by the deadline
 * that was checked.
 */
#ifndef ETL_RESET_H
#define ETL_RESET_H

#include <stdbool.h>
#include <stdio.h>

struct etl_reset_opts {
	const char *dsn;          /* NULL: ETL_DATABASE_URL, then PG* */
	const char *amqp_url;     /* NULL: ETL_AMQP_URL; neither: no queue check */
	bool dry_run;             /* say what would be done, change nothing */
	bool watch;               /* pass after pass until SIGTERM/SIGINT */
	long interval_ms;         /* between passes with watch */
	long stuck_s;             /* > 0: also recover RUNNING jobs idle that long */
	bool requeue;             /* stuck jobs back to READY instead of FAILED */
	int delivery_limit;       /* of the queues (etl-queue setup), for peeking */
	FILE *out;                /* one NDJSON line per action */
};
#define ETL_RESET_OPTS_INIT { NULL, NULL, false, false, 5000, 0, false, 5, NULL }

/* The backoff after @attempt extensions: 60, 180, then 300 s. */
int etl_reset_backoff_s(int attempt);

/*
 * Parse an age: seconds, or a number with s, m, h or d ("90", "30m",
 * "2h").  0 with *secs set, -1 when @s is not one (not reported).
 */
int etl_reset_parse_age(const char *s, long *secs);

/* One pass, or passes until a signal with o->watch.  Returns an exit status. */
int etl_reset_run(const struct etl_reset_opts *o);

#endif
