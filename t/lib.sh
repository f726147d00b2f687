# NAME
#	lib.sh - a small TAP producer for the shell tests
# SYNOPSIS
#	. "$top_srcdir/t/lib.sh"
#	plan 3                      # or call done_testing at the end
#	ok "daemon starts" test -S "$sock"
#	is "$got" "$want" "first line of the verdict"
#	like "$text" 'not signed' "the reply says why"   # also unlike
#	pass "description"; not_ok "description" ["diagnostic"]
#	skip "description" "reason"
#	diag "a comment"; bail_out "reason"
#	done_testing                # prints the plan if none was given,
#	                            # exits 1 if a test failed
# DESCRIPTION
#	Sourced by t/*.test.  Failures print "# got X, want Y".  The tests
#	find in their environment: top_srcdir, top_builddir, FIXTURES,
#	MILTER (the daemon), POSTFIX, SMTP_SINK, SWAKS.
#	("done" is a shell reserved word, hence done_testing.)

tap_count=0
tap_failed=0
tap_planned=

plan() {
	tap_planned=$1
	echo "1..$1"
}

# diag LINE...: each argument on its own "# " line(s).
diag() {
	printf '%s\n' "$@" | sed 's/^/# /'
}

bail_out() {
	echo "Bail out! $*"
	exit 1
}

pass() {
	tap_count=$((tap_count + 1))
	echo "ok $tap_count - $1"
}

# not_ok DESCRIPTION [DIAGNOSTIC...]
not_ok() {
	tap_count=$((tap_count + 1))
	tap_failed=$((tap_failed + 1))
	echo "not ok $tap_count - $1"
	shift
	[ $# -eq 0 ] || diag "$@"
}

# ok DESCRIPTION COMMAND [ARG...]: passes when COMMAND exits 0.
ok() {
	tap_desc=$1
	shift
	if "$@"; then
		pass "$tap_desc"
	else
		not_ok "$tap_desc" "command failed (status $?): $*"
	fi
}

# is GOT WANT DESCRIPTION
is() {
	if [ "$1" = "$2" ]; then
		pass "$3"
	else
		not_ok "$3" "got $1, want $2"
	fi
}

# like GOT REGEX DESCRIPTION: GOT matches the extended regular expression
# REGEX, ignoring case.
like() {
	if printf '%s\n' "$1" | grep -Eqi -e "$2"; then
		pass "$3"
	else
		not_ok "$3" "got $1, want a match for /$2/"
	fi
}

# unlike GOT REGEX DESCRIPTION: the opposite of like.
unlike() {
	if printf '%s\n' "$1" | grep -Eqi -e "$2"; then
		not_ok "$3" "got $1, want no match for /$2/"
	else
		pass "$3"
	fi
}

# skip DESCRIPTION REASON
skip() {
	tap_count=$((tap_count + 1))
	echo "ok $tap_count - $1 # SKIP $2"
}

done_testing() {
	if [ -z "$tap_planned" ]; then
		echo "1..$tap_count"
	elif [ "$tap_planned" -ne "$tap_count" ]; then
		diag "planned $tap_planned tests, ran $tap_count"
		exit 1
	fi
	[ "$tap_failed" -eq 0 ] || exit 1
	exit 0
}
