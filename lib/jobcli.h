/*
 * jobcli.h - the subcommands of etl-job.  cmd/etl-job.c parses the common
 * options and dispatches through a table of struct etl_jobcli_cmd; each
 * subcommand parses its own arguments and returns an exit status (exit.h)
 * after reporting, so adding one is a function and a table row.
 */
#ifndef ETL_JOBCLI_H
#define ETL_JOBCLI_H

#include <stdbool.h>
#include <stddef.h>

struct etl_jobcli {
	const char *dsn;          /* --dsn; NULL: ETL_DATABASE_URL, then PG* */
};
#define ETL_JOBCLI_INIT { NULL }

/* argv[0] is the subcommand's own name; returns an exit status. */
typedef int etl_jobcli_fn(struct etl_jobcli *cli, int argc, char **argv);

struct etl_jobcli_cmd {
	const char *name;
	etl_jobcli_fn *fn;
};

/*
 * Run the command of @cmds named argv[0].  An unknown or missing name is
 * reported with the first line of @usage and "Try 'etl-job[ @path]
 * --help'", and returns ETL_USAGE.
 */
int etl_jobcli_dispatch(struct etl_jobcli *cli, const struct etl_jobcli_cmd *cmds,
			size_t ncmds, const char *path, const char *usage,
			int argc, char **argv);

/*
 * For a getopt_long loop (opterr = 0, optstring starting with ':'): report
 * the bad option that made getopt return @c, then the usage hint as
 * above.  Returns ETL_USAGE.
 */
int etl_jobcli_bad_option(int c, char **argv, const char *usage,
			  const char *path);

/* The first line of @usage and the pointer to --help.  Returns ETL_USAGE. */
int etl_jobcli_usage_error(const char *usage, const char *path);

struct etl_db_res;
/*
 * How every etl-job listing prints (tenant, integration, job list, runs,
 * fields, status-map): the rows of @r as an aligned table of @cols under
 * @heads (columns as wide as their widest cell in UTF-8 code points, two
 * spaces apart; a NULL value shows as "-"), or with @json the column
 * "json" of each row, one per line.
 */
void etl_jobcli_print_rows(const struct etl_db_res *r, bool json,
			   const char *const *cols, const char *const *heads,
			   size_t ncols);

/* etl-job migrate [--dir <dir>] */
int etl_jobcli_migrate(struct etl_jobcli *cli, int argc, char **argv);
/* etl-job tenant (add | list) ... */
int etl_jobcli_tenant(struct etl_jobcli *cli, int argc, char **argv);
/* etl-job integration (add | list | show | enable | disable) ... */
int etl_jobcli_integration(struct etl_jobcli *cli, int argc, char **argv);

#endif
