/* lib/transform helpers: JSON made fit for jsonb, times and dates. */
#include <string.h>

#include "buf.h"
#include "log.h"
#include "tap.h"
#include "transform.h"

static int clean_is(const char *in, const char *want)
{
	struct etl_buf b = ETL_BUF_INIT;
	int same;

	etl_tx_json_clean(&b, in, strlen(in));
	same = !strcmp(etl_buf_str(&b), want);
	if (!same)
		printf("# got %s\n", etl_buf_str(&b));
	etl_buf_release(&b);
	return same;
}

static int time_is(const char *s, long long want)
{
	int64_t ms = 0;

	return etl_tx_parse_time(s, strlen(s), &ms) == 0 && ms == want;
}

static int time_bad(const char *s)
{
	int64_t ms;

	return etl_tx_parse_time(s, strlen(s), &ms) < 0;
}

int main(int argc, char **argv)
{
	char out[40];

	(void)argc;
	etl_init(argv[0]);

	ok(clean_is("{\"a\":\"x\\u0000y\"}", "{\"a\":\"xy\"}"), "\\u0000 dropped");
	ok(clean_is("[\"\\u0000\\u0000\",\"\\\\u0000\"]", "[\"\",\"\\\\u0000\"]"),
	   "an escaped backslash before u0000 is text, kept");
	ok(clean_is("\"\\ud83d\\ude80 \\u00e9\"", "\"\\ud83d\\ude80 \\u00e9\""),
	   "surrogate pairs and other escapes kept");
	ok(clean_is("\"a\\ud800b\\udc00c\"", "\"a\\ufffdb\\ufffdc\""),
	   "lone surrogates become U+FFFD");
	ok(clean_is("{\"k\\u0000ey\":1,\"\\\"\\u0000\":2}", "{\"key\":1,\"\\\"\":2}"),
	   "in keys too, after an escaped quote");
	ok(clean_is("[1, true, null, \"\\\\\"]", "[1, true, null, \"\\\\\"]"),
	   "anything else unchanged");

	ok(time_is("2024-01-15T10:00:00.000+0000", 1705312800000LL), "Jira's format");
	ok(time_is("2024-01-15T11:30:00.250+0130", 1705312800250LL), "offset +hhmm");
	ok(time_is("2024-01-15T05:00:00-05:00", 1705312800000LL), "offset -hh:mm, no fraction");
	ok(time_is("2024-01-15T10:00:00Z", 1705312800000LL), "Z");
	ok(time_is("2024-01-15T10:00Z", 1705312800000LL), "no seconds");
	ok(time_is("2024-01-15T10:00:00.123456Z", 1705312800123LL), "microseconds cut to ms");
	ok(time_is("2024-01-15", 1705276800000LL), "a date alone is midnight UTC");
	ok(time_is("1969-12-31T23:59:59.000Z", -1000LL), "before the epoch");
	ok(time_bad("2024-02-30T10:00:00Z") && time_bad("2024-13-01") && time_bad("garbage") &&
	   time_bad("2024-01-15T10:00:00+") && time_bad("2024-01-15T10:00:00.Z") &&
	   time_bad(""), "malformed times refused");
	ok(etl_tx_parse_date("2024-02-29", 10) == 0 && etl_tx_parse_date("2023-02-29", 10) < 0 &&
	   etl_tx_parse_date("2024-1-01", 9) < 0, "calendar dates");
	etl_tx_format_time(1705312800123LL, out, sizeof(out));
	ok(!strcmp(out, "2024-01-15T10:00:00.123Z"), "formatted in UTC with ms");
	etl_tx_format_time(-1000LL, out, sizeof(out));
	ok(!strcmp(out, "1969-12-31T23:59:59.000Z"), "negative times formatted");
	return tap_done();
}
