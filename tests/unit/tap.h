/* tap.h - the smallest TAP producer: unit programs print "ok N - what". */
#ifndef ETL_TAP_H
#define ETL_TAP_H

#include <stdio.h>

static int tap_n, tap_failed;

#define ok(cond, ...) do { \
	tap_n++; \
	if (!(cond)) { tap_failed++; printf("not ok %d - ", tap_n); } \
	else printf("ok %d - ", tap_n); \
	printf(__VA_ARGS__); \
	if (!(cond)) printf(" (%s:%d: %s)", __FILE__, __LINE__, #cond); \
	putchar('\n'); \
} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
