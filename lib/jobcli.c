#include <ctype.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "db.h"
#include "integration.h"
#include "jobcli.h"
#include "log.h"
#include "migrate.h"
#include "secret.h"
#include "tenant.h"
#include "util.h"

/* Every subcommand also takes the common options and --dsn. */
#define SUB_SHORT "d:" ETL_CLI_COMMON_SHORT
#define SUB_LONG ETL_CLI_COMMON_LONG, { "dsn", required_argument, NULL, 'd' }
#define OPT_BAD 0x1000   /* next_opt(): a bad option, already reported */

enum { OPT_JSON = 0x100, OPT_TENANT, OPT_PROVIDER, OPT_BASE_URL, OPT_EMAIL,
       OPT_TOKEN_ENV, OPT_PROJECTS, OPT_ORGS, OPT_REPOS, OPT_CHECK_TOKEN };

static const char usage_migrate[] =
"usage: etl-job migrate [--dir <dir>] [--dsn <conninfo>]\n"
"\n"
"Apply the pending schema migrations (NNNN_name.sql), each in its own\n"
"transaction; a second run does nothing.\n"
"\n"
"  --dir <dir>         migrations directory (default: $ETL_SQL_DIR, else\n"
"                      ../share/sql next to the binary, else the installed one)\n"
"  -d, --dsn <conninfo>  PostgreSQL connection (default: ETL_DATABASE_URL)\n";

static const char usage_tenant[] =
"usage: etl-job tenant (add <name> [--tier <tier>] | list [--json])\n"
"\n"
"  add <name>          create a tenant and print its id\n"
"    --tier <tier>     free (default), basic, premium or enterprise\n"
"  list                all tenants: a table on a terminal, else NDJSON\n"
"    --json            NDJSON even on a terminal\n";

static const char usage_tenant_add[] =
"usage: etl-job tenant add <name> [--tier <tier>]\n"
"\n"
"Create a tenant and print its id.\n"
"\n"
"  --tier <tier>       free (default), basic, premium or enterprise\n";

static const char usage_tenant_list[] =
"usage: etl-job tenant list [--json]\n"
"\n"
"List tenants: a table on a terminal, else one JSON object per line.\n"
"\n"
"  --json              NDJSON even on a terminal\n";

static const char usage_integration[] =
"usage: etl-job integration (add | list | show | enable | disable) [<args>]\n"
"\n"
"  add --tenant <tenant> --provider (jira | github) [--base-url <url>]\n"
"      [--email <email>] --token-env <var> [--projects <key>,... | --orgs <org>,...]\n"
"      [--repos <pattern>]\n"
"                      store an integration, token encrypted; print its id\n"
"  list [--tenant <tenant>] [--json]\n"
"  show <id> [--check-token] [--token-env <var>]\n"
"  enable <id>\n"
"  disable <id>\n";

static const char usage_integration_add[] =
"usage: etl-job integration add --tenant <tenant> --provider (jira | github)\n"
"           [--base-url <url>] [--email <email>] --token-env <var>\n"
"           [--projects <key>,... | --orgs <org>,...] [--repos <pattern>]\n"
"\n"
"Store an integration and print its id.  The API token is read from the\n"
"environment variable <var> (never from the command line) and stored\n"
"encrypted with ETL_SECRET_KEY.\n"
"\n"
"  --tenant <tenant>   tenant id or name\n"
"  --provider <name>   jira or github\n"
"  --base-url <url>    https://<site>.atlassian.net; GitHub default\n"
"                      https://api.github.com\n"
"  --email <email>     Jira account e-mail (basic auth with the token)\n"
"  --token-env <var>   environment variable holding the API token\n"
"  --projects <keys>   Jira project keys to sync, comma-separated\n"
"  --orgs <orgs>       GitHub organisations or users, comma-separated\n"
"  --repos <pattern>   GitHub repositories: name globs, comma-separated\n"
"                      (owner/name with a slash)\n";

static const char usage_integration_list[] =
"usage: etl-job integration list [--tenant <tenant>] [--json]\n"
"\n"
"List integrations (never their tokens): a table on a terminal, else NDJSON.\n"
"\n"
"  --tenant <tenant>   only this tenant's (id or name)\n"
"  --json              NDJSON even on a terminal\n";

static const char usage_integration_show[] =
"usage: etl-job integration show <id> [--check-token] [--token-env <var>]\n"
"\n"
"Print one integration as a JSON object; the token shows as \"(set)\".\n"
"\n"
"  --check-token       decrypt the stored token with ETL_SECRET_KEY and add\n"
"                      \"token_check\": \"ok\" (exit 78 when it cannot be)\n"
"  --token-env <var>   with --check-token: compare it with $<var>; a\n"
"                      difference is \"mismatch\" and exit status 1\n";

static const char usage_integration_enable[] =
"usage: etl-job integration enable <id>\n";

static const char usage_integration_disable[] =
"usage: etl-job integration disable <id>\n";

int etl_jobcli_usage_error(const char *usage, const char *path)
{
	fprintf(stderr, "%.*s\n", (int)strcspn(usage, "\n"), usage);
	fprintf(stderr, "Try '%s%s%s --help' for more information.\n",
		etl_progname(), *path ? " " : "", path);
	return ETL_USAGE;
}

int etl_jobcli_bad_option(int c, char **argv, const char *usage,
			  const char *path)
{
	const char *arg = argv[optind - 1];

	if (c == ':')
		etl_error("option '%s' needs a value", arg);
	else if (optopt && strncmp(arg, "--", 2))
		etl_error("unknown option '-%c'", optopt);
	else
		etl_error("unknown option '%s'", arg);
	return etl_jobcli_usage_error(usage, path);
}

int etl_jobcli_dispatch(struct etl_jobcli *cli, const struct etl_jobcli_cmd *cmds,
			size_t ncmds, const char *path, const char *usage,
			int argc, char **argv)
{
	if (argc < 1) {
		etl_error("missing command");
		return etl_jobcli_usage_error(usage, path);
	}
	for (size_t i = 0; i < ncmds; i++)
		if (!strcmp(argv[0], cmds[i].name))
			return cmds[i].fn(cli, argc, argv);
	if (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help"))
		etl_usage(usage, ETL_OK);
	etl_error("unknown command '%s'", argv[0]);
	return etl_jobcli_usage_error(usage, path);
}

/*
 * getopt_long for a subcommand, after opt_start(): handles --dsn and the
 * common options itself, reports bad ones (returning OPT_BAD), and returns
 * the others and -1 like getopt_long.
 */
static void opt_start(void)
{
	optind = 0;   /* glibc: rescan from argv[1] of a new vector */
	opterr = 0;
}

static int next_opt(struct etl_jobcli *cli, int argc, char **argv,
		    const char *shortopts, const struct option *longopts,
		    const char *usage, const char *path)
{
	for (;;) {
		int c = getopt_long(argc, argv, shortopts, longopts, NULL);

		if (c == 'd') {
			cli->dsn = etl_cli_secret_arg(optarg);
			continue;
		}
		if (c == '?' || c == ':') {
			etl_jobcli_bad_option(c, argv, usage, path);
			return OPT_BAD;
		}
		if (c != -1 && etl_cli_common(c, optarg, usage))
			continue;
		return c;
	}
}

/* Exactly @want operands left after the options, else a usage error. */
static int operands(int argc, int want, const char *usage, const char *path)
{
	if (argc - optind == want)
		return 0;
	etl_error(argc - optind < want ? "missing argument" : "too many arguments");
	return etl_jobcli_usage_error(usage, path);
}

static int parse_id(const char *s, int64_t *id)
{
	if (etl_parse_i64(s, id) < 0 || *id <= 0)
		return etl_error("invalid id '%s': expected a positive integer", s);
	return 0;
}

/* Columns of display width (UTF-8 code points, not bytes). */
static size_t width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* The table of etl_jobcli_print_rows(): each column as wide as its widest
 * cell, two spaces between columns, none after the last. */
static void print_table(const struct etl_db_res *r, const char *const *cols,
			const char *const *heads, size_t ncols)
{
	size_t *w = xcalloc(ncols ? ncols : 1, sizeof(*w));
	int nrows = etl_db_nrows(r);

	for (size_t c = 0; c < ncols; c++) {
		w[c] = width(heads[c]);
		for (int i = 0; i < nrows; i++) {
			const char *v = etl_db_value(r, i, cols[c]);
			size_t vw = width(v ? v : "-");

			if (vw > w[c])
				w[c] = vw;
		}
	}
	for (int i = -1; i < nrows; i++)
		for (size_t c = 0; c < ncols; c++) {
			const char *v = i < 0 ? heads[c] : etl_db_value(r, i, cols[c]);

			if (!v)
				v = "-";
			if (c + 1 == ncols)
				printf("%s\n", v);
			else
				printf("%s%*s  ", v, (int)(w[c] - width(v)), "");
		}
	free(w);
}

void etl_jobcli_print_rows(const struct etl_db_res *r, bool json,
			   const char *const *cols, const char *const *heads,
			   size_t ncols)
{
	if (json) {
		for (int i = 0; i < etl_db_nrows(r); i++)
			printf("%s\n", etl_db_value(r, i, "json"));
		return;
	}
	print_table(r, cols, heads, ncols);
}

/* migrate */

int etl_jobcli_migrate(struct etl_jobcli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'D' }, SUB_LONG, { NULL, 0, NULL, 0 } };
	const char *dir = NULL;
	struct etl_db *db;
	int c, code = ETL_OK;

	opt_start();
	while ((c = next_opt(cli, argc, argv, ":" SUB_SHORT, longopts,
			     usage_migrate, "migrate")) != -1)
		switch (c) {
		case 'D': dir = optarg; break;
		default: return ETL_USAGE;
		}
	if (operands(argc, 0, usage_migrate, "migrate"))
		return ETL_USAGE;
	db = etl_db_connect(cli->dsn, &code);
	if (!db)
		return code;
	if (etl_migrate(db, dir, etl_log_get_level() >= ETL_LOG_WARN ? stdout : NULL,
			&code) >= 0)
		code = ETL_OK;
	etl_db_close(db);
	return code;
}

/* tenant */

static int tenant_add(struct etl_jobcli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tier", required_argument, NULL, 't' }, SUB_LONG, { NULL, 0, NULL, 0 } };
	const char *tier = "free";
	struct etl_db *db;
	int64_t id;
	int c, code = ETL_OK;

	opt_start();
	while ((c = next_opt(cli, argc, argv, ":t:" SUB_SHORT, longopts,
			     usage_tenant_add, "tenant add")) != -1)
		switch (c) {
		case 't': tier = optarg; break;
		default: return ETL_USAGE;
		}
	if (operands(argc, 1, usage_tenant_add, "tenant add"))
		return ETL_USAGE;
	if (!etl_tenant_tier_valid(tier)) {
		etl_error("invalid tier '%s' (free, basic, premium or enterprise)", tier);
		return etl_jobcli_usage_error(usage_tenant_add, "tenant add");
	}
	db = etl_db_connect(cli->dsn, &code);
	if (!db)
		return code;
	if (etl_tenant_add(db, argv[optind], tier, &id, &code) == 0) {
		printf("%lld\n", (long long)id);
		code = ETL_OK;
	}
	etl_db_close(db);
	return code;
}

static int tenant_list(struct etl_jobcli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON }, SUB_LONG, { NULL, 0, NULL, 0 } };
	static const char *const cols[] = { "id", "name", "tier", "active", "created_at" };
	static const char *const heads[] = { "ID", "NAME", "TIER", "ACTIVE", "CREATED" };
	bool json = !isatty(STDOUT_FILENO);
	struct etl_db_res *r;
	struct etl_db *db;
	int c, code = ETL_OK;

	opt_start();
	while ((c = next_opt(cli, argc, argv, ":" SUB_SHORT, longopts,
			     usage_tenant_list, "tenant list")) != -1)
		switch (c) {
		case OPT_JSON: json = true; break;
		default: return ETL_USAGE;
		}
	if (operands(argc, 0, usage_tenant_list, "tenant list"))
		return ETL_USAGE;
	db = etl_db_connect(cli->dsn, &code);
	if (!db)
		return code;
	r = etl_tenant_list(db, &code);
	if (r != NULL) {
		etl_jobcli_print_rows(r, json, cols, heads, ETL_ARRAY_SIZE(cols));
		etl_db_clear(r);
		code = ETL_OK;
	}
	etl_db_close(db);
	return code;
}

int etl_jobcli_tenant(struct etl_jobcli *cli, int argc, char **argv)
{
	static const struct etl_jobcli_cmd cmds[] = {
		{ "add", tenant_add },
		{ "list", tenant_list },
	};

	return etl_jobcli_dispatch(cli, cmds, ETL_ARRAY_SIZE(cmds), "tenant",
				   usage_tenant, argc - 1, argv + 1);
}

/* integration */

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Split the comma-separated @s into items that each match @ok (upper-cased
 * when @upper).  0, or -1 after reporting the bad item.
 */
static int split_list(const char *s, const char *what, bool (*ok)(const char *),
		      bool upper, char ***out, size_t *n)
{
	const char *p = s;

	*out = NULL;
	*n = 0;
	for (;;) {
		size_t len = strcspn(p, ",");
		char *item = xstrndup(p, len);

		if (upper)
			for (char *q = item; *q; q++)
				*q = (char)toupper((unsigned char)*q);
		if (!ok(item)) {
			etl_error("invalid %s '%s' in '%s'", what, item, s);
			free(item);
			free_list(*out, *n);
			*out = NULL;
			*n = 0;
			return -1;
		}
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[(*n)++] = item;
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

/* Jira project keys: a letter, then letters, digits or underscores. */
static bool project_key_ok(const char *s)
{
	if (!isalpha((unsigned char)*s) || strlen(s) > 255)
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == strlen(s);
}

/* GitHub logins: letters, digits and inner hyphens, at most 39. */
static bool org_ok(const char *s)
{
	size_t len = strlen(s);

	return len > 0 && len <= 39 && s[0] != '-' && s[len - 1] != '-' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789-") == len;
}

static bool env_name_ok(const char *s)
{
	if (!*s || isdigit((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

/* http(s)://host..., with no credentials in it. */
static int check_base_url(const char *url)
{
	const char *host, *end;

	if (!strncmp(url, "https://", 8))
		host = url + 8;
	else if (!strncmp(url, "http://", 7))
		host = url + 7;
	else
		return etl_error("invalid base URL '%s': expected http:// or https://", url);
	end = host + strcspn(host, "/?#");
	if (end == host)
		return etl_error("invalid base URL '%s': no host", url);
	if (memchr(host, '@', (size_t)(end - host)))
		return etl_error("the base URL must not carry credentials: "
				 "pass the token with --token-env");
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= ' ')
			return etl_error("invalid base URL: it contains white space");
	return 0;
}

/* The value of environment variable @name, or NULL after reporting. */
static const char *token_from_env(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v) {
		etl_error("environment variable '%s' (--token-env) is not set", name);
		return NULL;
	}
	etl_log_add_secret(v);
	return v;
}

struct add_opts {
	const char *tenant, *provider, *base_url, *email, *token_env;
	const char *projects, *orgs, *repos;
};

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* Check @o, filling @in (copies): 0 ok, else the exit status (reported). */
static int add_validate(const struct add_opts *o, struct etl_integration *in)
{
	const char *path = "integration add", *base_url = o->base_url, *token;

	if (!o->tenant || !o->provider || !o->token_env) {
		etl_error("missing %s", !o->tenant ? "--tenant" :
			  !o->provider ? "--provider" : "--token-env");
		return etl_jobcli_usage_error(usage_integration_add, path);
	}
	if (!etl_integration_provider_valid(o->provider)) {
		etl_error("unknown provider '%s' (jira or github)", o->provider);
		return etl_jobcli_usage_error(usage_integration_add, path);
	}
	if (!base_url && !strcmp(o->provider, "github"))
		base_url = "https://api.github.com";
	if (!base_url) {
		etl_error("missing --base-url (the Jira site, https://<site>.atlassian.net)");
		return etl_jobcli_usage_error(usage_integration_add, path);
	}
	if (check_base_url(base_url) < 0)
		return etl_jobcli_usage_error(usage_integration_add, path);
	if (!strcmp(o->provider, "jira") ? (o->orgs || o->repos) : !!o->projects) {
		etl_error("%s applies to %s integrations only",
			  o->projects ? "--projects" : o->orgs ? "--orgs" : "--repos",
			  o->projects ? "jira" : "github");
		return etl_jobcli_usage_error(usage_integration_add, path);
	}
	if (o->email && (!*o->email || !strchr(o->email, '@'))) {
		etl_error("invalid e-mail '%s'", o->email);
		return etl_jobcli_usage_error(usage_integration_add, path);
	}
	if (o->repos && !*o->repos) {
		etl_error("empty --repos pattern");
		return etl_jobcli_usage_error(usage_integration_add, path);
	}
	if (!env_name_ok(o->token_env)) {
		etl_error("invalid environment variable name '%s'", o->token_env);
		return etl_jobcli_usage_error(usage_integration_add, path);
	}
	if ((o->projects && split_list(o->projects, "project key", project_key_ok,
				       true, &in->projects, &in->nprojects) < 0) ||
	    (o->orgs && split_list(o->orgs, "organisation", org_ok, false,
				   &in->orgs, &in->norgs) < 0))
		return etl_jobcli_usage_error(usage_integration_add, path);
	token = token_from_env(o->token_env);
	if (!token)
		return ETL_CONFIG;
	in->provider = xstrdup(o->provider);
	in->base_url = xstrdup(base_url);
	in->email = dup_or_null(o->email);
	in->repos_pattern = dup_or_null(o->repos);
	in->token = xstrdup(token);
	return ETL_OK;
}

static int integration_add(struct etl_jobcli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tenant", required_argument, NULL, OPT_TENANT },
		{ "provider", required_argument, NULL, OPT_PROVIDER },
		{ "base-url", required_argument, NULL, OPT_BASE_URL },
		{ "email", required_argument, NULL, OPT_EMAIL },
		{ "token-env", required_argument, NULL, OPT_TOKEN_ENV },
		{ "projects", required_argument, NULL, OPT_PROJECTS },
		{ "orgs", required_argument, NULL, OPT_ORGS },
		{ "repos", required_argument, NULL, OPT_REPOS },
		SUB_LONG, { NULL, 0, NULL, 0 } };
	struct add_opts o = { NULL };
	struct etl_integration in = ETL_INTEGRATION_INIT;
	struct etl_db *db = NULL;
	int64_t id;
	int c, code;

	opt_start();
	while ((c = next_opt(cli, argc, argv, ":" SUB_SHORT, longopts,
			     usage_integration_add, "integration add")) != -1)
		switch (c) {
		case OPT_TENANT: o.tenant = optarg; break;
		case OPT_PROVIDER: o.provider = optarg; break;
		case OPT_BASE_URL: o.base_url = etl_cli_secret_arg(optarg); break;
		case OPT_EMAIL: o.email = optarg; break;
		case OPT_TOKEN_ENV: o.token_env = optarg; break;
		case OPT_PROJECTS: o.projects = optarg; break;
		case OPT_ORGS: o.orgs = optarg; break;
		case OPT_REPOS: o.repos = optarg; break;
		default: return ETL_USAGE;
		}
	if (operands(argc, 0, usage_integration_add, "integration add"))
		return ETL_USAGE;
	code = add_validate(&o, &in);
	if (code != ETL_OK)
		goto out;
	db = etl_db_connect(cli->dsn, &code);
	if (!db)
		goto out;
	if (etl_tenant_resolve(db, o.tenant, &in.tenant_id, &code) < 0)
		goto out;
	if (etl_integration_add(db, &in, &id, &code) < 0)
		goto out;
	printf("%lld\n", (long long)id);
	code = ETL_OK;
out:
	etl_integration_release(&in);   /* wipes the token copy */
	etl_db_close(db);
	return code;
}

static int integration_list(struct etl_jobcli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tenant", required_argument, NULL, OPT_TENANT },
		{ "json", no_argument, NULL, OPT_JSON }, SUB_LONG, { NULL, 0, NULL, 0 } };
	static const char *const cols[] = { "id", "tenant", "provider", "base_url",
		"email", "scope", "repos", "active", "token" };
	static const char *const heads[] = { "ID", "TENANT", "PROVIDER", "BASE URL",
		"EMAIL", "PROJECTS/ORGS", "REPOS", "ACTIVE", "TOKEN" };
	bool json = !isatty(STDOUT_FILENO);
	const char *tenant = NULL;
	struct etl_db_res *r;
	struct etl_db *db;
	int c, code = ETL_OK;

	opt_start();
	while ((c = next_opt(cli, argc, argv, ":" SUB_SHORT, longopts,
			     usage_integration_list, "integration list")) != -1)
		switch (c) {
		case OPT_TENANT: tenant = optarg; break;
		case OPT_JSON: json = true; break;
		default: return ETL_USAGE;
		}
	if (operands(argc, 0, usage_integration_list, "integration list"))
		return ETL_USAGE;
	db = etl_db_connect(cli->dsn, &code);
	if (!db)
		return code;
	r = etl_integration_list(db, 0, tenant, &code);
	if (r != NULL) {
		etl_jobcli_print_rows(r, json, cols, heads, ETL_ARRAY_SIZE(cols));
		etl_db_clear(r);
		code = ETL_OK;
	}
	etl_db_close(db);
	return code;
}

/*
 * Decrypt integration @id's token through the library, as the workers
 * will, and compare it with $@env when given.  Returns the check's word
 * ("ok", "mismatch", "none") or NULL after reporting (*code set).
 */
static const char *check_token(struct etl_db *db, int64_t id, const char *env,
			       int *code)
{
	struct etl_integration in = ETL_INTEGRATION_INIT;
	const char *want = NULL, *word = NULL;

	if (env && !(want = token_from_env(env))) {
		*code = ETL_CONFIG;
		return NULL;
	}
	if (etl_integration_load(db, id, &in, code) < 0)
		return NULL;
	if (!in.token)
		word = "none";
	else if (want && !etl_secret_equal(in.token, want))
		word = "mismatch";
	else
		word = "ok";
	etl_integration_release(&in);
	return word;
}

static int integration_show(struct etl_jobcli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "check-token", no_argument, NULL, OPT_CHECK_TOKEN },
		{ "token-env", required_argument, NULL, OPT_TOKEN_ENV },
		SUB_LONG, { NULL, 0, NULL, 0 } };
	const char *path = "integration show", *env = NULL, *word = NULL, *json;
	bool check = false;
	struct etl_db_res *r = NULL;
	struct etl_db *db = NULL;
	int64_t id;
	int c, code = ETL_OK;

	opt_start();
	while ((c = next_opt(cli, argc, argv, ":" SUB_SHORT, longopts,
			     usage_integration_show, path)) != -1)
		switch (c) {
		case OPT_CHECK_TOKEN: check = true; break;
		case OPT_TOKEN_ENV: env = optarg; break;
		default: return ETL_USAGE;
		}
	if (operands(argc, 1, usage_integration_show, path))
		return ETL_USAGE;
	if (parse_id(argv[optind], &id) < 0)
		return etl_jobcli_usage_error(usage_integration_show, path);
	if (env && !check) {
		etl_error("--token-env needs --check-token");
		return etl_jobcli_usage_error(usage_integration_show, path);
	}
	db = etl_db_connect(cli->dsn, &code);
	if (!db)
		return code;
	r = etl_integration_list(db, id, NULL, &code);
	if (!r)
		goto out;
	if (etl_db_nrows(r) == 0) {
		etl_error("unknown integration %lld", (long long)id);
		code = ETL_NOINPUT;
		goto out;
	}
	if (check) {
		word = check_token(db, id, env, &code);
		if (!word)
			goto out;
	}
	json = etl_db_value(r, 0, "json");
	if (word)   /* splice one member before the closing brace */
		printf("%.*s, \"token_check\" : \"%s\"}\n", (int)strlen(json) - 1,
		       json, word);
	else
		printf("%s\n", json);
	code = word && !strcmp(word, "mismatch") ? ETL_NOTHING : ETL_OK;
out:
	etl_db_clear(r);
	etl_db_close(db);
	return code;
}

static int integration_set_active(struct etl_jobcli *cli, int argc, char **argv,
				  bool active)
{
	static const struct option longopts[] = { SUB_LONG, { NULL, 0, NULL, 0 } };
	const char *usage = active ? usage_integration_enable : usage_integration_disable;
	const char *path = active ? "integration enable" : "integration disable";
	struct etl_db *db;
	int64_t id;
	int code = ETL_OK;

	opt_start();
	/* No options of its own: next_opt() returns -1 or OPT_BAD. */
	if (next_opt(cli, argc, argv, ":" SUB_SHORT, longopts, usage, path) != -1)
		return ETL_USAGE;
	if (operands(argc, 1, usage, path))
		return ETL_USAGE;
	if (parse_id(argv[optind], &id) < 0)
		return etl_jobcli_usage_error(usage, path);
	db = etl_db_connect(cli->dsn, &code);
	if (!db)
		return code;
	if (etl_integration_set_active(db, id, active, &code) == 0)
		code = ETL_OK;
	etl_db_close(db);
	return code;
}

static int integration_enable(struct etl_jobcli *cli, int argc, char **argv)
{
	return integration_set_active(cli, argc, argv, true);
}

static int integration_disable(struct etl_jobcli *cli, int argc, char **argv)
{
	return integration_set_active(cli, argc, argv, false);
}

int etl_jobcli_integration(struct etl_jobcli *cli, int argc, char **argv)
{
	static const struct etl_jobcli_cmd cmds[] = {
		{ "add", integration_add },
		{ "list", integration_list },
		{ "show", integration_show },
		{ "enable", integration_enable },
		{ "disable", integration_disable },
	};

	return etl_jobcli_dispatch(cli, cmds, ETL_ARRAY_SIZE(cmds), "integration",
				   usage_integration, argc - 1, argv + 1);
}
