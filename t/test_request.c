/*
 * NAME
 *	test_request - command mails through the daemon's own callbacks
 * DESCRIPTION
 *	Mails to secir-request@lists.example.org fed through the callbacks
 *	the daemon registers (the -t seam), with the state written and the
 *	replies and copies kept in a directory, as the running daemon would
 *	send them.  alice is the list's admin, bob and carol members,
 *	mallory a stranger.  Checked: what the SMTP session answers, what
 *	the members file holds afterwards, which replies, welcomes and
 *	notices go out and that each decrypts with its reader's key alone,
 *	and that the next post reaches the new membership.  Refused during
 *	SMTP and changing nothing: an unsigned command, a stranger's, an
 *	admin command from a member, a replay, a stale one.
 */
#include "config.h"

#include <locale.h>
#include <string.h>
#include <sys/wait.h>

#include "tutil.h"

#include "admission.h"
#include "member.h"
#include "opmf.h"

#define LIST "secir@lists.example.org"
#define REQUEST "secir-request@lists.example.org"

static char *tmp;
static char *conf_path;
static char *list_path;
static char *home;
static char *members;
static char *out;

static void
setup(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *src = tu_fixture("gnupg-list");
	g_autofree char *lc = tu_fixture("lists/secir.conf");
	g_autofree char *ms = tu_fixture("members");
	g_autofree char *mtext = tu_read(ms);
	g_autofree char *ltext = tu_read(lc);
	g_autofree char *method = NULL;
	char *list, *conf;
	g_auto(GStrv) lines = g_strsplit(mtext, "\n", -1);
	GString *m = g_string_new(NULL);
	OpmConfig *c;

	tmp = tu_tmpdir("request");
	home = g_build_filename(tmp, "gnupg-list", NULL);
	members = g_build_filename(tmp, "members", NULL);
	out = g_build_filename(tmp, "out", NULL);
	list = list_path = g_build_filename(tmp, "list.conf", NULL);
	conf = conf_path = g_build_filename(tmp, "openpgp-milter.conf", NULL);
	tu_copy_home(src, home);
	for (char **l = lines; *l != NULL; l++)
		if (g_str_has_prefix(*l, "alice@") || g_str_has_prefix(*l, "bob@") ||
		    g_str_has_prefix(*l, "carol@"))
			g_string_append_printf(m, "%s\n", *l);
	tu_write(members, "%s", m->str);
	g_string_free(m, TRUE);
	{
		g_autofree char *a = tu_replace(ltext, "GnupgHome ", "#GnupgHome ");
		g_autofree char *b = tu_replace(a, "MembersFile ", "#MembersFile ");
		g_autofree char *d = tu_replace(b, "Admin ", "#Admin ");

		tu_write(list, "%sGnupgHome %s\nMembersFile %s\n"
		    "Admin alice@example.org\n", d, home, members);
	}
	tu_write(conf, "StateDirectory %s/state\nList %s\n", tmp, list);
	ck_assert(g_mkdir_with_parents(out, 0700) == 0);
	c = opmf_conf_load(conf, &error);
	ck_assert_msg(c != NULL, "load: %s", error != NULL ? error->message : "");
	opmf_conf_set(c);
	method = g_strconcat("dir:", out, NULL);
	opmf_test_init(method, TRUE);
}

static void
teardown(void)
{
	opmf_conf_set(NULL);
	tu_gpg_kill_all(tmp);
	tu_rmtree(tmp);
	g_clear_pointer(&tmp, g_free);
	g_clear_pointer(&home, g_free);
	g_clear_pointer(&members, g_free);
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&conf_path, g_free);
	g_clear_pointer(&list_path, g_free);
}

/* Add a line to the list definition and load the configuration again. */
static void
list_line(const char *line)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *text = tu_read(list_path);
	OpmConfig *c;

	tu_write(list_path, "%s%s\n", text, line);
	c = opmf_conf_load(conf_path, &error);
	ck_assert_msg(c != NULL, "load: %s", error != NULL ? error->message : "");
	opmf_conf_set(c);
}

/* Empty the output directory. */
static void
clear_out(void)
{
	tu_rmtree(out);
	ck_assert(g_mkdir_with_parents(out, 0700) == 0);
}

static gboolean
dir_empty(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	gboolean empty = d == NULL || g_dir_read_name(d) == NULL;

	if (d != NULL)
		g_dir_close(d);
	return empty;
}

static char *
out_file(const char *rcpt)
{
	return g_build_filename(out, rcpt, NULL);
}

/* Something was written for rcpt. */
static gboolean
out_exists(const char *rcpt)
{
	g_autofree char *f = out_file(rcpt);

	return g_file_test(f, G_FILE_TEST_EXISTS);
}

/* name's fingerprint, read once per test process.  (transfer none) */
static const char *
fpr_of(const char *name)
{
	static GHashTable *cache;
	char *f;

	if (cache == NULL)
		cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
		    g_free);
	if ((f = g_hash_table_lookup(cache, name)) == NULL) {
		f = tu_fpr(name);
		g_hash_table_insert(cache, g_strdup(name), f);
	}
	return f;
}

/* A command mail signed by signer (NULL-terminated extra mkpost options
 * may follow in opts) with text, and keyfile attached when not NULL. */
static GBytes *
command_mail(const char *signer, const char *from, const char *text,
    const char *keyfile, const char *const *opts)
{
	g_autofree char *tf = g_build_filename(tmp, "cmd.txt", NULL);
	g_autoptr(GPtrArray) a = g_ptr_array_new();

	tu_write(tf, "%s", text);
	g_ptr_array_add(a, (gpointer) "--signer");
	g_ptr_array_add(a, (gpointer)signer);
	g_ptr_array_add(a, (gpointer) "--from");
	g_ptr_array_add(a, (gpointer)from);
	g_ptr_array_add(a, (gpointer) "--to");
	g_ptr_array_add(a, (gpointer)REQUEST);
	g_ptr_array_add(a, (gpointer) "--text");
	g_ptr_array_add(a, tf);
	if (keyfile != NULL) {
		g_ptr_array_add(a, (gpointer) "--keys");
		g_ptr_array_add(a, (gpointer)keyfile);
	}
	for (const char *const *o = opts; o != NULL && *o != NULL; o++)
		g_ptr_array_add(a, (gpointer)*o);
	g_ptr_array_add(a, NULL);
	return tu_mkpost(tmp, (const char *const *)a->pdata);
}

static sfsistat
feed(GBytes *mail, const char *rcpt, OpmfTestResult *res)
{
	char *r = g_strdup(rcpt);
	char *rcpts[] = {r, NULL};
	sfsistat rc;

	rc = opmf_test_message(mail, rcpts, res);
	g_free(r);
	return rc;
}

static char *
export_key(const char *dir, const char *fpr)
{
	g_auto(gpgme_ctx_t) ctx = tu_gpg_context(dir);
	gpgme_data_t d = NULL;
	g_autofree char *path = g_strdup_printf("%s/%s.asc", tmp, fpr);
	size_t n = 0;
	char *p;

	gpgme_set_armor(ctx, 1);
	ck_assert(gpgme_data_new(&d) == 0);
	ck_assert(gpgme_op_export(ctx, fpr, 0, d) == 0);
	p = gpgme_data_release_and_get_mem(d, &n);
	ck_assert_msg(n > 0, "no key %s in %s", fpr, dir);
	{
		g_autoptr(GError) error = NULL;

		ck_assert(g_file_set_contents(path, p, (gssize)n, &error));
	}
	gpgme_free(p);
	return g_steal_pointer(&path);
}

static char *
fixture_keyfile(const char *name)
{
	g_autofree char *fpr = tu_fpr(name);
	g_autofree char *dir = tu_fixture("gnupg-list");

	return export_key(dir, fpr);
}

/* Decrypt file with a private copy of the GnuPG home dir; NULL when it
 * does not decrypt.  (transfer full) */
static char *
decrypt_with(const char *dir, const char *file)
{
	g_auto(gpgme_ctx_t) ctx = tu_gpg_context(dir);
	char *text = NULL;
	const char *arm;
	gpgme_data_t c = NULL, p = NULL;
	gpgme_error_t err;
	char *plain = NULL;
	size_t n = 0;
	char *buf;

	if (!g_file_get_contents(file, &text, NULL, NULL))
		return NULL;
	arm = strstr(text, "-----BEGIN PGP MESSAGE");
	if (arm == NULL) {
		g_free(text);
		return NULL;
	}
	ck_assert(gpgme_data_new_from_mem(&c, arm, strlen(arm), 1) == 0);
	ck_assert(gpgme_data_new(&p) == 0);
	err = gpgme_op_decrypt(ctx, c, p);
	gpgme_data_release(c);
	buf = gpgme_data_release_and_get_mem(p, &n);
	if (err == 0)
		plain = g_strndup(buf, n);
	gpgme_free(buf);
	g_free(text);
	return plain;
}

static char *
person_home(const char *name)
{
	g_autofree char *rel = g_strdup_printf("gnupg-%s", name);
	g_autofree char *src = tu_fixture(rel);
	char *dst = g_build_filename(tmp, rel, NULL);

	if (!g_file_test(dst, G_FILE_TEST_IS_DIR))
		tu_copy_home(src, dst);
	return dst;
}

static char *
decrypt_as(const char *name, const char *file)
{
	g_autofree char *h = person_home(name);

	return decrypt_with(h, file);
}

START_TEST(admin_adds_a_member_who_then_posts)
{
	g_autofree char *key = fixture_keyfile("mallory");
	g_autofree char *fpr = tu_fpr("mallory");
	g_autofree char *text = g_strdup_printf("add-member mallory@example.com "
	    "%s Mallory Now\n", fpr);
	g_autoptr(GBytes) cmd = command_mail("alice", "alice@example.org", text,
	    key, NULL);
	const char *post_opts[] = {"--signer", "mallory", "--from",
	    "mallory@example.com", NULL};
	g_autoptr(GBytes) post = NULL;
	g_autofree char *to_alice = out_file("alice@example.org");
	g_autofree char *to_mallory = out_file("mallory@example.com");
	g_autofree char *plain = NULL;
	g_autofree char *stolen = NULL;
	g_autofree char *mtext = NULL;
	OpmfTestResult res = {0};

	post = tu_mkpost(tmp, post_opts);
	feed(cmd, REQUEST, &res);
	ck_assert_msg(res.rc == SMFIS_DISCARD, "the admin's command: got %d %s "
	    "%s, want it accepted and not delivered", res.rc, res.xcode,
	    res.text);
	opmf_test_result_clear(&res);
	mtext = tu_read(members);
	ck_assert_msg(strstr(mtext, fpr) != NULL, "the members file lacks "
	    "mallory:\n%s", mtext);
	/* alice: the reply and the admins' notice, two files */
	plain = decrypt_as("alice", to_alice);
	ck_assert_msg(plain != NULL, "alice cannot decrypt what she got");
	stolen = decrypt_as("bob", to_alice);
	ck_assert_msg(stolen == NULL, "bob can decrypt alice's reply");
	g_clear_pointer(&plain, g_free);
	plain = decrypt_as("mallory", to_mallory);
	ck_assert_msg(plain != NULL && strstr(plain, "Welcome to the list") !=
	    NULL && strstr(plain, "BEGIN PGP PUBLIC KEY BLOCK") != NULL,
	    "mallory's welcome: got \"%s\"", plain != NULL ? plain : "(none)");
	clear_out();
	/* her next post reaches her */
	feed(post, LIST, &res);
	ck_assert_msg(res.rc == SMFIS_DISCARD, "mallory's post: got %d %s %s, "
	    "want accepted", res.rc, res.xcode, res.text);
	opmf_test_result_clear(&res);
	g_clear_pointer(&plain, g_free);
	plain = decrypt_as("mallory", to_mallory);
	ck_assert_msg(plain != NULL, "mallory got no copy she can decrypt");
}
END_TEST

START_TEST(member_rotates_the_key)
{
	g_autofree char *gen = g_build_filename(tmp, "gen", NULL);
	g_autofree char *newfpr = NULL;
	g_autofree char *keyfile = NULL;
	g_autofree char *text = NULL;
	g_autofree char *to_bob = out_file("bob@example.org");
	g_autofree char *plain = NULL;
	g_autofree char *old = NULL;
	g_autoptr(GBytes) cmd = NULL;
	g_autoptr(GBytes) post = NULL;
	g_autoptr(GBytes) oldpost = NULL;
	const char *alice_post[] = {"--signer", "alice", NULL};
	const char *bob_post[] = {"--signer", "bob", NULL};
	OpmfTestResult res = {0};

	/* bob's new key, made here */
	ck_assert(g_mkdir_with_parents(gen, 0700) == 0);
	{
		g_autofree char *bobhome = person_home("bob");
		g_autofree char *cmdline = g_strdup_printf("gpg --homedir %s "
		    "--batch --pinentry-mode loopback --passphrase '' "
		    "--quick-gen-key 'Bob New <bob@example.org>' ed25519 sign 1y",
		    gen);
		int st = 0;

		ck_assert(g_spawn_command_line_sync(cmdline, NULL, NULL, &st,
		    NULL) && st == 0);
		{
			g_auto(gpgme_ctx_t) ctx = tu_gpg_context(gen);
			gpgme_key_t k = NULL;

			ck_assert(gpgme_op_keylist_start(ctx, NULL, 0) == 0 &&
			    gpgme_op_keylist_next(ctx, &k) == 0);
			newfpr = g_ascii_strup(k->fpr, -1);
			gpgme_key_unref(k);
			(void)gpgme_op_keylist_end(ctx);
		}
		g_free(cmdline);
		cmdline = g_strdup_printf("gpg --homedir %s --batch "
		    "--pinentry-mode loopback --passphrase '' --quick-add-key %s "
		    "cv25519 encr 1y", gen, newfpr);
		ck_assert(g_spawn_command_line_sync(cmdline, NULL, NULL, &st,
		    NULL) && st == 0);
		(void)bobhome;
	}
	keyfile = export_key(gen, newfpr);
	text = g_strdup_printf("update-key %s\n", newfpr);
	cmd = command_mail("bob", "bob@example.org", text, keyfile, NULL);
	oldpost = tu_mkpost(tmp, bob_post);
	post = tu_mkpost(tmp, alice_post);
	feed(cmd, REQUEST, &res);
	ck_assert_msg(res.rc == SMFIS_DISCARD, "update-key: got %d %s %s",
	    res.rc, res.xcode, res.text);
	opmf_test_result_clear(&res);
	{
		g_autofree char *mt = tu_read(members);

		ck_assert_msg(strstr(mt, newfpr) != NULL, "bob's new key is not "
		    "pinned:\n%s", mt);
	}
	/* the reply goes to the new key */
	plain = decrypt_with(gen, to_bob);
	ck_assert_msg(plain != NULL && strstr(plain, "update-key: ok") != NULL,
	    "bob's reply: got \"%s\"", plain != NULL ? plain : "(none)");
	g_clear_pointer(&plain, g_free);
	clear_out();
	/* his old key no longer posts */
	feed(oldpost, LIST, &res);
	ck_assert_msg(res.rc == SMFIS_REJECT, "a post signed with bob's old "
	    "key: got %d, want REJECT", res.rc);
	opmf_test_result_clear(&res);
	/* the next copy is his with the new key only */
	feed(post, LIST, &res);
	ck_assert_msg(res.rc == SMFIS_DISCARD, "alice's post: %d %s", res.rc,
	    res.text);
	opmf_test_result_clear(&res);
	plain = decrypt_with(gen, to_bob);
	ck_assert_msg(plain != NULL, "bob's copy does not decrypt with his new "
	    "key");
	old = decrypt_as("bob", to_bob);
	ck_assert_msg(old == NULL, "bob's copy decrypts with his old key");
}
END_TEST

static const struct {
	const char *name;
	const char *signer;
	const char *from;
	const char *shape;
	const char *age;
	const char *text;   /* %s: mallory's fingerprint */
	const char *xcode;
	const char *want;
} forged[] = {
	{"unsigned", "alice", "alice@example.org", "unsigned", NULL,
	    "add-member mallory@example.com %s\n", "5.7.1",
	    "must be signed"},
	{"by a stranger", "mallory", "mallory@example.com", NULL, NULL,
	    "add-member mallory@example.com %s\n", "5.7.1", "not registered"},
	{"admin command from a member", "bob", "bob@example.org", NULL, NULL,
	    "help\nadd-member mallory@example.com %s\n", "5.7.1",
	    "line 2: \"add-member\" is a command for the list's admins"},
	{"stale", "alice", "alice@example.org", NULL, "-10 days",
	    "add-member mallory@example.com %s\n", "5.7.5", NULL},
	{"From: not the signer", "alice", "bob@example.org", NULL, NULL,
	    "add-member mallory@example.com %s\n", "5.7.1", NULL},
};

START_TEST(forged_commands_are_refused_in_smtp)
{
	g_autofree char *key = fixture_keyfile("mallory");
	g_autofree char *fpr = tu_fpr("mallory");
	g_autofree char *text = tu_replace(forged[_i].text, "%s", fpr);
	g_autofree char *before = tu_read(members);
	g_autofree char *after = NULL;
	g_autoptr(GPtrArray) opts = g_ptr_array_new();
	g_autoptr(GBytes) cmd = NULL;
	OpmfTestResult res = {0};

	if (forged[_i].shape != NULL) {
		g_ptr_array_add(opts, (gpointer) "--shape");
		g_ptr_array_add(opts, (gpointer)forged[_i].shape);
	}
	if (forged[_i].age != NULL) {
		g_ptr_array_add(opts, (gpointer) "--date-offset");
		g_ptr_array_add(opts, (gpointer)forged[_i].age);
	}
	g_ptr_array_add(opts, NULL);
	cmd = command_mail(forged[_i].signer, forged[_i].from, text, key,
	    (const char *const *)opts->pdata);
	feed(cmd, REQUEST, &res);
	ck_assert_msg(res.rc == SMFIS_REJECT &&
	    g_strcmp0(res.xcode, forged[_i].xcode) == 0 &&
	    (forged[_i].want == NULL || strstr(res.text, forged[_i].want) !=
	    NULL), "%s: got %d %s \"%s\", want REJECT %s \"%s\"",
	    forged[_i].name, res.rc, res.xcode, res.text, forged[_i].xcode,
	    forged[_i].want != NULL ? forged[_i].want : "");
	opmf_test_result_clear(&res);
	after = tu_read(members);
	ck_assert_msg(strcmp(after, before) == 0, "%s: the members file "
	    "changed", forged[_i].name);
	ck_assert_msg(dir_empty(out), "%s: something was sent",
	    forged[_i].name);
}
END_TEST

START_TEST(replay_is_refused_and_changes_nothing)
{
	g_autoptr(GBytes) cmd = command_mail("alice", "alice@example.org",
	    "remove-member carol@example.net\n", NULL, NULL);
	g_autofree char *after = NULL;
	OpmfTestResult res = {0};

	feed(cmd, REQUEST, &res);
	ck_assert_msg(res.rc == SMFIS_DISCARD, "remove-member: %d %s", res.rc,
	    res.text);
	opmf_test_result_clear(&res);
	/* carol is back, then the same mail again */
	{
		g_autofree char *m = tu_read(members);
		g_autofree char *carol = tu_fpr("carol");

		ck_assert(strstr(m, "carol@") == NULL);
		tu_write(members, "%scarol@example.net %s\n", m, carol);
	}
	clear_out();
	feed(cmd, REQUEST, &res);
	ck_assert_msg(res.rc == SMFIS_REJECT && g_strcmp0(res.xcode, "5.7.5") ==
	    0, "the replay: got %d %s %s, want REJECT 5.7.5", res.rc, res.xcode,
	    res.text);
	opmf_test_result_clear(&res);
	after = tu_read(members);
	ck_assert_msg(strstr(after, "carol@") != NULL, "the replay removed "
	    "carol again");
	ck_assert(dir_empty(out));
}
END_TEST

START_TEST(a_bad_line_fails_the_whole_mail)
{
	g_autofree char *key = fixture_keyfile("mallory");
	g_autofree char *mallory = tu_fpr("mallory");
	g_autofree char *text = g_strdup_printf("remove-member bob@example.org\n"
	    "add-member mallory@example.com %s\n"
	    "remove-member nobody@example.org\n", mallory);
	g_autoptr(GBytes) cmd = command_mail("alice", "alice@example.org", text,
	    key, NULL);
	g_autofree char *before = tu_read(members);
	g_autofree char *after = NULL;
	g_autofree char *to_alice = out_file("alice@example.org");
	g_autofree char *plain = NULL;
	OpmfTestResult res = {0};

	feed(cmd, REQUEST, &res);
	ck_assert_msg(res.rc == SMFIS_DISCARD, "got %d %s", res.rc, res.text);
	opmf_test_result_clear(&res);
	after = tu_read(members);
	ck_assert_msg(strcmp(after, before) == 0, "a part of the mail was "
	    "carried out:\n%s", after);
	plain = decrypt_as("alice", to_alice);
	ck_assert_msg(plain != NULL && strstr(plain, "line 3: remove-member: "
	    "nobody@example.org is not a member") != NULL, "the reply: got "
	    "\"%s\", want the failed line named", plain != NULL ? plain : "");
}
END_TEST

START_TEST(anyone_gets_the_list_key_unsigned)
{
	g_autoptr(GBytes) cmd = command_mail("mallory", "mallory@example.com",
	    "get-list-key\n", NULL, (const char *[]){"--shape", "unsigned",
	    NULL});
	g_autofree char *to = out_file("mallory@example.com");
	g_autofree char *text = NULL;
	OpmfTestResult res = {0};

	feed(cmd, REQUEST, &res);
	ck_assert_msg(res.rc == SMFIS_DISCARD, "get-list-key: got %d %s",
	    res.rc, res.text);
	opmf_test_result_clear(&res);
	text = tu_read(to);
	ck_assert_msg(strstr(text, "multipart/signed") != NULL &&
	    strstr(text, "BEGIN PGP PUBLIC KEY BLOCK") != NULL &&
	    strstr(text, "BEGIN PGP SIGNATURE") != NULL, "the reply is not the "
	    "signed list key:\n%.400s", text);
}
END_TEST

/* Set back every "the list key went here at" time kept for the list by
 * seconds. */
static void
key_sent_earlier(gint64 seconds)
{
	g_autofree char *dir = g_build_filename(tmp, "state", "keysent",
	    "secir@lists.example.org", NULL);
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;
	guint n = 0;

	ck_assert_msg(d != NULL, "no times kept in %s", dir);
	while ((name = g_dir_read_name(d)) != NULL) {
		g_autofree char *path = g_build_filename(dir, name, NULL);
		g_autofree char *text = tu_read(path);

		tu_write(path, "%" G_GINT64_FORMAT "\n",
		    g_ascii_strtoll(text, NULL, 10) - seconds);
		n++;
	}
	g_dir_close(d);
	ck_assert_uint_gt(n, 0);
}

/* Forged as the sender, an address could be sent the key over and over:
 * one reply a day to one address. */
START_TEST(the_list_key_goes_once_a_day_to_an_address)
{
	const char *unsigned_shape[] = {"--shape", "unsigned", NULL};
	g_autofree char *again = out_file("mallory@example.com.2");
	g_autofree char *third = out_file("mallory@example.com.3");
	OpmfTestResult res = {0};

	for (int i = 0; i < 2; i++) {
		g_autoptr(GBytes) cmd = command_mail("mallory",
		    "mallory@example.com", "get-list-key\n", NULL,
		    unsigned_shape);

		feed(cmd, REQUEST, &res);
		if (i == 0)
			ck_assert_msg(res.rc == SMFIS_DISCARD, "the first "
			    "request: got %d %s", res.rc, res.text);
		else
			ck_assert_msg(res.rc == SMFIS_REJECT &&
			    strcmp(res.rcode, "550") == 0 &&
			    strcmp(res.xcode, "5.7.1") == 0 &&
			    strstr(res.text, "less than a day ago") != NULL,
			    "the second request the same day: got %d %s %s "
			    "\"%s\", want a refusal", res.rc, res.rcode,
			    res.xcode, res.text);
		opmf_test_result_clear(&res);
	}
	ck_assert(out_exists("mallory@example.com"));
	ck_assert_msg(!g_file_test(again, G_FILE_TEST_EXISTS),
	    "a second key went to mallory the same day");
	/* another address is another matter */
	{
		g_autoptr(GBytes) cmd = command_mail("bob", "bob@example.org",
		    "get-list-key\n", NULL, unsigned_shape);

		feed(cmd, REQUEST, &res);
		ck_assert_msg(res.rc == SMFIS_DISCARD, "bob's request: got %d "
		    "%s", res.rc, res.text);
		opmf_test_result_clear(&res);
		ck_assert(out_exists("bob@example.org"));
	}
	/* a day later mallory may ask again */
	key_sent_earlier(24 * 3600 + 60);
	{
		g_autoptr(GBytes) cmd = command_mail("mallory",
		    "mallory@example.com", "get-list-key\n", NULL,
		    unsigned_shape);

		feed(cmd, REQUEST, &res);
		ck_assert_msg(res.rc == SMFIS_DISCARD, "a day later: got %d %s",
		    res.rc, res.text);
		opmf_test_result_clear(&res);
	}
	ck_assert_msg(g_file_test(again, G_FILE_TEST_EXISTS) &&
	    !g_file_test(third, G_FILE_TEST_EXISTS),
	    "a day later, want exactly one more key for mallory");
}
END_TEST

/* AdminKey pins the admin's key in the list definition. */
START_TEST(admin_key_pins_the_admin)
{
	g_autofree char *bob = tu_fpr("bob");
	g_autofree char *alice = tu_fpr("alice");
	g_autofree char *wrong = g_strdup_printf("AdminKey alice@example.org %s",
	    bob);
	g_autofree char *right = g_strdup_printf("AdminKey alice@example.org %s",
	    alice);
	g_autofree char *before = tu_read(members);
	g_autofree char *after = NULL;
	g_autoptr(GBytes) cmd = command_mail("alice", "alice@example.org",
	    "remove-member carol@example.net\n", NULL, NULL);
	OpmfTestResult res = {0};

	list_line(wrong);
	feed(cmd, REQUEST, &res);
	ck_assert_msg(res.rc == SMFIS_REJECT && strstr(res.text, "pins the "
	    "admin key") != NULL, "alice signing with a key other than her "
	    "AdminKey: got %d %s \"%s\", want a refusal", res.rc, res.xcode,
	    res.text);
	opmf_test_result_clear(&res);
	after = tu_read(members);
	ck_assert_str_eq(after, before);
	/* the right pin: the very same mail is carried out */
	{
		g_autofree char *text = tu_read(list_path);
		g_autofree char *fixed = tu_replace(text, wrong, right);

		tu_write(list_path, "%s", fixed);
		list_line("# pinned");
	}
	feed(cmd, REQUEST, &res);
	ck_assert_msg(res.rc == SMFIS_DISCARD, "alice with her AdminKey: got "
	    "%d %s \"%s\"", res.rc, res.xcode, res.text);
	opmf_test_result_clear(&res);
	g_free(after);
	after = tu_read(members);
	ck_assert_msg(strstr(after, "carol@") == NULL, "carol was not removed");
}
END_TEST

/* Everything the output directory holds for rcpt (rcpt, rcpt.2, ...),
 * decrypted with name's key and put together; "" when nothing decrypts. */
static char *
all_for(const char *name, const char *rcpt)
{
	GString *all = g_string_new(NULL);

	for (int n = 1; n < 50; n++) {
		g_autofree char *f = n == 1 ? out_file(rcpt) :
		    g_strdup_printf("%s/%s.%d", out, rcpt, n);
		g_autofree char *p = NULL;

		if (!g_file_test(f, G_FILE_TEST_EXISTS))
			break;
		p = decrypt_as(name, f);
		if (p != NULL)
			g_string_append(all, p);
	}
	return g_string_free(all, FALSE);
}

/* Feed a command mail, want it accepted (answered by mail). */
static void
feed_ok(const char *what, GBytes *mail)
{
	OpmfTestResult res = {0};

	feed(mail, REQUEST, &res);
	ck_assert_msg(res.rc == SMFIS_DISCARD, "%s: got %d %s \"%s\", want it "
	    "accepted", what, res.rc, res.xcode, res.text);
	opmf_test_result_clear(&res);
}

static void
want_reply(const char *name, const char *rcpt, const char *want)
{
	g_autofree char *got = all_for(name, rcpt);

	ck_assert_msg(strstr(got, want) != NULL, "%s got \"%s\", want \"%s\"",
	    rcpt, got, want);
}

static void
want_no_member(const char *address)
{
	g_autofree char *m = tu_read(members);

	ck_assert_msg(strstr(m, address) == NULL, "the members file names "
	    "%s:\n%s", address, m);
}

static GBytes *
signed_by(const char *who, const char *text, const char *keyfile,
    const char *age)
{
	g_autofree char *from = g_strdup_printf("%s@%s", who,
	    strcmp(who, "carol") == 0 ? "example.net" : strcmp(who, "mallory") ==
	    0 ? "example.com" : "example.org");
	const char *opts[] = {"--date-offset", age, NULL};

	return command_mail(who, from, text, keyfile, age != NULL ? opts :
	    NULL);
}

/* bob nominates mallory. */
static void
nominate_mallory(void)
{
	g_autofree char *key = fixture_keyfile("mallory");
	g_autofree char *fpr = tu_fpr("mallory");
	g_autofree char *text = g_strdup_printf("nominate mallory@example.com "
	    "%s Mallory Candidate\n", fpr);
	g_autoptr(GBytes) cmd = signed_by("bob", text, key, NULL);
	g_autofree char *vouch = g_strdup_printf("vouch mallory@example.com %s",
	    fpr);

	list_line("Admission vouch");
	feed_ok("nominate", cmd);
	want_reply("bob", "bob@example.org", "line 1: nominate: ok");
	/* each other member is asked, with the line to send */
	want_reply("carol", "carol@example.net", vouch);
	want_reply("carol", "carol@example.net", "nominated a new member");
	want_reply("alice", "alice@example.org", vouch);
	want_no_member("mallory@");
	clear_out();
}

START_TEST(vouched_candidate_joins_and_posts)
{
	g_autofree char *fpr = tu_fpr("mallory");
	g_autofree char *vouch = g_strdup_printf("vouch mallory@example.com %s\n",
	    fpr);
	g_autoptr(GBytes) by_carol = signed_by("carol", vouch, NULL, NULL);
	g_autoptr(GBytes) by_alice = signed_by("alice", vouch, NULL, NULL);
	g_autoptr(GBytes) approve = signed_by("alice",
	    "approve mallory@example.com\n", NULL, "-1 minute");
	const char *post_opts[] = {"--signer", "mallory", "--from",
	    "mallory@example.com", NULL};
	g_autoptr(GBytes) post = tu_mkpost(tmp, post_opts);
	g_autofree char *mtext = NULL;

	nominate_mallory();
	feed_ok("carol's vouch", by_carol);
	want_reply("carol", "carol@example.net", "1 of 2 vouches");
	want_no_member("mallory@");
	/* a reload in the middle loses nothing */
	list_line("# reloaded");
	feed_ok("alice's vouch", by_alice);
	want_reply("alice", "alice@example.org",
	    "2 of 2 vouches, not approved yet");
	want_no_member("mallory@");
	ck_assert_msg(dir_empty(out) || !out_exists("mallory@example.com"),
	    "mallory was told "
	    "something before joining");
	clear_out();
	feed_ok("approve", approve);
	mtext = tu_read(members);
	ck_assert_msg(strstr(mtext, fpr) != NULL && strstr(mtext,
	    "Mallory Candidate") != NULL, "mallory was not added:\n%s", mtext);
	want_reply("mallory", "mallory@example.com", "Welcome to the list");
	/* one announcement to each member */
	want_reply("bob", "bob@example.org", "mallory@example.com (Mallory "
	    "Candidate) joined the list");
	want_reply("carol", "carol@example.net", "joined the list");
	clear_out();
	/* her first post reaches her */
	{
		OpmfTestResult res = {0};
		g_autofree char *copy = NULL;

		feed(post, LIST, &res);
		ck_assert_msg(res.rc == SMFIS_DISCARD, "mallory's post: got %d "
		    "%s %s, want accepted", res.rc, res.xcode, res.text);
		opmf_test_result_clear(&res);
		copy = all_for("mallory", "mallory@example.com");
		ck_assert_msg(*copy != '\0', "mallory got no copy of her post");
	}
}
END_TEST

START_TEST(refused_vouches_add_nobody)
{
	g_autofree char *fpr = tu_fpr("mallory");
	g_autofree char *vouch = g_strdup_printf("vouch mallory@example.com %s\n",
	    fpr);
	g_autofree char *wrong = g_strdup_printf("vouch mallory@example.com %s\n",
	    fpr_of("bob"));
	g_autoptr(GBytes) wrong_fpr = signed_by("carol", wrong, NULL, "-3 minutes");
	g_autoptr(GBytes) by_carol = signed_by("carol", vouch, NULL, "-2 minutes");
	g_autoptr(GBytes) again = signed_by("carol", vouch, NULL, "-1 minute");
	g_autoptr(GBytes) by_nominator = signed_by("bob", vouch, NULL, NULL);
	g_autoptr(GBytes) by_stranger = signed_by("mallory", vouch, NULL, NULL);
	OpmfTestResult res = {0};

	nominate_mallory();
	/* a fingerprint other than the candidate's */
	feed_ok("a vouch with a wrong fingerprint", wrong_fpr);
	want_reply("carol", "carol@example.net", "is not the one of the key "
	    "nominated for mallory@example.com");
	want_reply("carol", "carol@example.net", "Nothing of your mail was "
	    "carried out");
	clear_out();
	feed_ok("carol's vouch", by_carol);
	want_reply("carol", "carol@example.net", "1 of 2 vouches");
	clear_out();
	/* twice */
	feed_ok("carol's second vouch", again);
	want_reply("carol", "carol@example.net", "you vouched for "
	    "mallory@example.com already");
	clear_out();
	/* the nominator */
	feed_ok("the nominator's vouch", by_nominator);
	want_reply("bob", "bob@example.org", "you nominated "
	    "mallory@example.com; the vouches must come from other members");
	clear_out();
	/* the candidate, not a member: refused in SMTP */
	feed(by_stranger, REQUEST, &res);
	ck_assert_msg(res.rc == SMFIS_REJECT && g_strcmp0(res.xcode, "5.7.1") ==
	    0, "a vouch by the candidate: got %d %s %s, want REJECT 5.7.1",
	    res.rc, res.xcode, res.text);
	opmf_test_result_clear(&res);
	/* the same mail again */
	feed(by_carol, REQUEST, &res);
	ck_assert_msg(res.rc == SMFIS_REJECT && g_strcmp0(res.xcode, "5.7.5") ==
	    0, "a replayed vouch: got %d %s %s, want REJECT 5.7.5", res.rc,
	    res.xcode, res.text);
	opmf_test_result_clear(&res);
	ck_assert(dir_empty(out));
	want_no_member("mallory@");
	/* the count is still one */
	{
		g_autoptr(GBytes) list = signed_by("bob", "nominations\n", NULL,
		    NULL);

		feed_ok("nominations", list);
		want_reply("bob", "bob@example.org", "vouches 1 of 2");
		want_reply("bob", "bob@example.org", "vouched by carol@example.net");
	}
}
END_TEST

START_TEST(admin_objection_stops_a_vouched_nomination)
{
	g_autofree char *fpr = tu_fpr("mallory");
	g_autofree char *vouch = g_strdup_printf("vouch mallory@example.com %s\n",
	    fpr);
	g_autoptr(GBytes) by_carol = signed_by("carol", vouch, NULL, NULL);
	g_autoptr(GBytes) by_alice = signed_by("alice", vouch, NULL, "-2 minutes");
	g_autoptr(GBytes) object = signed_by("alice", "object mallory@example.com "
	    "shares keys with strangers\n", NULL, "-1 minute");
	g_autoptr(GBytes) approve = signed_by("alice",
	    "approve mallory@example.com\n", NULL, NULL);

	nominate_mallory();
	feed_ok("carol's vouch", by_carol);
	feed_ok("alice's vouch", by_alice);
	want_reply("alice", "alice@example.org", "2 of 2 vouches");
	clear_out();
	feed_ok("alice objects", object);
	want_reply("alice", "alice@example.org", "your objection as an admin "
	    "ends the nomination");
	/* the nominator hears of it, without who objected */
	{
		g_autofree char *to_bob = all_for("bob", "bob@example.org");

		ck_assert_msg(strstr(to_bob, "was refused") != NULL ||
		    strstr(to_bob, "objected to the nomination") != NULL,
		    "bob was not told: \"%s\"", to_bob);
		ck_assert_msg(strstr(to_bob, "alice") == NULL, "bob was told who "
		    "objected: \"%s\"", to_bob);
	}
	want_reply("alice", "alice@example.org", "shares keys with strangers");
	ck_assert_msg(!out_exists("mallory@example.com"),
	    "the candidate was told");
	clear_out();
	feed_ok("a late approval", approve);
	want_reply("alice", "alice@example.org", "mallory@example.com has no "
	    "open nomination");
	want_no_member("mallory@");
}
END_TEST

START_TEST(nomination_expires)
{
	g_autoptr(OpmConfig) conf = NULL;
	g_autoptr(OpmInjector) inj = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *method = g_strconcat("dir:", out, NULL);
	g_autofree char *vouch = g_strdup_printf("vouch mallory@example.com %s\n",
	    fpr_of("mallory"));
	g_autoptr(GBytes) by_carol = signed_by("carol", vouch, NULL, NULL);
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	OpmList *l;
	guint ended = 99;

	nominate_mallory();
	feed_ok("carol's vouch", by_carol);
	clear_out();
	conf = opmf_conf_get();
	l = opm_conf_find_list(conf, LIST);
	inj = opm_injector_new(method, &error);
	ck_assert(inj != NULL);
	/* the daily check, a day before the end: nothing */
	ck_assert_msg(opm_admission_check(conf, l, inj, now + 29 * 24 * 3600,
	    &ended, &error), "%s", error != NULL ? error->message : "");
	ck_assert_uint_eq(ended, 0);
	ck_assert(dir_empty(out));
	/* after 30 days */
	ck_assert_msg(opm_admission_check(conf, l, inj, now + 30 * 24 * 3600 + 1,
	    &ended, &error), "%s", error != NULL ? error->message : "");
	ck_assert_uint_eq(ended, 1);
	want_reply("bob", "bob@example.org", "expired with 1 of 2 vouches");
	want_reply("alice", "alice@example.org", "Nominated by bob@example.org");
	ck_assert_msg(!out_exists("mallory@example.com"),
	    "the candidate was told");
	want_no_member("mallory@");
	clear_out();
	/* gone for good: a restart does not bring it back */
	opm_conf_unref(g_steal_pointer(&conf));
	list_line("# restarted");
	{
		g_autoptr(GBytes) list = signed_by("bob", "nominations\n", NULL,
		    NULL);

		feed_ok("nominations", list);
		want_reply("bob", "bob@example.org", "no open nominations");
	}
}
END_TEST

START_TEST(nominations_need_admission_vouch)
{
	g_autofree char *key = fixture_keyfile("mallory");
	g_autofree char *text = g_strdup_printf("nominate mallory@example.com "
	    "%s\n", fpr_of("mallory"));
	g_autoptr(GBytes) cmd = signed_by("bob", text, key, NULL);

	feed_ok("nominate on an admin list", cmd);
	want_reply("bob", "bob@example.org", "the admins of this list add its "
	    "members (Admission admin)");
	ck_assert(!out_exists("carol@example.net"));
}
END_TEST

START_TEST(nomination_key_must_pass)
{
	g_autofree char *key = fixture_keyfile("mallory");
	g_autofree char *other = g_strdup_printf("nominate kim@example.com "
	    "%s\n", fpr_of("mallory"));
	g_autofree char *fpr = g_strdup_printf("nominate mallory@example.com "
	    "%s\n", fpr_of("bob"));
	g_autoptr(GBytes) wrong_address = signed_by("bob", other, key, NULL);
	g_autoptr(GBytes) wrong_fpr = signed_by("bob", fpr, key, "-1 minute");

	list_line("Admission vouch");
	feed_ok("a key without the address", wrong_address);
	want_reply("bob", "bob@example.org", "no valid user ID");
	ck_assert(!out_exists("carol@example.net"));
	clear_out();
	feed_ok("another fingerprint", wrong_fpr);
	want_reply("bob", "bob@example.org", "holds no key with the primary "
	    "fingerprint");
}
END_TEST

/* openpgp-milter-admin VERB ARGS... on this configuration: its exit
 * status, *output its standard output and error. */
static int
admin_tool(char **output, const char *const *args)
{
	g_autofree char *tool = g_strconcat(tu_env("MILTER"), "-admin", NULL);
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autofree char *err = NULL;
	int st = -1;

	g_ptr_array_add(argv, tool);
	g_ptr_array_add(argv, (gpointer) "-c");
	g_ptr_array_add(argv, conf_path);
	for (const char *const *a = args; *a != NULL; a++)
		g_ptr_array_add(argv, (gpointer)*a);
	g_ptr_array_add(argv, NULL);
	ck_assert(g_spawn_sync(NULL, (char **)argv->pdata, NULL, 0, NULL, NULL,
	    output, &err, &st, NULL));
	{
		char *both = g_strconcat(*output, err, NULL);

		g_free(*output);
		*output = both;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(host_lists_approves_and_objects)
{
	g_autofree char *vouch = g_strdup_printf("vouch mallory@example.com %s\n",
	    fpr_of("mallory"));
	g_autoptr(GBytes) by_carol = signed_by("carol", vouch, NULL, NULL);
	g_autoptr(GBytes) by_alice = signed_by("alice", vouch, NULL, NULL);
	g_autofree char *o = NULL;
	int rc;

	/* the host's tool sends through the MTA; here, nowhere */
	{
		g_autofree char *c = tu_read(conf_path);

		tu_write(conf_path, "%sInjectMethod sendmail:/bin/true\n", c);
	}
	nominate_mallory();
	feed_ok("carol's vouch", by_carol);
	rc = admin_tool(&o, (const char *[]){"nominations", LIST, NULL});
	ck_assert_msg(rc == 0 && strstr(o, "1 open nomination") != NULL &&
	    strstr(o, "mallory@example.com (Mallory Candidate)") != NULL &&
	    strstr(o, "vouches 1 of 2, an admin's approval needed") != NULL &&
	    strstr(o, "vouched by carol@example.net") != NULL,
	    "nominations: got %d \"%s\"", rc, o);
	g_clear_pointer(&o, g_free);
	rc = admin_tool(&o, (const char *[]){"approve", LIST,
	    "nobody@example.com", NULL});
	ck_assert_msg(rc == 65 && strstr(o, "nobody@example.com has no open "
	    "nomination") != NULL, "approve a stranger: got %d \"%s\"", rc, o);
	g_clear_pointer(&o, g_free);
	/* approved on the host, then the second vouch by mail admits */
	rc = admin_tool(&o, (const char *[]){"approve", LIST,
	    "mallory@example.com", NULL});
	ck_assert_msg(rc == 0 && strstr(o, "1 of 2 vouches, approved") != NULL,
	    "approve: got %d \"%s\"", rc, o);
	want_no_member("mallory@");
	feed_ok("alice's vouch", by_alice);
	{
		g_autofree char *m = tu_read(members);

		ck_assert_msg(strstr(m, "mallory@example.com") != NULL, "mallory "
		    "was not admitted:\n%s", m);
	}
}
END_TEST

START_TEST(host_objection_ends_a_nomination)
{
	g_autofree char *o = NULL;
	int rc;

	{
		g_autofree char *c = tu_read(conf_path);

		tu_write(conf_path, "%sInjectMethod sendmail:/bin/true\n", c);
	}
	nominate_mallory();
	rc = admin_tool(&o, (const char *[]){"object", LIST,
	    "mallory@example.com", "not", "vetted", NULL});
	ck_assert_msg(rc == 0 && strstr(o, "refused by an admin") != NULL,
	    "object: got %d \"%s\"", rc, o);
	g_clear_pointer(&o, g_free);
	rc = admin_tool(&o, (const char *[]){"nominations", LIST, NULL});
	ck_assert_msg(rc == 0 && strstr(o, "0 open nominations") != NULL,
	    "nominations after the objection: got %d \"%s\"", rc, o);
	want_no_member("mallory@");
}
END_TEST

START_TEST(vouch_of_a_removed_member_no_longer_counts)
{
	g_autofree char *vouch = g_strdup_printf("vouch mallory@example.com %s\n",
	    fpr_of("mallory"));
	g_autoptr(GBytes) by_carol = signed_by("carol", vouch, NULL, NULL);
	g_autoptr(GBytes) remove = signed_by("alice",
	    "remove-member carol@example.net\n", NULL, "-1 minute");
	g_autoptr(GBytes) by_alice = signed_by("alice", vouch, NULL, NULL);

	nominate_mallory();
	feed_ok("carol's vouch", by_carol);
	want_reply("carol", "carol@example.net", "1 of 2 vouches");
	feed_ok("carol removed", remove);
	clear_out();
	feed_ok("alice's vouch", by_alice);
	want_reply("alice", "alice@example.org", "1 of 2 vouches");
	want_no_member("mallory@");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("request");
	TCase *tc = tcase_create("request");

	setlocale(LC_ALL, "");
	gpgme_check_version(NULL);
	g_mime_init();
	opmf_log_init("openpgp-milter-test", FALSE, TRUE);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, TU_GPG_TIMEOUT);
	tcase_add_test(tc, admin_adds_a_member_who_then_posts);
	tcase_add_test(tc, member_rotates_the_key);
	tcase_add_loop_test(tc, forged_commands_are_refused_in_smtp, 0,
	    G_N_ELEMENTS(forged));
	tcase_add_test(tc, replay_is_refused_and_changes_nothing);
	tcase_add_test(tc, a_bad_line_fails_the_whole_mail);
	tcase_add_test(tc, anyone_gets_the_list_key_unsigned);
	tcase_add_test(tc, the_list_key_goes_once_a_day_to_an_address);
	tcase_add_test(tc, admin_key_pins_the_admin);
	tcase_add_test(tc, vouched_candidate_joins_and_posts);
	tcase_add_test(tc, refused_vouches_add_nobody);
	tcase_add_test(tc, admin_objection_stops_a_vouched_nomination);
	tcase_add_test(tc, nomination_expires);
	tcase_add_test(tc, nominations_need_admission_vouch);
	tcase_add_test(tc, nomination_key_must_pass);
	tcase_add_test(tc, host_lists_approves_and_objects);
	tcase_add_test(tc, host_objection_ends_a_nomination);
	tcase_add_test(tc, vouch_of_a_removed_member_no_longer_counts);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
