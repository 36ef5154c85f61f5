-- 0008: what etl-extract needs of raw_extraction_data.

-- Changelog pages fetched to complete a search page's truncated changelogs
-- are stored as their own rows with request_params->>'for_raw_id' = the
-- page's id and get no transform message: etl-transform loads a page with
-- every row attached to it (man etl-extract, "Raw rows").
CREATE INDEX raw_extraction_data_for_raw_idx
	ON raw_extraction_data (tenant_id, ((request_params->>'for_raw_id')::bigint))
	WHERE request_params ? 'for_raw_id';

-- A rerun of a run (same token) answers requests from the rows the run
-- already stored, step by step, instead of asking the API again (checkpoint
-- resume, no duplicate rows); `--replay-job` reads one run in id order.
CREATE INDEX raw_extraction_data_token_type_idx
	ON raw_extraction_data (token, type, id);
