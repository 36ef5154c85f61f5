-- 0013: finishing a step when several transform workers share its pages.
--
-- A step's last message can reach one worker while another still holds
-- earlier pages of the same step; reading the step's entities then would
-- miss theirs.  The last message leaves its text here instead, and
-- whichever worker commits the step's last pending raw row claims it and
-- emits the step's embedding messages (lib/transform.c, finish_when_done).
-- claimed_at lets another worker take over a claim whose worker died.
CREATE TABLE etl_transform_finish (
	tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	token uuid NOT NULL,
	step text NOT NULL,
	message text NOT NULL,
	claimed_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, token, step)
);
-- The claim asks whether a step has pending raw rows left.
CREATE INDEX raw_extraction_data_pending_step_idx
	ON raw_extraction_data (tenant_id, token, type) WHERE status = 'pending';
