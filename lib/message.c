#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "message.h"
#include "util.h"

static const struct etl_step steps[] = {
	{ "jira_projects_and_issue_types", "jira", 1, "Projects & Types" },
	{ "jira_statuses_and_relationships", "jira", 2, "Statuses & Relations" },
	{ "jira_issues_with_changelogs", "jira", 3, "Issues & Changelogs" },
	{ "jira_dev_status", "jira", 4, "Development Status" },
	{ "github_repositories", "github", 1, "Repositories" },
	/* A PR's commits, reviews and comments beyond the first page travel
	 * with their PR page (lib/github/extract.h): no nested step. */
	{ "github_prs_commits_reviews_comments", "github", 2, "PRs, Commits & Reviews" },
};

const struct etl_step *etl_step_find(const char *type)
{
	for (size_t i = 0; i < ETL_ARRAY_SIZE(steps); i++)
		if (!strcmp(steps[i].type, type))
			return &steps[i];
	return NULL;
}

const struct etl_step *etl_step_of(const char *provider, int i)
{
	int seen = 0;

	for (size_t k = 0; k < ETL_ARRAY_SIZE(steps); k++) {
		if (strcasecmp(steps[k].provider, provider))
			continue;
		if (seen++ == i)
			return &steps[k];
	}
	return NULL;
}

enum etl_stage etl_stage_of_queue(const char *queue)
{
	if (!strncmp(queue, "extraction_queue_", 17))
		return ETL_STAGE_EXTRACTION;
	if (!strncmp(queue, "transform_queue_", 16))
		return ETL_STAGE_TRANSFORM;
	if (!strncmp(queue, "embedding_queue_", 16))
		return ETL_STAGE_EMBEDDING;
	return ETL_STAGE_ANY;
}

const char *etl_stage_name(enum etl_stage stage)
{
	static const char *const names[] = { "any", "extraction", "transform", "embedding" };

	return names[stage];
}

int etl_msg_parse(struct etl_msg *m, const char *line, size_t len,
		  char *err, size_t errlen)
{
	etl_buf_reset(&m->text);
	etl_buf_add(&m->text, line, len);
	m->step = NULL;
	return etl_json_index(&m->obj, m->text.buf, m->text.len, err, errlen);
}

void etl_msg_release(struct etl_msg *m)
{
	etl_buf_release(&m->text);
	etl_json_obj_release(&m->obj);
}

static const struct etl_json_member *find(const struct etl_msg *m, const char *key)
{
	return etl_json_find(&m->obj, m->text.buf, key);
}

bool etl_msg_has(const struct etl_msg *m, const char *key)
{
	return find(m, key) != NULL;
}

bool etl_msg_is_null(const struct etl_msg *m, const char *key)
{
	const struct etl_json_member *mb = find(m, key);

	return !mb || mb->kind == ETL_JSON_NULL;
}

int etl_msg_get_i64(const struct etl_msg *m, const char *key, int64_t *out)
{
	const struct etl_json_member *mb = find(m, key);

	if (!mb || mb->kind == ETL_JSON_NULL)
		return 1;
	if (mb->kind != ETL_JSON_NUMBER)
		return -1;
	return etl_json_int(m->text.buf + mb->val_off, mb->val_len, out);
}

int etl_msg_get_bool(const struct etl_msg *m, const char *key, bool *out)
{
	const struct etl_json_member *mb = find(m, key);

	if (!mb || mb->kind == ETL_JSON_NULL)
		return 1;
	if (mb->kind != ETL_JSON_TRUE && mb->kind != ETL_JSON_FALSE)
		return -1;
	*out = mb->kind == ETL_JSON_TRUE;
	return 0;
}

char *etl_msg_get_str(const struct etl_msg *m, const char *key)
{
	const struct etl_json_member *mb = find(m, key);

	if (!mb || mb->kind != ETL_JSON_STRING)
		return NULL;
	return etl_json_unquote(m->text.buf + mb->val_off, mb->val_len, false, NULL);
}

const char *etl_msg_get_raw(const struct etl_msg *m, const char *key, size_t *len)
{
	const struct etl_json_member *mb = find(m, key);

	if (!mb)
		return NULL;
	*len = mb->val_len;
	return m->text.buf + mb->val_off;
}

static void reindex(struct etl_msg *m)
{
	char err[128];

	if (etl_json_index(&m->obj, m->text.buf, m->text.len, err, sizeof(err)) < 0)
		etl_die(ETL_SOFTWARE, "message edit produced invalid JSON: %s", err);
}

void etl_msg_set_raw(struct etl_msg *m, const char *key, const char *raw, size_t len)
{
	const struct etl_json_member *mb = find(m, key);
	struct etl_buf out = ETL_BUF_INIT;

	if (mb) {
		etl_buf_add(&out, m->text.buf, mb->val_off);
		etl_buf_add(&out, raw, len);
		etl_buf_add(&out, m->text.buf + mb->val_off + mb->val_len,
			    m->text.len - mb->val_off - mb->val_len);
	} else {
		/* Append before the closing brace, keeping all else as it was. */
		size_t end = m->text.len;

		while (end > 0 && m->text.buf[end - 1] != '}')
			end--;
		end--;
		etl_buf_add(&out, m->text.buf, end);
		if (m->obj.n)
			etl_buf_addch(&out, ',');
		etl_buf_add_json_str(&out, key, strlen(key));
		etl_buf_addch(&out, ':');
		etl_buf_add(&out, raw, len);
		etl_buf_add(&out, m->text.buf + end, m->text.len - end);
	}
	etl_buf_release(&m->text);
	m->text = out;
	reindex(m);
}

void etl_msg_set_i64(struct etl_msg *m, const char *key, int64_t v)
{
	char num[32];
	int n = snprintf(num, sizeof(num), "%lld", (long long)v);

	etl_msg_set_raw(m, key, num, (size_t)n);
}

void etl_msg_set_bool(struct etl_msg *m, const char *key, bool v)
{
	etl_msg_set_raw(m, key, v ? "true" : "false", v ? 4 : 5);
}

void etl_msg_set_null(struct etl_msg *m, const char *key)
{
	etl_msg_set_raw(m, key, "null", 4);
}

void etl_msg_set_str(struct etl_msg *m, const char *key, const char *s)
{
	struct etl_buf lit = ETL_BUF_INIT;

	etl_buf_add_json_str(&lit, s, strlen(s));
	etl_msg_set_raw(m, key, lit.buf, lit.len);
	etl_buf_release(&lit);
}

void etl_msg_remove(struct etl_msg *m, const char *key)
{
	const struct etl_json_member *mb;

	while ((mb = find(m, key)) != NULL) {
		size_t idx = (size_t)(mb - m->obj.m);
		size_t from, to;

		/* Drop the member and one neighbouring comma. */
		if (idx + 1 < m->obj.n) {
			from = mb->key_off - 1;
			to = m->obj.m[idx + 1].key_off - 1;
		} else if (idx > 0) {
			const struct etl_json_member *prev = &m->obj.m[idx - 1];

			from = prev->val_off + prev->val_len;
			to = mb->val_off + mb->val_len;
		} else {
			from = mb->key_off - 1;
			to = mb->val_off + mb->val_len;
		}
		memmove(m->text.buf + from, m->text.buf + to, m->text.len - to + 1);
		m->text.len -= to - from;
		reindex(m);
	}
}

int etl_msg_write(const struct etl_msg *m, FILE *fp)
{
	if (fwrite(m->text.buf, 1, m->text.len, fp) != m->text.len || putc('\n', fp) == EOF)
		return -1;
	return 0;
}

static int bad(char *err, size_t errlen, const char *fmt, ...) ETL_PRINTF(3, 4);
static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int need_id(const struct etl_msg *m, const char *key, bool nullable,
		   int64_t *out, char *err, size_t errlen)
{
	int rc;

	*out = 0;
	if (!etl_msg_has(m, key))
		return bad(err, errlen, "missing field '%s'", key);
	rc = etl_msg_get_i64(m, key, out);
	if (rc == 1 && nullable)
		return 0;
	if (rc != 0 || *out < 1)
		return bad(err, errlen, "field '%s' must be a positive integer", key);
	return 0;
}

static int need_flag(const struct etl_msg *m, const char *key, bool *out,
		     char *err, size_t errlen)
{
	if (etl_msg_get_bool(m, key, out) != 0)
		return bad(err, errlen, etl_msg_has(m, key) ?
			   "field '%s' must be true or false" : "missing field '%s'", key);
	return 0;
}

static int check_type(struct etl_msg *m, enum etl_stage stage, char *err, size_t errlen)
{
	char *type = etl_msg_get_str(m, "type"), *prov;
	bool need_provider = stage == ETL_STAGE_EXTRACTION || stage == ETL_STAGE_TRANSFORM;

	if (!type)
		return bad(err, errlen, etl_msg_has(m, "type") ?
			   "field '%s' must be a string" : "missing field '%s'", "type");
	m->step = etl_step_find(type);
	if (!m->step) {
		snprintf(err, errlen, "unknown message type '%.64s%s'", type,
			 strlen(type) > 64 ? "..." : "");
		free(type);
		return -1;
	}
	free(type);
	prov = etl_msg_get_str(m, "provider");
	if (!prov && (need_provider || etl_msg_has(m, "provider")))
		return bad(err, errlen, etl_msg_has(m, "provider") ?
			   "field '%s' must be a string" : "missing field '%s'", "provider");
	if (prov && strcasecmp(prov, m->step->provider)) {
		snprintf(err, errlen, "provider '%.32s' does not match type '%s'",
			 prov, m->step->type);
		free(prov);
		return -1;
	}
	free(prov);
	return 0;
}

int etl_msg_validate(struct etl_msg *m, enum etl_stage stage, size_t max_bytes,
		     char *err, size_t errlen)
{
	int64_t id;
	size_t len;
	const char *tok;

	if (max_bytes && m->text.len > max_bytes) {
		snprintf(err, errlen, "message of %zu bytes exceeds the limit of %zu",
			 m->text.len, max_bytes);
		return -1;
	}
	if (need_id(m, "tenant_id", false, &m->tenant_id, err, errlen) < 0 ||
	    need_id(m, "job_id", true, &m->job_id, err, errlen) < 0)
		return -1;
	tok = etl_msg_get_raw(m, "token", &len);
	if (!tok)
		return bad(err, errlen, "missing field '%s'", "token");
	if (len < 2 || tok[0] != '"' || !etl_token_valid(tok + 1, len - 2))
		return bad(err, errlen, "field '%s' must be a UUID string", "token");
	memcpy(m->token, tok + 1, ETL_TOKEN_LEN);
	m->token[ETL_TOKEN_LEN] = '\0';
	if (check_type(m, stage, err, errlen) < 0 ||
	    need_flag(m, "first_item", &m->first_item, err, errlen) < 0 ||
	    need_flag(m, "last_item", &m->last_item, err, errlen) < 0 ||
	    need_flag(m, "last_job_item", &m->last_job_item, err, errlen) < 0)
		return -1;

	switch (stage) {
	case ETL_STAGE_EXTRACTION:
		if (need_id(m, "integration_id", false, &id, err, errlen) < 0)
			return -1;
		if (etl_msg_has(m, "last_sync_date") && !etl_msg_is_null(m, "last_sync_date") &&
		    find(m, "last_sync_date")->kind != ETL_JSON_STRING)
			return bad(err, errlen, "field '%s' must be a string or null",
				   "last_sync_date");
		break;
	case ETL_STAGE_TRANSFORM:
		if (need_id(m, "integration_id", false, &id, err, errlen) < 0)
			return -1;
		if (etl_msg_has(m, "raw") && etl_msg_is_null(m, "raw_data_id"))
			break;
		if (need_id(m, "raw_data_id", true, &id, err, errlen) < 0)
			return -1;
		break;
	case ETL_STAGE_EMBEDDING: {
		const struct etl_json_member *ext = find(m, "external_id");

		if (!ext)
			return bad(err, errlen, "missing field '%s'", "external_id");
		if (ext->kind == ETL_JSON_NULL)
			break;
		if (ext->kind != ETL_JSON_STRING && ext->kind != ETL_JSON_NUMBER)
			return bad(err, errlen, "field '%s' must be a string, number or null",
				   "external_id");
		if (!find(m, "table_name") || find(m, "table_name")->kind != ETL_JSON_STRING)
			return bad(err, errlen, "field '%s' must be a string", "table_name");
		break;
	}
	case ETL_STAGE_ANY:
		break;
	}
	return 0;
}

const char *etl_reader_next(struct etl_reader *r, size_t *len)
{
	ssize_t n;

	for (;;) {
		errno = 0;
		n = getline(&r->line, &r->cap, r->fp);
		if (n < 0) {
			r->error = ferror(r->fp) ? (errno ? errno : EIO) : 0;
			return NULL;
		}
		r->lineno++;
		while (n > 0 && (r->line[n - 1] == '\n' || r->line[n - 1] == '\r'))
			n--;
		r->line[n] = '\0';
		if (n == 0 || strspn(r->line, " \t") == (size_t)n)
			continue;
		*len = (size_t)n;
		return r->line;
	}
}

void etl_reader_release(struct etl_reader *r)
{
	free(r->line);
	r->line = NULL;
	r->cap = 0;
}
