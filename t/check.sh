#!/bin/sh
# NAME
#	check.sh - install the dependencies, build from scratch, run make check
# SYNOPSIS
#	sh t/check.sh			(as root on Debian 12, from the source tree)
# DESCRIPTION
#	The README's test command and what CI runs.  Installs every package
#	the build and the tests need (t/deps.sh), builds with
#	autoreconf -fi && ./configure && make, and runs make check (unit
#	tests, the -t tests, end-to-end tests against a private Postfix on
#	loopback), all built with gcc.  Then, unless SANITIZE=no, builds a
#	copy of the tree with clang, AddressSanitizer and
#	UndefinedBehaviorSanitizer, and runs the whole
#	make check again under them (leak checking included), and builds a
#	third copy with ThreadSanitizer to run the concurrency test
#	(t/test_threads.c).  Ends with one
#	line "N passed, N failed" counted over every test point of both runs.
#	Exit status: non-zero when either run failed.
#
#	The tests run programs as nobody, who must reach the build tree: a
#	checkout inside a private directory (mode 0700, as mktemp -d makes
#	one) is built and checked in a copy under TMPDIR instead, kept when
#	a test failed.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
sh t/deps.sh

# copy_tree: a fresh copy of the sources in a new directory that anyone
# may enter, under TMPDIR; prints its path.  NAME: part of its name.
copy_tree() {
	dest=$(mktemp -d "${TMPDIR:-/tmp}/openpgp-milter-$1.XXXXXX")
	chmod 755 "$dest"
	if [ -d .git ]; then
		git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$dest"
	else
		tar --exclude=./t/run --exclude=./t/fixtures -cf - . |
		    tar -xf - -C "$dest"
		(cd "$dest" && make distclean >/dev/null 2>&1 || :)
	fi
	echo "$dest"
}

# run_check DIR LABEL: make check in DIR; adds to passed/failed/status.
passed=0 failed=0 status=0
run_check() {
	rc=0
	(cd "$1" && make -j"$(nproc)" check) || rc=$?
	p=$(cat "$1"/t/*.trs 2>/dev/null | grep -c '^:test-result: \(PASS\|XFAIL\)' || true)
	f=$(cat "$1"/t/*.trs 2>/dev/null | grep -c '^:test-result: \(FAIL\|XPASS\|ERROR\)' || true)
	if [ "$rc" -ne 0 ]; then
		for log in "$1"/t/*.log; do
			case $log in */test-suite.log) continue ;; esac
			if grep -q '^not ok\|^Bail out\|^ERROR:' "$log" 2>/dev/null; then
				echo "==== $2: $log"
				tail -n 60 "$log"
			fi
		done
		[ "$f" -eq 0 ] && f=1 # make check failed outside the tests
		status=1
	fi
	echo "$2: $p passed, $f failed"
	passed=$((passed + p))
	failed=$((failed + f))
}

build=$top
if ! runuser -u nobody -- test -r "$top/configure.ac" 2>/dev/null; then
	build=$(copy_tree build)
	echo "nobody cannot reach $top: building in $build"
fi
(cd "$build" && autoreconf -fi &&
    ./configure --enable-werror ${CONFIGURE_FLAGS:-} && make -j"$(nproc)")
run_check "$build" "build"
if [ "$build" != "$top" ]; then
	if [ "$status" -eq 0 ]; then
		rm -rf "$build"
	else
		echo "build kept in $build"
	fi
fi

if [ "${SANITIZE:-yes}" != no ]; then
	# a copy of the sources: one tree cannot hold two configured builds
	san=$(copy_tree san)
	flags="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
	# clang here, gcc above: both must build the tree without a warning
	(cd "$san" && autoreconf -fi && ./configure --enable-werror CC=clang \
	    CFLAGS="$flags" LDFLAGS="-fsanitize=address,undefined" &&
	    make -j"$(nproc)")
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
	UBSAN_OPTIONS=print_stacktrace=1
	export ASAN_OPTIONS UBSAN_OPTIONS
	run_check "$san" "sanitizers"
	unset ASAN_OPTIONS UBSAN_OPTIONS
	if [ "$status" -eq 0 ]; then
		rm -rf "$san"
	else
		echo "sanitizer build kept in $san"
	fi
fi
if [ "${SANITIZE:-yes}" != no ]; then
	# ThreadSanitizer over the concurrency test: four connections posting
	# while the configuration is reloaded
	tsan=$(copy_tree tsan)
	(cd "$tsan" && autoreconf -fi && ./configure CC=clang \
	    CFLAGS="-g -O1 -fsanitize=thread" LDFLAGS="-fsanitize=thread" &&
	    make -j"$(nproc)")
	G_SLICE=always-malloc
	TSAN_OPTIONS="halt_on_error=1 suppressions=$top/t/tsan.supp"
	export G_SLICE TSAN_OPTIONS
	rm -f "$tsan"/t/*.trs
	tsan_status=$status
	status=0
	(cd "$tsan" && make check TESTS=t/test_threads) || status=1
	p=$(cat "$tsan"/t/*.trs 2>/dev/null | grep -c '^:test-result: PASS' || true)
	f=$(cat "$tsan"/t/*.trs 2>/dev/null | grep -c '^:test-result: \(FAIL\|ERROR\)' || true)
	[ "$status" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	[ "$status" -ne 0 ] && tail -n 80 "$tsan/t/test_threads.log"
	echo "threadsanitizer: $p passed, $f failed"
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$status" -eq 0 ] && rm -rf "$tsan"
	[ "$tsan_status" -ne 0 ] && status=1
	unset G_SLICE TSAN_OPTIONS
fi
echo "$passed passed, $failed failed"
exit "$status"
