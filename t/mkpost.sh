#!/bin/sh
#
# NAME
#	mkpost.sh - write one crafted post to the test list on stdout
# SYNOPSIS
#	FIXTURES=DIR sh t/mkpost.sh [options] > message.eml
# DESCRIPTION
#	Builds a message, with CRLF line endings everywhere, signed (or
#	not) with the keys made by t/fixtures.sh in $FIXTURES.  The
#	signature is a detached, armored OpenPGP signature over the exact
#	CRLF bytes of the first part, as RFC 3156 requires.  Every body
#	carries a random nonce, so that two posts never sign the same bytes.
#
#	Options (each takes its value as the next argument or after '='):
#	--signer NAME	alice (default), bob, carol, dave, erin, mallory, list
#	--from VALUE	the From: header value; default the signer's UID,
#			e.g. 'Alice Example <alice@example.org>'
#	--to VALUE	default secir@lists.example.org
#	--subject TEXT	default 'Test post (SHAPE)'
#	--message-id ID	default a random <...@example.org>
#	--body TEXT	a line added to the body (e.g. the test case name)
#	--date-offset WHEN	signature and Date: time, as date -d takes it:
#			'8 days ago', '1 day', '55 days ago' (default now)
#	--faked-time YYYYMMDDTHHMMSS	the same, absolute (UTC)
#	--digest ALGO	gpg --digest-algo (default SHA256); micalg follows
#			the digest gpg actually used
#	--body-size N	pad the body text to about N bytes
#	--attach	the signed part is multipart/mixed: text plus a small
#			base64 attachment
#	--attach-size N	the attachment (implies --attach) holds N random
#			bytes, base64: content that does not compress, as a
#			zip file or a photo
#	--text FILE	the body text is exactly FILE (a command mail), with
#			the nonce after a "-- " line
#	--keys FILE	the signed part is multipart/mixed: the text plus
#			FILE as an application/pgp-keys part
#	--depth N	for --shape deep (default 12)
#	--parts N	for --shape many-parts (default 150)
#	--protected	the signed (or encrypted) entity carries protected
#			header fields (protected-headers="v1", as Thunderbird
#			writes them): From, To, Subject, Date, Message-ID
#	--protected-from VALUE	the From: among them (implies --protected;
#			default the --from value)
#	--outer-subject TEXT	the Subject: outside (default the --subject
#			value; for the encrypted shapes with --protected, "...")
#	--charset CS	for the inline shapes: us-ascii (default), utf-8
#			(8bit) or latin1 (iso-8859-1, quoted-printable); the
#			body then has accented letters
#	--dashes	the body has lines starting with '-', which a
#			clear signature dash-escapes
#	--inject LIST	after signing, add text nobody signed where gpg
#			still finds the signature good, in each place of the
#			comma-separated LIST: preamble, epilogue (of the
#			multipart/signed), after-armor (in the signature
#			part), armor-header (a Comment: in the signature's
#			armor), after-checksum (a line between the armor's
#			checksum and its END line); the text is
#			"UNSIGNED-INJECTED ..."
#	--inner-signer NAME	for the wrapped shapes: whose signed message
#			is wrapped (default bob, or alice when bob signs)
#	--shape SHAPE	one of:
#	  signed	multipart/signed (the default)
#	  unsigned	a plain text/plain message
#	  tampered	signed, then one byte of the signed text changed
#	  mixed-wrap	multipart/mixed: unsigned text/plain, then a valid
#			multipart/signed entity
#	  attached	multipart/mixed: unsigned text/plain, then a
#			message/rfc822 that is itself a valid signed post
#	  two-from	signed, with a second From: header (another person)
#	  two-mailboxes	signed, From: with the signer and another person
#	  smime		multipart/signed; protocol="application/pkcs7-signature"
#			whose signature part is random base64 bytes
#	  deep		signed; the signed part nests --depth multipart/mixed
#	  many-parts	signed; the signed part is a multipart/mixed of
#			--parts text parts
#	  big		signed, with the body padded to --body-size
#			(default 11 MiB)
#	  three-parts	multipart/signed with a third part after the signature
#	PGP/MIME encrypted (RFC 3156) to the list key, as clients send it:
#	  encrypted	one combined sign+encrypt message (Thunderbird,
#			Enigmail); implies --protected
#	  encrypted-nested	a multipart/signed entity, then encrypted
#			(Mutt, NeoMutt, GpgOL)
#	  exchange	encrypted, then mangled the way Exchange does: a
#			multipart/mixed of an empty text/plain, the
#			application/pgp-encrypted part and the ciphertext
#	  exchange-text	the same, but the text/plain part is not empty
#			(looser than the pattern: refused)
#	and what the list must refuse:
#	  encrypted-other-key	signed and encrypted to mallory's key only
#	  encrypted-symmetric	signed and encrypted with a passphrase only
#	  encrypted-no-mdc	signed and encrypted without integrity
#			protection (a tag 9 packet, checked)
#	  encrypted-tampered	encrypted, then one byte in the middle of the
#			encrypted data packet flipped
#	  encrypted-unsigned	encrypted to the list key, not signed
#	  encrypted-only-signed	multipart/encrypted whose payload is a signed,
#			not encrypted, OpenPGP message
#	  encrypted-beside	multipart/mixed: a plain text part, then a
#			valid multipart/encrypted entity
#	  encrypted-in-mixed	multipart/mixed holding only a valid
#			multipart/encrypted entity
#	  encrypted-wrapped-signed	signed and encrypted in one step by the
#			signer, its content the --inner-signer's whole
#			multipart/signed entity
#	  encrypted-wrapped-inline	the same around the --inner-signer's
#			clear-signed text/plain
#	  encrypted-wrapped-mixed	the same around a multipart/mixed of a
#			text and the --inner-signer's multipart/signed entity
#	  inline-encrypted-wrapped	an inline signed+encrypted block whose
#			text is the --inner-signer's clear-signed block
#	  signed-cosigned	multipart/signed whose signature part holds
#			the signer's and the --inner-signer's signatures
#	Inline PGP, a text/plain body that is one armored block:
#	  inline-signed	one clear-signed block (with --charset, --dashes)
#	  inline-encrypted	one armored signed+encrypted message
#	  inline-text-before, inline-text-after	a clear-signed block with
#			unsigned text before or after it
#	  inline-html	multipart/alternative: the clear-signed text/plain and
#			an HTML version
#	  inline-attachment	multipart/mixed: the clear-signed text/plain and
#			an attachment
#
#	Signing happens in a private copy of the signer's GnuPG home in a
#	temporary directory, whose gpg-agent is stopped before exit, so the
#	fixtures' homes are never used concurrently by two tests.
# ENVIRONMENT
#	FIXTURES (required), GPG, GPGCONF, TMPDIR.
# DIAGNOSTICS
#	Exit status 0 on success, 2 for usage errors, 1 otherwise.

set -eu

GPG=${GPG:-gpg}
GPGCONF=${GPGCONF:-gpgconf}

usage() {
	echo "mkpost.sh: $*" >&2
	echo "usage: FIXTURES=DIR sh mkpost.sh [--shape SHAPE] [--signer NAME]" \
	    "[--from V] [--to V] [--subject S] [--message-id ID] [--body T]" \
	    "[--date-offset WHEN | --faked-time T] [--digest ALGO]" \
	    "[--body-size N] [--attach] [--attach-size N] [--depth N]" \
	    "[--parts N]" \
	    "[--protected] [--protected-from V] [--outer-subject S]" \
	    "[--charset CS] [--dashes] [--inject LIST]" \
	    "[--inner-signer NAME]" >&2
	exit 2
}

die() {
	echo "mkpost.sh: $*" >&2
	exit 1
}

signer=alice from='' to=secir@lists.example.org subject='' msgid='' extra=''
when='' faked='' digest=SHA256 body_size=0 attach=no depth=12 parts=150
attach_size=0
shape=signed protected=no pfrom='' outer_subject='' charset=us-ascii
dashes=no inject='' inner_signer='' text_file='' keys_file=''

while [ $# -gt 0 ]; do
	opt=$1
	case $opt in
	--attach) attach=yes; shift; continue ;;
	--protected) protected=yes; shift; continue ;;
	--dashes) dashes=yes; shift; continue ;;
	--*=*) val=${opt#*=}; opt=${opt%%=*}; shift ;;
	--*) [ $# -ge 2 ] || usage "$opt needs a value"; val=$2; shift 2 ;;
	*) usage "unexpected argument: $opt" ;;
	esac
	case $opt in
	--signer) signer=$val ;;
	--from) from=$val ;;
	--to) to=$val ;;
	--subject) subject=$val ;;
	--message-id) msgid=$val ;;
	--body) extra=$val ;;
	--date-offset) when=$val ;;
	--faked-time) faked=$val ;;
	--digest) digest=$val ;;
	--body-size) body_size=$val ;;
	--attach-size) attach_size=$val; attach=yes ;;
	--depth) depth=$val ;;
	--parts) parts=$val ;;
	--shape) shape=$val ;;
	--protected-from) pfrom=$val; protected=yes ;;
	--outer-subject) outer_subject=$val ;;
	--charset) charset=$val ;;
	--inject) inject=$val ;;
	--inner-signer) inner_signer=$val ;;
	--text) text_file=$val ;;
	--keys) keys_file=$val ;;
	*) usage "unknown option: $opt" ;;
	esac
done

case $shape in
signed | unsigned | tampered | mixed-wrap | attached | two-from | \
    two-mailboxes | smime | deep | many-parts | big | three-parts) ;;
encrypted | encrypted-nested | exchange | exchange-text | \
    encrypted-other-key | \
    encrypted-symmetric | encrypted-no-mdc | encrypted-tampered | \
    encrypted-bad-point | encrypted-bad-session-key | \
    encrypted-unsigned | encrypted-only-signed | encrypted-beside | \
    encrypted-in-mixed | encrypted-wrapped-signed | encrypted-wrapped-inline | \
    encrypted-wrapped-mixed | encrypted-wrapped-dupct | \
    encrypted-wrapped-utf16 | encrypted-wrapped-html | signed-cosigned) ;;
inline-signed | inline-encrypted | inline-text-before | inline-text-after | \
    inline-html | inline-attachment | inline-encrypted-wrapped) ;;
*) usage "unknown shape: $shape" ;;
esac
case $charset in
us-ascii | utf-8 | latin1) ;;
*) usage "unknown charset: $charset (us-ascii, utf-8, latin1)" ;;
esac
[ "$shape" != encrypted ] || protected=yes
for n in "$body_size" "$attach_size" "$depth" "$parts"; do
	case $n in
	'' | *[!0-9]*) usage "not a number: $n" ;;
	esac
done
[ "$shape" = big ] && [ "$body_size" -eq 0 ] && body_size=11534336

[ -n "${FIXTURES-}" ] || die "FIXTURES is not set"
[ -s "$FIXTURES/fpr/$signer" ] || die "no such signer: $signer"

# The signature time, as gpg's --faked-system-time wants it, and the same
# time for the Date: header.
if [ -n "$faked" ]; then
	case $faked in
	[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]) ;;
	*) usage "--faked-time wants YYYYMMDDTHHMMSS: $faked" ;;
	esac
	d=$faked
	when="${d%%T*} ${d#*T}"
	when=$(echo "$when" | sed 's/^\(........\) \(..\)\(..\)\(..\)$/\1 \2:\3:\4 UTC/')
fi
if [ -n "$when" ]; then
	faked=$(date -u -d "$when" +%Y%m%dT%H%M%S) || usage "bad time: $when"
fi
date_hdr=$(LC_ALL=C date -u ${when:+-d "$when"} '+%a, %d %b %Y %H:%M:%S +0000')

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mkpost.XXXXXX") || die "mktemp failed"
cleanup() {
	if [ -d "$tmp/home" ]; then
		GNUPGHOME="$tmp/home" "$GPGCONF" --homedir "$tmp/home" \
		    --kill all 2>/dev/null || :
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

nonce=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
[ -n "$msgid" ] || msgid="<$(date -u +%Y%m%d%H%M%S).$nonce@example.org>"
[ -n "$subject" ] || subject="Test post ($shape)"
if [ -z "$outer_subject" ]; then
	outer_subject=$subject
	case $shape in
	encrypted* | exchange*) [ "$protected" = no ] || outer_subject=... ;;
	esac
fi

# fixture_gpg NAME ARGS...: gpg ARGS in a private copy of NAME's fixture
# home.  gpg never runs in the fixtures themselves: its lock files would
# race with the tests that copy them at the same time.
fixture_gpg() {
	h="$tmp/fixture-$1"
	if [ ! -d "$h" ]; then
		mkdir -m 700 "$h" && cp -R "$FIXTURES/gnupg-$1/." "$h/" &&
		    rm -f "$h"/S.* "$h"/*.lock || die "cannot copy gnupg-$1"
	fi
	shift
	GNUPGHOME=$h "$GPG" --homedir "$h" --batch --no-tty "$@"
}

# uid NAME: NAME's user ID, "Real Name <address>", from their own home.
uid() {
	fixture_gpg "$1" --with-colons \
	    --trust-model always --no-auto-check-trustdb \
	    --list-keys "$(cat "$FIXTURES/fpr/$1")" 2>/dev/null |
	    awk -F: '$1 == "uid" { gsub(/\\x3a/, ":", $10); print $10; exit }'
}
[ -n "$from" ] || from=$(uid "$signer")
[ -n "$from" ] || die "no user ID for $signer"
[ -n "$pfrom" ] || pfrom=$from
case $signer in
bob) other=alice ;;
*) other=bob ;;
esac
[ -n "$inner_signer" ] || inner_signer=$other
[ -s "$FIXTURES/fpr/$inner_signer" ] || die "no such signer: $inner_signer"

# injected WHERE: WHERE is among the --inject places.
injected() {
	case ",$inject," in
	*,"$1",*) return 0 ;;
	esac
	return 1
}

# inject_armor FILE: the --inject places inside the armor in FILE.
inject_armor() {
	awk -v h="$(injected armor-header && echo y)" \
	    -v c="$(injected after-checksum && echo y)" '
		{ print }
		/^-----BEGIN PGP SIGNATURE-----/ && h {
			print "Comment: UNSIGNED-INJECTED armor header"
		}
		/^=[A-Za-z0-9+\/][A-Za-z0-9+\/][A-Za-z0-9+\/][A-Za-z0-9+\/]$/ && c {
			print "UNSIGNED-INJECTED after the checksum"
		}' "$1" >"$1.tmp" && mv "$1.tmp" "$1"
}

# inner_post SHAPE: a post of SHAPE signed by the --inner-signer, made by
# this script, with LF line ends.
inner_post() {
	sh "$0" --signer "$inner_signer" --shape "$1" --to "$to" \
	    --subject "$subject" --body "Signed by $inner_signer." |
	    tr -d '\r'
}

# entity_of FILE: the MIME entity of the post in FILE: its Content-*
# header fields and its body.
entity_of() {
	awk 'body { print; next }
		/^$/ { body = 1; print; next }
		/^[ \t]/ { if (keep) print; next }
		{ keep = tolower($0) ~ /^content-/; if (keep) print }' "$1"
}

# Everything is first written with LF line endings; crlf converts.  The
# signed bytes are the first part's lines joined by CRLF, without the CRLF
# that precedes the next boundary line.
crlf() {
	awk '{ printf "%s\r\n", $0 }' "$@"
}
crlf_join() {
	awk 'NR > 1 { printf "\r\n" } { printf "%s", $0 }' "$@"
}

# protected_fields: the protected header fields of a signed entity.
protected_fields() {
	echo "From: $pfrom"
	echo "To: $to"
	echo "Subject: $subject"
	echo "Date: $date_hdr"
	echo "Message-ID: $msgid"
}

# body_text: the text of a post, without header.
body_text() {
	echo "Hello list,"
	echo
	echo "this is a test post to $to."
	[ -z "$extra" ] || echo "$extra"
	echo "Nonce: $nonce"
	echo
	if [ "$charset" != us-ascii ]; then
		echo "Grüße aus Zürich, à bientôt, café crème: ½ l"
		echo
	fi
	if [ "$dashes" = yes ]; then
		echo "- a list item"
		echo "-----BEGIN PGP SIGNATURE-----"
		echo "--- three dashes"
		echo "-----END PGP SIGNATURE-----"
		echo
	fi
	echo "-- "
	echo "Sent by the openpgp-milter test suite."
}

# text_part FILE: a text/plain entity, with the body text.
text_part() {
	{
		if [ "$protected" = yes ]; then
			echo "Content-Type: text/plain; charset=us-ascii;"
			echo " protected-headers=\"v1\""
			protected_fields
		else
			echo "Content-Type: text/plain; charset=us-ascii"
		fi
		echo "Content-Transfer-Encoding: 7bit"
		echo
		if [ -n "$text_file" ]; then
			# a command mail: exactly these lines, the nonce after
			# the signature delimiter
			cat "$text_file"
			echo
			echo "-- "
			echo "Nonce: $nonce"
			return
		fi
		echo "Hello list,"
		echo
		echo "this is a test post to $to."
		[ -z "$extra" ] || echo "$extra"
		echo "Nonce: $nonce"
		echo
		if [ "$body_size" -gt 0 ]; then
			awk -v n="$body_size" 'BEGIN {
				l = "The quick brown fox jumps over the lazy dog; "
				l = l "pack my box with five dozen jugs."
				for (i = 0; i < n; i += length(l) + 2)
					print l
			}'
			echo
		fi
		echo "-- "
		echo "Sent by the openpgp-milter test suite."
	} >"$1"
}

# attachment_part FILE
attachment_part() {
	{
		echo "Content-Type: application/octet-stream; name=\"notes.bin\""
		echo "Content-Disposition: attachment; filename=\"notes.bin\""
		echo "Content-Transfer-Encoding: base64"
		echo
		if [ "$attach_size" -gt 0 ]; then
			head -c "$attach_size" /dev/urandom | base64 -w 76
		else
			echo "VGhpcyBpcyBhIHNtYWxsIGF0dGFjaG1lbnQgZm9yIHRoZSB0ZXN0IHN1aXRlLgo="
		fi
	} >"$1"
}

# multipart FILE SUBTYPE BOUNDARY PART...: a multipart entity.
multipart() {
	f=$1 sub=$2 b=$3
	shift 3
	{
		echo "Content-Type: multipart/$sub; boundary=\"$b\""
		echo
		for p in "$@"; do
			echo "--$b"
			cat "$p"
		done
		echo "--$b--"
	} >"$f.tmp"
	mv "$f.tmp" "$f"
}

# first_part FILE: the entity to be signed, as the shape wants it.
first_part() {
	text_part "$tmp/text"
	case $shape in
	deep)
		cp "$tmp/text" "$1"
		i=$depth
		while [ "$i" -gt 0 ]; do
			multipart "$1" mixed "=-level-$i-$nonce" "$1"
			i=$((i - 1))
		done
		;;
	many-parts)
		# The first of the --parts parts is the usual text.
		set -- "$1" "$tmp/text"
		i=2
		while [ "$i" -le "$parts" ]; do
			{
				echo "Content-Type: text/plain; charset=us-ascii"
				echo
				echo "Part $i of $parts."
			} >"$tmp/part$i"
			set -- "$@" "$tmp/part$i"
			i=$((i + 1))
		done
		f=$1
		shift
		multipart "$f" mixed "=-parts-$nonce" "$@"
		;;
	*)
		if [ -n "$keys_file" ]; then
			{
				echo "Content-Type: application/pgp-keys; name=\"keys.asc\""
				echo "Content-Disposition: attachment; filename=\"keys.asc\""
				echo
				cat "$keys_file"
			} >"$tmp/keys"
			multipart "$1" mixed "=-keys-$nonce" "$tmp/text" "$tmp/keys"
		elif [ "$attach" = yes ]; then
			attachment_part "$tmp/attachment"
			multipart "$1" mixed "=-mixed-$nonce" "$tmp/text" \
			    "$tmp/attachment"
		else
			cp "$tmp/text" "$1"
		fi
		;;
	esac
}

# make_home: the private copy of the signer's GnuPG home, once.
make_home() {
	[ ! -d "$tmp/home" ] || return 0
	mkdir -m 700 "$tmp/home"
	cp -R "$FIXTURES/gnupg-$signer/." "$tmp/home/"
	rm -f "$tmp/home"/S.* "$tmp/home"/*.lock
}

# gpg_signer ARGS...: gpg in the private home, batch mode, no passphrase,
# at the signature time; trust comes from the fixtures, not the keyring.
gpg_signer() {
	make_home
	GNUPGHOME="$tmp/home" "$GPG" --homedir "$tmp/home" --batch --yes \
	    --no-tty --pinentry-mode loopback --trust-model always \
	    ${faked:+--faked-system-time "$faked!"} "$@"
}

# sign DATA SIG: a detached armored signature by the signer over the
# CRLF form of DATA; prints the micalg for the digest gpg used.
sign() {
	make_home
	crlf_join "$1" >"$1.crlf"
	GNUPGHOME="$tmp/home" "$GPG" --homedir "$tmp/home" --batch --yes \
	    --no-tty --pinentry-mode loopback --passphrase '' \
	    ${faked:+--faked-system-time "$faked!"} \
	    --local-user "$(cat "$FIXTURES/fpr/$signer")" \
	    --digest-algo "$digest" --armor --detach-sign \
	    --output "$2" "$1.crlf" 2>"$tmp/gpg.log" ||
		die "gpg could not sign as $signer: $(cat "$tmp/gpg.log")"
	algo=$(GNUPGHOME="$tmp/home" "$GPG" --homedir "$tmp/home" --batch \
	    --no-tty --list-packets "$2" 2>/dev/null |
	    sed -n 's/.*digest algo \([0-9]*\).*/\1/p' | sed -n 1p)
	case $algo in
	1) echo md5 ;;
	2) echo sha1 ;;
	3) echo ripemd160 ;;
	8) echo sha256 ;;
	9) echo sha384 ;;
	10) echo sha512 ;;
	11) echo sha224 ;;
	*) die "unknown digest algorithm in the signature: '$algo'" ;;
	esac
}

# signed_entity FILE: a multipart/signed entity (Content-Type header and
# body) over the first part; tampered and three-parts shapes apply here.
signed_entity() {
	first_part "$tmp/signed"
	micalg=$(sign "$tmp/signed" "$tmp/sig.asc")
	if [ "$shape" = signed-cosigned ]; then
		# the other signer's signature over the same bytes, in the
		# same armor
		fixture_gpg "$inner_signer" --pinentry-mode loopback \
		    --passphrase '' --digest-algo "$digest" \
		    --local-user "$(cat "$FIXTURES/fpr/$inner_signer")" \
		    --detach-sign --output "$tmp/sig2.bin" "$tmp/signed.crlf" \
		    2>"$tmp/gpg.log" ||
			die "gpg could not sign as $inner_signer: $(cat "$tmp/gpg.log")"
		gpg_signer --dearmor --output "$tmp/sig1.bin" "$tmp/sig.asc" ||
			die "cannot dearmor"
		cat "$tmp/sig1.bin" "$tmp/sig2.bin" >"$tmp/sigs.bin"
		gpg_signer --enarmor --output "$tmp/sigs.asc" "$tmp/sigs.bin" ||
			die "cannot armor"
		sed -e 's/PGP ARMORED FILE/PGP SIGNATURE/' -e '/^Comment: /d' \
		    "$tmp/sigs.asc" >"$tmp/sig.asc"
	fi
	inject_armor "$tmp/sig.asc"
	if [ "$shape" = tampered ]; then
		sed 's/^Hello list,$/Hello list;/' "$tmp/signed" >"$tmp/t"
		cmp -s "$tmp/signed" "$tmp/t" && die "nothing to tamper with"
		mv "$tmp/t" "$tmp/signed"
	fi
	b="=-signed-$nonce"
	{
		echo "Content-Type: multipart/signed; micalg=pgp-$micalg;"
		echo " protocol=\"application/pgp-signature\"; boundary=\"$b\""
		echo
		echo "This is an OpenPGP/MIME signed message (RFC 3156)."
		! injected preamble ||
			echo "UNSIGNED-INJECTED in the preamble"
		echo "--$b"
		cat "$tmp/signed"
		echo "--$b"
		echo "Content-Type: application/pgp-signature; name=\"signature.asc\""
		echo "Content-Description: OpenPGP digital signature"
		echo "Content-Disposition: attachment; filename=\"signature.asc\""
		echo
		cat "$tmp/sig.asc"
		! injected after-armor ||
			echo "UNSIGNED-INJECTED after the armor"
		if [ "$shape" = three-parts ]; then
			echo "--$b"
			echo "Content-Type: text/plain; charset=us-ascii"
			echo
			echo "An extra, unsigned third part."
		fi
		echo "--$b--"
		! injected epilogue ||
			echo "UNSIGNED-INJECTED in the epilogue"
	} >"$1"
}

smime_entity() {
	text_part "$tmp/signed"
	b="=-smime-$nonce"
	{
		echo "Content-Type: multipart/signed; micalg=sha-256;"
		echo " protocol=\"application/pkcs7-signature\"; boundary=\"$b\""
		echo
		echo "This is an S/MIME signed message."
		echo "--$b"
		cat "$tmp/signed"
		echo "--$b"
		echo "Content-Type: application/pkcs7-signature; name=\"smime.p7s\""
		echo "Content-Transfer-Encoding: base64"
		echo "Content-Disposition: attachment; filename=\"smime.p7s\""
		echo
		dd if=/dev/urandom bs=600 count=1 2>/dev/null | base64
		echo "--$b--"
	} >"$1"
}

# crypt IN OUT ARGS...: run gpg over the CRLF form of IN into the armored
# OUT, as the signer, with ARGS (--sign, --encrypt, -r ... as the shape
# wants).
crypt() {
	c_in=$1 c_out=$2
	shift 2
	crlf "$c_in" >"$c_in.crlf"
	gpg_signer --passphrase "${passphrase-}" \
	    --local-user "$(cat "$FIXTURES/fpr/$signer")" \
	    --digest-algo "$digest" --armor --output "$c_out" "$@" \
	    "$c_in.crlf" 2>"$tmp/gpg.log" ||
		die "gpg failed for $shape: $(cat "$tmp/gpg.log")"
}

list_fpr() {
	cat "$FIXTURES/fpr/list"
}

# packets FILE: gpg's packet listing of FILE (no secret key needed).
packets() {
	gpg_signer --list-packets "$1" 2>/dev/null || :
}

# tamper ASC: flip one byte in the middle of the encrypted data packet of
# the armored message ASC, and armor it again.
tamper() {
	t_asc=$1
	gpg_signer --dearmor --output "$tmp/bin" "$t_asc" ||
		die "cannot dearmor"
	# shellcheck disable=SC2046 # split the offsets into words
	set -- $(packets "$tmp/bin" | sed -n \
	    's/^# off=\([0-9]*\) ctb=[0-9a-f]* tag=1[89] hlen=\([0-9]*\) plen=\([0-9]*\).*/\1 \2 \3/p' |
	    sed -n 1p)
	[ $# -eq 3 ] || die "no encrypted data packet to tamper with"
	pos=$(($1 + $2 + $3 / 2))
	byte=$(dd if="$tmp/bin" bs=1 skip="$pos" count=1 2>/dev/null |
	    od -An -tu1 | tr -d ' ')
	# shellcheck disable=SC2059 # the format is the octal escape
	printf "\\$(printf %03o $((byte ^ 16)))" |
	    dd of="$tmp/bin" bs=1 seek="$pos" conv=notrunc 2>/dev/null
	gpg_signer --enarmor --output "$tmp/armored" "$tmp/bin" ||
		die "cannot armor"
	sed -e 's/PGP ARMORED FILE/PGP MESSAGE/' -e '/^Comment: /d' \
	    "$tmp/armored" >"$t_asc"
}

# tamper_pkesk ASC WHERE: in the armored message ASC, damage the first
# public-key encrypted session key packet: WHERE is "point" (the format
# byte 0x40 of the ECDH ephemeral point) or "wrapped" (a byte of the
# wrapped session key at its end); armor it again.
tamper_pkesk() {
	t_asc=$1 t_where=$2
	gpg_signer --dearmor --output "$tmp/bin" "$t_asc" ||
		die "cannot dearmor"
	# shellcheck disable=SC2046 # split the offsets into words
	set -- $(packets "$tmp/bin" | sed -n \
	    's/^# off=\([0-9]*\) ctb=[0-9a-f]* tag=1 hlen=\([0-9]*\) plen=\([0-9]*\).*/\1 \2 \3/p' |
	    sed -n 1p)
	[ $# -eq 3 ] || die "no session key packet to damage"
	# version, key ID, algorithm, the point's bit count, then the point
	if [ "$t_where" = point ]; then
		pos=$(($1 + $2 + 12))
	else
		pos=$(($1 + $2 + $3 - 3))
	fi
	byte=$(dd if="$tmp/bin" bs=1 skip="$pos" count=1 2>/dev/null |
	    od -An -tu1 | tr -d ' ')
	# shellcheck disable=SC2059 # the format is the octal escape
	printf "\\$(printf %03o $((byte ^ 85)))" |
	    dd of="$tmp/bin" bs=1 seek="$pos" conv=notrunc 2>/dev/null
	gpg_signer --enarmor --output "$tmp/armored" "$tmp/bin" ||
		die "cannot armor"
	sed -e 's/PGP ARMORED FILE/PGP MESSAGE/' -e '/^Comment: /d' \
	    "$tmp/armored" >"$t_asc"
}

# encrypted_payload ASC: the ciphertext the encrypted shapes carry.
encrypted_payload() {
	case $shape in
	encrypted-nested)
		signed_entity "$tmp/inner"
		crypt "$tmp/inner" "$1" --encrypt -r "$(list_fpr)"
		;;
	encrypted-unsigned)
		text_part "$tmp/inner"
		crypt "$tmp/inner" "$1" --encrypt -r "$(list_fpr)"
		;;
	encrypted-wrapped-signed | encrypted-wrapped-inline)
		if [ "$shape" = encrypted-wrapped-signed ]; then
			inner_post signed >"$tmp/other.eml"
		else
			inner_post inline-signed >"$tmp/other.eml"
		fi
		entity_of "$tmp/other.eml" >"$tmp/inner"
		crypt "$tmp/inner" "$1" --sign --encrypt -r "$(list_fpr)"
		;;
	encrypted-wrapped-mixed | encrypted-wrapped-dupct)
		inner_post signed >"$tmp/other.eml"
		entity_of "$tmp/other.eml" >"$tmp/wrapped"
		if [ "$shape" = encrypted-wrapped-dupct ]; then
			# a second Content-Type, last: GMime reads text/plain,
			# other parsers the multipart/signed first
			tr -d '\r' <"$tmp/wrapped" | awk '
			    !done && /^$/ {
				print "Content-Type: text/plain; charset=us-ascii"
				done = 1
			    }
			    { print }' >"$tmp/t"
			mv "$tmp/t" "$tmp/wrapped"
		fi
		text_part "$tmp/intro"
		multipart "$tmp/inner" mixed "=-wrap-$nonce" "$tmp/intro" \
		    "$tmp/wrapped"
		crypt "$tmp/inner" "$1" --sign --encrypt -r "$(list_fpr)"
		;;
	encrypted-wrapped-utf16 | encrypted-wrapped-html)
		# the clear-signed block as a text part a client decodes:
		# UTF-16 in base64, or an HTML <pre> right before its armor
		inner_post inline-signed >"$tmp/other.eml"
		tr -d '\r' <"$tmp/other.eml" | sed '1,/^$/d' >"$tmp/block"
		if [ "$shape" = encrypted-wrapped-utf16 ]; then
			{
				echo "Content-Type: text/plain; charset=utf-16"
				echo "Content-Transfer-Encoding: base64"
				echo
				iconv -f UTF-8 -t UTF-16 <"$tmp/block" | base64
			} >"$tmp/inner" || die "cannot convert to UTF-16"
		else
			{
				echo "Content-Type: text/html; charset=us-ascii"
				echo
				printf '<html><body><pre>'
				cat "$tmp/block"
				echo "</pre></body></html>"
			} >"$tmp/inner"
		fi
		crypt "$tmp/inner" "$1" --sign --encrypt -r "$(list_fpr)"
		;;
	encrypted-only-signed)
		text_part "$tmp/inner"
		crypt "$tmp/inner" "$1" --sign
		;;
	encrypted-other-key)
		fixture_gpg mallory \
		    --export "$(cat "$FIXTURES/fpr/mallory")" >"$tmp/mallory.pub" \
		    2>/dev/null || die "cannot export mallory's key"
		gpg_signer --import "$tmp/mallory.pub" 2>/dev/null ||
			die "cannot import mallory's key"
		text_part "$tmp/inner"
		crypt "$tmp/inner" "$1" --sign --encrypt \
		    -r "$(cat "$FIXTURES/fpr/mallory")"
		;;
	encrypted-symmetric)
		text_part "$tmp/inner"
		passphrase=not-the-list-key
		crypt "$tmp/inner" "$1" --sign --symmetric \
		    --cipher-algo AES256
		passphrase=
		;;
	encrypted-no-mdc)
		text_part "$tmp/inner"
		crypt "$tmp/inner" "$1" --sign --encrypt -r "$(list_fpr)" \
		    --rfc2440 --cipher-algo AES256
		packets "$1" | grep -q 'tag=9 ' ||
			die "gpg made no tag 9 packet: $(packets "$1" | grep tag=)"
		;;
	encrypted-tampered)
		text_part "$tmp/inner"
		crypt "$tmp/inner" "$1" --sign --encrypt -r "$(list_fpr)"
		tamper "$1"
		;;
	encrypted-bad-point | encrypted-bad-session-key)
		text_part "$tmp/inner"
		crypt "$tmp/inner" "$1" --sign --encrypt -r "$(list_fpr)"
		if [ "$shape" = encrypted-bad-point ]; then
			tamper_pkesk "$1" point
		else
			tamper_pkesk "$1" wrapped
		fi
		;;
	*)
		text_part "$tmp/inner"
		crypt "$tmp/inner" "$1" --sign --encrypt -r "$(list_fpr)"
		;;
	esac
}

# encrypted_entity FILE: a multipart/encrypted entity (RFC 3156).
encrypted_entity() {
	encrypted_payload "$tmp/cipher.asc"
	b="=-encrypted-$nonce"
	{
		echo "Content-Type: multipart/encrypted;"
		echo " protocol=\"application/pgp-encrypted\"; boundary=\"$b\""
		echo
		echo "This is an OpenPGP/MIME encrypted message (RFC 3156)."
		echo "--$b"
		echo "Content-Type: application/pgp-encrypted"
		echo "Content-Description: PGP/MIME version identification"
		echo
		echo "Version: 1"
		echo
		echo "--$b"
		echo "Content-Type: application/octet-stream; name=\"encrypted.asc\""
		echo "Content-Description: OpenPGP encrypted message"
		echo "Content-Disposition: inline; filename=\"encrypted.asc\""
		echo
		cat "$tmp/cipher.asc"
		echo
		echo "--$b--"
	} >"$1"
}

# exchange_entity FILE: what Exchange makes of a multipart/encrypted.
exchange_entity() {
	encrypted_payload "$tmp/cipher.asc"
	b="_000_$nonce"
	{
		echo "Content-Type: multipart/mixed; boundary=\"$b\""
		echo
		echo "--$b"
		echo "Content-Type: text/plain; charset=\"us-ascii\""
		echo "Content-Transfer-Encoding: quoted-printable"
		echo
		[ "$shape" != exchange-text ] ||
			echo "Please read the attached report."
		echo
		echo "--$b"
		echo "Content-Type: application/pgp-encrypted;"
		echo " name=\"PGPMIME Versions Identification\""
		echo "Content-Description: PGP/MIME Versions Identification"
		echo "Content-Disposition: attachment;"
		echo " filename=\"PGPMIME Versions Identification\""
		echo "Content-Transfer-Encoding: base64"
		echo
		printf 'Version: 1\r\n' | base64
		echo
		echo "--$b"
		echo "Content-Type: application/octet-stream; name=\"encrypted.asc\""
		echo "Content-Description: OpenPGP encrypted message.asc"
		echo "Content-Disposition: attachment; filename=\"encrypted.asc\""
		echo "Content-Transfer-Encoding: base64"
		echo
		crlf "$tmp/cipher.asc" | base64
		echo
		echo "--$b--"
	} >"$1"
}

# qp: quoted-printable encoding (RFC 2045) of stdin, line by line.
qp() {
	LC_ALL=C awk 'BEGIN { for (i = 1; i < 256; i++) ord[sprintf("%c", i)] = i }
	{
		out = ""
		n = length($0)
		for (i = 1; i <= n; i++) {
			c = substr($0, i, 1)
			o = ord[c]
			if (o > 126 || c == "=" ||
			    (i == n && (c == " " || c == "\t")))
				c = sprintf("=%02X", o)
			if (length(out) + length(c) > 75) {
				print out "="
				out = ""
			}
			out = out c
		}
		print out
	}'
}

# inline_body FILE: the text/plain body of an inline shape, with its
# Content-Type and Content-Transfer-Encoding: one clear-signed block
# (or armored signed+encrypted message), with text around it as the shape
# wants.
inline_entity() {
	body_text >"$tmp/text.utf8"
	case $charset in
	latin1)
		iconv -f UTF-8 -t ISO-8859-1 "$tmp/text.utf8" >"$tmp/text" ||
			die "iconv failed"
		ct="text/plain; charset=iso-8859-1" cte=quoted-printable
		;;
	utf-8)
		cp "$tmp/text.utf8" "$tmp/text"
		ct="text/plain; charset=utf-8" cte=8bit
		;;
	*)
		grep -v '[^ -~]' "$tmp/text.utf8" >"$tmp/text" || :
		ct="text/plain; charset=us-ascii" cte=7bit
		;;
	esac
	if [ "$shape" = inline-encrypted-wrapped ]; then
		# the text is the other signer's clear-signed block
		inner_post inline-signed >"$tmp/other.eml"
		sed '1,/^$/d' "$tmp/other.eml" >"$tmp/text"
	fi
	if [ "$shape" = inline-encrypted ] ||
	    [ "$shape" = inline-encrypted-wrapped ]; then
		gpg_signer --passphrase '' \
		    --local-user "$(cat "$FIXTURES/fpr/$signer")" \
		    --digest-algo "$digest" --armor --sign --encrypt \
		    -r "$(list_fpr)" --output "$tmp/block" "$tmp/text" \
		    2>"$tmp/gpg.log" ||
			die "gpg failed: $(cat "$tmp/gpg.log")"
	else
		gpg_signer --passphrase '' \
		    --local-user "$(cat "$FIXTURES/fpr/$signer")" \
		    --digest-algo "$digest" --clearsign \
		    --output "$tmp/block" "$tmp/text" 2>"$tmp/gpg.log" ||
			die "gpg failed: $(cat "$tmp/gpg.log")"
		inject_armor "$tmp/block"
	fi
	{
		[ "$shape" != inline-text-before ] ||
			printf 'Some words I add before the signed text.\n\n'
		cat "$tmp/block"
		[ "$shape" != inline-text-after ] ||
			printf '\nP.S. Some words I add after the signature.\n'
	} >"$tmp/inline"
	{
		echo "Content-Type: $ct"
		echo "Content-Transfer-Encoding: $cte"
		echo
		if [ "$cte" = quoted-printable ]; then
			qp <"$tmp/inline"
		else
			cat "$tmp/inline"
		fi
	} >"$1"
}

# headers FROM: the top-level headers, without Content-Type.
headers() {
	echo "From: $1"
	[ "$shape" != two-from ] || echo "From: $(uid "$other")"
	echo "To: $to"
	echo "Subject: $outer_subject"
	echo "Date: $date_hdr"
	echo "Message-ID: $msgid"
	echo "MIME-Version: 1.0"
}

hdr_from=$from
[ "$shape" != two-mailboxes ] || hdr_from="$from, $(uid "$other")"

case $shape in
unsigned)
	text_part "$tmp/body"
	;;
smime)
	smime_entity "$tmp/body"
	;;
mixed-wrap | attached)
	text_part "$tmp/intro"
	sed 's/^Hello list,$/Hello list, this part is not signed./' \
	    "$tmp/intro" >"$tmp/t"
	mv "$tmp/t" "$tmp/intro"
	signed_entity "$tmp/inner"
	if [ "$shape" = attached ]; then
		{
			echo "Content-Type: message/rfc822"
			echo "Content-Disposition: attachment; filename=\"post.eml\""
			echo
			headers "$from"
			cat "$tmp/inner"
		} >"$tmp/inner.msg"
		mv "$tmp/inner.msg" "$tmp/inner"
	fi
	multipart "$tmp/body" mixed "=-outer-$nonce" "$tmp/intro" "$tmp/inner"
	;;
encrypted-beside | encrypted-in-mixed)
	encrypted_entity "$tmp/enc"
	if [ "$shape" = encrypted-beside ]; then
		{
			echo "Content-Type: text/plain; charset=us-ascii"
			echo
			echo "Please find my encrypted report below."
		} >"$tmp/intro"
		multipart "$tmp/body" mixed "=-outer-$nonce" "$tmp/intro" \
		    "$tmp/enc"
	else
		multipart "$tmp/body" mixed "=-outer-$nonce" "$tmp/enc"
	fi
	;;
exchange | exchange-text)
	exchange_entity "$tmp/body"
	;;
encrypted*)
	encrypted_entity "$tmp/body"
	;;
inline-signed | inline-encrypted | inline-text-before | inline-text-after | \
    inline-encrypted-wrapped)
	inline_entity "$tmp/body"
	;;
inline-html | inline-attachment)
	inline_entity "$tmp/plain"
	if [ "$shape" = inline-html ]; then
		{
			echo "Content-Type: text/html; charset=us-ascii"
			echo
			echo "<html><body><pre>"
			sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' "$tmp/inline"
			echo "</pre></body></html>"
		} >"$tmp/other"
		multipart "$tmp/body" alternative "=-alt-$nonce" "$tmp/plain" \
		    "$tmp/other"
	else
		attachment_part "$tmp/other"
		multipart "$tmp/body" mixed "=-mixed-$nonce" "$tmp/plain" \
		    "$tmp/other"
	fi
	;;
*)
	signed_entity "$tmp/body"
	;;
esac

{
	headers "$hdr_from"
	cat "$tmp/body"
} >"$tmp/message"
crlf "$tmp/message"
