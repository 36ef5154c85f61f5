/* embedder.c - the provider table of embedder.h and what all providers share. */
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "embedder.h"
#include "log.h"
#include "util.h"

static const struct etl_embedder_ops *const providers[] = {
	&etl_embedder_hash,
	&etl_embedder_openai,
};

const struct etl_embedder_ops *etl_embedder_find(const char *name)
{
	for (size_t i = 0; i < ETL_ARRAY_SIZE(providers); i++)
		if (!strcasecmp(providers[i]->name, name))
			return providers[i];
	return NULL;
}

const char *etl_embedder_names(void)
{
	return "hash|openai";
}

struct etl_embedder *etl_embedder_open(const struct etl_embedder_opts *o, int *why)
{
	const char *name = o->provider ? o->provider :
		etl_config_get_or("ETL_EMBED_PROVIDER", "hash");
	const struct etl_embedder_ops *ops = etl_embedder_find(name);
	struct etl_embedder *e;

	if (!ops) {
		*why = ETL_CONFIG;
		etl_error("unknown embedding provider '%s' (%s)", name, etl_embedder_names());
		return NULL;
	}
	e = xcalloc(1, sizeof(*e));
	e->ops = ops;
	e->batch = o->batch > 0 ? o->batch : 64;
	if (ops->open(e, o, why) < 0) {
		free(e);
		return NULL;
	}
	return e;
}

void etl_embedder_close(struct etl_embedder *e)
{
	if (!e)
		return;
	e->ops->close(e);
	free(e);
}

int etl_embedder_embed(struct etl_embedder *e, const char *const *texts,
		       const size_t *lens, size_t n, float **out, int *why)
{
	float *all = NULL;

	*out = NULL;
	e->reason[0] = '\0';
	for (size_t at = 0; at < n; at += (size_t)e->batch) {
		size_t k = n - at < (size_t)e->batch ? n - at : (size_t)e->batch;
		float *part = NULL;

		e->calls++;
		if (e->ops->embed(e, texts + at, lens + at, k, &part, why) < 0) {
			free(all);
			return -1;
		}
		if (!all)
			all = xmalloc(n * (size_t)e->dim * sizeof(*all));
		memcpy(all + at * (size_t)e->dim, part, k * (size_t)e->dim * sizeof(*all));
		free(part);
		e->inputs += (long)k;
	}
	*out = all ? all : xmalloc(sizeof(float));
	return 0;
}

void etl_vec_normalize(float *v, size_t dim)
{
	double ss = 0;

	for (size_t i = 0; i < dim; i++)
		ss += (double)v[i] * v[i];
	if (ss > 0) {
		float inv = (float)(1.0 / sqrt(ss));

		for (size_t i = 0; i < dim; i++)
			v[i] *= inv;
	}
}
