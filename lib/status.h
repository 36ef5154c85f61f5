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
 * display name when missing.  "running" never replaces "finished" (with
 * several workers, the one given a step's first message can end after the
 * one given its last).  Returns 0 updated, 1 no such job, another run's
 * token or running after finished (nothing changed), -1 after reporting
 * (*why set).
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

/* ---- the reset countdown and recovery ------------------------------- */

/*
 * etl-reset, once the countdown checks passed: FINISHED -> READY, every
 * step idle, token, reset_deadline and checkpoint cleared, reset_attempt
 * 0.  Only while the job is FINISHED with reset_deadline @deadline (the
 * value the caller checked; NULL: none), so of concurrent resets exactly
 * one changes it.  0, 1 (the job moved on: nothing changed), -1.
 */
int etl_status_reset(struct etl_db *db, int64_t job_id, const char *deadline, int *why);

/*
 * etl-reset, when work of the run remains: reset_deadline now + @seconds,
 * reset_attempt + 1, under the same guard as etl_status_reset().  0, 1, -1.
 */
int etl_status_extend(struct etl_db *db, int64_t job_id, const char *deadline,
		      int seconds, int *why);

/*
 * Recovery (etl-job set-status, etl-reset --stuck): overall @from -> @to,
 * where @to is READY or NOT_STARTED (token and countdown cleared, steps
 * idle, the checkpoint kept so the next run resumes there) or FAILED
 * (@reason in error_message).  Guarded by @from, the run @token (NULL:
 * any), and with @stale (an SQL interval, "30 minutes"; NULL: no check)
 * only when neither the status nor the run's counters (runstats) moved
 * for that long.  A run left open by @token ends in the same statement
 * (failed, or cancelled).  Which transitions are allowed is the caller's
 * policy; RUNNING and FINISHED are refused here (-1, ETL_SOFTWARE): only
 * etl_status_start() and etl_status_complete() set those.  0, 1, -1.
 */
int etl_status_recover(struct etl_db *db, int64_t job_id, const char *token,
		       const char *from, const char *to, const char *reason,
		       const char *stale, int *why);

/*
 * A job whose integration is inactive (seed "finish_job_with_alert"):
 * FINISHED with @alert, no token, steps idle, the usual 30 s countdown;
 * last_sync_date untouched.  From READY (or, with @force, any state but
 * RUNNING).  0, 1 (not startable), -1.
 */
int etl_status_finish_alert(struct etl_db *db, int64_t job_id, const char *alert,
			    int force, int *why);

#endif
