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
#	that nothing listens.  For the Sendmail leg (t/sendmail.sh), whose
#	packages conflict with postfix and are therefore only unpacked
#	under the build tree by make check: the libraries its binary needs,
#	m4 for its configuration, unshare, and the user and group smmsp its
#	submission program runs as.  Needs root; does nothing without it.
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
# Sendmail's binary, unpacked by make check (t/sendmail.sh): its
# libraries, and what its configuration and the tests need.
apt-get install -y -qq --no-install-recommends \
	libdb5.3 libldap-2.5-0 liblockfile1 libnsl2 libsasl2-2 libssl3 \
	libwrap0 m4 util-linux >/dev/null
getent group smmsp >/dev/null || groupadd --system smmsp
getent passwd smmsp >/dev/null ||
	useradd --system --gid smmsp --home-dir /nonexistent --no-create-home \
	    --shell /usr/sbin/nologin --comment "Sendmail submission" smmsp
