/* Workflow metrics, checked by hand against named histories. */
#include <string.h>

#include "jira/metrics.h"
#include "log.h"
#include "tap.h"

#define H 3600000LL   /* one hour in ms */
#define T0 1700000000000LL

#define B ETL_WF_BACKLOG
#define TD ETL_WF_TODO
#define IP ETL_WF_IN_PROGRESS
#define RV ETL_WF_REVIEW
#define DN ETL_WF_DONE

int main(int argc, char **argv)
{
	struct etl_wf_metrics m;

	(void)argc;
	etl_init(argv[0]);

	/* Straight path: backlog -> to do (+1h) -> in progress (+2h) -> review (+5h)
	 * -> done (+6h). */
	struct etl_wf_transition straight[] = {
		{ T0 + 1 * H, B, TD }, { T0 + 2 * H, TD, IP }, { T0 + 5 * H, IP, RV },
		{ T0 + 6 * H, RV, DN } };
	etl_wf_compute(T0, B, straight, 4, &m);
	ok(m.work_first_committed_at == T0 + H, "committed when moved to To Do");
	ok(m.work_first_started_at == T0 + 2 * H && m.work_last_started_at == T0 + 2 * H, "started");
	ok(m.work_first_completed_at == T0 + 6 * H && m.work_last_completed_at == T0 + 6 * H,
	   "completed");
	ok(m.total_work_starts == 1 && m.total_completions == 1 && m.total_backlog_returns == 0,
	   "one start, one completion, no returns");
	ok(m.total_work_time_seconds == 3 * 3600 && m.total_review_time_seconds == 3600,
	   "3 h work, 1 h review");
	ok(m.total_cycle_time_seconds == 4 * 3600, "cycle: first start to last completion");
	ok(m.total_lead_time_seconds == 5 * 3600, "lead: commit to last completion");
	ok(m.workflow_complexity_score == 4 && !m.rework_indicator && !m.direct_completion,
	   "4 transitions, no rework, not direct");

	/* Returned to the backlog and reopened: to do -> in progress (+1h) ->
	 * backlog (+2h) -> in progress (+4h) -> done (+5h) -> in progress (+7h,
	 * reopened) -> done (+8h). */
	struct etl_wf_transition bumpy[] = {
		{ T0 + 1 * H, TD, IP }, { T0 + 2 * H, IP, B }, { T0 + 4 * H, B, IP },
		{ T0 + 5 * H, IP, DN }, { T0 + 7 * H, DN, IP }, { T0 + 8 * H, IP, DN } };
	etl_wf_compute(T0, TD, bumpy, 6, &m);
	ok(m.work_first_committed_at == T0, "created in To Do: committed at creation");
	ok(m.total_work_starts == 3 && m.total_completions == 2, "3 starts, 2 completions");
	ok(m.total_backlog_returns == 1, "one return to the backlog");
	ok(m.work_last_started_at == T0 + 7 * H && m.work_first_completed_at == T0 + 5 * H &&
	   m.work_last_completed_at == T0 + 8 * H, "first and last times");
	ok(m.total_work_time_seconds == 3 * 3600, "work: 1 h + 1 h + 1 h");
	ok(m.total_cycle_time_seconds == 7 * 3600 && m.total_lead_time_seconds == 8 * 3600,
	   "cycle 7 h, lead 8 h");
	ok(m.rework_indicator && m.workflow_complexity_score == 6 + 1 + 2, "rework, score 9");

	/* Closed straight from To Do: direct completion, no cycle time. */
	struct etl_wf_transition direct[] = { { T0 + 2 * H, TD, DN } };
	etl_wf_compute(T0, TD, direct, 1, &m);
	ok(m.direct_completion && m.total_cycle_time_seconds == -1 &&
	   m.total_lead_time_seconds == 2 * 3600, "direct completion");

	/* Still in progress: open intervals do not count (replays stay equal). */
	struct etl_wf_transition open_ip[] = { { T0 + H, TD, IP } };
	etl_wf_compute(T0, TD, open_ip, 1, &m);
	ok(m.total_work_time_seconds == 0 && m.work_first_completed_at == ETL_WF_NONE &&
	   m.total_lead_time_seconds == -1, "open interval not counted, not completed");

	/* No changelog at all. */
	etl_wf_compute(T0, B, NULL, 0, &m);
	ok(m.work_first_committed_at == ETL_WF_NONE && m.total_work_starts == 0 &&
	   m.workflow_complexity_score == 0, "untouched backlog item");

	ok(etl_wf_step_default("new", "Backlog") == ETL_WF_BACKLOG &&
	   etl_wf_step_default("new", "Selected for Development") == ETL_WF_TODO &&
	   etl_wf_step_default("indeterminate", "In Review") == ETL_WF_REVIEW &&
	   etl_wf_step_default("indeterminate", "In Progress") == ETL_WF_IN_PROGRESS &&
	   etl_wf_step_default("done", "Won't Do") == ETL_WF_DONE,
	   "defaults from status category and name");
	ok(etl_wf_step_parse("in_progress") == ETL_WF_IN_PROGRESS &&
	   etl_wf_step_parse("bogus") == ETL_WF_UNKNOWN, "step names");
	return tap_done();
}
