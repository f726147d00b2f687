/*
 * NAME
 *	test_keys - unit tests of lib/keys.c and lib/check.c
 * DESCRIPTION
 *	The fixture list (t/fixtures.sh) loaded from a private copy of its
 *	GnuPG home: every member gets the key pinned for them and no one
 *	else's, lookups by subkey fingerprint and key ID as gpg reports
 *	them, the key states the "-n" check reports, the members-file and
 *	gpg.conf mistakes it must catch, and a copy encrypted to one member
 *	that only that member can read.  Fingerprints to compare with are
 *	taken from FIXTURES/fpr and from gpgme directly, not from the code
 *	under test.  Every gpg-agent started in a copy is stopped.
 */
#include "config.h"

#include <locale.h>
#include <string.h>

#include "tutil.h"

#include "audit.h"
#include "conf.h"
#include "keys.h"

#define LIST_ADDRESS "secir@lists.example.org"

static char *tmp;      /* the test's temporary directory */
static char *home;     /* tmp/gnupg-list: copy of the list's home */
static OpmConfig *conf;
static OpmList *list;

/* Point every list of c at the private copy of the list's home. */
static void
use_home_copy(OpmConfig *c)
{
	for (guint i = 0; i < c->lists->len; i++) {
		OpmList *l = g_ptr_array_index(c->lists, i);

		g_free(l->gnupg_home);
		l->gnupg_home = g_strdup(home);
	}
}

static void
load_list(OpmList *l)
{
	g_autoptr(GError) error = NULL;

	ck_assert_msg(opm_keys_load(l, &error), "opm_keys_load(%s): got error "
	    "\"%s\", want the keys", l->address,
	    error != NULL ? error->message : "?");
}

static void
setup(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *src = tu_fixture("gnupg-list");
	g_autofree char *path = tu_fixture("openpgp-milter.conf");

	tmp = tu_tmpdir("opm-keys");
	home = g_build_filename(tmp, "gnupg-list", NULL);
	tu_copy_home(src, home);
	conf = opm_conf_load(path, &error);
	ck_assert_msg(conf != NULL, "loading %s: got error \"%s\"", path,
	    error != NULL ? error->message : "?");
	use_home_copy(conf);
	list = opm_conf_find_list(conf, LIST_ADDRESS);
	ck_assert_msg(list != NULL, "the fixtures define no list %s",
	    LIST_ADDRESS);
	load_list(list);
}

static void
teardown(void)
{
	GDir *d;
	const char *name;

	g_clear_pointer(&conf, opm_conf_unref);
	list = NULL;
	/* every GnuPG home under tmp may have an agent running */
	if ((d = g_dir_open(tmp, 0, NULL)) != NULL) {
		while ((name = g_dir_read_name(d)) != NULL) {
			g_autofree char *p = g_build_filename(tmp, name, NULL);

			if (g_str_has_prefix(name, "gnupg-"))
				tu_gpg_kill(p);
		}
		g_dir_close(d);
	}
	tu_rmtree(tmp);
	g_clear_pointer(&tmp, g_free);
	g_clear_pointer(&home, g_free);
}

/* The fingerprint of NAME's first subkey (the encryption subkey), as
 * gpgme lists it from the list's home.  (transfer full) */
static char *
subkey_fpr(const char *name)
{
	g_autofree char *fpr = tu_fpr(name);
	g_auto(gpgme_ctx_t) ctx = tu_gpg_context(home);
	g_auto(gpgme_key_t) key = NULL;

	ck_assert_msg(gpgme_get_key(ctx, fpr, &key, 0) == 0 && key != NULL,
	    "gpgme does not find %s's key %s", name, fpr);
	ck_assert_msg(key->subkeys != NULL && key->subkeys->next != NULL &&
	    key->subkeys->next->fpr != NULL, "%s's key has no subkey", name);
	return g_ascii_strup(key->subkeys->next->fpr, -1);
}

static OpmMember *
member_named(const char *local)
{
	for (guint i = 0; i < list->members->len; i++) {
		OpmMember *m = g_ptr_array_index(list->members, i);

		if (g_str_has_prefix(m->address, local) &&
		    m->address[strlen(local)] == '@')
			return m;
	}
	ck_abort_msg("no member %s in the fixtures' members file", local);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* loading                                                            */

START_TEST(every_member_gets_the_pinned_key)
{
	ck_assert_msg(list->members->len >= 5, "got %u members, want the "
	    "fixtures' (at least alice bob carol dave erin)",
	    list->members->len);
	for (guint i = 0; i < list->members->len; i++) {
		OpmMember *m = g_ptr_array_index(list->members, i);

		ck_assert_msg(m->key != NULL, "member %s: got no key, want the "
		    "key %s", m->address, m->fpr);
		ck_assert_msg(strcmp(m->key->fpr, m->fpr) == 0, "member %s: got "
		    "key %s, want %s", m->address, m->key->fpr, m->fpr);
		ck_assert_msg(opm_keys_lookup(list, m->fpr) == m->key,
		    "opm_keys_lookup(%s) for %s: got another key, want the "
		    "member's", m->fpr, m->address);
	}
}
END_TEST

START_TEST(fixture_fingerprints_are_pinned)
{
	static const char *people[] = {"alice", "bob", "carol", "dave", "erin"};

	for (gsize i = 0; i < G_N_ELEMENTS(people); i++) {
		g_autofree char *fpr = tu_fpr(people[i]);
		OpmMember *m = member_named(people[i]);

		ck_assert_msg(strcmp(m->fpr, fpr) == 0, "%s: got pinned %s, "
		    "want %s (FIXTURES/fpr)", people[i], m->fpr, fpr);
	}
}
END_TEST

START_TEST(non_member_is_not_found)
{
	g_autofree char *fpr = tu_fpr("mallory");
	g_autofree char *sub = subkey_fpr("mallory");
	const char *ids[] = {fpr, sub, fpr + 24, sub + 24};

	for (gsize i = 0; i < G_N_ELEMENTS(ids); i++) {
		OpmKeyInfo *k = opm_keys_lookup(list, ids[i]);

		ck_assert_msg(k == NULL, "mallory's %s: got key %s, want none "
		    "(mallory's key is in the GnuPG home but not a member's)",
		    ids[i], k != NULL ? k->fpr : "");
	}
	ck_assert_msg(opm_list_find_member(list, fpr, NULL) == NULL,
	    "opm_list_find_member(mallory): got a member, want none");
}
END_TEST

typedef enum {
	BY_PRIMARY,
	BY_SUBKEY,
	BY_PRIMARY_ID,   /* last 16 hex digits */
	BY_SUBKEY_ID,
	BY_LOWER_CASE,
	BY_SHORT_ID,     /* last 8: never accepted */
} Lookup;

static const struct {
	const char *person;
	Lookup by;
	gboolean found;
} lookups[] = {
	{"alice", BY_PRIMARY, TRUE},
	{"alice", BY_SUBKEY, TRUE},
	{"alice", BY_PRIMARY_ID, TRUE},
	{"alice", BY_SUBKEY_ID, TRUE},
	{"alice", BY_LOWER_CASE, TRUE},
	{"alice", BY_SHORT_ID, FALSE},
	{"carol", BY_SUBKEY, TRUE},
	{"carol", BY_SUBKEY_ID, TRUE},
	{"erin", BY_PRIMARY, TRUE},   /* found; its state decides */
	{"list", BY_PRIMARY, FALSE},  /* the list key is no member */
	{"list", BY_PRIMARY_ID, FALSE},
	{"mallory", BY_SUBKEY, FALSE},
};

START_TEST(lookup_by_subkey_and_key_id)
{
	const char *person = lookups[_i].person;
	g_autofree char *fpr = tu_fpr(person);
	g_autofree char *sub = subkey_fpr(person);
	g_autofree char *id = NULL;
	OpmKeyInfo *k;

	switch (lookups[_i].by) {
	case BY_PRIMARY: id = g_strdup(fpr); break;
	case BY_SUBKEY: id = g_strdup(sub); break;
	case BY_PRIMARY_ID: id = g_strdup(fpr + 24); break;
	case BY_SUBKEY_ID: id = g_strdup(sub + 24); break;
	case BY_LOWER_CASE: id = g_ascii_strdown(fpr, -1); break;
	case BY_SHORT_ID: id = g_strdup(fpr + 32); break;
	}
	k = opm_keys_lookup(list, id);
	if (lookups[_i].found)
		ck_assert_msg(k != NULL && strcmp(k->fpr, fpr) == 0,
		    "opm_keys_lookup(%s) for %s: got %s, want %s's key %s", id,
		    person, k != NULL ? k->fpr : "NULL", person, fpr);
	else
		ck_assert_msg(k == NULL, "opm_keys_lookup(%s) for %s: got %s, "
		    "want NULL", id, person, k->fpr);
}
END_TEST

START_TEST(lookup_of_unknown_ids)
{
	const char *ids[] = {
		"0000000000000000000000000000000000000000",
		"0000000000000000",
		"",
		NULL,
	};

	for (gsize i = 0; i < G_N_ELEMENTS(ids); i++)
		ck_assert_msg(opm_keys_lookup(list, ids[i]) == NULL,
		    "opm_keys_lookup(\"%s\"): got a key, want NULL",
		    ids[i] != NULL ? ids[i] : "(null)");
}
END_TEST

START_TEST(key_properties)
{
	OpmKeyInfo *carol = member_named("carol")->key;
	OpmKeyInfo *alice = member_named("alice")->key;
	OpmKeyInfo *dave = member_named("dave")->key;
	OpmKeyInfo *erin = member_named("erin")->key;
	OpmSubkeyInfo *s;

	ck_assert_msg(carol != NULL && alice != NULL && dave != NULL &&
	    erin != NULL, "a member key is missing");
	s = g_ptr_array_index(carol->subkeys, 0);
	ck_assert_msg(s->algo == GPGME_PK_RSA && s->bits == 3072,
	    "carol's primary key: got %s %u bits, want RSA 3072",
	    gpgme_pubkey_algo_name(s->algo), s->bits);
	ck_assert_msg(strcmp(s->fpr, carol->fpr) == 0, "subkeys[0]: got %s, "
	    "want the primary key %s", s->fpr, carol->fpr);
	ck_assert_msg(carol->subkeys->len == 2, "carol's key: got %u subkeys, "
	    "want 2", carol->subkeys->len);
	s = g_ptr_array_index(carol->subkeys, 1);
	ck_assert_msg(s->can_encrypt && !s->can_sign && s->bits == 3072,
	    "carol's subkey: got can_encrypt %d can_sign %d %u bits, want an "
	    "RSA 3072 encryption key", s->can_encrypt, s->can_sign, s->bits);
	s = g_ptr_array_index(alice->subkeys, 0);
	ck_assert_msg(s->algo == GPGME_PK_EDDSA && s->can_sign,
	    "alice's primary key: got %s can_sign %d, want a signing EdDSA key",
	    gpgme_pubkey_algo_name(s->algo), s->can_sign);

	ck_assert_msg(!alice->expired && !alice->revoked, "alice: got expired "
	    "%d revoked %d, want neither", alice->expired, alice->revoked);
	ck_assert_msg(dave->expired, "dave: got expired FALSE, want TRUE");
	ck_assert_msg(erin->revoked, "erin: got revoked FALSE, want TRUE");

	ck_assert_msg(alice->emails->len == 1 && strcmp(g_ptr_array_index(
	    alice->emails, 0), "alice@example.org") == 0,
	    "alice's addresses: got %u, first \"%s\", want alice@example.org",
	    alice->emails->len, alice->emails->len > 0 ?
	    (char *)g_ptr_array_index(alice->emails, 0) : "");
}
END_TEST

START_TEST(list_key_has_its_secret)
{
	g_autofree char *fpr = tu_fpr("list");
	OpmKeyInfo *lk = list->list_keyinfo;

	ck_assert_msg(lk != NULL, "list key: got none, want %s", fpr);
	ck_assert_msg(strcmp(lk->fpr, fpr) == 0, "list key: got %s, want %s",
	    lk->fpr, fpr);
	ck_assert_msg(lk->has_secret, "list key: got has_secret FALSE, want "
	    "TRUE");
	for (guint i = 0; i < list->members->len; i++) {
		OpmMember *m = g_ptr_array_index(list->members, i);

		ck_assert_msg(m->key == NULL || !m->key->has_secret,
		    "member %s: got has_secret TRUE, want FALSE (the list home "
		    "holds only their public key)", m->address);
	}
}
END_TEST

static const struct {
	const char *person;
	gboolean sign, encrypt;
} usable[] = {
	{"alice", TRUE, TRUE},
	{"carol", TRUE, TRUE},
	{"dave", FALSE, FALSE},
	{"erin", FALSE, FALSE},
};

START_TEST(key_usability)
{
	OpmKeyInfo *k = member_named(usable[_i].person)->key;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	gboolean s = opm_key_can(k, TRUE, now);
	gboolean e = opm_key_can(k, FALSE, now);

	ck_assert_msg(s == usable[_i].sign && e == usable[_i].encrypt,
	    "%s: got sign %d encrypt %d, want %d %d", usable[_i].person, s, e,
	    usable[_i].sign, usable[_i].encrypt);
	ck_assert_msg(!opm_key_can(NULL, TRUE, now), "no key: got usable");
}
END_TEST

/* ------------------------------------------------------------------ */
/* the "-n" check                                                     */

static char *
problems_text(GPtrArray *problems)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < problems->len; i++) {
		OpmProblem *p = g_ptr_array_index(problems, i);

		g_string_append_printf(s, "\n  %s %s: %s",
		    p->severity == OPM_PROBLEM_ERROR ? "error" : "warning",
		    p->where, p->text);
	}
	return g_string_free(s, FALSE);
}

START_TEST(check_reports_expired_and_revoked_members)
{
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	g_autoptr(GPtrArray) problems = opm_audit_list(list, now);
	g_autofree char *all = problems_text(problems);
	struct {
		const char *person, *word;
		gboolean seen;
	} want[] = {
		{"dave", "expired", FALSE},
		{"erin", "revoked", FALSE},
	};

	for (guint i = 0; i < problems->len; i++) {
		OpmProblem *p = g_ptr_array_index(problems, i);
		gboolean expected = FALSE;

		for (gsize w = 0; w < G_N_ELEMENTS(want); w++) {
			OpmMember *m = member_named(want[w].person);
			g_autofree char *where = g_strdup_printf("%s:%u",
			    list->members_file, m->line);

			if (strcmp(p->where, where) != 0)
				continue;
			expected = TRUE;
			if (p->severity == OPM_PROBLEM_ERROR &&
			    strstr(p->text, want[w].word) != NULL &&
			    strstr(p->text, m->fpr) != NULL)
				want[w].seen = TRUE;
		}
		ck_assert_msg(expected, "got a problem for a good key or the "
		    "list: %s: %s\nall problems:%s\nwant problems for dave and "
		    "erin only", p->where, p->text, all);
	}
	for (gsize w = 0; w < G_N_ELEMENTS(want); w++)
		ck_assert_msg(want[w].seen, "%s: got no error saying the key is "
		    "%s; problems:%s", want[w].person, want[w].word, all);
}
END_TEST

/* Write a list over the copy of the list home with its own members file
 * and load it.  (transfer full) */
static OpmConfig *
load_own_list(const char *members_text)
{
	g_autofree char *members = g_build_filename(tmp, "members", NULL);
	g_autofree char *lconf = g_build_filename(tmp, "list.conf", NULL);
	g_autofree char *mconf = g_build_filename(tmp, "main.conf", NULL);
	g_autofree char *list_fpr = tu_fpr("list");
	g_autoptr(GError) error = NULL;
	OpmConfig *c;

	tu_write(members, "%s", members_text);
	tu_write(lconf, "Address %s\nGnupgHome %s\nListKey %s\n"
	    "MembersFile %s\n", LIST_ADDRESS, home, list_fpr, members);
	tu_write(mconf, "StateDirectory %s/state\nList %s\n", tmp, lconf);
	c = opm_conf_load(mconf, &error);
	ck_assert_msg(c != NULL, "loading %s: got error \"%s\"", mconf,
	    error != NULL ? error->message : "?");
	load_list(g_ptr_array_index(c->lists, 0));
	return c;
}

START_TEST(subkey_pinned_instead_of_primary)
{
	g_autofree char *sub = subkey_fpr("alice");
	g_autofree char *bob = tu_fpr("bob");
	g_autofree char *text = g_strdup_printf(
	    "alice@example.org %s Alice Example\nbob@example.org %s\n", sub, bob);
	g_autoptr(OpmConfig) c = load_own_list(text);
	OpmList *l = g_ptr_array_index(c->lists, 0);
	OpmMember *alice = g_ptr_array_index(l->members, 0);
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	g_autoptr(GPtrArray) problems = NULL;
	g_autofree char *all = NULL;
	g_autofree char *where = g_strdup_printf("%s:1", l->members_file);
	gboolean seen = FALSE;

	ck_assert_msg(alice->key == NULL, "alice pinned by subkey: got key %s, "
	    "want none (only primary fingerprints count)",
	    alice->key != NULL ? alice->key->fpr : "");
	ck_assert_msg(opm_keys_lookup(l, sub) == NULL, "lookup of alice's "
	    "subkey: got a key, want none (her key is no member's)");
	problems = opm_audit_list(l, now);
	all = problems_text(problems);
	for (guint i = 0; i < problems->len; i++) {
		OpmProblem *p = g_ptr_array_index(problems, i);

		if (p->severity == OPM_PROBLEM_ERROR &&
		    strcmp(p->where, where) == 0 &&
		    strstr(p->text, "no key with primary fingerprint") != NULL)
			seen = TRUE;
		else
			ck_assert_msg(FALSE, "got an unexpected problem %s: %s",
			    p->where, p->text);
	}
	ck_assert_msg(seen, "got problems:%s\nwant an error at %s: \"no key "
	    "with primary fingerprint\"", all, where);
}
END_TEST

START_TEST(gpg_conf_must_not_fetch_keys)
{
	g_autofree char *gpgconf = g_build_filename(home, "gpg.conf", NULL);
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	g_autoptr(GPtrArray) problems = NULL;
	g_autofree char *all = NULL;
	static const guint want_lines[] = {3, 4, 5};
	gboolean seen[G_N_ELEMENTS(want_lines)] = {FALSE};

	tu_write(gpgconf,
	    "# auto-key-retrieve is off here\n"     /* 1: a comment */
	    "no-greeting\n"                          /* 2 */
	    "auto-key-retrieve\n"                    /* 3 */
	    "keyserver-options auto-key-retrieve\n"  /* 4 */
	    "auto-key-locate wkd\n");                /* 5 */
	problems = opm_audit_list(list, now);
	all = problems_text(problems);
	for (guint i = 0; i < problems->len; i++) {
		OpmProblem *p = g_ptr_array_index(problems, i);

		if (!g_str_has_prefix(p->where, gpgconf))
			continue;
		for (gsize w = 0; w < G_N_ELEMENTS(want_lines); w++) {
			g_autofree char *where = g_strdup_printf("%s:%u", gpgconf,
			    want_lines[w]);

			if (strcmp(p->where, where) == 0 &&
			    p->severity == OPM_PROBLEM_ERROR)
				seen[w] = TRUE;
		}
		ck_assert_msg(!g_str_has_suffix(p->where, ":1") &&
		    !g_str_has_suffix(p->where, ":2"), "got a problem for a "
		    "harmless line: %s: %s", p->where, p->text);
	}
	for (gsize w = 0; w < G_N_ELEMENTS(want_lines); w++)
		ck_assert_msg(seen[w], "gpg.conf line %u: got no error; "
		    "problems:%s", want_lines[w], all);
}
END_TEST

START_TEST(missing_list_key_is_an_error)
{
	g_autofree char *empty = g_build_filename(tmp, "gnupg-empty", NULL);
	g_autofree char *list_fpr = tu_fpr("list");
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	g_autoptr(GPtrArray) problems = NULL;
	g_autofree char *all = NULL;
	gboolean list_key = FALSE;
	guint no_key = 0;

	ck_assert_msg(g_mkdir(empty, 0700) == 0, "cannot make %s", empty);
	g_free(list->gnupg_home);
	list->gnupg_home = g_strdup(empty);
	load_list(list);
	ck_assert_msg(list->list_keyinfo == NULL, "an empty home: got a list "
	    "key, want none");
	problems = opm_audit_list(list, now);
	all = problems_text(problems);
	for (guint i = 0; i < problems->len; i++) {
		OpmProblem *p = g_ptr_array_index(problems, i);

		if (p->severity != OPM_PROBLEM_ERROR)
			continue;
		if (strcmp(p->where, list->file) == 0 &&
		    strstr(p->text, list_fpr) != NULL)
			list_key = TRUE;
		if (g_str_has_prefix(p->where, list->members_file) &&
		    strstr(p->text, "no key") != NULL)
			no_key++;
	}
	ck_assert_msg(list_key, "got problems:%s\nwant an error naming the "
	    "list key %s", all, list_fpr);
	ck_assert_msg(no_key == list->members->len, "got %u missing-key errors, "
	    "want one per member (%u); problems:%s", no_key,
	    list->members->len, all);
}
END_TEST

/* ------------------------------------------------------------------ */
/* a copy for one member                                              */

START_TEST(copy_is_readable_by_its_member_only)
{
	g_autofree char *alice_fpr = tu_fpr("alice");
	g_autofree char *alice_sub = subkey_fpr("alice");
	g_autofree char *list_fpr = tu_fpr("list");
	const char *rcpt[] = {alice_fpr, NULL};
	g_autoptr(GBytes) plain = tu_bytes("Content-Type: text/plain\r\n\r\n"
	    "for alice only\r\n");
	g_autoptr(GBytes) cipher = NULL;
	g_autoptr(GError) error = NULL;
	g_auto(gpgme_ctx_t) ctx = NULL;
	static const char *readers[] = {"alice", "bob"};

	ck_assert_msg(list->list_gpgkey != NULL, "the list's secret key was "
	    "not loaded");
	ctx = opm_gpg_context(list->gnupg_home, &error);
	ck_assert_msg(ctx != NULL, "opm_gpg_context: %s",
	    error != NULL ? error->message : "?");
	cipher = opm_sign_encrypt(ctx, list->list_gpgkey, rcpt, plain, &error);
	ck_assert_msg(cipher != NULL, "opm_sign_encrypt to alice: got error "
	    "\"%s\", want ciphertext", error != NULL ? error->message : "?");

	for (gsize r = 0; r < G_N_ELEMENTS(readers); r++) {
		g_autofree char *src = NULL;
		g_autofree char *rel = g_strdup_printf("gnupg-%s", readers[r]);
		g_autofree char *dir = g_build_filename(tmp, rel, NULL);
		g_auto(gpgme_ctx_t) rc = NULL;
		g_auto(gpgme_data_t) in = NULL;
		g_auto(gpgme_data_t) out = NULL;
		gpgme_decrypt_result_t dr;
		gpgme_verify_result_t vr;
		gpgme_error_t err;
		guint nrcpt = 0;

		src = tu_fixture(rel);
		tu_copy_home(src, dir);
		rc = tu_gpg_context(dir);
		ck_assert_msg(gpgme_data_new_from_mem(&in,
		    g_bytes_get_data(cipher, NULL), g_bytes_get_size(cipher),
		    0) == 0 && gpgme_data_new(&out) == 0, "gpgme data");
		err = gpgme_op_decrypt_verify(rc, in, out);
		if (strcmp(readers[r], "bob") == 0) {
			ck_assert_msg(err != 0, "bob decrypts alice's copy: got "
			    "success, want failure");
			continue;
		}
		ck_assert_msg(err == 0, "alice decrypts her copy: got \"%s\"",
		    gpgme_strerror(err));
		dr = gpgme_op_decrypt_result(rc);
		for (gpgme_recipient_t p = dr->recipients; p != NULL; p = p->next) {
			nrcpt++;
			ck_assert_msg(g_str_has_suffix(alice_sub, p->keyid),
			    "recipient key ID %s: want alice's subkey %s only",
			    p->keyid, alice_sub);
		}
		ck_assert_msg(nrcpt == 1, "got %u recipients, want 1 (alice)",
		    nrcpt);
		vr = gpgme_op_verify_result(rc);
		ck_assert_msg(vr != NULL && vr->signatures != NULL &&
		    vr->signatures->next == NULL &&
		    g_ascii_strcasecmp(vr->signatures->fpr, list_fpr) == 0,
		    "the copy's signature: got %s, want one by the list key %s",
		    vr != NULL && vr->signatures != NULL ?
		    vr->signatures->fpr : "none", list_fpr);
	}
}
END_TEST

static Suite *
keys_suite(void)
{
	Suite *s = suite_create("keys");
	TCase *tc;

	tc = tcase_create("loading");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, TU_GPG_TIMEOUT);
	tcase_add_test(tc, every_member_gets_the_pinned_key);
	tcase_add_test(tc, fixture_fingerprints_are_pinned);
	tcase_add_test(tc, non_member_is_not_found);
	tcase_add_loop_test(tc, lookup_by_subkey_and_key_id, 0,
	    G_N_ELEMENTS(lookups));
	tcase_add_test(tc, lookup_of_unknown_ids);
	tcase_add_test(tc, key_properties);
	tcase_add_test(tc, list_key_has_its_secret);
	tcase_add_loop_test(tc, key_usability, 0, G_N_ELEMENTS(usable));
	suite_add_tcase(s, tc);

	tc = tcase_create("check");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, TU_GPG_TIMEOUT);
	tcase_add_test(tc, check_reports_expired_and_revoked_members);
	tcase_add_test(tc, subkey_pinned_instead_of_primary);
	tcase_add_test(tc, gpg_conf_must_not_fetch_keys);
	tcase_add_test(tc, missing_list_key_is_an_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("encryption");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, TU_GPG_TIMEOUT);
	tcase_add_test(tc, copy_is_readable_by_its_member_only);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	setlocale(LC_ALL, "");
	gpgme_check_version(NULL);
	return tu_run(keys_suite());
}
