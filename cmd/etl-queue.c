/* etl-queue - RabbitMQ topology, publish, consume, dead letters (not implemented yet: see its issue). */
#include "cli.h"

static const char usage[] =
"usage: etl-queue <command> [<args>]\n";

int main(int argc, char **argv)
{
	etl_init(argv[0]);
	etl_not_implemented(usage, argc, argv);
}
