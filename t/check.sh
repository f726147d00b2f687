#!/bin/sh
# NAME
#	check.sh - install the dependencies, build from scratch, run make check
# SYNOPSIS
#	sh t/check.sh			(as root on Debian 12, from the source tree)
# DESCRIPTION
#	The README's test command and what CI runs.  Installs every package
#	the build and the tests need (t/deps.sh), builds with
#	autoreconf -fi && ./configure && make, runs make check (unit tests,
#	the -t gate tests, and end-to-end tests against a private Postfix on
#	loopback), and ends with one line "N passed, N failed" counted over
#	every test point.  Exit status: that of make check.
set -eu
cd "$(dirname "$0")/.."
sh t/deps.sh
autoreconf -fi
./configure --enable-werror ${CONFIGURE_FLAGS:-}
make -j"$(nproc)"
rc=0
make -j"$(nproc)" check || rc=$?
if [ "$rc" -ne 0 ]; then
	for log in t/*.log; do
		[ "$log" = t/test-suite.log ] && continue
		if grep -q '^not ok\|^Bail out' "$log" 2>/dev/null; then
			echo "==== $log"
			tail -n 60 "$log"
		fi
	done
fi
passed=$(cat t/*.trs 2>/dev/null | grep -c '^:test-result: \(PASS\|XFAIL\)' || true)
failed=$(cat t/*.trs 2>/dev/null | grep -c '^:test-result: \(FAIL\|XPASS\|ERROR\)' || true)
skipped=$(cat t/*.trs 2>/dev/null | grep -c '^:test-result: SKIP' || true)
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
	failed=1 # make check failed before or outside the tests
fi
echo "$passed passed, $failed failed, $skipped skipped"
exit "$rc"
