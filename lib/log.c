#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "util.h"

volatile sig_atomic_t etl_stop_requested;

static const char *progname = "etl";
static enum etl_log_level log_level = ETL_LOG_WARN;
static enum etl_log_format log_format = ETL_LOG_TEXT;
static long log_job_id;
static char log_token[40];
static char **secrets;
static size_t nsecrets;

static void on_stop_signal(int sig)
{
	(void)sig;
	etl_stop_requested = 1;
}

static void free_secrets(void)
{
	for (size_t i = 0; i < nsecrets; i++)
		free(secrets[i]);
	free(secrets);
	secrets = NULL;
	nsecrets = 0;
}

void etl_init(const char *name)
{
	struct sigaction sa;
	const char *slash = strrchr(name, '/');
	int fd;

	progname = slash ? slash + 1 : name;
	/* A program started with fd 1 closed would write messages into
	 * whatever file it opens next: park /dev/null on 0-2 first. */
	do {
		fd = open("/dev/null", O_RDWR);
	} while (fd >= 0 && fd <= 2);
	if (fd > 2)
		close(fd);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* No SA_RESTART: a blocking read returns EINTR so loops notice. */
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	atexit(free_secrets);
}

const char *etl_progname(void)
{
	return progname;
}

void etl_log_set_level(enum etl_log_level level)
{
	log_level = level;
}

enum etl_log_level etl_log_get_level(void)
{
	return log_level;
}

int etl_log_set_format_name(const char *name)
{
	if (!strcmp(name, "text"))
		log_format = ETL_LOG_TEXT;
	else if (!strcmp(name, "json"))
		log_format = ETL_LOG_JSON;
	else
		return -1;
	return 0;
}

void etl_log_set_job(long job_id, const char *token)
{
	log_job_id = job_id;
	snprintf(log_token, sizeof(log_token), "%s", token ? token : "");
}

void etl_log_add_secret(const char *secret)
{
	/* Short strings would mask ordinary words; real secrets are longer. */
	if (!secret || strlen(secret) < 4)
		return;
	for (size_t i = 0; i < nsecrets; i++)
		if (!strcmp(secrets[i], secret))
			return;
	secrets = xrealloc(secrets, (nsecrets + 1) * sizeof(*secrets));
	secrets[nsecrets++] = xstrdup(secret);
}

static void mask_secrets(struct etl_buf *b)
{
	for (size_t i = 0; i < nsecrets; i++) {
		size_t sl = strlen(secrets[i]);
		char *p;

		while ((p = strstr(b->buf, secrets[i])) != NULL) {
			memset(p, '*', 3);
			memmove(p + 3, p + sl, b->len - (size_t)(p - b->buf) - sl + 1);
			b->len -= sl - 3;
		}
	}
}

static const char *level_name(enum etl_log_level level)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };

	return names[level];
}

void etl_vlog(enum etl_log_level level, const char *fmt, va_list ap)
{
	struct etl_buf msg = ETL_BUF_INIT, line = ETL_BUF_INIT;
	int saved = errno;

	if (level > log_level)
		return;
	etl_buf_vaddf(&msg, fmt, ap);
	mask_secrets(&msg);
	if (log_format == ETL_LOG_JSON) {
		char ts[40];
		struct timespec now;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		etl_buf_addf(&line, "{\"ts\":\"%s.%03ldZ\",\"prog\":", ts,
			     now.tv_nsec / 1000000);
		etl_buf_add_json_str(&line, progname, strlen(progname));
		etl_buf_addf(&line, ",\"level\":\"%s\"", level_name(level));
		if (log_job_id)
			etl_buf_addf(&line, ",\"job_id\":%ld", log_job_id);
		if (*log_token)
			etl_buf_addf(&line, ",\"token\":\"%s\"", log_token);
		etl_buf_adds(&line, ",\"msg\":");
		etl_buf_add_json_str(&line, msg.buf, msg.len);
		etl_buf_adds(&line, "}\n");
	} else {
		etl_buf_addf(&line, "%s: %s: ", progname, level_name(level));
		if (log_job_id)
			etl_buf_addf(&line, "job %ld: ", log_job_id);
		etl_buf_add(&line, msg.buf, msg.len);
		etl_buf_addch(&line, '\n');
	}
	/* One write per line keeps lines whole when workers share stderr. */
	if (write(STDERR_FILENO, line.buf, line.len) < 0)
		(void)0;
	etl_buf_release(&msg);
	etl_buf_release(&line);
	errno = saved;
}

void etl_die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	etl_vlog(ETL_LOG_ERROR, fmt, ap);
	va_end(ap);
	exit(code);
}

int etl_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	etl_vlog(ETL_LOG_ERROR, fmt, ap);
	va_end(ap);
	return -1;
}

void etl_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	etl_vlog(ETL_LOG_WARN, fmt, ap);
	va_end(ap);
}

void etl_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	etl_vlog(ETL_LOG_INFO, fmt, ap);
	va_end(ap);
}

void etl_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	etl_vlog(ETL_LOG_DEBUG, fmt, ap);
	va_end(ap);
}

/* Mask "password=VALUE" (conninfo or query string) in @s, size @n. */
static void redact_password_param(char *s, size_t n)
{
	struct etl_buf b = ETL_BUF_INIT;
	const char *p = s, *hit;

	if (!strstr(s, "password="))
		return;
	while ((hit = strstr(p, "password=")) != NULL) {
		etl_buf_add(&b, p, (size_t)(hit - p) + 9);
		etl_buf_adds(&b, "***");
		p = hit + 9 + strcspn(hit + 9, " &;");
	}
	etl_buf_adds(&b, p);
	snprintf(s, n, "%s", b.buf);
	etl_buf_release(&b);
}

void etl_redact_url(const char *url, char *out, size_t n)
{
	const char *scheme = strstr(url, "://");
	const char *start, *at, *colon, *end;

	snprintf(out, n, "%s", url);
	redact_password_param(out, n);
	if (!scheme)
		return;
	start = scheme + 3;
	end = start + strcspn(start, "/?#");
	at = NULL;
	for (const char *p = start; p < end; p++)
		if (*p == '@')
			at = p;
	if (!at)
		return;
	colon = memchr(start, ':', (size_t)(at - start));
	if (!colon)
		return;
	snprintf(out, n, "%.*s***%s", (int)(colon + 1 - url), url, at);
	redact_password_param(out, n);
}

int etl_exit(int code)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		etl_error("cannot write to standard output: %s", strerror(errno));
		return code ? code : ETL_IOERR;
	}
	return code;
}

int etl_exit_worst(int a, int b)
{
	/* Order of seriousness: a bug, then I/O, config, unavailable, bad data, retry. */
	static const int rank[] = { ETL_SOFTWARE, ETL_IOERR, ETL_CONFIG, ETL_UNAVAIL,
				    ETL_DATAERR, ETL_NOINPUT, ETL_TEMPFAIL, ETL_USAGE,
				    ETL_NOTHING, ETL_OK };
	for (size_t i = 0; i < ETL_ARRAY_SIZE(rank); i++)
		if (a == rank[i] || b == rank[i])
			return rank[i];
	return a ? a : b;
}
