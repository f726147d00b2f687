/*
 * NAME
 *	test_member - unit tests of lib/member.c, the membership changes
 * DESCRIPTION
 *	Each test works on a private copy of the fixture list (its GnuPG
 *	home and members file) and real keys: mallory's key (not a member),
 *	the fixtures' expired and revoked keys, and a new key for alice made
 *	here.  What is checked is what the daemon would read afterwards: the
 *	members file, the list's keyring as gpg lists it, and "-n"'s verdict
 *	on the result; and that a refused batch leaves both as they were.
 *	Expected fingerprints come from FIXTURES/fpr and from gpg, never
 *	from the code under test.
 */
#include "config.h"

#include <locale.h>
#include <string.h>

#include "tutil.h"

#include "audit.h"
#include "conf.h"
#include "inject.h"
#include "keys.h"
#include "member.h"

#define LIST_ADDRESS "secir@lists.example.org"

static char *tmp;
static char *home;    /* tmp/gnupg-list */
static char *members; /* tmp/members */
static char *conf_path;
static OpmConfig *conf;
static OpmList *list;

static void
load(void)
{
	g_autoptr(GError) error = NULL;

	g_clear_pointer(&conf, opm_conf_unref);
	conf = opm_conf_load(conf_path, &error);
	ck_assert_msg(conf != NULL, "loading %s: got error \"%s\"", conf_path,
	    error != NULL ? error->message : "?");
	list = opm_conf_find_list(conf, LIST_ADDRESS);
	ck_assert_msg(list != NULL, "no list %s", LIST_ADDRESS);
	ck_assert_msg(opm_keys_load(list, &error), "opm_keys_load: %s",
	    error != NULL ? error->message : "?");
}

static void
setup(void)
{
	g_autofree char *src = tu_fixture("gnupg-list");
	g_autofree char *msrc = tu_fixture("members");
	g_autofree char *text = tu_read(msrc);
	g_autofree char *lconf = NULL;
	g_autofree char *fpr = NULL;

	tmp = tu_tmpdir("opm-member");
	home = g_build_filename(tmp, "gnupg-list", NULL);
	tu_copy_home(src, home);
	members = g_build_filename(tmp, "members", NULL);
	tu_write(members, "%s", text);
	lconf = g_build_filename(tmp, "secir.conf", NULL);
	fpr = tu_fpr("list");
	tu_write(lconf, "Address %s\nGnupgHome %s\nListKey %s\n"
	    "MembersFile %s\nAdmin alice@example.org\nAdmin bob@example.org\n",
	    LIST_ADDRESS, home, fpr, members);
	conf_path = g_build_filename(tmp, "openpgp-milter.conf", NULL);
	tu_write(conf_path, "StateDirectory %s/state\nList %s\n", tmp, lconf);
	load();
}

static void
teardown(void)
{
	g_clear_pointer(&conf, opm_conf_unref);
	list = NULL;
	tu_gpg_kill_all(tmp);
	tu_rmtree(tmp);
	g_clear_pointer(&tmp, g_free);
	g_clear_pointer(&home, g_free);
	g_clear_pointer(&members, g_free);
	g_clear_pointer(&conf_path, g_free);
}

/* The armored public keys fprs (NULL-terminated) from the GnuPG home
 * dir.  (transfer full) */
static GBytes *
export_keys(const char *dir, const char **fprs)
{
	g_auto(gpgme_ctx_t) ctx = tu_gpg_context(dir);
	gpgme_data_t d = NULL;
	size_t n = 0;
	char *p;
	GBytes *b;

	gpgme_set_armor(ctx, 1);
	ck_assert(gpgme_data_new(&d) == 0);
	ck_assert_msg(gpgme_op_export_ext(ctx, fprs, 0, d) == 0,
	    "cannot export %s from %s", fprs[0], dir);
	p = gpgme_data_release_and_get_mem(d, &n);
	ck_assert_msg(n > 0, "%s: nothing exported for %s", dir, fprs[0]);
	b = g_bytes_new(p, n);
	gpgme_free(p);
	return b;
}

static GBytes *
fixture_key(const char *name)
{
	g_autofree char *fpr = tu_fpr(name);
	g_autofree char *dir = tu_fixture("gnupg-list");
	const char *fprs[] = {fpr, NULL};

	return export_keys(dir, fprs);
}

/* Is the key with primary fingerprint fpr in the copy of the list's home? */
static gboolean
in_keyring(const char *fpr)
{
	g_auto(gpgme_ctx_t) ctx = tu_gpg_context(home);
	gpgme_key_t key = NULL;
	gboolean found = gpgme_get_key(ctx, fpr, &key, 0) == 0 && key != NULL;

	if (key != NULL)
		gpgme_key_unref(key);
	return found;
}

static void
run_gpg(const char *dir, const char *const *args)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	g_autofree char *err = NULL;
	int status = 0;

	g_ptr_array_add(argv, (gpointer) "gpg");
	g_ptr_array_add(argv, (gpointer) "--homedir");
	g_ptr_array_add(argv, (gpointer)dir);
	g_ptr_array_add(argv, (gpointer) "--batch");
	g_ptr_array_add(argv, (gpointer) "--pinentry-mode");
	g_ptr_array_add(argv, (gpointer) "loopback");
	g_ptr_array_add(argv, (gpointer) "--passphrase");
	g_ptr_array_add(argv, (gpointer) "");
	for (const char *const *a = args; *a != NULL; a++)
		g_ptr_array_add(argv, (gpointer)*a);
	g_ptr_array_add(argv, NULL);
	ck_assert_msg(g_spawn_sync(NULL, (char **)argv->pdata, NULL,
	    G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
	    &err, &status, &error) && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "gpg %s: %s", args[0],
	    error != NULL ? error->message : err);
}

/* A new ed25519/cv25519 key for uid made in tmp/NAME; *fpr gets its
 * fingerprint.  (transfer full): the armored public key */
static GBytes *
new_key(const char *name, const char *uid, char **fpr)
{
	g_autofree char *dir = g_build_filename(tmp, name, NULL);
	g_auto(gpgme_ctx_t) ctx = NULL;
	gpgme_key_t key = NULL;
	const char *fprs[] = {NULL, NULL};

	ck_assert(g_mkdir_with_parents(dir, 0700) == 0);
	run_gpg(dir, (const char *[]){"--quick-gen-key", uid, "ed25519", "sign",
	    "1y", NULL});
	ctx = tu_gpg_context(dir);
	ck_assert(gpgme_op_keylist_start(ctx, NULL, 0) == 0);
	ck_assert(gpgme_op_keylist_next(ctx, &key) == 0);
	*fpr = g_ascii_strup(key->fpr, -1);
	gpgme_key_unref(key);
	(void)gpgme_op_keylist_end(ctx);
	run_gpg(dir, (const char *[]){"--quick-add-key", *fpr, "cv25519",
	    "encr", "1y", NULL});
	fprs[0] = *fpr;
	return export_keys(dir, fprs);
}

static gboolean
apply1(OpmChange *c, guint *failed, GError **error)
{
	g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)opm_change_free);

	g_ptr_array_add(changes, c);
	return opm_member_apply(conf, list, changes, FALSE,
	    g_get_real_time() / G_USEC_PER_SEC, failed, error);
}

/* The -n errors of the list as loaded now. */
static guint
audit_errors(GString *out)
{
	g_autoptr(GPtrArray) problems = opm_audit_list(list,
	    g_get_real_time() / G_USEC_PER_SEC);
	guint n = 0;

	for (guint i = 0; i < problems->len; i++) {
		OpmProblem *p = g_ptr_array_index(problems, i);

		if (p->severity == OPM_PROBLEM_ERROR) {
			n++;
			g_string_append_printf(out, "%s: %s\n", p->where, p->text);
		}
	}
	return n;
}

START_TEST(add_member_imports_and_pins_the_key)
{
	g_autoptr(GBytes) key = fixture_key("mallory");
	g_autofree char *fpr = tu_fpr("mallory");
	g_autoptr(GError) error = NULL;
	g_autofree char *before = tu_read(members);
	g_autofree char *after = NULL;
	g_autofree char *want = NULL;
	g_autoptr(GString) errs = g_string_new(NULL);
	OpmMember *m;
	guint errors_before;

	errors_before = audit_errors(errs);
	/* the list home of the fixtures knows mallory: start without her */
	{
		g_auto(gpgme_ctx_t) ctx = tu_gpg_context(home);
		gpgme_key_t k = NULL;

		ck_assert(gpgme_get_key(ctx, fpr, &k, 0) == 0);
		ck_assert(gpgme_op_delete_ext(ctx, k, GPGME_DELETE_FORCE) == 0);
		gpgme_key_unref(k);
	}
	ck_assert_msg(!in_keyring(fpr), "mallory's key is still there");
	ck_assert_msg(apply1(opm_change_new(OPM_CHANGE_ADD,
	    "mallory@EXAMPLE.com", NULL, "Mallory Now Member", key), NULL,
	    &error), "add-member: got error \"%s\", want success",
	    error != NULL ? error->message : "?");
	after = tu_read(members);
	want = g_strdup_printf("%smallory@example.com %s Mallory Now Member\n",
	    before, fpr);
	ck_assert_msg(strcmp(after, want) == 0, "members file: got\n%s\nwant\n%s",
	    after, want);
	ck_assert_msg(in_keyring(fpr), "mallory's key was not imported");
	{
		GDir *d = g_dir_open(home, 0, NULL);
		const char *n;

		while ((n = g_dir_read_name(d)) != NULL)
			ck_assert_msg(!g_str_has_prefix(n, ".import-"),
			    "the scratch home %s was left in the list's home", n);
		g_dir_close(d);
	}
	ck_assert_msg(opm_conf_members_changed(conf), "the members file's "
	    "stamp did not change: the daemon would not notice");
	load();
	m = opm_list_find_member(list, NULL, "mallory@example.com");
	ck_assert_msg(m != NULL && m->key != NULL && strcmp(m->fpr, fpr) == 0,
	    "after reload: mallory is not a member with key %s", fpr);
	g_string_truncate(errs, 0);
	ck_assert_msg(audit_errors(errs) == errors_before, "-n after the "
	    "change: got new errors\n%s", errs->str);
}
END_TEST

START_TEST(only_the_chosen_key_is_imported)
{
	g_autofree char *newfpr = NULL;
	g_autoptr(GBytes) alice2 = new_key("gen", "Alice New <alice@example.org>",
	    &newfpr);
	g_autoptr(GBytes) mallory = fixture_key("mallory");
	g_autoptr(GByteArray) both = g_byte_array_new();
	g_autoptr(GBytes) block = NULL;
	g_autoptr(GError) error = NULL;
	gsize n;
	const guint8 *p;

	p = g_bytes_get_data(alice2, &n);
	g_byte_array_append(both, p, (guint)n);
	p = g_bytes_get_data(mallory, &n);
	g_byte_array_append(both, p, (guint)n);
	block = g_byte_array_free_to_bytes(g_steal_pointer(&both));
	/* the two armored blocks as one file: only the first counts */
	ck_assert_msg(apply1(opm_change_new(OPM_CHANGE_ADD,
	    "alice.new@example.org", NULL, NULL, block), NULL, &error) == FALSE,
	    "a key without a user ID for the address was accepted");
	ck_assert_msg(g_error_matches(error, OPM_ERROR, OPM_ERROR_CONFIG) &&
	    strstr(error->message, "user ID for alice.new@example.org") != NULL,
	    "got \"%s\", want a refusal naming the missing user ID",
	    error->message);
	ck_assert_msg(!in_keyring(newfpr), "a refused key was imported");
	g_clear_error(&error);
	/* set-key for alice with the new key: the old one is replaced */
	ck_assert_msg(apply1(opm_change_new(OPM_CHANGE_SET_KEY,
	    "alice@example.org", newfpr, NULL, block), NULL, &error),
	    "set-key: got error \"%s\"", error != NULL ? error->message : "?");
	ck_assert_msg(in_keyring(newfpr), "alice's new key was not imported");
	load();
	{
		OpmMember *m = opm_list_find_member(list, NULL,
		    "alice@example.org");

		ck_assert_msg(m != NULL && strcmp(m->fpr, newfpr) == 0 &&
		    g_strcmp0(m->name, "Alice Example") == 0, "alice: got %s "
		    "\"%s\", want %s \"Alice Example\"", m != NULL ? m->fpr : "-",
		    m != NULL ? m->name : "-", newfpr);
	}
}
END_TEST

START_TEST(unknown_fingerprint_is_refused)
{
	g_autoptr(GBytes) key = fixture_key("mallory");
	g_autoptr(GError) error = NULL;
	g_autofree char *before = tu_read(members);
	g_autofree char *after = NULL;

	ck_assert(!apply1(opm_change_new(OPM_CHANGE_ADD, "mallory@example.com",
	    "0123456789ABCDEF0123456789ABCDEF01234567", NULL, key), NULL,
	    &error));
	ck_assert_msg(strstr(error->message, "no key with the primary "
	    "fingerprint 0123456789ABCDEF") != NULL, "got \"%s\"",
	    error->message);
	after = tu_read(members);
	ck_assert_str_eq(after, before);
}
END_TEST

/* A batch is all or nothing: the removal before the refused add stays
 * undone. */
START_TEST(batch_is_all_or_nothing)
{
	g_autoptr(GBytes) dave = fixture_key("dave");
	g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)opm_change_free);
	g_autoptr(GError) error = NULL;
	g_autofree char *before = tu_read(members);
	g_autofree char *after = NULL;
	guint failed = 99;

	g_ptr_array_add(changes, opm_change_new(OPM_CHANGE_REMOVE,
	    "bob@example.org", NULL, NULL, NULL));
	g_ptr_array_add(changes, opm_change_new(OPM_CHANGE_REMOVE,
	    "dave@example.org", NULL, NULL, NULL));
	g_ptr_array_add(changes, opm_change_new(OPM_CHANGE_ADD,
	    "dave@example.org", NULL, "Dave Again", dave));
	ck_assert(!opm_member_apply(conf, list, changes, FALSE,
	    g_get_real_time() / G_USEC_PER_SEC, &failed, &error));
	ck_assert_msg(failed == 2, "failed: got %u, want 2", failed);
	ck_assert_msg(strstr(error->message, "expired") != NULL,
	    "got \"%s\", want the expired key named", error->message);
	after = tu_read(members);
	ck_assert_msg(strcmp(after, before) == 0, "the members file changed");
	ck_assert_msg(!opm_conf_members_changed(conf), "the members file was "
	    "rewritten");
}
END_TEST

START_TEST(revoked_key_is_refused)
{
	g_autoptr(GBytes) erin = fixture_key("erin");
	g_autoptr(GError) error = NULL;
	g_autofree char *fpr = tu_fpr("erin");
	g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)opm_change_free);

	/* the list's home holds erin's revocation; the exported block too */
	g_ptr_array_add(changes, opm_change_new(OPM_CHANGE_SET_KEY,
	    "erin@example.org", fpr, NULL, erin));
	ck_assert(!opm_member_apply(conf, list, changes, FALSE,
	    g_get_real_time() / G_USEC_PER_SEC, NULL, &error));
	ck_assert_msg(strstr(error->message, "revoked") != NULL, "got \"%s\"",
	    error->message);
}
END_TEST

static const struct {
	const char *name;
	const char *block;
	gsize len;          /* 0: strlen(block) */
	const char *want;
} bad_blocks[] = {
	{"empty", "", 0, "empty"},
	{"text", "hello, here is my key\n", 0, "malformed"},
	{"armored secret key", "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n"
	    "xVgEZ\n-----END PGP PRIVATE KEY BLOCK-----\n", 0, "secret key"},
	{"secret key packet", "\x94\x01\x04", 3, "secret key"},
	{"cut short", "\x99\x01\x0d\x04", 4, "malformed"},
	{"bad armor", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n"
	    "!!!not base64!!!\n=AAAA\n-----END PGP PUBLIC KEY BLOCK-----\n", 0,
	    "not a valid armored"},
	{"signature only", "\x88\x01\x04", 3, "does not start with a public key"},
	{"public key then literal data", "\x98\x00\xac\x00", 4,
	    "no public key block has"},
	{"public key packet of junk", "\x98\x03\x04\x00\x00", 5,
	    "no key gpg can read"},
};

START_TEST(malformed_key_blocks_are_refused)
{
	const char *b = bad_blocks[_i].block;
	g_autoptr(GBytes) key = g_bytes_new(b, bad_blocks[_i].len > 0 ?
	    bad_blocks[_i].len : strlen(b));
	g_autoptr(GError) error = NULL;
	g_autofree char *before = tu_read(members);
	g_autofree char *after = NULL;

	ck_assert_msg(!apply1(opm_change_new(OPM_CHANGE_ADD,
	    "mallory@example.com", NULL, NULL, key), NULL, &error),
	    "%s: accepted", bad_blocks[_i].name);
	ck_assert_msg(g_error_matches(error, OPM_ERROR, OPM_ERROR_CONFIG) &&
	    strstr(error->message, bad_blocks[_i].want) != NULL,
	    "%s: got \"%s\", want a refusal with \"%s\"", bad_blocks[_i].name,
	    error->message, bad_blocks[_i].want);
	after = tu_read(members);
	ck_assert_str_eq(after, before);
}
END_TEST

static const struct {
	const char *name;
	OpmChangeOp op;
	const char *address;
	const char *person; /* key to attach */
	const char *who;    /* member name */
	const char *want;
} bad_changes[] = {
	{"already a member", OPM_CHANGE_ADD, "alice@example.org", "alice", NULL,
	    "already a member"},
	{"not a member", OPM_CHANGE_REMOVE, "nobody@example.org", NULL, NULL,
	    "not a member"},
	{"set-key of a non-member", OPM_CHANGE_SET_KEY, "nobody@example.org",
	    "mallory", NULL, "not a member"},
	{"the list itself", OPM_CHANGE_ADD, LIST_ADDRESS, "mallory", NULL,
	    "list address on this host"},
	{"the list's request address", OPM_CHANGE_ADD,
	    "secir-request@lists.example.org", "mallory", NULL,
	    "bounce or request address"},
	{"the list's bounce address", OPM_CHANGE_ADD,
	    "SECIR-bounces@lists.example.org", "mallory", NULL,
	    "bounce or request address"},
	{"no address", OPM_CHANGE_ADD, "mallory", "mallory", NULL,
	    "not a mail address"},
	{"comment in the address", OPM_CHANGE_ADD, "m#x@example.com",
	    "mallory", NULL, "not a mail address"},
	{"name on two lines", OPM_CHANGE_ADD, "mallory@example.com", "mallory",
	    "Mallory\nbob@example.org 0123", "one line"},
	{"no key", OPM_CHANGE_ADD, "mallory@example.com", NULL, NULL,
	    "no key was given"},
};

START_TEST(impossible_changes_are_refused)
{
	g_autoptr(GBytes) key = bad_changes[_i].person != NULL ?
	    fixture_key(bad_changes[_i].person) : NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *before = tu_read(members);
	g_autofree char *after = NULL;

	ck_assert_msg(!apply1(opm_change_new(bad_changes[_i].op,
	    bad_changes[_i].address, NULL, bad_changes[_i].who, key), NULL,
	    &error), "%s: accepted", bad_changes[_i].name);
	ck_assert_msg(strstr(error->message, bad_changes[_i].want) != NULL,
	    "%s: got \"%s\", want \"%s\"", bad_changes[_i].name,
	    error->message, bad_changes[_i].want);
	after = tu_read(members);
	ck_assert_str_eq(after, before);
}
END_TEST

START_TEST(remove_keeps_the_rest_of_the_file)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *before = tu_read(members);
	g_autofree char *after = NULL;
	g_autofree char *bob_fpr = tu_fpr("bob");
	g_autofree char *bob = g_strdup_printf("bob@example.org %s Bob Example\n",
	    bob_fpr);
	g_autofree char *want = tu_replace(before, bob, "");

	ck_assert(strstr(before, bob) != NULL);
	ck_assert_msg(apply1(opm_change_new(OPM_CHANGE_REMOVE, "bob@example.org",
	    NULL, NULL, NULL), NULL, &error), "remove: %s",
	    error != NULL ? error->message : "?");
	after = tu_read(members);
	/* comments and every other line stay as they were */
	ck_assert_msg(strcmp(after, want) == 0, "got\n%s\nwant\n%s", after,
	    want);
}
END_TEST

START_TEST(dry_run_changes_nothing)
{
	g_autoptr(GBytes) key = fixture_key("mallory");
	g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)opm_change_free);
	g_autoptr(GError) error = NULL;
	g_autofree char *before = tu_read(members);
	g_autofree char *after = NULL;
	g_autofree char *mallory = tu_fpr("mallory");
	OpmChange *c;

	c = opm_change_new(OPM_CHANGE_ADD, "mallory@example.com", NULL, NULL,
	    key);
	g_ptr_array_add(changes, c);
	ck_assert_msg(opm_member_apply(conf, list, changes, TRUE,
	    g_get_real_time() / G_USEC_PER_SEC, NULL, &error), "dry run: %s",
	    error != NULL ? error->message : "?");
	ck_assert_str_eq(c->new_fpr, mallory);
	after = tu_read(members);
	ck_assert_str_eq(after, before);
	ck_assert(!opm_conf_members_changed(conf));
}
END_TEST

typedef struct {
	OpmChange *c;
	gboolean ok;
	char *msg;
} Job;

static gpointer
run_job(gpointer data)
{
	Job *j = data;
	g_autoptr(GPtrArray) changes = g_ptr_array_new();
	g_autoptr(GError) error = NULL;

	g_ptr_array_add(changes, j->c);
	j->ok = opm_member_apply(conf, list, changes, FALSE,
	    g_get_real_time() / G_USEC_PER_SEC, NULL, &error);
	j->msg = error != NULL ? g_strdup(error->message) : NULL;
	return NULL;
}

/* Two changes at once: both land, one after the other. */
START_TEST(concurrent_changes_both_land)
{
	g_autoptr(GBytes) key = fixture_key("mallory");
	Job a = {opm_change_new(OPM_CHANGE_ADD, "mallory@example.com", NULL,
	    NULL, key), FALSE, NULL};
	Job b = {opm_change_new(OPM_CHANGE_REMOVE, "bob@example.org", NULL,
	    NULL, NULL), FALSE, NULL};
	GThread *ta = g_thread_new("a", run_job, &a);
	GThread *tb = g_thread_new("b", run_job, &b);

	g_thread_join(ta);
	g_thread_join(tb);
	ck_assert_msg(a.ok && b.ok, "got %s / %s, want both to succeed",
	    a.msg != NULL ? a.msg : "ok", b.msg != NULL ? b.msg : "ok");
	load();
	ck_assert_msg(opm_list_find_member(list, NULL, "mallory@example.com") !=
	    NULL, "the add was lost");
	ck_assert_msg(opm_list_find_member(list, NULL, "bob@example.org") ==
	    NULL, "the removal was lost");
	opm_change_free(a.c);
	opm_change_free(b.c);
	g_free(a.msg);
	g_free(b.msg);
}
END_TEST

/* Decrypt the armored message in file with a private copy of the
 * fixture person's home.  (transfer full): the plaintext, or NULL when
 * it does not decrypt. */
static char *
decrypt_as(const char *person, const char *file)
{
	g_autofree char *rel = g_strdup_printf("gnupg-%s", person);
	g_autofree char *src = tu_fixture(rel);
	g_autofree char *own = g_build_filename(tmp, rel, NULL);
	char *text = NULL;
	const char *arm;
	g_auto(gpgme_ctx_t) ctx = NULL;
	gpgme_data_t plain = NULL;
	gpgme_data_t cipher = NULL;
	gpgme_error_t err;
	char *out = NULL;
	size_t n = 0;
	char *p;

	ck_assert_msg(g_file_get_contents(file, &text, NULL, NULL),
	    "cannot read %s", file);
	arm = strstr(text, "-----BEGIN PGP MESSAGE");
	ck_assert_msg(arm != NULL, "%s holds no OpenPGP message", file);
	if (!g_file_test(own, G_FILE_TEST_IS_DIR))
		tu_copy_home(src, own);
	ctx = tu_gpg_context(own);
	ck_assert(gpgme_data_new_from_mem(&cipher, arm, strlen(arm), 1) == 0);
	ck_assert(gpgme_data_new(&plain) == 0);
	err = gpgme_op_decrypt(ctx, cipher, plain);
	gpgme_data_release(cipher);
	p = gpgme_data_release_and_get_mem(plain, &n);
	if (err == 0)
		out = g_strndup(p, n);
	gpgme_free(p);
	g_free(text);
	return out;
}

/* The admins' notice is encrypted to each admin alone. */
START_TEST(admins_get_an_encrypted_notice)
{
	g_autoptr(GBytes) key = fixture_key("mallory");
	g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)opm_change_free);
	g_autoptr(GError) error = NULL;
	g_autofree char *out = g_build_filename(tmp, "out", NULL);
	g_autofree char *method = g_strconcat("dir:", out, NULL);
	g_autofree char *to_alice = g_build_filename(out, "alice@example.org",
	    NULL);
	g_autofree char *stolen = NULL;
	g_autoptr(OpmInjector) inj = NULL;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	const char *admins[] = {"alice", "bob"};

	g_ptr_array_add(changes, opm_change_new(OPM_CHANGE_ADD,
	    "mallory@example.com", NULL, NULL, key));
	ck_assert(opm_member_apply(conf, list, changes, FALSE, now, NULL,
	    &error));
	ck_assert(g_mkdir_with_parents(out, 0700) == 0);
	inj = opm_injector_new(method, &error);
	ck_assert(inj != NULL);
	load();
	ck_assert_int_eq(opm_member_announce(list, changes, "the test", inj, now,
	    &error), 2);
	for (guint i = 0; i < G_N_ELEMENTS(admins); i++) {
		g_autofree char *file = g_strdup_printf("%s/%s@example.org", out,
		    admins[i]);
		g_autofree char *text = tu_read(file);
		g_autofree char *plain = NULL;

		ck_assert_msg(strstr(text, "multipart/encrypted") != NULL &&
		    strstr(text, "mallory@example.com") == NULL,
		    "%s: not an encrypted notice, or names the change outside",
		    file);
		plain = decrypt_as(admins[i], file);
		ck_assert_msg(plain != NULL, "%s cannot decrypt the notice",
		    admins[i]);
		ck_assert_msg(strstr(plain, "added mallory@example.com") != NULL,
		    "the notice does not name the change:\n%s", plain);
	}
	stolen = decrypt_as("mallory", to_alice);
	ck_assert_msg(stolen == NULL, "mallory decrypted alice's notice");
}
END_TEST

static Suite *
member_suite(void)
{
	Suite *s = suite_create("member");
	TCase *tc = tcase_create("changes");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, TU_GPG_TIMEOUT);
	tcase_add_test(tc, add_member_imports_and_pins_the_key);
	tcase_add_test(tc, only_the_chosen_key_is_imported);
	tcase_add_test(tc, unknown_fingerprint_is_refused);
	tcase_add_test(tc, batch_is_all_or_nothing);
	tcase_add_test(tc, revoked_key_is_refused);
	tcase_add_loop_test(tc, malformed_key_blocks_are_refused, 0,
	    G_N_ELEMENTS(bad_blocks));
	tcase_add_loop_test(tc, impossible_changes_are_refused, 0,
	    G_N_ELEMENTS(bad_changes));
	tcase_add_test(tc, remove_keeps_the_rest_of_the_file);
	tcase_add_test(tc, dry_run_changes_nothing);
	tcase_add_test(tc, concurrent_changes_both_land);
	tcase_add_test(tc, admins_get_an_encrypted_notice);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	setlocale(LC_ALL, "");
	gpgme_check_version(NULL);
	g_mime_init();
	return tu_run(member_suite());
}
