#!/bin/sh
# NAME
#	deps.sh - install what openpgp-milter needs to build and be tested
# SYNOPSIS
#	sh t/deps.sh
# DESCRIPTION
#	Debian 12 packages for the build (autotools, libmilter, GMime 3,
#	gpgme, GLib, Check) and for the tests (GnuPG, a Postfix that is
#	installed but not configured: the tests run private instances, and
#	swaks).  Postfix's debconf question is answered "No configuration" so
#	that nothing listens.  Needs root; does nothing without it.
set -eu
if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: not root: assuming the dependencies are installed" >&2
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" |
    debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
	build-essential autoconf automake libtool pkg-config \
	libmilter-dev libgmime-3.0-dev libgpgme-dev libgpg-error-dev \
	libglib2.0-dev check \
	gnupg gpg-agent gpgconf \
	postfix swaks \
	clang libclang-rt-14-dev \
	procps >/dev/null
