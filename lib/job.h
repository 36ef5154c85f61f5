/*
 * job.h - the job registry (etl_jobs) and the orchestration of runs: how a
 * run starts (the token, the status, the run row, the first extraction
 * message), the scheduler tick, and the recovery of a job's state.  The
 * seed's "Job Orchestration System"; DESIGN.md "Job status".
 *
 * Status changes go through lib/status.h, run rows through
 * lib/runstats.h.  Failures are reported and set *why (an exit category;
 * not NULL).
 */
#ifndef ETL_JOB_H
#define ETL_JOB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "token.h"

struct etl_amqp;
struct etl_db;
struct etl_db_res;

/* A job with what starting it needs.  Strings owned (etl_job_release). */
struct etl_job {
	int64_t id, tenant_id, integration_id;
	char *name;
	char *provider;          /* the integration's: "jira", "github" */
	char *tier;              /* the tenant's: picks the queues */
	char *overall;           /* status->overall */
	char *token;             /* status->token, NULL when none */
	char *last_sync_date;    /* ISO 8601 UTC (seconds), NULL when never */
	bool active, integration_active, tenant_active;
};
#define ETL_JOB_INIT { 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, false, false, false }
void etl_job_release(struct etl_job *j);

/*
 * Load job @id.  0, or -1 after reporting (*why ETL_NOINPUT when there is
 * no such job).  With @lock the row stays locked (FOR UPDATE) until the
 * caller's transaction ends.
 */
int etl_job_load(struct etl_db *db, int64_t id, bool lock, struct etl_job *out, int *why);

/*
 * Create a job of @tenant (id or name) on integration @integration_id,
 * named @name, READY and due now (etl-job tick starts it).  @retry and
 * @cycle are PostgreSQL intervals ("15 minutes"; NULL: the defaults).
 * 0 with the id in *id, or -1 (ETL_NOINPUT: no such tenant or the
 * integration is not the tenant's; ETL_DATAERR: name taken, bad interval).
 */
int etl_job_create(struct etl_db *db, const char *tenant, int64_t integration_id,
		   const char *name, const char *retry, const char *cycle,
		   int64_t *id, int *why);

/*
 * Jobs for display, by id: all (@id 0) or one, only @tenant's (id or
 * name; NULL: all).  Columns id, tenant_id, tenant, integration_id,
 * provider, name, active, state, next_run, last_finished, and json (the
 * row with its status as one JSON object).  Caller clears; NULL after
 * reporting.
 */
struct etl_db_res *etl_job_list(struct etl_db *db, int64_t id, const char *tenant,
				int *why);

/* Set active.  0, or -1 (ETL_NOINPUT: no such job). */
int etl_job_set_active(struct etl_db *db, int64_t id, bool active, int *why);

/*
 * Delete job @id and its run history.  A RUNNING job is refused
 * (ETL_DATAERR) unless @force.  0, or -1.
 */
int etl_job_delete(struct etl_db *db, int64_t id, bool force, int *why);

/* ---- starting a run -------------------------------------------------------- */

enum etl_job_started {
	ETL_JOB_STARTED,    /* RUNNING with a new token, message emitted */
	ETL_JOB_INACTIVE,   /* the job is inactive: nothing changed */
	ETL_JOB_ALERTED,    /* the integration is inactive: FINISHED with an alert */
	ETL_JOB_BUSY        /* not startable (RUNNING; FINISHED/FAILED without force) */
};

struct etl_job_start_opts {
	bool force;               /* start from FINISHED or FAILED too */
	bool full;                /* "full": true: ignore last_sync_date */
	const char *tier;         /* queue tier (NULL: the tenant's) */
	struct etl_amqp *amqp;    /* publish there, confirmed; NULL: *msg only */
};
#define ETL_JOB_START_OPTS_INIT { false, false, NULL, NULL }

struct etl_job_start_result {
	enum etl_job_started what;
	char token[ETL_TOKEN_LEN + 1];
	char queue[128];          /* where the message went ("" for *msg) */
	char *msg;                /* the first extraction message (caller frees) */
	char *state;              /* ETL_JOB_BUSY: the state found (caller frees) */
};
#define ETL_JOB_START_RESULT_INIT { ETL_JOB_INACTIVE, "", "", NULL, NULL }
void etl_job_start_result_release(struct etl_job_start_result *r);

/*
 * Start a run of job @id (etl-job start, etl-job tick): in one
 * transaction, check the job and its integration are active, set the
 * status RUNNING with a new token and every step idle
 * (etl_status_start; a NOT_STARTED job needs no force), open the run
 * row, and build the first extraction message (DESIGN.md "Messages":
 * the first step of the provider, first_item true).  With o->amqp the
 * message is published to extraction_queue_<tier> and confirmed before
 * the commit: a message that could not be published leaves the job as
 * it was.  Without, it is returned in res->msg, and the caller who fails
 * to deliver it calls etl_job_abort().  An inactive integration finishes
 * the job with an alert (etl_status_finish_alert) and a "cancelled" run.
 * Returns 0 with res filled, or -1 after reporting.
 */
int etl_job_start(struct etl_db *db, int64_t id, const struct etl_job_start_opts *o,
		  struct etl_job_start_result *res, int *why);

/*
 * A broker connection for etl_job_start (@url NULL: ETL_AMQP_URL, else the
 * default) in confirm mode.  Close with etl_amqp_close().  NULL after
 * reporting.
 */
struct etl_amqp *etl_job_amqp_open(const char *url, int *why);

/* Fail run @token of job @id with @reason: its start message was lost. */
int etl_job_abort(struct etl_db *db, int64_t id, const char *token, const char *reason,
		  int *why);

/* ---- the scheduler --------------------------------------------------------- */

struct etl_job_tick_opts {
	const char *amqp_url;     /* NULL: ETL_AMQP_URL, else the default */
	FILE *out;                /* one NDJSON line per job acted on; NULL: none */
};

/*
 * One scheduler pass (etl-job tick): claim each due job (active, of an
 * active tenant, READY, next_run reached) with FOR UPDATE SKIP LOCKED,
 * one transaction per job, so concurrent ticks never start a job twice;
 * start it onto its tenant tier's extraction queue (etl_job_start); then
 * schedule the next job of the tenant (by id, active jobs): next_run = now
 * + the started job's retry_interval, or, when the started job is the
 * tenant's last, the first job's next_run = now + its cycle_interval
 * (the seed's JobOrchestrator: 15 minutes between jobs, 60 for the full
 * cycle).  A job still due is never pushed back.  The broker is
 * connected only when a job is due.  *started (may be NULL) counts the
 * jobs started.  Returns an exit status.
 */
int etl_job_tick(struct etl_db *db, const struct etl_job_tick_opts *o, long *started);

/* ---- recovery -------------------------------------------------------------- */

/*
 * etl-job set-status: set job @id's overall state to @state, under the
 * policy of man/etl-job.1: READY or NOT_STARTED from any state (a
 * RUNNING run is cancelled: its messages still queued are ignored),
 * FAILED from RUNNING only; RUNNING and FINISHED are refused (a run
 * needs a new token from etl-job start; only its last message completes
 * it, which moves last_sync_date).  Refusals are reported with *why =
 * ETL_DATAERR.  0 changed, 1 already in @state, -1.
 */
int etl_job_set_status(struct etl_db *db, int64_t id, const char *state, int *why);

/* True if @s is one of the overall states. */
bool etl_job_state_valid(const char *s);

#endif
