# t/postfix.sh - a private Postfix instance and an SMTP sink for end-to-end tests
#
# SYNOPSIS
#	. "$top_srcdir/t/postfix.sh"
#
#	pf_check_tools
#	pf_reachable DIR
#	port=`pf_free_port 30000`
#	pf_start DIR SMTP_PORT SINK_PORT [MILTER_SOCKET]
#	pf_send PORT FROM TO FILE >transcript
#	pf_data_reply <transcript
#	pf_data_reply_text <transcript
#	pf_wait_sink DIR N TIMEOUT
#	pf_wait_queue_empty DIR TIMEOUT
#	pf_wait_log DIR ERE TIMEOUT
#	pf_sink_count DIR
#	pf_sink_rcpts FILE; pf_sink_sender FILE
#	pf_sink_message FILE; pf_sink_header FILE NAME
#	pf_sink_body FILE; pf_msg_body FILE
#	pf_flush DIR
#	pf_stop DIR
#
# DESCRIPTION
#	pf_start sets up and starts a Postfix instance that shares nothing
#	with the system's Postfix but the binaries: its own configuration
#	directory DIR/etc (main.cf and master.cf written from scratch),
#	queue DIR/queue, data directory DIR/data and log file DIR/maillog
#	(written by postlogd, so no syslog daemon is needed). Nothing under
#	/etc is read or changed; the instance is driven with "postfix -c",
#	which Postfix allows to the super-user without listing DIR/etc in
#	alternate_config_directories of the default main.cf.
#
#	smtpd listens on 127.0.0.1:SMTP_PORT, runs MILTER_SOCKET (a path,
#	used as unix:MILTER_SOCKET) as its only milter when it is given and
#	not empty, and relays everything for example.org, example.net,
#	example.com and lists.example.org to [127.0.0.1]:SINK_PORT. There is
#	no local delivery and no DNS. Retries happen within seconds.
#	pf_start needs root, and DIR and the milter socket must be
#	reachable by user postfix (pf_reachable tells).
#
#	The sink is Postfix's smtp-sink on 127.0.0.1:SINK_PORT; it writes each
#	mail transaction to its own file in DIR/sink/: smtp-sink's X-Mail-Args
#	and X-Rcpt-Args records (the envelope), a Received: header, then the
#	message as received.
#
#	pf_send sends FILE unchanged (line ends made CRLF, leading dots
#	doubled) with swaks to TO (addresses separated by commas) and
#	prints the SMTP transcript, the data summarized, on standard output;
#	it returns swaks's exit status. pf_data_reply reads such a
#	transcript and prints the last line of the server's reply to the
#	end of the message data (for example "550 5.7.1 ..."), or the last
#	server reply if the session never got that far; pf_data_reply_text
#	prints every line of that reply joined with spaces.
#
#	pf_wait_sink waits until DIR/sink holds at least N messages and the
#	Postfix queue is empty, for at most TIMEOUT seconds; it fails if
#	fewer than N messages arrived. pf_sink_rcpts and pf_sink_sender
#	print a sink file's envelope; pf_sink_message prints the message
#	in it as delivered (with LF line ends, as smtp-sink writes them),
#	pf_sink_header the unfolded values of one of its header fields,
#	pf_sink_body its body; pf_msg_body prints the body of a message
#	file the same way, for comparison.
#
#	pf_wait_queue_empty waits until Postfix holds no message (a message
#	that was accepted by mistake has then reached the sink);
#	pf_wait_log waits for a line in Postfix's log and prints the lines
#	that match.
#
#	pf_stop stops Postfix and the sink and waits for them; it is safe to
#	call more than once and on a half-started instance.
#
# ENVIRONMENT
#	POSTFIX, SMTP_SINK, SWAKS name the programs (set by make check);
#	when unset, they are looked up in PATH, /usr/sbin and /sbin.
#	PF_MAIN_EXTRA, when set, holds main.cf lines that pf_start appends
#	to the configuration it writes (for example "recipient_delimiter =
#	+" or a virtual_alias_maps of the test's own).
#
# FILES
#	DIR/etc, DIR/queue, DIR/data, DIR/sink, DIR/maillog, DIR/sink.log;
#	DIR/master.pid and DIR/sink.pid hold the PIDs of Postfix's master
#	daemon and of the sink.
#
# DIAGNOSTICS
#	Functions print what went wrong on standard error and return
#	non-zero. pf_check_tools prints the first missing program's name.

# pf_find_prog NAME: print the path of a program, or nothing.
pf_find_prog()
{
	_pf_save_ifs=$IFS
	IFS=:
	for _pf_d in $PATH /usr/sbin /sbin
	do
		if test -n "$_pf_d" && test -x "$_pf_d/$1"
		then
			IFS=$_pf_save_ifs
			echo "$_pf_d/$1"
			return 0
		fi
	done
	IFS=$_pf_save_ifs
	return 1
}

: "${POSTFIX:=`pf_find_prog postfix`}"
: "${SMTP_SINK:=`pf_find_prog smtp-sink`}"
: "${SWAKS:=`pf_find_prog swaks`}"

# pf_check_tools: fail naming the first of postfix, smtp-sink, swaks,
# perl that is not installed.
pf_check_tools()
{
	if test -z "$POSTFIX" || test ! -x "$POSTFIX"
	then
		echo postfix
		return 1
	fi
	if test -z "$SMTP_SINK" || test ! -x "$SMTP_SINK"
	then
		echo smtp-sink
		return 1
	fi
	if test -z "$SWAKS" || test ! -x "$SWAKS"
	then
		echo swaks
		return 1
	fi
	# swaks is a Perl program; the port helpers below use Perl too.
	if ! command -v perl >/dev/null 2>&1
	then
		echo perl
		return 1
	fi
	if ! getent passwd postfix >/dev/null || ! getent group postdrop >/dev/null
	then
		echo "postfix (user postfix or group postdrop)"
		return 1
	fi
	return 0
}

# pf_postbin NAME: path of a Postfix command next to the postfix binary.
pf_postbin()
{
	_pf_b=`dirname "$POSTFIX"`/$1
	if test -x "$_pf_b"
	then
		echo "$_pf_b"
	else
		pf_find_prog "$1" || echo "$1"
	fi
}

# pf_reachable DIR: true if user postfix can open DIR (Postfix's
# daemons run as postfix, so its queue and the milter socket must be
# reachable: a build tree under a private home directory is not).
pf_reachable()
{
	perl -e '
		my ($uid, $gid) = (getpwnam("postfix"))[2, 3];
		defined $uid or exit 1;
		$) = "$gid $gid"; $> = $uid;
		exit((-d $ARGV[0] && -x _ && -r _) ? 0 : 1);' "$1"
}

# pf_port_free PORT: true if nothing listens on 127.0.0.1:PORT and we may
# bind it.
pf_port_free()
{
	perl -MIO::Socket::INET -e '
		my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1",
		    LocalPort => $ARGV[0], Proto => "tcp", ReuseAddr => 1,
		    Listen => 1) or exit 1;
		close $s; exit 0;' "$1"
}

# pf_port_open PORT: true if something accepts connections on
# 127.0.0.1:PORT.
pf_port_open()
{
	perl -MIO::Socket::INET -e '
		my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1",
		    PeerPort => $ARGV[0], Proto => "tcp", Timeout => 2)
		    or exit 1;
		close $s; exit 0;' "$1"
}

# pf_free_port START: print the first free port at or above START (tries
# 200 ports, staying below 65000).
pf_free_port()
{
	_pf_p=$1
	_pf_n=0
	while test $_pf_n -lt 200
	do
		if test "$_pf_p" -ge 65000
		then
			_pf_p=20000
		fi
		if pf_port_free "$_pf_p"
		then
			echo "$_pf_p"
			return 0
		fi
		_pf_p=`expr "$_pf_p" + 1`
		_pf_n=`expr $_pf_n + 1`
	done
	echo "pf_free_port: no free port from $1" >&2
	return 1
}

# pf_wait_port PORT TIMEOUT: wait until 127.0.0.1:PORT accepts connections.
pf_wait_port()
{
	pf_wait_until "$2" pf_port_open "$1"
}

# pf_wait_until TIMEOUT COMMAND...: run COMMAND every tenth of a second
# until it succeeds (status 0), or TIMEOUT seconds have passed (status 1).
pf_wait_until()
{
	_pf_n=0
	_pf_max=`expr "$1" \* 10`
	shift
	until "$@"
	do
		_pf_n=`expr $_pf_n + 1`
		if test $_pf_n -ge $_pf_max
		then
			return 1
		fi
		sleep 0.1 2>/dev/null || sleep 1
	done
	return 0
}

# pf_write_config DIR SMTP_PORT SINK_PORT MILTER_SOCKET
pf_write_config()
{
	_pf_dir=$1
	_pf_postconf=`pf_postbin postconf`
	{
		echo "# Private instance for openpgp-milter's tests; generated."
		echo "compatibility_level = 3.6"
		echo "config_directory = $_pf_dir/etc"
		echo "queue_directory = $_pf_dir/queue"
		echo "data_directory = $_pf_dir/data"
		# The installed binaries and their shared files.
		for _pf_p in command_directory daemon_directory \
		    shlib_directory meta_directory manpage_directory \
		    sendmail_path newaliases_path mailq_path
		do
			echo "$_pf_p = `"$_pf_postconf" -dh $_pf_p`"
		done
		echo "mail_owner = postfix"
		echo "setgid_group = postdrop"
		echo "syslog_name = postfix-test"
		echo "maillog_file = $_pf_dir/maillog"
		echo "maillog_file_prefixes = $_pf_dir"
		echo "myhostname = mx.example.test"
		echo "mydomain = example.test"
		echo "myorigin = \$myhostname"
		echo "mydestination ="
		echo "local_recipient_maps ="
		echo "local_transport = error:5.1.1 no local delivery"
		echo "alias_maps ="
		echo "alias_database ="
		echo "relay_domains = example.org example.net example.com lists.example.org"
		echo "relay_recipient_maps ="
		echo "mynetworks = 127.0.0.0/8"
		echo "inet_interfaces = 127.0.0.1"
		echo "inet_protocols = ipv4"
		echo "smtp_bind_address = 127.0.0.1"
		echo "relayhost = [127.0.0.1]:$3"
		echo "default_transport = smtp"
		echo "relay_transport = smtp"
		echo "smtp_dns_support_level = disabled"
		echo "smtp_host_lookup = native"
		echo "smtp_tls_security_level = none"
		echo "smtpd_tls_security_level = none"
		echo "smtputf8_enable = no"
		echo "biff = no"
		echo "append_dot_mydomain = no"
		# Deliver what the client sent: no Date:, Message-ID: or
		# address rewriting for SMTP clients.
		echo "local_header_rewrite_clients ="
		echo "always_add_missing_headers = no"
		echo "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination"
		echo "smtpd_recipient_restrictions ="
		echo "smtpd_helo_required = no"
		echo "disable_vrfy_command = yes"
		echo "message_size_limit = 20480000"
		echo "queue_run_delay = 1s"
		echo "minimal_backoff_time = 1s"
		echo "maximal_backoff_time = 2s"
		echo "maximal_queue_lifetime = 1h"
		echo "bounce_queue_lifetime = 1h"
		echo "smtp_connect_timeout = 5s"
		echo "in_flow_delay = 0"
		if test -n "$4"
		then
			echo "smtpd_milters = unix:$4"
		else
			echo "smtpd_milters ="
		fi
		echo "non_smtpd_milters ="
		echo "milter_default_action = tempfail"
		echo "milter_protocol = 6"
		echo "milter_connect_timeout = 10s"
		echo "milter_command_timeout = 60s"
		echo "milter_content_timeout = 120s"
		# a test's own parameters, last so that they win
		if test -n "${PF_MAIN_EXTRA-}"
		then
			printf '%s\n' "$PF_MAIN_EXTRA"
		fi
	} >"$_pf_dir/etc/main.cf" || return 1

	# Nothing runs chrooted: the queue is a test directory, and the milter
	# socket is an absolute path outside it.
	cat >"$_pf_dir/etc/master.cf" <<EOF || return 1
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:$2 inet n      -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

# pf_add_reinject DIR PORT SNIPPET: add the re-injection listener of the
# master.cf SNIPPET (contrib/postfix-master.cf: the commented entry for
# 127.0.0.1:10026 and its "-o" lines) on 127.0.0.1:PORT, not chrooted,
# reload, and wait until it answers.  pf_del_reinject DIR PORT removes it.
pf_add_reinject()
{
	awk -v port="$2" '
		/^#127\.0\.0\.1:10026[ \t]/ { on = 1; sub(/^#/, "");
		    sub(/10026/, port); $5 = "n"; print; next }
		on && /^#  -o / { sub(/^#/, ""); print; next }
		{ on = 0 }' "$3" >"$1/etc/reinject.cf" || return 1
	grep -q . "$1/etc/reinject.cf" || return 1
	cat "$1/etc/reinject.cf" >>"$1/etc/master.cf"
	"`pf_postbin postfix`" -c "$1/etc" reload >/dev/null 2>&1 || return 1
	pf_wait_port "$2" 30
}

pf_del_reinject()
{
	awk -v port="$2" '
		$1 == "127.0.0.1:" port { skip = 1; next }
		skip && /^[ \t]/ { next }
		{ skip = 0; print }' "$1/etc/master.cf" >"$1/etc/master.cf.new" &&
	    mv "$1/etc/master.cf.new" "$1/etc/master.cf" &&
	    "`pf_postbin postfix`" -c "$1/etc" reload >/dev/null 2>&1 || return 1
	_pf_n=0
	while pf_port_open "$2" && test $_pf_n -lt 100
	do
		sleep 0.1
		_pf_n=`expr $_pf_n + 1`
	done
	! pf_port_open "$2"
}

# pf_start DIR SMTP_PORT SINK_PORT [MILTER_SOCKET]
pf_start()
{
	_pf_dir=$1
	if test $# -lt 3
	then
		echo "usage: pf_start DIR SMTP_PORT SINK_PORT [MILTER_SOCKET]" >&2
		return 2
	fi
	case $_pf_dir in
	/*) ;;
	*) _pf_dir=`cd "$_pf_dir" 2>/dev/null && pwd` || {
		echo "pf_start: no directory $1" >&2
		return 1
	   } ;;
	esac
	if ! _pf_missing=`pf_check_tools`
	then
		echo "pf_start: $_pf_missing not installed" >&2
		return 1
	fi
	mkdir -p "$_pf_dir/etc" "$_pf_dir/queue" "$_pf_dir/data" \
	    "$_pf_dir/sink" || return 1
	# Postfix runs as postfix and must reach its queue; the sink runs as
	# postfix and writes DIR/sink.
	chmod 755 "$_pf_dir" "$_pf_dir/etc" "$_pf_dir/queue" || return 1
	if ! pf_reachable "$_pf_dir"
	then
		echo "pf_start: user postfix cannot reach $_pf_dir (a parent directory is private)" >&2
		return 1
	fi
	chown root "$_pf_dir/etc" "$_pf_dir/queue" || return 1
	chown postfix "$_pf_dir/data" "$_pf_dir/sink" || return 1
	: >"$_pf_dir/maillog"
	: >"$_pf_dir/postfix-setup.log"
	pf_write_config "$_pf_dir" "$2" "$3" "$4" || return 1

	# "postfix check" creates the missing queue directories with their
	# owners and modes (post-install create-missing); it changes nothing
	# that exists, unlike "postfix set-permissions", which would also
	# reset the modes of the installed programs.
	if ! "$POSTFIX" -c "$_pf_dir/etc" check >>"$_pf_dir/postfix-setup.log" 2>&1
	then
		echo "pf_start: postfix check failed:" >&2
		cat "$_pf_dir/postfix-setup.log" >&2
		return 1
	fi

	# The sink first, so that Postfix finds it on its first delivery.
	"$SMTP_SINK" -u postfix -h sink.example.test \
	    -d "$_pf_dir/sink/%Y%m%d%H%M%S." "127.0.0.1:$3" 100 \
	    >"$_pf_dir/sink.log" 2>&1 </dev/null &
	echo $! >"$_pf_dir/sink.pid"
	if ! pf_wait_port "$3" 10
	then
		echo "pf_start: smtp-sink does not listen on 127.0.0.1:$3:" >&2
		cat "$_pf_dir/sink.log" >&2
		return 1
	fi

	if ! "$POSTFIX" -c "$_pf_dir/etc" start >>"$_pf_dir/postfix-setup.log" 2>&1
	then
		echo "pf_start: postfix start failed:" >&2
		cat "$_pf_dir/postfix-setup.log" "$_pf_dir/maillog" >&2
		return 1
	fi
	if test -s "$_pf_dir/queue/pid/master.pid"
	then
		sed -n '1s/ //gp' "$_pf_dir/queue/pid/master.pid" \
		    >"$_pf_dir/master.pid"
	fi
	if ! pf_wait_port "$2" 10
	then
		echo "pf_start: Postfix smtpd does not listen on 127.0.0.1:$2:" >&2
		cat "$_pf_dir/maillog" >&2
		return 1
	fi
	return 0
}

# pf_pid_alive PID
pf_pid_alive()
{
	test -n "$1" && kill -0 "$1" 2>/dev/null
}

# pf_stop DIR: stop Postfix and the sink, and wait for them.
pf_stop()
{
	_pf_dir=$1
	_pf_rc=0
	if test -f "$_pf_dir/etc/main.cf"
	then
		_pf_mpid=
		if test -s "$_pf_dir/queue/pid/master.pid"
		then
			_pf_mpid=`sed -n '1s/ //gp' "$_pf_dir/queue/pid/master.pid"`
		elif test -s "$_pf_dir/master.pid"
		then
			_pf_mpid=`cat "$_pf_dir/master.pid"`
		fi
		if pf_pid_alive "$_pf_mpid"
		then
			# "postfix stop" waits up to 5 s, then kills the
			# master's process group.
			"$POSTFIX" -c "$_pf_dir/etc" stop >>"$_pf_dir/postfix-setup.log" 2>&1
			_pf_n=0
			while pf_pid_alive "$_pf_mpid" && test $_pf_n -lt 50
			do
				sleep 0.1 2>/dev/null || sleep 1
				_pf_n=`expr $_pf_n + 1`
			done
			if pf_pid_alive "$_pf_mpid"
			then
				echo "pf_stop: Postfix master $_pf_mpid did not stop; killing it" >&2
				kill -9 "$_pf_mpid" 2>/dev/null
				_pf_rc=1
			fi
		fi
	fi
	if test -s "$_pf_dir/sink.pid"
	then
		_pf_spid=`cat "$_pf_dir/sink.pid"`
		if pf_pid_alive "$_pf_spid"
		then
			kill "$_pf_spid" 2>/dev/null
			_pf_n=0
			while pf_pid_alive "$_pf_spid" && test $_pf_n -lt 50
			do
				sleep 0.1 2>/dev/null || sleep 1
				_pf_n=`expr $_pf_n + 1`
			done
			if pf_pid_alive "$_pf_spid"
			then
				kill -9 "$_pf_spid" 2>/dev/null
				_pf_rc=1
			fi
		fi
		# Reap it if it is our child; harmless otherwise.
		wait "$_pf_spid" 2>/dev/null
		rm -f "$_pf_dir/sink.pid"
	fi
	return $_pf_rc
}

# pf_sink_count DIR: number of messages the sink holds.
pf_sink_count()
{
	ls "$1/sink" 2>/dev/null | wc -l | tr -d ' '
}

# pf_sink_files DIR: the sink's message files, oldest first.
pf_sink_files()
{
	ls -tr "$1/sink" 2>/dev/null | sed "s|^|$1/sink/|"
}

# pf_queue_empty DIR: true if Postfix holds no message.
pf_queue_empty()
{
	test -z "`find "$1/queue/incoming" "$1/queue/active" \
	    "$1/queue/deferred" "$1/queue/maildrop" "$1/queue/hold" \
	    -type f 2>/dev/null`"
}

# pf_wait_queue_empty DIR TIMEOUT: wait until Postfix holds no message.
pf_wait_queue_empty()
{
	pf_wait_until "$2" pf_queue_empty "$1"
}

# pf_wait_log DIR ERE TIMEOUT: wait until a line of DIR/maillog matches
# the extended regular expression ERE; print the matching lines.
pf_wait_log()
{
	pf_wait_until "$3" grep -E -e "$2" "$1/maillog" 2>/dev/null
}

# pf_sink_size DIR: total bytes the sink holds.
pf_sink_size()
{
	cat "$1"/sink/* 2>/dev/null | wc -c | tr -d ' '
}

# pf_wait_sink DIR N TIMEOUT: wait until DIR/sink holds at least N
# messages, the Postfix queue is empty (Postfix removes a queue file only
# after the sink acknowledged the message) and the sink's files have
# stopped growing.
pf_wait_sink()
{
	_pf_n=0
	_pf_max=`expr "$3" \* 10`
	_pf_size=-1
	while :
	do
		if test "`pf_sink_count "$1"`" -ge "$2" && pf_queue_empty "$1"
		then
			_pf_now=`pf_sink_size "$1"`
			if test "$_pf_now" = "$_pf_size"
			then
				return 0
			fi
			_pf_size=$_pf_now
		fi
		_pf_n=`expr $_pf_n + 1`
		if test $_pf_n -ge $_pf_max
		then
			break
		fi
		sleep 0.1 2>/dev/null || sleep 1
	done
	test "`pf_sink_count "$1"`" -ge "$2"
}

# pf_sink_sender FILE: the envelope sender of a sink file, without <>.
pf_sink_sender()
{
	sed -n 's/^X-Mail-Args: <\([^>]*\)>.*/\1/p' "$1"
}

# pf_sink_rcpts FILE: the envelope recipients of a sink file, one a line,
# without <>.
pf_sink_rcpts()
{
	sed -n 's/^X-Rcpt-Args: <\([^>]*\)>.*/\1/p' "$1"
}

# pf_sink_message FILE: the message as the sink received it (LF line
# ends), without smtp-sink's records and Received: header before it and
# the empty line after it.
pf_sink_message()
{
	awk '
	skip == 0 { if ($0 ~ /^Received: /) skip = 1; next }
	skip == 1 { if ($0 ~ /^[ \t]/) next; skip = 2 }
	{ if (held) print line; line = $0; held = 1 }
	END { if (held && line != "") print line }' "$1"
}

# pf_sink_header FILE NAME: the values of the header field NAME (any
# case) of the message in a sink file, unfolded, one a line.
pf_sink_header()
{
	pf_sink_message "$1" | awk -v name="$2" '
	function flush() {
		if (field != "") {
			n = index(field, ":")
			if (tolower(substr(field, 1, n - 1)) == tolower(name)) {
				v = substr(field, n + 1)
				sub(/^[ \t]+/, "", v)
				print v
			}
		}
		field = ""
	}
	/^$/ { flush(); exit }
	/^[ \t]/ { field = field " " substr($0, 2); next }
	{ flush(); field = $0 }
	END { flush() }'
}

# pf_sink_body FILE: the body of the message in a sink file (LF line ends).
pf_sink_body()
{
	pf_sink_message "$1" | awk 'b { print; next } /^$/ { b = 1 }'
}

# pf_msg_body FILE: the body of a message file, line ends made LF.
pf_msg_body()
{
	tr -d '\r' <"$1" | awk 'b { print; next } /^$/ { b = 1 }'
}

# pf_flush DIR: ask Postfix to deliver the deferred mail now.
pf_flush()
{
	"`pf_postbin postqueue`" -c "$1/etc" -f
}

# pf_send PORT FROM TO FILE: send FILE as the message data to TO (one
# address, or several separated by commas); print the transcript (the
# data itself summarized); return swaks's status.
pf_send()
{
	# Send the bytes as they are: swaks's data fix-ups (token
	# substitution, "\n" expansion, header refolding) are off, so CRLF
	# line ends, dot-stuffing and the final dot are done here.
	_pf_data=`mktemp "${TMPDIR:-/tmp}/pf_send.XXXXXX"` || return 1
	perl -e '
		binmode STDIN; binmode STDOUT;
		local $/; my $d = <STDIN>; $d = "" unless defined $d;
		$d =~ s/\r?\n/\r\n/g;
		$d .= "\r\n" if length($d) && $d !~ /\r\n\z/;
		$d =~ s/^\./../mg;
		print $d, ".";' <"$4" >"$_pf_data" || {
		rm -f "$_pf_data"
		return 1
	}
	"$SWAKS" --server 127.0.0.1 --port "$1" --helo client.example.test \
	    --from "$2" --to "$3" --no-data-fixup --data "@$_pf_data" \
	    --suppress-data --timeout 120 2>&1
	_pf_rc=$?
	rm -f "$_pf_data"
	return $_pf_rc
}

# pf_data_reply: read a swaks transcript on standard input and print the
# last line of the reply to the message data (code and text, no prefix);
# if the data was never sent, the last server reply.
pf_data_reply()
{
	pf_data_reply_lines | sed -n '$p'
}

# pf_data_reply_text: the whole reply to the message data on one line.
pf_data_reply_text()
{
	pf_data_reply_lines | tr '\n' ' ' | sed 's/ $//'
}

pf_data_reply_lines()
{
	# swaks marks lines it sends with " -> " (" ~> " under TLS) and
	# server replies with "<- " or "<~ " (good) or "<** " / "<~* " (error);
	# with --suppress-data the message is one " -> N lines sent" line.
	awk '
	function strip(s) { sub(/^<[-~*][-~*]? +/, "", s); sub(/\r$/, "", s); return s }
	/^ [-~]> (\.|[0-9]+ lines sent)$/ { dot = 1; n = 0; next }
	/^<[-~*]/ {
		if (dot == 1) { r[++n] = strip($0); if ($0 ~ /^<[-~*]+ +[0-9][0-9][0-9] /) dot = 2 }
		else if (dot == 0) { last = strip($0) }
		next
	}
	END {
		if (dot) { for (i = 1; i <= n; i++) print r[i] }
		else if (last != "") print last
	}'
}
