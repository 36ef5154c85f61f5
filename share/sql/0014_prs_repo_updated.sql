-- 0014: the GitHub watermark reads the newest PR of each repository.
--
-- At the end of a pull request step, repositories.last_pr_updated becomes
-- max(prs.updated) of each repository the run touched (lib/github/
-- transform.c): one short index scan per repository instead of a scan of
-- every PR of the integration.
CREATE INDEX prs_repo_updated_idx ON prs (tenant_id, repository_id, updated DESC);
