#!/bin/sh
#
# NAME
#	bench.sh - make bench: members' keys, lists, then the measurements
# SYNOPSIS
#	make bench [BENCH_FLAGS='--quick']
#	make bench BENCH_FLAGS=--e2e-only
#	top_builddir=DIR BENCH=DIR/t/bench sh t/bench.sh [t/bench options]
# DESCRIPTION
#	Prepares what t/bench measures with, then runs it:
#
#	1. Keys, made once and kept in $top_builddir/t/bench-keys/ so that
#	   the next run reuses them (they take a few minutes: RSA is slow):
#	     SERIES/gen/	the GnuPG home every key of the series was
#				generated in, secret keys included: the list
#				key (number 0) and the members 1..MAX
#	     SERIES/index	"number<TAB>address<TAB>FPR<TAB>name" lines
#	   for SERIES ed (ed25519 with a cv25519 encryption subkey, 1,000
#	   members) and rsa (RSA-3072 with an RSA-3072 encryption subkey,
#	   100 members).  One gpg --generate-key run per series (two for
#	   RSA, in parallel, merged afterwards) fed one parameter file.
#	2. One list per series and size N, also kept:
#	     SERIES-N/home/	the list's GnuPG home: the list secret key and
#				the public keys of members 1..N, nothing else
#	     SERIES-N/members	the members file
#	   Member 1 is the poster in every list of the series.
#	3. t/bench, with the keys directory, a scratch directory in a tmpfs
#	   (/dev/shm when there is one; BENCH_TMPDIR overrides) for the
#	   posts and the copies, a state directory on the build tree's file
#	   system (as a production StateDirectory would be; BENCH_STATEDIR
#	   overrides) and $top_builddir/bench-results.tsv.  Arguments to this
#	   script go to t/bench (see t/bench --help).
#	4. End to end, when run as root with Postfix, smtp-sink, smtp-source
#	   and swaks installed (otherwise a line says why it was skipped;
#	   BENCH_POSTFIX=no leaves it out): the milter daemon behind a
#	   private Postfix (t/postfix.sh) that relays everything to
#	   smtp-sink, the ed25519 lists of BENCH_E2E_MEMBERS ("100 1000")
#	   members, BENCH_E2E_POSTS (9; BENCH_E2E_POSTS_LARGE, 3, from 1,000
#	   members on) signed 10 KB posts sent one after the other with
#	   smtp-source (after one not counted), for each list:
#	     sendmail	InjectMethod sendmail:, Postfix's sendmail(1)
#			(postdrop); the first list only, and only with
#			BENCH_E2E_SENDMAIL=yes (the default)
#	     smtp	InjectMethod smtp:127.0.0.1:PORT, to the listener without
#			milters of contrib/postfix-master.cf, added on a free
#			port, once per InjectConnections value of
#			BENCH_E2E_CONNECTIONS ("1 2 4")
#	   For each: the milter's own time per post (elapsed= of its log
#	   line), the poster's SMTP session, the time from the start of the
#	   session until the sink wrote the last copy (the sink's file
#	   times, not the polling, date the arrival), copies delivered per
#	   second, and how busy the machine's cores were (/proc/stat).
#	   Beside each smtp row, measured in the same run and taken turn
#	   about with its posts, the floor: Postfix's own intake,
#	   smtp-source pushing as many messages as the list has members, each
#	   a copy of that row (as the sink got it, without what Postfix and
#	   the sink added), over as many connections into the same listener,
#	   as often as there are posts, timed the same way; then the
#	   milter's copies per second over the floor's.  Posts and floor go
#	   in with the same client, so that its start-up weighs on both
#	   alike, and each measurement starts on an empty queue.  Written to
#	   $top_builddir/bench-results-postfix.tsv as well.
#	   --e2e-only runs this part alone: no RSA keys, no in-process rows.
#
#	Every gpg command gets --homedir; the user's own GnuPG home is never
#	used.  Every gpg-agent started in a bench home is stopped at exit.
#	Insecure material: no passphrases.  "make bench-clean" removes it.
# ENVIRONMENT
#	top_builddir (default: the current directory), top_srcdir (default:
#	this script's parent directory), BENCH (default $top_builddir/t/bench),
#	MILTER (default $top_builddir/milter/openpgp-milter), GPG, GPGCONF,
#	POSTFIX, SMTP_SINK, SMTP_SOURCE, SWAKS, BENCH_TMPDIR, BENCH_STATEDIR,
#	BENCH_ED_MAX (default 1000), BENCH_RSA_MAX (default 100),
#	BENCH_POSTFIX, BENCH_E2E_MEMBERS, BENCH_E2E_POSTS,
#	BENCH_E2E_POSTS_LARGE, BENCH_E2E_CONNECTIONS, BENCH_E2E_SENDMAIL.
# DIAGNOSTICS
#	Exit status 0 when every measurement ran; never fails on a timing.

set -eu

GPG=${GPG:-gpg}
GPGCONF=${GPGCONF:-gpgconf}
top_builddir=${top_builddir:-.}
top_builddir=$(cd "$top_builddir" && pwd)
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
BENCH=${BENCH:-$top_builddir/t/bench}
MILTER=${MILTER:-$top_builddir/milter/openpgp-milter}
ED_MAX=${BENCH_ED_MAX:-1000}
RSA_MAX=${BENCH_RSA_MAX:-100}
KEYS=$top_builddir/t/bench-keys

die() {
	echo "bench.sh: $*" >&2
	exit 1
}

note() {
	echo "bench.sh: $*" >&2
}

[ -x "$BENCH" ] || die "no benchmark program at $BENCH: run make bench"

# gpg-agent puts its sockets into the home directory when there is no
# /run/user/UID; a Unix socket name is limited to about 107 bytes.
sock="$KEYS/rsa-1000/home/S.gpg-agent.browser"
if [ ${#sock} -gt 100 ] && [ ! -d "/run/user/$(id -u)" ]; then
	die "the build directory is too deep for gpg-agent's sockets: $KEYS"
fi

scratch=
e2e_base=
milter_pid=
# shellcheck disable=SC2317 # called by the trap
stop_agents() {
	if [ -n "$milter_pid" ]; then
		kill "$milter_pid" 2>/dev/null || :
		wait "$milter_pid" 2>/dev/null || :
		milter_pid=
	fi
	if [ -n "$e2e_base" ]; then
		pf_stop "$e2e_base/pf" >/dev/null 2>&1 || :
		rm -rf "$e2e_base"
		e2e_base=
	fi
	for h in "$KEYS"/*/gen "$KEYS"/*/gen.b "$KEYS"/*-*/home; do
		[ -d "$h" ] || continue
		GNUPGHOME=$h "$GPGCONF" --homedir "$h" --kill all \
		    2>/dev/null || :
	done
	[ -z "$scratch" ] || rm -rf "$scratch"
	[ -z "${state:-}" ] || rm -rf "$state"
}
trap stop_agents EXIT
trap 'exit 1' HUP INT TERM

# gpg_in HOME ARGS...: gpg in HOME, batch mode, no passphrase.
gpg_in() {
	home=$1
	shift
	GNUPGHOME=$home "$GPG" --homedir "$home" --batch --yes --quiet \
	    --no-tty --pinentry-mode loopback --passphrase '' \
	    --trust-model always "$@"
}

# params SERIES FIRST LAST: gpg key parameters for keys FIRST..LAST.
params() {
	awk -v series="$1" -v first="$2" -v last="$3" 'BEGIN {
		for (i = first; i <= last; i++) {
			if (series == "rsa") {
				print "Key-Type: RSA"
				print "Key-Length: 3072"
				print "Subkey-Type: RSA"
				print "Subkey-Length: 3072"
			} else {
				print "Key-Type: EDDSA"
				print "Key-Curve: ed25519"
				print "Subkey-Type: ECDH"
				print "Subkey-Curve: cv25519"
			}
			print "Key-Usage: sign"
			print "Subkey-Usage: encrypt"
			if (i == 0) {
				print "Name-Real: Bench list " series
				print "Name-Email: bench-" series "@lists.example.org"
			} else {
				printf "Name-Real: Member %04d\n", i
				printf "Name-Email: m%04d@%s.example.org\n", i, series
			}
			print "Expire-Date: 0"
			print "%no-protection"
			print "%commit"
		}
	}'
}

# genkeys SERIES MAX: SERIES/gen and SERIES/index with keys 0..MAX.
genkeys() {
	s=$1 max=$2 dir=$KEYS/$1
	if [ -f "$dir/index" ] &&
	    [ "$(wc -l <"$dir/index")" -ge $((max + 1)) ]; then
		return 0
	fi
	note "generating the $s series: list key and $max members (kept in $dir)"
	rm -rf "$dir"
	mkdir -p "$dir"
	mkdir -m 700 "$dir/gen"
	if [ "$s" = rsa ] && [ "$max" -ge 2 ]; then
		# two agents, two cores: RSA key generation is CPU bound
		half=$((max / 2))
		mkdir -m 700 "$dir/gen.b"
		params "$s" 0 "$half" >"$dir/params.a"
		params "$s" $((half + 1)) "$max" >"$dir/params.b"
		gpg_in "$dir/gen" --generate-key "$dir/params.a" \
		    2>"$dir/log.a" &
		pid=$!
		gpg_in "$dir/gen.b" --generate-key "$dir/params.b" \
		    2>"$dir/log.b" ||
			die "key generation failed: $(cat "$dir/log.b")"
		wait "$pid" || die "key generation failed: $(cat "$dir/log.a")"
		gpg_in "$dir/gen.b" --export-secret-keys >"$dir/b.sec" ||
			die "cannot export the second half"
		gpg_in "$dir/gen" --import "$dir/b.sec" 2>/dev/null ||
			die "cannot import the second half"
		GNUPGHOME=$dir/gen.b "$GPGCONF" --homedir "$dir/gen.b" \
		    --kill all 2>/dev/null || :
		rm -rf "$dir/gen.b" "$dir/b.sec" "$dir/params.b" "$dir/log.b"
		mv "$dir/params.a" "$dir/params"
		mv "$dir/log.a" "$dir/log"
	else
		params "$s" 0 "$max" >"$dir/params"
		gpg_in "$dir/gen" --generate-key "$dir/params" 2>"$dir/log" ||
			die "key generation failed: $(cat "$dir/log")"
	fi
	rm -f "$dir/params" "$dir/log"
	# number, address, fingerprint, name, in key order
	gpg_in "$dir/gen" --with-colons --list-keys | awk -F: '
		$1 == "pub" { want = 1; next }
		$1 == "fpr" && want { fpr = toupper($10); want = 0; next }
		$1 == "uid" && fpr != "" {
			uid = $10
			name = uid; sub(/ <.*/, "", name)
			addr = uid; sub(/.*</, "", addr); sub(/>.*/, "", addr)
			n = (addr ~ /^bench-/) ? 0 : substr(addr, 2, 4) + 0
			printf "%d\t%s\t%s\t%s\n", n, addr, fpr, name
			fpr = ""
		}' | sort -n >"$dir/index.tmp"
	[ "$(wc -l <"$dir/index.tmp")" -eq $((max + 1)) ] ||
		die "$s: $(wc -l <"$dir/index.tmp") keys, want $((max + 1))"
	mv "$dir/index.tmp" "$dir/index"
}

# mklist SERIES N: the list home and members file of N members.
mklist() {
	s=$1 n=$2 dir=$KEYS/$1-$2
	[ -f "$dir/ok" ] && return 0
	note "making the $s list of $n members (kept in $dir)"
	GNUPGHOME=$dir/home "$GPGCONF" --homedir "$dir/home" --kill all \
	    2>/dev/null || :
	rm -rf "$dir"
	mkdir -p "$dir"
	mkdir -m 700 "$dir/home"
	list_fpr=$(awk -F'\t' '$1 == 0 { print $3 }' "$KEYS/$s/index")
	gpg_in "$KEYS/$s/gen" --export-secret-keys "$list_fpr" >"$dir/list.sec"
	gpg_in "$dir/home" --import "$dir/list.sec" 2>/dev/null ||
		die "cannot import the list key into $dir/home"
	rm -f "$dir/list.sec"
	# shellcheck disable=SC2046 # one argument per fingerprint
	gpg_in "$KEYS/$s/gen" --export $(awk -F'\t' -v n="$n" \
	    '$1 >= 1 && $1 <= n { print $3 }' "$KEYS/$s/index") \
	    >"$dir/members.pub"
	gpg_in "$dir/home" --import "$dir/members.pub" 2>/dev/null ||
		die "cannot import the members' keys into $dir/home"
	rm -f "$dir/members.pub"
	got=$(gpg_in "$dir/home" --with-colons --list-keys |
	    grep -c '^pub:' || :)
	[ "$got" -eq $((n + 1)) ] ||
		die "$dir/home holds $got keys, want $((n + 1))"
	awk -F'\t' -v n="$n" '$1 >= 1 && $1 <= n { print $2, $3, $4 }' \
	    "$KEYS/$s/index" >"$dir/members"
	GNUPGHOME=$dir/home "$GPGCONF" --homedir "$dir/home" --kill all \
	    2>/dev/null || :
	touch "$dir/ok"
}

# --e2e-only: the end-to-end part alone, without the RSA keys and the
# in-process measurements; every other argument goes to t/bench.
e2e_only=no
n=$#
while [ "$n" -gt 0 ]; do
	a=$1
	shift
	if [ "$a" = --e2e-only ]; then
		e2e_only=yes
	else
		set -- "$@" "$a"
	fi
	n=$((n - 1))
done

mkdir -p "$KEYS"
t0=$(date +%s)
genkeys ed "$ED_MAX"
[ "$e2e_only" = yes ] || genkeys rsa "$RSA_MAX"
lists=
for n in 10 100 1000; do
	[ "$n" -le "$ED_MAX" ] || continue
	mklist ed "$n"
	lists="$lists${lists:+,}$n"
done
series="--series ed:$lists"
lists=
for n in 10 100; do
	[ "$n" -le "$RSA_MAX" ] && [ "$e2e_only" = no ] || continue
	mklist rsa "$n"
	lists="$lists${lists:+,}$n"
done
series="$series --series rsa:$lists"
t1=$(date +%s)
[ "$t1" -le $((t0 + 1)) ] || note "keys and lists ready in $((t1 - t0)) s"

# Scratch space for posts and copies: a tmpfs, so that writing the copies
# measures the milter, not the disk.  The journal goes to disk.
tmpbase=${BENCH_TMPDIR:-}
if [ -z "$tmpbase" ]; then
	if [ -d /dev/shm ] && [ -w /dev/shm ]; then
		tmpbase=/dev/shm
	else
		tmpbase=${TMPDIR:-/tmp}
	fi
fi
scratch=$(mktemp -d "$tmpbase/openpgp-milter-bench.XXXXXX") ||
	die "cannot create a scratch directory in $tmpbase"
state=${BENCH_STATEDIR:-$top_builddir/t/bench-state}
rm -rf "$state"
mkdir -p "$state"

status=0
# shellcheck disable=SC2086 # $series is several words
[ "$e2e_only" = yes ] ||
	"$BENCH" --keys "$KEYS" --tmp "$scratch" --state "$state" \
	    --results "$top_builddir/bench-results.tsv" --gpg "$GPG" \
	    $series "$@" ||
	status=1

# ------------------------------------------------------------ end to end
E2E_MEMBERS=${BENCH_E2E_MEMBERS:-100 1000}
E2E_POSTS=${BENCH_E2E_POSTS:-9}
E2E_POSTS_LARGE=${BENCH_E2E_POSTS_LARGE:-3}
E2E_CONNECTIONS=${BENCH_E2E_CONNECTIONS:-1 2 4}
E2E_SENDMAIL=${BENCH_E2E_SENDMAIL:-yes}
SMTP_SOURCE=${SMTP_SOURCE:-}

e2e_skip() {
	echo
	echo "End to end through a private Postfix: skipped: $*"
}

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# median: the median of the numbers on standard input.
median() {
	sort -n | awk '{ v[NR] = $1 } END {
		if (NR == 0) print 0
		else if (NR % 2) print v[(NR + 1) / 2]
		else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# e2e_milter NAME INJECT CONNECTIONS: start the milter daemon with
# InjectMethod INJECT, InjectConnections CONNECTIONS and a fresh state
# directory.
e2e_milter() {
	rm -rf "$e2e_base/state-$1"
	cat >"$e2e_base/milter-$1.conf" <<EOF
# openpgp-milter benchmark, end to end: $1
Socket local:$e2e_base/milter.sock
StateDirectory $e2e_base/state-$1
List $e2e_base/list.conf
UMask 000
PidFile $e2e_base/milter-$1.pid
InjectMethod $2
InjectConnections $3
EOF
	rm -f "$e2e_base/milter.sock"
	MAIL_CONFIG=$e2e_base/pf/etc "$MILTER" -c "$e2e_base/milter-$1.conf" \
	    -f >"$e2e_base/milter-$1.log" 2>&1 </dev/null &
	milter_pid=$!
	n=0
	while [ ! -S "$e2e_base/milter.sock" ] && [ $n -lt 100 ] &&
	    kill -0 "$milter_pid" 2>/dev/null; do
		sleep 0.1
		n=$((n + 1))
	done
	if [ ! -S "$e2e_base/milter.sock" ]; then
		echo "the milter did not start: $(cat "$e2e_base/milter-$1.log")"
		return 1
	fi
	chmod 666 "$e2e_base/milter.sock"
}

e2e_milter_stop() {
	[ -n "$milter_pid" ] || return 0
	kill "$milter_pid" 2>/dev/null || :
	wait "$milter_pid" 2>/dev/null || :
	milter_pid=
}

# e2e_wait_sink WANT: wait until the sink holds WANT messages.
e2e_wait_sink() {
	n=0
	while [ "$(pf_sink_count "$e2e_base/pf")" -lt "$1" ]; do
		if [ $n -ge 6000 ]; then
			echo "$(pf_sink_count "$e2e_base/pf") messages arrived" \
			    "in 5 minutes, want $1"
			return 1
		fi
		sleep 0.05
		n=$((n + 1))
	done
}

# e2e_last_ms: when the newest message the sink holds was written, in ms
# since the epoch, as now_ms counts: the arrival is timed by the sink's
# own files, not by how often e2e_wait_sink looks.
e2e_last_ms() {
	find "$e2e_base/pf/sink" -type f -printf '%T@\n' | sort -n |
	    sed -n '$p' | awk '{ printf "%.0f", $1 * 1000 }'
}

# cpu_ticks: the ticks every core of the machine spent busy and idle so
# far, "BUSY IDLE" (/proc/stat; "0 0" without it).
cpu_ticks() {
	awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8, $5 + $6; f = 1 }
	    END { if (!f) print "0 0" }' /proc/stat 2>/dev/null || echo "0 0"
}

# busy_pct "BUSY0 IDLE0" "BUSY1 IDLE1": how busy the machine's cores were
# in between, in percent, or - when it cannot tell.
busy_pct() {
	echo "$1 $2" | awk '{ b = $3 - $1; t = b + $4 - $2
	    if (t > 0) printf "%.0f", 100 * b / t; else print "-" }'
}

# e2e_settle: wait until Postfix holds nothing, then empty the sink, so
# that each measurement starts on an idle Postfix and an empty sink.
e2e_settle() {
	pf_wait_queue_empty "$e2e_base/pf" 60 || :
	rm -f "$e2e_base/pf/sink"/*
}

# e2e_keep_copy: keep one copy the sink holds as the floor's message,
# without what Postfix and the sink put in front of it.
e2e_keep_copy() {
	f=$(pf_sink_files "$e2e_base/pf" | sed -n '$p')
	[ -n "$f" ] || return 0
	awk 'head && /^[ \t]/ && skip { next }
	    head && /^(X-Mail-Args|X-Client-[A-Za-z]*|X-Helo-Args|Received):/ {
		skip = 1; next }
	    { skip = 0 }
	    head && /^\r?$/ { head = 0 }
	    { print }' head=1 "$f" >"$e2e_base/copy.eml"
}

# e2e_post NAME MEMBERS I: send post I to the list of MEMBERS members
# and wait until the sink holds every copy; unless I is 0 (the one not
# counted), NAME.times gets "milter session delivered busy", in ms and
# percent.  The post goes in with smtp-source, the floor's client, so
# that the two measurements start the same way.
e2e_post() {
	post=$e2e_base/posts/$(printf %03d "$3").eml
	e2e_settle
	c0=$(cpu_ticks)
	t0=$(now_ms)
	"$SMTP_SOURCE" -m 1 -F "$post" -f "$poster" -t "$list" \
	    -M client.example.test "127.0.0.1:$smtp_port" \
	    >"$e2e_base/$1.transcript" 2>&1 || {
		echo "post $3 was not accepted: $(cat "$e2e_base/$1.transcript")"
		return 1
	}
	t1=$(now_ms)
	e2e_wait_sink "$2" || return 1
	c1=$(cpu_ticks)
	t2=$(e2e_last_ms)
	elapsed=$(sed -n 's/.*verdict=accept.* elapsed=\([0-9]*\)ms.*/\1/p' \
	    "$e2e_base/milter-$1.log" | sed -n '$p')
	[ -n "$elapsed" ] || {
		echo "post $3: the milter logged no acceptance"
		return 1
	}
	[ "$3" -eq 0 ] || echo "$elapsed $((t1 - t0)) $((t2 - t0))" \
	    "$(busy_pct "$c0" "$c1")" >>"$e2e_base/$1.times"
}

# e2e_floor_once NAME MEMBERS SESSIONS: Postfix's own intake, no milter:
# smtp-source pushes MEMBERS messages like a copy over SESSIONS
# connections into the re-injection listener; NAME.floor gets the ms
# from its start until the sink holds them all, and how busy the cores
# were.
e2e_floor_once() {
	[ -s "$e2e_base/copy.eml" ] || {
		echo "no copy to measure the floor with"
		return 1
	}
	e2e_settle
	c0=$(cpu_ticks)
	t0=$(now_ms)
	"$SMTP_SOURCE" -d -N -s "$3" -m "$2" -F "$e2e_base/copy.eml" \
	    -f "bench-ed-bounces@lists.example.org" \
	    -t "floor@ed.example.org" -M bench.example.test \
	    "127.0.0.1:$reinject" >"$e2e_base/$1.source" 2>&1 || {
		echo "smtp-source failed: $(cat "$e2e_base/$1.source")"
		return 1
	}
	e2e_wait_sink "$2" || return 1
	c1=$(cpu_ticks)
	t2=$(e2e_last_ms)
	echo "$((t2 - t0)) $(busy_pct "$c0" "$c1")" >>"$e2e_base/$1.floor"
}

# e2e_row NAME INJECT CONNECTIONS MEMBERS POSTS FLOOR: one row.  The
# milter daemon with InjectMethod INJECT and InjectConnections
# CONNECTIONS; one post not counted, then POSTS posts, and with FLOOR
# yes as many floor runs over as many connections, taken turn about
# with the posts (one before, one after, alternately), so that what
# else the machine does weighs on both alike.
e2e_row() {
	: >"$e2e_base/$1.times"
	: >"$e2e_base/$1.floor"
	e2e_milter "$1" "$2" "$3" || return 1
	e2e_post "$1" "$4" 0 || return 1
	e2e_keep_copy
	i=1
	while [ $i -le "$5" ]; do
		if [ "$6" = yes ] && [ $((i % 2)) -eq 0 ]; then
			e2e_floor_once "$1" "$4" "$3" || return 1
		fi
		e2e_post "$1" "$4" $i || return 1
		if [ "$6" = yes ] && [ $((i % 2)) -eq 1 ]; then
			e2e_floor_once "$1" "$4" "$3" || return 1
		fi
		i=$((i + 1))
	done
	e2e_milter_stop
	e2e_settle
}

# rate MEMBERS: copies per second over the times on standard input.
rate() {
	awk -v n="$1" '{ s += $1 } END {
		printf "%.0f", (s > 0 ? n * NR * 1000 / s : 0) }'
}

# e2e_figures NAME LABEL MEMBERS CONNECTIONS: the table line, and the
# results file line; the floor's columns when NAME.floor has times.
e2e_figures() {
	t=$e2e_base/$1.times
	milter=$(awk '{ print $1 }' "$t" | median)
	session=$(awk '{ print $2 }' "$t" | median)
	delivered=$(awk '{ print $3 }' "$t" | median)
	mrate=$(awk '{ print $3 }' "$t" | rate "$3")
	mbusy=$(awk '{ print $4 }' "$t" | median)
	floor=- frate=- ratio=- fbusy=-
	if [ -s "$e2e_base/$1.floor" ]; then
		floor=$(awk '{ print $1 }' "$e2e_base/$1.floor" | median)
		frate=$(awk '{ print $1 }' "$e2e_base/$1.floor" | rate "$3")
		fbusy=$(awk '{ print $2 }' "$e2e_base/$1.floor" | median)
		ratio=$(awk -v a="$mrate" -v b="$frate" \
		    'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
	fi
	printf '%7s  %-8s %5s %7s %8s %9s %8s %5s %7s %8s %5s %6s\n' "$3" \
	    "$2" "$4" "$milter" "$session" "$delivered" "$mrate" "$mbusy%" \
	    "$floor" "$frate" "$fbusy%" "$ratio"
	printf '%s\t%s\t%d\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
	    "$1" "$2" "$3" "$4" "$(wc -l <"$t")" "$milter" "$session" \
	    "$delivered" "$mrate" "$mbusy" "$floor" "$frate" "$fbusy" \
	    "$ratio" >>"$top_builddir/bench-results-postfix.tsv"
}

# e2e_list MEMBERS: the list definition for the list of MEMBERS members.
e2e_list() {
	cat >"$e2e_base/list.conf" <<EOF
# openpgp-milter benchmark list, end to end
Address $list
GnupgHome $KEYS/ed-$1/home
ListKey $list_fpr
MembersFile $KEYS/ed-$1/members
Admin admin@lists.example.org
EOF
}

postfix_part() {
	[ "${BENCH_POSTFIX:-yes}" != no ] || {
		e2e_skip "BENCH_POSTFIX=no"
		return 0
	}
	[ "$(id -u)" -eq 0 ] || {
		e2e_skip "a private Postfix instance needs root"
		return 0
	}
	[ -f "$top_srcdir/t/postfix.sh" ] || {
		e2e_skip "no $top_srcdir/t/postfix.sh"
		return 0
	}
	# shellcheck source=t/postfix.sh
	. "$top_srcdir/t/postfix.sh"
	if ! missing=$(pf_check_tools); then
		e2e_skip "$missing is not installed"
		return 0
	fi
	[ -n "$SMTP_SOURCE" ] || SMTP_SOURCE=$(pf_find_prog smtp-source)
	[ -n "$SMTP_SOURCE" ] && [ -x "$SMTP_SOURCE" ] || {
		e2e_skip "smtp-source is not installed"
		return 0
	}
	[ -x "$MILTER" ] || {
		e2e_skip "no milter at $MILTER"
		return 0
	}
	for size in $E2E_MEMBERS; do
		[ -f "$KEYS/ed-$size/ok" ] || {
			e2e_skip "no ed25519 list of $size members"
			return 0
		}
	done
	e2e_base=$(mktemp -d "${TMPDIR:-/tmp}/openpgp-milter-bench-pf.XXXXXX") ||
		return 1
	chmod 755 "$e2e_base"
	pf_reachable "$e2e_base" || {
		e2e_skip "user postfix cannot reach $e2e_base (set TMPDIR)"
		return 0
	}
	"$BENCH" --keys "$KEYS" --series ed --sizes 10240 \
	    --make-posts "$e2e_base/posts" >"$e2e_base/posts.info" || return 1
	list=$(sed -n 's/^list=//p' "$e2e_base/posts.info")
	poster=$(sed -n 's/^poster=//p' "$e2e_base/posts.info")
	list_fpr=$(awk -F'\t' '$1 == 0 { print $3 }' "$KEYS/ed/index")
	smtp_port=$(pf_free_port $((20000 + $$ % 4000 * 5))) || return 1
	sink_port=$(pf_free_port $((smtp_port + 1))) || return 1
	mkdir "$e2e_base/pf"
	pf_start "$e2e_base/pf" "$smtp_port" "$sink_port" \
	    "$e2e_base/milter.sock" || return 1
	reinject=$(pf_free_port $((sink_port + 1))) || return 1
	pf_add_reinject "$e2e_base/pf" "$reinject" \
	    "$top_srcdir/contrib/postfix-master.cf" || {
		echo "cannot add the re-injection listener"
		return 1
	}
	: >"$top_builddir/bench-results-postfix.tsv"
	printf 'name\tinject\tmembers\tconnections\tposts\tmilter_ms\tsession_ms\tdelivered_ms\tcopies_per_s\tbusy_pct\tfloor_ms\tfloor_copies_per_s\tfloor_busy_pct\tratio\n' \
	    >>"$top_builddir/bench-results-postfix.tsv"
	echo
	echo "End to end through a private Postfix (relaying to smtp-sink):"
	echo "ed25519, 10 KB posts, $E2E_POSTS posts per row" \
	    "($E2E_POSTS_LARGE from 1,000 members on); medians in ms"
	printf '%7s  %-8s %5s %7s %8s %9s %8s %5s %7s %8s %5s %6s\n' members \
	    inject conn. milter session delivered copies/s busy floor \
	    copies/s busy ratio
	first=yes
	for size in $E2E_MEMBERS; do
		posts=$E2E_POSTS
		[ "$size" -lt 1000 ] || posts=$E2E_POSTS_LARGE
		e2e_list "$size"
		if [ "$first" = yes ] && [ "$E2E_SENDMAIL" = yes ]; then
			e2e_row "sendmail-$size" \
			    "sendmail:$(pf_postbin sendmail)" 1 "$size" \
			    "$posts" no || return 1
			e2e_figures "sendmail-$size" sendmail "$size" 1
		fi
		first=no
		for c in $E2E_CONNECTIONS; do
			e2e_row "smtp-$size-$c" "smtp:127.0.0.1:$reinject" \
			    "$c" "$size" "$posts" yes || return 1
			e2e_figures "smtp-$size-$c" smtp "$size" "$c"
		done
	done
	cat <<EOF
milter: its own elapsed= per post, from MAIL FROM to its reply; session:
the poster's SMTP session (smtp-source); delivered: from the session's
start until the sink wrote the last copy; copies/s: members over the
delivered time; busy: how busy the machine's cores were meanwhile.
floor: Postfix's own intake, smtp-source pushing as many messages like a
copy over as many connections (conn.) into the same listener, timed the
same way, taken turn about with the posts; ratio: the milter's copies/s
over the floor's.  Results: $top_builddir/bench-results-postfix.tsv
EOF
}

if ! postfix_part; then
	echo "End to end through a private Postfix: failed (see above)"
	status=1
fi
exit $status
