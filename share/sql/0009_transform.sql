-- 0009: what etl-transform needs beyond the seed's tables.

-- Catalog rows remember when their data was fetched (the raw row's
-- created_at): an older response replayed later never overwrites a newer
-- one.  NULL marks a placeholder, made from the object an issue embeds
-- (its project, type or status) when the issue arrived before the catalog
-- step: the issue still loads with its foreign keys set, and the catalog
-- step completes the row later (order tolerance, man etl-transform).
ALTER TABLE custom_fields ADD COLUMN synced_at timestamptz;
ALTER TABLE projects ADD COLUMN synced_at timestamptz;
ALTER TABLE wits ADD COLUMN synced_at timestamptz;
ALTER TABLE statuses ADD COLUMN synced_at timestamptz;

-- The default workflow step of a status, exactly as lib/jira/metrics.c
-- etl_wf_step_default() computes it: the transform computes metrics in C,
-- `etl-transform --dry-run` has no database, and `etl-job status-map list`
-- shows this view, so the SQL and the C must give the same answer.  (0004's
-- version let names override categories: "Reopened" was to_do here and
-- backlog in C, a "Backlog" status of category done was backlog here.)
-- NULL: the category is unknown, time in that status counts nowhere.
CREATE OR REPLACE FUNCTION etl_default_workflow_step(category text, name text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE category
		WHEN 'done' THEN 'done'
		WHEN 'new' THEN CASE WHEN name ILIKE '%backlog%' OR name ILIKE '%open%'
			THEN 'backlog' ELSE 'to_do' END
		WHEN 'indeterminate' THEN CASE WHEN name ILIKE '%review%'
			OR name ILIKE '%test%' OR name ILIKE '%qa%'
			OR name ILIKE '%verif%' OR name ILIKE '%accept%'
			THEN 'review' ELSE 'in_progress' END
	END
$$;

-- Keys a run's transform recorded, per step (token + type), read on the
-- step's last_item:
--   embed          the entities the step touched, one embedding message each
--   seen           work item ids listed by a reconcile pass (reconcile_ids)
--   seen_first, seen_last
--                  the reconcile pass's first and last pages were seen: only
--                  a complete pass soft-deletes work items it did not list
-- Rows are deleted once the step's last_item is handled; rows of runs that
-- never got there are removed after a week.
CREATE TABLE etl_transform_keys (
	tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	integration_id bigint NOT NULL,
	token uuid NOT NULL,
	step text NOT NULL,
	kind text NOT NULL
		CHECK (kind IN ('embed', 'seen', 'seen_first', 'seen_last')),
	table_name text NOT NULL,
	external_id text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, token, step, kind, table_name, external_id),
	FOREIGN KEY (tenant_id, integration_id)
		REFERENCES integrations (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX etl_transform_keys_age_idx ON etl_transform_keys (tenant_id, created_at);
