/*
 * Jira values: the status -> workflow step map, the custom field slots of
 * custom_fields_mapping, and how a JSON value becomes a column.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "exit.h"
#include "jira/adf.h"
#include "jira/tx.h"
#include "util.h"

/*
 * What a page needs to know, in one round trip: every status of the
 * integration with its effective step (kind s), which of the page's
 * projects (p, $3) and types (w, $4) exist already, and the custom field
 * slots (f).
 */
static const char sql_catalog[] =
	"SELECT 's' AS kind, external_id, name, category, workflow_step AS step, "
	"NULL::int AS slot FROM status_workflow_steps "
	"WHERE tenant_id = $1 AND integration_id = $2 "
	"UNION ALL SELECT 'p', external_id, NULL, NULL, NULL, NULL FROM projects "
	"WHERE tenant_id = $1 AND integration_id = $2 AND external_id = ANY ($3::text[]) "
	"UNION ALL SELECT 'w', external_id, NULL, NULL, NULL, NULL FROM wits "
	"WHERE tenant_id = $1 AND integration_id = $2 AND external_id = ANY ($4::text[]) "
	"UNION ALL SELECT 'f', cf.external_id, NULL, NULL, NULL, s.slot "
	"FROM custom_fields_mapping m "
	"CROSS JOIN LATERAL (VALUES (20, m.team_field_id), (21, m.code_changed_field_id), "
	"(22, m.story_points_field_id), (0, m.custom_field_01_id), "
	"(1, m.custom_field_02_id), (2, m.custom_field_03_id), (3, m.custom_field_04_id), "
	"(4, m.custom_field_05_id), (5, m.custom_field_06_id), (6, m.custom_field_07_id), "
	"(7, m.custom_field_08_id), (8, m.custom_field_09_id), (9, m.custom_field_10_id), "
	"(10, m.custom_field_11_id), (11, m.custom_field_12_id), "
	"(12, m.custom_field_13_id), (13, m.custom_field_14_id), "
	"(14, m.custom_field_15_id), (15, m.custom_field_16_id), "
	"(16, m.custom_field_17_id), (17, m.custom_field_18_id), "
	"(18, m.custom_field_19_id), (19, m.custom_field_20_id)) AS s (slot, field_id) "
	"JOIN custom_fields cf ON cf.tenant_id = m.tenant_id AND cf.id = s.field_id "
	"WHERE m.tenant_id = $1 AND m.integration_id = $2 AND m.active";

/* --- status map */

static int cmp_status(const void *a, const void *b)
{
	return strcmp(((const struct jira_status *)a)->id, ((const struct jira_status *)b)->id);
}

static struct jira_status *find(struct jira_status_map *m, const char *id, size_t idlen)
{
	size_t lo = 0, hi;

	if (!m->sorted) {
		if (m->n)
			qsort(m->v, m->n, sizeof(*m->v), cmp_status);
		m->sorted = true;
	}
	hi = m->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strncmp(m->v[mid].id, id, idlen);

		if (c == 0 && m->v[mid].id[idlen])
			c = 1;
		if (c == 0)
			return &m->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *jira_category(const char *key)
{
	static const char *const known[] = { "new", "indeterminate", "done" };

	for (size_t i = 0; key && i < ETL_ARRAY_SIZE(known); i++)
		if (!strcmp(key, known[i]))
			return known[i];
	return "undefined";
}

void jira_smap_put(struct jira_status_map *m, const char *id, size_t idlen,
		   const char *name, const char *category, enum etl_wf_step step)
{
	struct jira_status *s = find(m, id, idlen);

	if (step == ETL_WF_UNKNOWN)
		step = etl_wf_step_default(category, name);
	if (s) {
		free(s->name);
		free(s->category);
	} else {
		if (m->n == m->alloc) {
			m->alloc = m->alloc ? 2 * m->alloc : 32;
			m->v = xrealloc(m->v, m->alloc * sizeof(*m->v));
		}
		s = &m->v[m->n++];
		s->id = xstrndup(id, idlen);
		m->sorted = false;
	}
	s->name = xstrdup(name ? name : "");
	s->category = xstrdup(category ? category : "undefined");
	s->step = step;
}

const struct jira_status *jira_smap_get(struct jira_status_map *m, const char *id,
					size_t idlen)
{
	return id ? find(m, id, idlen) : NULL;
}

void jira_smap_clear(struct jira_status_map *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].id);
		free(m->v[i].name);
		free(m->v[i].category);
	}
	free(m->v);
	memset(m, 0, sizeof(*m));
}

/* --- slots */

static int cmp_slot(const void *a, const void *b)
{
	const struct { char *field; int slot; } *x = a, *y = b;
	int c = strcmp(x->field, y->field);

	return c ? c : x->slot - y->slot;
}

int jira_catalog_load(struct etl_tx *tx, const struct etl_buf *projects,
		      const struct etl_buf *types, struct jira_catalog *c, int *why)
{
	char tenant[24], integ[24];
	const char *vals[4] = { tenant, integ, projects->buf ? projects->buf : "{}",
		types->buf ? types->buf : "{}" };
	struct etl_db_res *r;
	size_t nf = 0;
	int n;

	if (!etl_tx_db(tx))
		return 0;
	snprintf(tenant, sizeof(tenant), "%lld", (long long)etl_tx_tenant(tx));
	snprintf(integ, sizeof(integ), "%lld", (long long)etl_tx_integration(tx));
	r = etl_db_exec(etl_tx_db(tx), sql_catalog, vals, 4, why);
	if (!r)
		return -1;
	n = etl_db_nrows(r);
	c->slots.v = xcalloc(n ? (size_t)n : 1, sizeof(*c->slots.v));
	for (int i = 0; i < n; i++) {
		const char *kind = etl_db_value(r, i, "kind");
		const char *id = etl_db_value(r, i, "external_id");
		const char *step = etl_db_value(r, i, "step");
		int64_t slot = 0;

		switch (*kind) {
		case 's':
			jira_smap_put(&c->steps, id, strlen(id), etl_db_value(r, i, "name"),
				      etl_db_value(r, i, "category"),
				      step ? etl_wf_step_parse(step) : ETL_WF_UNKNOWN);
			break;
		case 'p':
		case 'w':
			jira_smap_put(*kind == 'p' ? &c->projects : &c->types, id, strlen(id),
				      NULL, NULL, ETL_WF_BACKLOG);
			break;
		case 'f':
			etl_db_int64(r, i, "slot", &slot);
			c->slots.v[nf].field = xstrdup(id);
			c->slots.v[nf++].slot = (int)slot;
			break;
		}
	}
	etl_db_clear(r);
	c->slots.n = nf;
	if (nf)
		qsort(c->slots.v, nf, sizeof(*c->slots.v), cmp_slot);
	return 0;
}

void jira_catalog_clear(struct jira_catalog *c)
{
	jira_smap_clear(&c->steps);
	jira_smap_clear(&c->projects);
	jira_smap_clear(&c->types);
	jira_slots_clear(&c->slots);
}

int jira_slots_of(const struct jira_slot_map *map, const char *field, size_t len,
		  int *slots)
{
	size_t lo = 0, hi = map->n;
	int n = 0;

	while (lo < hi) {   /* the first entry >= field */
		size_t mid = (lo + hi) / 2;
		int c = strncmp(map->v[mid].field, field, len);

		if (c == 0 && map->v[mid].field[len])
			c = 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < map->n && n < JIRA_NSLOTS; lo++) {
		if (strncmp(map->v[lo].field, field, len) || map->v[lo].field[len])
			break;
		slots[n++] = map->v[lo].slot;
	}
	return n;
}

void jira_slots_clear(struct jira_slot_map *map)
{
	for (size_t i = 0; i < map->n; i++)
		free(map->v[i].field);
	free(map->v);
	map->v = NULL;
	map->n = 0;
}

/* --- values */

const char *jira_str(const struct etl_jdoc *d, uint32_t node, struct etl_buf *scratch,
		     size_t *len)
{
	switch (etl_jdoc_kind(d, node)) {
	case ETL_JSON_STRING:
		return etl_jdoc_str(d, node, scratch, len);
	case ETL_JSON_NUMBER:
	case ETL_JSON_TRUE:
	case ETL_JSON_FALSE:
		return node ? etl_jdoc_raw(d, node, len) : NULL;
	default:
		return NULL;
	}
}

void jira_set_str(struct etl_tx *tx, int col, const struct etl_jdoc *d, uint32_t node,
		  struct etl_buf *scratch)
{
	size_t len;
	const char *s = jira_str(d, node, scratch, &len);

	etl_tx_set(tx, col, s, s ? len : 0);
}

/* Bytes of the first @max characters of @s. */
static size_t utf8_prefix(const char *s, size_t len, size_t max)
{
	size_t i = 0, chars = 0;

	while (i < len && chars < max) {
		i++;
		while (i < len && ((unsigned char)s[i] & 0xc0) == 0x80)
			i++;
		chars++;
	}
	return i;
}

void jira_set_str_max(struct etl_tx *tx, int col, const struct etl_jdoc *d, uint32_t node,
		      size_t max, const char *def, struct etl_buf *scratch)
{
	size_t len = 0;
	const char *s = jira_str(d, node, scratch, &len);

	if (!s || !len) {
		etl_tx_set_str(tx, col, def);
		return;
	}
	etl_tx_set(tx, col, s, utf8_prefix(s, len, max));
}

int jira_time(const struct etl_jdoc *d, uint32_t node, int64_t *ms)
{
	return etl_tx_jdoc_time(d, node, ms);
}

void jira_set_json(struct etl_tx *tx, int col, const struct etl_jdoc *d, uint32_t node)
{
	size_t len;
	const char *raw;

	if (etl_jdoc_kind(d, node) == ETL_JSON_NULL) {
		etl_tx_set(tx, col, NULL, 0);
		return;
	}
	raw = etl_jdoc_raw(d, node, &len);
	etl_tx_set_json(tx, col, raw, len);
}

/*
 * The text of a custom field value: strings as they are, options by
 * value (cascading: "parent / child"), users by display name, teams and
 * sprints by name, ADF by its plain text, arrays joined with ", ", and
 * anything else as its JSON.
 */
static void value_text(const struct etl_jdoc *d, uint32_t node, struct etl_buf *out,
		       struct etl_buf *scratch, bool *as_json)
{
	static const char *const names[] = { "value", "displayName", "name", "title",
		"key", NULL };
	size_t len;
	const char *s;

	switch (etl_jdoc_kind(d, node)) {
	case ETL_JSON_STRING:
		s = etl_jdoc_str(d, node, scratch, &len);
		etl_buf_add(out, s, len);
		return;
	case ETL_JSON_NUMBER:
	case ETL_JSON_TRUE:
	case ETL_JSON_FALSE:
		s = etl_jdoc_raw(d, node, &len);
		etl_buf_add(out, s, len);
		return;
	case ETL_JSON_ARRAY: {
		bool first = true;

		for (uint32_t e = etl_jdoc_first(d, node); e; e = etl_jdoc_next(d, e)) {
			if (etl_jdoc_kind(d, e) == ETL_JSON_NULL)
				continue;
			if (!first)
				etl_buf_adds(out, ", ");
			value_text(d, e, out, scratch, as_json);
			first = false;
		}
		return;
	}
	case ETL_JSON_OBJECT:
		if (etl_jdoc_str_eq(d, etl_jdoc_get(d, node, "type"), "doc")) {
			etl_adf_to_text(d, node, out);
			return;
		}
		for (const char *const *n = names; *n; n++) {
			uint32_t v = etl_jdoc_get(d, node, *n);

			if (etl_jdoc_kind(d, v) == ETL_JSON_STRING) {
				s = etl_jdoc_str(d, v, scratch, &len);
				etl_buf_add(out, s, len);
				v = etl_jdoc_get(d, node, "child");
				if (etl_jdoc_kind(d, v) == ETL_JSON_OBJECT) {
					etl_buf_adds(out, " / ");
					value_text(d, v, out, scratch, as_json);
				}
				return;
			}
		}
		*as_json = true;
		return;
	default:
		return;
	}
}

static int truthy(const struct etl_jdoc *d, uint32_t node, struct etl_buf *scratch)
{
	static const char *const yes[] = { "yes", "true", "1", "y", "on", NULL };
	static const char *const no[] = { "no", "false", "0", "n", "off", NULL };
	size_t len;
	const char *s;
	double num;

	switch (etl_jdoc_kind(d, node)) {
	case ETL_JSON_TRUE:
		return 1;
	case ETL_JSON_FALSE:
		return 0;
	case ETL_JSON_NUMBER:
		return etl_jdoc_num(d, node, &num) == 0 ? num != 0 : -1;
	case ETL_JSON_STRING:
		s = etl_jdoc_str(d, node, scratch, &len);
		for (int i = 0; yes[i]; i++)
			if (len == strlen(yes[i]) && !strncasecmp(s, yes[i], len))
				return 1;
		for (int i = 0; no[i]; i++)
			if (len == strlen(no[i]) && !strncasecmp(s, no[i], len))
				return 0;
		return -1;
	case ETL_JSON_OBJECT:
		return truthy(d, etl_jdoc_get(d, node, "value"), scratch);
	case ETL_JSON_ARRAY: {
		int any = 0;

		for (uint32_t e = etl_jdoc_first(d, node); e; e = etl_jdoc_next(d, e))
			if (truthy(d, e, scratch) == 1)
				any = 1;
		return any;
	}
	default:
		return -1;
	}
}

void jira_slot_set(struct etl_tx *tx, int slot, const struct etl_jdoc *d,
		   uint32_t node, struct etl_buf *scratch)
{
	struct etl_buf text = ETL_BUF_INIT;
	bool as_json = false;
	size_t len;
	const char *s;
	double num;
	int b;

	if (etl_jdoc_kind(d, node) == ETL_JSON_NULL)
		return;
	switch (slot) {
	case JIRA_SLOT_STORY_POINTS:
		if (etl_jdoc_kind(d, node) == ETL_JSON_NUMBER) {
			s = etl_jdoc_raw(d, node, &len);
			etl_tx_set(tx, WI_story_points, s, len);
		} else if ((s = jira_str(d, node, scratch, &len)) && len < 64) {
			char tmp[64], *end;

			memcpy(tmp, s, len);
			tmp[len] = '\0';
			num = strtod(tmp, &end);
			if (end != tmp && !*end && num == num)
				etl_tx_set(tx, WI_story_points, tmp, len);
		}
		return;
	case JIRA_SLOT_CODE_CHANGED:
		b = truthy(d, node, scratch);
		if (b >= 0)
			etl_tx_set_bool(tx, WI_code_changed, b == 1);
		return;
	case JIRA_SLOT_TEAM:
		value_text(d, node, &text, scratch, &as_json);
		if (as_json) {
			s = etl_jdoc_raw(d, node, &len);
			etl_buf_reset(&text);
			etl_tx_json_clean(&text, s, len);
		}
		etl_tx_set(tx, WI_team, text.buf, text.len);
		break;
	default:
		if (slot < JIRA_SLOT_CF01 || slot > JIRA_SLOT_CF01 + 19)
			return;
		value_text(d, node, &text, scratch, &as_json);
		if (as_json) {
			s = etl_jdoc_raw(d, node, &len);
			etl_buf_reset(&text);
			etl_tx_json_clean(&text, s, len);
		}
		etl_tx_set(tx, WI_custom_field_01 + (slot - JIRA_SLOT_CF01),
			   text.buf ? text.buf : "", text.len);
	}
	etl_buf_release(&text);
}
