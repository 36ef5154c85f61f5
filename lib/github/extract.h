/*
 * github/extract.h - the two GitHub steps of etl-extract (lib/extract.h is
 * the provider-agnostic half: storage, flags, checkpoints).  Every request
 * is POST <endpoint> {"query": <a document of github/queries.h>,
 * "variables": {...}} (github/client.h: the endpoint, errors[], rate limits,
 * smaller pages after a 502/504).  What each step stores, one
 * raw_extraction_data row and one transform message per response unless
 * said otherwise (request_params always has "kind" and "sig", the request
 * signature):
 *
 * github_repositories
 *   repositories   GH_Q_REPOS, repositoryOwner(login) (an organisation or a
 *                  user), every page, for each login of integration.orgs;
 *                  params {login, first, after}.
 *   repository     GH_Q_REPO for each repository the pattern names
 *                  explicitly ("owner/name", no wildcard) that no listing
 *                  returned (its owner need not be in orgs); params {owner,
 *                  name}.
 * github_prs_commits_reviews_comments
 *   pull_requests  GH_Q_PRS, one repository's pull requests by updatedAt
 *                  descending, page by page; params {owner, name, first,
 *                  after, nested, since (ISO time or null)}.  A repository
 *                  without pull requests still gives one (empty) page.
 *                  Before its message is sent, every pull request of the
 *                  page whose commits, reviews or comments connection has
 *                  a next page gets the remaining pages as ATTACHED rows
 *                  (no message of their own; params {for_raw_id: <the
 *                  page's raw id>, ...}):
 *     pr_commits / pr_reviews / pr_comments  GH_Q_PR_COMMITS / REVIEWS /
 *                  COMMENTS, node(id: <the PR's node id>); params {pr,
 *                  number, first, after}.  The response names the PR
 *                  (data.node.id).
 *                  The page's inline nodes plus the attached ones are the
 *                  pull request's complete connections.  With --no-store
 *                  the attached responses are the message's
 *                  "raw_changelogs" array.
 *
 * Repository selection: integration.repos_pattern is NULL (every repository
 * of the logins) or comma-separated fnmatch(3) globs, matched without case
 * against the name, or against "owner/name" when the glob has a '/'.
 * Archived repositories are kept.  A repository that GitHub answers
 * NOT_FOUND for (deleted or renamed since the listing) is skipped with a
 * warning and counted in the run's errors.
 *
 * Incremental sync, per repository: repositories.last_pr_updated (set by
 * etl-transform when a PR step completed) minus --overlap is "since"; the
 * pages stop after the first one whose last pull request was updated
 * before it.  A full sync ("full": true), a repository without a row or a
 * watermark: every page.  With --no-store: since is last_sync_date minus
 * the overlap.
 *
 * Sizes: repositories 100 a page, pull requests 50 (--page-size), nested
 * connections 100; halved down to 1 while GitHub answers 502/504.
 *
 * Step argument (extraction messages only): "repositories": [{"owner",
 * "name", "id"}, ...], the repositories step 1 selected, in the order
 * found.  Without it (a single-step run) step 2 reads the integration's
 * active rows of the repositories table (--no-store: lists them from the
 * API without storing).
 *
 * Checkpoint hints: "repo" ("owner/name"), "cursor" (the page's after),
 * "since", "rate_limit_reset" (epoch s).
 */
#ifndef ETL_GITHUB_EXTRACT_H
#define ETL_GITHUB_EXTRACT_H

#include "../extract.h"   /* lib/extract.h, not this file */

extern const struct etl_extract_provider etl_github_extract_provider;

#endif
