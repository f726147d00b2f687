/*
 * NAME
 *	test_gate - unit tests of lib/gate.c
 * DESCRIPTION
 *	Posts crafted by t/mkpost.sh with the fixture keys go through
 *	opm_gate_check() for the fixture list, loaded over a private copy of
 *	its GnuPG home and a private state directory.  Each case checks what
 *	the poster would see: the action, the SMTP reply code, the enhanced
 *	status code and the words of the text (the list's name, the key to
 *	sign with, the address registered).  Then the replay rules: a post
 *	already distributed is refused, an interrupted one passes as a
 *	retry, one being distributed right now is a temporary failure, and
 *	each list keeps its own record.
 */
#include "config.h"

#include <locale.h>
#include <string.h>
#include <sys/wait.h>

#include "tutil.h"

#include "conf.h"
#include "copy.h"
#include "gate.h"
#include "journal.h"
#include "keys.h"
#include "mime.h"

#define LIST_ADDRESS "secir@lists.example.org"
#define OPS_ADDRESS "ops@lists.example.org"

static char *tmp;
static char *home; /* tmp/gnupg-list */
static OpmConfig *conf;
static OpmList *list;

static void
load_keys(OpmList *l)
{
	g_autoptr(GError) error = NULL;

	g_free(l->gnupg_home);
	l->gnupg_home = g_strdup(home);
	ck_assert_msg(opm_keys_load(l, &error), "opm_keys_load(%s): %s",
	    l->address, error != NULL ? error->message : "?");
}

/* Load main_conf, with the state directory and every list's GnuPG home
 * replaced by private ones. */
static void
load_conf(const char *main_conf)
{
	g_autoptr(GError) error = NULL;

	g_clear_pointer(&conf, opm_conf_unref);
	conf = opm_conf_load(main_conf, &error);
	ck_assert_msg(conf != NULL, "loading %s: got error \"%s\"", main_conf,
	    error != NULL ? error->message : "?");
	g_free(conf->state_dir);
	conf->state_dir = g_build_filename(tmp, "state", NULL);
	for (guint i = 0; i < conf->lists->len; i++)
		load_keys(g_ptr_array_index(conf->lists, i));
	list = opm_conf_find_list(conf, LIST_ADDRESS);
	ck_assert_msg(list != NULL, "no list %s in %s", LIST_ADDRESS,
	    main_conf);
}

static void
setup(void)
{
	g_autofree char *src = tu_fixture("gnupg-list");
	g_autofree char *path = tu_fixture("openpgp-milter.conf");

	tmp = tu_tmpdir("opm-gate");
	home = g_build_filename(tmp, "gnupg-list", NULL);
	tu_copy_home(src, home);
	load_conf(path);
}

static void
teardown(void)
{
	g_clear_pointer(&conf, opm_conf_unref);
	list = NULL;
	tu_gpg_kill(home);
	tu_rmtree(tmp);
	g_clear_pointer(&tmp, g_free);
	g_clear_pointer(&home, g_free);
}

static gint64
now_s(void)
{
	return g_get_real_time() / G_USEC_PER_SEC;
}

/* A post from t/mkpost.sh with the given options (NULL-terminated).
 * (transfer full) */
static GBytes *
mkpost(const char *const *opts)
{
	return tu_mkpost(tmp, opts);
}

static OpmMessage *
parse(GBytes *raw)
{
	OpmLimits lim;

	opm_gate_limits(conf, &lim);
	return opm_message_parse(raw, &lim);
}

static const char *
action_name(OpmAction a)
{
	switch (a) {
	case OPM_ACTION_ACCEPT: return "ACCEPT";
	case OPM_ACTION_REJECT: return "REJECT";
	case OPM_ACTION_TEMPFAIL: return "TEMPFAIL";
	}
	return "?";
}

/* s with every "{NAME}" replaced by NAME's fingerprint.  (transfer full) */
static char *
expand(const char *s)
{
	GString *out = g_string_new(NULL);

	while (*s != '\0') {
		const char *open = strchr(s, '{');
		const char *close = open != NULL ? strchr(open, '}') : NULL;
		g_autofree char *name = NULL;
		g_autofree char *fpr = NULL;

		if (open == NULL || close == NULL) {
			g_string_append(out, s);
			break;
		}
		g_string_append_len(out, s, open - s);
		name = g_strndup(open + 1, (gsize)(close - open - 1));
		fpr = tu_fpr(name);
		g_string_append(out, fpr);
		s = close + 1;
	}
	return g_string_free(out, FALSE);
}

/* What every verdict must look like, whatever the case. */
static void
check_verdict_form(const char *name, const OpmVerdict *v,
    const char *list_address)
{
	ck_assert_msg(v != NULL, "%s: got no verdict", name);
	ck_assert_msg(strcmp(v->list, list_address) == 0, "%s: verdict for "
	    "list %s, want %s", name, v->list, list_address);
	ck_assert_msg(strlen(v->rcode) == 3 && strlen(v->xcode) >= 5 &&
	    v->xcode[0] == v->rcode[0], "%s: got reply %s %s, want a matching "
	    "code and enhanced code", name, v->rcode, v->xcode);
	ck_assert_msg(v->reason != NULL && *v->reason != '\0',
	    "%s: got no reason for the log", name);
	if (v->action == OPM_ACTION_ACCEPT)
		return;
	ck_assert_msg(v->text != NULL, "%s: got a refusal without text", name);
	ck_assert_msg(strstr(v->text, list_address) != NULL, "%s: got text "
	    "\"%s\", want it to name the list %s", name, v->text, list_address);
	for (const char *p = v->text; *p != '\0'; p++)
		ck_assert_msg((*p >= 0x20 && *p < 0x7f) || *p == '\n',
		    "%s: got byte 0x%02x in the text, want printable ASCII "
		    "lines", name, (unsigned char)*p);
}

/* ------------------------------------------------------------------ */
/* the cases                                                          */

#define OPTS(...) {__VA_ARGS__, NULL}

static const struct {
	const char *name;
	const char *opts[10];    /* mkpost.sh options */
	gint64 max_size;         /* MaxMessageSize for the case, 0: default */
	OpmAction action;
	const char *rcode, *xcode;
	const char *texts[4];    /* in the reply text; {NAME}: fingerprint */
	const char *signer;      /* v->signer, by fixture name, or NULL */
	const char *member;      /* v->member->address, or NULL */
} cases[] = {
	{"member's signed post is accepted", OPTS("--signer", "alice"), 0,
	    OPM_ACTION_ACCEPT, "250", "2.0.0", {NULL}, "alice",
	    "alice@example.org"},
	{"signed post with an attachment is accepted",
	    OPTS("--signer", "bob", "--attach"), 0, OPM_ACTION_ACCEPT, "250",
	    "2.0.0", {NULL}, "bob", "bob@example.org"},
	{"RSA member's post is accepted", OPTS("--signer", "carol",
	    "--digest", "SHA512"), 0, OPM_ACTION_ACCEPT, "250", "2.0.0", {NULL},
	    "carol", "carol@example.net"},
	{"From domain in upper case is the member's address",
	    OPTS("--signer", "alice", "--from",
	    "Alice Example <alice@EXAMPLE.Org>"), 0, OPM_ACTION_ACCEPT, "250",
	    "2.0.0", {NULL}, "alice", "alice@example.org"},
	{"unsigned post names the member's key",
	    OPTS("--signer", "alice", "--shape", "unsigned"), 0,
	    OPM_ACTION_REJECT, "550", "5.7.1",
	    {"not signed", "0x{alice}", NULL}, NULL, NULL},
	{"non-member's post", OPTS("--signer", "mallory"), 0,
	    OPM_ACTION_REJECT, "550", "5.7.1",
	    {"0x{mallory}", "not registered", NULL}, NULL, NULL},
	{"post signed with the list key",
	    OPTS("--signer", "list", "--from", "Alice <alice@example.org>"), 0,
	    OPM_ACTION_REJECT, "550", "5.7.1", {"0x{list}", "0x{alice}", NULL},
	    NULL, NULL},
	{"From another member than the signer",
	    OPTS("--signer", "alice", "--from", "Bob Example <bob@example.org>"),
	    0, OPM_ACTION_REJECT, "550", "5.7.1",
	    {"bob@example.org", "alice@example.org", "0x{alice}", NULL},
	    "alice", NULL},
	{"From local part in another case",
	    OPTS("--signer", "alice", "--from", "Alice <Alice@example.org>"), 0,
	    OPM_ACTION_REJECT, "550", "5.7.1", {"alice@example.org", NULL},
	    "alice", NULL},
	{"two From fields", OPTS("--signer", "alice", "--shape", "two-from"),
	    0, OPM_ACTION_REJECT, "550", "5.7.1",
	    {"more than one From", "alice@example.org", NULL}, "alice", NULL},
	{"two mailboxes in From",
	    OPTS("--signer", "alice", "--shape", "two-mailboxes"), 0,
	    OPM_ACTION_REJECT, "550", "5.7.1", {"alice@example.org", NULL},
	    "alice", NULL},
	{"SHA-1 signature", OPTS("--signer", "carol", "--digest", "SHA1"), 0,
	    OPM_ACTION_REJECT, "550", "5.7.6", {"SHA1", "SHA256", NULL}, NULL,
	    NULL},
	{"expired key", OPTS("--signer", "dave", "--date-offset",
	    "55 days ago"), 0, OPM_ACTION_REJECT, "550", "5.7.5",
	    {"0x{dave}", "expired", NULL}, NULL, NULL},
	{"revoked key", OPTS("--signer", "erin"), 0, OPM_ACTION_REJECT, "550",
	    "5.7.5", {"0x{erin}", "revoked", NULL}, NULL, NULL},
	{"tampered post", OPTS("--signer", "alice", "--shape", "tampered"), 0,
	    OPM_ACTION_REJECT, "550", "5.7.7", {"0x{alice}", NULL}, NULL, NULL},
	{"stale signature", OPTS("--signer", "alice", "--date-offset",
	    "8 days ago"), 0, OPM_ACTION_REJECT, "550", "5.7.5",
	    {"8 days", "7 days", NULL}, NULL, NULL},
	{"signature from the future", OPTS("--signer", "alice",
	    "--date-offset", "1 day"), 0, OPM_ACTION_REJECT, "550", "5.7.5",
	    {"future", "clock", NULL}, NULL, NULL},
	{"signed entity wrapped in multipart/mixed",
	    OPTS("--signer", "alice", "--shape", "mixed-wrap"), 0,
	    OPM_ACTION_REJECT, "550", "5.7.1", {"0x{alice}", NULL}, NULL, NULL},
	{"signed post attached to an unsigned one",
	    OPTS("--signer", "alice", "--shape", "attached"), 0,
	    OPM_ACTION_REJECT, "550", "5.7.1", {"attach", NULL}, NULL, NULL},
	{"S/MIME post", OPTS("--signer", "alice", "--shape", "smime"), 0,
	    OPM_ACTION_REJECT, "550", "5.7.1", {"S/MIME", "0x{alice}", NULL},
	    NULL, NULL},
	{"multipart/signed with three parts",
	    OPTS("--signer", "alice", "--shape", "three-parts"), 0,
	    OPM_ACTION_REJECT, "550", "5.7.1", {"RFC 3156", NULL}, NULL, NULL},
	{"too deep", OPTS("--signer", "alice", "--shape", "deep"), 0,
	    OPM_ACTION_REJECT, "550", "5.6.0", {NULL}, NULL, NULL},
	{"too many parts", OPTS("--signer", "alice", "--shape", "many-parts"),
	    0, OPM_ACTION_REJECT, "550", "5.6.0", {NULL}, NULL, NULL},
	{"too big", OPTS("--signer", "alice", "--shape", "big",
	    "--body-size", "80000"), 64 * 1024, OPM_ACTION_REJECT, "552",
	    "5.3.4", {"too big", NULL}, NULL, NULL},
};

START_TEST(gate_case)
{
	const char *name = cases[_i].name;
	g_autoptr(GBytes) raw = mkpost(cases[_i].opts);
	g_autoptr(OpmMessage) msg = NULL;
	g_autoptr(OpmVerdict) v = NULL;

	if (cases[_i].max_size > 0)
		conf->max_message_size = cases[_i].max_size;
	msg = parse(raw);
	v = opm_gate_check(conf, list, msg, now_s());
	check_verdict_form(name, v, LIST_ADDRESS);
	ck_assert_msg(v->action == cases[_i].action &&
	    strcmp(v->rcode, cases[_i].rcode) == 0 &&
	    strcmp(v->xcode, cases[_i].xcode) == 0,
	    "%s: got %s %s %s (%s: %s), want %s %s %s", name,
	    action_name(v->action), v->rcode, v->xcode, v->reason,
	    v->text != NULL ? v->text : "", action_name(cases[_i].action),
	    cases[_i].rcode, cases[_i].xcode);
	for (gsize t = 0; t < G_N_ELEMENTS(cases[_i].texts) &&
	    cases[_i].texts[t] != NULL; t++) {
		g_autofree char *want = expand(cases[_i].texts[t]);

		ck_assert_msg(strstr(v->text, want) != NULL, "%s: got text "
		    "\"%s\", want it to contain \"%s\"", name, v->text, want);
	}
	if (cases[_i].signer != NULL) {
		g_autofree char *fpr = tu_fpr(cases[_i].signer);

		ck_assert_msg(v->signer != NULL && strcmp(v->signer, fpr) == 0,
		    "%s: got signer %s, want %s's %s", name,
		    v->signer != NULL ? v->signer : "NULL", cases[_i].signer, fpr);
	}
	if (cases[_i].member != NULL)
		ck_assert_msg(v->member != NULL &&
		    strcmp(v->member->address, cases[_i].member) == 0,
		    "%s: got member %s, want %s", name, v->member != NULL ?
		    v->member->address : "NULL", cases[_i].member);
	if (v->action == OPM_ACTION_ACCEPT)
		ck_assert_msg(v->replay_key != NULL && strlen(v->replay_key) == 64,
		    "%s: accepted without a replay key", name);
	else
		ck_assert_msg(v->member == NULL, "%s: a refusal names member %s",
		    name, v->member->address);
}
END_TEST

/* ------------------------------------------------------------------ */
/* display names                                                       */

/* The display name a copy shows for alice's post with From: NAME: hers
 * as written, or, when it could pass for another member's (any case,
 * spacing, punctuation, look-alike letters, an address, control or
 * invisible characters), her name from the members file. */
static const struct {
	const char *name;
	gboolean kept;
} names[] = {
	{"Alice Example", TRUE},
	{"Alice (at home)", TRUE},
	{"Zo\xc3\xab \xc3\x85lice", TRUE},
	{"\xe6\x9d\x8e\xe5\xb0\x8f\xe9\xbe\x8d", TRUE},
	{"Bob Example", FALSE},
	{"Bob Example (work)", FALSE},
	{"BOB EXAMPLE", FALSE},
	{"B\xd0\xbe" "b Example", FALSE},           /* Cyrillic o */
	{"\xce\x92ob Ex\xce\xb1mple", FALSE},       /* Greek B, alpha */
	{"bob\xef\xbc\xa0" "example.org", FALSE},   /* full-width @ */
	{"bob\xef\xb9\xab" "example.org", FALSE},   /* small @ */
	{"bob at example.org via bob@example.org", FALSE},
	{"Bob Example\x7f", FALSE},                 /* DEL */
	{"Bob\xc2\xa0" "Example", FALSE},           /* no-break space */
	{"B o b  E x a m p l e", FALSE},
	{"Bob.Example", FALSE},
	{"B\xc3\xb3" "b Example", FALSE},           /* an accent */
	{"\xe2\x80\xae" "elpmaxE boB", FALSE},      /* right-to-left override */
	{"Bob\xe2\x80\x8b" "Example", FALSE},       /* zero-width space */
	{"Carol Ex\xef\xbd\x81mple", FALSE},        /* full-width a */
};

START_TEST(display_name)
{
	g_autofree char *raw = g_strdup_printf("From: \"%s\" "
	    "<alice@example.org>\r\nTo: secir@lists.example.org\r\n"
	    "Subject: hi\r\nContent-Type: text/plain\r\n\r\nHi\r\n",
	    names[_i].name);
	g_autoptr(GBytes) b = tu_bytes(raw);
	g_autoptr(OpmMessage) msg = parse(b);
	OpmMember *alice = opm_list_find_member(list, NULL,
	    "alice@example.org");
	g_autofree char *got = NULL;

	ck_assert_msg(alice != NULL, "alice is not a member");
	got = opm_copy_display_name(list, msg, alice);
	if (names[_i].kept)
		ck_assert_msg(got != NULL && strcmp(got, names[_i].name) == 0,
		    "From: \"%s\": got \"%s\", want it kept", names[_i].name,
		    got != NULL ? got : "(none)");
	else
		ck_assert_msg(g_strcmp0(got, alice->name) == 0,
		    "From: \"%s\": got \"%s\", want alice's registered \"%s\"",
		    names[_i].name, got != NULL ? got : "(none)", alice->name);
}
END_TEST

/* ------------------------------------------------------------------ */
/* replays and retries                                                */

/* What a fan-out leaves for key: done (finish TRUE) or interrupted. */
static void
fan_out(OpmList *l, const char *key, gboolean finish)
{
	g_autoptr(GError) error = NULL;
	OpmJournal *j = opm_journal_open(conf->state_dir, l->address, key,
	    now_s(), MAX(l->replay_lifetime, l->max_signature_age),
	    conf->journal_lifetime, &error);

	ck_assert_msg(j != NULL, "opm_journal_open: %s",
	    error != NULL ? error->message : "?");
	if (finish)
		ck_assert_msg(opm_journal_finish(j, now_s(), &error),
		    "opm_journal_finish: %s", error->message);
	opm_journal_close(j);
}

static void
forget(OpmList *l, const char *key)
{
	OpmJournal *j = opm_journal_open(conf->state_dir, l->address, key,
	    now_s(), MAX(l->replay_lifetime, l->max_signature_age),
	    conf->journal_lifetime, NULL);

	ck_assert_msg(j != NULL, "opm_journal_open failed");
	opm_journal_forget(j);
	opm_journal_close(j);
}

static OpmVerdict *
check_post(OpmList *l, GBytes *raw)
{
	g_autoptr(OpmMessage) msg = parse(raw);
	OpmVerdict *v = opm_gate_check(conf, l, msg, now_s());

	check_verdict_form("post", v, l->address);
	return v;
}

#define WANT_REPLY(v, act, code, what) \
	ck_assert_msg((v)->action == (act) && strcmp((v)->xcode, (code)) == 0, \
	    "%s: got %s %s %s (%s), want %s %s", (what), \
	    action_name((v)->action), (v)->rcode, (v)->xcode, \
	    (v)->text != NULL ? (v)->text : "", action_name(act), (code))

START_TEST(distributed_post_is_a_replay)
{
	static const char *const opts[] = {"--signer", "alice", NULL};
	g_autoptr(GBytes) raw = mkpost(opts);
	g_autoptr(OpmVerdict) v1 = check_post(list, raw);
	g_autoptr(OpmVerdict) v2 = NULL;
	g_autoptr(OpmVerdict) v3 = NULL;
	g_autoptr(OpmVerdict) v4 = NULL;
	g_autoptr(GDateTime) today = g_date_time_new_now_utc();
	g_autofree char *date = g_date_time_format(today, "%Y-%m-%d");

	WANT_REPLY(v1, OPM_ACTION_ACCEPT, "2.0.0", "first arrival");
	v2 = check_post(list, raw);
	WANT_REPLY(v2, OPM_ACTION_ACCEPT, "2.0.0",
	    "second arrival before any fan-out (the gate only looks)");
	ck_assert_msg(strcmp(v1->replay_key, v2->replay_key) == 0,
	    "the same post twice: got keys %s and %s, want one", v1->replay_key,
	    v2->replay_key);

	fan_out(list, v1->replay_key, TRUE);
	v3 = check_post(list, raw);
	WANT_REPLY(v3, OPM_ACTION_REJECT, "5.7.5", "arrival after distribution");
	ck_assert_msg(strcmp(v3->rcode, "550") == 0, "replay: got %s, want 550",
	    v3->rcode);
	ck_assert_msg(strstr(v3->text, date) != NULL, "replay: got text \"%s\", "
	    "want the date of distribution %s", v3->text, date);

	forget(list, v1->replay_key);
	v4 = check_post(list, raw);
	WANT_REPLY(v4, OPM_ACTION_ACCEPT, "2.0.0",
	    "arrival after the entry was forgotten");
}
END_TEST

/* Blanks at the end of a line and a needless dash-escape do not change
 * what a clear signature covers: with them an inline post is the same
 * post, and a replay once distributed. */
START_TEST(inline_post_with_blanks_added_is_a_replay)
{
	static const char *const opts[] = {"--signer", "alice", "--shape",
	    "inline-signed", NULL};
	g_autoptr(GBytes) raw = mkpost(opts);
	g_autofree char *text = g_strndup(g_bytes_get_data(raw, NULL),
	    g_bytes_get_size(raw));
	g_autofree char *t1 = tu_replace(text, "Hello list,\r\n",
	    "Hello list,   \t \r\n");
	g_autofree char *t2 = tu_replace(t1, "\r\nNonce: ", "\r\n- Nonce: ");
	g_autoptr(GBytes) changed = g_bytes_new(t2, strlen(t2));
	g_autoptr(OpmVerdict) v1 = check_post(list, raw);
	g_autoptr(OpmVerdict) v2 = NULL;

	ck_assert_msg(strcmp(t2, text) != 0 && strcmp(t2, t1) != 0,
	    "the post did not change");
	WANT_REPLY(v1, OPM_ACTION_ACCEPT, "2.0.0", "first arrival");
	fan_out(list, v1->replay_key, TRUE);
	v2 = check_post(list, changed);
	WANT_REPLY(v2, OPM_ACTION_REJECT, "5.7.5",
	    "the same post with blanks and a dash-escape added");
}
END_TEST

/* ---- one signature in another form ---- */

/* The n bytes after the first occurrence of from in t, up to the next
 * until (exclusive), or NULL.  (transfer full) */
static char *
between(const char *t, const char *from, const char *until)
{
	const char *a = strstr(t, from), *b;

	if (a == NULL)
		return NULL;
	a += strlen(from);
	if ((b = strstr(a, until)) == NULL)
		return NULL;
	return g_strndup(a, (gsize)(b - a));
}

/* The text a clear-signed post's signature covers (CRLF, dash-escapes
 * undone, no last line break) and its armored signature.  (transfer
 * full) */
static void
clearsigned_parts(GBytes *raw, char **text, char **armor)
{
	g_autofree char *t = g_strndup(g_bytes_get_data(raw, NULL),
	    g_bytes_get_size(raw));
	g_autofree char *block = between(t, "-----BEGIN PGP SIGNED MESSAGE-----",
	    "\r\n-----BEGIN PGP SIGNATURE-----");
	g_autofree char *sig = between(t, "\r\n-----BEGIN PGP SIGNATURE-----",
	    "\r\n-----END PGP SIGNATURE-----");
	const char *body = block != NULL ? strstr(block, "\r\n\r\n") : NULL;
	g_auto(GStrv) lines = NULL;

	ck_assert_msg(body != NULL && sig != NULL, "no clear-signed block");
	lines = g_strsplit(body + 4, "\r\n", -1);
	for (char **l = lines; *l != NULL; l++)
		if (g_str_has_prefix(*l, "- "))
			memmove(*l, *l + 2, strlen(*l + 2) + 1);
	*text = g_strjoinv("\r\n", lines);
	*armor = g_strdup_printf("-----BEGIN PGP SIGNATURE-----%s\r\n"
	    "-----END PGP SIGNATURE-----", sig);
}

/* The signed part of a PGP/MIME post, byte for byte, and its armored
 * signature.  (transfer full) */
static void
pgpmime_parts(GBytes *raw, char **text, char **armor)
{
	g_autofree char *t = g_strndup(g_bytes_get_data(raw, NULL),
	    g_bytes_get_size(raw));
	g_autofree char *b = between(t, "boundary=\"", "\"");
	g_autofree char *delim = g_strdup_printf("\r\n--%s\r\n", b);
	g_autofree char *sig = between(t, "-----BEGIN PGP SIGNATURE-----",
	    "-----END PGP SIGNATURE-----");

	ck_assert_msg(b != NULL && sig != NULL, "no PGP/MIME signature");
	*text = between(t, delim, delim);
	ck_assert_msg(*text != NULL, "no signed part");
	*armor = g_strdup_printf("-----BEGIN PGP SIGNATURE-----%s"
	    "-----END PGP SIGNATURE-----", sig);
}

static const char head[] = "From: Alice Example <alice@example.org>\r\n"
    "To: secir@lists.example.org\r\nSubject: the same signature again\r\n"
    "MIME-Version: 1.0\r\n";

/* text and signature as a PGP/MIME post.  (transfer full) */
static GBytes *
as_pgpmime(const char *text, const char *armor)
{
	g_autofree char *lf = tu_replace(armor, "\r\n", "\n");
	g_autofree char *a = tu_replace(lf, "\n", "\r\n");
	char *p = g_strdup_printf("%sContent-Type: multipart/signed; "
	    "micalg=pgp-sha256;\r\n protocol=\"application/pgp-signature\"; "
	    "boundary=\"=-again\"\r\n\r\n--=-again\r\n%s\r\n--=-again\r\n"
	    "Content-Type: application/pgp-signature\r\n\r\n%s\r\n"
	    "--=-again--\r\n", head, text, a);

	return g_bytes_new_take(p, strlen(p));
}

/* text and signature as an inline clear-signed post.  (transfer full) */
static GBytes *
as_inline(const char *text, const char *armor)
{
	g_auto(GStrv) lines = g_strsplit(text, "\r\n", -1);
	g_autofree char *escaped = NULL;
	char *p;

	for (char **l = lines; *l != NULL; l++)
		if (**l == '-' || g_str_has_prefix(*l, "From ")) {
			char *e = g_strconcat("- ", *l, NULL);

			g_free(*l);
			*l = e;
		}
	escaped = g_strjoinv("\r\n", lines);
	p = g_strdup_printf("%sContent-Type: text/plain; charset=us-ascii\r\n"
	    "\r\n-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\n"
	    "%s\r\n%s\r\n", head, escaped, armor);
	return g_bytes_new_take(p, strlen(p));
}

/* text and signature re-encrypted to the list key by a non-member: the
 * signature packet and a literal packet of the text, encrypted as they
 * are (gpg --no-literal).  (transfer full) */
static GBytes *
as_reencrypted(const char *text, const char *armor)
{
	g_autofree char *src = tu_fixture("gnupg-mallory");
	g_autofree char *dir = g_build_filename(tmp, "gnupg-mallory", NULL);
	g_autofree char *b64 = NULL;
	g_autofree guchar *sig = NULL;
	g_autofree char *lfpr = tu_fpr("list");
	GString *b = g_string_new(NULL);
	GString *pk = g_string_new(NULL);
	gsize sn = 0, tn = strlen(text), bodylen = 6 + tn, cn = 0;
	gpgme_ctx_t ctx;
	gpgme_key_t keys[2] = {NULL, NULL};
	gpgme_data_t in = NULL, out = NULL;
	g_autofree char *cipher = NULL;
	char *p, *c;
	const char *a = strstr(armor, "\n\n") != NULL ? strstr(armor, "\n\n") :
	    strstr(armor, "\r\n\r\n");

	/* the armor's base64 lines, up to its checksum line */
	if (a != NULL) {
		g_auto(GStrv) lines = g_strsplit(a, "\n", -1);

		for (char **l = lines; *l != NULL && **l != '=' && **l != '-';
		    l++)
			g_string_append(b, g_strstrip(*l));
	}
	b64 = g_string_free(b, FALSE);
	sig = g_base64_decode(b64, &sn);
	ck_assert_msg(sn > 10, "no signature packet in the armor");
	g_string_append_len(pk, (const char *)sig, (gssize)sn);
	ck_assert_msg(bodylen < 8384, "text too long for the test");
	g_string_append_c(pk, (char)0xcb); /* new format, tag 11 */
	if (bodylen < 192) {
		g_string_append_c(pk, (char)bodylen);
	} else {
		g_string_append_c(pk, (char)(((bodylen - 192) >> 8) + 192));
		g_string_append_c(pk, (char)((bodylen - 192) & 0xff));
	}
	g_string_append_len(pk, "t\0\0\0\0\0", 6);
	g_string_append_len(pk, text, (gssize)tn);

	tu_copy_home(src, dir);
	ctx = tu_gpg_context(dir);
	gpgme_set_armor(ctx, 1);
	ck_assert_msg(gpgme_get_key(ctx, lfpr, &keys[0], 0) == 0,
	    "mallory's home has no list key");
	gpgme_data_new_from_mem(&in, pk->str, pk->len, 0);
	gpgme_data_new(&out);
	ck_assert_msg(gpgme_op_encrypt(ctx, keys, GPGME_ENCRYPT_WRAP |
	    GPGME_ENCRYPT_ALWAYS_TRUST | GPGME_ENCRYPT_NO_COMPRESS, in, out) == 0,
	    "cannot re-encrypt");
	c = gpgme_data_release_and_get_mem(out, &cn);
	cipher = g_strndup(c, cn);
	gpgme_free(c);
	gpgme_data_release(in);
	gpgme_key_unref(keys[0]);
	gpgme_release(ctx);
	g_string_free(pk, TRUE);
	p = g_strdup_printf("%sContent-Type: multipart/encrypted;\r\n"
	    " protocol=\"application/pgp-encrypted\"; boundary=\"=-enc\"\r\n\r\n"
	    "--=-enc\r\nContent-Type: application/pgp-encrypted\r\n\r\n"
	    "Version: 1\r\n\r\n--=-enc\r\n"
	    "Content-Type: application/octet-stream\r\n\r\n%s\r\n--=-enc--\r\n",
	    head, cipher);
	return g_bytes_new_take(p, strlen(p));
}

/* data signed by alice in gpgme's mode, armored.  (transfer full) */
static char *
alice_signs(const char *data, gpgme_sig_mode_t mode)
{
	g_autofree char *src = tu_fixture("gnupg-alice");
	g_autofree char *dir = g_build_filename(tmp, "gnupg-alice", NULL);
	gpgme_ctx_t ctx;
	gpgme_data_t in = NULL, out = NULL;
	char *c, *armored;
	gsize cn = 0;

	if (!g_file_test(dir, G_FILE_TEST_IS_DIR))
		tu_copy_home(src, dir);
	ctx = tu_gpg_context(dir);
	gpgme_set_armor(ctx, 1);
	gpgme_data_new_from_mem(&in, data, strlen(data), 0);
	gpgme_data_new(&out);
	ck_assert_msg(gpgme_op_sign(ctx, in, out, mode) == 0,
	    "alice cannot sign");
	c = gpgme_data_release_and_get_mem(out, &cn);
	armored = g_strndup(c, cn);
	gpgme_free(c);
	gpgme_data_release(in);
	gpgme_release(ctx);
	return armored;
}

/* A distributed signature in another form (clear-signed, PGP/MIME,
 * re-encrypted by someone else, with LF or CRLF, with or without a last
 * line break) is still the one post, and a replay. */
static const char *const form_names[] = {"inline as PGP/MIME",
    "inline re-encrypted", "PGP/MIME as inline"};

START_TEST(signature_in_another_form_is_a_replay)
{
	/* a binary signature verifies as a clear signature too when no
	 * line of its text ends in white space */
	g_autofree char *nonce = g_strdup_printf("%08x%08x", g_random_int(),
	    g_random_int());
	g_autofree char *note = g_strdup_printf("Update: the meeting moves to "
	    "5pm\r\n\r\n- a list item\r\nFrom the start.\r\nNonce: %s\r\n",
	    nonce);
	g_autofree char *entity = g_strdup_printf("Content-Type: text/plain; "
	    "charset=us-ascii\r\n\r\nHello list,\r\n\r\n- a list item\r\n"
	    "Nonce: %s", nonce);
	gboolean from_inline = _i < 2;
	g_autoptr(GBytes) raw = NULL;
	g_autofree char *text = NULL;
	g_autofree char *armor = NULL;
	g_autoptr(GBytes) again = NULL;
	g_autoptr(OpmVerdict) v1 = NULL;
	g_autoptr(OpmVerdict) v2 = NULL;

	if (from_inline) {
		g_autofree char *block = alice_signs(note,
		    GPGME_SIG_MODE_CLEAR);
		char *p = g_strdup_printf("%sContent-Type: text/plain; "
		    "charset=us-ascii\r\n\r\n%s", head, block);
		g_autofree char *c = tu_replace(p, "\r\n", "\n");

		g_free(p);
		p = tu_replace(c, "\n", "\r\n");
		raw = g_bytes_new_take(p, strlen(p));
	} else {
		g_autofree char *sig = alice_signs(entity,
		    GPGME_SIG_MODE_DETACH);

		raw = as_pgpmime(entity, sig);
	}
	v1 = check_post(list, raw);
	WANT_REPLY(v1, OPM_ACTION_ACCEPT, "2.0.0", "first arrival");
	if (from_inline)
		clearsigned_parts(raw, &text, &armor);
	else
		pgpmime_parts(raw, &text, &armor);
	switch (_i) {
	case 0: again = as_pgpmime(text, armor); break;
	case 1: again = as_reencrypted(text, armor); break;
	default: again = as_inline(text, armor); break;
	}
	{
		/* the other form is a post the gate takes as such */
		g_autoptr(OpmVerdict) v0 = check_post(list, again);

		WANT_REPLY(v0, OPM_ACTION_ACCEPT, "2.0.0", form_names[_i]);
	}
	fan_out(list, v1->replay_key, TRUE);
	v2 = check_post(list, again);
	WANT_REPLY(v2, OPM_ACTION_REJECT, "5.7.5", form_names[_i]);
}
END_TEST

/* A post recorded by an earlier version under the key of its exact
 * signed bytes keeps that key: its retry resumes, its replay is
 * refused. */
START_TEST(post_recorded_under_its_exact_bytes_keeps_its_key)
{
	static const char *const opts[] = {"--signer", "alice", "--shape",
	    "inline-signed", NULL};
	g_autoptr(GBytes) raw = mkpost(opts);
	g_autoptr(OpmMessage) msg = parse(raw);
	g_autoptr(OpmVerdict) v1 = opm_gate_check(conf, list, msg, now_s());
	g_autoptr(OpmVerdict) v2 = NULL;
	g_autoptr(OpmVerdict) v3 = NULL;
	gpgme_ctx_t ctx = tu_gpg_context(home);
	gpgme_data_t sig = NULL, plain = NULL;
	gpgme_verify_result_t r;
	g_autofree char *exact = NULL;

	WANT_REPLY(v1, OPM_ACTION_ACCEPT, "2.0.0", "first arrival");
	gpgme_data_new_from_mem(&sig, g_bytes_get_data(raw, NULL),
	    g_bytes_get_size(raw), 0);
	gpgme_data_new(&plain);
	ck_assert_msg(gpgme_op_verify(ctx, sig, NULL, plain) == 0 &&
	    (r = gpgme_op_verify_result(ctx)) != NULL &&
	    r->signatures != NULL, "cannot read the signature's time");
	exact = opm_journal_key(list->address, v1->signer,
	    r->signatures->timestamp, msg->signed_data);
	gpgme_data_release(sig);
	gpgme_data_release(plain);
	gpgme_release(ctx);
	ck_assert_msg(strcmp(exact, v1->replay_key) != 0,
	    "the key of the exact bytes is the post's key: nothing to test");

	fan_out(list, exact, FALSE);
	v2 = check_post(list, raw);
	WANT_REPLY(v2, OPM_ACTION_ACCEPT, "2.0.0", "retry of a recorded post");
	ck_assert_msg(strcmp(v2->replay_key, exact) == 0,
	    "retry: got key %s, want the recorded %s", v2->replay_key, exact);
	fan_out(list, exact, TRUE);
	v3 = check_post(list, raw);
	WANT_REPLY(v3, OPM_ACTION_REJECT, "5.7.5", "replay of a recorded post");
}
END_TEST

START_TEST(same_text_signed_again_is_not_a_replay)
{
	/* two posts, two signatures: distributing one does not block the
	 * other */
	static const char *const opts[] = {"--signer", "bob", NULL};
	g_autoptr(GBytes) raw1 = mkpost(opts);
	g_autoptr(GBytes) raw2 = mkpost(opts);
	g_autoptr(OpmVerdict) v1 = check_post(list, raw1);
	g_autoptr(OpmVerdict) v2 = NULL;

	WANT_REPLY(v1, OPM_ACTION_ACCEPT, "2.0.0", "first post");
	fan_out(list, v1->replay_key, TRUE);
	v2 = check_post(list, raw2);
	WANT_REPLY(v2, OPM_ACTION_ACCEPT, "2.0.0", "second post");
	ck_assert_msg(strcmp(v1->replay_key, v2->replay_key) != 0,
	    "two posts: got the same key %s", v1->replay_key);
}
END_TEST

START_TEST(interrupted_post_is_a_retry)
{
	static const char *const opts[] = {"--signer", "alice", NULL};
	g_autoptr(GBytes) raw = mkpost(opts);
	g_autoptr(OpmVerdict) v1 = check_post(list, raw);
	g_autoptr(OpmVerdict) v2 = NULL;

	WANT_REPLY(v1, OPM_ACTION_ACCEPT, "2.0.0", "first arrival");
	fan_out(list, v1->replay_key, FALSE);
	v2 = check_post(list, raw);
	WANT_REPLY(v2, OPM_ACTION_ACCEPT, "2.0.0",
	    "the MTA's retry after an interrupted fan-out");
	ck_assert_msg(strcmp(v1->replay_key, v2->replay_key) == 0,
	    "retry: got key %s, want the interrupted one %s", v2->replay_key,
	    v1->replay_key);
}
END_TEST

START_TEST(late_retry_is_not_held_to_freshness)
{
	/* accepted while fresh, interrupted, retried once it is older than
	 * MaxSignatureAge: still a retry; a new post that old is stale */
	static const char *const opts[] = {"--signer", "alice",
	    "--date-offset", "2 hours ago", NULL};
	g_autoptr(GBytes) raw = mkpost(opts);
	g_autoptr(GBytes) other = mkpost(opts);
	g_autoptr(OpmVerdict) v1 = check_post(list, raw);
	g_autoptr(OpmVerdict) v2 = NULL;
	g_autoptr(OpmVerdict) v3 = NULL;
	gint64 age = list->max_signature_age;

	WANT_REPLY(v1, OPM_ACTION_ACCEPT, "2.0.0", "first arrival, fresh");
	fan_out(list, v1->replay_key, FALSE);
	list->max_signature_age = 3600; /* as if a day had passed */
	v2 = check_post(list, raw);
	v3 = check_post(list, other);
	list->max_signature_age = age;
	WANT_REPLY(v2, OPM_ACTION_ACCEPT, "2.0.0",
	    "the retry of the interrupted post, now older than the window");
	WANT_REPLY(v3, OPM_ACTION_REJECT, "5.7.5", "a new post that old");
	ck_assert_msg(strcmp(v3->reason, "stale signature") == 0,
	    "got reason %s, want stale signature", v3->reason);
}
END_TEST

START_TEST(post_being_distributed_is_tempfailed)
{
	static const char *const opts[] = {"--signer", "alice", NULL};
	g_autoptr(GBytes) raw = mkpost(opts);
	g_autoptr(OpmVerdict) v1 = check_post(list, raw);
	g_autoptr(OpmVerdict) v2 = NULL;
	g_autoptr(OpmVerdict) v3 = NULL;
	g_autoptr(GError) error = NULL;
	OpmJournal *j;

	WANT_REPLY(v1, OPM_ACTION_ACCEPT, "2.0.0", "first arrival");
	j = opm_journal_open(conf->state_dir, list->address, v1->replay_key,
	    now_s(), MAX(list->replay_lifetime, list->max_signature_age),
	    conf->journal_lifetime, &error);
	ck_assert_msg(j != NULL, "opm_journal_open: %s",
	    error != NULL ? error->message : "?");
	v2 = check_post(list, raw);
	opm_journal_close(j);
	WANT_REPLY(v2, OPM_ACTION_TEMPFAIL, "4.3.0",
	    "a copy arriving while the first is distributed");
	ck_assert_msg(strcmp(v2->rcode, "451") == 0, "got %s, want 451",
	    v2->rcode);
	v3 = check_post(list, raw);
	WANT_REPLY(v3, OPM_ACTION_ACCEPT, "2.0.0",
	    "after the distribution stopped unfinished");
}
END_TEST

START_TEST(each_list_keeps_its_own_record)
{
	g_autofree char *members = g_build_filename(tmp, "ops-members", NULL);
	g_autofree char *lconf = g_build_filename(tmp, "ops.conf", NULL);
	g_autofree char *mconf = g_build_filename(tmp, "main.conf", NULL);
	g_autofree char *secir = tu_fixture("lists/secir.conf");
	g_autofree char *bob = tu_fpr("bob");
	g_autofree char *list_fpr = tu_fpr("list");
	static const char *const bob_opts[] = {"--signer", "bob", "--to",
	    OPS_ADDRESS, NULL};
	static const char *const alice_opts[] = {"--signer", "alice", "--to",
	    OPS_ADDRESS, NULL};
	g_autoptr(GBytes) bob_post = mkpost(bob_opts);
	g_autoptr(GBytes) alice_post = mkpost(alice_opts);
	g_autoptr(OpmVerdict) v1 = NULL;
	g_autoptr(OpmVerdict) v2 = NULL;
	g_autoptr(OpmVerdict) v3 = NULL;
	g_autoptr(OpmVerdict) v4 = NULL;
	OpmList *ops;

	tu_write(members, "bob@example.org %s Bob Example\n", bob);
	tu_write(lconf, "Address %s\nGnupgHome %s\nListKey %s\n"
	    "MembersFile %s\n", OPS_ADDRESS, home, list_fpr, members);
	tu_write(mconf, "List %s\nList %s\n", secir, lconf);
	load_conf(mconf);
	ops = opm_conf_find_list(conf, OPS_ADDRESS);
	ck_assert_msg(ops != NULL && ops != list, "no second list loaded");

	v1 = check_post(ops, bob_post);
	WANT_REPLY(v1, OPM_ACTION_ACCEPT, "2.0.0", "bob's post to ops");
	v2 = check_post(list, bob_post);
	WANT_REPLY(v2, OPM_ACTION_ACCEPT, "2.0.0", "the same post to secir");
	fan_out(list, v2->replay_key, TRUE);
	v3 = check_post(ops, bob_post);
	WANT_REPLY(v3, OPM_ACTION_ACCEPT, "2.0.0",
	    "bob's post to ops after it was distributed on secir");
	v4 = check_post(ops, alice_post);
	WANT_REPLY(v4, OPM_ACTION_REJECT, "5.7.1",
	    "alice (a member of secir only) posting to ops");
	ck_assert_msg(strstr(v4->text, OPS_ADDRESS) != NULL &&
	    strstr(v4->text, LIST_ADDRESS) == NULL, "alice to ops: got text "
	    "\"%s\", want it to name ops and not secir", v4->text);
}
END_TEST

static Suite *
gate_suite(void)
{
	Suite *s = suite_create("gate");
	TCase *tc;

	tc = tcase_create("posts");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, TU_GPG_TIMEOUT);
	tcase_add_loop_test(tc, gate_case, 0, G_N_ELEMENTS(cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("display names");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, display_name, 0, G_N_ELEMENTS(names));
	suite_add_tcase(s, tc);

	tc = tcase_create("replay");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, TU_GPG_TIMEOUT);
	tcase_add_test(tc, distributed_post_is_a_replay);
	tcase_add_test(tc, inline_post_with_blanks_added_is_a_replay);
	tcase_add_loop_test(tc, signature_in_another_form_is_a_replay, 0,
	    G_N_ELEMENTS(form_names));
	tcase_add_test(tc, post_recorded_under_its_exact_bytes_keeps_its_key);
	tcase_add_test(tc, same_text_signed_again_is_not_a_replay);
	tcase_add_test(tc, interrupted_post_is_a_retry);
	tcase_add_test(tc, late_retry_is_not_held_to_freshness);
	tcase_add_test(tc, post_being_distributed_is_tempfailed);
	tcase_add_test(tc, each_list_keeps_its_own_record);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	setlocale(LC_ALL, "");
	gpgme_check_version(NULL);
	g_mime_init();
	return tu_run(gate_suite());
}
