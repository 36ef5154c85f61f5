/*
 * queue.c - the etl-queue subcommands (see queue.h and man/etl-queue.1).
 */
#include <errno.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>

#include "amqp.h"
#include "json.h"
#include "log.h"
#include "message.h"
#include "queue.h"
#include "util.h"

#define MAX_REPORTS 10         /* per-message failures reported one by one */
#define ERROR_HEADER "x-etl-error"
#define ORIGIN_HEADER "x-etl-queue"   /* set with it by workers (lib/stage.c) */
#define RETURN_WAIT_MS 1000    /* how long a peek waits for its requeue */

static struct etl_amqp *open_conn(const struct etl_queue_opts *o, int heartbeat, int *rc)
{
	struct etl_amqp_opts ao = ETL_AMQP_OPTS_INIT;

	ao.heartbeat_s = heartbeat;
	return etl_amqp_connect(o->url, &ao, rc);
}

static int why_of(struct etl_amqp *a)
{
	int why = etl_amqp_why(a);

	return why ? why : ETL_UNAVAIL;
}

/* True if @body is one line of valid JSON; else false with @err set. */
static bool one_json_line(const char *body, size_t len, char *err, size_t errlen)
{
	if (memchr(body, '\n', len) || memchr(body, '\r', len)) {
		snprintf(err, errlen, "the body spans more than one line");
		return false;
	}
	if (len == 0) {
		snprintf(err, errlen, "the body is empty");
		return false;
	}
	return etl_json_validate(body, len, err, errlen) == 0;
}

/* Like memmem(3), which is a GNU extension. */
static const void *find_bytes(const void *hay, size_t hlen, const char *needle,
			      size_t nlen)
{
	const char *h = hay;

	if (!nlen)
		return hay;
	for (size_t i = 0; i + nlen <= hlen; i++)
		if (h[i] == needle[0] && !memcmp(h + i, needle, nlen))
			return h + i;
	return NULL;
}

/* ---- setup, stats, purge ------------------------------------------------- */

int etl_queue_setup(const struct etl_queue_opts *o)
{
	int rc;
	struct etl_amqp *a = open_conn(o, 0, &rc);

	if (!a)
		return rc;
	rc = etl_amqp_setup(a, o->delivery_limit) < 0 ? why_of(a) : ETL_OK;
	etl_amqp_close(a);
	return rc;
}

int etl_queue_stats(const struct etl_queue_opts *o, FILE *out)
{
	int rc, ret = ETL_OK;
	struct etl_amqp *a = open_conn(o, 0, &rc);

	if (!a)
		return rc;
	if (o->table)
		fprintf(out, "%-28s %10s %10s\n", "QUEUE", "MESSAGES", "CONSUMERS");
	for (size_t i = 0; i < ETL_AMQP_NQUEUES; i++) {
		const char *q = etl_amqp_queue_name(i);
		uint32_t msgs, cons;

		rc = etl_amqp_queue_stat(a, q, &msgs, &cons);
		if (rc < 0) {
			ret = why_of(a);
			break;
		}
		if (rc == 1) {
			etl_error("queue '%s' does not exist (run 'etl-queue setup')", q);
			ret = ETL_UNAVAIL;
			continue;
		}
		if (o->table)
			fprintf(out, "%-28s %10u %10u\n", q, msgs, cons);
		else
			fprintf(out, "{\"queue\":\"%s\",\"messages\":%u,\"consumers\":%u}\n",
				q, msgs, cons);
	}
	etl_amqp_close(a);
	return ret;
}

static int purge(const struct etl_queue_opts *o, const char *queue)
{
	int rc;
	uint32_t n = 0;
	struct etl_amqp *a = open_conn(o, 0, &rc);
	struct etl_buf q = ETL_BUF_INIT;

	if (!a)
		return rc;
	rc = etl_amqp_purge(a, queue, &n) < 0 ? why_of(a) : ETL_OK;
	if (rc == ETL_OK) {
		etl_buf_add_json_str(&q, queue, strlen(queue));
		printf("{\"queue\":%s,\"purged\":%u}\n", q.buf, n);
	}
	etl_buf_release(&q);
	etl_amqp_close(a);
	return rc;
}

int etl_queue_purge(const struct etl_queue_opts *o, const char *queue)
{
	return purge(o, queue);
}

int etl_queue_dlq_purge(const struct etl_queue_opts *o)
{
	return purge(o, ETL_AMQP_DLQ);
}

/* ---- publish --------------------------------------------------------- */

struct pub {
	const char *queue;
	/* publishes in order: their line numbers, settled or not */
	long *lines;
	bool *done;
	size_t cap, head, n;
	uint64_t next;
	long confirmed, returned, nacked, lost, reported;
	long first_bad;          /* first line not confirmed, 0 if none */
	long last_line;          /* last input line handled */
};

static void pub_bad(struct pub *p, long line)
{
	if (!p->first_bad || line < p->first_bad)
		p->first_bad = line;
}

static void on_confirm(void *ctx, uint64_t cookie, enum etl_amqp_outcome out,
		       const char *why)
{
	struct pub *p = ctx;
	size_t i = cookie % p->cap;
	long line = p->lines[i];

	p->done[i] = true;
	switch (out) {
	case ETL_AMQP_ACKED:
		p->confirmed++;
		break;
	case ETL_AMQP_RETURNED:
	case ETL_AMQP_NACKED:
		if (out == ETL_AMQP_RETURNED)
			p->returned++;
		else
			p->nacked++;
		pub_bad(p, line);
		if (p->reported++ < MAX_REPORTS)
			etl_error("line %ld: cannot publish to queue '%s': %s",
				  line, p->queue, why);
		break;
	case ETL_AMQP_LOST:
		p->lost++;
		pub_bad(p, line);
		break;
	}
	while (p->n && p->done[p->head]) {
		p->head = (p->head + 1) % p->cap;
		p->n--;
	}
}

/* The last line L such that lines 1..L need not be published again. */
static long pub_done_prefix(const struct pub *p)
{
	long l = p->n ? p->lines[p->head] - 1 : p->last_line;

	if (p->first_bad && p->first_bad - 1 < l)
		l = p->first_bad - 1;
	return l;
}

int etl_queue_publish(const struct etl_queue_opts *o, const char *queue, FILE *in)
{
	struct etl_reader r = ETL_READER_INIT(in);
	struct etl_msg m = ETL_MSG_INIT;
	struct pub p;
	struct etl_amqp *a;
	enum etl_stage stage = etl_stage_of_queue(queue);
	bool dlq = !strcmp(queue, ETL_AMQP_DLQ);
	const char *exchange = dlq ? ETL_AMQP_DLX : ETL_AMQP_EXCHANGE;
	const char *key = dlq ? ETL_AMQP_DLQ_KEY : queue;
	size_t max = o->max_bytes ? o->max_bytes : ETL_MSG_MAX_DEFAULT;
	long invalid = 0, published = 0;
	bool stopped = false;
	const char *line;
	size_t len;
	char err[256];
	int rc = ETL_OK;

	memset(&p, 0, sizeof(p));
	p.queue = queue;
	/* Heartbeats are off: we may block on stdin longer than any. */
	a = open_conn(o, 0, &rc);
	if (!a)
		return rc;
	if (etl_amqp_confirm_select(a, o->window, on_confirm, &p) < 0) {
		rc = why_of(a);
		goto out;
	}
	/* Twice the window: a slot is reused only long after it settled. */
	p.cap = 2 * (o->window ? o->window : 200);
	p.lines = xcalloc(p.cap, sizeof(*p.lines));
	p.done = xcalloc(p.cap, sizeof(*p.done));

	while (!etl_stop_requested && (line = etl_reader_next(&r, &len)) != NULL) {
		size_t slot;

		if (r.lineno <= o->skip)
			continue;
		if (len > max) {
			etl_error("line %ld: message of %zu bytes exceeds the limit of %zu",
				  r.lineno, len, max);
			goto invalid;
		}
		if (etl_msg_parse(&m, line, len, err, sizeof(err)) < 0 ||
		    etl_msg_validate(&m, stage, max, err, sizeof(err)) < 0) {
			etl_error("line %ld: %s", r.lineno, err);
			goto invalid;
		}
		slot = p.next % p.cap;
		p.lines[slot] = r.lineno;
		p.done[slot] = false;
		p.n++;
		if (etl_amqp_publish(a, exchange, key, line, len, NULL, 0, p.next++) < 0) {
			rc = why_of(a);
			break;
		}
		published++;
		p.last_line = r.lineno;
		continue;
invalid:
		invalid++;
		if (!p.n)
			p.last_line = r.lineno;
		if (o->strict)
			break;
	}
	if (r.error == EINTR && etl_stop_requested) {
		r.error = 0;
		stopped = true;
	}
	if (r.error) {
		etl_error("cannot read standard input: %s", strerror(r.error));
		rc = etl_exit_worst(rc, ETL_IOERR);
	}
	if (rc == ETL_OK && etl_amqp_flush(a) < 0)
		rc = why_of(a);
	if (p.reported > MAX_REPORTS)
		etl_error("... and %ld more messages not delivered", p.reported - MAX_REPORTS);
	if (rc != ETL_OK || p.lost) {
		etl_error("published %ld messages to queue '%s', %ld confirmed; "
			  "lines 1-%ld are done (rerun with --skip %ld)",
			  published, queue, p.confirmed, pub_done_prefix(&p),
			  pub_done_prefix(&p));
		rc = etl_exit_worst(rc, ETL_UNAVAIL);
	} else if (p.returned || p.nacked) {
		etl_error("%ld of %ld messages were not delivered to queue '%s'",
			  p.returned + p.nacked, published, queue);
		rc = ETL_UNAVAIL;
	}
	if (rc == ETL_OK && (stopped || etl_stop_requested)) {
		etl_error("stopped by a signal: lines 1-%ld are done (rerun with --skip %ld)",
			  pub_done_prefix(&p), pub_done_prefix(&p));
		rc = ETL_TEMPFAIL;
	}
	if (invalid) {
		etl_error("%ld invalid line%s%s", invalid, invalid == 1 ? "" : "s",
			  o->strict ? " (--strict: stopped at the first)" : " skipped");
		rc = etl_exit_worst(rc, ETL_DATAERR);
	}
	etl_info("published %ld messages to queue '%s', %ld confirmed",
		 published, queue, p.confirmed);
out:
	etl_amqp_close(a);
	etl_msg_release(&m);
	etl_reader_release(&r);
	free(p.lines);
	free(p.done);
	return rc;
}

/* ---- consume ---------------------------------------------------------- */

/* After a write error: forget what is buffered, so the final flush at
 * exit does not fail (and report) a second time. */
static void drop_output(FILE *out)
{
	__fpurge(out);
	clearerr(out);
}

/* Flush the lines written since the last ack, then ack them all. */
static int flush_and_ack(struct etl_amqp *a, FILE *out, uint64_t *pend_tag)
{
	if (!*pend_tag)
		return ETL_OK;
	if (fflush(out) != 0 || ferror(out)) {
		etl_error("cannot write to standard output: %s", strerror(errno));
		drop_output(out);
		/* Cancel first, or the broker hands them straight back to us,
		 * and each return counts as a delivery attempt. */
		etl_amqp_consume_cancel(a);
		etl_amqp_nack(a, *pend_tag, true, true);
		*pend_tag = 0;
		return ETL_IOERR;
	}
	if (etl_amqp_ack(a, *pend_tag, true) < 0)
		return why_of(a);
	*pend_tag = 0;
	return ETL_OK;
}

static int peek_consume(const struct etl_queue_opts *o, const char *queue, FILE *out);

int etl_queue_consume(const struct etl_queue_opts *o, const char *queue, FILE *out)
{
	struct etl_amqp *a;
	struct etl_amqp_msg m;
	uint64_t pend_tag = 0;
	size_t pend = 0;
	long got = 0, bad = 0;
	char err[256];
	int rc;

	if (o->requeue)
		return peek_consume(o, queue, out);
	a = open_conn(o, 60, &rc);
	if (!a)
		return rc;
	if (etl_amqp_consume_start(a, queue, (uint16_t)o->prefetch) < 0) {
		rc = why_of(a);
		goto out;
	}
	rc = ETL_OK;
	while (o->count < 0 || got < o->count) {
		int n = 0;

		/* Batch: ack after one flush while deliveries are at hand. */
		if (pend)
			n = etl_amqp_consume(a, &m, 0);
		if (n == 0) {
			rc = flush_and_ack(a, out, &pend_tag);
			pend = 0;
			if (rc != ETL_OK)
				break;
			n = etl_amqp_consume(a, &m, o->timeout_ms);
		}
		if (n < 0)
			rc = why_of(a);
		if (n <= 0)
			break;
		if (!one_json_line(m.body, m.len, err, sizeof(err))) {
			etl_error("delivery %llu from queue '%s': not one line of JSON: %s; "
				  "rejected to the dead-letter queue",
				  (unsigned long long)m.tag, queue, err);
			bad++;
			if (etl_amqp_reject(a, m.tag, false) < 0) {
				rc = why_of(a);
				break;
			}
			continue;
		}
		if (fwrite(m.body, 1, m.len, out) != m.len || putc('\n', out) == EOF) {
			etl_error("cannot write to standard output: %s", strerror(errno));
			drop_output(out);
			etl_amqp_consume_cancel(a);
			etl_amqp_reject(a, m.tag, true);
			if (pend_tag)
				etl_amqp_nack(a, pend_tag, true, true);
			pend_tag = 0;
			rc = ETL_IOERR;
			break;
		}
		pend_tag = m.tag;
		pend++;
		got++;
		if (pend >= 64) {
			rc = flush_and_ack(a, out, &pend_tag);
			pend = 0;
			if (rc != ETL_OK)
				break;
		}
	}
	if (rc == ETL_OK)
		rc = flush_and_ack(a, out, &pend_tag);
	if (rc == ETL_OK && bad)
		rc = ETL_DATAERR;
	else if (rc == ETL_OK && got == 0)
		rc = ETL_NOTHING;
out:
	etl_amqp_close(a);
	return rc;
}

/* ---- peek: look at messages and put them back ------------------------- */

/*
 * A peek consumes without acking and then closes the channel, so the
 * broker returns every message to its original position (quorum queues:
 * returned messages go ahead of the rest, in their order; classic queues:
 * requeued at their position).  RabbitMQ 3.10 counts such a return as a
 * delivery attempt of a quorum queue message (x-delivery-count + 1), and
 * dead-letters a message whose count passes x-delivery-limit.  So a
 * message that is on its last attempt (x-delivery-count >= limit) is not
 * returned: once the consumer is cancelled, a copy is published to the
 * back of its queue (confirmed), then the original is acked.  Those
 * messages alone move to the back, in their order, with a new count.
 */
typedef int (*peek_fn)(void *ctx, const char *queue, const struct etl_amqp_msg *m);

struct stashed {
	char *body, *error;
	size_t len;
	uint64_t tag;
};

struct peek {
	const struct etl_queue_opts *o;
	struct etl_amqp *a, *pub;
	struct stashed *last;          /* last-attempt messages of this queue */
	size_t nlast, alast;
	long moved;
	enum etl_amqp_outcome outcome;
};

static void on_peek_confirm(void *ctx, uint64_t cookie, enum etl_amqp_outcome out,
			    const char *why)
{
	struct peek *pk = ctx;

	(void)cookie;
	(void)why;
	pk->outcome = out;
}

static int peek_open(struct peek *pk, const struct etl_queue_opts *o)
{
	int rc;

	memset(pk, 0, sizeof(*pk));
	pk->o = o;
	pk->a = open_conn(o, 60, &rc);
	return pk->a ? ETL_OK : rc;
}

static void stash_release(struct peek *pk)
{
	for (size_t i = 0; i < pk->nlast; i++) {
		free(pk->last[i].body);
		free(pk->last[i].error);
	}
	pk->nlast = 0;
}

static void peek_close(struct peek *pk)
{
	if (pk->moved)
		etl_warn("%ld message%s on their last delivery attempt moved to the "
			 "back of their queue instead of being requeued",
			 pk->moved, pk->moved == 1 ? "" : "s");
	stash_release(pk);
	free(pk->last);
	etl_amqp_close(pk->a);
	etl_amqp_close(pk->pub);
}

static void stash(struct peek *pk, const struct etl_amqp_msg *m)
{
	struct stashed *st;

	if (pk->nlast == pk->alast) {
		pk->alast = pk->alast ? 2 * pk->alast : 16;
		pk->last = xrealloc(pk->last, pk->alast * sizeof(*pk->last));
	}
	st = &pk->last[pk->nlast++];
	st->body = xstrndup(m->body, m->len);
	st->len = m->len;
	st->error = etl_amqp_msg_header(m, ERROR_HEADER);
	st->tag = m->tag;
}

/* Copy the stashed messages to the back of @queue, confirmed, then ack
 * their originals.  The consumer must be cancelled already. */
static int move_to_back(struct peek *pk, const char *queue)
{
	int why;

	if (!pk->nlast)
		return 0;
	if (!pk->pub) {
		pk->pub = open_conn(pk->o, 60, &why);
		if (!pk->pub || etl_amqp_confirm_select(pk->pub, 1, on_peek_confirm, pk) < 0)
			return -1;
	}
	for (size_t i = 0; i < pk->nlast; i++) {
		struct stashed *st = &pk->last[i];
		struct etl_amqp_header h = { ERROR_HEADER, st->error };

		pk->outcome = ETL_AMQP_LOST;
		if (etl_amqp_publish(pk->pub, "", queue, st->body, st->len, &h,
				     st->error ? 1 : 0, i) < 0 ||
		    etl_amqp_flush(pk->pub) < 0)
			return -1;
		if (pk->outcome != ETL_AMQP_ACKED)
			return etl_error("cannot move a message to the back of queue '%s': %s",
					 queue, etl_amqp_outcome_name(pk->outcome));
		if (etl_amqp_ack(pk->a, st->tag, false) < 0)
			return -1;
		pk->moved++;
	}
	return 0;
}

/*
 * Wait until the broker has taken back what the closed channel held: the
 * ready count is back to what it was (a quorum queue applies the return a
 * moment after the channel is gone; a consumer arriving before that would
 * get the later messages first).  Bounded: other consumers may be taking
 * messages meanwhile.
 */
static void wait_returned(struct peek *pk, const char *queue, uint32_t ready0)
{
	int64_t deadline = etl_now_ms() + RETURN_WAIT_MS;
	uint32_t msgs, cons;

	while (etl_now_ms() < deadline) {
		if (etl_amqp_queue_stat(pk->a, queue, &msgs, &cons) != 0 || msgs >= ready0)
			return;
		etl_sleep_ms(10);
	}
}

/*
 * Show @fn at most @max (-1: all) of the messages ready in @queue, then
 * put them all back.  Returns an exit status.
 */
static int peek_queue(struct peek *pk, const char *queue, long max, peek_fn fn, void *ctx)
{
	struct etl_amqp *a = pk->a;
	struct etl_amqp_msg m;
	uint32_t ready, cons0;
	long limit, seen = 0;
	int rc, n;

	rc = etl_amqp_queue_stat(a, queue, &ready, &cons0);
	if (rc < 0)
		return why_of(a);
	if (rc == 1) {
		etl_error("queue '%s' does not exist (run 'etl-queue setup')", queue);
		return ETL_UNAVAIL;
	}
	if (ready == 0)
		return ETL_OK;
	limit = max >= 0 && max < (long)ready ? max : (long)ready;
	/* Prefetch no more than we look at: nothing is taken needlessly. */
	if (etl_amqp_consume_start(a, queue, limit <= 65535 ? (uint16_t)limit : 0) < 0)
		return why_of(a);
	rc = ETL_OK;
	stash_release(pk);
	for (;;) {
		bool draining = seen >= limit || rc != ETL_OK;

		if (draining && etl_amqp_consume_cancel(a) < 0)
			break;
		/* Cancelled: what was sent before the cancel still comes. */
		n = etl_amqp_consume(a, &m, draining ? 0 : 1000);
		if (n <= 0)
			break;
		if (seen < limit && rc == ETL_OK) {
			rc = fn(ctx, queue, &m);
			seen++;
		}
		if (etl_amqp_msg_delivery_count(&m) >= pk->o->delivery_limit)
			stash(pk, &m);
	}
	if (etl_amqp_alive(a) && etl_amqp_consume_cancel(a) == 0 &&
	    move_to_back(pk, queue) < 0)
		etl_warn("messages on their last delivery attempt go back to queue '%s' "
			 "and may be dead-lettered", queue);
	if (!etl_amqp_alive(a))
		return rc != ETL_OK ? rc : why_of(a);
	/* Closing the channel requeues every delivery we did not ack. */
	if (etl_amqp_channel_reset(a) < 0)
		return rc != ETL_OK ? rc : why_of(a);
	wait_returned(pk, queue, ready);
	return rc;
}

struct peek_out {
	FILE *out;
	long written, bad;
	bool dlq;
};

static int write_line(struct peek_out *po, const char *s, size_t len)
{
	if (fwrite(s, 1, len, po->out) != len || putc('\n', po->out) == EOF ||
	    fflush(po->out) != 0) {
		etl_error("cannot write to standard output: %s", strerror(errno));
		return ETL_IOERR;
	}
	po->written++;
	return ETL_OK;
}

static int peek_write(void *ctx, const char *queue, const struct etl_amqp_msg *m)
{
	struct peek_out *po = ctx;
	char err[256];

	if (!one_json_line(m->body, m->len, err, sizeof(err))) {
		etl_error("delivery %llu from queue '%s': not one line of JSON: %s; "
			  "left in the queue", (unsigned long long)m->tag, queue, err);
		po->bad++;
		return ETL_OK;
	}
	return write_line(po, m->body, m->len);
}

static int peek_consume(const struct etl_queue_opts *o, const char *queue, FILE *out)
{
	struct peek pk;
	struct peek_out po = { out, 0, 0, false };
	int rc = peek_open(&pk, o);

	if (rc != ETL_OK)
		return rc;
	rc = peek_queue(&pk, queue, o->count, peek_write, &po);
	peek_close(&pk);
	if (rc == ETL_OK && po.bad)
		rc = ETL_DATAERR;
	else if (rc == ETL_OK && !po.written)
		rc = ETL_NOTHING;
	return rc;
}

/* ---- dead letters -------------------------------------------------------- */

static void add_str_or_null(struct etl_buf *b, const char *s)
{
	if (s)
		etl_buf_add_json_str(b, s, strlen(s));
	else
		etl_buf_adds(b, "null");
}

/*
 * Where dead letter @m came from.  The broker's own dead-lettering says so in
 * x-death; a worker that gives up on a message publishes it here itself
 * (lib/stage.c), with x-etl-queue instead, and "rejected" is what the broker
 * would have said of it.
 */
static void dlq_origin(const struct etl_amqp_msg *m, char **queue, char **reason,
		       int64_t *count)
{
	if (etl_amqp_msg_death(m, queue, reason, count) == 0 && *queue && **queue)
		return;
	free(*queue);
	free(*reason);
	*queue = etl_amqp_msg_header(m, ORIGIN_HEADER);
	*reason = *queue ? xstrdup("rejected") : NULL;
	*count = *queue ? 1 : 0;
}

static int dlq_write(void *ctx, const char *queue, const struct etl_amqp_msg *m)
{
	struct peek_out *po = ctx;
	struct etl_buf b = ETL_BUF_INIT;
	char *dq, *reason, *error = etl_amqp_msg_header(m, ERROR_HEADER);
	char err[256];
	int64_t count;
	int rc;

	(void)queue;
	dlq_origin(m, &dq, &reason, &count);
	etl_buf_adds(&b, "{\"queue\":");
	add_str_or_null(&b, dq);
	etl_buf_adds(&b, ",\"reason\":");
	add_str_or_null(&b, reason);
	etl_buf_addf(&b, ",\"count\":%lld,\"error\":", (long long)count);
	add_str_or_null(&b, error);
	/* The message itself when it is a JSON line, else its text. */
	if (one_json_line(m->body, m->len, err, sizeof(err))) {
		etl_buf_adds(&b, ",\"message\":");
		etl_buf_add(&b, m->body, m->len);
	} else {
		etl_buf_adds(&b, ",\"message\":null,\"body\":");
		etl_buf_add_json_str(&b, m->body, m->len);
	}
	etl_buf_addch(&b, '}');
	rc = write_line(po, b.buf, b.len);
	etl_buf_release(&b);
	free(dq);
	free(reason);
	free(error);
	return rc;
}

int etl_queue_dlq_list(const struct etl_queue_opts *o, FILE *out)
{
	struct peek pk;
	struct peek_out po = { out, 0, 0, true };
	int rc = peek_open(&pk, o);

	if (rc != ETL_OK)
		return rc;
	rc = peek_queue(&pk, ETL_AMQP_DLQ, o->count, dlq_write, &po);
	peek_close(&pk);
	return rc;
}

struct requeue {
	uint64_t *acked;
	size_t nacked, cap;
	long failed;
};

static void on_requeue_confirm(void *ctx, uint64_t tag, enum etl_amqp_outcome out,
			       const char *why)
{
	struct requeue *rq = ctx;

	if (out != ETL_AMQP_ACKED) {
		if (rq->failed++ < MAX_REPORTS)
			etl_error("cannot requeue dead letter %llu: %s; left in '%s'",
				  (unsigned long long)tag, why, ETL_AMQP_DLQ);
		return;
	}
	if (rq->nacked == rq->cap) {
		rq->cap = rq->cap ? 2 * rq->cap : 64;
		rq->acked = xrealloc(rq->acked, rq->cap * sizeof(*rq->acked));
	}
	rq->acked[rq->nacked++] = tag;
}

int etl_queue_dlq_requeue(const struct etl_queue_opts *o)
{
	struct requeue rq = { NULL, 0, 0, 0 };
	struct etl_amqp_msg m;
	struct etl_amqp *a;
	long moved = 0, taken = 0, orphans = 0;
	int rc, n;

	a = open_conn(o, 60, &rc);
	if (!a)
		return rc;
	if (etl_amqp_confirm_select(a, 100, on_requeue_confirm, &rq) < 0) {
		rc = why_of(a);
		goto out;
	}
	rc = ETL_OK;
	while ((o->count < 0 || taken < o->count) && !etl_stop_requested) {
		char *q, *reason;
		int64_t cnt;

		n = etl_amqp_get(a, ETL_AMQP_DLQ, &m);
		if (n < 0)
			rc = why_of(a);
		if (n <= 0)
			break;
		taken++;
		dlq_origin(&m, &q, &reason, &cnt);
		if (!q || !*q) {
			/* Left unacked: it goes back when the channel closes. */
			etl_error("dead letter %llu names no queue it came from; left in '%s'",
				  (unsigned long long)m.tag, ETL_AMQP_DLQ);
			orphans++;
		} else if (etl_amqp_publish(a, "", q, m.body, m.len, NULL, 0, m.tag) < 0) {
			rc = why_of(a);
		}
		free(q);
		free(reason);
		if (rc != ETL_OK)
			break;
	}
	/* Ack only what the broker confirmed in its queue. */
	if (rc == ETL_OK && etl_amqp_flush(a) < 0)
		rc = why_of(a);
	for (size_t i = 0; rc == ETL_OK && i < rq.nacked; i++) {
		if (etl_amqp_ack(a, rq.acked[i], false) < 0)
			rc = why_of(a);
		else
			moved++;
	}
	if (rc == ETL_OK && etl_amqp_channel_reset(a) < 0)
		rc = why_of(a);
	if (rq.failed > MAX_REPORTS)
		etl_error("... and %ld more dead letters not requeued", rq.failed - MAX_REPORTS);
	printf("{\"requeued\":%ld,\"failed\":%ld}\n", moved, rq.failed + orphans);
	if (rc == ETL_OK && rq.failed)
		rc = ETL_UNAVAIL;
	else if (rc == ETL_OK && orphans)
		rc = ETL_DATAERR;
	else if (rc == ETL_OK && taken == 0)
		rc = ETL_NOTHING;
out:
	etl_amqp_close(a);
	free(rq.acked);
	return rc;
}

/* ---- count ------------------------------------------------------------ */

struct counter {
	const char *token;
	size_t toklen;
	long n;
	struct etl_msg msg;
};

static int count_one(void *ctx, const char *queue, const struct etl_amqp_msg *m)
{
	struct counter *c = ctx;
	char err[64];

	(void)queue;
	/* Cheap scan first; parse only the bodies that mention the token. */
	if (!find_bytes(m->body, m->len, c->token, c->toklen))
		return ETL_OK;
	if (etl_msg_parse(&c->msg, m->body, m->len, err, sizeof(err)) == 0) {
		char *tok = etl_msg_get_str(&c->msg, "token");

		if (tok && !strcmp(tok, c->token))
			c->n++;
		free(tok);
	}
	return ETL_OK;
}

int etl_queue_count(const struct etl_queue_opts *o, FILE *out)
{
	long total;

	return etl_queue_count_total(o, out, &total);
}

int etl_queue_count_total(const struct etl_queue_opts *o, FILE *out, long *totalp)
{
	struct counter c = { o->token, strlen(o->token), 0, ETL_MSG_INIT };
	struct peek pk;
	long total = 0;
	int rc = peek_open(&pk, o);

	*totalp = 0;
	if (rc != ETL_OK)
		return rc;
	if (out && o->table)
		fprintf(out, "%-28s %10s\n", "QUEUE", "MESSAGES");
	for (size_t i = 0; i + 1 < ETL_AMQP_NQUEUES; i++) {
		const char *q = etl_amqp_queue_name(i);
		const char *tier = strrchr(q, '_');

		/* Delay queues hold every tier's messages: always counted. */
		if (o->tier && tier && strcmp(o->tier, tier + 1))
			continue;
		c.n = 0;
		rc = peek_queue(&pk, q, -1, count_one, &c);
		if (rc != ETL_OK)
			break;
		total += c.n;
		if (!out)
			continue;
		if (o->table)
			fprintf(out, "%-28s %10ld\n", q, c.n);
		else
			fprintf(out, "{\"queue\":\"%s\",\"token\":\"%s\",\"messages\":%ld}\n",
				q, o->token, c.n);
	}
	*totalp = total;
	if (rc == ETL_OK && out) {
		if (o->table)
			fprintf(out, "%-28s %10ld\n", "total", total);
		else
			fprintf(out, "{\"token\":\"%s\",\"total\":%ld}\n", o->token, total);
	}
	peek_close(&pk);
	etl_msg_release(&c.msg);
	return rc;
}
