/*
 * jira/adf.h - plain text from Atlassian Document Format (the JSON that
 * Jira Cloud v3 uses for descriptions and comments), for search and
 * embeddings.  The ADF itself is kept as received; this only derives text.
 */
#ifndef ETL_JIRA_ADF_H
#define ETL_JIRA_ADF_H

#include <stdint.h>

#include "buf.h"
#include "json.h"

/*
 * Append the text of ADF node @node of @d to @out: block nodes end in a
 * newline, list items start with "- ", table cells are joined with " | ",
 * mentions, emoji, dates, statuses and cards by their visible text or URL.
 * A JSON string (API v2's wiki markup) is taken as it is.  Trailing white
 * space is trimmed.  Unknown node types contribute their children's text.
 */
void etl_adf_to_text(const struct etl_jdoc *d, uint32_t node, struct etl_buf *out);

#endif
