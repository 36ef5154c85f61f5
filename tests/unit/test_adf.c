/* Plain text from Atlassian Document Format. */
#include <string.h>

#include "buf.h"
#include "jira/adf.h"
#include "json.h"
#include "log.h"
#include "tap.h"

static const char *text_of(const char *adf)
{
	static struct etl_buf out = ETL_BUF_INIT;
	struct etl_jdoc d = ETL_JDOC_INIT;
	char err[128];

	etl_buf_reset(&out);
	if (etl_jdoc_parse(&d, adf, strlen(adf), err, sizeof(err)) == 0)
		etl_adf_to_text(&d, ETL_JDOC_ROOT, &out);
	etl_jdoc_release(&d);
	return etl_buf_str(&out);
}

int main(int argc, char **argv)
{
	const char *t;

	(void)argc;
	etl_init(argv[0]);
	t = text_of("{\"type\":\"doc\",\"version\":1,\"content\":[{\"type\":\"paragraph\","
		    "\"content\":[{\"type\":\"text\",\"text\":\"Fix the \\u00e9 \"},{\"type\":"
		    "\"text\",\"text\":\"login\",\"marks\":[{\"type\":\"strong\"}]},{\"type\":"
		    "\"hardBreak\"},{\"type\":\"mention\",\"attrs\":{\"id\":\"1\",\"text\":"
		    "\"@Ann\"}},{\"type\":\"emoji\",\"attrs\":{\"shortName\":\":rocket:\","
		    "\"text\":\"\xf0\x9f\x9a\x80\"}}]},{\"type\":\"bulletList\",\"content\":[{"
		    "\"type\":\"listItem\",\"content\":[{\"type\":\"paragraph\",\"content\":[{"
		    "\"type\":\"text\",\"text\":\"one\"}]}]},{\"type\":\"listItem\",\"content\":"
		    "[{\"type\":\"paragraph\",\"content\":[{\"type\":\"text\",\"text\":\"two\"}]}"
		    "]}]},{\"type\":\"paragraph\",\"content\":[{\"type\":\"inlineCard\",\"attrs\":"
		    "{\"url\":\"https://x.test/a\"}}]}]}");
	ok(!strcmp(t, "Fix the \xc3\xa9 login\n@Ann\xf0\x9f\x9a\x80\n- one\n- two\nhttps://x.test/a"),
	   "paragraphs, marks, mention, emoji, list, card");

	t = text_of("{\"type\":\"doc\",\"content\":[{\"type\":\"table\",\"content\":[{\"type\":"
		    "\"tableRow\",\"content\":[{\"type\":\"tableHeader\",\"content\":[{\"type\":"
		    "\"paragraph\",\"content\":[{\"type\":\"text\",\"text\":\"a\"}]}]},{\"type\":"
		    "\"tableCell\",\"content\":[{\"type\":\"paragraph\",\"content\":[{\"type\":"
		    "\"text\",\"text\":\"b\"}]}]}]}]}]}");
	ok(!strcmp(t, "a | b"), "table row: [%s]", t);

	t = text_of("\"plain v2 text\"");
	ok(!strcmp(t, "plain v2 text"), "a string is taken as it is");
	t = text_of("{\"type\":\"doc\",\"content\":[{\"type\":\"unknownThing\",\"content\":[{"
		    "\"type\":\"text\",\"text\":\"inner\"}]},{\"type\":\"text\"}]}");
	ok(!strcmp(t, "inner"), "unknown nodes give their children; text without text is empty");
	t = text_of("null");
	ok(!strcmp(t, ""), "null description is empty");
	return tap_done();
}
