/*
 * status_tool - drives lib/status from the tests (the job commands that
 * will use it come with their own issue):
 *   status_tool start JOB TOKEN PROVIDER [force]
 *   status_tool set JOB TOKEN STEP STAGE STATE
 *   status_tool complete|fail|checkpoint JOB TOKEN [ARG]
 *   status_tool get JOB
 *   status_tool listen COUNT TIMEOUT_MS     (prints payloads, one a line)
 * Exit: 0 changed, 1 nothing changed, else the failure's category.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "status.h"
#include "util.h"

static int64_t job_arg(const char *s)
{
	int64_t v;

	if (etl_parse_i64(s, &v) < 0)
		etl_die(ETL_USAGE, "bad job id '%s'", s);
	return v;
}

static enum etl_stage stage_arg(const char *s)
{
	for (int i = ETL_STAGE_EXTRACTION; i <= ETL_STAGE_EMBEDDING; i++)
		if (!strcmp(s, etl_stage_name((enum etl_stage)i)))
			return (enum etl_stage)i;
	etl_die(ETL_USAGE, "bad stage '%s'", s);
}

int main(int argc, char **argv)
{
	struct etl_db *db;
	int why = 0, rc = ETL_USAGE;

	etl_init(argv[0]);
	if (argc < 3)
		etl_die(ETL_USAGE, "usage: see the comment in status_tool.c");
	db = etl_db_connect(NULL, &why);
	if (!db)
		return why;
	const char *cmd = argv[1];
	const char *tok = argc > 3 && strcmp(argv[3], "-") ? argv[3] : NULL;

	if (!strcmp(cmd, "start") && argc >= 5) {
		rc = etl_status_start(db, job_arg(argv[2]), tok, argv[4], argc > 5, &why);
	} else if (!strcmp(cmd, "set") && argc == 7) {
		const struct etl_step *st = etl_step_find(argv[4]);

		if (!st)
			etl_die(ETL_USAGE, "unknown step '%s'", argv[4]);
		rc = etl_status_set_stage(db, job_arg(argv[2]), tok, st, stage_arg(argv[5]),
					  argv[6], &why);
	} else if (!strcmp(cmd, "complete") && argc >= 4) {
		rc = etl_status_complete(db, job_arg(argv[2]), tok, argc > 4 ? argv[4] : NULL, &why);
	} else if (!strcmp(cmd, "fail") && argc == 5) {
		rc = etl_status_fail(db, job_arg(argv[2]), tok, argv[4], &why);
	} else if (!strcmp(cmd, "checkpoint") && argc == 5) {
		rc = etl_status_checkpoint(db, job_arg(argv[2]), tok,
					   strcmp(argv[4], "null") ? argv[4] : NULL, &why);
	} else if (!strcmp(cmd, "get")) {
		char *s = etl_status_get(db, job_arg(argv[2]), &why);

		if (s)
			puts(s);
		rc = s ? 0 : -1;
		free(s);
	} else if (!strcmp(cmd, "listen") && argc == 4) {
		long count, timeout;
		char *payload;

		if (etl_parse_long(argv[2], 1, 100000, &count) < 0 ||
		    etl_parse_long(argv[3], 1, 600000, &timeout) < 0)
			etl_die(ETL_USAGE, "bad count or timeout");
		rc = etl_db_listen(db, ETL_STATUS_CHANNEL, &why);
		/* Tell the test we listen before it makes changes. */
		fprintf(stderr, "listening\n");
		while (rc == 0 && count > 0) {
			int got = etl_db_wait_notify(db, (int)timeout, NULL, &payload, &why);

			if (got <= 0) {
				rc = got < 0 ? -1 : 1;
				break;
			}
			puts(payload);
			fflush(stdout);
			free(payload);
			count--;
		}
	} else {
		etl_die(ETL_USAGE, "bad arguments");
	}
	etl_db_close(db);
	return etl_exit(rc < 0 ? (why ? why : ETL_SOFTWARE) : rc);
}
