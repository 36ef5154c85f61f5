/* token.h - job-run tokens: random (v4) UUIDs in canonical lower-case text. */
#ifndef ETL_TOKEN_H
#define ETL_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#define ETL_TOKEN_LEN 36   /* without the NUL */

/* Write a new random UUID v4 into @out (37 bytes). */
void etl_token_new(char out[ETL_TOKEN_LEN + 1]);
/* True if @s (@len bytes) is a canonical UUID (8-4-4-4-12 hex, any version). */
bool etl_token_valid(const char *s, size_t len);
/* Name-based UUID v5 of @name in @ns (text form): stable point ids. */
int etl_token_v5(const char *ns, const char *name, size_t len,
		 char out[ETL_TOKEN_LEN + 1]);

#endif
