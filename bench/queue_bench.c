/*
 * queue_bench - the baseline for bench/run: a minimal librabbitmq-c client
 * doing what etl-queue publish/consume do, without etlkit around it.
 *
 *   queue_bench publish QUEUE WINDOW < lines    publish each line to exchange
 *       "etl" with key QUEUE: persistent, mandatory, confirms, WINDOW outstanding
 *   queue_bench consume QUEUE COUNT PREFETCH > out   consume COUNT messages,
 *       write each body and a newline, ack each one
 *
 * The broker URL comes from ETL_AMQP_URL.  Prints nothing but errors;
 * bench/run times it.  (Outside lib/, so it may include <amqp.h> itself.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <amqp.h>
#include <amqp_tcp_socket.h>

static void die_reply(amqp_rpc_reply_t r, const char *what)
{
	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return;
	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
		fprintf(stderr, "queue_bench: %s: %s\n", what, amqp_error_string2(r.library_error));
	else
		fprintf(stderr, "queue_bench: %s: broker error (method 0x%08x)\n", what,
			(unsigned)r.reply.id);
	exit(1);
}

static amqp_connection_state_t connect_url(void)
{
	const char *env = getenv("ETL_AMQP_URL");
	char *url = strdup(env ? env : "amqp://guest:guest@localhost:5672/%2f");
	struct amqp_connection_info ci;
	amqp_connection_state_t c = amqp_new_connection();
	amqp_socket_t *s = amqp_tcp_socket_new(c);

	if (!url || amqp_parse_url(url, &ci) != AMQP_STATUS_OK) {
		fprintf(stderr, "queue_bench: bad ETL_AMQP_URL\n");
		exit(1);
	}
	if (amqp_socket_open(s, ci.host, ci.port) != AMQP_STATUS_OK) {
		fprintf(stderr, "queue_bench: cannot connect\n");
		exit(1);
	}
	die_reply(amqp_login(c, ci.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN,
			     ci.user, ci.password), "login");
	amqp_channel_open(c, 1);
	die_reply(amqp_get_rpc_reply(c), "channel.open");
	free(url);
	return c;
}

static void publish(const char *queue, long window)
{
	amqp_connection_state_t c = connect_url();
	amqp_basic_properties_t p;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long outstanding = 0, failed = 0;
	uint64_t sent = 0;

	amqp_confirm_select(c, 1);
	die_reply(amqp_get_rpc_reply(c), "confirm.select");
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
	p.content_type = amqp_cstring_bytes("application/json");
	p.delivery_mode = AMQP_DELIVERY_PERSISTENT;
	for (;;) {
		/* Wait while the window is full (or, at the end, until empty). */
		int eof = 0;

		if (outstanding < window) {
			n = getline(&line, &cap, stdin);
			if (n < 0) {
				eof = 1;
			} else {
				amqp_bytes_t body = { (size_t)n - (line[n - 1] == '\n'), line };

				if (amqp_basic_publish(c, 1, amqp_cstring_bytes("etl"),
						       amqp_cstring_bytes(queue), 1, 0, &p,
						       body) != AMQP_STATUS_OK) {
					fprintf(stderr, "queue_bench: publish failed\n");
					exit(1);
				}
				sent++;
				outstanding++;
				continue;
			}
		}
		if (eof && outstanding == 0)
			break;
		for (;;) {
			amqp_frame_t f;

			if (amqp_simple_wait_frame(c, &f) != AMQP_STATUS_OK) {
				fprintf(stderr, "queue_bench: connection lost\n");
				exit(1);
			}
			if (f.frame_type != AMQP_FRAME_METHOD)
				continue;
			if (f.payload.method.id == AMQP_BASIC_ACK_METHOD ||
			    f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
				amqp_basic_ack_t *a = f.payload.method.decoded;
				uint64_t acked = sent - (uint64_t)outstanding;

				if (f.payload.method.id == AMQP_BASIC_NACK_METHOD)
					failed++;
				outstanding = (long)(sent - (a->multiple ? a->delivery_tag :
							     acked + 1));
				break;
			}
			if (f.payload.method.id == AMQP_BASIC_RETURN_METHOD) {
				amqp_message_t m;

				die_reply(amqp_read_message(c, 1, &m, 0), "read returned message");
				amqp_destroy_message(&m);
				failed++;
			}
		}
		if (eof && outstanding == 0)
			break;
	}
	free(line);
	amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
	amqp_connection_close(c, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(c);
	if (failed) {
		fprintf(stderr, "queue_bench: %ld messages not delivered\n", failed);
		exit(1);
	}
}

static void consume(const char *queue, long count, int prefetch)
{
	amqp_connection_state_t c = connect_url();

	amqp_basic_qos(c, 1, 0, (uint16_t)prefetch, 0);
	die_reply(amqp_get_rpc_reply(c), "basic.qos");
	amqp_basic_consume(c, 1, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0,
			   amqp_empty_table);
	die_reply(amqp_get_rpc_reply(c), "basic.consume");
	for (long i = 0; i < count; i++) {
		amqp_envelope_t env;

		amqp_maybe_release_buffers(c);
		die_reply(amqp_consume_message(c, &env, NULL, 0), "consume");
		fwrite(env.message.body.bytes, 1, env.message.body.len, stdout);
		putchar('\n');
		amqp_basic_ack(c, 1, env.delivery_tag, 0);
		amqp_destroy_envelope(&env);
	}
	fflush(stdout);
	amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
	amqp_connection_close(c, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(c);
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "publish"))
		publish(argv[2], strtol(argv[3], NULL, 10));
	else if (argc == 5 && !strcmp(argv[1], "consume"))
		consume(argv[2], strtol(argv[3], NULL, 10), (int)strtol(argv[4], NULL, 10));
	else {
		fprintf(stderr, "usage: queue_bench publish QUEUE WINDOW < lines\n"
			"   or: queue_bench consume QUEUE COUNT PREFETCH > out\n");
		return 64;
	}
	return 0;
}
