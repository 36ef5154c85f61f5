-- 0012: run history details for `etl-job runs` and `etl-job metrics`
-- (lib/runstats.c writes them; the stages add to them while a run goes).

ALTER TABLE etl_job_runs
	-- Recovery attempts (seed "Job Performance Tracking"): messages retried
	-- after a temporary failure, and resumes from a saved checkpoint.
	ADD COLUMN retries bigint NOT NULL DEFAULT 0,
	ADD COLUMN checkpoint_resumes bigint NOT NULL DEFAULT 0,
	-- Per stage: {"extraction": {"peak_rss_kb": 51200, "messages": 12}, ...};
	-- peak_rss_kb (the column) stays the largest of them.
	ADD COLUMN stage_stats jsonb NOT NULL DEFAULT '{}'
		CHECK (jsonb_typeof(stage_stats) = 'object'),
	-- When a stage last added a counter: progress that changes no status
	-- (a long step between its first and last message), for etl-reset --stuck.
	ADD COLUMN last_activity_at timestamptz;
