# NAME
#	copies.sh - what a member's copy must be, as TAP assertions
# SYNOPSIS
#	. "$top_srcdir/t/copies.sh"
#	check_copy LABEL FILE OWNER MARKER HOMES RECEIVERS
# DESCRIPTION
#	FILE is one delivered copy (a complete message) meant for OWNER (a
#	fixture name: alice, bob, ...).  HOMES is a directory holding private
#	copies of the fixtures' GnuPG homes as HOMES/h-NAME (h-list among
#	them); RECEIVERS names every member who gets copies.  MARKER is text
#	of the post that must never show in the clear.  Asserts:
#	  - the outer header: Subject "...", From the list with the poster's
#	    name, multipart/encrypted, no Reply-To or Mail-Followup-To, and
#	    nothing of the post anywhere outside the encryption;
#	  - exactly one session-key packet, for OWNER's encryption key;
#	  - OWNER's key decrypts it, with a good signature by the list key,
#	    and the post's text is inside (kept in FILE.plain);
#	  - no other receiver's key decrypts it;
#	  - what it decrypts to holds only what the milter writes and the
#	    poster's signed entity as the signature covers it, every
#	    signature in it the poster's (check_copy_content).
#
#	check_copy_lines LABEL FILE checks that no line of the copy FILE as
#	sent is over 998 octets (check_copy runs it too).
#
#	check_copy_content LABEL PLAIN HOME (or copy_content_ok PLAIN HOME,
#	its status without TAP) runs that last check on any
#	decrypted copy PLAIN (t/copycheck.pl, then gpg in HOME, a GnuPG home
#	with the posters' public keys): no header line over 998 octets, no
#	header field the milter does not write, no preamble, epilogue or
#	text beside the armor, no armor header, no text gpg would skip in a
#	clear-signed block; and every signature it carries verifies as the
#	poster's that Authentication-Results names.
#	Sourced after t/lib.sh; needs top_srcdir, FIXTURES, GPG (default
#	gpg) and perl.

: "${GPG:=gpg}"

# copy_fpr NAME: a fixture's primary fingerprint
copy_fpr() { cat "$FIXTURES/fpr/$1"; }

# copy_keyid HOMES NAME: the key ID of NAME's encryption subkey
copy_keyid() {
	"$GPG" --homedir "$1/h-list" --with-colons --list-keys \
	    "$(copy_fpr "$2")" 2>/dev/null |
	    awk -F: '$1 == "sub" && $12 ~ /e/ { print $5; exit }'
}

check_copy() {
	cc_label=$1 cc_file=$2 cc_owner=$3 cc_marker=$4 cc_homes=$5 cc_rcpts=$6
	cc_outer=$(sed -n '1,/^\r*$/p' "$cc_file")
	like "$cc_outer" '^Subject: \.\.\.' "$cc_label: outer Subject is ..."
	unlike "$cc_outer" '^(Reply-To|Mail-Followup-To):' \
	    "$cc_label: no reply routing from outside the signature"
	like "$cc_outer" '^From: .* via secir <secir@lists\.example\.org>' \
	    "$cc_label: outer From is the list with the poster's name"
	like "$cc_outer" 'multipart/encrypted' "$cc_label: PGP/MIME encrypted"
	unlike "$(cat "$cc_file")" "$cc_marker" \
	    "$cc_label: no text of the post in the clear"
	check_copy_lines "$cc_label" "$cc_file"

	"$GPG" --homedir "$cc_homes/h-list" --list-packets "$cc_file" \
	    >"$cc_file.packets" 2>/dev/null
	is "$(awk '/^:pubkey enc packet:/ { print $NF }' "$cc_file.packets" |
	    tr '\n' ' ')" "$(copy_keyid "$cc_homes" "$cc_owner") " \
	    "$cc_label: exactly one session key, for $cc_owner's key"

	"$GPG" --homedir "$cc_homes/h-$cc_owner" --batch --status-fd 3 \
	    --decrypt "$cc_file" >"$cc_file.plain" 2>/dev/null \
	    3>"$cc_file.status"
	is "$?" 0 "$cc_label: decrypts with $cc_owner's key"
	like "$(grep VALIDSIG "$cc_file.status")" " $(copy_fpr list)\$" \
	    "$cc_label: signed by the list key"
	like "$(cat "$cc_file.plain")" "$cc_marker" \
	    "$cc_label: the post is inside"
	check_copy_content "$cc_label" "$cc_file.plain" "$cc_homes/h-list"
	for cc_o in $cc_rcpts; do
		[ "$cc_o" = "$cc_owner" ] && continue
		if "$GPG" --homedir "$cc_homes/h-$cc_o" --batch --decrypt \
		    "$cc_file" >/dev/null 2>&1; then
			not_ok "$cc_label: $cc_o cannot decrypt it" \
			    "got a successful decryption, want a failure"
		else
			pass "$cc_label: $cc_o cannot decrypt it"
		fi
	done
}

# check_copy_lines LABEL FILE: no line of the copy FILE as sent is longer
# than 998 octets (RFC 5322 section 2.1.1).
check_copy_lines() {
	ccl_n=$(tr -d '\r' <"$2" | awk 'length > 998 { n++ } END { print n + 0 }')
	is "$ccl_n" 0 "$1: no line of the copy over 998 octets"
}

# copy_content_ok PLAIN HOME: the check of check_copy_content, without
# TAP: status 0 when it holds, else 1 with what is wrong in PLAIN.why.
copy_content_ok() {
	ccc_plain=$1 ccc_home=$2
	rm -f "$ccc_plain.data" "$ccc_plain.sig" "$ccc_plain.clear"
	ccc_out=$(perl "$top_srcdir/t/copycheck.pl" "$ccc_plain" \
	    "$ccc_plain" 2>"$ccc_plain.why") || return 1
	set -f
	# shellcheck disable=SC2086 # kind and fingerprint
	set -- $ccc_out
	set +f
	ccc_fpr=${2-}
	case ${1-} in
	signed) set -- "$ccc_plain.sig" "$ccc_plain.data" ;;
	clearsigned) set -- "$ccc_plain.clear" ;;
	*) return 0 ;;
	esac
	# a detached signature holds signature packets and nothing else
	ccc_other=0
	[ "$#" -eq 1 ] || ccc_other=$("$GPG" --homedir "$ccc_home" --batch \
	    --list-packets "$1" 2>/dev/null | grep '^:' |
	    grep -vc '^:signature packet:')
	"$GPG" --homedir "$ccc_home" --batch --trust-model always \
	    --status-fd 3 --verify "$@" 3>"$ccc_plain.vstatus" 2>/dev/null
	ccc_sigs=$(grep -c '^\[GNUPG:\] NEWSIG' "$ccc_plain.vstatus")
	ccc_good=$(grep -c "^\[GNUPG:\] VALIDSIG .* $ccc_fpr\$" \
	    "$ccc_plain.vstatus")
	[ "$ccc_sigs" -gt 0 ] && [ "$ccc_good" = "$ccc_sigs" ] &&
	    [ "$ccc_other" -eq 0 ] && return 0
	{
		echo "got $ccc_good of $ccc_sigs signatures by the poster" \
		    "$ccc_fpr, $ccc_other packets that are not signatures:"
		cat "$ccc_plain.vstatus"
	} >"$ccc_plain.why"
	return 1
}

check_copy_content() {
	if copy_content_ok "$2" "$3"; then
		pass "$1: only the poster's signed entity and what the list writes"
	else
		not_ok "$1: only the poster's signed entity and what the list writes" \
		    "$(cat "$2.why")"
	fi
}
