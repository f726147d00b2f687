/*
 * NAME
 *	test_replay - unit tests of the replay cache and fan-out journal
 *	(lib/journal.c)
 * DESCRIPTION
 *	In a temporary state directory: the key of a post, and the life of
 *	its entry.  A post that was distributed is a replay for the done
 *	lifetime, then new again; an unfinished one is a retry that keeps
 *	the copies already recorded; an entry being fanned out is busy;
 *	a forgotten one is new; concurrent openers fan a post out once; a
 *	state directory that cannot be used is an error (which the milter
 *	turns into a temporary failure).
 */
#include "config.h"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tutil.h"

#include "journal.h"

#define LIST "secir@lists.example.org"
#define FPR "0123456789ABCDEF0123456789ABCDEF01234567"
#define T0 G_GINT64_CONSTANT(1767225600) /* 2026-01-01 00:00 UTC */
#define DAY 86400
#define DONE_LIFE (30 * DAY)
#define PENDING_LIFE (10 * DAY)

static char *tmp;

static void
setup(void)
{
	tmp = tu_tmpdir("opm-replay");
}

static void
teardown(void)
{
	tu_rmtree(tmp);
	g_clear_pointer(&tmp, g_free);
}

static char *
key_of(const char *list, const char *fpr, gint64 t, const char *data)
{
	g_autoptr(GBytes) b = tu_bytes(data);

	return opm_journal_key(list, fpr, t, b);
}

static const char *
state_name(OpmPostState s)
{
	switch (s) {
	case OPM_POST_NEW: return "NEW";
	case OPM_POST_PENDING: return "PENDING";
	case OPM_POST_BUSY: return "BUSY";
	case OPM_POST_DONE: return "DONE";
	case OPM_POST_ERROR: return "ERROR";
	}
	return "?";
}

#define WANT(got, want, what) \
	ck_assert_msg((got) == (want), "%s: got %s, want %s", (what), \
	    state_name(got), state_name(want))

/* ------------------------------------------------------------------ */
/* the key                                                            */

START_TEST(key_is_stable_hex)
{
	g_autofree char *a = key_of(LIST, FPR, T0, "signed bytes\r\n");
	g_autofree char *b = key_of(LIST, FPR, T0, "signed bytes\r\n");

	ck_assert_msg(strcmp(a, b) == 0, "same inputs: got %s and %s, want "
	    "equal keys", a, b);
	ck_assert_msg(strlen(a) == 64, "key length: got %zu, want 64 (hex "
	    "SHA-256)", strlen(a));
	for (const char *p = a; *p != '\0'; p++)
		ck_assert_msg(g_ascii_isxdigit(*p) && !g_ascii_isupper(*p),
		    "key %s: got '%c', want lower-case hex only", a, *p);
}
END_TEST

static const struct {
	const char *name;
	const char *list, *fpr;
	gint64 t;
	const char *data;
} variants[] = {
	{"another list", "ops@lists.example.org", FPR, T0, "signed bytes\r\n"},
	{"another signer", LIST, "1123456789ABCDEF0123456789ABCDEF01234567", T0,
	    "signed bytes\r\n"},
	{"a second later", LIST, FPR, T0 + 1, "signed bytes\r\n"},
	{"one byte changed", LIST, FPR, T0, "signed bytez\r\n"},
	{"LF instead of CRLF", LIST, FPR, T0, "signed bytes\n"},
	{"empty signed data", LIST, FPR, T0, ""},
	/* fields must not run into each other */
	{"list and signer shifted", "secir@lists.example.org0",
	    "123456789ABCDEF0123456789ABCDEF01234567", T0, "signed bytes\r\n"},
};

START_TEST(key_depends_on_every_input)
{
	g_autofree char *base = key_of(LIST, FPR, T0, "signed bytes\r\n");
	g_autofree char *other = key_of(variants[_i].list, variants[_i].fpr,
	    variants[_i].t, variants[_i].data);

	ck_assert_msg(strcmp(base, other) != 0, "%s: got the same key %s, "
	    "want a different one", variants[_i].name, other);
}
END_TEST

/* ------------------------------------------------------------------ */
/* entries                                                            */

static OpmPostState
peek(const char *state, const char *list, const char *key, gint64 now,
    gint64 *when)
{
	g_autoptr(GError) error = NULL;
	OpmPostState st = opm_journal_peek(state, list, key, now, DONE_LIFE,
	    PENDING_LIFE, when, &error);

	if (st == OPM_POST_ERROR)
		ck_assert_msg(error != NULL, "ERROR without an error set");
	else
		ck_assert_msg(error == NULL, "got error \"%s\" with %s",
		    error->message, state_name(st));
	return st;
}

static OpmJournal *
open_ok(const char *state, const char *list, const char *key, gint64 now)
{
	g_autoptr(GError) error = NULL;
	OpmJournal *j = opm_journal_open(state, list, key, now, DONE_LIFE,
	    PENDING_LIFE, &error);

	ck_assert_msg(j != NULL, "opm_journal_open: got error \"%s\", want an "
	    "entry", error != NULL ? error->message : "(none)");
	return j;
}

/* Open, mark done at now, close: what a completed fan-out leaves. */
static void
distribute(const char *state, const char *list, const char *key, gint64 now)
{
	g_autoptr(GError) error = NULL;
	OpmJournal *j = open_ok(state, list, key, now);

	WANT(opm_journal_state(j), OPM_POST_NEW, "opening a new post");
	ck_assert_msg(opm_journal_finish(j, now, &error),
	    "opm_journal_finish: got error \"%s\"", error->message);
	WANT(opm_journal_state(j), OPM_POST_DONE, "state after finish");
	opm_journal_close(j);
}

START_TEST(peek_changes_nothing)
{
	g_autofree char *state = g_build_filename(tmp, "state", NULL);
	g_autofree char *key = key_of(LIST, FPR, T0, "post");

	WANT(peek(state, LIST, key, T0, NULL), OPM_POST_NEW,
	    "peek in a state directory that does not exist");
	ck_assert_msg(!g_file_test(state, G_FILE_TEST_EXISTS),
	    "peek: got %s created, want nothing written", state);
	WANT(peek(state, LIST, key, T0, NULL), OPM_POST_NEW, "peek again");
}
END_TEST

START_TEST(distributed_post_is_a_replay_for_its_lifetime)
{
	g_autofree char *key = key_of(LIST, FPR, T0, "post");
	static const struct {
		gint64 at;
		OpmPostState want;
		const char *what;
	} steps[] = {
		{T0, OPM_POST_DONE, "at once"},
		{T0 + 3600, OPM_POST_DONE, "an hour later"},
		{T0 + DONE_LIFE, OPM_POST_DONE, "at the end of its lifetime"},
		{T0 + DONE_LIFE + 1, OPM_POST_NEW, "a second after its lifetime"},
	};

	distribute(tmp, LIST, key, T0);
	for (gsize i = 0; i < G_N_ELEMENTS(steps); i++) {
		gint64 when = -1;
		OpmPostState st = peek(tmp, LIST, key, steps[i].at, &when);

		WANT(st, steps[i].want, steps[i].what);
		if (st == OPM_POST_DONE)
			ck_assert_msg(when == T0, "%s: distributed at %"
			    G_GINT64_FORMAT ", want %" G_GINT64_FORMAT,
			    steps[i].what, when, T0);
	}
}
END_TEST

START_TEST(expired_entry_is_taken_over)
{
	g_autofree char *key = key_of(LIST, FPR, T0, "post");
	gint64 later = T0 + DONE_LIFE + 1, when = -1;
	OpmJournal *j;

	distribute(tmp, LIST, key, T0);
	j = open_ok(tmp, LIST, key, later);
	WANT(opm_journal_state(j), OPM_POST_NEW, "opening after the lifetime");
	ck_assert_msg(opm_journal_finish(j, later, NULL), "finish failed");
	opm_journal_close(j);
	WANT(peek(tmp, LIST, key, later + 60, &when), OPM_POST_DONE,
	    "a minute after the second distribution");
	ck_assert_msg(when == later, "distributed at %" G_GINT64_FORMAT
	    ", want %" G_GINT64_FORMAT, when, later);
}
END_TEST

START_TEST(entries_are_per_post_and_per_list)
{
	g_autofree char *k1 = key_of(LIST, FPR, T0, "post 1");
	g_autofree char *k2 = key_of(LIST, FPR, T0, "post 2");

	distribute(tmp, LIST, k1, T0);
	WANT(peek(tmp, LIST, k2, T0, NULL), OPM_POST_NEW,
	    "another post of the same list");
	WANT(peek(tmp, "ops@lists.example.org", k1, T0, NULL), OPM_POST_NEW,
	    "the same key on another list");
	/* list addresses compare without regard to case */
	WANT(peek(tmp, "SECIR@Lists.Example.ORG", k1, T0, NULL), OPM_POST_DONE,
	    "the same key on the list written in upper case");
}
END_TEST

START_TEST(unfinished_post_is_a_retry_with_its_copies)
{
	g_autofree char *key = key_of(LIST, FPR, T0, "post");
	g_autoptr(GError) error = NULL;
	OpmJournal *j;
	gint64 when = -1;

	j = open_ok(tmp, LIST, key, T0);
	WANT(opm_journal_state(j), OPM_POST_NEW, "first open");
	ck_assert_msg(!opm_journal_has(j, "copy:alice@example.org"),
	    "a new post: got alice's copy recorded, want none");
	ck_assert_msg(opm_journal_record(j, "copy:alice@example.org", &error),
	    "record: got error \"%s\"", error != NULL ? error->message : "");
	opm_journal_close(j); /* the milter died here */

	WANT(peek(tmp, LIST, key, T0 + 60, &when), OPM_POST_PENDING,
	    "a minute after an interrupted fan-out");
	ck_assert_msg(when == T0, "pending since %" G_GINT64_FORMAT ", want %"
	    G_GINT64_FORMAT, when, T0);

	j = open_ok(tmp, LIST, key, T0 + 60);
	WANT(opm_journal_state(j), OPM_POST_PENDING, "reopening for the retry");
	ck_assert_msg(opm_journal_has(j, "copy:alice@example.org"),
	    "retry: got alice's copy unrecorded, want it recorded");
	ck_assert_msg(!opm_journal_has(j, "copy:bob@example.org"),
	    "retry: got bob's copy recorded, want it still to send");
	ck_assert_msg(!opm_journal_has(j, "copy:alice@example.org "),
	    "retry: got a copy ID that differs by a space recorded");
	ck_assert_msg(opm_journal_record(j, "copy:bob@example.org", NULL),
	    "record bob failed");
	ck_assert_msg(opm_journal_finish(j, T0 + 61, NULL), "finish failed");
	opm_journal_close(j);
	WANT(peek(tmp, LIST, key, T0 + 120, NULL), OPM_POST_DONE,
	    "after the retry finished");
}
END_TEST

START_TEST(unfinished_post_expires_with_its_copies)
{
	g_autofree char *key = key_of(LIST, FPR, T0, "post");
	gint64 later = T0 + PENDING_LIFE + 1;
	OpmJournal *j;

	j = open_ok(tmp, LIST, key, T0);
	ck_assert_msg(opm_journal_record(j, "copy:alice@example.org", NULL),
	    "record failed");
	opm_journal_close(j);
	WANT(peek(tmp, LIST, key, T0 + PENDING_LIFE, NULL), OPM_POST_PENDING,
	    "at the end of the pending lifetime");
	WANT(peek(tmp, LIST, key, later, NULL), OPM_POST_NEW,
	    "after the pending lifetime");
	j = open_ok(tmp, LIST, key, later);
	WANT(opm_journal_state(j), OPM_POST_NEW, "reopening an expired entry");
	ck_assert_msg(!opm_journal_has(j, "copy:alice@example.org"),
	    "an expired entry: got alice's old copy recorded, want it "
	    "forgotten");
	opm_journal_close(j);
}
END_TEST

START_TEST(open_entry_is_busy)
{
	g_autofree char *key = key_of(LIST, FPR, T0, "post");
	OpmJournal *j = open_ok(tmp, LIST, key, T0);

	WANT(peek(tmp, LIST, key, T0, NULL), OPM_POST_BUSY,
	    "while another fan-out holds the entry");
	opm_journal_close(j);
	WANT(peek(tmp, LIST, key, T0, NULL), OPM_POST_PENDING,
	    "once the holder let go without finishing");
}
END_TEST

/* While one process fans a post out, another that opens the entry must
 * wait and then find it DONE, not go ahead and send the copies again. */
START_TEST(a_second_opener_waits_for_the_first)
{
	enum { N = 4 };
	g_autofree char *key = key_of(LIST, FPR, T0, "post");
	g_autoptr(GString) got = g_string_new(NULL);
	OpmJournal *j;
	pid_t pids[N];
	int go[2], dones = 0;

	/* the openers are forked first: a child must not inherit the
	 * holder's locked descriptor, which would keep the lock alive */
	ck_assert_msg(pipe(go) == 0, "pipe failed");
	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		ck_assert_msg(pids[i] >= 0, "fork failed");
		if (pids[i] == 0) {
			OpmJournal *c;
			OpmPostState st;
			char b;

			close(go[1]);
			if (read(go[0], &b, 1) != 1)
				_exit(99);
			c = opm_journal_open(tmp, LIST, key, T0, DONE_LIFE,
			    PENDING_LIFE, NULL);
			st = c != NULL ? opm_journal_state(c) : OPM_POST_ERROR;
			opm_journal_close(c);
			_exit((int)st);
		}
	}
	close(go[0]);
	j = open_ok(tmp, LIST, key, T0);
	WANT(opm_journal_state(j), OPM_POST_NEW, "the first opener");
	for (int i = 0; i < N; i++)
		ck_assert_msg(write(go[1], "g", 1) == 1, "write failed");
	close(go[1]);
	g_usleep(300 * 1000); /* the fan-out takes its time */
	ck_assert_msg(opm_journal_finish(j, T0, NULL), "finish failed");
	opm_journal_close(j);
	for (int i = 0; i < N; i++) {
		int status;

		ck_assert_msg(waitpid(pids[i], &status, 0) == pids[i] &&
		    WIFEXITED(status), "an opening process failed");
		if (WEXITSTATUS(status) == OPM_POST_DONE)
			dones++;
		g_string_append_printf(got, " %s",
		    state_name((OpmPostState)WEXITSTATUS(status)));
	}
	ck_assert_msg(dones == N, "%d openers while the first fans out: got%s, "
	    "want DONE for each", N, got->str);
}
END_TEST

START_TEST(forgotten_post_is_new)
{
	g_autofree char *key = key_of(LIST, FPR, T0, "post");
	g_autofree char *other = key_of(LIST, FPR, T0, "other post");
	OpmJournal *j;

	distribute(tmp, LIST, other, T0);
	j = open_ok(tmp, LIST, key, T0);
	ck_assert_msg(opm_journal_finish(j, T0, NULL), "finish failed");
	opm_journal_forget(j);
	opm_journal_close(j);
	WANT(peek(tmp, LIST, key, T0 + 1, NULL), OPM_POST_NEW,
	    "a forgotten post");
	WANT(peek(tmp, LIST, other, T0 + 1, NULL), OPM_POST_DONE,
	    "another post after the first was forgotten");
	j = open_ok(tmp, LIST, key, T0 + 2);
	WANT(opm_journal_state(j), OPM_POST_NEW, "reopening a forgotten post");
	opm_journal_close(j);
	opm_journal_close(NULL);
}
END_TEST

START_TEST(expired_entries_are_removed)
{
	/* two keys in one bucket (same first two hex digits): opening the
	 * second long after the first was distributed removes the first */
	g_autofree char *k1 = key_of(LIST, FPR, T0, "post 0");
	g_autofree char *k2 = NULL;
	g_autofree char *bucket = NULL;
	g_autofree char *d1 = NULL;
	OpmJournal *j;

	for (int i = 1; k2 == NULL && i < 100000; i++) {
		g_autofree char *data = g_strdup_printf("post %d", i);
		g_autofree char *k = key_of(LIST, FPR, T0, data);

		if (strncmp(k, k1, 2) == 0)
			k2 = g_steal_pointer(&k);
	}
	ck_assert_msg(k2 != NULL, "found no second key in the bucket");
	bucket = g_strndup(k1, 2);
	d1 = g_build_filename(tmp, "posts", LIST, bucket, k1, NULL);

	distribute(tmp, LIST, k1, T0);
	ck_assert_msg(g_file_test(d1, G_FILE_TEST_IS_DIR), "entry: got no %s, "
	    "want the entry there (STATE/posts/LIST/xx/KEY)", d1);
	j = open_ok(tmp, LIST, k2, T0 + DONE_LIFE + 10);
	opm_journal_close(j);
	ck_assert_msg(!g_file_test(d1, G_FILE_TEST_EXISTS), "expired entry: "
	    "got %s still there, want it swept", d1);
}
END_TEST

START_TEST(concurrent_openers_fan_out_once)
{
	enum { N = 8 };
	g_autofree char *key = key_of(LIST, FPR, T0, "raced post");
	pid_t pids[N];
	int news = 0, dones = 0;

	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		ck_assert_msg(pids[i] >= 0, "fork failed");
		if (pids[i] == 0) {
			OpmJournal *j = opm_journal_open(tmp, LIST, key, T0,
			    DONE_LIFE, PENDING_LIFE, NULL);
			OpmPostState st;

			if (j == NULL)
				_exit(12);
			st = opm_journal_state(j);
			if (st == OPM_POST_NEW) {
				g_usleep(20000); /* let the others queue up */
				if (!opm_journal_finish(j, T0, NULL))
					_exit(13);
			}
			opm_journal_close(j);
			_exit(st == OPM_POST_NEW ? 10 : st == OPM_POST_DONE ?
			    11 : 14);
		}
	}
	for (int i = 0; i < N; i++) {
		int status;

		ck_assert_msg(waitpid(pids[i], &status, 0) == pids[i],
		    "waitpid failed");
		ck_assert_msg(WIFEXITED(status), "an opening process crashed");
		if (WEXITSTATUS(status) == 10)
			news++;
		else if (WEXITSTATUS(status) == 11)
			dones++;
	}
	ck_assert_msg(news == 1 && dones == N - 1, "%d concurrent openers: got "
	    "%d NEW and %d DONE, want 1 and %d", N, news, dones, N - 1);
}
END_TEST

START_TEST(unusable_state_dir_is_an_error)
{
	g_autofree char *file = g_build_filename(tmp, "file", NULL);
	g_autofree char *under = g_build_filename(file, "state", NULL);
	g_autofree char *key = key_of(LIST, FPR, T0, "post");
	const char *dirs[] = {file, under};

	/* a regular file where a directory must be: fails even for root */
	tu_write(file, "not a directory\n");
	for (gsize i = 0; i < G_N_ELEMENTS(dirs); i++) {
		g_autoptr(GError) error = NULL;
		OpmJournal *j = opm_journal_open(dirs[i], LIST, key, T0,
		    DONE_LIFE, PENDING_LIFE, &error);

		ck_assert_msg(j == NULL, "state directory %s: got an entry, "
		    "want an error", dirs[i]);
		ck_assert_msg(error != NULL && error->domain == OPM_ERROR &&
		    error->code == OPM_ERROR_IO, "state directory %s: got error "
		    "\"%s\", want an OPM_ERROR_IO", dirs[i],
		    error != NULL ? error->message : "(none)");
		ck_assert_msg(*error->message != '\0', "got an empty message");
	}
}
END_TEST

static Suite *
replay_suite(void)
{
	Suite *s = suite_create("replay");
	TCase *tc;

	tc = tcase_create("key");
	tcase_add_test(tc, key_is_stable_hex);
	tcase_add_loop_test(tc, key_depends_on_every_input, 0,
	    G_N_ELEMENTS(variants));
	suite_add_tcase(s, tc);

	tc = tcase_create("entries");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, peek_changes_nothing);
	tcase_add_test(tc, distributed_post_is_a_replay_for_its_lifetime);
	tcase_add_test(tc, expired_entry_is_taken_over);
	tcase_add_test(tc, entries_are_per_post_and_per_list);
	tcase_add_test(tc, unfinished_post_is_a_retry_with_its_copies);
	tcase_add_test(tc, unfinished_post_expires_with_its_copies);
	tcase_add_test(tc, open_entry_is_busy);
	tcase_add_test(tc, a_second_opener_waits_for_the_first);
	tcase_add_test(tc, forgotten_post_is_new);
	tcase_add_test(tc, expired_entries_are_removed);
	tcase_add_test(tc, concurrent_openers_fan_out_once);
	tcase_add_test(tc, unusable_state_dir_is_an_error);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run(replay_suite());
}
