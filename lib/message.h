/*
 * message.h - the NDJSON message contract of DESIGN.md "Messages".
 *
 * A message keeps the exact bytes of its line; reads go through an index of
 * the top-level members, and edits splice new bytes for one member, so every
 * field a stage does not know is forwarded byte-for-byte.
 */
#ifndef ETL_MESSAGE_H
#define ETL_MESSAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "json.h"
#include "token.h"

enum etl_stage { ETL_STAGE_ANY, ETL_STAGE_EXTRACTION, ETL_STAGE_TRANSFORM,
		 ETL_STAGE_EMBEDDING };

/* One step of a provider's job, in order; see DESIGN.md "Steps". */
struct etl_step {
	const char *type;          /* "jira_issues_with_changelogs" */
	const char *provider;      /* "jira" */
	int order;                 /* 1-based within the provider */
	const char *display_name;  /* "Issues & Changelogs" */
};

/* The step named @type (any case for the provider part), or NULL. */
const struct etl_step *etl_step_find(const char *type);
/* The @i-th (0-based) step of @provider, or NULL past the last. */
const struct etl_step *etl_step_of(const char *provider, int i);
/* The stage a queue name serves ("transform_queue_free"), or ETL_STAGE_ANY. */
enum etl_stage etl_stage_of_queue(const char *queue);
const char *etl_stage_name(enum etl_stage stage);

/* Largest message accepted by validation (queues refuse bigger bodies). */
#define ETL_MSG_MAX_DEFAULT (4u << 20)

struct etl_msg {
	struct etl_buf text;         /* the line, without its newline */
	struct etl_json_obj obj;     /* index into text.buf */
	/* Common fields, filled by etl_msg_validate(). */
	int64_t tenant_id, job_id;   /* job_id 0 when null (ad-hoc runs) */
	char token[ETL_TOKEN_LEN + 1];
	const struct etl_step *step;
	bool first_item, last_item, last_job_item;
};
#define ETL_MSG_INIT { ETL_BUF_INIT, ETL_JSON_OBJ_INIT, 0, 0, "", NULL, false, false, false }

/*
 * Take a copy of @len bytes as the message and index it.  0 ok; -1 when it
 * is not one JSON object, with the reason in @err.
 */
int etl_msg_parse(struct etl_msg *m, const char *line, size_t len,
		  char *err, size_t errlen);
/*
 * Check the contract for @stage (ETL_STAGE_ANY: the common fields only) and
 * @max_bytes (0: no limit).  0 ok; -1 with a reason naming the field in @err.
 */
int etl_msg_validate(struct etl_msg *m, enum etl_stage stage, size_t max_bytes,
		     char *err, size_t errlen);
void etl_msg_release(struct etl_msg *m);

/* Member access.  "absent" and null are told apart where it matters. */
bool etl_msg_has(const struct etl_msg *m, const char *key);
bool etl_msg_is_null(const struct etl_msg *m, const char *key);  /* absent or null */
/* 0 ok, 1 absent or null, -1 present with another type. */
int etl_msg_get_i64(const struct etl_msg *m, const char *key, int64_t *out);
int etl_msg_get_bool(const struct etl_msg *m, const char *key, bool *out);
/* A new decoded string (caller frees), or NULL if absent, null, not a
 * string or containing \u0000. */
char *etl_msg_get_str(const struct etl_msg *m, const char *key);
/* The value's bytes as written (borrowed until the next edit), or NULL. */
const char *etl_msg_get_raw(const struct etl_msg *m, const char *key, size_t *len);

/* Edits: set @key to the JSON text @raw (trusted to be valid JSON), in
 * place if present, else appended.  Other bytes are left as they were. */
void etl_msg_set_raw(struct etl_msg *m, const char *key, const char *raw, size_t len);
void etl_msg_set_i64(struct etl_msg *m, const char *key, int64_t v);
void etl_msg_set_bool(struct etl_msg *m, const char *key, bool v);
void etl_msg_set_str(struct etl_msg *m, const char *key, const char *s);
void etl_msg_set_null(struct etl_msg *m, const char *key);
void etl_msg_remove(struct etl_msg *m, const char *key);
/* Write the line and a newline to @fp.  0 ok, -1 on a write error. */
int etl_msg_write(const struct etl_msg *m, FILE *fp);

/*
 * NDJSON input of lines of any length.  etl_reader_next() returns the next
 * line without its newline (borrowed until the next call), its length in
 * *len, or NULL at EOF or error (check r->error).  Blank lines are skipped
 * but counted, so r->lineno names the line as an editor would.
 */
struct etl_reader {
	FILE *fp;
	char *line;
	size_t cap;
	long lineno;
	int error;     /* errno of a read error, else 0 */
};
#define ETL_READER_INIT(fp) { (fp), NULL, 0, 0, 0 }
const char *etl_reader_next(struct etl_reader *r, size_t *len);
void etl_reader_release(struct etl_reader *r);

#endif
