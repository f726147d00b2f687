/*
 * NAME
 *	test_expiry - unit tests of lib/expiry.c, with a clock of the test's
 * DESCRIPTION
 *	A copy of the fixture list, alice its admin, and kim, a member whose
 *	key (made here) expires in 40 days.  opm_expiry_run() is called at
 *	moments the test chooses, relative to that expiry, with the state
 *	directory kept between calls and the configuration loaded afresh
 *	where a restart would: each of the times 30d, 7d and 1d brings kim
 *	exactly one reminder, encrypted to kim's key and telling how to
 *	send update-key, and alice one summary; nothing is sent between the
 *	times, again at the same time, after a restart, or after expiry.  A
 *	member first seen 5 days before expiry gets one reminder, not
 *	three; an extended key starts afresh.
 */
#include "config.h"

#include <locale.h>
#include <string.h>

#include "tutil.h"

#include "audit.h"
#include "expiry.h"
#include "keys.h"
#include "member.h"

#define LIST "secir@lists.example.org"
#define DAY (24 * 3600)

static char *tmp;
static char *gen;
static char *out;
static char *conf_path;
static char *state;
static OpmConfig *conf;
static OpmList *list;
static OpmInjector *inj;
static gint64 expires; /* kim's key */

static void
load(void)
{
	g_autoptr(GError) error = NULL;

	g_clear_pointer(&conf, opm_conf_unref);
	conf = opm_conf_load(conf_path, &error);
	ck_assert_msg(conf != NULL, "%s", error != NULL ? error->message : "");
	list = opm_conf_find_list(conf, LIST);
	ck_assert(list != NULL);
	ck_assert_msg(opm_keys_load(list, &error), "%s",
	    error != NULL ? error->message : "");
}

static void
gpg(const char *args)
{
	g_autofree char *cmd = g_strdup_printf("gpg --homedir %s --batch "
	    "--pinentry-mode loopback --passphrase '' %s", gen, args);
	int st = 0;

	ck_assert_msg(g_spawn_command_line_sync(cmd, NULL, NULL, &st, NULL) &&
	    st == 0, "%s failed", cmd);
}

static char *
gen_fpr(void)
{
	g_auto(gpgme_ctx_t) ctx = tu_gpg_context(gen);
	gpgme_key_t k = NULL;
	char *f;

	ck_assert(gpgme_op_keylist_start(ctx, NULL, 0) == 0 &&
	    gpgme_op_keylist_next(ctx, &k) == 0);
	f = g_ascii_strup(k->fpr, -1);
	gpgme_key_unref(k);
	(void)gpgme_op_keylist_end(ctx);
	return f;
}

static GBytes *
gen_export(const char *fpr)
{
	g_auto(gpgme_ctx_t) ctx = tu_gpg_context(gen);
	gpgme_data_t d = NULL;
	size_t n = 0;
	char *p;
	GBytes *b;

	gpgme_set_armor(ctx, 1);
	ck_assert(gpgme_data_new(&d) == 0 &&
	    gpgme_op_export(ctx, fpr, 0, d) == 0);
	p = gpgme_data_release_and_get_mem(d, &n);
	b = g_bytes_new(p, n);
	gpgme_free(p);
	return b;
}

static void
apply(OpmChangeOp op, GBytes *key)
{
	g_autoptr(GPtrArray) ch = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)opm_change_free);
	g_autoptr(GError) error = NULL;

	g_ptr_array_add(ch, opm_change_new(op, "kim@example.org", NULL, "Kim",
	    key));
	ck_assert_msg(opm_member_apply(conf, list, ch, FALSE,
	    g_get_real_time() / G_USEC_PER_SEC, NULL, &error), "%s: %s",
	    opm_change_op_name(op), error != NULL ? error->message : "");
	load();
}

static void
setup(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *src = tu_fixture("gnupg-list");
	g_autofree char *home = NULL;
	g_autofree char *members = NULL;
	g_autofree char *lconf = NULL;
	g_autofree char *method = NULL;
	g_autofree char *fpr = NULL;
	g_autoptr(GBytes) key = NULL;

	tmp = tu_tmpdir("expiry");
	home = g_build_filename(tmp, "gnupg-list", NULL);
	gen = g_build_filename(tmp, "gen", NULL);
	out = g_build_filename(tmp, "out", NULL);
	state = g_build_filename(tmp, "state", NULL);
	members = g_build_filename(tmp, "members", NULL);
	lconf = g_build_filename(tmp, "list.conf", NULL);
	conf_path = g_build_filename(tmp, "openpgp-milter.conf", NULL);
	tu_copy_home(src, home);
	ck_assert(g_mkdir_with_parents(gen, 0700) == 0 &&
	    g_mkdir_with_parents(out, 0700) == 0);
	{
		g_autofree char *a = tu_fpr("alice");
		g_autofree char *b = tu_fpr("bob");
		g_autofree char *l = tu_fpr("list");

		tu_write(members, "alice@example.org %s\nbob@example.org %s\n",
		    a, b);
		tu_write(lconf, "Address %s\nGnupgHome %s\nListKey %s\n"
		    "MembersFile %s\nAdmin alice@example.org\n", LIST, home, l,
		    members);
	}
	tu_write(conf_path, "StateDirectory %s\nList %s\n", state, lconf);
	gpg("--quick-gen-key 'Kim <kim@example.org>' ed25519 sign 40d");
	fpr = gen_fpr();
	{
		g_autofree char *a = g_strdup_printf("--quick-add-key %s cv25519 "
		    "encr 40d", fpr);

		gpg(a);
	}
	load();
	key = gen_export(fpr);
	apply(OPM_CHANGE_ADD, key);
	expires = opm_member_key_expires(opm_list_find_member(list, NULL,
	    "kim@example.org")->key);
	ck_assert_msg(expires > 0, "kim's key does not expire");
	method = g_strconcat("dir:", out, NULL);
	inj = opm_injector_new(method, &error);
	ck_assert(inj != NULL);
}

static void
teardown(void)
{
	g_clear_pointer(&inj, opm_injector_free);
	g_clear_pointer(&conf, opm_conf_unref);
	tu_gpg_kill_all(tmp);
	tu_rmtree(tmp);
	g_clear_pointer(&tmp, g_free);
	g_clear_pointer(&gen, g_free);
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&state, g_free);
	g_clear_pointer(&conf_path, g_free);
}

/* Messages in out for address (the injector names them ADDRESS,
 * ADDRESS.2, ...). */
static guint
count(const char *address)
{
	GDir *d = g_dir_open(out, 0, NULL);
	const char *n;
	guint c = 0;

	while (d != NULL && (n = g_dir_read_name(d)) != NULL)
		if (g_str_has_prefix(n, address) && (n[strlen(address)] == '\0' ||
		    n[strlen(address)] == '.'))
			c++;
	if (d != NULL)
		g_dir_close(d);
	return c;
}

static void
run_at(gint64 t, guint want_reminders)
{
	OpmExpiryStats st;
	g_autoptr(GError) error = NULL;

	ck_assert_msg(opm_expiry_run(state, list, inj, t, &st, &error), "%s",
	    error != NULL ? error->message : "");
	ck_assert_msg(st.reminders == want_reminders, "%.1f days before "
	    "expiry: got %u reminders, want %u",
	    (double)(expires - t) / DAY, st.reminders, want_reminders);
	ck_assert_msg(st.summaries == want_reminders, "%.1f days before "
	    "expiry: got %u admin summaries, want %u",
	    (double)(expires - t) / DAY, st.summaries, want_reminders);
}

START_TEST(each_time_reminds_once)
{
	run_at(expires - 35 * DAY, 0);
	run_at(expires - 29 * DAY, 1);
	run_at(expires - 29 * DAY, 0);
	run_at(expires - 20 * DAY, 0);
	load(); /* a restart */
	run_at(expires - 10 * DAY, 0);
	run_at(expires - 6 * DAY, 1);
	load();
	run_at(expires - 6 * DAY + 3600, 0);
	run_at(expires - DAY / 2, 1);
	run_at(expires - DAY / 4, 0);
	run_at(expires + DAY, 0);
	ck_assert_msg(count("kim@example.org") == 3, "kim got %u messages, "
	    "want 3", count("kim@example.org"));
	ck_assert_msg(count("alice@example.org") == 3, "alice got %u "
	    "summaries, want 3", count("alice@example.org"));
	ck_assert_msg(count("bob@example.org") == 0, "bob, whose key does not "
	    "expire, got %u messages", count("bob@example.org"));
	{
		g_autofree char *f = g_build_filename(out, "kim@example.org",
		    NULL);
		g_autofree char *text = NULL;
		g_autofree char *plain = NULL;
		const char *arm;
		g_auto(gpgme_ctx_t) ctx = tu_gpg_context(gen);
		gpgme_data_t c = NULL, p = NULL;
		gpgme_error_t err;
		size_t n = 0;
		char *buf;

		ck_assert(g_file_get_contents(f, &text, NULL, NULL));
		arm = strstr(text, "-----BEGIN PGP MESSAGE");
		ck_assert_msg(arm != NULL && strstr(text, "update-key") == NULL,
		    "the reminder is not encrypted");
		ck_assert(gpgme_data_new_from_mem(&c, arm, strlen(arm), 1) == 0 &&
		    gpgme_data_new(&p) == 0);
		err = gpgme_op_decrypt(ctx, c, p);
		gpgme_data_release(c);
		buf = gpgme_data_release_and_get_mem(p, &n);
		ck_assert_msg(err == 0, "kim cannot decrypt the reminder: %s",
		    gpgme_strerror(err));
		plain = g_strndup(buf, n);
		gpgme_free(buf);
		ck_assert_msg(strstr(plain, "expires in 29 days") != NULL &&
		    strstr(plain, "update-key FINGERPRINT") != NULL &&
		    strstr(plain, "secir-request@lists.example.org") != NULL,
		    "the reminder: got\n%s", plain);
	}
}
END_TEST

START_TEST(late_member_gets_one_reminder)
{
	run_at(expires - 5 * DAY, 1);
	run_at(expires - 4 * DAY, 0);
	run_at(expires - DAY / 2, 1);
	ck_assert_int_eq(count("kim@example.org"), 2);
}
END_TEST

START_TEST(extended_key_starts_afresh)
{
	g_autofree char *fpr = gen_fpr();
	g_autofree char *a = g_strdup_printf("--quick-set-expire %s 60d", fpr);
	g_autofree char *b = g_strdup_printf("--quick-set-expire %s 60d '*'",
	    fpr);
	g_autoptr(GBytes) key = NULL;
	gint64 old = expires;

	run_at(expires - 6 * DAY, 1);
	gpg(a);
	gpg(b);
	key = gen_export(fpr);
	apply(OPM_CHANGE_SET_KEY, key);
	expires = opm_member_key_expires(opm_list_find_member(list, NULL,
	    "kim@example.org")->key);
	ck_assert_msg(expires > old, "the expiry did not move: %" G_GINT64_FORMAT
	    " then %" G_GINT64_FORMAT, old, expires);
	/* the new date: nothing before 30 days, then the 30d reminder again */
	run_at(expires - 40 * DAY, 0);
	run_at(expires - 29 * DAY, 1);
	run_at(expires - 28 * DAY, 0);
}
END_TEST

START_TEST(inactive_member_reminds_the_admins_once)
{
	g_autoptr(GError) error = NULL;
	guint n = 99;
	static const struct {
		gint64 at;   /* from kim's expiry */
		guint want;
	} steps[] = {
		{-DAY, 0},            /* active */
		{1, 0},               /* inactive from now on */
		{29 * DAY, 0},
		{30 * DAY + 2, 1},    /* InactiveReminder 30d */
		{31 * DAY, 0},        /* never twice */
	};

	for (guint i = 0; i < G_N_ELEMENTS(steps); i++) {
		ck_assert_msg(opm_expiry_inactive(state, list, inj,
		    expires + steps[i].at, &n, &error), "%s",
		    error != NULL ? error->message : "");
		ck_assert_msg(n == steps[i].want, "at expiry%+" G_GINT64_FORMAT
		    "s: got %u reminded, want %u", steps[i].at, n,
		    steps[i].want);
	}
	ck_assert_uint_eq(count("alice@example.org"), 1);
	ck_assert_uint_eq(count("kim@example.org"), 0);
	/* a restart sends nothing again */
	load();
	ck_assert(opm_expiry_inactive(state, list, inj, expires + 40 * DAY, &n,
	    &error));
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(count("alice@example.org"), 1);
	/* -n shows kim as inactive */
	{
		g_autoptr(GPtrArray) problems = opm_audit_list(list,
		    expires + 1);
		gboolean seen = FALSE;

		for (guint i = 0; i < problems->len; i++) {
			OpmProblem *p = g_ptr_array_index(problems, i);

			seen |= strstr(p->text, "kim@example.org") != NULL &&
			    strstr(p->text, "inactive (its key can no longer "
			    "sign or encrypt)") != NULL;
		}
		ck_assert_msg(seen, "-n does not call kim inactive");
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("expiry");
	TCase *tc = tcase_create("expiry");

	setlocale(LC_ALL, "");
	gpgme_check_version(NULL);
	g_mime_init();
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, TU_GPG_TIMEOUT);
	tcase_add_test(tc, each_time_reminds_once);
	tcase_add_test(tc, late_member_gets_one_reminder);
	tcase_add_test(tc, extended_key_starts_afresh);
	tcase_add_test(tc, inactive_member_reminds_the_admins_once);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
