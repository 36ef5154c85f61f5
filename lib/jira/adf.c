#include <string.h>

#include "jira/adf.h"

struct walk {
	const struct etl_jdoc *d;
	struct etl_buf *out;
	struct etl_buf scratch;
	bool fresh;   /* just after "- " or a cell start: no newline wanted */
};

static void add_str(struct walk *w, uint32_t node)
{
	size_t len;
	const char *s = etl_jdoc_str(w->d, node, &w->scratch, &len);

	if (s && len) {
		etl_buf_add(w->out, s, len);
		w->fresh = false;
	}
}

static void newline(struct walk *w)
{
	if (w->fresh)
		return;
	if (w->out->len && w->out->buf[w->out->len - 1] != '\n')
		etl_buf_addch(w->out, '\n');
}

static bool type_is(struct walk *w, uint32_t type, const char *const *names)
{
	for (; *names; names++)
		if (etl_jdoc_str_eq(w->d, type, *names))
			return true;
	return false;
}

static void walk_node(struct walk *w, uint32_t node);

static void walk_children(struct walk *w, uint32_t node, const char *sep)
{
	uint32_t content = etl_jdoc_get(w->d, node, "content");
	bool first = true;

	for (uint32_t c = etl_jdoc_first(w->d, content); c; c = etl_jdoc_next(w->d, c)) {
		if (sep && !first)
			etl_buf_adds(w->out, sep);
		walk_node(w, c);
		first = false;
	}
}

static void walk_node(struct walk *w, uint32_t node)
{
	static const char *const blocks[] = { "paragraph", "heading", "codeBlock",
		"blockquote", "panel", "tableRow", "mediaSingle", "expand",
		"nestedExpand", "decisionItem", "taskItem", NULL };
	static const char *const by_text_attr[] = { "mention", "emoji", "status", NULL };
	const struct etl_jdoc *d = w->d;
	uint32_t type = etl_jdoc_get(d, node, "type");
	uint32_t attrs = etl_jdoc_get(d, node, "attrs");

	if (etl_jdoc_kind(d, node) != ETL_JSON_OBJECT)
		return;
	if (etl_jdoc_str_eq(d, type, "text")) {
		add_str(w, etl_jdoc_get(d, node, "text"));
	} else if (etl_jdoc_str_eq(d, type, "hardBreak")) {
		etl_buf_addch(w->out, '\n');
		w->fresh = false;
	} else if (etl_jdoc_str_eq(d, type, "rule")) {
		newline(w);
		etl_buf_adds(w->out, "---\n");
	} else if (type_is(w, type, by_text_attr)) {
		uint32_t t = etl_jdoc_get(d, attrs, "text");

		add_str(w, t ? t : etl_jdoc_get(d, attrs, "shortName"));
	} else if (etl_jdoc_str_eq(d, type, "inlineCard") ||
		   etl_jdoc_str_eq(d, type, "blockCard") ||
		   etl_jdoc_str_eq(d, type, "embedCard")) {
		add_str(w, etl_jdoc_get(d, attrs, "url"));
	} else if (etl_jdoc_str_eq(d, type, "date")) {
		add_str(w, etl_jdoc_get(d, attrs, "timestamp"));
	} else if (etl_jdoc_str_eq(d, type, "listItem")) {
		newline(w);
		etl_buf_adds(w->out, "- ");
		w->fresh = true;
		walk_children(w, node, NULL);
		w->fresh = false;
		newline(w);
	} else if (etl_jdoc_str_eq(d, type, "tableCell") ||
		   etl_jdoc_str_eq(d, type, "tableHeader")) {
		size_t start = w->out->len;

		w->fresh = true;
		walk_children(w, node, NULL);
		w->fresh = false;
		/* A cell's paragraphs would break the row apart. */
		for (size_t i = start; i < w->out->len; i++)
			if (w->out->buf[i] == '\n')
				w->out->buf[i] = ' ';
		while (w->out->len > start && w->out->buf[w->out->len - 1] == ' ')
			w->out->buf[--w->out->len] = '\0';
	} else if (etl_jdoc_str_eq(d, type, "tableRow")) {
		newline(w);
		walk_children(w, node, " | ");
		newline(w);
	} else if (type_is(w, type, blocks)) {
		uint32_t title = etl_jdoc_get(d, attrs, "title");

		newline(w);
		if (title) {
			add_str(w, title);
			etl_buf_addch(w->out, '\n');
		}
		walk_children(w, node, NULL);
		newline(w);
	} else {
		walk_children(w, node, NULL);
	}
}

void etl_adf_to_text(const struct etl_jdoc *d, uint32_t node, struct etl_buf *out)
{
	struct walk w = { d, out, ETL_BUF_INIT, false };
	size_t start = out->len;

	if (etl_jdoc_kind(d, node) == ETL_JSON_STRING)
		add_str(&w, node);
	else
		walk_node(&w, node);
	while (out->len > start && strchr(" \n\t", out->buf[out->len - 1]))
		out->buf[--out->len] = '\0';
	etl_buf_release(&w.scratch);
}
