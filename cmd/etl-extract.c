/* etl-extract - call the Jira and GitHub APIs, store raw responses, emit transform messages (not implemented yet: see its issue). */
#include "cli.h"

static const char usage[] =
"usage: etl-extract [--from-queue <queue>] [--to-queue <queue>] [--no-store]\n"
	"   or: etl-extract jira --integration <id> [--step <step>] [--since <time>] [--full]\n"
	"   or: etl-extract --replay <from>-<to> | --replay-job <job-id>\n";

int main(int argc, char **argv)
{
	etl_init(argv[0]);
	etl_not_implemented(usage, argc, argv);
}
