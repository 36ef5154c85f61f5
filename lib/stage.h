/*
 * stage.h - the loop every stage program runs (etl-extract, etl-transform,
 * etl-embed): messages in from stdin or a queue, out to stdout or queues,
 * under the rules of DESIGN.md "I/O contract":
 *
 *  - a message from a queue is acked only after the handler returned and
 *    every message it emitted was confirmed by the broker;
 *  - bad input never disappears: on stdin it is reported with its line
 *    number and the run exits 65 after the valid lines (at once with
 *    --strict); from a queue it is dead-lettered to etl.failed with the
 *    reason in an x-etl-error header;
 *  - temporary failures (ETL_TEMPFAIL, ETL_UNAVAIL) are retried with
 *    backoff up to max_attempts, then dead-lettered (queue) or end the run
 *    with that status (stdin: the work is checkpointed, rerun later);
 *  - a failure that asks for a long wait (etl_stage_retry_after(), a rate
 *    limit past --max-wait) is parked in a worker: published to the delay
 *    queue that fits the wait (lib/amqp.h), which sends it back to its
 *    queue when the wait is over, and acked; after opts.max_parks
 *    parkings it is dead-lettered instead.  The worker goes on with other
 *    messages meanwhile, and a kill loses nothing;
 *  - SIGTERM/SIGINT: the message in hand is finished, then the loop ends 0.
 *
 * Emitting: what a handler emits is delivered at once (stdout is flushed
 * per message; queue publishes are confirmed before the input is acked),
 * whatever the handler then returns, so a handler emits only messages for
 * work it has committed.  ETL_DEST_SELF messages go back to this stage: to
 * --from-queue, or on stdin to an in-process FIFO handled after the
 * current message, so "finish step N, then start step N+1" is the same
 * code in a pipe and on queues.
 */
#ifndef ETL_STAGE_H
#define ETL_STAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "log.h"
#include "message.h"

struct etl_stage_opts {
	enum etl_stage input;      /* contract the input is validated against */
	const char *from_queue;    /* NULL: read NDJSON from @in */
	const char *to_queue;      /* NULL: write NDJSON to @out */
	const char *amqp_url;      /* NULL: ETL_AMQP_URL */
	int prefetch;              /* default 10 */
	int max_attempts;          /* per message on TEMPFAIL/UNAVAIL, default 5 */
	long backoff_ms;           /* first retry wait, doubling; default 1000 */
	bool strict;               /* stdin: stop at the first bad line */
	size_t max_bytes;          /* 0: ETL_MSG_MAX_DEFAULT */
	FILE *in, *out;            /* NULL: stdin, stdout */
	long idle_exit_ms;         /* queue: end (0) after this long with no message; 0 never */
	long park_min_ms;          /* queue: park waits this long or longer; 0: 10 s */
	int max_parks;             /* queue: parkings before dead-lettering; 0: 48 */
};
#define ETL_STAGE_OPTS_INIT { ETL_STAGE_ANY, NULL, NULL, NULL, 10, 5, 1000, false, 0, NULL, \
	NULL, 0, 0, 0 }

enum etl_dest {
	ETL_DEST_NEXT,   /* the next stage: stdout or --to-queue */
	ETL_DEST_SELF    /* this stage again: --from-queue, or the stdin FIFO */
};

struct etl_stage_ctx;   /* the running loop (enum etl_stage is the message stage) */

/*
 * Process @m (already validated against opts.input; borrowed).  Returns
 * ETL_OK, or the failure's category:
 *   ETL_DATAERR               this message can never succeed: reported or
 *                             dead-lettered, the run goes on
 *   ETL_TEMPFAIL, ETL_UNAVAIL retried with backoff (the handler resumes
 *                             from its own checkpoint), then as above
 *   anything else             fatal: the loop stops with that status
 * Before failing, say why with etl_stage_set_reason() (it becomes the
 * x-etl-error header and the error line).
 */
typedef int etl_stage_fn(struct etl_stage_ctx *st, struct etl_msg *m, void *ctx);

/* Emit one message (one line of JSON, no newline).  0, or -1 after
 * reporting (the output is gone: the handler should fail ETL_UNAVAIL). */
int etl_stage_emit(struct etl_stage_ctx *st, enum etl_dest dest, const char *line, size_t len);
int etl_stage_emit_msg(struct etl_stage_ctx *st, enum etl_dest dest, const struct etl_msg *m);
/* The reason for the current message's failure (also logged as an error). */
void etl_stage_set_reason(struct etl_stage_ctx *st, const char *fmt, ...) ETL_PRINTF(2, 3);
/*
 * The current message's temporary failure should not be retried before
 * @ms: a worker parks it when that is opts.park_min_ms or more, rather
 * than retrying it at once (on stdin nothing changes).
 */
void etl_stage_retry_after(struct etl_stage_ctx *st, long ms);
/* Parkings of one message before it is dead-lettered, by default: two
 * days of hourly rate-limit windows. */
#define ETL_STAGE_MAX_PARKS 48
/* True when input comes from a queue (a long-lived worker). */
bool etl_stage_is_worker(const struct etl_stage_ctx *st);

/* Run the loop until the input ends (stdin), or until SIGTERM (queue).
 * Returns the exit status. */
int etl_stage_run(const struct etl_stage_opts *o, etl_stage_fn *fn, void *ctx);

#endif
