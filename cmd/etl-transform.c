/* etl-transform - map raw responses into work items, pull requests and metrics (not implemented yet: see its issue). */
#include "cli.h"

static const char usage[] =
"usage: etl-transform [--from-queue <queue>] [--to-queue <queue>] [--dry-run]\n";

int main(int argc, char **argv)
{
	etl_init(argv[0]);
	etl_not_implemented(usage, argc, argv);
}
