/*
 * Unit tests: the empty string "" through every string accessor of the
 * buffer, the JSON scanner, the document reader and the message contract.
 * Each result must be a C string ("" with its NUL) or a zero length, never
 * bytes left in the heap by an earlier allocation.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "log.h"
#include "message.h"
#include "tap.h"

/*
 * Fill and free blocks of the sizes a small buffer takes, so the next
 * allocation of that size comes back full of 'X' rather than zeros, as it
 * does in a long-running process.
 */
static void dirty_heap(void)
{
	static const size_t sizes[] = { 24, 32, 48, 64, 96, 128, 256 };
	void *p[sizeof(sizes) / sizeof(*sizes)];

	for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
		p[i] = malloc(sizes[i]);
		memset(p[i], 'X', sizes[i]);
	}
	for (size_t i = sizeof(sizes) / sizeof(*sizes); i-- > 0;)
		free(p[i]);
}

/* @s is "" (a NUL at s[0]) and its length 0. */
static int empty(const char *s, size_t len)
{
	return s && len == 0 && s[0] == '\0';
}

static void test_buf(void)
{
	struct etl_buf b = ETL_BUF_INIT;
	size_t len = 1;
	char *s;

	dirty_heap();
	etl_buf_grow(&b, 10);
	ok(empty(b.buf, b.len), "a buffer only grown holds \"\"");
	s = etl_buf_detach(&b, &len);
	ok(empty(s, len), "... and detaches as \"\"");
	free(s);
	s = etl_buf_detach(&b, &len);
	ok(empty(s, len), "a buffer never grown detaches as \"\"");
	free(s);
	ok(!strcmp(etl_buf_str(&b), ""), "etl_buf_str of an empty buffer is \"\"");
	dirty_heap();
	etl_buf_add(&b, "", 0);
	ok(empty(b.buf, b.len), "adding 0 bytes leaves \"\"");
	etl_buf_release(&b);
	dirty_heap();
	etl_buf_addf(&b, "%s", "");
	ok(empty(b.buf, b.len), "formatting \"\" leaves \"\"");
	etl_buf_reset(&b);
	ok(empty(b.buf, b.len), "a reset buffer holds \"\"");
	etl_buf_release(&b);
	etl_buf_add_json_str(&b, "", 0);
	ok(!strcmp(etl_buf_str(&b), "\"\"") && b.len == 2, "\"\" written as a JSON literal");
	etl_buf_release(&b);
}

static void test_unquote(void)
{
	size_t len = 1;
	char *s;

	dirty_heap();
	s = etl_json_unquote("\"\"", 2, false, &len);
	ok(empty(s, len), "etl_json_unquote(\"\") is \"\"");
	free(s);
	dirty_heap();
	s = etl_json_unquote("\"\"", 2, true, NULL);
	ok(s && s[0] == '\0', "etl_json_unquote(\"\") with NULs allowed and no length");
	free(s);
}

static void test_jdoc(void)
{
	static const char text[] =
		"{\"\":\"\",\"name\":\"\",\"id\":\"\",\"e\":\"\\u0041\",\"err\":{\"message\":\"\"}}";
	struct etl_jdoc d = ETL_JDOC_INIT;
	struct etl_buf scratch = ETL_BUF_INIT;
	char err[128], words[64];
	uint32_t name;
	int64_t i64 = 7;
	size_t len = 1;
	const char *s;
	char *dup;

	ok(etl_jdoc_parse(&d, text, strlen(text), err, sizeof(err)) == 0, "parses: %s", err);
	name = etl_jdoc_get(&d, ETL_JDOC_ROOT, "name");
	s = etl_jdoc_str(&d, name, &scratch, &len);
	ok(s && len == 0, "etl_jdoc_str of \"\": length 0");
	dirty_heap();
	dup = etl_jdoc_strdup(&d, name);
	ok(dup && dup[0] == '\0', "etl_jdoc_strdup of \"\" is \"\"");
	free(dup);
	ok(etl_jdoc_str_eq(&d, name, ""), "etl_jdoc_str_eq(\"\", \"\")");
	ok(!etl_jdoc_str_eq(&d, name, "x"), "\"\" is not \"x\"");
	ok(etl_jdoc_get(&d, ETL_JDOC_ROOT, "") != 0, "the empty key is found");
	ok(etl_jdoc_i64(&d, etl_jdoc_get(&d, ETL_JDOC_ROOT, "id"), &i64) == -1 && i64 == 7,
	   "an id of \"\" is not a number");
	{
		static const char *const paths[] = { "err.message", NULL };

		etl_jdoc_error_words(&d, text, strlen(text), paths, words, sizeof(words));
		ok(!strcmp(words, ": "), "an empty error message: \"%s\"", words);
	}
	etl_jdoc_release(&d);
	etl_buf_release(&scratch);
}

static void test_message(void)
{
	static const char line[] =
		"{\"tenant_id\":1,\"job_id\":7,\"token\":\"6f0fa209-3c3e-4e21-9bbe-ecff52563b61\","
		"\"type\":\"\",\"provider\":\"\",\"first_item\":true,\"last_item\":false,"
		"\"last_job_item\":false,\"raw_kind\":\"\",\"request_url\":\"\","
		"\"project_keys\":\"\",\"\":\"\"}";
	struct etl_msg m = ETL_MSG_INIT;
	static const char *const keys[] = { "type", "provider", "raw_kind", "request_url",
					    "project_keys", "" };
	char err[128];
	size_t len;

	ok(etl_msg_parse(&m, line, strlen(line), err, sizeof(err)) == 0, "parses: %s", err);
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		char *s;

		dirty_heap();
		s = etl_msg_get_str(&m, keys[i]);
		ok(empty(s, s ? strlen(s) : 1), "etl_msg_get_str(\"%s\") of \"\" is \"\"", keys[i]);
		free(s);
		ok(etl_msg_get_raw(&m, keys[i], &len) && len == 2, "raw \"\" of \"%s\"", keys[i]);
	}
	ok(etl_msg_validate(&m, ETL_STAGE_ANY, 0, err, sizeof(err)) < 0,
	   "an empty type is refused: %s", err);
	etl_msg_set_str(&m, "request_url", "");
	ok(etl_msg_get_raw(&m, "request_url", &len) && len == 2, "setting \"\" writes \"\"");
	etl_msg_release(&m);
}

int main(int argc, char **argv)
{
	(void)argc;
	etl_init(argv[0]);
	test_buf();
	test_unquote();
	test_jdoc();
	test_message();
	return tap_done();
}
