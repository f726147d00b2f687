#!/bin/sh
#
# NAME
#	seeds.sh - fill the fuzzers' seed corpora from the project's own
#	test messages
# SYNOPSIS
#	FIXTURES=DIR sh t/fuzz/seeds.sh OUTDIR
# DESCRIPTION
#	Writes OUTDIR/mime/ and OUTDIR/pgp/, replacing what was there.
#
#	OUTDIR/mime/ gets one post per shape t/mkpost.sh knows (the list is
#	read from mkpost.sh itself, so a new shape is seeded without a change
#	here), some shapes again with options that change their structure
#	(attachments, protected header fields, charsets, dash-escaped lines,
#	nesting and part counts below and above the bounds), and the posts
#	in t/regress/.  A shape mkpost.sh fails to make is reported and
#	skipped.
#
#	OUTDIR/pgp/ gets binary OpenPGP messages made with a private copy of
#	the list's GnuPG home $FIXTURES/gnupg-list: encrypted to one, two,
#	three and seven recipients (ed25519/cv25519 and RSA keys), signed by
#	the list key or not, written from a file or from a pipe (which makes
#	gpg use partial body lengths), with hidden recipients, symmetric
#	only, without integrity protection; then the armored form of some of
#	them, a detached signature, a clear-signed text, and the *.pgp and
#	*.asc files in t/regress/.
#
#	The corpora are made at build time and never committed.
# ENVIRONMENT
#	FIXTURES (required; make t/fixtures.stamp makes it), GPG, GPGCONF,
#	TMPDIR.
# DIAGNOSTICS
#	Exit status 0 when both corpora have seeds, 2 for usage errors, 1
#	otherwise.

set -eu

GPG=${GPG:-gpg}
GPGCONF=${GPGCONF:-gpgconf}

die() {
	echo "seeds.sh: $*" >&2
	exit 1
}

[ $# -eq 1 ] || { echo "usage: FIXTURES=DIR sh seeds.sh OUTDIR" >&2; exit 2; }
out=$1
if [ -z "${FIXTURES-}" ] || [ ! -d "$FIXTURES/gnupg-list" ]; then
	die "no fixtures in '${FIXTURES-}': make t/fixtures.stamp"
fi
here=$(cd "$(dirname "$0")" && pwd)
mkpost="$here/../mkpost.sh"
[ -r "$mkpost" ] || die "cannot find $mkpost"

rm -rf "$out/mime" "$out/pgp"
mkdir -p "$out/mime" "$out/pgp"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/seeds.XXXXXX") || die "mktemp failed"
cleanup() {
	if [ -d "$tmp/home" ]; then
		GNUPGHOME="$tmp/home" "$GPGCONF" --homedir "$tmp/home" \
		    --kill all 2>/dev/null || :
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# ---------------------------------------------------------------- MIME
# The shapes: the words of the first "case $shape in" block of mkpost.sh,
# up to its "unknown shape" branch.
# shellcheck disable=SC2016,SC2020 # a literal $; each of | and ) ends a word
shapes=$(sed -n '/^case \$shape in/,/unknown shape/{p;/unknown shape/q;}' "$mkpost" |
    sed -e '1d' -e '$d' | tr -d ' \t\\;' | tr '|)' '\n\n' | grep -v '^$')
[ -n "$shapes" ] || die "no shapes found in $mkpost"

failed=0
# post NAME MKPOST-OPTION...: one seed.
post() {
	p_name=$1
	shift
	if ! FIXTURES=$FIXTURES sh "$mkpost" --body "seed $p_name" "$@" \
	    >"$out/mime/$p_name.eml" 2>"$tmp/mkpost.err"; then
		echo "seeds.sh: mkpost.sh $* failed:" \
		    "$(sed -n 1p "$tmp/mkpost.err")" >&2
		rm -f "$out/mime/$p_name.eml"
		failed=$((failed + 1))
	fi
}

for s in $shapes; do
	case $s in
	big) post big --shape big --body-size 150000 ;;
	*) post "$s" --shape "$s" ;;
	esac
done
post signed-attach --shape signed --attach
post signed-protected --shape signed --protected
post signed-sha1 --shape signed --signer carol --digest SHA1
post signed-rsa --shape signed --signer grace
post deep-3 --shape deep --depth 3
post deep-8 --shape deep --depth 8
post many-parts-20 --shape many-parts --parts 20
post many-parts-99 --shape many-parts --parts 99
post encrypted-nested-protected --shape encrypted-nested --protected
post inline-signed-utf8 --shape inline-signed --charset utf-8
post inline-signed-latin1 --shape inline-signed --charset latin1 --dashes
post inline-encrypted-utf8 --shape inline-encrypted --charset utf-8
# t/regress/: OpenPGP inputs seed the splitter, the rest the classifier.
for f in "$here"/../regress/*; do
	[ -f "$f" ] || continue
	case $f in
	*.pgp | *.asc) cp "$f" "$out/pgp/regress-${f##*/}" ;;
	*) cp "$f" "$out/mime/regress-${f##*/}" ;;
	esac
done

# ---------------------------------------------------------------- pgp
mkdir -m 700 "$tmp/home"
cp -R "$FIXTURES/gnupg-list/." "$tmp/home/"
rm -f "$tmp/home"/S.* "$tmp/home"/*.lock
fpr() {
	cat "$FIXTURES/fpr/$1"
}
gpg_list() {
	GNUPGHOME="$tmp/home" "$GPG" --homedir "$tmp/home" --batch --yes \
	    --no-tty --pinentry-mode loopback --passphrase '' \
	    --trust-model always "$@" 2>>"$tmp/gpg.log"
}
# recipients NAME...: -r options for each person's key.
recipients() {
	for r in "$@"; do
		printf ' -r %s' "$(fpr "$r")"
	done
}

printf 'A short post.\r\n' >"$tmp/short"
i=0
while [ $i -lt 400 ]; do
	printf 'Line %d of a longer post, long enough to need several chunks.\r\n' \
	    "$i"
	i=$((i + 1))
done >"$tmp/long"

# enc NAME GPG-OPTION...: a binary message made from the short text in a
# file, and (NAME-pipe) from the long one through a pipe.
enc() {
	e_name=$1
	shift
	gpg_list --output "$out/pgp/$e_name.pgp" "$@" "$tmp/short" ||
		die "gpg $* failed: $(tail -n 3 "$tmp/gpg.log")"
	gpg_list "$@" <"$tmp/long" >"$out/pgp/$e_name-pipe.pgp" ||
		die "gpg $* failed: $(tail -n 3 "$tmp/gpg.log")"
}

lfpr=$(fpr list)
# shellcheck disable=SC2046 # the -r options are words
{
	enc to-alice --encrypt $(recipients alice)
	enc to-alice-bob --encrypt $(recipients alice bob)
	enc to-three --encrypt $(recipients alice bob carol)
	enc to-seven --encrypt $(recipients list alice bob carol frank grace \
	    mallory)
	enc signed-to-alice --encrypt --sign -u "$lfpr" $(recipients alice)
	enc signed-to-three --encrypt --sign -u "$lfpr" \
	    $(recipients alice carol grace)
	enc signed-to-seven --encrypt --sign -u "$lfpr" $(recipients list \
	    alice bob carol frank grace mallory)
	enc uncompressed-to-two --encrypt -z 0 $(recipients bob grace)
	enc hidden-to-two --encrypt --throw-keyids $(recipients alice carol)
	enc symmetric --symmetric --passphrase seed
	enc symmetric-and-alice --encrypt --symmetric --passphrase seed \
	    $(recipients alice)
	enc no-mdc --encrypt --rfc2440 --cipher-algo AES256 $(recipients alice)
	enc signed-only --sign -u "$lfpr"
}
for f in to-alice-bob signed-to-three to-seven-pipe symmetric; do
	gpg_list --enarmor <"$out/pgp/$f.pgp" |
	    sed -e 's/PGP ARMORED FILE/PGP MESSAGE/' -e '/^Comment: /d' \
	    >"$out/pgp/$f.asc" || die "gpg --enarmor failed"
done
# shellcheck disable=SC2046
gpg_list --armor --encrypt --sign -u "$lfpr" $(recipients alice bob) \
    <"$tmp/short" \
    >"$out/pgp/signed-to-two.asc" || die "gpg --armor failed"
gpg_list --armor --detach-sign --local-user "$lfpr" <"$tmp/short" \
    >"$out/pgp/detached.asc" || die "gpg --detach-sign failed"
gpg_list --clearsign --local-user "$lfpr" <"$tmp/short" \
    >"$out/pgp/clearsigned.asc" || die "gpg --clearsign failed"

nm=$(find "$out/mime" -type f | wc -l)
np=$(find "$out/pgp" -type f | wc -l)
echo "seeds.sh: $nm MIME seeds ($failed shapes failed), $np OpenPGP seeds" \
    "in $out"
[ "$nm" -gt 0 ] && [ "$np" -gt 0 ]
