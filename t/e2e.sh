# NAME
#	e2e.sh - shared set-up of the end-to-end tests: milter plus private Postfix
# SYNOPSIS
#	E2E_NAME=e2e-foo; . "$top_srcdir/t/e2e.sh"
#	plan N; e2e_start_milter; e2e_start_postfix; ...tests...
# DESCRIPTION
#	Sourced by t/e2e-*.test after setting E2E_NAME.  Checks the
#	preconditions (bails out clearly when Postfix, smtp-sink or swaks is
#	missing), makes the run directory $top_builddir/t/run/$E2E_NAME.PID
#	(kept on failure), private copies of the list's and bob's GnuPG homes,
#	a configuration for the milter that injects copies into the private
#	Postfix with its sendmail, and the helpers the tests share: posting
#	with swaks, watching the sink, classifying what arrived, decrypting
#	bob's copy.  Everything started is stopped by PID at exit.

: "${top_srcdir:=`cd "\`dirname "$0"\`/.." && pwd`}"
: "${top_builddir:=$top_srcdir}"
: "${FIXTURES:=$top_builddir/t/fixtures}"
: "${MILTER:=$top_builddir/milter/openpgp-milter}"
export FIXTURES

. "$top_srcdir/t/lib.sh"
. "$top_srcdir/t/postfix.sh"
. "$top_srcdir/t/copies.sh"

LIST=secir@lists.example.org
LIST_RE='secir@lists\.example\.org'

# ------------------------------------------------------------ preconditions
if ! missing=`pf_check_tools`
then
	bail_out "$missing not installed: run the README test command"
fi
test -x "$MILTER" ||
	bail_out "no milter at $MILTER: run make first"
test -f "$FIXTURES/openpgp-milter.conf" ||
	bail_out "no fixtures in $FIXTURES: run make t/fixtures.stamp"
test "`id -u`" -eq 0 ||
	bail_out "a private Postfix instance needs root: run the README test command as root"

# ------------------------------------------------------------ run directory
mkdir -p "$top_builddir/t/run" || bail_out "cannot create $top_builddir/t/run"
RUN=`cd "$top_builddir/t/run" && pwd`/$E2E_NAME.$$
rm -rf "$RUN"
mkdir "$RUN" || bail_out "cannot create $RUN"
# Postfix runs as postfix: it must reach its queue and the milter socket.
chmod 755 "$RUN"

# Postfix's daemons run as user postfix: its instance and the milter
# socket must be where that user can reach them. Unix socket names (the
# milter's, gpg-agent's) are limited to about 107 bytes. When the build
# tree does not allow that (say, it is under /root, or deep), they go to
# a temporary directory.
EXT=
if ! pf_reachable "$RUN" || test ${#RUN} -gt 60
then
	EXT=`mktemp -d "${TMPDIR:-/tmp}/$E2E_NAME.XXXXXX"` ||
		bail_out "cannot create a temporary directory"
	chmod 755 "$EXT"
	pf_reachable "$EXT" ||
		bail_out "user postfix cannot reach $EXT: set TMPDIR to a public directory"
fi
BASE=${EXT:-$RUN}
PFDIR=$BASE/pf
SOCK=$BASE/milter.sock
# private copies of the GnuPG homes, as $BASE/h-NAME (t/copies.sh)
HOMES="list alice bob carol frank grace"
GNUPG_LIST=$BASE/h-list
GNUPG_BOB=$BASE/h-bob

# stop_milter: SIGTERM, then SIGKILL after 10 s; sets milter_status.
milter_pid=
milter_status=
stop_milter()
{
	test -n "$milter_pid" || return 0
	if pf_pid_alive "$milter_pid"
	then
		kill -TERM "$milter_pid" 2>/dev/null
		n=0
		while pf_pid_alive "$milter_pid" && test $n -lt 100
		do
			sleep 0.1
			n=`expr $n + 1`
		done
	fi
	if pf_pid_alive "$milter_pid"
	then
		kill -KILL "$milter_pid" 2>/dev/null
		wait "$milter_pid" 2>/dev/null
		milter_pid=
		return 1
	fi
	wait "$milter_pid"
	milter_status=$?
	milter_pid=
	return 0
}

cleanup()
{
	status=$?
	trap '' HUP INT TERM
	stop_milter
	pf_stop "$PFDIR" >/dev/null 2>&1
	# a test's own clean-up (unmounting what it mounted, ...)
	test -z "${E2E_ON_EXIT-}" || eval "$E2E_ON_EXIT"
	for h in $HOMES
	do
		h=$BASE/h-$h
		test -d "$h" &&
		    GNUPGHOME=$h "${GPGCONF:-gpgconf}" --homedir "$h" \
			--kill all 2>/dev/null
	done
	if test $status -eq 0 && test "$tap_failed" -eq 0
	then
		rm -rf "$RUN"
		test -z "$EXT" || rm -rf "$EXT"
	else
		diag "kept for debugging: $RUN $EXT"
		test $status -eq 0 && status=1
	fi
	exit $status
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM



# section: start a group of tests; on_failure CMD [ARG...]: run CMD if a
# test of the group failed since the start or the last on_failure.
seen_failed=0
section()
{
	seen_failed=$tap_failed
}
on_failure()
{
	if test "$tap_failed" -ne "$seen_failed"
	then
		seen_failed=$tap_failed
		"$@"
	fi
}

# ------------------------------------------------------------ the milter
sed -e "s|^Socket[ 	].*|Socket local:$SOCK|" \
    -e "s|^StateDirectory[ 	].*|StateDirectory $RUN/state|" \
    -e "s|^List[ 	].*/secir\\.conf\$|List $RUN/lists/secir.conf|" \
    -e "s|^PidFile[ 	].*|PidFile $RUN/openpgp-milter.pid|" \
    -e "/^InjectMethod[ 	]/d" \
    "$FIXTURES/openpgp-milter.conf" >"$RUN/openpgp-milter.conf"
echo "InjectMethod sendmail:`pf_postbin sendmail`" >>"$RUN/openpgp-milter.conf"
grep -q '^Socket[ 	]' "$RUN/openpgp-milter.conf" ||
	echo "Socket local:$SOCK" >>"$RUN/openpgp-milter.conf"
grep -q '^PidFile[ 	]' "$RUN/openpgp-milter.conf" ||
	echo "PidFile $RUN/openpgp-milter.pid" >>"$RUN/openpgp-milter.conf"
grep -q '^StateDirectory[ 	]' "$RUN/openpgp-milter.conf" ||
	echo "StateDirectory $RUN/state" >>"$RUN/openpgp-milter.conf"
grep -q "^List $RUN/lists/secir.conf\$" "$RUN/openpgp-milter.conf" ||
	bail_out "no List .../secir.conf line in $FIXTURES/openpgp-milter.conf"
mkdir -m 700 "$RUN/state"

# The list's GnuPG home (for the milter) and bob's (to read his copy)
# are copied, so that the gpg-agents they start are this test's own and
# can be stopped at the end.
for name in $HOMES
do
	home=$BASE/h-$name
	cp -Rp "$FIXTURES/gnupg-$name" "$home" 2>"$RUN/cp.err" ||
		bail_out "cannot copy $FIXTURES/gnupg-$name: `cat "$RUN/cp.err"`"
	rm -f "$home"/S.* "$home"/*.lock "$home"/.#lk*
done
mkdir "$RUN/lists"
# a members file of our own, so that a test can change it and reload
cp "$FIXTURES/members" "$RUN/members"
sed -e "s|^GnupgHome[ 	].*|GnupgHome $GNUPG_LIST|" \
    -e "s|^MembersFile[ 	].*|MembersFile $RUN/members|" \
    "$FIXTURES/lists/secir.conf" >"$RUN/lists/secir.conf"

# e2e_start_milter: start the milter in the foreground mode, in the
# background.  The milter queues its copies with Postfix's sendmail
# (InjectMethod sendmail:..., the default); MAIL_CONFIG sends them to the
# private instance, which the super-user may do without touching
# /etc/postfix.  E2E_MILTER_PREFIX, when set, is a program (a path) the
# milter is started through, which must exec it (t/sendmail.sh's
# in-host).
E2E_MILTER_PREFIX=${E2E_MILTER_PREFIX-}
e2e_start_milter()
{
	# the socket comes from the configuration's Socket line
	MAIL_CONFIG=$PFDIR/etc $E2E_MILTER_PREFIX "$MILTER" \
	    -c "$RUN/openpgp-milter.conf" -f \
	    >>"$RUN/milter.log" 2>&1 </dev/null &
	milter_pid=$!
	echo "$milter_pid" >"$RUN/milter.pid"

	n=0
	while ! test -S "$SOCK" && pf_pid_alive "$milter_pid" && test $n -lt 100
	do
		sleep 0.1
		n=`expr $n + 1`
	done
	if test -S "$SOCK" && pf_pid_alive "$milter_pid"
	then
		# smtpd runs as postfix; the fixtures' UMask should allow it.
		chmod 666 "$SOCK"
		pass "milter listens on local:$SOCK"
	else
		not_ok "milter listens on local:$SOCK" "milter log:" \
		    "`cat "$RUN/milter.log"`"
		bail_out "the milter did not start"
	fi
}

# e2e_worker_pid: the PID of the milter's worker process (the child of
# the supervisor started by e2e_start_milter).
e2e_worker_pid()
{
	cat "/proc/$milter_pid/task/$milter_pid/children" 2>/dev/null |
	    awk '{ print $1 }'
}

# ------------------------------------------------------------ Postfix
# e2e_start_postfix: the private instance, smtpd using the milter.
# Each PID gets its own block of ports, so that two runs at once do not
# pick the same free port before either binds it.
e2e_start_postfix()
{
	SMTP_PORT=`pf_free_port $((20000 + $$ % 4000 * 5))` ||
		bail_out "no free port for Postfix"
	SINK_PORT=`pf_free_port $((SMTP_PORT + 1))` ||
		bail_out "no free port for smtp-sink"
	mkdir "$PFDIR" || bail_out "cannot create $PFDIR"
	if pf_start "$PFDIR" "$SMTP_PORT" "$SINK_PORT" "$SOCK" \
	    2>"$RUN/pf_start.err"
	then
		pass "Postfix on 127.0.0.1:$SMTP_PORT relays to smtp-sink on 127.0.0.1:$SINK_PORT"
	else
		not_ok "Postfix on 127.0.0.1:$SMTP_PORT relays to smtp-sink on 127.0.0.1:$SINK_PORT" \
		    "`cat "$RUN/pf_start.err"`"
		bail_out "Postfix did not start"
	fi
}

# post NAME FROM TO: send $RUN/NAME.eml; LAST is the last line of the
# reply to the message data, REPLY all of its lines.
post()
{
	pf_send "$SMTP_PORT" "$2" "$3" "$RUN/$1.eml" >"$RUN/$1.transcript"
	LAST=`pf_data_reply <"$RUN/$1.transcript"`
	REPLY=`pf_data_reply_text <"$RUN/$1.transcript"`
}

# mkpost NAME ARGS...: write a crafted post to $RUN/NAME.eml.
mkpost()
{
	_name=$1
	shift
	sh "$top_srcdir/t/mkpost.sh" "$@" >"$RUN/$_name.eml" 2>"$RUN/$_name.mkpost.err" ||
		bail_out "mkpost.sh $* failed: `cat "$RUN/$_name.mkpost.err"`"
}

# sink_mark NAME, then sink_new NAME: the sink's files that arrived since.
sink_mark()
{
	ls "$PFDIR/sink" >"$RUN/$1.sink-before"
}
sink_new()
{
	ls "$PFDIR/sink" | comm -13 "$RUN/$1.sink-before" - |
	    sed "s|^|$PFDIR/sink/|"
}

# log_has ERE TIMEOUT: Postfix's log has a line matching ERE.
log_has()
{
	pf_wait_log "$PFDIR" "$@" >/dev/null
}

# sink_wait NAME N: wait until N more messages than at sink_mark NAME
# reached the sink and Postfix's queue is empty.
sink_wait()
{
	pf_wait_sink "$PFDIR" $((`grep -c . "$RUN/$1.sink-before"` + $2)) 60
}

# expected_fanout: "address kind" lines, sorted, for an accepted post: an
# encrypted copy for every member, except dave (expired key) and erin
# (revoked key), who get a notice, as does every admin of the list.
expected_fanout()
{
	{
		awk '!/^#/ && NF { print tolower($1) }' "$RUN/members" |
		while read -r m
		do
			case $m in
			dave@*|erin@*) echo "$m notice" ;;
			*) echo "$m encrypted" ;;
			esac
		done
		awk '$1 == "Admin" { print tolower($2) " notice" }' \
		    "$FIXTURES/lists/secir.conf"
	} | sort
}

# got_fanout NAME MARKER: the same for what reached the sink since
# sink_mark NAME: "encrypted" for a PGP/MIME encrypted message, "notice"
# for any other without MARKER (a text of the post), "PLAINTEXT" for one
# that shows MARKER in clear.
got_fanout()
{
	for f in `sink_new "$1"`
	do
		if grep -q -F -e "$2" "$f"
		then
			kind=PLAINTEXT
		else
			case `pf_sink_header "$f" Content-Type | tr A-Z a-z` in
			multipart/encrypted*application/pgp-encrypted*)
				kind=encrypted ;;
			*)	kind=notice ;;
			esac
		fi
		for r in `pf_sink_rcpts "$f" | tr A-Z a-z`
		do
			echo "$r $kind"
		done
	done | sort
}

# copy_for NAME ADDRESS: the sink file for ADDRESS since sink_mark NAME.
copy_for()
{
	for f in `sink_new "$1"`
	do
		if pf_sink_rcpts "$f" | grep -q -i -x -F -e "$2"
		then
			echo "$f"
		fi
	done
}

# decrypts_for_bob FILE MARKER: bob's key decrypts the message in FILE,
# the plaintext holds MARKER, and nothing but the poster's signed entity
# and what the list writes (copy_content_ok of t/copies.sh; what is
# wrong goes to FILE.bob.why).
decrypts_for_bob()
{
	test -n "$1" && test -f "$1" || return 1
	pf_sink_message "$1" |
	    GNUPGHOME=$GNUPG_BOB "${GPG:-gpg}" --homedir "$GNUPG_BOB" \
		--batch --no-tty --quiet --decrypt >"$1.bob" 2>"$1.bob-err"
	grep -q -F -e "$2" "$1.bob" && copy_content_ok "$1.bob" "$GNUPG_LIST"
}

# reply_qid: the queue ID in the last reply of post ("... queued as ID").
reply_qid()
{
	printf '%s\n' "$LAST" | sed -n 's/.*queued as \([0-9A-Za-z]*\).*/\1/p'
}

# mta_qid_of FILE: the queue ID under which Postfix logged the message of
# the sink file FILE (cleanup's "QUEUEID: message-id=<...>" line).
mta_qid_of()
{
	_mid=`pf_sink_header "$1" Message-ID | sed 's/^ *//; s/ *$//'`
	test -n "$_mid" || return 1
	grep -F -e ": message-id=$_mid" "$PFDIR/maillog" |
	    sed -n 's/.*cleanup\[[0-9]*\]: \([0-9A-Za-z]*\): message-id=.*/\1/p' |
	    tail -n 1
}

# count LINES: the number of non-empty lines.
count()
{
	printf '%s\n' "$1" | grep -c .
}

# show_log NAME: the transcript and the milter's log, after a failure.
show_log()
{
	diag "transcript:
`grep -v '^ -> ' "$RUN/$1.transcript"`
milter log (tail):
`tail -n 20 "$RUN/milter.log"`"
}

