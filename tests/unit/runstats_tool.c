/*
 * runstats_tool - drives lib/runstats from the tests, as a stage would:
 *   runstats_tool add TOKEN STAGE [STEP RECORDS] [name=N ...]
 *       names: messages api_calls rate_limit_hits errors retries
 *              checkpoint_resumes vectors_queued embedding_ms peak_rss_kb
 *              (peak_rss_kb=self: this process's, getrusage)
 *   runstats_tool finish TOKEN OUTCOME [ERROR]
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
	} else if (!strcmp(argv[1], "finish")) {
		rc = etl_runstats_finish(db, argv[2], argv[3], argc > 4 ? argv[4] : NULL, &why);
	} else {
		etl_die(ETL_USAGE, "bad arguments");
	}
	etl_db_close(db);
	return etl_exit(rc < 0 ? (why ? why : ETL_SOFTWARE) : rc);
}
