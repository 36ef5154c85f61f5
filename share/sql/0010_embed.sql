-- 0010: where `etl-embed reindex` is, so a run that stopped (rate limit,
-- crash, ^C) continues where it was instead of starting over.
--
-- One row per tenant and source ('ALL' when the reindex covers every
-- source).  The reindex walks the entity tables in a fixed order and each
-- table by id; after every stored batch it records the table and the
-- last id done.  A rerun with the same provider, model, dimension and
-- store resumes after that id; anything else (or --restart) starts over.
-- finished_at set means the last run went through.

CREATE TABLE embed_reindex (
	tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	source_type text NOT NULL CHECK (source_type IN ('ALL', 'JIRA', 'GITHUB')),
	provider text NOT NULL,
	model text NOT NULL,
	-- NULL until the provider said (an OpenAI model's own dimension).
	dim integer CHECK (dim > 0),
	store text NOT NULL,
	-- The cursor: the table in progress and the last id done in it.
	table_name text NOT NULL,
	last_record_id bigint NOT NULL DEFAULT 0,
	embedded bigint NOT NULL DEFAULT 0,
	started_at timestamptz NOT NULL DEFAULT now(),
	last_updated_at timestamptz NOT NULL DEFAULT now(),
	finished_at timestamptz,
	PRIMARY KEY (tenant_id, source_type)
);

-- The vectors again as raw float32, little-endian: what `etl-embed search`
-- reads.  Sending a real[] costs the server a function call per element:
-- 100,000 vectors of 384 dimensions took 2.0 s to send in binary and more
-- as text, against 0.13 s for the same number of bytea values (measured,
-- bench/run bench_embed).  real[] stays the checked, psql-readable form;
-- rows written before this migration have NULL here and are read from it.
ALTER TABLE vectors ADD COLUMN embedding_f32 bytea
	CHECK (octet_length(embedding_f32) = 4 * dim);
-- A search scans the tenant's rows: keep them narrow.  The real[] goes out
-- of line, uncompressed (random floats do not compress), as soon as a row
-- passes 2 kB; the float32 copy stays in line up to a page (MAIN).  For
-- 384 dimensions that halves the heap a search reads (measured: 391 MB ->
-- 195 MB for 100,000 vectors, search 0.8 s -> 0.6 s).
ALTER TABLE vectors ALTER COLUMN embedding SET STORAGE EXTERNAL;
ALTER TABLE vectors ALTER COLUMN embedding_f32 SET STORAGE MAIN;
