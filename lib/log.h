/*
 * log.h - diagnostics on stderr, one line each: "prog: level: message"
 * (or one JSON object with --log-format json), tagged with the job id and
 * token when known.  Registered secrets are masked in every line, so an API
 * token that slips into an error text from a library never reaches a log.
 */
#ifndef ETL_LOG_H
#define ETL_LOG_H

#include <signal.h>
#include <stdarg.h>

#include "exit.h"

#define ETL_PRINTF(f, a) __attribute__((format(printf, f, a)))

enum etl_log_level { ETL_LOG_ERROR, ETL_LOG_WARN, ETL_LOG_INFO, ETL_LOG_DEBUG };
enum etl_log_format { ETL_LOG_TEXT, ETL_LOG_JSON };

/* Set by SIGTERM/SIGINT; long loops check it between messages. */
extern volatile sig_atomic_t etl_stop_requested;

/*
 * Program start: records the name, makes sure fds 0-2 are open, ignores
 * SIGPIPE (a closed pipe is a write error, not a silent death), and installs
 * SIGTERM/SIGINT handlers that only set etl_stop_requested.
 */
void etl_init(const char *progname);
const char *etl_progname(void);

void etl_log_set_level(enum etl_log_level level);
enum etl_log_level etl_log_get_level(void);
/* "text" or "json"; returns -1 for anything else. */
int etl_log_set_format_name(const char *name);
/* Tag later lines with this job and token; NULL or 0 clears. */
void etl_log_set_job(long job_id, const char *token);
/* Mask every later occurrence of @secret (copied) in log lines. */
void etl_log_add_secret(const char *secret);

_Noreturn void etl_die(int code, const char *fmt, ...) ETL_PRINTF(2, 3);
int etl_error(const char *fmt, ...) ETL_PRINTF(1, 2);   /* returns -1 */
void etl_warn(const char *fmt, ...) ETL_PRINTF(1, 2);   /* muted by -q */
void etl_info(const char *fmt, ...) ETL_PRINTF(1, 2);   /* -v only */
void etl_debug(const char *fmt, ...) ETL_PRINTF(1, 2);  /* -vv only */
void etl_vlog(enum etl_log_level level, const char *fmt, va_list ap);

/*
 * Copy @url into @out (size @n) with any password in its userinfo replaced
 * by "***": amqp://u:secret@h/ -> amqp://u:***@h/.  Safe for non-URLs.
 */
void etl_redact_url(const char *url, char *out, size_t n);

/* Flush and close stdout; ETL_IOERR (reported) if that fails, else @code. */
int etl_exit(int code);

#endif
