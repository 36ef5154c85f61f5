#!/usr/bin/env bats
# The library's unit programs (tests/unit/*.c): each prints TAP and exits 0
# only when every check passed.

setup() { load test_helper; }

@test "library unit tests: message contract, JSON scanner, tokens, NDJSON reader" {
	run -0 "$ETL_UNIT_DIR/test_message"
	refute_output --partial "not ok"
	assert_output --regexp "1\.\.[0-9]+"
}

@test "library unit tests: log format, secret masking, URL redaction" {
	run -0 "$ETL_UNIT_DIR/test_log"
	refute_output --partial "not ok"
}

@test "library unit tests: flat JSON documents for API responses" {
	run -0 "$ETL_UNIT_DIR/test_jdoc"
	refute_output --partial "not ok"
}

@test "library unit tests: workflow metrics of named histories" {
	run -0 "$ETL_UNIT_DIR/test_metrics"
	refute_output --partial "not ok"
}

@test "library unit tests: plain text from Atlassian Document Format" {
	run -0 "$ETL_UNIT_DIR/test_adf"
	refute_output --partial "not ok"
}

@test "library unit tests: the empty string through every string accessor" {
	run -0 "$ETL_UNIT_DIR/test_empty"
	refute_output --partial "not ok"
	assert_output --regexp "1\.\.[0-9]+"
}
