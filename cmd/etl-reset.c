/* etl-reset - the post-job reset countdown and stuck-job recovery (not implemented yet: see its issue). */
#include "cli.h"

static const char usage[] =
"usage: etl-reset [--watch] [--stuck <age>] [--dry-run]\n";

int main(int argc, char **argv)
{
	etl_init(argv[0]);
	etl_not_implemented(usage, argc, argv);
}
