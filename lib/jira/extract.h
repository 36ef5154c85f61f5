/*
 * jira/extract.h - the four Jira steps of etl-extract (lib/extract.h is the
 * provider-agnostic half: storage, flags, checkpoints).  What each step
 * stores, one raw_extraction_data row and one transform message per
 * response unless said otherwise (request_params always has "kind" and
 * "sig", the request signature):
 *
 * jira_projects_and_issue_types
 *   project_search   GET /rest/api/3/project/search?expand=issueTypes&startAt&
 *                    maxResults[&keys=K...] (all pages); params {startAt,
 *                    maxResults, expand, keys}
 *   fields           GET /rest/api/3/field; params {}
 *   createmeta       GET /rest/api/3/issue/createmeta/{project}/issuetypes/{id}
 *                    (all pages), one per project and issue type of the
 *                    project search; params {project, issue_type_id,
 *                    startAt, maxResults}.  The response lists fields under
 *                    "fields" (or "results"): it names neither the project
 *                    nor the type, read them from the params.  Only on a
 *                    full sync or when no other run stored createmeta in
 *                    the last ETL_JIRA_DISCOVERY_HOURS (default 24).
 * jira_statuses_and_relationships
 *   project_statuses GET /rest/api/3/project/{key}/statuses; params {project}
 * jira_issues_with_changelogs
 *   search_jql       POST /rest/api/3/search/jql, JQL
 *                    'project in (...) [AND updated >= <epoch ms>]
 *                    [AND id > <id>] ORDER BY id ASC', fields
 *                    ETL_JIRA_FIELDS, expand changelog; params {jql, fields,
 *                    expand, maxResults, nextPageToken}.  Before its message
 *                    is sent, every issue whose changelog.total exceeds the
 *                    histories embedded gets its full history in ATTACHED
 *                    rows (no message of their own), params {for_raw_id:
 *                    <the page's raw id>, ...}:
 *     changelog_bulkfetch  POST /rest/api/3/changelog/bulkfetch (all pages),
 *                    params {issueIdsOrKeys, maxResults, nextPageToken}
 *     issue_changelog      GET /rest/api/3/issue/{id}/changelog (all pages),
 *                    when bulkfetch answers 404; params {issue, startAt,
 *                    maxResults}
 *                    The page's embedded histories plus the attached ones,
 *                    merged by history id, are the complete
 *                    changelog.  With --no-store the attached responses are
 *                    the message's "raw_changelogs" array.
 *   reconcile_ids    the deleted-issue pass, after the search pages (full
 *                    sync, or every Nth incremental run): POST search/jql
 *                    'project in (...) ORDER BY id ASC', fields ["id"],
 *                    5000 ids a page; response {"issues": [{"id": "10001"},
 *                    ...], "nextPageToken", "isLast"}; params {jql, fields,
 *                    maxResults, nextPageToken, projects: [keys the pass
 *                    covers], page: 1.., first: bool, last: bool}.  The
 *                    pass is complete when the run has every page from
 *                    first to last; then a work item of the integration in
 *                    one of "projects" whose external_id (the Jira issue id)
 *                    no page listed was deleted in Jira (etl-transform
 *                    soft-deletes it).  An incomplete pass proves nothing.
 * jira_dev_status
 *   dev_status       GET /rest/dev-status/latest/issue/detail?issueId&
 *                    applicationType=GitHub&dataType=pullrequest, one per
 *                    issue of this run whose development field shows pull
 *                    requests ("{pullrequest={... stateCount=N ...}" with
 *                    N > 0, in any field); params {issue_id, issue_key,
 *                    applicationType, dataType}.  The response does not
 *                    name the issue: read issue_id from the params.
 *                    Failures are logged and counted, never fatal; they
 *                    store nothing.
 *
 * Step arguments (extraction messages only): "project_keys": [...] (the
 * projects step 1 found; steps 2 and 3 use them) and "dev_issues":
 * [{"id", "key"}, ...] (step 3 to step 4).
 */
#ifndef ETL_JIRA_EXTRACT_H
#define ETL_JIRA_EXTRACT_H

#include "../extract.h"   /* lib/extract.h, not this file */

/* Fields asked of search/jql: every field but the heavy ones the
 * transform does not read (override with ETL_JIRA_FIELDS, comma-separated). */
#define ETL_JIRA_FIELDS "*all,-comment,-worklog,-attachment,-watches,-votes," \
	"-lastViewed,-issuerestriction"

extern const struct etl_extract_provider etl_jira_extract_provider;

#endif
