/* etl-embed - embed entities for semantic search and complete jobs (not implemented yet: see its issue). */
#include "cli.h"

static const char usage[] =
"usage: etl-embed [--from-queue <queue>] [--provider hash|openai] [--store pg|qdrant]\n"
	"   or: etl-embed search <text> --tenant <id> [--source JIRA|GITHUB] [--limit <k>]\n"
	"   or: etl-embed reindex --tenant <id> [--source JIRA|GITHUB]\n";

int main(int argc, char **argv)
{
	etl_init(argv[0]);
	etl_not_implemented(usage, argc, argv);
}
