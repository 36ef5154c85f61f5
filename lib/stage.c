#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "amqp.h"
#include "buf.h"
#include "stage.h"
#include "util.h"

struct fifo_item {
	struct fifo_item *next;
	size_t len;
	char line[];
};

struct etl_stage_ctx {
	struct etl_stage_opts o;
	etl_stage_fn *fn;
	void *ctx;
	FILE *in, *out;
	/* Two connections: frames of deliveries would otherwise arrive while
	 * the publisher waits for confirms and be read as stray frames. */
	struct etl_amqp *amqp;        /* publishing, in confirm mode */
	struct etl_amqp *sub;         /* consuming (--from-queue) */
	struct fifo_item *head, *tail;  /* stdin mode: ETL_DEST_SELF messages */
	long confirm_failures;        /* publishes not confirmed since the last check */
	char reason[512];
	long retry_after_ms;          /* the current message's wish, 0: none */
	int status;                   /* the worst outcome so far */
	long handled, failed;
};

static void on_confirm(void *ctx, uint64_t cookie, enum etl_amqp_outcome outcome,
		       const char *why)
{
	struct etl_stage_ctx *st = ctx;

	(void)cookie;
	if (outcome != ETL_AMQP_ACKED) {
		st->confirm_failures++;
		etl_error("a message was not accepted by the broker: %s (%s)",
			  etl_amqp_outcome_name(outcome), why ? why : "no reason given");
	}
}

void etl_stage_retry_after(struct etl_stage_ctx *st, long ms)
{
	st->retry_after_ms = ms;
}

/* A worker's failure that is better parked than retried at once. */
static bool wants_parking(const struct etl_stage_ctx *st)
{
	return st->o.from_queue && st->retry_after_ms >= st->o.park_min_ms;
}

bool etl_stage_is_worker(const struct etl_stage_ctx *st)
{
	return st->o.from_queue != NULL;
}

void etl_stage_set_reason(struct etl_stage_ctx *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->reason, sizeof(st->reason), fmt, ap);
	va_end(ap);
}

static int publish(struct etl_stage_ctx *st, const char *exchange, const char *key,
		   const char *line, size_t len, const struct etl_amqp_header *h, size_t nh)
{
	if (etl_amqp_publish(st->amqp, exchange, key, line, len, h, nh, 0) < 0)
		return -1;
	return 0;
}

int etl_stage_emit(struct etl_stage_ctx *st, enum etl_dest dest, const char *line, size_t len)
{
	if (dest == ETL_DEST_SELF && !st->o.from_queue) {
		struct fifo_item *it = xmalloc(sizeof(*it) + len + 1);

		it->next = NULL;
		it->len = len;
		memcpy(it->line, line, len);
		it->line[len] = '\0';
		if (st->tail)
			st->tail->next = it;
		else
			st->head = it;
		st->tail = it;
		return 0;
	}
	if (dest == ETL_DEST_SELF)
		return publish(st, ETL_AMQP_EXCHANGE, st->o.from_queue, line, len, NULL, 0);
	if (st->o.to_queue)
		return publish(st, ETL_AMQP_EXCHANGE, st->o.to_queue, line, len, NULL, 0);
	/* One write per line and a flush: the next program in the pipe can
	 * start on it now, and a broken pipe shows up here, not at exit. */
	if (fwrite(line, 1, len, st->out) != len || putc('\n', st->out) == EOF ||
	    fflush(st->out) == EOF)
		return etl_error("cannot write to standard output: %s", strerror(errno));
	return 0;
}

int etl_stage_emit_msg(struct etl_stage_ctx *st, enum etl_dest dest, const struct etl_msg *m)
{
	return etl_stage_emit(st, dest, m->text.buf, m->text.len);
}

static bool retryable(int rc)
{
	return rc == ETL_TEMPFAIL || rc == ETL_UNAVAIL;
}

/* Before each attempt: a publisher that lost its broker gets a new one. */
static void ensure_publisher(struct etl_stage_ctx *st)
{
	if (!st->amqp || etl_amqp_alive(st->amqp))
		return;
	if (etl_amqp_reconnect(st->amqp) == 0)
		etl_amqp_confirm_select(st->amqp, 0, on_confirm, st);
}

/* Wait for the confirms of everything emitted: 0 when all were accepted. */
static int confirm_outputs(struct etl_stage_ctx *st)
{
	if (!st->amqp)
		return 0;
	if (etl_amqp_flush(st->amqp) < 0 || st->confirm_failures) {
		st->confirm_failures = 0;
		etl_stage_set_reason(st, "the broker did not confirm every message emitted");
		return ETL_UNAVAIL;
	}
	return 0;
}

/*
 * Validate and handle one message, retrying temporary failures in a
 * worker.  Returns ETL_OK or the final failure's category; the reason is
 * in st->reason.
 */
static int handle(struct etl_stage_ctx *st, const char *line, size_t len)
{
	struct etl_msg m = ETL_MSG_INIT;
	char err[256];
	int rc = ETL_OK;

	st->reason[0] = '\0';
	if (etl_msg_parse(&m, line, len, err, sizeof(err)) < 0 ||
	    etl_msg_validate(&m, st->o.input, st->o.max_bytes ? st->o.max_bytes :
			     ETL_MSG_MAX_DEFAULT, err, sizeof(err)) < 0) {
		etl_stage_set_reason(st, "invalid %s message: %s",
				     etl_stage_name(st->o.input), err);
		etl_msg_release(&m);
		return ETL_DATAERR;
	}
	etl_log_set_job((long)m.job_id, m.token);
	for (int attempt = 1; ; attempt++) {
		st->reason[0] = '\0';
		st->retry_after_ms = 0;
		ensure_publisher(st);
		rc = st->fn(st, &m, st->ctx);
		if (rc == ETL_OK)
			rc = confirm_outputs(st);
		else
			confirm_outputs(st);
		if (!retryable(rc) || !st->o.from_queue || attempt >= st->o.max_attempts ||
		    etl_stop_requested || wants_parking(st))
			break;
		long wait = st->o.backoff_ms << (attempt - 1 < 10 ? attempt - 1 : 10);
		etl_warn("attempt %d of %d failed (%s); retrying in %ld ms", attempt,
			 st->o.max_attempts, *st->reason ? st->reason : "temporary failure", wait);
		etl_sleep_ms(wait);
	}
	if (rc != ETL_OK && !*st->reason)
		etl_stage_set_reason(st, "failed with status %d", rc);
	etl_log_set_job(0, NULL);
	etl_msg_release(&m);
	return rc;
}

static void record(struct etl_stage_ctx *st, int rc)
{
	st->handled++;
	if (rc != ETL_OK) {
		st->failed++;
		st->status = etl_exit_worst(st->status, rc);
	}
}

/* Handle the ETL_DEST_SELF messages queued while reading stdin. */
static int drain_fifo(struct etl_stage_ctx *st)
{
	while (st->head && !etl_stop_requested) {
		struct fifo_item *it = st->head;
		int rc;

		st->head = it->next;
		if (!st->head)
			st->tail = NULL;
		rc = handle(st, it->line, it->len);
		record(st, rc);
		if (rc != ETL_OK)
			etl_error("follow-up message: %s", st->reason);
		free(it);
		if (rc != ETL_OK && rc != ETL_DATAERR)
			return rc;
	}
	return ETL_OK;
}

static void free_fifo(struct etl_stage_ctx *st)
{
	while (st->head) {
		struct fifo_item *it = st->head;

		st->head = it->next;
		free(it);
	}
	st->tail = NULL;
}

static int run_stdin(struct etl_stage_ctx *st)
{
	struct etl_reader r = ETL_READER_INIT(st->in);
	const char *line;
	size_t len;
	int rc = ETL_OK;

	while (!etl_stop_requested && (line = etl_reader_next(&r, &len)) != NULL) {
		rc = handle(st, line, len);
		record(st, rc);
		if (rc == ETL_DATAERR) {
			etl_error("line %ld: %s", r.lineno, st->reason);
			if (st->o.strict)
				break;
			continue;
		}
		if (rc != ETL_OK) {
			/* Stopping keeps the order of what follows: rerun the
			 * input, the stages are idempotent and resume. */
			etl_error("line %ld: %s; stopping (rerun the input from line %ld)",
				  r.lineno, st->reason, r.lineno);
			break;
		}
		rc = drain_fifo(st);
		if (rc != ETL_OK && rc != ETL_DATAERR) {
			etl_error("stopping after line %ld", r.lineno);
			break;
		}
	}
	if (r.error) {
		etl_error("cannot read standard input: %s", strerror(r.error));
		st->status = etl_exit_worst(st->status, ETL_IOERR);
	}
	etl_reader_release(&r);
	free_fifo(st);
	return st->status;
}

/* A message that can never succeed: to etl.failed with the reason. */
static int dead_letter(struct etl_stage_ctx *st, const struct etl_amqp_msg *am)
{
	const struct etl_amqp_header h[] = {
		{ "x-etl-error", st->reason },
		{ "x-etl-queue", st->o.from_queue },
		{ "x-etl-stage", etl_stage_name(st->o.input) },
	};

	etl_error("dead-lettering a message from '%s': %s", st->o.from_queue, st->reason);
	if (publish(st, ETL_AMQP_DLX, ETL_AMQP_DLQ_KEY, am->body, am->len, h, 3) == 0 &&
	    confirm_outputs(st) == 0)
		return etl_amqp_ack(st->sub, am->tag, false);
	/* We could not add the reason: the queue's own dead-lettering still
	 * keeps the message (reason "rejected"). */
	return etl_amqp_reject(st->sub, am->tag, false);
}

#define PARKS_HEADER "x-etl-parked"

/*
 * Park @am until st->retry_after_ms has passed: a confirmed copy to the
 * delay queue, routed back to our queue by its name, then the ack.  If
 * the copy is not confirmed the message goes back to the queue instead.
 */
static int park(struct etl_stage_ctx *st, const struct etl_amqp_msg *am)
{
	char *seen = etl_amqp_msg_header(am, PARKS_HEADER), count[24];
	long parks = 0, max_ms;
	const char *exchange = etl_amqp_delay_exchange(st->retry_after_ms, &max_ms);
	long wait = st->retry_after_ms < max_ms ? st->retry_after_ms : max_ms;
	const struct etl_amqp_header h[] = {
		{ PARKS_HEADER, count },
		{ "x-etl-error", st->reason },
	};

	if (seen)
		etl_parse_long(seen, 0, LONG_MAX, &parks);
	free(seen);
	if (parks >= st->o.max_parks) {
		char why[sizeof(st->reason)];

		/* (a copy: the reason is rewritten from itself) */
		snprintf(why, sizeof(why), "%s", st->reason);
		etl_stage_set_reason(st, "%s (parked %ld times: giving up)", why, parks);
		return dead_letter(st, am);
	}
	snprintf(count, sizeof(count), "%ld", parks + 1);
	etl_warn("%s; parked for %ld s in '%s' (%ld of %d)", *st->reason ? st->reason :
		 "temporary failure", (wait + 999) / 1000, exchange, parks + 1,
		 st->o.max_parks);
	if (etl_amqp_publish_expiring(st->amqp, exchange, st->o.from_queue, am->body, am->len,
				      h, ETL_ARRAY_SIZE(h), wait, 0) == 0 &&
	    confirm_outputs(st) == 0)
		return etl_amqp_ack(st->sub, am->tag, false);
	return etl_amqp_nack(st->sub, am->tag, false, true);
}

static int run_queue(struct etl_stage_ctx *st)
{
	int64_t idle_since = etl_now_ms();
	int backoff = 0;

	if (etl_amqp_consume_start(st->sub, st->o.from_queue, (uint16_t)st->o.prefetch) < 0)
		return etl_amqp_why(st->sub);
	etl_info("consuming '%s'", st->o.from_queue);
	while (!etl_stop_requested) {
		struct etl_amqp_msg am;
		int got = etl_amqp_consume(st->sub, &am, 500), rc;

		if (got == 0) {
			if (st->o.idle_exit_ms && etl_now_ms() - idle_since >= st->o.idle_exit_ms)
				break;
			continue;
		}
		if (got < 0) {
			/* The broker requeues what we had not acked: reconnect. */
			long wait = 500L << (backoff < 6 ? backoff : 6);

			backoff++;
			etl_warn("lost the broker; reconnecting in %ld ms", wait);
			etl_sleep_ms(wait);
			if (etl_amqp_reconnect(st->sub) == 0 &&
			    etl_amqp_consume_start(st->sub, st->o.from_queue,
						   (uint16_t)st->o.prefetch) == 0)
				backoff = 0;
			continue;
		}
		backoff = 0;
		rc = handle(st, am.body, am.len);
		record(st, rc);
		if (rc == ETL_OK)
			etl_amqp_ack(st->sub, am.tag, false);
		else if (retryable(rc) && etl_stop_requested)
			etl_amqp_nack(st->sub, am.tag, false, true);
		else if (retryable(rc) && wants_parking(st))
			park(st, &am);
		else if (rc == ETL_DATAERR || retryable(rc))
			dead_letter(st, &am);
		else {
			etl_amqp_nack(st->sub, am.tag, false, true);
			etl_error("stopping: %s", st->reason);
			return rc;
		}
		idle_since = etl_now_ms();
	}
	/* A worker's failures were dead-lettered, not lost: that is success. */
	return ETL_OK;
}

int etl_stage_run(const struct etl_stage_opts *o, etl_stage_fn *fn, void *ctx)
{
	struct etl_stage_ctx st;
	int why = 0, rc;

	memset(&st, 0, sizeof(st));
	st.o = *o;
	if (st.o.prefetch <= 0)
		st.o.prefetch = 10;
	if (st.o.max_attempts <= 0)
		st.o.max_attempts = 1;
	if (st.o.backoff_ms <= 0)
		st.o.backoff_ms = 1000;
	if (st.o.park_min_ms <= 0)
		st.o.park_min_ms = 10000;
	if (st.o.max_parks <= 0)
		st.o.max_parks = ETL_STAGE_MAX_PARKS;
	st.fn = fn;
	st.ctx = ctx;
	st.in = o->in ? o->in : stdin;
	st.out = o->out ? o->out : stdout;
	if (o->from_queue || o->to_queue) {
		struct etl_amqp_opts ao = ETL_AMQP_OPTS_INIT;

		st.amqp = etl_amqp_connect(o->amqp_url, &ao, &why);
		if (!st.amqp)
			return why ? why : ETL_UNAVAIL;
		if (etl_amqp_confirm_select(st.amqp, 0, on_confirm, &st) < 0) {
			rc = etl_amqp_why(st.amqp);
			etl_amqp_close(st.amqp);
			return rc ? rc : ETL_UNAVAIL;
		}
		if (o->from_queue) {
			st.sub = etl_amqp_connect(o->amqp_url, &ao, &why);
			if (!st.sub) {
				etl_amqp_close(st.amqp);
				return why ? why : ETL_UNAVAIL;
			}
		}
	}
	rc = o->from_queue ? run_queue(&st) : run_stdin(&st);
	if (st.amqp) {
		if (confirm_outputs(&st) != 0)
			rc = etl_exit_worst(rc, ETL_UNAVAIL);
		etl_amqp_close(st.amqp);
		etl_amqp_close(st.sub);
	}
	etl_info("%ld messages handled, %ld failed", st.handled, st.failed);
	return rc;
}
