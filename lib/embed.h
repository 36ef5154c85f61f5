/*
 * embed.h - the embedding stage (etl-embed) and semantic search.
 *
 * For each embedding message (DESIGN.md "Messages"; seed "Embedding
 * Worker Rules") the stage loads the entity from its final table by
 * table_name and external_id, builds its text (key or number, title,
 * type, status, project or repository, labels, plain-text description or
 * body; at most ETL_EMBED_MAX_TEXT bytes), hashes it (SHA-256), and when
 * the bridge row (qdrant_vectors) already holds that hash for the same
 * provider, model, dimension and store, stops there ("unchanged": no call
 * to the provider).  Otherwise it embeds the text, stores the vector and
 * upserts the bridge row (vstore.h).  Then status: "running" on
 * first_item, "finished" on last_item, and on last_job_item the job is
 * completed (status.h etl_status_complete: token-guarded and only from
 * RUNNING, so of two workers given the same message exactly one
 * completes it).  A completion message (external_id null) only does the
 * status part.
 *
 * One result line per message goes to the next stage (stdout or
 * --to-queue): the common fields and {"table", "external_id", "status":
 * "embedded" | "unchanged" | "deleted" | "missing" | "unsupported" |
 * "completion"}, with "job_completed" on last_job_item.  An entity no
 * longer in its table (or soft-deleted) loses its vectors and bridge rows
 * ("deleted"; "missing" when there were none).
 *
 * Tables and sources: work_items, projects, wits, statuses (JIRA);
 * prs, repositories (GITHUB).
 */
#ifndef ETL_EMBED_H
#define ETL_EMBED_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "embedder.h"
#include "stage.h"
#include "vstore.h"

/* Longest text embedded, in bytes (cut at a character boundary): below
 * every OpenAI model's 8192-token input limit. */
#define ETL_EMBED_MAX_TEXT 8192

struct etl_embed_opts {
	const char *dsn;                 /* NULL: ETL_DATABASE_URL */
	struct etl_embedder_opts embedder;
	struct etl_vstore_opts store;
	struct etl_stage_opts stage;
	int batch;                       /* reindex rows per batch; 0: 256 */
};
#define ETL_EMBED_OPTS_INIT { NULL, ETL_EMBEDDER_OPTS_INIT, ETL_VSTORE_OPTS_INIT, \
			      ETL_STAGE_OPTS_INIT, 0 }

/* The stage: run the embedding messages of o->stage until the input ends.
 * Returns the exit status. */
int etl_embed_run(const struct etl_embed_opts *o);

/*
 * Search tenant @tenant's vectors (of @source, "JIRA" or "GITHUB"; NULL:
 * all) for @text; print the best @limit hits on @out, as NDJSON
 * {"score", "table", "external_id", "title"} or, with @table, as an
 * aligned table.  Returns the exit status (ETL_OK even with no hits).
 */
int etl_embed_search(const struct etl_embed_opts *o, const char *text, int64_t tenant,
		     const char *source, int limit, bool table, FILE *out);

/*
 * Re-embed every entity of @tenant (of @source; NULL: all), whatever the
 * bridge says: after a change of provider, model or dimension.  Progress
 * is saved after each batch (table embed_reindex), so a run that stopped
 * (rate limit, crash, ^C) continues where it was when rerun with the same
 * provider, model, dimension and store; @restart starts over.  Prints one
 * summary line (JSON) on @out.  Returns the exit status.
 */
int etl_embed_reindex(const struct etl_embed_opts *o, int64_t tenant, const char *source,
		      bool restart, FILE *out);

/* "JIRA" or "GITHUB" for @s in any case, else NULL. */
const char *etl_embed_source_name(const char *s);

#endif
