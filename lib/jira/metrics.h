/*
 * jira/metrics.h - the fifteen workflow metrics of a work item, computed in
 * memory in one pass over its complete, time-ordered status changelog.
 * man/etl-transform.1 defines each metric; this header is the reference for
 * the code.  Statuses map to workflow steps through status_mappings.
 */
#ifndef ETL_JIRA_METRICS_H
#define ETL_JIRA_METRICS_H

#include <stdbool.h>
#include <stdint.h>

enum etl_wf_step {
	ETL_WF_UNKNOWN = 0,   /* status not mapped: time there counts nowhere */
	ETL_WF_BACKLOG,       /* not committed to */
	ETL_WF_TODO,          /* committed, not started */
	ETL_WF_IN_PROGRESS,   /* work */
	ETL_WF_REVIEW,        /* review, test, waiting for acceptance */
	ETL_WF_DONE
};

/* "backlog", "to_do", "in_progress", "review", "done" <-> enum. */
const char *etl_wf_step_name(enum etl_wf_step step);
enum etl_wf_step etl_wf_step_parse(const char *name);
/* The default step of a status with Jira category key @category ("new",
 * "indeterminate", "done") and @name: names decide within a category. */
enum etl_wf_step etl_wf_step_default(const char *category, const char *name);

/* One status change: at @at (epoch ms), from step @from to step @to. */
struct etl_wf_transition {
	int64_t at;
	enum etl_wf_step from, to;
};

#define ETL_WF_NONE INT64_MIN   /* a timestamp metric with no value */

struct etl_wf_metrics {
	int64_t work_first_committed_at;   /* epoch ms or ETL_WF_NONE */
	int64_t work_first_started_at;
	int64_t work_last_started_at;
	int64_t work_first_completed_at;
	int64_t work_last_completed_at;
	int total_work_starts;
	int total_completions;
	int total_backlog_returns;
	int64_t total_work_time_seconds;
	int64_t total_review_time_seconds;
	int64_t total_cycle_time_seconds;  /* -1: not both started and completed */
	int64_t total_lead_time_seconds;   /* -1: not completed */
	int workflow_complexity_score;
	bool rework_indicator;
	bool direct_completion;
};

/*
 * Compute the metrics of an item created at @created (epoch ms) in step
 * @initial, with @n transitions sorted by time (ties keep changelog order).
 */
void etl_wf_compute(int64_t created, enum etl_wf_step initial,
		    const struct etl_wf_transition *t, size_t n,
		    struct etl_wf_metrics *out);

#endif
