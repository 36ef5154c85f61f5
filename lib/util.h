/* util.h - allocation that dies on OOM, checked number parsing, time. */
#ifndef ETL_UTIL_H
#define ETL_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define ETL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Like malloc/calloc/realloc/strdup, but never return NULL: OOM is fatal. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Parse all of @s as a base-10 integer within [min, max]. 0 ok, -1 bad. */
int etl_parse_long(const char *s, long min, long max, long *out);
int etl_parse_i64(const char *s, int64_t *out);

/* Monotonic clock in milliseconds, for timeouts and rates. */
int64_t etl_now_ms(void);
/* Wall clock in milliseconds since the epoch. */
int64_t etl_wall_ms(void);
/* Sleep @ms milliseconds, returning early when a stop was requested. */
void etl_sleep_ms(int64_t ms);

#endif
