# t/sendmail.sh - a private Sendmail instance for end-to-end tests
#
# SYNOPSIS
#	. "$top_srcdir/t/postfix.sh"; . "$top_srcdir/t/sendmail.sh"
#
#	sm_fetch ROOT
#	sm_check_tools
#	sm_start DIR SMTP_PORT REINJECT_PORT SINK_PORT [MILTER_SOCKET]
#	sm_sendmail DIR		(the command line of the submission program)
#	sm_queue_empty DIR; sm_wait_queue_empty DIR TIMEOUT
#	sm_wait_sink DIR SINK_DIR N TIMEOUT
#	sm_stop DIR
#
# DESCRIPTION
#	Debian's sendmail-bin conflicts with postfix, so the Sendmail of the
#	tests is not installed: sm_fetch downloads the Debian packages
#	sendmail-bin, sendmail-base and sendmail-cf with "apt-get download"
#	and unpacks them with "dpkg -x" into ROOT (make check does this into
#	t/sendmail-root); the shared libraries the binary needs are
#	installed by t/deps.sh, which also creates the user and group smmsp
#	that Sendmail's submission program runs as.
#
#	sm_start builds DIR/etc/sendmail.cf with m4 from DIR/etc/sendmail.mc:
#	a small configuration of its own plus the lines of the shipped
#	contrib/sendmail.mc (its INPUT_MAIL_FILTER with S= pointed at
#	MILTER_SOCKET, when one is given).  The daemon listens on
#	127.0.0.1:SMTP_PORT, running the filter (name MTA), and, unless
#	REINJECT_PORT is "-", on 127.0.0.1:REINJECT_PORT without any filter:
#	the commented DAEMON_OPTIONS line of contrib/sendmail.mc for
#	InjectMethod smtp:, with its port changed.  It
#	relays every message to [127.0.0.1]:SINK_PORT (the smtp-sink that
#	pf_start starts); nothing is delivered locally and no DNS is used.
#	Its queue is DIR/mqueue (root, 0700).
#
#	DIR/etc/submit.cf is the submission program's configuration
#	(FEATURE(msp)): run as smmsp, queue DIR/clientmqueue (smmsp, 0770),
#	relaying to 127.0.0.1:SMTP_PORT.  sm_sendmail prints the command
#	that submits with it, "SENDMAIL -C DIR/etc/submit.cf", for
#	InjectMethod sendmail:.  A queue runner for DIR/clientmqueue runs
#	beside the daemon, as on a Debian host.
#
#	Sendmail wants a fully qualified host name: with an unqualified one
#	every start of the binary sleeps a minute.  DIR/bin/in-host runs a
#	command in a UTS namespace of its own whose host name is
#	mx.example.test; the daemon and the queue runner are started through
#	it, and so must be the program that runs sm_sendmail (the milter).
#	Nothing outside DIR changes.
#
#	The daemon logs every SMTP conversation of itself and its mailers
#	to DIR/traffic.log (sendmail -X); there is no syslog.
#
#	sm_queue_empty is true when neither queue holds a message;
#	sm_wait_sink waits until SINK_DIR holds at least N messages, both
#	queues are empty and the sink's files stopped growing.
#
#	sm_stop stops the daemon and the queue runner and waits for them;
#	it is safe to call more than once and on a half-started instance.
#
# ENVIRONMENT
#	SENDMAIL_ROOT: where sm_fetch unpacked the packages (set by make
#	check; default $top_builddir/t/sendmail-root).
#	SM_MILTER_TIMEOUTS: when set, replaces the T= timeouts of
#	contrib/sendmail.mc's INPUT_MAIL_FILTER line.
#
# FILES
#	DIR/etc (sendmail.mc, sendmail.cf, submit.mc, submit.cf,
#	service.switch), DIR/mqueue, DIR/clientmqueue, DIR/bin/in-host,
#	DIR/sendmail.pid, DIR/traffic.log, DIR/setup.log.
#
# DIAGNOSTICS
#	Functions print what went wrong on standard error and return
#	non-zero.  sm_check_tools prints what is missing.

: "${SENDMAIL_ROOT:=${top_builddir:-.}/t/sendmail-root}"
SM_BIN=$SENDMAIL_ROOT/usr/libexec/sendmail/sendmail
SM_CF_DIR=$SENDMAIL_ROOT/usr/share/sendmail/cf
SM_HOSTNAME=mx.example.test

# sm_fetch ROOT: download the Sendmail packages and unpack them into ROOT.
sm_fetch()
{
	_sm_root=$1
	_sm_debs=$_sm_root.debs
	rm -rf "$_sm_root" "$_sm_debs"
	mkdir -p "$_sm_debs" || return 1
	if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1
	then
		echo "sm_fetch: apt-get and dpkg are needed to obtain Sendmail" >&2
		return 1
	fi
	# apt-get download writes into the current directory
	if ! (cd "$_sm_debs" &&
	    apt-get download -q sendmail-bin sendmail-base sendmail-cf) \
	    >"$_sm_debs/download.log" 2>&1
	then
		echo "sm_fetch: apt-get download sendmail-bin sendmail-base sendmail-cf failed (run t/deps.sh as root first):" >&2
		cat "$_sm_debs/download.log" >&2
		return 1
	fi
	for _sm_deb in "$_sm_debs"/*.deb
	do
		dpkg -x "$_sm_deb" "$_sm_root" || {
			echo "sm_fetch: dpkg -x $_sm_deb failed" >&2
			return 1
		}
	done
	rm -rf "$_sm_debs"
	if test ! -x "$_sm_root/usr/libexec/sendmail/sendmail" ||
	    test ! -f "$_sm_root/usr/share/sendmail/cf/m4/cf.m4"
	then
		echo "sm_fetch: no sendmail binary or cf/m4/cf.m4 in the packages" >&2
		return 1
	fi
	return 0
}

# sm_check_tools: fail naming what is missing to run the instance.
sm_check_tools()
{
	if test ! -x "$SM_BIN" || test ! -f "$SM_CF_DIR/m4/cf.m4"
	then
		echo "its binary $SM_BIN (make check unpacks the Debian packages there; see t/sendmail-root.err)"
		return 1
	fi
	if ldd "$SM_BIN" 2>/dev/null | grep -q 'not found'
	then
		echo "the libraries of $SM_BIN (`ldd "$SM_BIN" | grep 'not found' | awk '{ print $1 }' | tr '\n' ' '`: run t/deps.sh)"
		return 1
	fi
	for _sm_p in m4 unshare
	do
		if ! command -v $_sm_p >/dev/null 2>&1
		then
			echo "$_sm_p"
			return 1
		fi
	done
	if ! getent passwd smmsp >/dev/null || ! getent group smmsp >/dev/null
	then
		echo "the user and group smmsp (run t/deps.sh)"
		return 1
	fi
	return 0
}

# sm_sendmail DIR: the submission command of the instance in DIR.
sm_sendmail()
{
	echo "$SM_BIN -C $1/etc/submit.cf"
}

# sm_m4 MC CF: build a configuration file.
sm_m4()
{
	m4 -D_CF_DIR_="$SM_CF_DIR/" "$SM_CF_DIR/m4/cf.m4" "$1" >"$2.new" &&
	    mv "$2.new" "$2"
}

# sm_write_config DIR SMTP_PORT REINJECT_PORT SINK_PORT MILTER_SOCKET
sm_write_config()
{
	_sm_dir=$1
	printf 'hosts\tfiles\naliases\tfiles\n' >"$_sm_dir/etc/service.switch"
	{
		echo "divert(-1)"
		echo "# Private Sendmail for openpgp-milter's tests; generated."
		echo "divert(0)dnl"
		echo "VERSIONID(\`openpgp-milter test instance')dnl"
		echo "OSTYPE(\`linux')dnl"
		echo "define(\`confDOMAIN_NAME', \`$SM_HOSTNAME')dnl"
		echo "define(\`QUEUE_DIR', \`$_sm_dir/mqueue')dnl"
		echo "define(\`STATUS_FILE', \`$_sm_dir/mqueue/statistics')dnl"
		echo "define(\`confPID_FILE', \`$_sm_dir/sendmail.pid')dnl"
		echo "define(\`ALIAS_FILE', \`')dnl"
		echo "define(\`confHELP_FILE', \`')dnl"
		echo "define(\`confSERVICE_SWITCH_FILE', \`$_sm_dir/etc/service.switch')dnl"
		echo "define(\`confDONT_PROBE_INTERFACES', \`True')dnl"
		# /tmp, where the run directory may be, is world writable
		echo "define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl"
		echo "define(\`confTO_IDENT', \`0')dnl"
		echo "define(\`confQUEUE_LA', \`1000')dnl"
		echo "define(\`confREFUSE_LA', \`1000')dnl"
		echo "define(\`confMIN_QUEUE_AGE', \`0')dnl"
		echo "define(\`confTO_QUEUERETURN', \`1h')dnl"
		echo "define(\`confDELIVERY_MODE', \`background')dnl"
		echo "define(\`SMART_HOST', \`[127.0.0.1]')dnl"
		echo "define(\`RELAY_MAILER_ARGS', \`TCP \$h $4')dnl"
		echo "define(\`ESMTP_MAILER_ARGS', \`TCP \$h $4')dnl"
		echo "FEATURE(\`nocanonify')dnl"
		echo "FEATURE(\`accept_unresolvable_domains')dnl"
		echo "FEATURE(\`no_default_msa')dnl"
		echo "DAEMON_OPTIONS(\`Port=$2, Addr=127.0.0.1, Name=MTA')dnl"
		if test "$3" != -
		then
			echo "dnl the listener without filters of contrib/sendmail.mc"
			sed -n -e "/^dnl DAEMON_OPTIONS(.*Name=Reinject/{" \
			    -e "s/^dnl //" -e "s/Port=10026/Port=$3/" -e p -e "}" \
			    "$top_srcdir/contrib/sendmail.mc"
		fi
		if test -n "$5"
		then
			echo "dnl the lines of contrib/sendmail.mc, S= pointed at the test's socket"
			_sm_t=
			test -z "${SM_MILTER_TIMEOUTS-}" ||
				_sm_t="s|T=[^']*|T=$SM_MILTER_TIMEOUTS|"
			sed -e "s|S=unix:[^,']*|S=unix:$5|" -e "$_sm_t" \
			    "$top_srcdir/contrib/sendmail.mc"
		fi
		echo "MAILER(\`smtp')dnl"
	} >"$_sm_dir/etc/sendmail.mc" || return 1
	if test -n "$5" && ! grep -q "^INPUT_MAIL_FILTER(.*S=unix:$5," \
	    "$_sm_dir/etc/sendmail.mc"
	then
		echo "sm_start: no INPUT_MAIL_FILTER line with S=unix:... in contrib/sendmail.mc" >&2
		return 1
	fi
	if test "$3" != - && ! grep -q "^DAEMON_OPTIONS(.Port=$3," \
	    "$_sm_dir/etc/sendmail.mc"
	then
		echo "sm_start: no \"dnl DAEMON_OPTIONS(...Port=10026...Name=Reinject\" line in contrib/sendmail.mc" >&2
		return 1
	fi
	{
		echo "divert(-1)"
		echo "# Submission program of the private Sendmail; generated."
		echo "divert(0)dnl"
		echo "VERSIONID(\`openpgp-milter test instance: submission')dnl"
		echo "OSTYPE(\`linux')dnl"
		echo "define(\`confDOMAIN_NAME', \`$SM_HOSTNAME')dnl"
		echo "define(\`confSERVICE_SWITCH_FILE', \`$_sm_dir/etc/service.switch')dnl"
		echo "define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl"
		echo "define(\`confHELP_FILE', \`')dnl"
		echo "define(\`confQUEUE_LA', \`1000')dnl"
		echo "define(\`confREFUSE_LA', \`1000')dnl"
		echo "define(\`MSP_QUEUE_DIR', \`$_sm_dir/clientmqueue')dnl"
		echo "define(\`RELAY_MAILER_ARGS', \`TCP \$h $2')dnl"
		echo "FEATURE(\`msp', \`[127.0.0.1]')dnl"
	} >"$_sm_dir/etc/submit.mc" || return 1
	sm_m4 "$_sm_dir/etc/sendmail.mc" "$_sm_dir/etc/sendmail.cf" &&
	    sm_m4 "$_sm_dir/etc/submit.mc" "$_sm_dir/etc/submit.cf"
}

# sm_start DIR SMTP_PORT REINJECT_PORT SINK_PORT [MILTER_SOCKET]
sm_start()
{
	if test $# -lt 4
	then
		echo "usage: sm_start DIR SMTP_PORT REINJECT_PORT SINK_PORT [MILTER_SOCKET]" >&2
		return 2
	fi
	_sm_dir=$1
	case $_sm_dir in
	/*) ;;
	*) _sm_dir=`cd "$_sm_dir" 2>/dev/null && pwd` || {
		echo "sm_start: no directory $1" >&2
		return 1
	   } ;;
	esac
	if ! _sm_missing=`sm_check_tools`
	then
		echo "sm_start: $_sm_missing not installed" >&2
		return 1
	fi
	mkdir -p "$_sm_dir/etc" "$_sm_dir/bin" "$_sm_dir/mqueue" \
	    "$_sm_dir/clientmqueue" || return 1
	# the submission program runs as smmsp and reads its configuration
	chmod 755 "$_sm_dir" "$_sm_dir/etc" &&
	    chmod 700 "$_sm_dir/mqueue" &&
	    chown smmsp:smmsp "$_sm_dir/clientmqueue" &&
	    chmod 770 "$_sm_dir/clientmqueue" || return 1
	cat >"$_sm_dir/bin/in-host" <<EOF || return 1
#!/bin/sh
# Run a command under the host name $SM_HOSTNAME (a UTS namespace of its own).
exec unshare --uts sh -c 'hostname $SM_HOSTNAME && exec "\$@"' sh "\$@"
EOF
	chmod 755 "$_sm_dir/bin/in-host" || return 1
	: >"$_sm_dir/setup.log"
	sm_write_config "$_sm_dir" "$2" "$3" "$4" "$5" \
	    >>"$_sm_dir/setup.log" 2>&1 || {
		echo "sm_start: cannot build the configuration:" >&2
		cat "$_sm_dir/setup.log" >&2
		return 1
	}
	if ! "$_sm_dir/bin/in-host" "$SM_BIN" -C "$_sm_dir/etc/sendmail.cf" \
	    -bd -q2s -X "$_sm_dir/traffic.log" >>"$_sm_dir/setup.log" 2>&1 </dev/null
	then
		echo "sm_start: the Sendmail daemon did not start:" >&2
		cat "$_sm_dir/setup.log" >&2
		return 1
	fi
	if ! "$_sm_dir/bin/in-host" "$SM_BIN" -C "$_sm_dir/etc/submit.cf" \
	    -Ac -q2s >>"$_sm_dir/setup.log" 2>&1 </dev/null
	then
		echo "sm_start: the submission queue runner did not start:" >&2
		cat "$_sm_dir/setup.log" >&2
		return 1
	fi
	for _sm_p in "$2" `test "$3" = - || echo "$3"`
	do
		if ! pf_wait_port "$_sm_p" 30
		then
			echo "sm_start: Sendmail does not listen on 127.0.0.1:$_sm_p:" >&2
			cat "$_sm_dir/setup.log" >&2
			return 1
		fi
	done
	return 0
}

# sm_pids DIR: the daemon's and the queue runner's PIDs.
sm_pids()
{
	for _sm_f in "$1/sendmail.pid" "$1/clientmqueue/sm-client.pid"
	do
		test -s "$_sm_f" && sed -n '1p' "$_sm_f"
	done
}

# sm_stop DIR: stop the daemon and the queue runner, and wait for them.
sm_stop()
{
	_sm_rc=0
	for _sm_pid in `sm_pids "$1"`
	do
		pf_pid_alive "$_sm_pid" || continue
		kill "$_sm_pid" 2>/dev/null
		_sm_n=0
		while pf_pid_alive "$_sm_pid" && test $_sm_n -lt 50
		do
			sleep 0.1 2>/dev/null || sleep 1
			_sm_n=`expr $_sm_n + 1`
		done
		if pf_pid_alive "$_sm_pid"
		then
			echo "sm_stop: Sendmail $_sm_pid did not stop; killing it" >&2
			kill -9 "$_sm_pid" 2>/dev/null
			_sm_rc=1
		fi
	done
	return $_sm_rc
}

# sm_queue_empty DIR: true if neither queue holds a message.
sm_queue_empty()
{
	test -z "`find "$1/mqueue" "$1/clientmqueue" -type f \
	    \( -name 'qf*' -o -name 'df*' -o -name 'tf*' \) 2>/dev/null`"
}

# sm_wait_queue_empty DIR TIMEOUT
sm_wait_queue_empty()
{
	pf_wait_until "$2" sm_queue_empty "$1"
}

# sm_wait_sink DIR SINK_DIR N TIMEOUT: wait until SINK_DIR holds at least
# N messages, Sendmail's queues are empty and the sink's files stopped
# growing.
sm_wait_sink()
{
	_sm_n=0
	_sm_max=`expr "$4" \* 10`
	_sm_size=-1
	while :
	do
		if test "`ls "$2" 2>/dev/null | wc -l`" -ge "$3" &&
		    sm_queue_empty "$1"
		then
			_sm_now=`cat "$2"/* 2>/dev/null | wc -c`
			if test "$_sm_now" = "$_sm_size"
			then
				return 0
			fi
			_sm_size=$_sm_now
		fi
		_sm_n=`expr $_sm_n + 1`
		if test $_sm_n -ge $_sm_max
		then
			break
		fi
		sleep 0.1 2>/dev/null || sleep 1
	done
	test "`ls "$2" 2>/dev/null | wc -l`" -ge "$3"
}
