/*
 * github/transform.h - the GitHub provider of etl-transform
 * (lib/transform.h): what each raw_kind of the GitHub steps becomes.  The
 * responses are those of the GraphQL documents of github/queries.h.
 *
 *   repositories   repositories (the nodes of a repositoryOwner page)
 *   repository     repositories (one repository named explicitly)
 *   pull_requests  prs, with prs_commits, prs_reviews and prs_comments:
 *                  each PR's inline connections merged, by key, with the
 *                  attached pr_commits / pr_reviews / pr_comments pages
 *                  (request_params.for_raw_id, or the inline
 *                  "raw_changelogs"), which name their PR (node.id); a
 *                  placeholder repositories row when the page's repository
 *                  is not loaded yet (the repositories step may come later);
 *                  when the PR version staged is the one stored, the
 *                  stored commits, reviews and comments missing from a
 *                  connection the page holds complete (as many nodes as
 *                  its totalCount) are deleted (force-push, deleted
 *                  review or comment)
 *
 * On the last_item of github_prs_commits_reviews_comments the watermark
 * repositories.last_pr_updated becomes max(prs.updated) of each
 * repository whose PR pages this run transformed (not for a repository
 * whose PR page failed in this run: its missing PRs must be fetched
 * again).
 * The man page etl-transform(1) defines the derived PR columns.
 */
#ifndef ETL_GITHUB_TRANSFORM_H
#define ETL_GITHUB_TRANSFORM_H

/* The core header: "transform.h" would name this file from here. */
#include "../transform.h"

extern const struct etl_tx_provider etl_github_tx_provider;

#endif
