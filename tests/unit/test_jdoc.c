/* Unit tests for the flat JSON document reader used on API responses. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "log.h"
#include "tap.h"

int main(int argc, char **argv)
{
	static const char text[] =
		"{\"issues\":[{\"id\":\"10627\",\"key\":\"T-1\",\"fields\":{\"status\":"
		"{\"name\":\"In \\u00e9 Progress\"},\"sp\":13.5,\"n\":null,\"x\":1,\"x\":2}},"
		"{\"id\":\"10628\",\"key\":\"T-2\",\"fields\":{}}],\"isLast\":true,"
		"\"k\\u0065y\":\"v\\u0000w\"}";
	struct etl_jdoc d = ETL_JDOC_INIT;
	struct etl_buf scratch = ETL_BUF_INIT;
	char err[128];
	uint32_t issues, first, n;
	int64_t i64;
	double num;
	size_t len;
	const char *s;
	int count = 0;

	(void)argc;
	etl_init(argv[0]);
	ok(etl_jdoc_parse(&d, text, strlen(text), err, sizeof(err)) == 0, "parses: %s", err);
	issues = etl_jdoc_get(&d, ETL_JDOC_ROOT, "issues");
	ok(etl_jdoc_kind(&d, issues) == ETL_JSON_ARRAY && d.n[issues].count == 2, "array of 2");
	for (n = etl_jdoc_first(&d, issues); n; n = etl_jdoc_next(&d, n))
		count++;
	ok(count == 2, "iteration visits each element once");
	first = etl_jdoc_index(&d, issues, 0);
	ok(etl_jdoc_i64(&d, etl_jdoc_get(&d, first, "id"), &i64) == 0 && i64 == 10627,
	   "string id read as integer");
	s = etl_jdoc_str(&d, etl_jdoc_path(&d, first, "fields.status.name"), &scratch, &len);
	ok(s && len == 14 && !memcmp(s, "In \xc3\xa9 Progress", 14), "path + escaped string");
	ok(etl_jdoc_num(&d, etl_jdoc_path(&d, first, "fields.sp"), &num) == 0 && num == 13.5,
	   "number");
	ok(etl_jdoc_path(&d, first, "fields.n") && etl_jdoc_kind(&d, etl_jdoc_path(&d, first,
	   "fields.n")) == ETL_JSON_NULL, "null is present, not missing");
	ok(etl_jdoc_path(&d, first, "fields.missing.deeper") == 0, "missing path is node 0");
	ok(etl_jdoc_i64(&d, etl_jdoc_path(&d, first, "fields.x"), &i64) == 0 && i64 == 2,
	   "last duplicate key wins");
	ok(etl_jdoc_str_eq(&d, etl_jdoc_path(&d, etl_jdoc_index(&d, issues, 1), "key"), "T-2"),
	   "second element");
	ok(etl_jdoc_index(&d, issues, 2) == 0, "index past the end is 0");
	ok(etl_jdoc_kind(&d, etl_jdoc_get(&d, ETL_JDOC_ROOT, "isLast")) == ETL_JSON_TRUE, "bool");
	s = etl_jdoc_str(&d, etl_jdoc_get(&d, ETL_JDOC_ROOT, "key"), &scratch, &len);
	ok(s && len == 3 && s[1] == '\0', "escaped key matched; \\u0000 kept with its length");
	s = etl_jdoc_raw(&d, etl_jdoc_path(&d, first, "fields.status"), &len);
	ok(len == 29 && s[0] == '{' && s[28] == '}', "raw bytes of a subtree");
	ok(etl_jdoc_parse(&d, "{\"a\":[1,2}", 10, err, sizeof(err)) < 0 && strstr(err, "byte"),
	   "truncated JSON refused: %s", err);
	ok(etl_jdoc_parse(&d, "<html>502</html>", 16, err, sizeof(err)) < 0,
	   "an HTML error page is refused: %s", err);
	{
		static const char *const paths[] = { "error.message", "message", NULL };
		static const char *const bodies[] = {
			"{\"error\":{\"message\":\"bad \\\"model\\\"\"}}",
			"{\"message\":\"m\"}", "{\"error\":{\"message\":1}}",
			"<html>502</html>" };
		char said[64];

		etl_jdoc_error_words(&d, bodies[0], strlen(bodies[0]), paths, said,
				     sizeof(said));
		ok(!strcmp(said, ": bad \"model\""), "error words: first path, decoded: %s",
		   said);
		etl_jdoc_error_words(&d, bodies[1], strlen(bodies[1]), paths, said,
				     sizeof(said));
		ok(!strcmp(said, ": m"), "error words: the next path when the first is absent");
		etl_jdoc_error_words(&d, bodies[2], strlen(bodies[2]), paths, said,
				     sizeof(said));
		ok(!strcmp(said, ""), "error words: none when the value is not a string");
		etl_jdoc_error_words(&d, bodies[3], strlen(bodies[3]), paths, said,
				     sizeof(said));
		ok(!strcmp(said, ""), "error words: none from a body that is not JSON");
		etl_jdoc_error_words(&d, NULL, 0, paths, said, sizeof(said));
		ok(!strcmp(said, ""), "error words: none from an empty body");
	}
	etl_jdoc_release(&d);
	etl_buf_release(&scratch);
	return tap_done();
}
