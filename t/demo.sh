#!/bin/sh
# NAME
#	demo.sh - openpgp-milter end to end, on this machine, in one command
# SYNOPSIS
#	sh t/demo.sh		(as root on Debian 12, from the source tree)
# DESCRIPTION
#	Installs the dependencies (t/deps.sh), builds, makes insecure demo
#	keys, starts a private Postfix on 127.0.0.1 with the milter on a unix
#	socket and a sink that keeps every delivered message, makes the list
#	secir@lists.example.org with openpgp-milter-admin (create-list with
#	alice as admin, add-member for bob and carol; alice and bob: ed25519,
#	carol: RSA-3072), and then:
#	  1. alice sends a post signed with her key: it is accepted, and each
#	     member receives an encrypted copy, which the demo decrypts with
#	     that member's key, showing the protected headers and checking
#	     alice's own signature inside;
#	  2. alice sends an unsigned post: the demo shows the rejection her
#	     mail client gets, and that nothing was delivered.
#	Everything runs in a temporary directory and is stopped at the end.
#	Nothing outside it is changed but the installed packages.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Installing the dependencies and building"
sh t/deps.sh
if [ ! -x milter/openpgp-milter ]; then
	autoreconf -fi >/dev/null
	./configure -q
fi
make -s -j"$(nproc)" >/dev/null

[ "$(id -u)" -eq 0 ] || { echo "demo.sh: run me as root (Postfix)" >&2; exit 1; }
demo=$(mktemp -d /tmp/openpgp-milter-demo.XXXXXX)
chmod 755 "$demo"
. "$top/t/postfix.sh"
milter_pid=
cleanup() {
	[ -n "$milter_pid" ] && kill -TERM "$milter_pid" 2>/dev/null && wait "$milter_pid" 2>/dev/null
	pf_stop "$demo/pf" >/dev/null 2>&1 || :
	for h in "$demo"/keys/gnupg-* "$demo"/state/lists/*/gnupg; do
		[ -d "$h" ] && gpgconf --homedir "$h" --kill all 2>/dev/null
	done
	[ -n "${DEMO_KEEP:-}" ] && echo "kept $demo" || rm -rf "$demo"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

say "Making demo keys (insecure, for this demo only)"
sh t/fixtures.sh "$demo/keys" >/dev/null
keys=$demo/keys
for p in alice bob carol; do
	printf '  %-6s %s\n' "$p" "$(cat "$keys/fpr/$p")"
done
smtp_port=$(pf_free_port 26025)
sink_port=$(pf_free_port $((smtp_port + 1)))
mkdir "$demo/lists"
cat >"$demo/openpgp-milter.conf" <<EOC
Socket local:$demo/milter.sock
StateDirectory $demo/state
ListDirectory $demo/lists
UMask 000
PidFile $demo/openpgp-milter.pid
InjectMethod sendmail:$(pf_postbin sendmail)
EOC
say "The configuration"
cat "$demo/openpgp-milter.conf"

say "Starting a private Postfix on 127.0.0.1:$smtp_port with the milter"
mkdir "$demo/pf"
MAIL_CONFIG=$demo/pf/etc milter/openpgp-milter -c "$demo/openpgp-milter.conf" -f \
    >"$demo/milter.log" 2>&1 &
milter_pid=$!
i=0
while [ ! -S "$demo/milter.sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
pf_start "$demo/pf" "$smtp_port" "$sink_port" "$demo/milter.sock"
echo "  smtpd_milters = unix:$demo/milter.sock; delivered mail goes to a sink"

admin() {
	echo "  # openpgp-milter-admin $*" | sed "s|$demo|\$demo|g"
	# its notices to the admins go through the private Postfix
	MAIL_CONFIG=$demo/pf/etc milter/openpgp-milter-admin \
	    -c "$demo/openpgp-milter.conf" "$@" >"$demo/admin.out" 2>&1 || { cat "$demo/admin.out"; exit 1; }
	sed 's/^/    /' "$demo/admin.out"
}
say "openpgp-milter-admin: the list, its key, alice as admin, bob and carol"
for p in alice bob carol; do
	gpg --homedir "$keys/gnupg-list" --armor --export "$(cat "$keys/fpr/$p")" \
	    >"$demo/$p.asc" 2>/dev/null
done
admin create-list secir@lists.example.org --admin alice@example.org \
    "$(cat "$keys/fpr/alice")" "$demo/alice.asc"
admin add-member secir@lists.example.org bob@example.org "$demo/bob.asc" "Bob Example"
admin add-member secir@lists.example.org carol@example.net "$demo/carol.asc"
admin members secir@lists.example.org
members=$demo/state/lists/secir@lists.example.org/members
# the members check the list's signature on their copies with its key
milter/openpgp-milter-admin -c "$demo/openpgp-milter.conf" export-key \
    secir@lists.example.org >"$demo/list.asc"
for p in alice bob carol; do
	gpg --homedir "$keys/gnupg-$p" --batch --quiet --import "$demo/list.asc"
done
say "openpgp-milter -n: checking it"
milter/openpgp-milter -c "$demo/openpgp-milter.conf" -n
echo "  # kill -HUP $milter_pid   (the daemon learns of the new list)"
kill -HUP "$milter_pid"
sleep 1
pf_wait_sink "$demo/pf" 4 60
echo "  $(pf_sink_count "$demo/pf") encrypted messages went out: a welcome to bob and to carol,"
echo "  and to alice, the admin, a notice of each change"
mkdir "$demo/notices"
mv "$demo/pf/sink"/* "$demo/notices/"

FIXTURES=$keys
export FIXTURES
say "1. alice sends a signed post to secir@lists.example.org"
sh t/mkpost.sh --signer alice --subject "Incident 4711: phishing wave" \
    --body "Please block the domain evil.example.com." >"$demo/signed.eml"
pf_send "$smtp_port" alice@example.org secir@lists.example.org \
    "$demo/signed.eml" >"$demo/signed.transcript"
echo "  her mail client gets: $(pf_data_reply_text <"$demo/signed.transcript")"
pf_wait_sink "$demo/pf" 3 60
for p in alice bob carol; do
	addr=$(awk -v f="$(cat "$keys/fpr/$p")" '$2 == f { print $1 }' "$members")
	f=
	for g in "$demo/pf/sink"/*; do
		pf_sink_rcpts "$g" | grep -qix "$addr" && f=$g
	done
	say "   the copy for $addr"
	pf_sink_message "$f" | sed -n '1,/^$/p' | grep -E '^(From|To|Subject|Content-Type):' | sed 's/^/    /'
	pf_sink_message "$f" >"$demo/$p.copy"
	if gpg --homedir "$keys/gnupg-$p" --batch --quiet --decrypt \
	    "$demo/$p.copy" >"$demo/$p.plain" 2>"$demo/$p.err"; then
		echo "    decrypted with $p's key; inside:"
		sed -n '1,/^\r*$/p' "$demo/$p.plain" | tr -d '\r' |
		    awk '/^[^ \t]/ { show = $0 ~ /^(Subject|From|Authentication-Results):/ } show' |
		    sed 's/^/      /'
		grep -q 'evil.example.com' "$demo/$p.plain" && echo "      (and the text of the post)"
	else
		echo "    decryption FAILED: $(cat "$demo/$p.err")"
		exit 1
	fi
	other=bob; [ "$p" = bob ] && other=alice
	if gpg --homedir "$keys/gnupg-$other" --batch --quiet --decrypt \
	    "$demo/$p.copy" >/dev/null 2>&1; then
		echo "    $other's key decrypts it too: WRONG"; exit 1
	fi
	echo "    $other's key cannot decrypt it"
done
n_signed=$(pf_sink_count "$demo/pf")

say "2. alice sends an unsigned post"
sh t/mkpost.sh --signer alice --shape unsigned --subject "Lunch?" \
    --body "Unsigned text." >"$demo/unsigned.eml"
pf_send "$smtp_port" alice@example.org secir@lists.example.org \
    "$demo/unsigned.eml" >"$demo/unsigned.transcript" || : # swaks: 550
echo "  her mail client gets:"
grep '^<\*\* ' "$demo/unsigned.transcript" | sed 's/^<\*\* /    /'
pf_wait_queue_empty "$demo/pf" 30
echo "  messages delivered for it: $(($(pf_sink_count "$demo/pf") - n_signed))"

say "The milter's log"
sed 's/^/  /' "$demo/milter.log"
say "Done: a signed post fanned out encrypted, an unsigned one refused."
