/* Unit tests for log redaction and the exit-code order; logs go to a pipe. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"

static char captured[4096];

static void capture(void (*fn)(void))
{
	int fds[2], saved = dup(2);
	ssize_t n;

	if (pipe(fds) < 0)
		abort();
	dup2(fds[1], 2);
	close(fds[1]);
	fn();
	dup2(saved, 2);
	close(saved);
	n = read(fds[0], captured, sizeof(captured) - 1);
	captured[n > 0 ? n : 0] = '\0';
	close(fds[0]);
}

static void log_secret(void)
{
	etl_error("connect to amqp://etl:%s@h failed: token %s", "hunter2-pass", "hunter2-pass");
}

static void log_json(void)
{
	etl_log_set_format_name("json");
	etl_log_set_job(7, "6f0fa209-3c3e-4e21-9bbe-ecff52563b61");
	etl_warn("quote \" and newline \n here");
	etl_log_set_format_name("text");
	etl_log_set_job(0, NULL);
}

int main(int argc, char **argv)
{
	char out[256];

	(void)argc;
	etl_init(argv[0]);
	etl_log_add_secret("hunter2-pass");
	capture(log_secret);
	ok(strstr(captured, "hunter2") == NULL, "registered secret masked: %s", captured);
	ok(strncmp(captured, "test_log: error: connect", 24) == 0, "prog: level: message");

	capture(log_json);
	ok(strstr(captured, "\"level\":\"warning\"") && strstr(captured, "\"job_id\":7") &&
	   strstr(captured, "\\\" and newline \\n here"), "JSON log line: %s", captured);

	etl_redact_url("amqp://guest:s3cret@host:5672/%2f", out, sizeof(out));
	ok(!strcmp(out, "amqp://guest:***@host:5672/%2f"), "URL password redacted: %s", out);
	etl_redact_url("postgresql://u@h/db?password=x", out, sizeof(out));
	ok(!strcmp(out, "postgresql://u@h/db?password=***"), "password parameter masked: %s", out);
	etl_redact_url("host=h password=abc dbname=x", out, sizeof(out));
	ok(!strcmp(out, "host=h password=*** dbname=x"), "conninfo password masked: %s", out);
	etl_redact_url("https://h/a@b", out, sizeof(out));
	ok(!strcmp(out, "https://h/a@b"), "@ in the path is not userinfo");

	ok(etl_exit_worst(ETL_TEMPFAIL, ETL_DATAERR) == ETL_DATAERR, "bad data outranks retry");
	ok(etl_exit_worst(ETL_OK, ETL_UNAVAIL) == ETL_UNAVAIL, "failure outranks ok");
	return tap_done();
}
