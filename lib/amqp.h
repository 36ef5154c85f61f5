/*
 * amqp.h - RabbitMQ through librabbitmq-c, the one module that includes it.
 *
 * One connection, one channel (plus a second channel for passive checks
 * that the broker may close).  Every call reports its own failure and
 * returns -1 (or NULL); etl_amqp_why() then tells the caller which exit
 * status it means: ETL_UNAVAIL when the broker is unreachable or the
 * connection was lost (retry after etl_amqp_reconnect()), ETL_DATAERR when
 * the broker refused a request (PRECONDITION_FAILED, NOT_FOUND, ...),
 * ETL_CONFIG for a bad URL or refused credentials, ETL_SOFTWARE for bugs.
 *
 * Publishing uses publisher confirms with a window of outstanding
 * messages: each publish carries a caller's cookie, and the confirm
 * callback reports, per cookie, whether the broker took responsibility
 * for the message (ack), refused it (nack), could not route it (a
 * basic.return with mandatory: the ack that follows does not mean
 * delivered), or whether the connection was lost first (unknown).
 */
#ifndef ETL_AMQP_H
#define ETL_AMQP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define ETL_AMQP_URL_DEFAULT "amqp://guest:guest@localhost:5672/%2f"

/* Topology (DESIGN.md "Provider facts -> RabbitMQ"). */
#define ETL_AMQP_EXCHANGE "etl"
#define ETL_AMQP_DLX "etl.dlx"
#define ETL_AMQP_DLQ "etl.failed"
#define ETL_AMQP_DLQ_KEY "failed"
#define ETL_AMQP_DELIVERY_LIMIT 5
#define ETL_AMQP_NTIER_QUEUES 12     /* 3 stages x 4 tiers */
#define ETL_AMQP_NDELAY_QUEUES 3     /* etl.delay.60s, .600s, .3600s */
/* Every queue of the topology: tier queues, delay queues, etl.failed. */
#define ETL_AMQP_NQUEUES (ETL_AMQP_NTIER_QUEUES + ETL_AMQP_NDELAY_QUEUES + 1)
#define ETL_AMQP_QUEUE_MAX 128       /* longest queue name we handle, + 1 */

/* Name of the @i-th queue of the topology (0..ETL_AMQP_NQUEUES-1): the
 * tier queues, then the delay queues, the last one etl.failed.  Static
 * storage. */
const char *etl_amqp_queue_name(size_t i);
/*
 * The delay exchange for a wait of @ms: the one of the shortest delay
 * queue that holds a message that long (the longest when none does).
 * Each delay queue expires messages after its own time at most, and
 * dead-letters them to exchange "etl" with the routing key they were
 * published with: published with its queue's name, a message goes back
 * to that queue when it expires.  *max_ms gets the queue's time.
 */
const char *etl_amqp_delay_exchange(long ms, long *max_ms);
/* True if @queue is one of the twelve tier queues. */
bool etl_amqp_is_tier_queue(const char *queue);

/* A parsed ETL_AMQP_URL.  Strings are owned (etl_amqp_url_release). */
struct etl_amqp_url {
	char *user, *password, *host, *vhost;
	int port;
};
#define ETL_AMQP_URL_INIT { NULL, NULL, NULL, NULL, 0 }
/*
 * Parse amqp://user:pass@host:port/vhost (vhost percent-decoded; a missing
 * part takes its default from ETL_AMQP_URL_DEFAULT; an empty vhost, as in
 * "amqp://host:5672/", is "/").  The password is
 * registered with etl_log_add_secret().  0 ok; -1 after reporting (the
 * URL is quoted redacted).
 */
int etl_amqp_url_parse(const char *url, struct etl_amqp_url *u);
void etl_amqp_url_release(struct etl_amqp_url *u);

struct etl_amqp_opts {
	long connect_timeout_ms;   /* TCP connect and AMQP handshake */
	long rpc_timeout_ms;       /* every synchronous request, and confirms */
	int heartbeat_s;           /* 0: none */
};
#define ETL_AMQP_OPTS_INIT { 5000, 30000, 30 }

struct etl_amqp;

/*
 * Connect to @url (NULL: ETL_AMQP_URL, else the default) and open the
 * channel.  Returns a handle the caller closes with etl_amqp_close(), or
 * NULL after reporting; *why is then ETL_UNAVAIL or ETL_CONFIG.
 */
struct etl_amqp *etl_amqp_connect(const char *url, const struct etl_amqp_opts *o,
				  int *why);
/* Close the connection politely if it is alive and free everything.  NULL ok. */
void etl_amqp_close(struct etl_amqp *a);
/*
 * Drop the connection and open a new one to the same URL: no topology is
 * declared, confirm mode and consumers are gone (outstanding publishes
 * are reported lost).  0 ok; -1 after reporting.
 */
int etl_amqp_reconnect(struct etl_amqp *a);
/* The exit status that the last failure means (ETL_OK if none). */
int etl_amqp_why(const struct etl_amqp *a);
/* False once the connection is known to be lost. */
bool etl_amqp_alive(const struct etl_amqp *a);
/* The URL with its password masked; borrowed until etl_amqp_close(). */
const char *etl_amqp_url_redacted(const struct etl_amqp *a);

/*
 * Declare the exchanges and queues idempotently: exchange "etl" (direct),
 * the twelve tier queues (quorum, x-delivery-limit @delivery_limit,
 * dead-lettering to etl.dlx/"failed"), bound with their own names,
 * etl.dlx (direct) to etl.failed (classic: TTL one day, 1000 messages at
 * most, oldest dropped first), and each delay queue etl.delay.Ns (classic,
 * x-message-ttl N s, dead-lettering to "etl") behind its own fanout
 * exchange of the same name.  A queue that exists with other arguments
 * is reported (PRECONDITION_FAILED) and -1 is returned.
 */
int etl_amqp_setup(struct etl_amqp *a, int delivery_limit);

/*
 * Passive declare: 0 with the counts; 1 if the queue does not exist
 * (not reported); -1 after reporting another failure.
 */
int etl_amqp_queue_stat(struct etl_amqp *a, const char *queue,
			uint32_t *messages, uint32_t *consumers);
/* Purge @queue; *purged (may be NULL) gets the count.  0 / -1. */
int etl_amqp_purge(struct etl_amqp *a, const char *queue, uint32_t *purged);

/* ---- publishing ------------------------------------------------------ */

enum etl_amqp_outcome {
	ETL_AMQP_ACKED,      /* the broker has the message (persisted) */
	ETL_AMQP_NACKED,     /* the broker refused it */
	ETL_AMQP_RETURNED,   /* unroutable: no queue is bound for its key */
	ETL_AMQP_LOST        /* the connection went first: unknown */
};
const char *etl_amqp_outcome_name(enum etl_amqp_outcome o);

/* Called once per published message, in no guaranteed order, from inside
 * etl_amqp_publish() or etl_amqp_flush().  @why is NULL for ACKED. */
typedef void (*etl_amqp_confirm_fn)(void *ctx, uint64_t cookie,
				    enum etl_amqp_outcome outcome, const char *why);

/*
 * Put the channel in confirm mode with at most @window outstanding
 * publishes (0: 200); @fn gets every outcome.  0 / -1.
 */
int etl_amqp_confirm_select(struct etl_amqp *a, size_t window,
			    etl_amqp_confirm_fn fn, void *ctx);

struct etl_amqp_header {
	const char *name, *value;   /* string headers only */
};

/*
 * Publish @len bytes persistently (delivery_mode 2, application/json,
 * mandatory) to @exchange with @key, with @nhdrs string headers.  In
 * confirm mode this first waits while the window is full.  0 once the
 * message was written; -1 after reporting (connection lost: every
 * outstanding cookie has been reported ETL_AMQP_LOST).
 */
int etl_amqp_publish(struct etl_amqp *a, const char *exchange, const char *key,
		     const void *body, size_t len,
		     const struct etl_amqp_header *hdrs, size_t nhdrs,
		     uint64_t cookie);
/* The same with a per-message expiration of @expiration_ms (> 0). */
int etl_amqp_publish_expiring(struct etl_amqp *a, const char *exchange, const char *key,
			      const void *body, size_t len,
			      const struct etl_amqp_header *hdrs, size_t nhdrs,
			      long expiration_ms, uint64_t cookie);
/* Wait until every outstanding publish has an outcome.  0 / -1. */
int etl_amqp_flush(struct etl_amqp *a);
/* Publishes still waiting for their confirm. */
size_t etl_amqp_outstanding(const struct etl_amqp *a);

/* ---- consuming ------------------------------------------------------- */

/* A received message.  Everything is borrowed until the next consume or
 * get on the same handle (or etl_amqp_close()). */
struct etl_amqp_msg {
	const char *body;
	size_t len;
	uint64_t tag;             /* delivery tag for ack/reject/nack */
	bool redelivered;
	uint32_t remaining;       /* basic.get only: messages left after it */
	const void *priv;         /* the envelope, for header lookups */
};

/* basic.qos @prefetch, then basic.consume on @queue, manual acks.  0 / -1. */
int etl_amqp_consume_start(struct etl_amqp *a, const char *queue, uint16_t prefetch);
/* Cancel the consumer (undelivered prefetched messages stay unacked
 * until they are acked, rejected, or the channel closes).  0 / -1. */
int etl_amqp_consume_cancel(struct etl_amqp *a);
/*
 * Wait up to @timeout_ms (-1: forever; a SIGTERM/SIGINT also ends the
 * wait) for the next delivery.  1 with *m filled; 0 on timeout or stop;
 * -1 after reporting (channel or connection closed, consumer cancelled).
 * After etl_amqp_consume_cancel() it still returns the deliveries the
 * broker sent before the cancel (they are unacked too), then 0.
 */
int etl_amqp_consume(struct etl_amqp *a, struct etl_amqp_msg *m, long timeout_ms);
/* basic.get without ack: 1 with *m filled, 0 if the queue is empty, -1. */
int etl_amqp_get(struct etl_amqp *a, const char *queue, struct etl_amqp_msg *m);
int etl_amqp_ack(struct etl_amqp *a, uint64_t tag, bool multiple);
int etl_amqp_reject(struct etl_amqp *a, uint64_t tag, bool requeue);
int etl_amqp_nack(struct etl_amqp *a, uint64_t tag, bool multiple, bool requeue);
/*
 * Close and reopen the channel: the broker requeues every unacked
 * delivery; confirm mode and consumers end.  0 / -1.
 */
int etl_amqp_channel_reset(struct etl_amqp *a);

/* The string header @name of @m (caller frees), or NULL. */
char *etl_amqp_msg_header(const struct etl_amqp_msg *m, const char *name);
/* The first x-death entry of @m: queue and reason (caller frees both),
 * count.  0 ok, 1 when @m was never dead-lettered. */
int etl_amqp_msg_death(const struct etl_amqp_msg *m, char **queue, char **reason,
		       int64_t *count);
/* The x-delivery-count header of quorum queues (0 when absent). */
int64_t etl_amqp_msg_delivery_count(const struct etl_amqp_msg *m);

#endif
