#!/bin/bash
# Runs a Criterion test binary so that a skipped case is a skip, not a
# pass: Criterion's cr_skip_test() exits 0. Exit status: the binary's when
# it failed; 77 (meson's skip), after printing each skipped case and why,
# when any case skipped; 0 when every case ran and passed.
# Usage: criterion-run.sh BINARY [ARGS...]
tap=$(mktemp /tmp/zs-criterion.XXXXXX)
trap 'rm -f "$tap"' EXIT
"$@" --tap="$tap"
rc=$?
[ "$rc" = 0 ] || exit "$rc"
# "test was skipped" is what Criterion reports for a case --filter left out
skipped=$(grep -E '^ok .*# SKIP' "$tap" | grep -v '# SKIP test was skipped$')
if [ -n "$skipped" ]; then
	echo "SKIP: $(printf '%s\n' "$skipped" | wc -l) case(s) of $(basename "$1") skipped:" >&2
	printf '%s\n' "$skipped" | sed 's/^ok - /  /; s/  *# SKIP / -- /' >&2
	exit 77
fi
exit 0
