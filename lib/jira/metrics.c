#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "jira/metrics.h"

static const char *const step_names[] = {
	"unknown", "backlog", "to_do", "in_progress", "review", "done"
};

const char *etl_wf_step_name(enum etl_wf_step step)
{
	return step_names[step];
}

enum etl_wf_step etl_wf_step_parse(const char *name)
{
	for (size_t i = 1; i < sizeof(step_names) / sizeof(*step_names); i++)
		if (!strcmp(step_names[i], name))
			return (enum etl_wf_step)i;
	return ETL_WF_UNKNOWN;
}

static bool name_has(const char *name, const char *word)
{
	size_t wl = strlen(word);

	for (const char *p = name; *p; p++)
		if (!strncasecmp(p, word, wl))
			return true;
	return false;
}

enum etl_wf_step etl_wf_step_default(const char *category, const char *name)
{
	if (!category)
		return ETL_WF_UNKNOWN;
	if (!strcmp(category, "done"))
		return ETL_WF_DONE;
	if (!strcmp(category, "new"))
		return name && (name_has(name, "backlog") || name_has(name, "open")) ?
			ETL_WF_BACKLOG : ETL_WF_TODO;
	if (!strcmp(category, "indeterminate"))
		return name && (name_has(name, "review") || name_has(name, "test") ||
				name_has(name, "qa") || name_has(name, "verif") ||
				name_has(name, "accept")) ?
			ETL_WF_REVIEW : ETL_WF_IN_PROGRESS;
	return ETL_WF_UNKNOWN;
}

static bool is_active(enum etl_wf_step s)
{
	return s == ETL_WF_IN_PROGRESS || s == ETL_WF_REVIEW;
}

void etl_wf_compute(int64_t created, enum etl_wf_step initial,
		    const struct etl_wf_transition *t, size_t n,
		    struct etl_wf_metrics *m)
{
	enum etl_wf_step cur = initial;
	int64_t since = created;
	bool worked_before_done = is_active(initial);

	memset(m, 0, sizeof(*m));
	m->work_first_committed_at = m->work_first_started_at = ETL_WF_NONE;
	m->work_last_started_at = m->work_first_completed_at = ETL_WF_NONE;
	m->work_last_completed_at = ETL_WF_NONE;
	m->total_cycle_time_seconds = m->total_lead_time_seconds = -1;

	/* Created straight into a committed or later step: committed then. */
	if (initial >= ETL_WF_TODO)
		m->work_first_committed_at = created;
	if (initial == ETL_WF_IN_PROGRESS) {
		m->work_first_started_at = m->work_last_started_at = created;
		m->total_work_starts = 1;
	}

	for (size_t i = 0; i < n; i++) {
		enum etl_wf_step to = t[i].to;
		int64_t at = t[i].at;

		/* Time in the step we leave; the changelog's "from" is trusted
		 * less than our own running state, which a lost entry cannot
		 * make negative. */
		if (at > since) {
			if (cur == ETL_WF_IN_PROGRESS)
				m->total_work_time_seconds += (at - since) / 1000;
			else if (cur == ETL_WF_REVIEW)
				m->total_review_time_seconds += (at - since) / 1000;
		}
		if (to >= ETL_WF_TODO && m->work_first_committed_at == ETL_WF_NONE)
			m->work_first_committed_at = at;
		if (to == ETL_WF_IN_PROGRESS && cur != ETL_WF_IN_PROGRESS) {
			if (m->work_first_started_at == ETL_WF_NONE)
				m->work_first_started_at = at;
			m->work_last_started_at = at;
			m->total_work_starts++;
		}
		if (to == ETL_WF_DONE && cur != ETL_WF_DONE) {
			if (m->work_first_completed_at == ETL_WF_NONE) {
				m->work_first_completed_at = at;
				m->direct_completion = !worked_before_done;
			}
			m->work_last_completed_at = at;
			m->total_completions++;
		}
		if ((to == ETL_WF_BACKLOG || to == ETL_WF_TODO) &&
		    (is_active(cur) || cur == ETL_WF_DONE))
			m->total_backlog_returns++;
		if (is_active(to))
			worked_before_done = true;
		cur = to;
		if (at > since)
			since = at;
	}
	if (m->work_last_completed_at != ETL_WF_NONE) {
		int64_t from = m->work_first_committed_at != ETL_WF_NONE ?
			m->work_first_committed_at : created;

		if (m->work_first_started_at != ETL_WF_NONE &&
		    m->work_last_completed_at >= m->work_first_started_at)
			m->total_cycle_time_seconds =
				(m->work_last_completed_at - m->work_first_started_at) / 1000;
		if (m->work_last_completed_at >= from)
			m->total_lead_time_seconds = (m->work_last_completed_at - from) / 1000;
	}
	/* Transitions, plus every return and every restart past the first:
	 * the ways a simple to-do, doing, done path gets longer. */
	m->workflow_complexity_score = (int)n + m->total_backlog_returns +
		(m->total_work_starts > 1 ? m->total_work_starts - 1 : 0);
	m->rework_indicator = m->total_work_starts > 1 || m->total_completions > 1 ||
		m->total_backlog_returns > 0;
}
