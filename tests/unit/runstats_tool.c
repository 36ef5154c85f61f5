/*
 * runstats_tool - drives lib/runstats from the tests, as a stage would:
 *   runstats_tool add TOKEN STAGE [STEP RECORDS] [name=N ...]
 *       names: messages api_calls rate_limit_hits errors retries
 *              checkpoint_resumes vectors_queued embedding_ms peak_rss_kb
 *              (peak_rss_kb=self: this process's, getrusage)
 *   runstats_tool finish TOKEN OUTCOME [ERROR]
 *   runstats_tool batch TOKEN STAGE STEP N
 *       N messages of one record each through an accumulator, none flagged
 *       first or last; prints the step's records in the database before the
 *       final flush, then after it
 * Exit: 0 changed, 1 no such run, else the failure's category.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "runstats.h"
#include "util.h"

static enum etl_stage stage_arg(const char *s)
{
	for (int i = ETL_STAGE_EXTRACTION; i <= ETL_STAGE_EMBEDDING; i++)
		if (!strcmp(s, etl_stage_name((enum etl_stage)i)))
			return (enum etl_stage)i;
	etl_die(ETL_USAGE, "bad stage '%s'", s);
}

static int64_t num(const char *s)
{
	int64_t v;

	if (etl_parse_i64(s, &v) < 0)
		etl_die(ETL_USAGE, "bad number '%s'", s);
	return v;
}

/* The records of @step in run @token (any stage's word), or 0. */
static void print_records(struct etl_db *db, const char *token, const char *step)
{
	const char *vals[2] = { token, step };
	struct etl_db_res *r;
	int why = 0;

	r = etl_db_exec(db, "SELECT coalesce(sum(v::bigint), 0) AS n FROM etl_job_runs, "
			"jsonb_each_text(step_counts->$2) AS c (k, v) WHERE token = $1::uuid",
			vals, 2, &why);
	if (!r)
		etl_die(ETL_SOFTWARE, "cannot read run %s", token);
	printf("%s\n", etl_db_value(r, 0, "n"));
	etl_db_clear(r);
}

int main(int argc, char **argv)
{
	struct etl_db *db;
	int why = 0, rc;

	etl_init(argv[0]);
	if (argc < 4)
		etl_die(ETL_USAGE, "usage: see the comment in runstats_tool.c");
	db = etl_db_connect(NULL, &why);
	if (!db)
		return why;
	if (!strcmp(argv[1], "add")) {
		struct etl_runstats s = ETL_RUNSTATS_INIT(stage_arg(argv[3]));
		int i = 4;

		if (argc > 5 && !strchr(argv[4], '=')) {
			s.step = argv[4];
			s.records = num(argv[5]);
			i = 6;
		}
		for (; i < argc; i++) {
			const char *eq = strchr(argv[i], '=');
			size_t n = eq ? (size_t)(eq - argv[i]) : 0;
			int64_t v;

			if (!eq)
				etl_die(ETL_USAGE, "bad counter '%s'", argv[i]);
			v = strcmp(eq + 1, "self") ? num(eq + 1) : etl_runstats_peak_rss_kb();
#define C(f) if (n == strlen(#f) && !strncmp(argv[i], #f, n)) { s.f = v; continue; }
			C(messages) C(api_calls) C(rate_limit_hits) C(errors) C(retries)
			C(checkpoint_resumes) C(vectors_queued) C(embedding_ms) C(peak_rss_kb)
#undef C
			etl_die(ETL_USAGE, "unknown counter '%s'", argv[i]);
		}
		rc = etl_runstats_add(db, argv[2], &s, &why);
	} else if (!strcmp(argv[1], "batch") && argc == 6) {
		struct etl_runstats_acc acc = ETL_RUNSTATS_ACC_INIT(stage_arg(argv[3]));
		struct etl_runstats s = ETL_RUNSTATS_INIT(stage_arg(argv[3]));
		int64_t n = num(argv[5]);

		s.step = argv[4];
		s.records = 1;
		s.messages = 1;
		for (int64_t i = 0; i < n; i++)
			etl_runstats_acc_add(db, &acc, argv[2], &s, false);
		print_records(db, argv[2], argv[4]);
		etl_runstats_acc_flush(db, &acc);
		print_records(db, argv[2], argv[4]);
		rc = 0;
	} else if (!strcmp(argv[1], "finish")) {
		rc = etl_runstats_finish(db, argv[2], argv[3], argc > 4 ? argv[4] : NULL, &why);
	} else {
		etl_die(ETL_USAGE, "bad arguments");
	}
	etl_db_close(db);
	return etl_exit(rc < 0 ? (why ? why : ETL_SOFTWARE) : rc);
}
