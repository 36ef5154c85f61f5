/*
 * runstats.h - run history (etl_job_runs): one row per job run (token),
 * with the seed's "Job Performance Tracking" counters.
 *
 * etl-job start opens the row (etl_runstats_begin); the stages add to its
 * counters while the run goes (etl_runstats_add), each call one atomic
 * UPDATE of increments, so any number of workers may add concurrently; the
 * row ends in the same statement as the status (lib/status.c:
 * etl_status_complete -> finished, etl_status_fail -> failed,
 * etl_status_recover -> failed or cancelled).  Ad-hoc runs (job_id null)
 * have no row: adding to them is a no-op, so stages call this without
 * checking.  Failures are reported and set *why (may be NULL).
 */
#ifndef ETL_RUNSTATS_H
#define ETL_RUNSTATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "message.h"
#include "token.h"

struct etl_db;
struct etl_db_res;

/*
 * What a stage adds to run @token.  Zero fields add nothing.  @records
 * counts under the step @step ("jira_issues_with_changelogs") as the
 * stage's word: "extracted" (extraction), "transformed" (transform) or
 * "embedded" (embedding).  @peak_rss_kb is a maximum, not a sum: the
 * stage's entry in stage_stats (and the run's peak_rss_kb) keeps the
 * largest value reported; etl_runstats_peak_rss_kb() measures it.
 */
struct etl_runstats {
	enum etl_stage stage;      /* who adds: required */
	const char *step;          /* step type of @records; NULL: none */
	int64_t records;           /* records extracted/transformed/embedded */
	int64_t messages;          /* messages handled (per stage) */
	int64_t api_calls;         /* HTTP requests made */
	int64_t rate_limit_hits;   /* 429s, 403 secondary limits, RATE_LIMITED */
	int64_t errors;            /* failures: bad messages, failed requests */
	int64_t retries;           /* messages retried after a temporary failure */
	int64_t checkpoint_resumes;/* runs resumed from a saved checkpoint */
	int64_t vectors_queued;    /* vectors written or queued for the store */
	int64_t embedding_ms;      /* time spent computing embeddings */
	int64_t peak_rss_kb;       /* 0: not reported */
};
#define ETL_RUNSTATS_INIT(stage) { (stage), NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }

/*
 * Open the run row of @token (a new run of job @job_id, tenant
 * @tenant_id): outcome "running", started now.  etl-job start calls it in
 * the transaction that sets the status RUNNING.  0, or -1 after reporting.
 */
int etl_runstats_begin(struct etl_db *db, int64_t tenant_id, int64_t job_id,
		       const char *token, int *why);

/*
 * Add @s to run @token's counters and set last_activity_at (the run made
 * progress: etl-reset --stuck looks at it).  One UPDATE, atomic: two
 * workers adding at once lose nothing.  0 added, 1 no such run (an ad-hoc
 * run, or @token NULL or empty: nothing to do), -1 after reporting.
 * A stage should add per batch or per message with first/last_item,
 * not per record.
 */
int etl_runstats_add(struct etl_db *db, const char *token,
		     const struct etl_runstats *s, int *why);

/*
 * A stage that handles many small messages (a transform page, one entity
 * to embed) adds through an accumulator, so the counters cost one UPDATE
 * per batch instead of a statement and a commit per message: the adds of
 * one run and step are summed in memory and written when @flush is set
 * (a step's first or last message), every ETL_RUNSTATS_BATCH messages, when
 * the run or step changes, and by etl_runstats_acc_flush() (the stage
 * stops).  Failures to write are reported and the sums dropped: counters
 * are for people, never worth failing a message for.
 */
#define ETL_RUNSTATS_BATCH 64
struct etl_runstats_acc {
	char token[ETL_TOKEN_LEN + 1];
	char step[64];
	struct etl_runstats sum;
};
#define ETL_RUNSTATS_ACC_INIT(stage) { "", "", ETL_RUNSTATS_INIT(stage) }
void etl_runstats_acc_add(struct etl_db *db, struct etl_runstats_acc *a, const char *token,
			  const struct etl_runstats *s, bool flush);
void etl_runstats_acc_flush(struct etl_db *db, struct etl_runstats_acc *a);

/*
 * End run @token with @outcome ("finished", "failed", "checkpointed",
 * "cancelled") and @error (NULL: none), unless it already ended.  The
 * status functions do this themselves; this is for a run that ends
 * without a status change (a start message that could not be sent).
 * 0, 1 (no open run), -1.
 */
int etl_runstats_finish(struct etl_db *db, const char *token, const char *outcome,
			const char *error, int *why);

/* The peak resident set size of this process so far, in KiB (getrusage). */
int64_t etl_runstats_peak_rss_kb(void);

/*
 * The last @limit runs of job @job_id, newest first: columns id, token,
 * started_at, finished_at, outcome, duration_s, records (total),
 * api_calls, rate_limit_hits, errors, retries, peak_rss_kb, and json (the
 * whole row as one JSON object).  Caller clears; NULL after reporting.
 */
struct etl_db_res *etl_runstats_list(struct etl_db *db, int64_t job_id, long limit,
				     int *why);

/*
 * Write the metrics of every job's last run, the jobs' states, and (when
 * @amqp_url is not NULL, or ETL_AMQP_URL is set) the depth of every queue
 * in the Prometheus text exposition format 0.0.4 to @out, for
 * node_exporter's textfile collector.  A broker that cannot be reached is
 * reported as etl_queue_up 0, not as a failure.  Returns an exit status.
 */
int etl_runstats_prometheus(struct etl_db *db, const char *amqp_url, FILE *out);

#endif
