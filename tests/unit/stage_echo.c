/*
 * stage_echo - a stage handler for testing lib/stage: each message is
 * emitted downstream with "echoed": true, unless its "act" says otherwise:
 *   "data" -> fails ETL_DATAERR     "temp" -> fails ETL_TEMPFAIL
 *   "self" -> also emits a copy to this stage with "act":"done"
 *   "wait" -> fails ETL_TEMPFAIL, to be retried after its "until" (epoch
 *             ms), until then; or after "wait_ms", always
 * Usage: stage_echo [--from-queue Q] [--to-queue Q] [--strict] [--idle MS]
 *                   [--attempts N] [--park-min MS] [--max-parks N]
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "stage.h"
#include "util.h"

static int echo(struct etl_stage_ctx *st, struct etl_msg *m, void *ctx)
{
	char *act = etl_msg_get_str(m, "act");
	int64_t until;
	int rc = ETL_OK;

	(void)ctx;
	if (act && !strcmp(act, "wait") && etl_msg_get_i64(m, "wait_ms", &until) == 0) {
		etl_stage_set_reason(st, "act says wait");
		etl_stage_retry_after(st, (long)until);
		rc = ETL_TEMPFAIL;
	} else if (act && !strcmp(act, "wait") && etl_msg_get_i64(m, "until", &until) == 0 &&
		   until > etl_wall_ms()) {
		etl_stage_set_reason(st, "act says wait");
		etl_stage_retry_after(st, (long)(until - etl_wall_ms()));
		rc = ETL_TEMPFAIL;
	} else if (act && !strcmp(act, "data")) {
		etl_stage_set_reason(st, "act says data error");
		rc = ETL_DATAERR;
	} else if (act && !strcmp(act, "temp")) {
		etl_stage_set_reason(st, "act says temporary failure");
		rc = ETL_TEMPFAIL;
	} else {
		bool self = act && !strcmp(act, "self");

		etl_msg_set_bool(m, "echoed", true);
		if (etl_stage_emit_msg(st, ETL_DEST_NEXT, m) < 0)
			rc = ETL_UNAVAIL;
		if (rc == ETL_OK && self) {
			etl_msg_remove(m, "echoed");
			etl_msg_set_str(m, "act", "done");
			if (etl_stage_emit_msg(st, ETL_DEST_SELF, m) < 0)
				rc = ETL_UNAVAIL;
		}
	}
	free(act);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "from-queue", required_argument, NULL, 'f' },
		{ "to-queue", required_argument, NULL, 't' },
		{ "strict", no_argument, NULL, 's' },
		{ "idle", required_argument, NULL, 'i' },
		{ "attempts", required_argument, NULL, 'a' },
		{ "park-min", required_argument, NULL, 'p' },
		{ "max-parks", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 } };
	struct etl_stage_opts o = ETL_STAGE_OPTS_INIT;
	long v;
	int c;

	etl_init(argv[0]);
	o.backoff_ms = 50;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
		switch (c) {
		case 'f': o.from_queue = optarg; break;
		case 't': o.to_queue = optarg; break;
		case 's': o.strict = true; break;
		case 'i': if (etl_parse_long(optarg, 0, 600000, &v) == 0) o.idle_exit_ms = v; break;
		case 'a': if (etl_parse_long(optarg, 1, 100, &v) == 0) o.max_attempts = (int)v; break;
		case 'p': if (etl_parse_long(optarg, 1, 600000, &v) == 0) o.park_min_ms = v; break;
		case 'm': if (etl_parse_long(optarg, 1, 100, &v) == 0) o.max_parks = (int)v; break;
		default: return ETL_USAGE;
		}
	return etl_exit(etl_stage_run(&o, echo, NULL));
}
