#!/bin/sh
#
# NAME
#	fixtures.sh - generate the test keys, members file and configuration
# SYNOPSIS
#	sh t/fixtures.sh OUTDIR
# DESCRIPTION
#	Creates, under the absolute directory OUTDIR, one GnuPG home per
#	test person and one for the list, the members file, the list
#	definition and a main configuration file.  Everything is insecure
#	test material: no passphrases, generated at test time, never
#	committed.  The layout is a contract the other tests rely on:
#
#	OUTDIR/gnupg-NAME/	NAME's secret key (and the list's public key),
#				NAME in alice bob carol dave erin frank grace
#				mallory list
#	OUTDIR/gnupg-list/	the list secret key, every person's public
#				key and erin's revocation
#	OUTDIR/fpr/NAME		upper-case 40-hex primary fingerprint
#	OUTDIR/members		alice bob carol dave erin frank grace
#				(not mallory)
#	OUTDIR/lists/secir.conf	the list definition
#	OUTDIR/openpgp-milter.conf	the main configuration
#	OUTDIR/state/, OUTDIR/run/	empty directories
#
#	Every key is created 60 days in the past.  dave's key expired 50
#	days ago; erin's key is revoked in the list's home only, so that she
#	can still sign in her own.  carol and grace have RSA-3072 keys (carol's
#	also serves the SHA-1 case); every other key is ed25519 with a
#	cv25519 encryption subkey.  frank and grace make the list five
#	members who can receive, for the fan-out tests.
#
#	The user's own GnuPG home is never used: every gpg command gets
#	--homedir and GNUPGHOME.  Every gpg-agent started is stopped at the
#	end, also on failure.  Running it again over an earlier OUTDIR
#	replaces what it made there.
# ENVIRONMENT
#	GPG, GPGCONF: the programs to run (default: gpg, gpgconf).
# DIAGNOSTICS
#	Exit status 0 on success; otherwise a message on stderr.

set -eu

GPG=${GPG:-gpg}
GPGCONF=${GPGCONF:-gpgconf}
PEOPLE="alice bob carol dave erin frank grace mallory"
LIST_ADDRESS=secir@lists.example.org

die() {
	echo "fixtures.sh: $*" >&2
	exit 1
}

case ${1-} in
/*) out=$1 ;;
'') die "usage: sh fixtures.sh OUTDIR (an absolute path)" ;;
*) die "OUTDIR must be an absolute path: $1" ;;
esac
out=${out%/}

# gpg-agent puts its sockets into the home directory when there is no
# /run/user/UID; a Unix socket name is limited to about 107 bytes.
sock="$out/gnupg-mallory/S.gpg-agent.browser"
if [ ${#sock} -gt 100 ] && [ ! -d "/run/user/$(id -u)" ]; then
	die "OUTDIR is too long for gpg-agent's sockets: $out"
fi

# The creation time of every key: 60 days ago, frozen.
created=$(date -u -d '60 days ago' +%Y%m%dT%H%M%S) ||
	die "date -d is needed (GNU coreutils)"

# gpg NAME ARGS...: run gpg in NAME's home, batch mode, no passphrase.
gpg_in() {
	home="$out/gnupg-$1"
	shift
	GNUPGHOME=$home "$GPG" --homedir "$home" --batch --yes --quiet \
	    --no-tty --pinentry-mode loopback --passphrase '' "$@"
}

stop_agents() {
	for h in "$out"/gnupg-*; do
		[ -d "$h" ] || continue
		GNUPGHOME=$h "$GPGCONF" --homedir "$h" --kill all \
		    2>/dev/null || :
	done
}
trap stop_agents EXIT
trap 'exit 1' HUP INT TERM

# Start from a clean slate: remove only what this script creates.
stop_agents
rm -rf "$out"/gnupg-* "$out/fpr" "$out/members" "$out/lists" \
    "$out/openpgp-milter.conf" "$out/state" "$out/run"
mkdir -p "$out/fpr" "$out/lists" "$out/state" "$out/run"

# keyparams NAME "Real Name" address: NAME's key parameters, on stdout.
keyparams() {
	case $1 in
	carol|grace)
		echo "Key-Type: RSA"
		echo "Key-Length: 3072"
		echo "Key-Usage: sign"
		echo "Subkey-Type: RSA"
		echo "Subkey-Length: 3072"
		echo "Subkey-Usage: encrypt"
		;;
	*)
		echo "Key-Type: EDDSA"
		echo "Key-Curve: ed25519"
		echo "Key-Usage: sign"
		echo "Subkey-Type: ECDH"
		echo "Subkey-Curve: cv25519"
		echo "Subkey-Usage: encrypt"
		;;
	esac
	echo "Name-Real: $2"
	echo "Name-Email: $3"
	case $1 in
	dave) echo "Expire-Date: 10d" ;;
	*) echo "Expire-Date: 0" ;;
	esac
	echo "%no-protection"
	echo "%commit"
}

# genkey NAME "Real Name" address: make NAME's home, key and fpr/NAME.
genkey() {
	mkdir -m 700 "$out/gnupg-$1"
	keyparams "$@" >"$out/gnupg-$1/keyparams"
	gpg_in "$1" --faked-system-time "$created!" \
	    --generate-key "$out/gnupg-$1/keyparams" 2>"$out/gnupg-$1/log" ||
		die "key generation for $1 failed: $(cat "$out/gnupg-$1/log")"
	rm -f "$out/gnupg-$1/keyparams" "$out/gnupg-$1/log"
	gpg_in "$1" --with-colons --list-secret-keys |
	    awk -F: '$1 == "fpr" { print toupper($10); exit }' \
	    >"$out/fpr/$1"
	grep -Eq '^[0-9A-F]{40}$' "$out/fpr/$1" ||
		die "no fingerprint for $1"
}

genkey alice "Alice Example" alice@example.org
genkey bob "Bob Example" bob@example.org
genkey carol "Carol Example" carol@example.net
genkey dave "Dave Expired" dave@example.org
genkey erin "Erin Revoked" erin@example.org
genkey frank "Frank Example" frank@example.org
genkey grace "Grace Example" grace@example.net
genkey mallory "Mallory Outsider" mallory@example.com
genkey list "secir list" "$LIST_ADDRESS"

fpr() {
	cat "$out/fpr/$1"
}

# The list knows every person's public key; every person knows the list's.
gpg_in list --export "$(fpr list)" >"$out/run/list.pub"
for p in $PEOPLE; do
	gpg_in "$p" --export "$(fpr "$p")" >"$out/run/$p.pub"
	gpg_in list --import "$out/run/$p.pub" 2>/dev/null ||
		die "cannot import $p's key into the list home"
	gpg_in "$p" --import "$out/run/list.pub" 2>/dev/null ||
		die "cannot import the list key into $p's home"
	rm -f "$out/run/$p.pub"
done
rm -f "$out/run/list.pub"

# erin's revocation certificate, as gpg wrote it at key generation; its
# armor header is escaped with a leading ':' against accidental import.
rev="$out/gnupg-erin/openpgp-revocs.d/$(fpr erin).rev"
[ -f "$rev" ] || die "no revocation certificate for erin: $rev"
sed 's/^:-----BEGIN PGP PUBLIC KEY BLOCK-----/-----BEGIN PGP PUBLIC KEY BLOCK-----/' \
    "$rev" >"$out/run/erin.rev"
gpg_in list --import "$out/run/erin.rev" 2>/dev/null ||
	die "cannot import erin's revocation"
rm -f "$out/run/erin.rev"

# Check the states the tests depend on, from the list's point of view.
validity() {
	gpg_in list --with-colons --list-keys "$(fpr "$1")" |
	    awk -F: '$1 == "pub" { print $2; exit }'
}
[ "$(validity erin)" = r ] || die "erin's key is not revoked in the list home"
[ "$(validity dave)" = e ] || die "dave's key has not expired"

{
	echo "# Members of secir@lists.example.org: test fixtures, insecure."
	echo "# address fingerprint display name"
	echo "alice@example.org $(fpr alice) Alice Example"
	echo "bob@example.org $(fpr bob) Bob Example"
	echo "carol@example.net $(fpr carol) Carol Example"
	echo "dave@example.org $(fpr dave) Dave Expired"
	echo "erin@example.org $(fpr erin) Erin Revoked"
	echo "frank@example.org $(fpr frank) Frank Example"
	echo "grace@example.net $(fpr grace) Grace Example"
} >"$out/members"

{
	echo "# The secir test list (fixtures)."
	echo "Address $LIST_ADDRESS"
	echo "GnupgHome $out/gnupg-list"
	echo "ListKey $(fpr list)"
	echo "MembersFile $out/members"
	echo "Admin admin@example.org"
} >"$out/lists/secir.conf"

{
	echo "# openpgp-milter test configuration (fixtures)."
	echo "Socket local:$out/run/milter.sock"
	echo "StateDirectory $out/state"
	echo "List $out/lists/secir.conf"
	echo "UMask 000"
	echo "PidFile $out/run/openpgp-milter.pid"
} >"$out/openpgp-milter.conf"

exit 0
