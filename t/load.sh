#!/bin/sh
#
# NAME
#	load.sh - make load: a bounded load test through a private Postfix
# SYNOPSIS
#	make load [LOAD_SECONDS=60]
#	top_srcdir=DIR top_builddir=DIR sh t/load.sh
# DESCRIPTION
#	Runs the milter behind a private Postfix (the set-up of the
#	end-to-end tests, t/e2e.sh) with InjectMethod smtp and the
#	re-injection listener of contrib/postfix-master.cf, for a list of
#	LOAD_MEMBERS (100) members, and for LOAD_SECONDS (60) sends:
#	  - accepted posts: LOAD_SENDERS (8) parallel clients (swaks, one
#	    session per post) each send their share of a pool of distinct
#	    signed posts made beforehand (the journal refuses replays, so
#	    every accepted post needs a signature of its own); each post
#	    carries a References: header of its own outside the signature,
#	    which the milter copies to the outer header of every copy;
#	  - deliberate rejections: smtp-source (Postfix's load generator,
#	    two sessions) sends, about every second, two unsigned posts and
#	    two replays of a signed post accepted before the load started.
#	The pool holds LOAD_POSTS posts (default 3 per second of the run);
#	a sender that runs out stops early, which is printed.
#
#	It prints the posts accepted per second (over the sending window),
#	the copies delivered per second (from the start until the last copy
#	reached the sink), the rejections (deliberate: unsigned and replays;
#	other), the milter's own time per message (from its log's summary
#	lines), and the resident size of the milter's worker sampled every
#	LOAD_SAMPLE (3) seconds: first, after warm-up (the first sample at or
#	after a quarter of the run), maximum, last.  Then it checks, printing
#	one PASS or FAIL line each and "N passed, N failed":
#	  - every post of the senders was accepted (250) and no rejection
#	    other than the deliberate ones happened;
#	  - every deliberate post was refused as such (5.7.1 unsigned,
#	    5.7.5 replay) and none was accepted;
#	  - every accepted post reached each of the members exactly once, and
#	    nothing reached anybody else;
#	  - the worker ran throughout (no restart) and the milter still runs;
#	  - memory is flat: the last sample is at most 20% + 8 MB above the
#	    one after warm-up.
#	The rates are figures, not checks.
#
#	The extra member keys (ed25519 with a cv25519 encryption subkey,
#	LOAD_MEMBERS - 5 of them; the other five members are alice, bob,
#	carol, frank and grace of the fixtures) are made once, by one
#	gpg --generate-key run over one parameter file, and kept in
#	$top_builddir/t/load-keys/ for the next run (make load-clean removes
#	them): gen/ the GnuPG home they were made in, public.gpg their public
#	keys, members their members-file lines.  Their public keys are
#	imported into the run's private copy of the list's GnuPG home.
#
#	Everything else lives in the run directory of t/e2e.sh
#	($top_builddir/t/run/load.PID, removed after a run whose checks all
#	passed, kept otherwise).  Only loopback addresses and free high ports
#	are used; the milter, Postfix, the sink, the senders, smtp-source,
#	the sampler and every gpg-agent started are stopped by PID (agents by
#	gpgconf --kill) at exit, also on failure or interruption.
# ENVIRONMENT
#	top_srcdir, top_builddir, FIXTURES, MILTER, POSTFIX, SMTP_SINK, SWAKS,
#	GPG, GPGCONF (set by make load); SMTP_SOURCE (default: smtp-source
#	beside smtp-sink, else in PATH, /usr/sbin, /sbin); LOAD_SECONDS (60),
#	LOAD_MEMBERS (100, at least 6), LOAD_SENDERS (8), LOAD_POSTS,
#	LOAD_SAMPLE (3), LOAD_DRAIN (seconds to wait for the last copies
#	after the load, 180).
# DIAGNOSTICS
#	Exit status 0 when every check passed, 1 otherwise; "Bail out!" and
#	status 1 when something needed is missing or does not start.

E2E_NAME=load
: "${top_srcdir:=`cd "\`dirname "$0"\`/.." && pwd`}"
: "${top_builddir:=$top_srcdir}"
: "${GPG:=gpg}"
: "${GPGCONF:=gpgconf}"

DURATION=${LOAD_SECONDS:-60}
MEMBERS=${LOAD_MEMBERS:-100}
SENDERS=${LOAD_SENDERS:-8}
NPOSTS=${LOAD_POSTS:-$((DURATION * 3))}
SAMPLE=${LOAD_SAMPLE:-3}
DRAIN=${LOAD_DRAIN:-180}
for v in "$DURATION" "$MEMBERS" "$SENDERS" "$NPOSTS" "$SAMPLE" "$DRAIN"
do
	case $v in
	''|*[!0-9]*|0) echo "load.sh: not a positive number: '$v'" >&2; exit 2 ;;
	esac
done
test "$MEMBERS" -ge 6 || { echo "load.sh: LOAD_MEMBERS must be at least 6" >&2; exit 2; }
POSTERS="alice bob carol frank grace"
EXTRA=$((MEMBERS - 5))
KEYS=$top_builddir/t/load-keys

. "$top_srcdir/t/e2e.sh"

if test -z "${SMTP_SOURCE:-}" && test -n "$SMTP_SINK" &&
    test -x "`dirname "$SMTP_SINK"`/smtp-source"
then
	SMTP_SOURCE=`dirname "$SMTP_SINK"`/smtp-source
fi
: "${SMTP_SOURCE:=`pf_find_prog smtp-source`}"
test -n "$SMTP_SOURCE" && test -x "$SMTP_SOURCE" ||
	bail_out "smtp-source not installed (it comes with Postfix's smtp-sink)"

# ------------------------------------------------------------ checks
n_pass=0
n_fail=0
check()
{
	if test "$1" = ok
	then
		n_pass=$((n_pass + 1))
		echo "PASS: $2"
	else
		n_fail=$((n_fail + 1))
		echo "FAIL: $2"
		shift 2
		for l in "$@"
		do
			printf '%s\n' "$l" | sed 's/^/      /'
		done
	fi
}
note()
{
	echo "load: $*"
}

# ------------------------------------------------------------ clean-up
# Background jobs are stopped (with their children) before e2e.sh's
# cleanup stops the milter and Postfix.
job_pids=
stop_jobs()
{
	for p in $job_pids
	do
		pf_pid_alive "$p" || continue
		for c in `cat "/proc/$p/task/$p/children" 2>/dev/null`
		do
			kill "$c" 2>/dev/null
		done
		kill "$p" 2>/dev/null
	done
	for p in $job_pids
	do
		wait "$p" 2>/dev/null
	done
	job_pids=
	test ! -d "$KEYS/gen" ||
		"$GPGCONF" --homedir "$KEYS/gen" --kill all 2>/dev/null
}
trap 'load_status=$?; stop_jobs; (exit $load_status); cleanup' EXIT

# now: seconds since the start of the load, with centiseconds
now()
{
	awk -v t0="$T0" -v t="`date +%s.%N`" 'BEGIN { printf "%.2f\n", t - t0 }'
}

# ------------------------------------------------------------ member keys
# keys_ok: the cache holds at least EXTRA keys
keys_ok()
{
	test -s "$KEYS/public.gpg" && test -s "$KEYS/members" &&
	    test "`grep -c . "$KEYS/members"`" -ge "$EXTRA"
}
if ! keys_ok
then
	note "making $EXTRA member keys in $KEYS (once)"
	test ! -d "$KEYS/gen" ||
		"$GPGCONF" --homedir "$KEYS/gen" --kill all 2>/dev/null
	rm -rf "$KEYS"
	mkdir -p "$KEYS/gen" && chmod 700 "$KEYS/gen" ||
		bail_out "cannot create $KEYS/gen"
	i=1
	while test $i -le $EXTRA
	do
		n=`printf '%03d' $i`
		cat <<EOF
Key-Type: EDDSA
Key-Curve: ed25519
Key-Usage: sign
Subkey-Type: ECDH
Subkey-Curve: cv25519
Subkey-Usage: encrypt
Name-Real: Load Member $n
Name-Email: load$n@example.org
Expire-Date: 0
%no-protection
%commit
EOF
		i=$((i + 1))
	done >"$KEYS/params"
	GNUPGHOME=$KEYS/gen "$GPG" --homedir "$KEYS/gen" --batch --no-tty \
	    --quiet --pinentry-mode loopback --passphrase '' \
	    --generate-key "$KEYS/params" 2>"$KEYS/gen.log" ||
		bail_out "gpg --generate-key failed: `tail -n 5 "$KEYS/gen.log"`"
	GNUPGHOME=$KEYS/gen "$GPG" --homedir "$KEYS/gen" --batch --no-tty \
	    --with-colons --list-keys 2>/dev/null | awk -F: '
		$1 == "pub" { want = 1; next }
		$1 == "fpr" && want { fpr = $10; want = 0; next }
		$1 == "uid" && fpr != "" {
			a = $10; sub(/^.*</, "", a); sub(/>.*$/, "", a)
			n = $10; sub(/ *<.*$/, "", n)
			print tolower(a), toupper(fpr), n; fpr = ""
		}' | sort >"$KEYS/members.tmp"
	GNUPGHOME=$KEYS/gen "$GPG" --homedir "$KEYS/gen" --batch --no-tty \
	    --export >"$KEYS/public.gpg" 2>/dev/null
	"$GPGCONF" --homedir "$KEYS/gen" --kill all 2>/dev/null
	mv "$KEYS/members.tmp" "$KEYS/members"
	keys_ok || bail_out "made `grep -c . "$KEYS/members"` keys, want $EXTRA"
fi

GNUPGHOME=$GNUPG_LIST "$GPG" --homedir "$GNUPG_LIST" --batch --no-tty \
    --quiet --import "$KEYS/public.gpg" 2>"$RUN/import.err" ||
	bail_out "cannot import the member keys: `tail -n 5 "$RUN/import.err"`"
{
	echo "# load test list: $MEMBERS members"
	for p in $POSTERS
	do
		awk -v f="`cat "$FIXTURES/fpr/$p"`" '$2 == f' "$FIXTURES/members"
	done
	sed -n "1,${EXTRA}p" "$KEYS/members"
} >"$RUN/members"
awk '!/^#/ && NF { print tolower($1) }' "$RUN/members" | sort >"$RUN/members.addr"
test "`grep -c . "$RUN/members.addr"`" -eq "$MEMBERS" ||
	bail_out "the members file has `grep -c . "$RUN/members.addr"` members, want $MEMBERS"

# ------------------------------------------------------------ the posts
# Post N: signed by a poster in turn, a Message-ID and a References: of
# its own.  Two makers run at once.
mkdir "$RUN/posts" || bail_out "cannot create $RUN/posts"
note "making $NPOSTS signed posts"
make_posts()
{
	i=$1
	while test $i -le $NPOSTS
	do
		who=`echo $POSTERS | awk -v k=$(( (i - 1) % 5 + 1 )) '{ print $k }'`
		sh "$top_srcdir/t/mkpost.sh" --signer "$who" \
		    --message-id "<load-$i.$$@example.org>" \
		    --subject "load test post $i" --body "load post $i" \
		    >"$RUN/posts/$i.tmp" 2>"$RUN/posts/$i.err" || return 1
		{
			printf 'References: <load-thread-%s.%s@example.org>\r\n' "$i" "$$"
			cat "$RUN/posts/$i.tmp"
		} >"$RUN/posts/$i.eml" || return 1
		rm -f "$RUN/posts/$i.tmp" "$RUN/posts/$i.err"
		awk -v f="`cat "$FIXTURES/fpr/$who"`" '$2 == f { print $1 }' \
		    "$FIXTURES/members" >"$RUN/posts/$i.from"
		i=$((i + 2))
	done
}
make_posts 1 & job_pids="$job_pids $!"; m1=$!
make_posts 2 & job_pids="$job_pids $!"; m2=$!
wait $m1 && wait $m2 || bail_out "mkpost.sh failed: `cat "$RUN"/posts/*.err 2>/dev/null | head -n 5`"
job_pids=

# the deliberate rejections: an unsigned post, and post 0, which is sent
# once before the load and replayed during it.  smtp-source appends CRLF
# to each line it reads, so it gets them with LF line ends.
sh "$top_srcdir/t/mkpost.sh" --signer alice --shape unsigned \
    --subject "load test: unsigned" --body "load unsigned" 2>"$RUN/mkpost.err" |
    tr -d '\r' >"$RUN/unsigned.lf" ||
	bail_out "mkpost.sh failed: `cat "$RUN/mkpost.err"`"
sh "$top_srcdir/t/mkpost.sh" --signer alice \
    --message-id "<load-0.$$@example.org>" --subject "load test post 0" \
    --body "load post 0" >"$RUN/posts/0.tmp" 2>"$RUN/mkpost.err" ||
	bail_out "mkpost.sh failed: `cat "$RUN/mkpost.err"`"
{
	printf 'References: <load-thread-0.%s@example.org>\r\n' "$$"
	cat "$RUN/posts/0.tmp"
} >"$RUN/posts/0.eml"
rm -f "$RUN/posts/0.tmp"
tr -d '\r' <"$RUN/posts/0.eml" >"$RUN/replay.lf"

# ------------------------------------------------------------ start
e2e_start_postfix
REINJECT_PORT=`pf_free_port $((SINK_PORT + 1))` ||
	bail_out "no free port for the re-injection listener"
sed -i -e "s|^InjectMethod[ 	].*|InjectMethod smtp:127.0.0.1:$REINJECT_PORT|" \
    "$RUN/openpgp-milter.conf"
e2e_start_milter
pf_add_reinject "$PFDIR" "$REINJECT_PORT" "$top_srcdir/contrib/postfix-master.cf" ||
	bail_out "the re-injection listener does not start on 127.0.0.1:$REINJECT_PORT"
WORKER=`e2e_worker_pid`
test -n "$WORKER" || bail_out "no milter worker"

alice=`awk -v f="\`cat "$FIXTURES/fpr/alice"\`" '$2 == f { print $1 }' "$FIXTURES/members"`
pf_send "$SMTP_PORT" "$alice" "$LIST" "$RUN/posts/0.eml" >"$RUN/post0.transcript" 2>&1
reply0=`pf_data_reply <"$RUN/post0.transcript"`
case $reply0 in
250\ *) ;;
*) bail_out "post 0 (to be replayed) is not accepted: $reply0" ;;
esac

# ------------------------------------------------------------ the load
note "$DURATION s: $SENDERS senders, $MEMBERS members, smtp-source for the rejections, InjectMethod smtp"
mkdir "$RUN/tx"
LOG_AT=`wc -l <"$PFDIR/maillog" | tr -d ' '`
T0=`date +%s.%N`
END=$((`date +%s` + DURATION))

# sender S: posts S+1, S+1+SENDERS, ... until the end of the run; one
# "N SECONDS REPLY" line per post in $RUN/sent.S.
sender()
{
	i=$(($1 + 1))
	while test $i -le $NPOSTS && test "`date +%s`" -lt $END
	do
		pf_send "$SMTP_PORT" "`cat "$RUN/posts/$i.from"`" "$LIST" \
		    "$RUN/posts/$i.eml" \
		    >"$RUN/tx/$i" 2>&1
		r=`pf_data_reply <"$RUN/tx/$i"`
		echo "$i `now` $r" >>"$RUN/sent.$1"
		case $r in
		250\ *) rm -f "$RUN/tx/$i" ;;
		esac
		i=$((i + SENDERS))
	done
	test $i -le $NPOSTS || echo "$1 `now`" >>"$RUN/exhausted"
}

# rejecter: every second, two unsigned posts and two replays of post 0
# from smtp-source, two sessions each; "KIND COUNT STATUS" lines.
rejecter()
{
	while test "`date +%s`" -lt $END
	do
		for kind in unsigned replay
		do
			"$SMTP_SOURCE" -A -s 2 -m 2 -M client.example.test \
			    -f load-reject@example.com -t "$LIST" \
			    -F "$RUN/$kind.lf" "127.0.0.1:$SMTP_PORT" \
			    >>"$RUN/smtp-source.log" 2>&1
			echo "$kind 2 $?" >>"$RUN/rejects"
		done
		sleep 1
	done
}

# sampler: the worker's PID and RSS (KB) every SAMPLE seconds, as
# "SECONDS PID RSS", until $RUN/stop-sampler exists.
sampler()
{
	n=0
	while test ! -f "$RUN/stop-sampler" &&
	    test $n -lt $(((DURATION + DRAIN + 300) / SAMPLE))
	do
		w=`e2e_worker_pid`
		rss=`ps -o rss= -p "${w:-0}" 2>/dev/null | tr -d ' '`
		echo "`now` ${w:--} ${rss:--}" >>"$RUN/rss"
		sleep "$SAMPLE"
		n=$((n + 1))
	done
}

sampler & job_pids="$job_pids $!"; sampler_pid=$!
s=0
senders=
while test $s -lt $SENDERS
do
	sender $s & job_pids="$job_pids $!"; senders="$senders $!"
	s=$((s + 1))
done
rejecter & job_pids="$job_pids $!"; rejecter_pid=$!

# wait for the senders: each finishes the post it is sending when the
# time is up (swaks gives up after 120 s)
n=0
while test $n -lt $(((DURATION + 150) * 2))
do
	alive=
	for p in $senders $rejecter_pid
	do
		pf_pid_alive "$p" && alive=yes
	done
	test -z "$alive" && break
	sleep 0.5
	n=$((n + 1))
done
for p in $senders $rejecter_pid
do
	wait "$p" 2>/dev/null
done
T_SENT=`now`
cat "$RUN"/sent.* 2>/dev/null | sort -n >"$RUN/sent"
accepted=`awk '$3 == "250" { n++ } END { print n + 0 }' "$RUN/sent"`
T_LAST_REPLY=`awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' "$RUN/sent"`
note "senders done after $T_SENT s: `grep -c . "$RUN/sent"` posts sent, $accepted accepted"
test ! -f "$RUN/exhausted" ||
	note "`grep -c . "$RUN/exhausted"` senders ran out of posts (first at `sort -n -k2 "$RUN/exhausted" | awk 'NR == 1 { print $2 }'` s): raise LOAD_POSTS"

# ------------------------------------------------------------ drain
want_copies=$(((accepted + 1) * MEMBERS))
pf_wait_sink "$PFDIR" "$want_copies" "$DRAIN"
T_DRAINED=`now`
sleep "$SAMPLE"
: >"$RUN/stop-sampler"
wait "$sampler_pid" 2>/dev/null
w=`e2e_worker_pid`
echo "`now` ${w:--} `ps -o rss= -p "${w:-0}" 2>/dev/null | tr -d ' '`" >>"$RUN/rss"
job_pids=

# ------------------------------------------------------------ the sink
# "FILE RCPT REFERENCES" per sink file and recipient ("-" without
# References:); the time the newest file was written.
pf_sink_files "$PFDIR" >"$RUN/sink.files"
copies=`grep -c . "$RUN/sink.files"`
xargs awk '
function out() {
	if (fname != "")
		for (j = 1; j <= nr; j++)
			print fname, rc[j], (refs == "" ? "-" : refs)
	fname = ""
}
function field(f,  n, v) {
	n = index(f, ":")
	if (tolower(substr(f, 1, n - 1)) == "references") {
		v = substr(f, n + 1)
		gsub(/^[ \t]+|[ \t]+$/, "", v)
		refs = v
	}
}
FNR == 1 { out(); fname = FILENAME; st = 0; nr = 0; refs = f = "" }
st == 0 && /^X-Rcpt-Args: </ {
	r = $2; gsub(/[<>]/, "", r); rc[++nr] = tolower(r); next
}
st == 0 && /^Received: / { st = 1; next }
st == 0 { next }
st == 1 { if (/^[ \t]/) next; st = 2 }
st == 2 {
	if (/^$/) { if (f != "") field(f); out(); nextfile }
	if (/^[ \t]/) { f = f " " $0; next }
	if (f != "") field(f)
	f = $0
}
END { out() }' <"$RUN/sink.files" >"$RUN/sink.index"
# copies of the posts of the load (post 0's came before)
load_copies=`awk -v r="<load-thread-0.$$@example.org>" '$3 != r' "$RUN/sink.index" | grep -c .`
last_file=`tail -n 1 "$RUN/sink.files"`
T_LAST_COPY=`awk -v t0="$T0" -v t="\`stat -c %Y "$last_file" 2>/dev/null || echo 0\`" \
    'BEGIN { d = t - t0; printf "%.0f\n", d < 0 ? 0 : d }'`

# ------------------------------------------------------------ rejections
# Postfix logs every refusal; those of the load are the lines after the
# first LOG_AT ones; the deliberate ones come from load-reject@example.com
# with 5.7.1 (unsigned) or 5.7.5 (replay).  A bounced copy counts as an
# error too.  (milter-discard is how an accepted post ends: its copies
# replace it.)
sed "1,${LOG_AT}d" "$PFDIR/maillog" >"$RUN/maillog.load"
grep -E ': (milter-reject|reject|milter-hold): |status=bounced' \
    "$RUN/maillog.load" >"$RUN/refusals"
pf_warnings=`grep -c ': warning: ' "$RUN/maillog.load"`
deferred=`grep -c 'status=deferred' "$RUN/maillog.load"`
unsigned_rej=`grep -E 'milter-reject: END-OF-MESSAGE .*: 5\.7\.1 .*not signed.*from=<load-reject@example\.com>' "$RUN/refusals" | grep -c .`
replay_rej=`grep -E 'milter-reject: END-OF-MESSAGE .*: 5\.7\.5 .*already distributed.*from=<load-reject@example\.com>' "$RUN/refusals" | grep -c .`
other_rej=`grep -v -E 'milter-reject: END-OF-MESSAGE .*: (5\.7\.1 .*not signed|5\.7\.5 .*already distributed).*from=<load-reject@example\.com>' "$RUN/refusals" | grep -c .`
sent_unsigned=`awk '$1 == "unsigned" { n += $2 } END { print n + 0 }' "$RUN/rejects" 2>/dev/null`
sent_replay=`awk '$1 == "replay" { n += $2 } END { print n + 0 }' "$RUN/rejects" 2>/dev/null`
source_fail=`awk '$3 != 0 { n++ } END { print n + 0 }' "$RUN/rejects" 2>/dev/null`
sender_err=`awk '$3 != "250"' "$RUN/sent" | grep -c .`

# ------------------------------------------------------------ figures
echo
echo "load: figures"
awk -v a="$accepted" -v t="$T_LAST_REPLY" -v c="$load_copies" -v tc="$T_LAST_COPY" \
    -v m="$MEMBERS" -v s="$SENDERS" -v d="$DURATION" 'BEGIN {
	printf "  posts accepted      %d in %.1f s: %.2f posts/s (%d senders, %d s)\n",
	    a, t, (t > 0 ? a / t : 0), s, d
	printf "  copies delivered    %d in %d s: %.1f copies/s (%d members)\n",
	    c, tc, (tc > 0 ? c / tc : 0), m
}'
echo "  rejections          deliberate `expr $unsigned_rej + $replay_rej` (unsigned $unsigned_rej of $sent_unsigned, replays $replay_rej of $sent_replay); other $other_rej"
echo "  sender errors       $sender_err (non-250 replies to signed posts); smtp-source failures $source_fail"
echo "  Postfix             $pf_warnings warnings, $deferred deliveries deferred (retried)"
# the milter's own time per message, from its summary lines
for v in accept reject
do
	sed -n "s/.* verdict=$v .* elapsed=\([0-9]*\)ms.*/\1/p" "$RUN/milter.log" |
	    sort -n | awk -v v="$v" '{ t[++n] = $1 }
	END {
		if (n == 0) exit
		p = int(n * 0.9)
		if (p < 1) p = 1
		printf "  milter time (%s) median %d ms, 90%% %d ms, max %d ms (%d messages)\n",
		    v, t[int((n + 1) / 2)], t[p], t[n], n
	}'
done
WARM=$((DURATION / 4))
awk -v warm="$WARM" '
	$3 ~ /^[0-9]+$/ {
		n++; if (n == 1) first = $3
		if (w == "" && $1 >= warm) { w = $3; wt = $1 }
		if ($3 > max) max = $3
		last = $3; lt = $1
		line = line sprintf(" %s:%s", int($1), $3)
	}
	END {
		if (w == "") { w = last; wt = lt }
		printf "  worker RSS (KB)     first %s, after warm-up %s (at %d s), max %s, last %s (%d samples)\n",
		    first, w, wt, max, last, n
		printf "  RSS samples (s:KB) %s\n", line
	}' "$RUN/rss"
echo "  worker PIDs         `awk '{ print $2 }' "$RUN/rss" | uniq | tr '\n' ' '`(started $WORKER)"
echo

# ------------------------------------------------------------ checks
echo "load: checks"
failures=`awk '$3 != "250"' "$RUN/sent" | head -n 10`
if test "$accepted" -gt 0 && test "$sender_err" -eq 0
then
	check ok "every one of the $accepted signed posts sent was accepted (250)"
else
	check fail "every signed post sent was accepted (250): $sender_err were not" \
	    "$failures" "(transcripts in $RUN/tx)"
fi
if test "$other_rej" -eq 0 && test "$source_fail" -eq 0
then
	check ok "no rejection other than the deliberate ones"
else
	check fail "no rejection other than the deliberate ones: $other_rej others, smtp-source failed $source_fail times" \
	    "`grep -v -E 'from=<load-reject@example\.com>' "$RUN/refusals" | head -n 5`"
fi
if test "$unsigned_rej" -eq "$sent_unsigned" && test "$replay_rej" -eq "$sent_replay" &&
    test "$sent_unsigned" -gt 0 && test "$sent_replay" -gt 0
then
	check ok "each deliberate post was refused as such: $unsigned_rej unsigned (5.7.1), $replay_rej replays (5.7.5)"
else
	check fail "each deliberate post was refused as such" \
	    "unsigned: $unsigned_rej refused of $sent_unsigned sent; replays: $replay_rej of $sent_replay" \
	    "`tail -n 5 "$RUN/smtp-source.log" 2>/dev/null`"
fi

# Per accepted post (and post 0): each member exactly once.
{
	echo "<load-thread-0.$$@example.org>"
	awk '$3 == "250" { print $1 }' "$RUN/sent" |
	    sed "s/.*/<load-thread-&.$$@example.org>/"
} >"$RUN/accepted.refs"
fanout=`awk -v m="$MEMBERS" '
	FILENAME == ARGV[1] { member[$1] = 1; next }
	FILENAME == ARGV[2] { want[$1] = 1; next }
	{
		if (!($2 in member)) { stranger++; if (ex == "") ex = $0 }
		if (!($3 in want)) { other++; if (ox == "") ox = $0 }
		n[$3 SUBSEP $2]++
	}
	END {
		for (r in want)
			for (a in member) {
				c = n[r SUBSEP a] + 0
				if (c == 0) { lost++; if (lx == "") lx = r " " a }
				else if (c > 1) { dup += c - 1; if (dx == "") dx = r " " a " x" c }
			}
		printf "%d %d %d %d\n", lost + 0, dup + 0, stranger + 0, other + 0
		if (lx != "") print "lost, e.g.: " lx
		if (dx != "") print "twice, e.g.: " dx
		if (ex != "") print "to a non-member, e.g.: " ex
		if (ox != "") print "of no accepted post, e.g.: " ox
	}' "$RUN/members.addr" "$RUN/accepted.refs" "$RUN/sink.index"`
set -- `printf '%s\n' "$fanout" | sed -n 1p`
n_acc_refs=`grep -c . "$RUN/accepted.refs"`
if test "$1" -eq 0 && test "$2" -eq 0 && test "$3" -eq 0 && test "$4" -eq 0 &&
    test "$copies" -eq $((n_acc_refs * MEMBERS))
then
	check ok "each of the $n_acc_refs accepted posts reached each of the $MEMBERS members exactly once ($copies copies)"
else
	check fail "each accepted post reached each member exactly once" \
	    "copies $copies, want $((n_acc_refs * MEMBERS)); lost $1, doubled $2, to non-members $3, of no accepted post $4" \
	    "`printf '%s\n' "$fanout" | sed 1d`"
fi

restarts=`grep -c -E 'worker (killed|exited)' "$RUN/milter.log"`
pids=`awk '$2 != "-" { print $2 }' "$RUN/rss" | sort -u | tr '\n' ' ' | sed 's/ $//'`
if test "$restarts" -eq 0 && test "$pids" = "$WORKER" && pf_pid_alive "$milter_pid"
then
	check ok "the worker ($WORKER) ran throughout and the milter still runs"
else
	check fail "the worker ran throughout and the milter still runs" \
	    "worker PIDs seen: $pids (started $WORKER); restarts logged: $restarts" \
	    "`grep -E 'worker|CRITICAL|critical' "$RUN/milter.log" | tail -n 5`"
fi

mem=`awk -v warm="$WARM" '
	$3 ~ /^[0-9]+$/ {
		if (w == "" && $1 >= warm) w = $3
		last = $3
	}
	END {
		if (w == "") { print "none"; exit }
		lim = int(w * 1.2 + 8192)
		print (last <= lim ? "ok" : "fail"), w, last, lim
	}' "$RUN/rss"`
set -- $mem
if test "$1" = ok
then
	check ok "memory is flat: last $3 KB <= $4 KB (after warm-up $2 KB + 20% + 8 MB)"
else
	check fail "memory is flat: last ${3:-?} KB, limit ${4:-?} KB (after warm-up ${2:-?} KB + 20% + 8 MB)"
fi

echo
echo "load: $n_pass passed, $n_fail failed"
stop_milter
pf_stop "$PFDIR"
test "$n_fail" -eq 0
