#!/usr/bin/env bats
# etl-job: migrations, tenants and integrations against a real PostgreSQL.

# Every table of DESIGN.md "Data".
TABLES="tenants integrations etl_jobs etl_job_runs raw_extraction_data custom_fields
custom_fields_mapping projects_custom_fields projects wits statuses status_mappings
projects_wits projects_statuses work_items changelogs work_items_prs_links repositories
prs prs_commits prs_reviews prs_comments qdrant_vectors vectors"

# use_db NAME [TEMPLATE], q SQL: tests/test_helper.bash.

setup_file() {
	load test_helper
	start_pg
	# Every test that needs the schema starts from a copy of this one.
	use_db etl_tmpl
	etl-job -q migrate
	export ETL_SECRET_KEY="test-key-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
}

teardown_file() { stop_all; }

setup() {
	load test_helper
	unset ETL_SQL_DIR
	use_db "t$BATS_TEST_NUMBER" etl_tmpl
}

@test "migrate: applies every file on a fresh database, a second run is a no-op" {
	use_db fresh
	nfiles=$(ls "$ETL_TEST_ROOT"/share/sql/[0-9]*.sql | wc -l)
	run -0 --separate-stderr etl-job migrate
	assert_line --index 0 --regexp '^applied 0001_[a-z_]+\.sql \([0-9]+ ms\)$'
	[ "${#lines[@]}" -eq "$nfiles" ]
	run -0 q "SELECT count(*) FROM schema_migrations"
	assert_output "$nfiles"
	before=$(q "SELECT string_agg(version || name || checksum || applied_at, ',' ORDER BY version) FROM schema_migrations")
	run -0 --separate-stderr etl-job migrate
	assert_output "schema is up to date"
	[ -z "$stderr" ]
	[ "$(q "SELECT string_agg(version || name || checksum || applied_at, ',' ORDER BY version) FROM schema_migrations")" = "$before" ]
	# The checksum is the file's SHA-256.
	run -0 q "SELECT checksum FROM schema_migrations WHERE version = 1"
	assert_output "$(sha256sum "$ETL_TEST_ROOT"/share/sql/0001_*.sql | cut -d' ' -f1)"
}

@test "schema: every table of DESIGN.md exists" {
	run -0 q "SELECT string_agg(t, ' ' ORDER BY t) FROM unnest(string_to_array(
		regexp_replace('$TABLES', '\s+', ' ', 'g'), ' ')) AS t
		WHERE t NOT IN (SELECT table_name FROM information_schema.tables
				WHERE table_schema = 'public' AND table_type = 'BASE TABLE')"
	assert_output ""
	[ "$(q "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'
		AND table_type = 'BASE TABLE'")" -ge 25 ]
}

@test "schema: tenant_id in every business table, every unique key and every foreign key" {
	# Every table but tenants and schema_migrations has tenant_id NOT NULL, referencing tenants.
	run -0 q "SELECT string_agg(c.relname, ' ') FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind = 'r'
		AND c.relname NOT IN ('tenants', 'schema_migrations')
		AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
			AND a.attname = 'tenant_id' AND a.attnotnull)"
	assert_output ""
	run -0 q "SELECT string_agg(c.relname, ' ') FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind = 'r'
		AND c.relname NOT IN ('tenants', 'schema_migrations')
		AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid
			AND k.contype = 'f' AND k.confrelid = 'tenants'::regclass)"
	assert_output ""
	# Unique indexes (primary keys and unique constraints included) lacking tenant_id.
	run -0 q "SELECT string_agg(c.relname || '.' || i.relname, ' ') FROM pg_index x
		JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND x.indisunique
		AND c.relname NOT IN ('tenants', 'schema_migrations')
		AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
			AND a.attname = 'tenant_id' AND a.attnum = ANY (x.indkey))"
	assert_output ""
	[ "$(q "SELECT count(*) FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND x.indisunique")" -ge 40 ]
	# Foreign keys between business tables carry tenant_id: no cross-tenant references.
	run -0 q "SELECT string_agg(k.conname, ' ') FROM pg_constraint k
		JOIN pg_class c ON c.oid = k.conrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND k.contype = 'f'
		AND k.confrelid <> 'tenants'::regclass
		AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
			AND a.attname = 'tenant_id' AND a.attnum = ANY (k.conkey))"
	assert_output ""
}

@test "schema: a row cannot reference another tenant's row" {
	q "INSERT INTO tenants (id, name) VALUES (1, 'a'), (2, 'b');
	   INSERT INTO integrations (id, tenant_id, provider, base_url)
		VALUES (10, 1, 'jira', 'https://a.test')"
	run -0 q "INSERT INTO etl_jobs (tenant_id, integration_id, name) VALUES (1, 10, 'ok')
		RETURNING status->>'overall'"
	assert_output NOT_STARTED
	run ! q "INSERT INTO etl_jobs (tenant_id, integration_id, name) VALUES (2, 10, 'x')"
	assert_output --partial "violates foreign key constraint"
	# Removing a tenant removes its data.
	q "DELETE FROM tenants WHERE id = 1"
	run -0 q "SELECT (SELECT count(*) FROM integrations) + (SELECT count(*) FROM etl_jobs)"
	assert_output 0
}

@test "schema: the seed's columns, upsert keys and raw bytes" {
	run -0 q "SELECT count(*) FROM information_schema.columns WHERE table_name = 'work_items'
		AND column_name ~ '^custom_field_(0[1-9]|1[0-9]|20)$' AND data_type = 'text'"
	assert_output 20
	run -0 q "SELECT count(*) FROM information_schema.columns
		WHERE table_name = 'custom_fields_mapping' AND column_name ~ '^custom_field_[0-9]{2}_id$'"
	assert_output 20
	run -0 q "SELECT count(*) FROM pg_constraint WHERE contype = 'f'
		AND conrelid = 'custom_fields_mapping'::regclass
		AND confrelid = 'custom_fields'::regclass"
	assert_output 23
	metrics="work_first_committed_at work_first_started_at work_last_started_at
		work_first_completed_at work_last_completed_at total_work_starts total_completions
		total_backlog_returns total_work_time_seconds total_review_time_seconds
		total_cycle_time_seconds total_lead_time_seconds workflow_complexity_score
		rework_indicator direct_completion"
	for m in $metrics; do
		run -0 q "SELECT count(*) FROM information_schema.columns
			WHERE table_name = 'work_items' AND column_name = '$m'"
		assert_output 1
	done
	run -0 q "SELECT data_type FROM information_schema.columns
		WHERE table_name = 'raw_extraction_data' AND column_name = 'raw_data'"
	assert_output bytea
	run -0 q "SELECT count(*) FROM pg_indexes WHERE tablename = 'work_items'
		AND indexdef LIKE '%USING gin (custom_fields_overflow%'"
	assert_output 1
	q "INSERT INTO tenants (id, name) VALUES (1, 'a');
	   INSERT INTO integrations (id, tenant_id, provider, base_url)
		VALUES (1, 1, 'jira', 'https://a.test')"
	# The upsert key of the transform: a second insert of an issue updates it.
	for s in first second; do
		q "INSERT INTO work_items (tenant_id, integration_id, external_id, key, summary)
		   VALUES (1, 1, '10001', 'P-1', '$s')
		   ON CONFLICT (tenant_id, integration_id, external_id)
		   DO UPDATE SET summary = excluded.summary"
	done
	run -0 q "SELECT count(*) || summary FROM work_items GROUP BY summary"
	assert_output 1second
	# A response with a NUL escape and invalid UTF-8 is kept byte for byte.
	run -0 q "INSERT INTO raw_extraction_data (tenant_id, integration_id, type, provider,
		raw_data) VALUES (1, 1, 'jira_issues_with_changelogs', 'jira',
		'\\x7b2261223a225c7530303030ff227d'::bytea)
		RETURNING encode(raw_data, 'hex') || ' ' || raw_size"
	assert_output "7b2261223a225c7530303030ff227d 15"
	# Statuses map to workflow steps by default, and explicitly when mapped.
	q "INSERT INTO statuses (id, tenant_id, integration_id, external_id, name, category)
	   VALUES (1, 1, 1, '1', 'Backlog', 'new'), (2, 1, 1, '2', 'In Review', 'indeterminate'),
		  (3, 1, 1, '3', 'Doing', 'indeterminate'), (4, 1, 1, '4', 'Done', 'done');
	   INSERT INTO status_mappings (tenant_id, integration_id, status_id, workflow_step)
	   VALUES (1, 1, 3, 'review')"
	run -0 q "SELECT string_agg(name || '=' || workflow_step, ',' ORDER BY status_id)
		FROM status_workflow_steps"
	assert_output "Backlog=backlog,In Review=review,Doing=review,Done=done"
}

@test "migrate: a failing migration rolls back whole and names the file and line" {
	use_db fresh
	d=$BATS_TEST_TMPDIR/sql
	mkdir -p "$d"
	echo 'CREATE TABLE good_one (id int);' >"$d/0001_good.sql"
	printf '%s\n' '-- half of this must not survive' 'CREATE TABLE half_done (id int);' \
		'INSERT INTO half_done VALUES (1);' 'CRATE TABLE broken (id int);' >"$d/0002_bad.sql"
	run --separate-stderr etl-job migrate --dir "$d"
	[ "$status" -ne 0 ]
	[ "$status" -ne 1 ]
	[[ $stderr == *"migration '0002_bad.sql' failed at line 4: syntax error at or near \"CRATE\""* ]]
	[[ $stderr == *"rolled back"* ]]
	assert_output "applied 0001_good.sql ($(echo "$output" | sed -n 's/.*(\([0-9]*\) ms)/\1/p') ms)"
	run -0 q "SELECT to_regclass('good_one') IS NOT NULL, to_regclass('half_done') IS NULL,
		(SELECT string_agg(name, ',') FROM schema_migrations)"
	assert_output "t|t|0001_good.sql"
	# Fixed, it applies.
	sed -i 's/^CRATE/CREATE/' "$d/0002_bad.sql"
	run -0 etl-job migrate --dir "$d"
	assert_output --regexp '^applied 0002_bad\.sql'
	run -0 q "SELECT count(*) FROM half_done"
	assert_output 1
}

@test "migrate: an applied file that changed is a warning; bad directories are errors" {
	use_db fresh
	d=$BATS_TEST_TMPDIR/sql
	mkdir -p "$d"
	echo 'CREATE TABLE a (id int);' >"$d/0001_a.sql"
	run -0 etl-job migrate --dir "$d"
	echo '-- edited later' >>"$d/0001_a.sql"
	run -0 --separate-stderr etl-job migrate --dir "$d"
	assert_output "schema is up to date"
	[[ $stderr == *"warning: migration '0001_a.sql' changed after it was applied"* ]]
	run -66 --separate-stderr etl-job migrate --dir "$BATS_TEST_TMPDIR/none"
	[[ $stderr == *"cannot open migrations directory"* ]]
	mkdir "$d/empty"
	run -66 --separate-stderr etl-job migrate --dir "$d/empty"
	[[ $stderr == *"no migrations"* ]]
	cp "$d/0001_a.sql" "$d/0001_b.sql"
	run -78 --separate-stderr etl-job migrate --dir "$d"
	[[ $stderr == *"same version"* ]]
}

@test "migrate: concurrent runs serialize on the advisory lock" {
	use_db fresh
	nfiles=$(ls "$ETL_TEST_ROOT"/share/sql/[0-9]*.sql | wc -l)
	pids=()
	for i in 1 2 3 4; do
		etl-job migrate >"$BATS_TEST_TMPDIR/m$i.out" 2>"$BATS_TEST_TMPDIR/m$i.err" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p" || { cat "$BATS_TEST_TMPDIR"/m*.err; false; }
	done
	run -0 q "SELECT count(*) FROM schema_migrations"
	assert_output "$nfiles"
	[ "$(cat "$BATS_TEST_TMPDIR"/m*.out | grep -c '^applied')" -eq "$nfiles" ]
	[ "$(cat "$BATS_TEST_TMPDIR"/m*.out | grep -c '^schema is up to date$')" -eq 3 ]
}

@test "migrate: default directory is ../share/sql next to the binary, ETL_SQL_DIR and --dir override" {
	use_db fresh
	root=$BATS_TEST_TMPDIR/inst
	mkdir -p "$root/bin" "$root/share/sql" "$root/env" "$root/flag"
	cp "$(command -v etl-job)" "$root/bin/etl-job"
	echo 'CREATE TABLE from_default (id int);' >"$root/share/sql/0001_default.sql"
	echo 'CREATE TABLE from_env (id int);' >"$root/env/0001_env.sql"
	echo 'CREATE TABLE from_flag (id int);' >"$root/flag/0001_flag.sql"
	run -0 "$root/bin/etl-job" migrate
	assert_output --regexp '^applied 0001_default\.sql'
	use_db fresh2
	ETL_SQL_DIR=$root/env run -0 "$root/bin/etl-job" migrate
	assert_output --regexp '^applied 0001_env\.sql'
	use_db fresh3
	ETL_SQL_DIR=$root/env run -0 "$root/bin/etl-job" migrate --dir "$root/flag"
	assert_output --regexp '^applied 0001_flag\.sql'
}

@test "tenant add prints the id alone; list is NDJSON off a terminal" {
	run -0 --separate-stderr etl-job tenant add acme
	assert_output --regexp '^[0-9]+$'
	acme=$output
	run -0 --separate-stderr etl-job tenant add "Globex Corp" --tier premium
	assert_output --regexp '^[0-9]+$'
	run -0 q "SELECT string_agg(name || ':' || tier || ':' || active, ',' ORDER BY id) FROM tenants"
	assert_output "acme:free:true,Globex Corp:premium:true"
	run -0 --separate-stderr etl-job tenant list
	[ "${#lines[@]}" -eq 2 ]
	run -0 jq -sc 'map([.id, .name, .tier, .active])' <<<"$output"
	assert_output "[[$acme,\"acme\",\"free\",true],[$((acme + 1)),\"Globex Corp\",\"premium\",true]]"
	# A terminal gets a table.
	run -0 script -qec "etl-job tenant list" /dev/null
	assert_line --index 0 --regexp '^ID +NAME +TIER +ACTIVE +CREATED'
	assert_output --partial "Globex Corp"
}

@test "tenant add: a duplicate is 65, a bad tier or missing name 64" {
	run -0 etl-job tenant add acme
	run -65 --separate-stderr etl-job tenant add acme
	[[ $stderr == *"tenant 'acme' already exists"* ]]
	[ -z "$output" ]
	run -64 --separate-stderr etl-job tenant add other --tier gold
	[[ $stderr == *"invalid tier 'gold'"* ]]
	[[ $stderr == *"Try 'etl-job tenant add --help'"* ]]
	run -64 etl-job tenant add
	run -64 etl-job tenant add a b
	run -65 etl-job tenant add ""
	run -0 q "SELECT count(*) FROM tenants"
	assert_output 1
}

@test "integration add: the token comes from the environment, is stored encrypted and never printed" {
	tenant=$(etl-job tenant add acme)
	export JIRA_TOKEN="ATATT3x-$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
	run -0 --separate-stderr etl-job -vv integration add --tenant acme --provider jira \
		--base-url https://acme.atlassian.net --email bot@acme.test --token-env JIRA_TOKEN \
		--projects abc,DEF
	assert_output --regexp '^[0-9]+$'
	id=$output
	[[ $stderr != *"$JIRA_TOKEN"* ]]
	run -0 q "SELECT tenant_id || ' ' || provider || ' ' || array_to_string(projects, ',') || ' '
		|| (token_encrypted LIKE 'v1:%') FROM integrations WHERE id = $id"
	assert_output "$tenant jira ABC,DEF true"
	# Not in the column, nor anywhere in the database.
	run -0 q "SELECT count(*) FROM integrations WHERE token_encrypted LIKE '%' || '$JIRA_TOKEN' || '%'"
	assert_output 0
	run -0 pg_dump -a
	refute_output --partial "$JIRA_TOKEN"
	run -0 --separate-stderr etl-job integration show "$id"
	refute_output --partial "$JIRA_TOKEN"
	[[ $stderr != *"$JIRA_TOKEN"* ]]
	run -0 jq -c '[.token, .provider, .base_url, .email, .projects, .active]' <<<"$output"
	assert_output '["(set)","jira","https://acme.atlassian.net","bot@acme.test",["ABC","DEF"],true]'
	run -0 --separate-stderr etl-job integration list
	refute_output --partial "$JIRA_TOKEN"
	run -0 jq -r .token <<<"$output"
	assert_output "(set)"
	# The token reaches etl-job through the environment only: nothing on the
	# command line carries it, so ps cannot show it.
}

@test "integration show --check-token: the library decrypts the token back" {
	etl-job tenant add acme >/dev/null
	export GH_TOKEN="ghp_$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')"
	id=$(etl-job integration add --tenant acme --provider github --token-env GH_TOKEN \
		--orgs my-org,other --repos 'api-*')
	run -0 --separate-stderr etl-job integration show "$id" --check-token --token-env GH_TOKEN
	refute_output --partial "$GH_TOKEN"
	run -0 jq -c '[.token, .token_check, .base_url, .orgs, .repos]' <<<"$output"
	assert_output '["(set)","ok","https://api.github.com",["my-org","other"],"api-*"]'
	OTHER_TOKEN="${GH_TOKEN}x" run -1 --separate-stderr etl-job integration show "$id" \
		--check-token --token-env OTHER_TOKEN
	run -0 jq -r .token_check <<<"$output"
	assert_output mismatch
	run -0 etl-job integration show "$id" --check-token
	run -0 jq -r .token_check <<<"$output"
	assert_output ok
}

@test "integration: a wrong or missing ETL_SECRET_KEY is a clear configuration error (78)" {
	etl-job tenant add acme >/dev/null
	export TOK=tok-0123456789-abcdef
	id=$(etl-job integration add --tenant acme --provider jira --base-url https://a.test \
		--token-env TOK)
	ETL_SECRET_KEY=another-key-0123456789 run -78 --separate-stderr \
		etl-job integration show "$id" --check-token
	[[ $stderr == *"ETL_SECRET_KEY is not the key it was encrypted with"* ]]
	[ -z "$output" ]
	run -78 --separate-stderr env -u ETL_SECRET_KEY etl-job integration show "$id" --check-token
	[[ $stderr == *"error: ETL_SECRET_KEY is not set"* ]]
	run -78 --separate-stderr env -u ETL_SECRET_KEY etl-job integration add --tenant acme \
		--provider jira --base-url https://a.test --token-env TOK
	[[ $stderr == *"error: ETL_SECRET_KEY is not set"* ]]
	ETL_SECRET_KEY=short run -78 --separate-stderr etl-job integration add --tenant acme \
		--provider jira --base-url https://a.test --token-env TOK
	[[ $stderr == *"ETL_SECRET_KEY is too short"* ]]
	run -0 q "SELECT count(*) FROM integrations"
	assert_output 1
	# A damaged ciphertext is refused the same way.
	q "UPDATE integrations SET token_encrypted = overlay(token_encrypted PLACING
		CASE WHEN substr(token_encrypted, 12, 1) = 'A' THEN 'B' ELSE 'A' END FROM 12 FOR 1)"
	run -78 --separate-stderr etl-job integration show "$id" --check-token
	[[ $stderr == *"or the value was altered"* ]]
}

@test "integration enable/disable" {
	etl-job tenant add acme >/dev/null
	export TOK=tok-0123456789-abcdef
	id=$(etl-job integration add --tenant acme --provider jira --base-url https://a.test \
		--token-env TOK)
	run -0 etl-job integration disable "$id"
	run -0 q "SELECT active FROM integrations WHERE id = $id"
	assert_output f
	run -0 etl-job integration show "$id"
	run -0 jq -r .active <<<"$output"
	assert_output false
	run -0 etl-job integration enable "$id"
	run -0 q "SELECT active FROM integrations WHERE id = $id"
	assert_output t
	run -66 --separate-stderr etl-job integration disable 999
	[[ $stderr == *"unknown integration 999"* ]]
	run -66 etl-job integration show 999
	run -64 etl-job integration enable x
	run -64 etl-job integration enable
}

@test "integration add: bad input exits 64, 66 or 78 and stores nothing" {
	etl-job tenant add acme >/dev/null
	export TOK=tok-0123456789-abcdef
	run -66 --separate-stderr etl-job integration add --tenant nobody --provider jira \
		--base-url https://a.test --token-env TOK
	[[ $stderr == *"unknown tenant 'nobody'"* ]]
	run -66 etl-job integration add --tenant 4242 --provider jira --base-url https://a.test \
		--token-env TOK
	run -64 --separate-stderr etl-job integration add --tenant acme --provider gitlab \
		--token-env TOK
	[[ $stderr == *"unknown provider 'gitlab'"* ]]
	run -78 --separate-stderr etl-job integration add --tenant acme --provider jira \
		--base-url https://a.test --token-env NO_SUCH_VAR_X
	[[ $stderr == *"'NO_SUCH_VAR_X' (--token-env) is not set"* ]]
	run -64 etl-job integration add --tenant acme --provider jira --base-url https://a.test
	run -64 etl-job integration add --provider jira --base-url https://a.test --token-env TOK
	run -64 etl-job integration add --tenant acme --provider jira --token-env TOK
	run -64 etl-job integration add --tenant acme --provider jira --base-url ftp://a.test \
		--token-env TOK
	run -64 --separate-stderr etl-job integration add --tenant acme --provider jira \
		--base-url https://me:hunter2pass@a.test --token-env TOK
	[[ $stderr != *hunter2pass* ]]
	run -64 etl-job integration add --tenant acme --provider jira --base-url https://a.test \
		--token-env TOK --orgs x
	run -64 etl-job integration add --tenant acme --provider github --token-env TOK \
		--projects ABC
	run -64 etl-job integration add --tenant acme --provider jira --base-url https://a.test \
		--token-env TOK --projects 'A B'
	run -64 etl-job integration add --tenant acme --provider jira --base-url https://a.test \
		--token-env TOK --projects ABC,
	run -64 etl-job integration add --tenant acme --provider github --token-env TOK \
		--orgs -bad-
	run -64 etl-job integration add --tenant acme --provider jira --base-url https://a.test \
		--token-env 'TOK;x'
	run -64 etl-job integration add --tenant acme --provider jira --base-url https://a.test \
		--token-env TOK extra
	run -0 q "SELECT count(*) FROM integrations"
	assert_output 0
}

@test "etl-job: commands, options and --dsn" {
	run -64 --separate-stderr etl-job frobnicate
	[[ $stderr == *"unknown command 'frobnicate'"* ]]
	[[ $stderr == *"Try 'etl-job --help' for more information."* ]]
	run -64 --separate-stderr etl-job
	[[ $stderr == *"Try 'etl-job --help'"* ]]
	run -64 --separate-stderr etl-job integration frob
	[[ $stderr == *"Try 'etl-job integration --help'"* ]]
	run -64 --separate-stderr etl-job migrate --bogus
	[[ $stderr == *"unknown option '--bogus'"* ]]
	run -64 --separate-stderr etl-job migrate --dir
	[[ $stderr == *"option '--dir' needs a value"* ]]
	for sub in migrate "tenant add" "tenant list" "integration add" "integration list" \
		"integration show" "integration enable" "integration disable"; do
		run -0 --separate-stderr etl-job $sub --help
		assert_line --index 0 --regexp "^usage: etl-job $sub"
		[ -z "$stderr" ]
	done
	# --dsn overrides ETL_DATABASE_URL; a password in it never reaches stderr.
	good=$ETL_DATABASE_URL
	ETL_DATABASE_URL="postgresql://nobody:s3cretpw@127.0.0.1:1/x" run -0 \
		etl-job --dsn "$good" tenant list
	run -69 --separate-stderr etl-job tenant list --dsn "postgresql://u:s3cretpw@127.0.0.1:1/x"
	[[ $stderr == *"cannot connect to PostgreSQL"* ]]
	[[ $stderr != *s3cretpw* ]]
	run -69 --separate-stderr etl-job --dsn "host=127.0.0.1 port=1 password=s3cretpw" tenant list
	[[ $stderr != *s3cretpw* ]]
	run -78 --separate-stderr etl-job --dsn "bogus_option=1" tenant list
	# The PG* variables alone are enough.
	PGDATABASE=$PGDATABASE ETL_DATABASE_URL= run -0 etl-job tenant list
	# --config supplies settings below the environment.
	echo "ETL_DATABASE_URL=$good" >"$BATS_TEST_TMPDIR/etl.conf"
	ETL_DATABASE_URL= PGPORT=1 run -0 etl-job --config "$BATS_TEST_TMPDIR/etl.conf" tenant list
}

@test "man page: lints clean and documents every option of --help" {
	man=$ETL_TEST_ROOT/man/etl-job.1
	run -0 groff -man -ww -z "$man"
	assert_output ""
	opts=$(for sub in "" migrate "tenant add" "tenant list" "integration add" \
		"integration list" "integration show"; do
		etl-job $sub --help
	done | grep -o -- '--[a-z][a-z-]*' | sort -u)
	for o in $opts; do
		grep -qF -- "$(sed 's/-/\\-/g' <<<"$o")" "$man" || fail "$o is not in man/etl-job.1"
	done
}
