/*
 * extract.h - the provider-agnostic half of etl-extract: the stage handler
 * for extraction messages, and what every provider's steps share.
 *
 * Routing: a message's "provider" picks an entry of the provider table
 * (cmd/etl-extract.c passes it in; core code never includes provider
 * code), and the provider runs the step named by the message's "type".
 * One message runs one step; finishing step N emits step N+1's extraction
 * message to ETL_DEST_SELF (the stage loop then runs it next in a pipe, or
 * publishes it to the extraction queue), unless the message says
 * "single_step": true.
 *
 * Responses.  A provider fetches with etl_extract_fetch() and hands each
 * successful response to etl_extract_item() (a new transform message) or
 * etl_extract_attach() (a response that belongs to the current item's
 * message: changelog pages).  Each response becomes one raw_extraction_data
 * row: the bytes as received, type = the step, request_method,
 * request_url (no credentials), request_params = {"kind": <raw_kind>,
 * "sig": <request signature>, <the provider's params>..., "for_raw_id":
 * <the item's raw id> (attached rows only)}, http_status, content_type and
 * page (1-based order of the row within the step).  With --no-store
 * nothing is stored: the message carries the response inline instead
 * ("raw", "raw_changelogs", "request_params", "request_url").
 *
 * Transform messages: the extraction message (unknown fields forwarded,
 * the provider's step arguments removed) with "raw_data_id" and
 * "raw_kind", first_item on the step's first, last_item on its last (one
 * message is held back until the next one, or the step's end, shows which
 * is last), last_job_item on the last message of the last step.  A step
 * that produced nothing emits one completion message ("raw_data_id": null,
 * no "raw") with first_item and last_item true.
 *
 * Checkpoints.  When a step fails temporarily (rate limit longer than
 * --max-wait, API or database down, SIGTERM), the job's status.checkpoint
 * (lib/status.h) is set to {"token", "step", "emitted": <messages of the
 * step already emitted>, "page": <rows stored>, "error", plus the
 * provider's hints such as "cursor" and "since"}, and the handler fails
 * ETL_TEMPFAIL (exit 75).  A rerun of the same run (same token) catches
 * up: every request whose signature (method, URL, body) matches the next
 * row stored for this token and step is answered from that row, with no
 * API call and no new row, and of the first "emitted" messages those whose
 * response came from a stored row are not sent again (a response asked
 * anew is always sent: once a request differs, the numbering no longer
 * matches the earlier run's); steps before the checkpoint's step are
 * caught up the same way with every message suppressed.  The first
 * request that differs, or the first past the stored rows, goes to the
 * API.
 */
#ifndef ETL_EXTRACT_H
#define ETL_EXTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "http.h"
#include "log.h"

struct etl_db;
struct etl_integration;
struct etl_msg;
struct etl_stage_ctx;
struct etl_step;

struct etl_extract_opts {
	bool store;             /* false (--no-store): inline responses, no database */
	const char *dsn;        /* NULL: ETL_DATABASE_URL */
	long max_wait_s;        /* longest rate-limit wait sat out; default 60 */
	int page_size;          /* 0: the provider's default */
	int batch_size;         /* 0: the provider's default */
	long overlap_s;         /* incremental overlap window; default 300 */
	int reconcile_every;    /* deleted-item pass every Nth incremental run;
				   0: only with a full sync; default 10 */
	const char *projects;   /* --no-store: "KEY,KEY" (NULL: all visible) */
	const char *orgs;       /* --no-store: GitHub logins "org,user" */
	const char *repos;      /* --no-store: GitHub repository globs (NULL: all) */
};
#define ETL_EXTRACT_OPTS_INIT { true, NULL, 60, 0, 0, 300, 10, NULL, NULL, NULL }

struct etl_extract_run;   /* one message (one step) in progress */

struct etl_extract_provider {
	const char *name;                 /* the messages' "provider": "jira" */
	/* Step arguments: extraction-message members the transform messages
	 * leave out (NULL-ended). */
	const char *const *step_args;
	/*
	 * --no-store: fill @out (start from ETL_INTEGRATION_INIT) from the
	 * environment and @o.  0, or -1 after reporting (*why: ETL_CONFIG).
	 */
	int (*from_env)(const struct etl_extract_opts *o,
			struct etl_integration *out, int *why);
	/*
	 * Run the step etl_extract_step(run).  ETL_OK, or the failure's
	 * category after etl_extract_fail() or etl_extract_failf().
	 */
	int (*run_step)(struct etl_extract_run *run);
	/* Free what the provider kept in *etl_extract_state() (may be NULL). */
	void (*free_state)(void *state);
};

struct etl_extract;

/*
 * The handler state for etl_stage_run(): connects to the database unless
 * @o->store is false.  @providers is NULL-ended and borrowed.  NULL after
 * reporting (*why).
 */
struct etl_extract *etl_extract_new(const struct etl_extract_opts *o,
				    const struct etl_extract_provider *const *providers,
				    int *why);
void etl_extract_free(struct etl_extract *x);
/* The etl_stage_fn: @ctx is the struct etl_extract. */
int etl_extract_handle(struct etl_stage_ctx *st, struct etl_msg *m, void *ctx);

/*
 * The shorthand's message (etl-extract jira --integration ID ...): a new
 * token, job_id null, type @step (NULL: the provider's first step), the
 * integration's tenant and last_sync_date (or @since; @full: "full":
 * true), "single_step" when @only.  Appends one line of JSON to @out.
 * 0, or -1 after reporting (*why).
 */
int etl_extract_adhoc(struct etl_extract *x, const char *provider, int64_t integration_id,
		      const char *step, const char *since, bool full, bool only,
		      struct etl_buf *out, int *why);

/*
 * --replay A-B (@job_id 0) or --replay-job ID (@from, @to ignored; the
 * job's latest run): one transform message per stored response (attached
 * rows excepted) in id order, first/last flags per step and run,
 * last_job_item on the very last, written to @out.  No API call.
 * Returns an exit status (ETL_NOTHING when no row matched).
 */
int etl_extract_replay(struct etl_extract *x, int64_t from, int64_t to, int64_t job_id,
		       FILE *out);

/* --- for providers: the message */

const struct etl_msg *etl_extract_msg(const struct etl_extract_run *run);
const struct etl_step *etl_extract_step(const struct etl_extract_run *run);
const struct etl_integration *etl_extract_integration(const struct etl_extract_run *run);
const struct etl_extract_opts *etl_extract_opts(const struct etl_extract_run *run);
/* The database, or NULL with --no-store. */
struct etl_db *etl_extract_db(const struct etl_extract_run *run);
/* A slot for the provider's state, kept across messages (freed with
 * the provider's free_state). */
void **etl_extract_state(struct etl_extract_run *run);
/* True for "full": true or a null/absent last_sync_date. */
bool etl_extract_full(const struct etl_extract_run *run);
/* The incremental lower bound: last_sync_date minus the overlap, in epoch
 * ms; -1 for a full sync.  An unreadable last_sync_date is reported and
 * read as a full sync. */
int64_t etl_extract_since_ms(const struct etl_extract_run *run);
/*
 * Whether the deleted-item pass is due: a full sync, or this is the Nth
 * incremental run of the integration since the last pass (counted from
 * the stored rows of @kind_search and @kind_pass of this step; other runs
 * only, so a resumed run decides the same way).
 */
bool etl_extract_pass_due(struct etl_extract_run *run, const char *kind_search,
			  const char *kind_pass, int every);
/* Whether a stored row of @kind younger than @max_age_s exists for the
 * integration (another run's): discovery results that are still fresh. */
bool etl_extract_fresh(struct etl_extract_run *run, const char *kind, long max_age_s);
/* The HTTP options from the command line (max wait). */
void etl_extract_http_opts(const struct etl_extract_run *run, struct etl_http_opts *ho);

/* --- for providers: requests and responses */

/*
 * Perform one request on @h (or answer it from the stored row when
 * catching up).  A 2xx body that is not valid JSON (a truncated response)
 * is fetched again, twice at most.  Returns the response (owned by @run,
 * valid until the next fetch), or NULL: see etl_extract_last().
 */
const struct etl_http_resp *etl_extract_fetch(struct etl_extract_run *run, struct etl_http *h,
					      const char *method, const char *url,
					      const char *body, size_t len);
/*
 * While catching up: whether the next stored row answers this request
 * (same method, URL and body).  False when no stored row is left.  Lets a
 * provider that changes its requests on the way (smaller pages after a
 * timeout) find the request the earlier run made.
 */
bool etl_extract_stored_next(const struct etl_extract_run *run, const char *method,
			     const char *url, const char *body, size_t len);
/* The last fetch's response, failed or not (status, why, error, body). */
const struct etl_http_resp *etl_extract_last(const struct etl_extract_run *run);
/* True when the last failure was a rate limit longer than --max-wait. */
bool etl_extract_rate_limited(const struct etl_extract_run *run);

/*
 * Store the last fetched response as the next item of the step (a new
 * transform message) of @kind with @params (JSON object members, without
 * braces, or NULL).  The previous item is queued first.  ETL_OK, or the
 * failure's category with the reason set (return it from run_step).
 */
int etl_extract_item(struct etl_extract_run *run, const char *kind, const char *params);
/* Store the last fetched response attached to the current item. */
int etl_extract_attach(struct etl_extract_run *run, const char *kind, const char *params);
/* The current item is complete: queue it (its message is sent when the
 * next item is queued or the step ends).  ETL_OK or a category. */
int etl_extract_submit(struct etl_extract_run *run);
/* The raw id of the current item (0 with --no-store). */
int64_t etl_extract_item_id(const struct etl_extract_run *run);

/* The step fails because the API asks to wait @ms (a rate limit past
 * --max-wait): a worker parks the message that long (lib/stage.h), and
 * the checkpoint says "retry_at" (etl-reset --stuck waits for it). */
void etl_extract_retry_after(struct etl_extract_run *run, int64_t ms);

/* Set a member of the next step's extraction message (@json: valid JSON). */
void etl_extract_next_arg(struct etl_extract_run *run, const char *key, const char *json,
			  size_t len);
/* Hints saved in a checkpoint for people ("cursor", "since"; JSON). */
void etl_extract_hint(struct etl_extract_run *run, const char *key, const char *json);
/* Count a failure that does not stop the step (dev status errors). */
void etl_extract_count_error(struct etl_extract_run *run);
/* Count a rate limit the provider saw in a successful HTTP answer (GitHub's
 * RATE_LIMITED, its point budget nearly spent): the HTTP layer counts the
 * 429s and 403s itself. */
void etl_extract_count_rate_hit(struct etl_extract_run *run);

/*
 * Fail the step because of the last fetch: the reason set for the stage,
 * the category returned (401/403: ETL_CONFIG; rate limit, 5xx, transport:
 * ETL_TEMPFAIL or ETL_UNAVAIL; other 4xx: ETL_DATAERR).  @what names the
 * request for people ("search page 3").
 */
int etl_extract_fail(struct etl_extract_run *run, const char *what);
int etl_extract_failf(struct etl_extract_run *run, int code, const char *fmt, ...)
	ETL_PRINTF(3, 4);

#endif
