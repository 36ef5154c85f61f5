/*
 * amqp.c - the librabbitmq-c 0.11 wrapper (see amqp.h).
 *
 * 0.11 has no publisher-confirm helper, so this file reads the frames
 * itself: basic.ack / basic.nack (with "multiple"), basic.return (the
 * message comes back with our x-etl-seq header, which tells which publish
 * it was: a later ack for it does not mean delivered), channel.close and
 * connection.close.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <amqp.h>
#include <amqp_tcp_socket.h>

#include "amqp.h"
#include "config.h"
#include "log.h"
#include "util.h"

#define CH 1                  /* the one working channel */
#define AUX 2                 /* passive checks the broker may close */
#define SEQ_HEADER "x-etl-seq"
#define MAX_HEADERS 16
#define SLICE_MS 200          /* waits are cut in slices to notice SIGTERM */

struct slot {
	uint64_t seq, cookie;
	bool used, returned;
	char why[160];
};

struct etl_amqp {
	amqp_connection_state_t conn;
	char *url;                /* as given, with the password */
	char redacted[512];
	struct etl_amqp_url u;
	struct etl_amqp_opts o;
	bool alive, ch_open, aux_open;
	int why;
	/* publisher confirms */
	bool confirm;
	struct slot *slots;
	size_t window, outstanding;
	uint64_t next_seq;        /* delivery tag of the next publish */
	etl_amqp_confirm_fn cb;
	void *cb_ctx;
	/* consuming */
	bool consuming;
	amqp_bytes_t ctag;
	bool have_env;
	amqp_envelope_t env;
};

static const char *const tiers[] = { "free", "basic", "premium", "enterprise" };
static const char *const stages[] = { "extraction", "transform", "embedding" };

/*
 * Delay queues: a classic queue expires messages only at its head, so one
 * queue for every wait would hold a one-minute wait behind a one-hour one.
 * With a queue per order of magnitude, a message waits at most its own
 * queue's time.
 */
static const char *const delay_queues[ETL_AMQP_NDELAY_QUEUES] = {
	"etl.delay.60s", "etl.delay.600s", "etl.delay.3600s",
};
static const long delay_ms[ETL_AMQP_NDELAY_QUEUES] = { 60000, 600000, 3600000 };

const char *etl_amqp_queue_name(size_t i)
{
	static char names[ETL_AMQP_NTIER_QUEUES][48];

	if (i >= ETL_AMQP_NQUEUES)
		return NULL;
	if (i == ETL_AMQP_NQUEUES - 1)
		return ETL_AMQP_DLQ;
	if (i >= ETL_AMQP_NTIER_QUEUES)
		return delay_queues[i - ETL_AMQP_NTIER_QUEUES];
	if (!names[i][0])
		snprintf(names[i], sizeof(names[i]), "%s_queue_%s",
			 stages[i / 4], tiers[i % 4]);
	return names[i];
}

const char *etl_amqp_delay_exchange(long ms, long *max_ms)
{
	size_t i = 0;

	while (i + 1 < ETL_AMQP_NDELAY_QUEUES && delay_ms[i] < ms)
		i++;
	*max_ms = delay_ms[i];
	return delay_queues[i];
}

bool etl_amqp_is_tier_queue(const char *queue)
{
	for (size_t i = 0; i < ETL_AMQP_NTIER_QUEUES; i++)
		if (!strcmp(queue, etl_amqp_queue_name(i)))
			return true;
	return false;
}

/* ---- URL --------------------------------------------------------------- */

int etl_amqp_url_parse(const char *url, struct etl_amqp_url *u)
{
	struct amqp_connection_info ci;
	char red[512], *copy;
	int rc;

	etl_amqp_url_release(u);
	etl_redact_url(url, red, sizeof(red));
	copy = xstrdup(url);
	amqp_default_connection_info(&ci);
	rc = amqp_parse_url(copy, &ci);
	if (rc != AMQP_STATUS_OK) {
		free(copy);
		return etl_error("cannot parse AMQP URL '%s': expected "
				 "amqp://user:password@host:port/vhost", red);
	}
	if (ci.ssl) {
		free(copy);
		return etl_error("cannot use AMQP URL '%s': amqps is not supported", red);
	}
	/* Pointers into @copy (decoded in place) or static defaults. */
	u->user = xstrdup(ci.user);
	u->password = xstrdup(ci.password);
	u->host = xstrdup(ci.host);
	/*
	 * "amqp://host:5672/" names the empty vhost to rabbitmq-c, but most
	 * tools write it meaning the default vhost and pika reads it so;
	 * RabbitMQ has no empty vhost, so nothing else can be meant.
	 */
	u->vhost = xstrdup(*ci.vhost ? ci.vhost : "/");
	u->port = ci.port;
	free(copy);
	etl_log_add_secret(u->password);
	return 0;
}

void etl_amqp_url_release(struct etl_amqp_url *u)
{
	free(u->user);
	free(u->password);
	free(u->host);
	free(u->vhost);
	u->user = u->password = u->host = u->vhost = NULL;
	u->port = 0;
}

/* ---- errors ------------------------------------------------------------ */

static struct timeval tv_of(long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	return tv;
}

static void lost(struct etl_amqp *a);
static void report_lost(struct etl_amqp *a);

static int fail(struct etl_amqp *a, int why)
{
	if (a->why == ETL_OK || why == ETL_UNAVAIL)
		a->why = why;
	return -1;
}

/* A library status code: connection problems mean "unavailable". */
static int lib_error(struct etl_amqp *a, int status, const char *what)
{
	etl_error("cannot %s: %s (%s)", what, amqp_error_string2(status),
		  a->redacted);
	switch (status) {
	case AMQP_STATUS_NO_MEMORY:
	case AMQP_STATUS_INVALID_PARAMETER:
	case AMQP_STATUS_TABLE_TOO_BIG:
	case AMQP_STATUS_UNSUPPORTED:
		return fail(a, ETL_SOFTWARE);
	default:
		/* Socket, heartbeat, timeout, protocol: the connection is
		 * unusable now; the caller may reconnect. */
		lost(a);
		return fail(a, ETL_UNAVAIL);
	}
}

static int code_why(int code)
{
	switch (code) {
	case AMQP_ACCESS_REFUSED:
	case AMQP_NOT_ALLOWED:
		return ETL_CONFIG;
	case AMQP_NOT_FOUND:
	case AMQP_PRECONDITION_FAILED:
	case AMQP_RESOURCE_LOCKED:
		return ETL_DATAERR;
	case AMQP_CONNECTION_FORCED:
	case AMQP_RESOURCE_ERROR:
	case AMQP_INTERNAL_ERROR:
		return ETL_UNAVAIL;
	default:
		return ETL_SOFTWARE;
	}
}

/* The broker closed the channel (@m is its channel.close): answer, and
 * report.  The channel must be reopened before use. */
static int channel_closed(struct etl_amqp *a, amqp_channel_t ch,
			  const amqp_channel_close_t *m, const char *what)
{
	amqp_channel_close_ok_t ok = { 0 };

	etl_error("cannot %s: %.*s", what, (int)m->reply_text.len,
		  (const char *)m->reply_text.bytes);
	amqp_send_method(a->conn, ch, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
	if (ch == CH) {
		a->ch_open = false;
		a->consuming = false;
		report_lost(a);   /* no confirm can come on a closed channel */
	} else {
		a->aux_open = false;
	}
	return fail(a, code_why(m->reply_code));
}

static int connection_closed(struct etl_amqp *a, const amqp_connection_close_t *m,
			     const char *what)
{
	amqp_connection_close_ok_t ok = { 0 };

	etl_error("cannot %s: connection closed by the broker: %.*s", what,
		  (int)m->reply_text.len, (const char *)m->reply_text.bytes);
	amqp_send_method(a->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
	lost(a);
	return fail(a, m->reply_code == AMQP_ACCESS_REFUSED ||
		    m->reply_code == AMQP_NOT_ALLOWED ? ETL_CONFIG : ETL_UNAVAIL);
}

/* The reply checker: 0 for a normal reply, else -1 after reporting. */
static int etl_amqp_check(struct etl_amqp *a, amqp_rpc_reply_t r, amqp_channel_t ch,
			  const char *what)
{
	switch (r.reply_type) {
	case AMQP_RESPONSE_NORMAL:
		return 0;
	case AMQP_RESPONSE_NONE:
		etl_error("cannot %s: no reply from the broker", what);
		lost(a);
		return fail(a, ETL_UNAVAIL);
	case AMQP_RESPONSE_LIBRARY_EXCEPTION:
		return lib_error(a, r.library_error, what);
	case AMQP_RESPONSE_SERVER_EXCEPTION:
		if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD)
			return channel_closed(a, ch, r.reply.decoded, what);
		if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD)
			return connection_closed(a, r.reply.decoded, what);
		etl_error("cannot %s: unexpected method 0x%08x from the broker",
			  what, (unsigned)r.reply.id);
		return fail(a, ETL_SOFTWARE);
	}
	etl_error("cannot %s: unknown reply type %d", what, (int)r.reply_type);
	return fail(a, ETL_SOFTWARE);
}

/* ---- connection -------------------------------------------------------- */

static void report_lost(struct etl_amqp *a)
{
	/* Outstanding publishes have no outcome now: tell the caller. */
	for (size_t i = 0; a->slots && i < a->window; i++) {
		struct slot *s = &a->slots[i];

		if (!s->used)
			continue;
		s->used = false;
		a->outstanding--;
		if (a->cb)
			a->cb(a->cb_ctx, s->cookie, ETL_AMQP_LOST,
			      "connection lost before the broker confirmed");
	}
	a->confirm = false;
}

static void lost(struct etl_amqp *a)
{
	a->alive = false;
	a->ch_open = a->aux_open = a->consuming = false;
	report_lost(a);
}

static void drop(struct etl_amqp *a)
{
	if (a->have_env) {
		amqp_destroy_envelope(&a->env);
		a->have_env = false;
	}
	if (a->conn) {
		amqp_destroy_connection(a->conn);
		a->conn = NULL;
	}
	amqp_bytes_free(a->ctag);
	a->ctag = amqp_empty_bytes;
	a->alive = a->ch_open = a->aux_open = a->consuming = false;
}

static int open_channel(struct etl_amqp *a, amqp_channel_t ch)
{
	amqp_channel_open(a->conn, ch);
	if (etl_amqp_check(a, amqp_get_rpc_reply(a->conn), ch, "open an AMQP channel") < 0)
		return -1;
	if (ch == CH)
		a->ch_open = true;
	else
		a->aux_open = true;
	return 0;
}

static int ensure_channel(struct etl_amqp *a, amqp_channel_t ch)
{
	if (!a->alive) {
		etl_error("cannot use the AMQP connection: it was lost");
		return fail(a, ETL_UNAVAIL);
	}
	if ((ch == CH && a->ch_open) || (ch == AUX && a->aux_open))
		return 0;
	return open_channel(a, ch);
}

static int do_connect(struct etl_amqp *a)
{
	amqp_socket_t *sock;
	struct timeval tv = tv_of(a->o.connect_timeout_ms);
	struct timeval rpc = tv_of(a->o.rpc_timeout_ms);
	char what[600];
	int rc;

	drop(a);
	a->why = ETL_OK;
	snprintf(what, sizeof(what), "connect to '%s'", a->redacted);
	a->conn = amqp_new_connection();
	if (!a->conn)
		etl_die(ETL_SOFTWARE, "out of memory creating an AMQP connection");
	sock = amqp_tcp_socket_new(a->conn);
	if (!sock)
		etl_die(ETL_SOFTWARE, "out of memory creating an AMQP socket");
	rc = amqp_socket_open_noblock(sock, a->u.host, a->u.port, &tv);
	if (rc != AMQP_STATUS_OK) {
		etl_error("cannot %s: %s (is RabbitMQ running?)", what,
			  amqp_error_string2(rc));
		return fail(a, ETL_UNAVAIL);
	}
	amqp_set_handshake_timeout(a->conn, &tv);
	if (a->o.rpc_timeout_ms > 0)
		amqp_set_rpc_timeout(a->conn, &rpc);
	a->alive = true;
	if (etl_amqp_check(a, amqp_login(a->conn, a->u.vhost, 0, 131072, a->o.heartbeat_s,
					 AMQP_SASL_METHOD_PLAIN, a->u.user, a->u.password),
			   0, what) < 0) {
		a->alive = false;
		return -1;
	}
	return open_channel(a, CH);
}

struct etl_amqp *etl_amqp_connect(const char *url, const struct etl_amqp_opts *o,
				  int *why)
{
	static const struct etl_amqp_opts defaults = ETL_AMQP_OPTS_INIT;
	struct etl_amqp *a = xcalloc(1, sizeof(*a));

	if (!url || !*url)
		url = etl_config_get_or("ETL_AMQP_URL", ETL_AMQP_URL_DEFAULT);
	a->url = xstrdup(url);
	etl_redact_url(url, a->redacted, sizeof(a->redacted));
	a->o = o ? *o : defaults;
	a->ctag = amqp_empty_bytes;
	if (etl_amqp_url_parse(url, &a->u) < 0) {
		*why = ETL_CONFIG;
		etl_amqp_close(a);
		return NULL;
	}
	if (do_connect(a) < 0) {
		*why = a->why ? a->why : ETL_UNAVAIL;
		etl_amqp_close(a);
		return NULL;
	}
	*why = ETL_OK;
	return a;
}

void etl_amqp_close(struct etl_amqp *a)
{
	if (!a)
		return;
	if (a->alive) {
		/* Best effort: the broker requeues whatever is unacked. */
		if (a->ch_open)
			amqp_channel_close(a->conn, CH, AMQP_REPLY_SUCCESS);
		if (a->alive)
			amqp_connection_close(a->conn, AMQP_REPLY_SUCCESS);
	}
	report_lost(a);
	drop(a);
	etl_amqp_url_release(&a->u);
	free(a->slots);
	free(a->url);
	free(a);
}

int etl_amqp_reconnect(struct etl_amqp *a)
{
	if (a->alive && a->conn)
		amqp_connection_close(a->conn, AMQP_REPLY_SUCCESS);
	report_lost(a);
	return do_connect(a);
}

int etl_amqp_why(const struct etl_amqp *a)
{
	return a->why;
}

bool etl_amqp_alive(const struct etl_amqp *a)
{
	return a->alive;
}

const char *etl_amqp_url_redacted(const struct etl_amqp *a)
{
	return a->redacted;
}

int etl_amqp_channel_reset(struct etl_amqp *a)
{
	if (!a->alive) {
		etl_error("cannot reset the AMQP channel: the connection was lost");
		return fail(a, ETL_UNAVAIL);
	}
	if (a->have_env) {
		amqp_destroy_envelope(&a->env);
		a->have_env = false;
	}
	if (a->ch_open &&
	    etl_amqp_check(a, amqp_channel_close(a->conn, CH, AMQP_REPLY_SUCCESS), CH,
			   "close the AMQP channel") < 0)
		return -1;
	a->ch_open = a->consuming = false;
	report_lost(a);
	amqp_maybe_release_buffers(a->conn);
	return open_channel(a, CH);
}

/* ---- tables ------------------------------------------------------------ */

static amqp_table_entry_t entry_str(const char *k, const char *v)
{
	amqp_table_entry_t e;

	e.key = amqp_cstring_bytes(k);
	e.value.kind = AMQP_FIELD_KIND_UTF8;
	e.value.value.bytes = amqp_cstring_bytes(v);
	return e;
}

static amqp_table_entry_t entry_long(const char *k, int64_t v)
{
	amqp_table_entry_t e;

	e.key = amqp_cstring_bytes(k);
	e.value.kind = AMQP_FIELD_KIND_I64;
	e.value.value.i64 = v;
	return e;
}

static bool key_is(amqp_bytes_t k, const char *name)
{
	size_t n = strlen(name);

	return k.len == n && !memcmp(k.bytes, name, n);
}

static const amqp_field_value_t *table_find(const amqp_table_t *t, const char *name)
{
	for (int i = 0; i < t->num_entries; i++)
		if (key_is(t->entries[i].key, name))
			return &t->entries[i].value;
	return NULL;
}

static char *field_str(const amqp_field_value_t *v)
{
	if (!v || (v->kind != AMQP_FIELD_KIND_UTF8 && v->kind != AMQP_FIELD_KIND_BYTES))
		return NULL;
	return xstrndup(v->value.bytes.bytes, v->value.bytes.len);
}

static bool field_int(const amqp_field_value_t *v, int64_t *out)
{
	if (!v)
		return false;
	switch (v->kind) {
	case AMQP_FIELD_KIND_I8: *out = v->value.i8; return true;
	case AMQP_FIELD_KIND_U8: *out = v->value.u8; return true;
	case AMQP_FIELD_KIND_I16: *out = v->value.i16; return true;
	case AMQP_FIELD_KIND_U16: *out = v->value.u16; return true;
	case AMQP_FIELD_KIND_I32: *out = v->value.i32; return true;
	case AMQP_FIELD_KIND_U32: *out = v->value.u32; return true;
	case AMQP_FIELD_KIND_I64: *out = v->value.i64; return true;
	case AMQP_FIELD_KIND_U64: *out = (int64_t)v->value.u64; return true;
	}
	return false;
}

static const amqp_table_t *headers_of(const amqp_message_t *msg)
{
	if (!(msg->properties._flags & AMQP_BASIC_HEADERS_FLAG))
		return NULL;
	return &msg->properties.headers;
}

/* ---- topology ---------------------------------------------------------- */

static int declare_exchange(struct etl_amqp *a, const char *name, const char *type)
{
	char what[160];

	snprintf(what, sizeof(what), "declare exchange '%s'", name);
	amqp_exchange_declare(a->conn, CH, amqp_cstring_bytes(name),
			      amqp_cstring_bytes(type), 0, 1, 0, 0, amqp_empty_table);
	return etl_amqp_check(a, amqp_get_rpc_reply(a->conn), CH, what);
}

static int declare_queue(struct etl_amqp *a, const char *name, amqp_table_t args,
			 const char *exchange, const char *key)
{
	char what[200];

	snprintf(what, sizeof(what), "declare queue '%s'", name);
	amqp_queue_declare(a->conn, CH, amqp_cstring_bytes(name), 0, 1, 0, 0, args);
	if (etl_amqp_check(a, amqp_get_rpc_reply(a->conn), CH, what) < 0)
		return -1;
	snprintf(what, sizeof(what), "bind queue '%s' to exchange '%s'", name, exchange);
	amqp_queue_bind(a->conn, CH, amqp_cstring_bytes(name), amqp_cstring_bytes(exchange),
			amqp_cstring_bytes(key), amqp_empty_table);
	return etl_amqp_check(a, amqp_get_rpc_reply(a->conn), CH, what);
}

/*
 * A fanout exchange in front, so the message keeps the routing key it was
 * published with (its home queue's name); no x-dead-letter-routing-key, so
 * that key routes it home through "etl" when it expires.
 */
static int declare_delay_queue(struct etl_amqp *a, const char *name, long ttl_ms)
{
	amqp_table_entry_t d[2];
	amqp_table_t dargs = { 2, d };

	d[0] = entry_long("x-message-ttl", ttl_ms);
	d[1] = entry_str("x-dead-letter-exchange", ETL_AMQP_EXCHANGE);
	return declare_exchange(a, name, "fanout") < 0 ? -1 :
		declare_queue(a, name, dargs, name, "");
}

int etl_amqp_setup(struct etl_amqp *a, int delivery_limit)
{
	amqp_table_entry_t q[4], f[3];
	amqp_table_t qargs = { 4, q }, fargs = { 3, f };

	q[0] = entry_str("x-queue-type", "quorum");
	q[1] = entry_long("x-delivery-limit", delivery_limit);
	q[2] = entry_str("x-dead-letter-exchange", ETL_AMQP_DLX);
	q[3] = entry_str("x-dead-letter-routing-key", ETL_AMQP_DLQ_KEY);
	/* A classic queue: quorum queues would refuse nothing here, but a
	 * classic one keeps the newest failures (drop-head) cheaply. */
	f[0] = entry_long("x-message-ttl", 86400000);
	f[1] = entry_long("x-max-length", 1000);
	f[2] = entry_str("x-overflow", "drop-head");

	if (ensure_channel(a, CH) < 0 ||
	    declare_exchange(a, ETL_AMQP_EXCHANGE, "direct") < 0 ||
	    declare_exchange(a, ETL_AMQP_DLX, "direct") < 0 ||
	    declare_queue(a, ETL_AMQP_DLQ, fargs, ETL_AMQP_DLX, ETL_AMQP_DLQ_KEY) < 0)
		return -1;
	for (size_t i = 0; i < ETL_AMQP_NTIER_QUEUES; i++) {
		const char *name = etl_amqp_queue_name(i);

		if (declare_queue(a, name, qargs, ETL_AMQP_EXCHANGE, name) < 0)
			return -1;
	}
	for (size_t i = 0; i < ETL_AMQP_NDELAY_QUEUES; i++)
		if (declare_delay_queue(a, delay_queues[i], delay_ms[i]) < 0)
			return -1;
	return 0;
}

int etl_amqp_queue_stat(struct etl_amqp *a, const char *queue,
			uint32_t *messages, uint32_t *consumers)
{
	amqp_queue_declare_ok_t *ok;
	amqp_rpc_reply_t r;
	char what[200];

	if (ensure_channel(a, AUX) < 0)
		return -1;
	ok = amqp_queue_declare(a->conn, AUX, amqp_cstring_bytes(queue), 1, 0, 0, 0,
				amqp_empty_table);
	r = amqp_get_rpc_reply(a->conn);
	if (!ok && r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
	    r.reply.id == AMQP_CHANNEL_CLOSE_METHOD &&
	    ((amqp_channel_close_t *)r.reply.decoded)->reply_code == AMQP_NOT_FOUND) {
		amqp_channel_close_ok_t cok = { 0 };

		amqp_send_method(a->conn, AUX, AMQP_CHANNEL_CLOSE_OK_METHOD, &cok);
		a->aux_open = false;
		return 1;
	}
	snprintf(what, sizeof(what), "check queue '%s'", queue);
	if (etl_amqp_check(a, r, AUX, what) < 0)
		return -1;
	*messages = ok->message_count;
	*consumers = ok->consumer_count;
	return 0;
}

int etl_amqp_purge(struct etl_amqp *a, const char *queue, uint32_t *purged)
{
	amqp_queue_purge_ok_t *ok;
	char what[200];

	if (ensure_channel(a, AUX) < 0)
		return -1;
	snprintf(what, sizeof(what), "purge queue '%s'", queue);
	ok = amqp_queue_purge(a->conn, AUX, amqp_cstring_bytes(queue));
	if (etl_amqp_check(a, amqp_get_rpc_reply(a->conn), AUX, what) < 0)
		return -1;
	if (purged)
		*purged = ok->message_count;
	return 0;
}

/* ---- publisher confirms ------------------------------------------------ */

const char *etl_amqp_outcome_name(enum etl_amqp_outcome o)
{
	static const char *const names[] = { "acked", "nacked", "returned", "lost" };

	return names[o];
}

int etl_amqp_confirm_select(struct etl_amqp *a, size_t window,
			    etl_amqp_confirm_fn fn, void *ctx)
{
	if (ensure_channel(a, CH) < 0)
		return -1;
	amqp_confirm_select(a->conn, CH);
	if (etl_amqp_check(a, amqp_get_rpc_reply(a->conn), CH,
			   "enable publisher confirms") < 0)
		return -1;
	free(a->slots);
	a->window = window ? window : 200;
	a->slots = xcalloc(a->window, sizeof(*a->slots));
	a->outstanding = 0;
	a->next_seq = 1;
	a->confirm = true;
	a->cb = fn;
	a->cb_ctx = ctx;
	return 0;
}

size_t etl_amqp_outstanding(const struct etl_amqp *a)
{
	return a->outstanding;
}

static void settle(struct etl_amqp *a, uint64_t seq, bool ok)
{
	struct slot *s = &a->slots[seq % a->window];
	enum etl_amqp_outcome out;

	if (!s->used || s->seq != seq)
		return;
	s->used = false;
	a->outstanding--;
	out = s->returned ? ETL_AMQP_RETURNED : ok ? ETL_AMQP_ACKED : ETL_AMQP_NACKED;
	if (a->cb)
		a->cb(a->cb_ctx, s->cookie, out, out == ETL_AMQP_ACKED ? NULL :
		      out == ETL_AMQP_RETURNED ? s->why : "refused by the broker (nack)");
}

static void confirm_tags(struct etl_amqp *a, uint64_t tag, bool multiple, bool ok)
{
	uint64_t first = tag;

	if (multiple)
		first = tag >= a->window ? tag - a->window + 1 : 1;
	for (uint64_t seq = first; seq <= tag && seq < a->next_seq; seq++)
		settle(a, seq, ok);
}

/* A basic.return: read the returned message to learn which publish it was. */
static int on_return(struct etl_amqp *a, const amqp_basic_return_t *ret)
{
	amqp_message_t msg;
	amqp_rpc_reply_t r;
	int64_t seq;
	char why[160];

	snprintf(why, sizeof(why), "unroutable: %.*s: no queue is bound to "
		 "exchange '%.*s' with routing key '%.*s'",
		 (int)ret->reply_text.len, (const char *)ret->reply_text.bytes,
		 (int)ret->exchange.len, (const char *)ret->exchange.bytes,
		 (int)ret->routing_key.len, (const char *)ret->routing_key.bytes);
	r = amqp_read_message(a->conn, CH, &msg, 0);
	if (etl_amqp_check(a, r, CH, "read a returned message") < 0)
		return -1;
	if (headers_of(&msg) &&
	    field_int(table_find(headers_of(&msg), SEQ_HEADER), &seq) &&
	    seq > 0 && (uint64_t)seq < a->next_seq) {
		struct slot *s = &a->slots[(uint64_t)seq % a->window];

		if (s->used && s->seq == (uint64_t)seq) {
			s->returned = true;
			snprintf(s->why, sizeof(s->why), "%s", why);
		}
	}
	amqp_destroy_message(&msg);
	return 0;
}

/* Handle one frame read outside an RPC.  0 ok, -1 after reporting. */
static int on_frame(struct etl_amqp *a, const amqp_frame_t *f)
{
	if (f->frame_type != AMQP_FRAME_METHOD)
		return 0;   /* stray content of a message we do not track */
	switch (f->payload.method.id) {
	case AMQP_BASIC_ACK_METHOD: {
		const amqp_basic_ack_t *m = f->payload.method.decoded;

		if (a->confirm && f->channel == CH)
			confirm_tags(a, m->delivery_tag, m->multiple, true);
		return 0;
	}
	case AMQP_BASIC_NACK_METHOD: {
		const amqp_basic_nack_t *m = f->payload.method.decoded;

		if (a->confirm && f->channel == CH)
			confirm_tags(a, m->delivery_tag, m->multiple, false);
		return 0;
	}
	case AMQP_BASIC_RETURN_METHOD:
		return on_return(a, f->payload.method.decoded);
	case AMQP_CHANNEL_CLOSE_METHOD:
		return channel_closed(a, f->channel, f->payload.method.decoded,
				      "use the AMQP channel");
	case AMQP_CONNECTION_CLOSE_METHOD:
		return connection_closed(a, f->payload.method.decoded,
					 "use the AMQP connection");
	case AMQP_BASIC_CANCEL_METHOD:
		a->consuming = false;
		etl_error("cannot consume: the broker cancelled the consumer "
			  "(queue deleted?)");
		return fail(a, ETL_UNAVAIL);
	default:
		return 0;
	}
}

/* Read frames for up to @timeout_ms (0: only what is ready).  1 if a frame
 * was handled, 0 on timeout, -1 after reporting. */
static int pump(struct etl_amqp *a, long timeout_ms)
{
	amqp_frame_t f;
	struct timeval tv = tv_of(timeout_ms);
	int rc;

	rc = amqp_simple_wait_frame_noblock(a->conn, &f, &tv);
	if (rc == AMQP_STATUS_TIMEOUT)
		return 0;
	if (rc != AMQP_STATUS_OK)
		return lib_error(a, rc, "read from the AMQP connection");
	return on_frame(a, &f) < 0 ? -1 : 1;
}

/* Wait until the slot of the next publish is free (or all are settled). */
static int wait_confirms(struct etl_amqp *a, bool all)
{
	int64_t deadline = etl_now_ms() + a->o.rpc_timeout_ms;

	for (;;) {
		bool done = all ? a->outstanding == 0 :
			!a->slots[a->next_seq % a->window].used;
		int rc;

		if (done)
			return 0;
		if (!a->alive || !a->ch_open) {
			etl_error("cannot publish: the AMQP %s was closed",
				  a->alive ? "channel" : "connection");
			return fail(a, ETL_UNAVAIL);
		}
		rc = pump(a, SLICE_MS);
		if (rc < 0)
			return -1;
		if (rc > 0)
			deadline = etl_now_ms() + a->o.rpc_timeout_ms;
		else if (a->o.rpc_timeout_ms > 0 && etl_now_ms() > deadline) {
			etl_error("cannot publish: no confirm from the broker in %ld ms (%s)",
				  a->o.rpc_timeout_ms, a->redacted);
			lost(a);
			return fail(a, ETL_UNAVAIL);
		}
	}
}

int etl_amqp_flush(struct etl_amqp *a)
{
	if (!a->confirm)
		return a->alive ? 0 : fail(a, ETL_UNAVAIL);
	return wait_confirms(a, true);
}

int etl_amqp_publish(struct etl_amqp *a, const char *exchange, const char *key,
		     const void *body, size_t len,
		     const struct etl_amqp_header *hdrs, size_t nhdrs,
		     uint64_t cookie)
{
	return etl_amqp_publish_expiring(a, exchange, key, body, len, hdrs, nhdrs, 0, cookie);
}

int etl_amqp_publish_expiring(struct etl_amqp *a, const char *exchange, const char *key,
			      const void *body, size_t len,
			      const struct etl_amqp_header *hdrs, size_t nhdrs,
			      long expiration_ms, uint64_t cookie)
{
	char expiration[24];
	amqp_basic_properties_t p;
	amqp_table_entry_t e[MAX_HEADERS + 1];
	amqp_bytes_t b = { len, (void *)body };
	size_t n = 0;
	int rc;

	if (ensure_channel(a, CH) < 0)
		return -1;
	if (nhdrs > MAX_HEADERS) {
		etl_error("cannot publish: more than %d headers", MAX_HEADERS);
		return fail(a, ETL_SOFTWARE);
	}
	if (a->confirm) {
		if (wait_confirms(a, false) < 0)
			return -1;
		e[n++] = entry_long(SEQ_HEADER, (int64_t)a->next_seq);
	}
	for (size_t i = 0; i < nhdrs; i++)
		e[n++] = entry_str(hdrs[i].name, hdrs[i].value);
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
	p.content_type = amqp_cstring_bytes("application/json");
	p.delivery_mode = AMQP_DELIVERY_PERSISTENT;
	if (expiration_ms > 0) {
		snprintf(expiration, sizeof(expiration), "%ld", expiration_ms);
		p._flags |= AMQP_BASIC_EXPIRATION_FLAG;
		p.expiration = amqp_cstring_bytes(expiration);
	}
	if (n) {
		p._flags |= AMQP_BASIC_HEADERS_FLAG;
		p.headers.num_entries = (int)n;
		p.headers.entries = e;
	}
	rc = amqp_basic_publish(a->conn, CH, amqp_cstring_bytes(exchange),
				amqp_cstring_bytes(key), 1, 0, &p, b);
	if (rc != AMQP_STATUS_OK)
		return lib_error(a, rc, "publish");
	if (a->confirm) {
		struct slot *s = &a->slots[a->next_seq % a->window];

		s->used = true;
		s->seq = a->next_seq;
		s->returned = false;
		s->cookie = cookie;
		a->outstanding++;
		a->next_seq++;
		/* Take in whatever confirms are already here, without waiting
		 * (a partial frame in the buffer ends the loop: pump says 0). */
		rc = 1;
		while (rc > 0 && (amqp_frames_enqueued(a->conn) ||
				  amqp_data_in_buffer(a->conn)))
			rc = pump(a, 0);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* ---- consuming --------------------------------------------------------- */

static void release_env(struct etl_amqp *a)
{
	if (a->have_env) {
		amqp_destroy_envelope(&a->env);
		a->have_env = false;
	}
	if (a->conn)
		amqp_maybe_release_buffers(a->conn);
}

int etl_amqp_consume_start(struct etl_amqp *a, const char *queue, uint16_t prefetch)
{
	amqp_basic_consume_ok_t *ok;
	char what[200];

	if (ensure_channel(a, CH) < 0)
		return -1;
	amqp_basic_qos(a->conn, CH, 0, prefetch, 0);
	if (etl_amqp_check(a, amqp_get_rpc_reply(a->conn), CH, "set the prefetch count") < 0)
		return -1;
	snprintf(what, sizeof(what), "consume from queue '%s'", queue);
	ok = amqp_basic_consume(a->conn, CH, amqp_cstring_bytes(queue), amqp_empty_bytes,
				0, 0, 0, amqp_empty_table);
	if (etl_amqp_check(a, amqp_get_rpc_reply(a->conn), CH, what) < 0)
		return -1;
	amqp_bytes_free(a->ctag);
	a->ctag = amqp_bytes_malloc_dup(ok->consumer_tag);
	a->consuming = true;
	return 0;
}

int etl_amqp_consume_cancel(struct etl_amqp *a)
{
	if (!a->consuming)
		return 0;
	a->consuming = false;
	amqp_basic_cancel(a->conn, CH, a->ctag);
	return etl_amqp_check(a, amqp_get_rpc_reply(a->conn), CH, "cancel the consumer");
}

static void fill_msg(struct etl_amqp *a, struct etl_amqp_msg *m)
{
	m->body = a->env.message.body.bytes;
	m->len = a->env.message.body.len;
	if (!m->body)
		m->body = "";
	m->tag = a->env.delivery_tag;
	m->redelivered = a->env.redelivered;
	m->priv = &a->env.message;
}

int etl_amqp_consume(struct etl_amqp *a, struct etl_amqp_msg *m, long timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : etl_now_ms() + timeout_ms;

	release_env(a);
	memset(m, 0, sizeof(*m));
	for (;;) {
		long left = deadline < 0 ? SLICE_MS : (long)(deadline - etl_now_ms());
		struct timeval tv;
		amqp_rpc_reply_t r;

		if (!a->alive) {
			etl_error("cannot consume: the connection was lost");
			return fail(a, ETL_UNAVAIL);
		}
		/* After a cancel, deliveries sent before cancel-ok may still
		 * be queued in the library: hand them out, then stop. */
		if (!a->consuming) {
			if (!amqp_frames_enqueued(a->conn) && !amqp_data_in_buffer(a->conn))
				return 0;
			left = 0;
		}
		if (left < 0)
			left = 0;
		tv = tv_of(left > SLICE_MS ? SLICE_MS : left);
		r = amqp_consume_message(a->conn, &a->env, &tv, 0);
		if (r.reply_type == AMQP_RESPONSE_NORMAL) {
			a->have_env = true;
			fill_msg(a, m);
			return 1;
		}
		if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
		    r.library_error == AMQP_STATUS_TIMEOUT) {
			if (!a->consuming || etl_stop_requested ||
			    (deadline >= 0 && etl_now_ms() >= deadline))
				return 0;
			continue;
		}
		if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
		    r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
			amqp_frame_t f;
			int rc = amqp_simple_wait_frame(a->conn, &f);

			if (rc != AMQP_STATUS_OK)
				return lib_error(a, rc, "consume");
			if (on_frame(a, &f) < 0)
				return -1;
			continue;
		}
		return etl_amqp_check(a, r, CH, "consume");
	}
}

int etl_amqp_get(struct etl_amqp *a, const char *queue, struct etl_amqp_msg *m)
{
	amqp_rpc_reply_t r;
	const amqp_basic_get_ok_t *ok;
	char what[200];

	release_env(a);
	memset(m, 0, sizeof(*m));
	if (ensure_channel(a, CH) < 0)
		return -1;
	snprintf(what, sizeof(what), "get a message from queue '%s'", queue);
	r = amqp_basic_get(a->conn, CH, amqp_cstring_bytes(queue), 0);
	if (etl_amqp_check(a, r, CH, what) < 0)
		return -1;
	if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD)
		return 0;
	ok = r.reply.decoded;
	memset(&a->env, 0, sizeof(a->env));
	a->env.channel = CH;
	a->env.delivery_tag = ok->delivery_tag;
	a->env.redelivered = ok->redelivered;
	m->remaining = ok->message_count;
	r = amqp_read_message(a->conn, CH, &a->env.message, 0);
	if (etl_amqp_check(a, r, CH, what) < 0)
		return -1;
	a->have_env = true;
	fill_msg(a, m);
	m->remaining = ok->message_count;
	return 1;
}

int etl_amqp_ack(struct etl_amqp *a, uint64_t tag, bool multiple)
{
	int rc;

	if (ensure_channel(a, CH) < 0)
		return -1;
	rc = amqp_basic_ack(a->conn, CH, tag, multiple);
	return rc == AMQP_STATUS_OK ? 0 : lib_error(a, rc, "acknowledge a message");
}

int etl_amqp_reject(struct etl_amqp *a, uint64_t tag, bool requeue)
{
	int rc;

	if (ensure_channel(a, CH) < 0)
		return -1;
	rc = amqp_basic_reject(a->conn, CH, tag, requeue);
	return rc == AMQP_STATUS_OK ? 0 : lib_error(a, rc, "reject a message");
}

int etl_amqp_nack(struct etl_amqp *a, uint64_t tag, bool multiple, bool requeue)
{
	int rc;

	if (ensure_channel(a, CH) < 0)
		return -1;
	rc = amqp_basic_nack(a->conn, CH, tag, multiple, requeue);
	return rc == AMQP_STATUS_OK ? 0 : lib_error(a, rc, "nack a message");
}

/* ---- headers ------------------------------------------------------------- */

char *etl_amqp_msg_header(const struct etl_amqp_msg *m, const char *name)
{
	const amqp_table_t *h = m->priv ? headers_of(m->priv) : NULL;

	return h ? field_str(table_find(h, name)) : NULL;
}

int etl_amqp_msg_death(const struct etl_amqp_msg *m, char **queue, char **reason,
		       int64_t *count)
{
	const amqp_table_t *h = m->priv ? headers_of(m->priv) : NULL;
	const amqp_field_value_t *d = h ? table_find(h, "x-death") : NULL;
	const amqp_table_t *t;

	*queue = *reason = NULL;
	*count = 0;
	if (!d || d->kind != AMQP_FIELD_KIND_ARRAY || d->value.array.num_entries < 1 ||
	    d->value.array.entries[0].kind != AMQP_FIELD_KIND_TABLE)
		return 1;
	t = &d->value.array.entries[0].value.table;
	*queue = field_str(table_find(t, "queue"));
	*reason = field_str(table_find(t, "reason"));
	if (!field_int(table_find(t, "count"), count))
		*count = 0;
	return 0;
}

int64_t etl_amqp_msg_delivery_count(const struct etl_amqp_msg *m)
{
	const amqp_table_t *h = m->priv ? headers_of(m->priv) : NULL;
	int64_t n = 0;

	if (!h || !field_int(table_find(h, "x-delivery-count"), &n))
		return 0;
	return n;
}
