/*
 * cli.h - what every program's main shares: the common flags (-h -V -v -q
 * --log-format --config) and the git-style usage messages.
 */
#ifndef ETL_CLI_H
#define ETL_CLI_H

#include <stdio.h>

#include "log.h"

/* Print @usage to stdout and exit 0, or its first line and a pointer to
 * --help on stderr and exit ETL_USAGE. */
_Noreturn void etl_usage(const char *usage, int code);
_Noreturn void etl_version(void);
/*
 * Handle a common option given by its getopt_long code: 'v' (more verbose),
 * 'q' (quiet), 'L' (--log-format=ARG), 'C' (--config=ARG), 'V', 'h'.
 * Returns 1 if handled, 0 if @c is not a common option.
 */
int etl_cli_common(int c, const char *arg, const char *usage);
/*
 * The value of the numeric option --@opt (its name without dashes): @arg
 * as a whole number from @min to @max, or else "option '--@opt' needs a
 * number from @min to @max, not '@arg'" and etl_usage(@usage, ETL_USAGE).
 */
long etl_cli_number(const char *opt, const char *arg, long min, long max,
		    const char *usage);

/*
 * The value of an option that may carry a password (--dsn, --url, any URL
 * or connection string), from getopt's @arg: a copy the program uses,
 * kept until exit, while @arg itself (argv, which ps(1) and
 * /proc/PID/cmdline show) loses the password: "amqp://u:***@h/",
 * "host=db password=***".  An @arg with no password is returned as is.
 */
const char *etl_cli_secret_arg(char *arg);

#define ETL_CLI_COMMON_SHORT "hVvq"
#define ETL_CLI_COMMON_LONG \
	{ "help", no_argument, NULL, 'h' }, \
	{ "version", no_argument, NULL, 'V' }, \
	{ "verbose", no_argument, NULL, 'v' }, \
	{ "quiet", no_argument, NULL, 'q' }, \
	{ "log-format", required_argument, NULL, 'L' }, \
	{ "config", required_argument, NULL, 'C' }

/* For programs whose issue has not landed: usage, then exit 64. */
_Noreturn void etl_not_implemented(const char *usage, int argc, char **argv);

#endif
