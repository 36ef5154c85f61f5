#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "util.h"

void etl_usage(const char *usage, int code)
{
	if (code == ETL_OK) {
		fputs(usage, stdout);
		exit(etl_exit(ETL_OK));
	}
	fprintf(stderr, "%.*s\n", (int)strcspn(usage, "\n"), usage);
	fprintf(stderr, "Try '%s --help' for more information.\n", etl_progname());
	exit(code);
}

void etl_version(void)
{
	printf("%s (etlkit) %s\n", etl_progname(), ETL_VERSION);
	exit(etl_exit(ETL_OK));
}

int etl_cli_common(int c, const char *arg, const char *usage)
{
	switch (c) {
	case 'h':
		etl_usage(usage, ETL_OK);
	case 'V':
		etl_version();
	case 'v':
		if (etl_log_get_level() < ETL_LOG_DEBUG)
			etl_log_set_level(etl_log_get_level() + 1);
		return 1;
	case 'q':
		etl_log_set_level(ETL_LOG_ERROR);
		return 1;
	case 'L':
		if (etl_log_set_format_name(arg) < 0) {
			etl_error("unknown log format '%s' (text or json)", arg);
			etl_usage(usage, ETL_USAGE);
		}
		return 1;
	case 'C':
		if (etl_config_load(arg) < 0)
			exit(ETL_CONFIG);
		return 1;
	}
	return 0;
}

long etl_cli_number(const char *opt, const char *arg, long min, long max,
		    const char *usage)
{
	long v;

	if (etl_parse_long(arg, min, max, &v) < 0) {
		etl_error("option '--%s' needs a number from %ld to %ld, not '%s'",
			  opt, min, max, arg);
		etl_usage(usage, ETL_USAGE);
	}
	return v;
}

/* The passwords taken out of argv, for the rest of the run. */
static char **secret_args;
static size_t nsecret_args;

const char *etl_cli_secret_arg(char *arg)
{
	size_t len = strlen(arg), n = 2 * len + 16;
	char *redacted = xmalloc(n), *copy;

	etl_redact_url(arg, redacted, n);
	if (!strcmp(redacted, arg)) {
		free(redacted);
		return arg;
	}
	copy = xstrdup(arg);
	secret_args = xrealloc(secret_args, (nsecret_args + 1) * sizeof(*secret_args));
	secret_args[nsecret_args++] = copy;
	/* In place: argv's strings cannot grow; a password shorter than the
	 * mask leaves nothing of the value visible. */
	if (strlen(redacted) <= len) {
		memset(arg, 0, len);
		memcpy(arg, redacted, strlen(redacted));
	} else {
		memset(arg, '*', len);
	}
	free(redacted);
	return copy;
}

void etl_not_implemented(const char *usage, int argc, char **argv)
{
	static const struct option longopts[] = { ETL_CLI_COMMON_LONG, { NULL, 0, NULL, 0 } };
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ETL_CLI_COMMON_SHORT, longopts, NULL)) != -1)
		if (c == 'h' || c == 'V')
			etl_cli_common(c, optarg, usage);
		else if (c == '?')
			etl_usage(usage, ETL_USAGE);
	fputs(usage, stderr);
	etl_error("not implemented yet in this version of etlkit");
	exit(ETL_USAGE);
}
