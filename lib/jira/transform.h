/*
 * jira/transform.h - the Jira provider of etl-transform (lib/transform.h):
 * what each raw_kind of the Jira steps becomes.
 *
 *   fields            custom_fields (global discovery; fields gone from
 *                     the list are marked inactive)
 *   createmeta        projects_custom_fields (per project, per issue type)
 *   project_search    projects, wits, projects_wits
 *   project_statuses  statuses, projects_statuses
 *   search_jql        work_items (+ placeholder projects, wits, statuses),
 *                     changelogs and the fifteen workflow metrics, with the
 *                     attached changelog pages merged by history id
 *   dev_status        work_items_prs_links
 *   reconcile_ids     soft delete of work items a complete key-only pass
 *                     did not list (on the step's last_item)
 *
 * What the transform needs from a raw row beyond the response itself (the
 * request is named by request_params, or by the message's inline
 * "request_params" / "request_url" with --no-store; the URL is the
 * fallback):
 *   createmeta        the project ("project", "projectIdOrKey",
 *                     "projectKey") and issue type ("issueTypeId",
 *                     "issuetype") - or the URL
 *                     .../createmeta/{project}/issuetypes/{id}
 *   project_statuses  the project ("project", "projectIdOrKey",
 *                     "projectKey") - or the URL .../project/{key}/statuses
 *   dev_status        the issue id ("issueId", "issue_id") - or the URL's
 *                     issueId query parameter
 *   reconcile_ids     "nextPageToken" present in the request params on
 *                     every page but the first
 *   issue_changelog   (attached) the issue: its URL .../issue/{idOrKey}/changelog
 *                     or the response's "self"
 * The man page etl-transform(1) defines the metrics and the mapping rules.
 */
#ifndef ETL_JIRA_TRANSFORM_H
#define ETL_JIRA_TRANSFORM_H

/* The core header: "transform.h" would name this file from here. */
#include "../transform.h"

extern const struct etl_tx_provider etl_jira_tx_provider;

#endif
