#!/bin/sh
# NAME
#	sendmail-fault.sh - a sendmail(1) stand-in that fails on purpose
# SYNOPSIS
#	InjectMethod sendmail:DIR/sendmail  (a copy of this script made by
#	t/e2e-faults.test, with REAL and DIR filled in)
# DESCRIPTION
#	Counts its calls in DIR/calls and then behaves as DIR/mode says:
#	  pass		run the real sendmail
#	  fail-3	the 3rd call fails (exit 75) without queueing anything
#	  hang-3	the 3rd call announces itself in DIR/hanging, waits
#			until DIR/release exists, then fails (exit 75)
#	  slow-2	the 2nd call waits 3 seconds, then runs the real sendmail
#	  slow-each	every call waits 2 seconds, then runs the real sendmail
#	Every other call runs the real sendmail.
REAL=@REAL@
DIR=@DIR@
n=$(($(cat "$DIR/calls" 2>/dev/null || echo 0) + 1))
echo "$n" >"$DIR/calls"
case $(cat "$DIR/mode" 2>/dev/null) in
fail-3)
	if [ "$n" -eq 3 ]; then
		cat >/dev/null
		exit 75
	fi
	;;
hang-3)
	if [ "$n" -eq 3 ]; then
		: >"$DIR/hanging"
		i=0
		while [ ! -f "$DIR/release" ] && [ $i -lt 600 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		exit 75
	fi
	;;
slow-2)
	[ "$n" -eq 2 ] && sleep 3
	;;
slow-each)
	sleep 2
	;;
esac
exec "$REAL" "$@"
