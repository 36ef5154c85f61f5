/*
 * config.h - settings: flags override the environment, which overrides an
 * optional --config FILE of key=value lines (keys as the environment names:
 * ETL_DATABASE_URL=...).  Callers apply their flags; this module answers
 * for the other two layers.
 */
#ifndef ETL_CONFIG_H
#define ETL_CONFIG_H

/* Read @path; 0 ok, -1 after reporting (missing file, bad line). */
int etl_config_load(const char *path);
/* The environment's value of @name, else the file's, else NULL.
 * Borrowed: valid until exit. */
const char *etl_config_get(const char *name);
/* Like etl_config_get(), with @def when unset or empty. */
const char *etl_config_get_or(const char *name, const char *def);
/* A whole number setting in [min, max]: @def when unset, and (with a
 * warning naming the setting) when not a number in range. */
long etl_config_get_long(const char *name, long def, long min, long max);
void etl_config_release(void);

#endif
