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
#	  - no other receiver's key decrypts it.
#	Sourced after t/lib.sh; needs FIXTURES, GPG (default gpg).

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
