/* Unit tests for the JSON scanner and the message contract. */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "message.h"
#include "tap.h"

static const char tok[] = "6f0fa209-3c3e-4e21-9bbe-ecff52563b61";

static int valid(const char *s)
{
	char err[128];

	return etl_json_validate(s, strlen(s), err, sizeof(err)) == 0;
}

static void test_validate(void)
{
	static const char *good[] = { "{}", "[]", "0", "-0.5e+3", "\"\\u00e9\"",
		"{\"a\":[1,{\"b\":null}],\"c\":true}", " {\"x\" : \"\xf0\x9f\x98\x80\"} ",
		"\"\\ud83d\\ude00\"" };
	static const char *bad[] = { "", "{", "{\"a\"}", "{\"a\":}", "[1,]", "01",
		"1.", "\"\\x\"", "\"a\nb\"", "{} {}", "tru", "\"\xc3\x28\"",
		"\"\xed\xa0\x80\"", "\"\xc0\xaf\"", "{'a':1}", "[1 2]" };

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		ok(valid(good[i]), "valid JSON #%zu accepted", i);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		ok(!valid(bad[i]), "invalid JSON #%zu rejected", i);

	char *deep = malloc(2 * 1000 + 1);
	memset(deep, '[', 1000);
	memset(deep + 1000, ']', 1000);
	deep[2000] = '\0';
	ok(!valid(deep), "nesting of 1000 is refused, not a stack overflow");
	free(deep);

	char err[128];
	etl_json_validate("{\"a\":1,}", 8, err, sizeof(err));
	ok(strstr(err, "byte 8") != NULL, "error names the byte: %s", err);
}

static void test_unquote(void)
{
	size_t n;
	char *s = etl_json_unquote("\"a\\u00e9\\ud83d\\ude00\\n\"", 23, false, &n);

	ok(s && !strcmp(s, "a\xc3\xa9\xf0\x9f\x98\x80\n"), "escapes and surrogate pairs decode");
	free(s);
	ok(etl_json_unquote("\"a\\u0000b\"", 10, false, &n) == NULL, "\\u0000 refused for C strings");
	s = etl_json_unquote("\"a\\u0000b\"", 10, true, &n);
	ok(s && n == 3 && s[1] == '\0', "\\u0000 kept when allowed");
	free(s);
}

static struct etl_msg parse(const char *line)
{
	struct etl_msg m = ETL_MSG_INIT;
	char err[128];

	if (etl_msg_parse(&m, line, strlen(line), err, sizeof(err)) < 0)
		printf("# parse failed: %s\n", err);
	return m;
}

static char *line_of(const char *extra)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf), "{\"tenant_id\":1,\"job_id\":7,\"token\":\"%s\","
		 "\"type\":\"jira_dev_status\",\"provider\":\"Jira\",\"first_item\":true,"
		 "\"last_item\":false,\"last_job_item\":false%s}", tok, extra);
	return buf;
}

static void test_contract(void)
{
	struct etl_msg m;
	char err[160];

	m = parse(line_of(",\"integration_id\":456,\"raw_data_id\":789,\"x\":1.50"));
	ok(etl_msg_validate(&m, ETL_STAGE_TRANSFORM, 0, err, sizeof(err)) == 0,
	   "transform message valid");
	ok(m.tenant_id == 1 && m.job_id == 7 && m.first_item && !m.last_item,
	   "common fields read");
	ok(!strcmp(m.token, tok) && m.step && m.step->order == 4, "token and step");
	etl_msg_release(&m);

	m = parse(line_of(",\"integration_id\":456"));
	ok(etl_msg_validate(&m, ETL_STAGE_TRANSFORM, 0, err, sizeof(err)) < 0 &&
	   strstr(err, "raw_data_id"), "transform needs raw_data_id: %s", err);
	ok(etl_msg_validate(&m, ETL_STAGE_EXTRACTION, 0, err, sizeof(err)) == 0,
	   "same line is a valid extraction message");
	ok(etl_msg_validate(&m, ETL_STAGE_ANY, 10, err, sizeof(err)) < 0 &&
	   strstr(err, "exceeds"), "size limit enforced: %s", err);
	etl_msg_release(&m);

	m = parse("{\"tenant_id\":1,\"job_id\":null,\"token\":\"nope\",\"type\":\"x\"}");
	ok(etl_msg_validate(&m, ETL_STAGE_ANY, 0, err, sizeof(err)) < 0 &&
	   strstr(err, "token"), "invalid token named: %s", err);
	etl_msg_release(&m);

	m = parse(line_of(",\"type\":\"jira_bogus\""));
	ok(etl_msg_validate(&m, ETL_STAGE_ANY, 0, err, sizeof(err)) < 0 &&
	   strstr(err, "unknown message type 'jira_bogus'"), "last duplicate key wins: %s", err);
	etl_msg_release(&m);

	m = parse(line_of(",\"provider\":\"github\""));
	ok(etl_msg_validate(&m, ETL_STAGE_ANY, 0, err, sizeof(err)) < 0 &&
	   strstr(err, "does not match"), "provider must match type: %s", err);
	etl_msg_release(&m);

	m = parse("{\"tenant_id\":\"1\"}");
	ok(etl_msg_validate(&m, ETL_STAGE_ANY, 0, err, sizeof(err)) < 0 &&
	   strstr(err, "tenant_id"), "tenant_id must be an integer: %s", err);
	etl_msg_release(&m);

	memset(&m, 0, sizeof(m));
	ok(etl_msg_parse(&m, "[1,2]", 5, err, sizeof(err)) < 0 && strstr(err, "array"),
	   "non-object refused: %s", err);
	etl_msg_release(&m);
}

static void test_edit(void)
{
	struct etl_msg m = parse("{ \"b\" : 1.50e0 ,\"keep\":{\"z\":[1, 2]}, \"a\":\"x\" }");
	const char *raw;
	size_t len;
	char *s;

	etl_msg_set_i64(&m, "a", 5);
	ok(!strcmp(m.text.buf, "{ \"b\" : 1.50e0 ,\"keep\":{\"z\":[1, 2]}, \"a\":5 }"),
	   "set replaces the value in place: %s", m.text.buf);
	etl_msg_set_str(&m, "new", "q\"\n");
	ok(!strcmp(m.text.buf,
		   "{ \"b\" : 1.50e0 ,\"keep\":{\"z\":[1, 2]}, \"a\":5 ,\"new\":\"q\\\"\\n\"}"),
	   "set appends a new member: %s", m.text.buf);
	s = etl_msg_get_str(&m, "new");
	ok(s && !strcmp(s, "q\"\n"), "string round trip");
	free(s);
	etl_msg_remove(&m, "b");
	ok(!strcmp(m.text.buf, "{ \"keep\":{\"z\":[1, 2]}, \"a\":5 ,\"new\":\"q\\\"\\n\"}"),
	   "remove first member: %s", m.text.buf);
	etl_msg_remove(&m, "new");
	ok(!strcmp(m.text.buf, "{ \"keep\":{\"z\":[1, 2]}, \"a\":5}"),
	   "remove last member: %s", m.text.buf);
	raw = etl_msg_get_raw(&m, "keep", &len);
	ok(raw && len == 12 && !memcmp(raw, "{\"z\":[1, 2]}", 12), "raw value bytes kept");
	etl_msg_remove(&m, "keep");
	etl_msg_remove(&m, "a");
	ok(!strcmp(m.text.buf, "{ }"), "remove all: %s", m.text.buf);
	etl_msg_set_bool(&m, "f", true);
	ok(!strcmp(m.text.buf, "{ \"f\":true}"), "append to empty object: %s", m.text.buf);
	etl_msg_release(&m);
}

static void test_token(void)
{
	char t[ETL_TOKEN_LEN + 1], a[ETL_TOKEN_LEN + 1], b[ETL_TOKEN_LEN + 1];

	etl_token_new(t);
	ok(etl_token_valid(t, strlen(t)) && t[14] == '4', "new token is a v4 UUID: %s", t);
	ok(!etl_token_valid("6f0fa209-3c3e-4e21-9bbe-ecff52563b6", 35), "short token refused");
	ok(!etl_token_valid("6f0fa209x3c3e-4e21-9bbe-ecff52563b61", 36), "bad dash refused");
	/* RFC 4122 appendix B's example, corrected in its errata: www.example.com
	 * in the DNS namespace. */
	etl_token_v5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "www.example.com", 15, a);
	ok(!strcmp(a, "2ed6657d-e927-568b-95e1-2665a8aea6a2"), "UUIDv5 known answer: %s", a);
	etl_token_v5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "www.example.com", 15, b);
	ok(!strcmp(a, b), "UUIDv5 stable");
}

static void test_reader(void)
{
	FILE *fp = tmpfile();
	struct etl_reader r = ETL_READER_INIT(fp);
	size_t len, big = 3u << 20;
	const char *line;

	fputs("a\n\n  \nb\r\n", fp);
	for (size_t i = 0; i < big; i++)
		fputc('x', fp);
	rewind(fp);
	line = etl_reader_next(&r, &len);
	ok(line && !strcmp(line, "a") && r.lineno == 1, "first line");
	line = etl_reader_next(&r, &len);
	ok(line && !strcmp(line, "b") && r.lineno == 4, "blank lines skipped but counted, CR dropped");
	line = etl_reader_next(&r, &len);
	ok(line && len == big && r.lineno == 5, "a 3 MiB line without newline read whole");
	ok(etl_reader_next(&r, &len) == NULL && r.error == 0, "clean EOF");
	etl_reader_release(&r);
	fclose(fp);
}

int main(int argc, char **argv)
{
	(void)argc;
	etl_init(argv[0]);
	test_validate();
	test_unquote();
	test_contract();
	test_edit();
	test_token();
	test_reader();
	return tap_done();
}
