#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "util.h"

struct entry {
	char *key, *val;
};
static struct entry *entries;
static size_t nentries;

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

int etl_config_load(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	long lineno = 0;
	int ret = 0;

	if (!fp)
		return etl_error("cannot open config '%s': %s", path, strerror(errno));
	while (getline(&line, &cap, fp) != -1) {
		char *s = trim(line), *eq;

		lineno++;
		if (!*s || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq || eq == s) {
			ret = etl_error("%s:%ld: expected key=value", path, lineno);
			break;
		}
		*eq = '\0';
		entries = xrealloc(entries, (nentries + 1) * sizeof(*entries));
		entries[nentries].key = xstrdup(trim(s));
		entries[nentries].val = xstrdup(trim(eq + 1));
		nentries++;
	}
	free(line);
	fclose(fp);
	return ret;
}

const char *etl_config_get(const char *name)
{
	const char *v = getenv(name);

	if (v && *v)
		return v;
	for (size_t i = nentries; i-- > 0;)
		if (!strcmp(entries[i].key, name))
			return entries[i].val;
	return NULL;
}

const char *etl_config_get_or(const char *name, const char *def)
{
	const char *v = etl_config_get(name);

	return v && *v ? v : def;
}

long etl_config_get_long(const char *name, long def, long min, long max)
{
	const char *v = etl_config_get(name);
	long n;

	if (!v || !*v)
		return def;
	if (etl_parse_long(v, min, max, &n) < 0) {
		etl_warn("ignoring %s='%s': not a number from %ld to %ld", name, v, min, max);
		return def;
	}
	return n;
}

void etl_config_release(void)
{
	for (size_t i = 0; i < nentries; i++) {
		free(entries[i].key);
		free(entries[i].val);
	}
	free(entries);
	entries = NULL;
	nentries = 0;
}
