/*
 * NAME
 *	test_threads - posts on several connections at once, with reloads
 * DESCRIPTION
 *	libmilter runs each connection in its own thread.  Four threads feed
 *	distinct signed posts through the very callbacks the daemon
 *	registers (the -t seam), while a fifth thread reloads the
 *	configuration over and over, as SIGHUP does.  Every post must be
 *	accepted and produce exactly one copy per member who can receive;
 *	a replayed post must be refused on every thread.  CI also runs this
 *	program built with ThreadSanitizer.
 */
#include "config.h"

#include <locale.h>

#include "tutil.h"
#include "member.h"
#include "opmf.h"

#define THREADS 4
#define POSTS 3 /* per thread */

static char *tmp;
static char *outdir;
static GBytes *posts[THREADS][POSTS];
static char *conf_path;
static volatile gint stop_reloading;

typedef struct {
	int id;
	int accepted;
	int replays_refused;
	char *failure;
} Worker;

static gpointer
post_thread(gpointer data)
{
	Worker *w = data;
	g_autofree char *rcpt = g_strdup("secir@lists.example.org");
	char *rcpts[] = {rcpt, NULL};

	for (int i = 0; i < POSTS && w->failure == NULL; i++) {
		OpmfTestResult res = {0};

		opmf_test_message(posts[w->id][i], rcpts, &res);
		if (res.rc == SMFIS_DISCARD)
			w->accepted++;
		else
			w->failure = g_strdup_printf("post %d.%d: got %d %s %s %s, "
			    "want accepted (discard)", w->id, i, res.rc,
			    res.rcode, res.xcode, res.text);
		opmf_test_result_clear(&res);
	}
	/* the first post again: a replay, refused */
	if (w->failure == NULL) {
		OpmfTestResult res = {0};

		opmf_test_message(posts[w->id][0], rcpts, &res);
		if (res.rc == SMFIS_REJECT && g_strcmp0(res.xcode, "5.7.5") == 0)
			w->replays_refused++;
		else
			w->failure = g_strdup_printf("replay %d: got %d %s %s, want "
			    "REJECT 5.7.5", w->id, res.rc, res.rcode, res.xcode);
		opmf_test_result_clear(&res);
	}
	return NULL;
}

static gpointer
reload_thread(gpointer data)
{
	int *reloads = data;

	while (!g_atomic_int_get(&stop_reloading)) {
		g_autoptr(GError) error = NULL;
		OpmConfig *c = opmf_conf_load(conf_path, &error);

		if (c != NULL) {
			opmf_conf_set(c);
			(*reloads)++;
		}
		g_usleep(20000);
	}
	return NULL;
}

START_TEST(parallel_posts_and_reloads)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *state = NULL;
	g_autofree char *home = NULL;
	g_autofree char *list = NULL;
	g_autofree char *method = NULL;
	g_autofree char *text = NULL;
	Worker workers[THREADS];
	GThread *threads[THREADS];
	GThread *reloader;
	int reloads = 0;
	OpmConfig *c;
	g_autoptr(GDir) d = NULL;
	GHashTable *per_rcpt;
	const char *name;
	guint files = 0;

	tmp = tu_tmpdir("threads");
	state = g_build_filename(tmp, "state", NULL);
	home = g_build_filename(tmp, "gnupg-list", NULL);
	outdir = g_build_filename(tmp, "out", NULL);
	list = g_build_filename(tmp, "list.conf", NULL);
	conf_path = g_build_filename(tmp, "openpgp-milter.conf", NULL);
	{
		g_autofree char *src = tu_fixture("gnupg-list");
		g_autofree char *lc = tu_fixture("lists/secir.conf");

		tu_copy_home(src, home);
		text = tu_read(lc);
	}
	{
		g_autofree char *a = tu_replace(text, "GnupgHome ", "#GnupgHome ");

		tu_write(list, "%sGnupgHome %s\n", a, home);
	}
	tu_write(conf_path, "StateDirectory %s\nList %s\n", state, list);

	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < POSTS; i++) {
			static const char *signers[] = {"alice", "bob", "carol",
			    "frank"};
			g_autofree char *body = g_strdup_printf("thread %d post %d",
			    t, i);
			const char *opts[] = {"--signer", signers[t], "--body",
			    body, NULL};

			posts[t][i] = tu_mkpost(tmp, opts);
		}

	c = opmf_conf_load(conf_path, &error);
	ck_assert_msg(c != NULL, "load: %s", error != NULL ? error->message : "");
	opmf_conf_set(c);
	method = g_strconcat("dir:", outdir, NULL);
	opmf_test_init(method, TRUE);

	reloader = g_thread_new("reload", reload_thread, &reloads);
	for (int t = 0; t < THREADS; t++) {
		workers[t] = (Worker){t, 0, 0, NULL};
		threads[t] = g_thread_new("post", post_thread, &workers[t]);
	}
	for (int t = 0; t < THREADS; t++)
		g_thread_join(threads[t]);
	g_atomic_int_set(&stop_reloading, 1);
	g_thread_join(reloader);

	for (int t = 0; t < THREADS; t++) {
		ck_assert_msg(workers[t].failure == NULL, "%s", workers[t].failure);
		ck_assert_int_eq(workers[t].accepted, POSTS);
		ck_assert_int_eq(workers[t].replays_refused, 1);
	}
	ck_assert_msg(reloads > 0, "got no reload during the posts, want some");

	/* dir: names a second file for the same recipient ADDRESS.2, ... */
	per_rcpt = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	d = g_dir_open(outdir, 0, &error);
	ck_assert_msg(d != NULL, "%s", error != NULL ? error->message : "");
	while ((name = g_dir_read_name(d)) != NULL) {
		g_autofree char *addr = g_strdup(name);
		char *dot = strrchr(addr, '.');

		if (dot != NULL && g_ascii_isdigit(dot[1]))
			*dot = '\0';
		g_hash_table_replace(per_rcpt, g_strdup(addr), GINT_TO_POINTER(
		    GPOINTER_TO_INT(g_hash_table_lookup(per_rcpt, addr)) + 1));
		files++;
	}
	/* 5 copies, 2 notices and 1 admin notice per post */
	ck_assert_msg(files == THREADS * POSTS * 8, "got %u files, want %d",
	    files, THREADS * POSTS * 8);
	ck_assert_int_eq(g_hash_table_size(per_rcpt), 8);
	{
		GHashTableIter it;
		gpointer k, v;

		g_hash_table_iter_init(&it, per_rcpt);
		while (g_hash_table_iter_next(&it, &k, &v))
			ck_assert_msg(GPOINTER_TO_INT(v) == THREADS * POSTS,
			    "%s: got %d messages, want %d", (char *)k,
			    GPOINTER_TO_INT(v), THREADS * POSTS);
	}
	g_hash_table_unref(per_rcpt);
	opmf_conf_set(NULL);
	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < POSTS; i++)
			g_bytes_unref(posts[t][i]);
	tu_gpg_kill(home);
	g_free(conf_path);
	g_free(outdir);
}
END_TEST

/* The armored public key of a fixture person from the list's home copy.
 * (transfer full) */
static GBytes *
public_key(const char *home, const char *name)
{
	g_autofree char *fpr = tu_fpr(name);
	gpgme_ctx_t ctx = NULL;
	gpgme_data_t d = NULL;
	size_t n = 0;
	char *p;
	GBytes *b;

	ck_assert(gpgme_new(&ctx) == 0 &&
	    gpgme_ctx_set_engine_info(ctx, GPGME_PROTOCOL_OpenPGP, NULL,
	    home) == 0 && gpgme_data_new(&d) == 0);
	gpgme_set_armor(ctx, 1);
	ck_assert(gpgme_op_export(ctx, fpr, 0, d) == 0);
	p = gpgme_data_release_and_get_mem(d, &n);
	ck_assert_msg(n > 0, "no key %s in %s", fpr, home);
	b = g_bytes_new(p, n);
	gpgme_free(p);
	gpgme_release(ctx);
	return b;
}

/* A membership change made beside the running callbacks applies to the
 * next transaction, with no reload asked for. */
START_TEST(membership_change_applies_to_the_next_post)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *home = NULL;
	g_autofree char *list = NULL;
	g_autofree char *members = NULL;
	g_autofree char *method = NULL;
	g_autofree char *text = NULL;
	g_autofree char *copy = NULL;
	g_autoptr(GBytes) post1 = NULL;
	g_autoptr(GBytes) post2 = NULL;
	g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)opm_change_free);
	g_autoptr(GBytes) key = NULL;
	char rcpt[] = "secir@lists.example.org";
	char *rcpts[] = {rcpt, NULL};
	OpmfTestResult res = {0};
	OpmConfig *c;
	const char *opts1[] = {"--signer", "mallory", "--from",
	    "mallory@example.com", "--body", "first", NULL};
	const char *opts2[] = {"--signer", "mallory", "--from",
	    "mallory@example.com", "--body", "second", NULL};

	tmp = tu_tmpdir("pickup");
	home = g_build_filename(tmp, "gnupg-list", NULL);
	outdir = g_build_filename(tmp, "out", NULL);
	list = g_build_filename(tmp, "list.conf", NULL);
	members = g_build_filename(tmp, "members", NULL);
	conf_path = g_build_filename(tmp, "openpgp-milter.conf", NULL);
	{
		g_autofree char *src = tu_fixture("gnupg-list");
		g_autofree char *lc = tu_fixture("lists/secir.conf");
		g_autofree char *ms = tu_fixture("members");
		g_autofree char *mt = tu_read(ms);
		g_autofree char *a = NULL;
		g_autofree char *b = NULL;

		tu_copy_home(src, home);
		tu_write(members, "%s", mt);
		text = tu_read(lc);
		a = tu_replace(text, "GnupgHome ", "#GnupgHome ");
		b = tu_replace(a, "MembersFile ", "#MembersFile ");
		tu_write(list, "%sGnupgHome %s\nMembersFile %s\n", b, home,
		    members);
	}
	tu_write(conf_path, "StateDirectory %s/state\nList %s\n", tmp, list);
	post1 = tu_mkpost(tmp, opts1);
	post2 = tu_mkpost(tmp, opts2);
	c = opmf_conf_load(conf_path, &error);
	ck_assert_msg(c != NULL, "load: %s", error != NULL ? error->message : "");
	opmf_conf_set(c);
	method = g_strconcat("dir:", outdir, NULL);
	opmf_test_init(method, TRUE);

	opmf_test_message(post1, rcpts, &res);
	ck_assert_msg(res.rc == SMFIS_REJECT && g_strcmp0(res.xcode, "5.7.1") ==
	    0, "mallory before she is a member: got %d %s, want REJECT 5.7.1",
	    res.rc, res.xcode);
	opmf_test_result_clear(&res);

	key = public_key(home, "mallory");
	g_ptr_array_add(changes, opm_change_new(OPM_CHANGE_ADD,
	    "mallory@example.com", NULL, NULL, key));
	c = opmf_conf_get();
	ck_assert_msg(opm_member_apply(c, opm_conf_find_list(c, rcpt), changes,
	    FALSE, g_get_real_time() / G_USEC_PER_SEC, NULL, &error),
	    "add-member: %s", error != NULL ? error->message : "");
	opm_conf_unref(c);

	opmf_test_message(post2, rcpts, &res);
	ck_assert_msg(res.rc == SMFIS_DISCARD, "mallory's next post: got %d %s "
	    "%s, want accepted", res.rc, res.xcode, res.text);
	opmf_test_result_clear(&res);
	copy = g_build_filename(outdir, "mallory@example.com", NULL);
	ck_assert_msg(g_file_test(copy, G_FILE_TEST_EXISTS), "mallory got no "
	    "copy of her own post: the new member is not on the list");
	opmf_conf_set(NULL);
	tu_gpg_kill(home);
	g_clear_pointer(&conf_path, g_free);
	g_clear_pointer(&outdir, g_free);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("threads");
	TCase *tc = tcase_create("threads");

	setlocale(LC_ALL, "");
	gpgme_check_version(NULL);
	g_mime_init();
	opmf_log_init("openpgp-milter-test", FALSE, TRUE);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, parallel_posts_and_reloads);
	tcase_add_test(tc, membership_change_applies_to_the_next_post);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
