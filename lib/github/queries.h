/*
 * github/queries.h - the GraphQL documents etl-extract sends to GitHub, in
 * one place: the extraction builds requests from them, the transform reads
 * the fields they select, and the tests post them to the fake server.
 *
 * Every query asks for rateLimit { cost remaining resetAt } so the client
 * can pace itself (a primary-limit hit may still come as HTTP 200 with
 * errors[]).  Sizes are variables: $first is the page size (1..100) and
 * $nested the size of each pull request's commits, reviews and comments
 * connections; what does not fit is paged through node(id:) with the
 * GH_Q_PR_* queries, never truncated.  Node ids are opaque strings.
 */
#ifndef ETL_GITHUB_QUERIES_H
#define ETL_GITHUB_QUERIES_H

#define GH_F_RATE "rateLimit { cost remaining resetAt }"

#define GH_F_REPO \
	"fragment Repo on Repository { id databaseId name nameWithOwner " \
	"owner { login } url description isPrivate isArchived isFork " \
	"createdAt updatedAt pushedAt defaultBranchRef { name } " \
	"primaryLanguage { name } }"

#define GH_F_COMMIT \
	"fragment Commit on PullRequestCommit { id commit { oid message " \
	"authoredDate committedDate additions deletions changedFilesIfAvailable " \
	"author { name email user { login } } } }"

#define GH_F_REVIEW \
	"fragment Review on PullRequestReview { id databaseId author { login } " \
	"state body submittedAt updatedAt url }"

#define GH_F_COMMENT \
	"fragment Comment on IssueComment { id databaseId author { login } " \
	"body createdAt updatedAt url }"

#define GH_PAGE "totalCount pageInfo { hasNextPage endCursor }"

/*
 * An organisation's or a user's own repositories, by name: $login $first
 * $after.  ownerAffiliations: [OWNER], since GitHub's default [OWNER,
 * COLLABORATOR] would add, for a user, the repositories of others that
 * the user only collaborates on.
 */
#define GH_Q_REPOS \
	"query Repositories($login: String!, $first: Int!, $after: String) { " \
	GH_F_RATE " repositoryOwner(login: $login) { login " \
	"repositories(first: $first, after: $after, ownerAffiliations: [OWNER], " \
	"orderBy: {field: NAME, direction: ASC}) { " GH_PAGE \
	" nodes { ...Repo } } } } " GH_F_REPO

/* One repository by name: $owner $name. */
#define GH_Q_REPO \
	"query Repository($owner: String!, $name: String!) { " GH_F_RATE \
	" repository(owner: $owner, name: $name) { ...Repo } } " GH_F_REPO

/*
 * A repository's pull requests, most recently updated first (there is no
 * "since": an incremental sync stops at its watermark):
 * $owner $name $first $after $nested.
 */
#define GH_Q_PRS \
	"query PullRequests($owner: String!, $name: String!, $first: Int!, " \
	"$after: String, $nested: Int!) { " GH_F_RATE \
	" repository(owner: $owner, name: $name) { id nameWithOwner " \
	"pullRequests(first: $first, after: $after, " \
	"orderBy: {field: UPDATED_AT, direction: DESC}) { " GH_PAGE " nodes { " \
	"id databaseId number title body state isDraft url createdAt updatedAt " \
	"closedAt mergedAt additions deletions changedFiles baseRefName " \
	"headRefName headRefOid author { login } mergedBy { login } " \
	"commits(first: $nested) { " GH_PAGE " nodes { ...Commit } } " \
	"reviews(first: $nested) { " GH_PAGE " nodes { ...Review } } " \
	"comments(first: $nested) { " GH_PAGE " nodes { ...Comment } } " \
	"} } } } " GH_F_COMMIT " " GH_F_REVIEW " " GH_F_COMMENT

/* The next page of one pull request's connection: $id $first $after. */
#define GH_Q_PR_NESTED(op, conn, frag, fragdef) \
	"query " op "($id: ID!, $first: Int!, $after: String) { " GH_F_RATE \
	" node(id: $id) { ... on PullRequest { id " conn \
	"(first: $first, after: $after) { " GH_PAGE " nodes { ..." frag \
	" } } } } } " fragdef

#define GH_Q_PR_COMMITS  GH_Q_PR_NESTED("PullRequestCommits", "commits", "Commit", GH_F_COMMIT)
#define GH_Q_PR_REVIEWS  GH_Q_PR_NESTED("PullRequestReviews", "reviews", "Review", GH_F_REVIEW)
#define GH_Q_PR_COMMENTS GH_Q_PR_NESTED("PullRequestComments", "comments", "Comment", \
					GH_F_COMMENT)

#endif
