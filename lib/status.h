/*
 * status.h - the job status JSON (etl_jobs.status, DESIGN.md "Job status";
 * the seed's WorkerStatusManager).  The only writer of that column: every
 * change is one atomic UPDATE, and in the same statement a
 * NOTIFY etl_job_status carries the whole new status (or, past 8000
 * bytes, the ids alone), delivered at commit.
 *
 * Updates are guarded by the run's token: a straggler from an earlier run
 * cannot overwrite the status of the current one (returns 1 instead).
 */
#ifndef ETL_STATUS_H
#define ETL_STATUS_H

#include <stdint.h>

#include "db.h"
#include "message.h"

#define ETL_STATUS_CHANNEL "etl_job_status"

/* Stage states. */
#define ETL_ST_IDLE "idle"
#define ETL_ST_RUNNING "running"
#define ETL_ST_FINISHED "finished"
#define ETL_ST_FAILED "failed"

/*
 * Set @stage of @step to @state ("running", ...) for job @job_id's run
 * @token (NULL: any run).  The step's entry is created with its order and
 * display name when missing.  Returns 0 updated, 1 no such job or another
 * run's token (nothing changed), -1 after reporting (*why set).
 */
int etl_status_set_stage(struct etl_db *db, int64_t job_id, const char *token,
			 const struct etl_step *step, enum etl_stage stage,
			 const char *state, int *why);

/*
 * Start a run: overall RUNNING with @token, every step of @provider idle,
 * no reset deadline, last_run_started_at now; a checkpoint left by an
 * interrupted run stays, so the new run resumes there; only from READY (or, with
 * @force, from any state but RUNNING).  Returns 0, 1 when the job was not
 * in a startable state (nothing changed), -1 after reporting.
 */
int etl_status_start(struct etl_db *db, int64_t job_id, const char *token,
		     const char *provider, int force, int *why);

/*
 * Complete the run @token (seed "Job Completion Logic"): FINISHED,
 * reset_deadline now + 30 s, reset_attempt 0, last_run_finished_at now,
 * last_sync_date @last_sync_date (NULL: the run's start time).  Exactly
 * once: a second call for the same run returns 1.
 */
int etl_status_complete(struct etl_db *db, int64_t job_id, const char *token,
			const char *last_sync_date, int *why);

/* Overall FAILED with @reason recorded in error_message.  0, 1, -1. */
int etl_status_fail(struct etl_db *db, int64_t job_id, const char *token,
		    const char *reason, int *why);

/*
 * Save where run @token stopped (a JSON object: step, cursor, ...) in
 * status.checkpoint, or clear it with NULL.  0, 1, -1.
 */
int etl_status_checkpoint(struct etl_db *db, int64_t job_id, const char *token,
			  const char *checkpoint_json, int *why);

/* The status JSON of job @job_id (caller frees), NULL when there is no
 * such job (*why = ETL_NOINPUT) or after reporting. */
char *etl_status_get(struct etl_db *db, int64_t job_id, int *why);

#endif
