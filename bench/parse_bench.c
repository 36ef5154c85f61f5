/*
 * parse_bench - how fast can we read Jira issue documents?  Parses the
 * issue file given (one issue object) N times with the flat reader in
 * lib/json (etl_jdoc) and with libjq's jv, and reads the same three fields
 * with each.  Prints issues/s for both and the ratio.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jv.h>

#include "buf.h"
#include "json.h"
#include "log.h"
#include "util.h"

static char *slurp(const char *path, size_t *len)
{
	struct etl_buf b = ETL_BUF_INIT;
	FILE *fp = fopen(path, "r");
	char chunk[65536];
	size_t n;

	if (!fp)
		etl_die(ETL_NOINPUT, "cannot open '%s'", path);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		etl_buf_add(&b, chunk, n);
	fclose(fp);
	return etl_buf_detach(&b, len);
}

int main(int argc, char **argv)
{
	struct etl_jdoc d = ETL_JDOC_INIT;
	struct etl_buf scratch = ETL_BUF_INIT;
	long n = 20000, sink = 0;
	size_t len, sl;
	char err[128], *text;
	int64_t t0, t_jdoc, t_jv;

	etl_init(argv[0]);
	if (argc < 2)
		etl_die(ETL_USAGE, "usage: parse_bench ISSUE.json [N]");
	if (argc > 2 && etl_parse_long(argv[2], 1, 100000000, &n) < 0)
		etl_die(ETL_USAGE, "bad count '%s'", argv[2]);
	text = slurp(argv[1], &len);

	t0 = etl_now_ms();
	for (long i = 0; i < n; i++) {
		if (etl_jdoc_parse(&d, text, len, err, sizeof(err)) < 0)
			etl_die(ETL_DATAERR, "jdoc: %s", err);
		const char *s = etl_jdoc_str(&d, etl_jdoc_path(&d, ETL_JDOC_ROOT,
				"fields.status.name"), &scratch, &sl);
		sink += s ? (long)sl : 0;
		sink += etl_jdoc_str(&d, etl_jdoc_get(&d, ETL_JDOC_ROOT, "key"), &scratch, &sl) ? 1 : 0;
		sink += etl_jdoc_path(&d, ETL_JDOC_ROOT, "fields.description") ? 1 : 0;
	}
	t_jdoc = etl_now_ms() - t0;

	t0 = etl_now_ms();
	for (long i = 0; i < n; i++) {
		jv v = jv_parse_sized(text, (int)len);

		if (!jv_is_valid(v))
			etl_die(ETL_DATAERR, "jv: invalid document");
		jv st = jv_object_get(jv_object_get(jv_object_get(jv_copy(v), jv_string("fields")),
					jv_string("status")), jv_string("name"));
		if (jv_get_kind(st) == JV_KIND_STRING)
			sink += jv_string_length_bytes(jv_copy(st));
		jv_free(st);
		jv key = jv_object_get(jv_copy(v), jv_string("key"));
		sink += jv_get_kind(key) == JV_KIND_STRING;
		jv_free(key);
		jv desc = jv_object_get(jv_object_get(jv_copy(v), jv_string("fields")),
					jv_string("description"));
		sink += jv_is_valid(desc);
		jv_free(desc);
		jv_free(v);
	}
	t_jv = etl_now_ms() - t0;

	double r_jdoc = n * 1000.0 / (double)(t_jdoc ? t_jdoc : 1);
	double r_jv = n * 1000.0 / (double)(t_jv ? t_jv : 1);
	printf("parse: etl_jdoc %.0f issues/s, libjq jv %.0f issues/s (%.2fx of jv; %zu-byte issue, %ld checks)\n",
	       r_jdoc, r_jv, r_jdoc / r_jv, len, sink);
	etl_jdoc_release(&d);
	etl_buf_release(&scratch);
	free(text);
	return 0;
}
