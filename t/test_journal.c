/*
 * NAME
 *	test_journal - the per-post state: replay cache and fan-out journal
 * DESCRIPTION
 *	A post is NEW until its entry is opened, PENDING while copies are
 *	queued (a retry resumes it), DONE once finished (a replay), BUSY
 *	while another process holds it, and NEW again after its lifetime.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tutil.h"
#include "journal.h"

#define LIST "secir@lists.example.org"
#define DAY (24 * 3600)

static const char *state_names[] = {"NEW", "PENDING", "BUSY", "DONE",
    "ERROR"};

static void
want_state(const char *dir, const char *key, gint64 now, OpmPostState want)
{
	g_autoptr(GError) error = NULL;
	OpmPostState got = opm_journal_peek(dir, LIST, key, now, 30 * DAY,
	    10 * DAY, NULL, &error);

	ck_assert_msg(got == want, "peek at %" G_GINT64_FORMAT ": got %s, want %s%s%s",
	    now, state_names[got], state_names[want], error != NULL ? ": " : "",
	    error != NULL ? error->message : "");
}

START_TEST(key_depends_on_every_input)
{
	g_autoptr(GBytes) a = tu_bytes("signed data");
	g_autoptr(GBytes) b = tu_bytes("signed datA");
	g_autofree char *k = opm_journal_key(LIST, "AAAA", 100, a);
	g_autofree char *same = opm_journal_key(LIST, "AAAA", 100, a);
	const struct {
		const char *list, *fpr;
		gint64 t;
		GBytes *data;
	} other[] = {
		{"other@lists.example.org", "AAAA", 100, a},
		{LIST, "BBBB", 100, a},
		{LIST, "AAAA", 101, a},
		{LIST, "AAAA", 100, b},
	};

	ck_assert_str_eq(k, same);
	ck_assert_uint_eq(strlen(k), 64);
	for (gsize i = 0; i < G_N_ELEMENTS(other); i++) {
		g_autofree char *o = opm_journal_key(other[i].list, other[i].fpr,
		    other[i].t, other[i].data);

		ck_assert_msg(strcmp(o, k) != 0, "case %zu: got the same key", i);
	}
}
END_TEST

START_TEST(new_pending_done)
{
	g_autofree char *dir = tu_tmpdir("journal");
	g_autoptr(GError) error = NULL;
	const char *key = "ab0123456789abcdef";
	OpmJournal *j;

	want_state(dir, key, 1000, OPM_POST_NEW);
	j = opm_journal_open(dir, LIST, key, 1000, 30 * DAY, 10 * DAY, &error);
	ck_assert_msg(j != NULL, "open: %s", error != NULL ? error->message : "");
	ck_assert_int_eq(opm_journal_state(j), OPM_POST_NEW);
	ck_assert(!opm_journal_has(j, "copy:alice@example.org"));
	ck_assert(opm_journal_record(j, "copy:alice@example.org", &error));
	ck_assert(opm_journal_has(j, "copy:alice@example.org"));
	ck_assert(!opm_journal_has(j, "copy:bob@example.org"));
	/* held by us: another look sees it busy */
	want_state(dir, key, 1001, OPM_POST_BUSY);
	opm_journal_close(j);

	/* crash or failure before finishing: a retry, resuming */
	want_state(dir, key, 1002, OPM_POST_PENDING);
	j = opm_journal_open(dir, LIST, key, 1002, 30 * DAY, 10 * DAY, &error);
	ck_assert_int_eq(opm_journal_state(j), OPM_POST_PENDING);
	ck_assert(opm_journal_has(j, "copy:alice@example.org"));
	ck_assert(!opm_journal_has(j, "copy:bob@example.org"));
	ck_assert(opm_journal_finish(j, 1003, &error));
	opm_journal_close(j);

	want_state(dir, key, 1004, OPM_POST_DONE);
	j = opm_journal_open(dir, LIST, key, 1005, 30 * DAY, 10 * DAY, &error);
	ck_assert_int_eq(opm_journal_state(j), OPM_POST_DONE);
	opm_journal_close(j);
	tu_rmtree(dir);
}
END_TEST

START_TEST(a_claim_is_not_a_record)
{
	g_autofree char *dir = tu_tmpdir("journal");
	g_autoptr(GError) error = NULL;
	OpmJournal *j = opm_journal_open(dir, LIST, "ab77", 1, 30 * DAY,
	    10 * DAY, &error);

	ck_assert(opm_journal_claim(j, "copy:bob@example.org", &error));
	ck_assert_msg(!opm_journal_has(j, "copy:bob@example.org"),
	    "got a claimed copy counted as sent, want not sent");
	ck_assert(opm_journal_record(j, "copy:bob@example.org", &error));
	ck_assert(opm_journal_has(j, "copy:bob@example.org"));
	opm_journal_close(j);
	tu_rmtree(dir);
}
END_TEST

/* The commit the injector's hand-over process carries out, after the
 * milter forked it: the copy counts as sent for the milter at once and
 * for a retry, and only the copies so committed do. */
START_TEST(a_commit_in_another_process_records_the_copy)
{
	g_autofree char *dir = tu_tmpdir("journal");
	g_autoptr(GError) error = NULL;
	const char *ids[] = {"copy:alice@example.org", "copy:bob@example.org",
	    "notice:dave@example.org", NULL};
	OpmCommit c = {-1, -1};
	OpmJournal *j = opm_journal_open(dir, LIST, "c0c0", 1, 30 * DAY,
	    10 * DAY, &error);
	int status;
	pid_t pid;

	ck_assert_msg(opm_journal_claim_all(j, ids, &error), "claim: %s",
	    error != NULL ? error->message : "");
	/* claiming again adds nothing */
	ck_assert(opm_journal_claim_all(j, ids, &error));
	opm_journal_commit_of(j, "copy:bob@example.org", &c);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(opm_commit_run(&c) ? 0 : 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the commit failed in the child");
	opm_commit_clear(&c);
	ck_assert_msg(opm_journal_has(j, "copy:bob@example.org"),
	    "got bob's copy unrecorded after the child's commit");
	ck_assert_msg(!opm_journal_has(j, "copy:alice@example.org") &&
	    !opm_journal_has(j, "notice:dave@example.org"),
	    "got an uncommitted claim counted as sent");
	opm_journal_close(j);

	j = opm_journal_open(dir, LIST, "c0c0", 2, 30 * DAY, 10 * DAY, &error);
	ck_assert_int_eq(opm_journal_state(j), OPM_POST_PENDING);
	ck_assert(opm_journal_has(j, "copy:bob@example.org"));
	ck_assert(!opm_journal_has(j, "copy:alice@example.org"));
	ck_assert(opm_journal_record(j, "copy:alice@example.org", &error));
	opm_journal_close(j);
	j = opm_journal_open(dir, LIST, "c0c0", 3, 30 * DAY, 10 * DAY, &error);
	ck_assert(opm_journal_has(j, "copy:alice@example.org"));
	ck_assert(opm_journal_has(j, "copy:bob@example.org"));
	ck_assert(!opm_journal_has(j, "notice:dave@example.org"));
	opm_journal_close(j);
	tu_rmtree(dir);
}
END_TEST

/* A machine that failed in the middle of appending claims leaves a line
 * cut short: it is dropped, and what was written whole still counts. */
START_TEST(a_torn_claim_is_dropped)
{
	g_autofree char *dir = tu_tmpdir("journal");
	g_autoptr(GError) error = NULL;
	g_autofree char *copies = NULL;
	g_autofree char *text = NULL;
	OpmJournal *j = opm_journal_open(dir, LIST, "d0d0", 1, 30 * DAY,
	    10 * DAY, &error);

	ck_assert(opm_journal_record(j, "copy:alice@example.org", &error));
	opm_journal_close(j);
	copies = g_build_filename(dir, "posts", LIST, "d0", "d0d0", "copies",
	    NULL);
	ck_assert_msg(g_file_get_contents(copies, &text, NULL, NULL),
	    "no copies file at %s", copies);
	tu_write(copies, "%sd copy:bob@exa", text);
	j = opm_journal_open(dir, LIST, "d0d0", 2, 30 * DAY, 10 * DAY, &error);
	ck_assert_msg(j != NULL, "open: %s", error != NULL ? error->message : "");
	ck_assert(opm_journal_has(j, "copy:alice@example.org"));
	ck_assert(!opm_journal_has(j, "copy:bob@example.org"));
	ck_assert(opm_journal_record(j, "copy:carol@example.org", &error));
	opm_journal_close(j);
	j = opm_journal_open(dir, LIST, "d0d0", 3, 30 * DAY, 10 * DAY, &error);
	ck_assert(opm_journal_has(j, "copy:alice@example.org"));
	ck_assert(opm_journal_has(j, "copy:carol@example.org"));
	ck_assert(!opm_journal_has(j, "copy:bob@example.org"));
	opm_journal_close(j);
	tu_rmtree(dir);
}
END_TEST

START_TEST(entries_expire)
{
	g_autofree char *dir = tu_tmpdir("journal");
	g_autoptr(GError) error = NULL;
	OpmJournal *j;

	/* a finished post is a replay for its lifetime, then forgotten */
	j = opm_journal_open(dir, LIST, "cd01", 0, 30 * DAY, 10 * DAY, &error);
	ck_assert(opm_journal_record(j, "copy:alice@example.org", &error));
	ck_assert(opm_journal_finish(j, 0, &error));
	opm_journal_close(j);
	want_state(dir, "cd01", 30 * DAY, OPM_POST_DONE);
	want_state(dir, "cd01", 30 * DAY + 1, OPM_POST_NEW);
	j = opm_journal_open(dir, LIST, "cd01", 30 * DAY + 1, 30 * DAY,
	    10 * DAY, &error);
	ck_assert_int_eq(opm_journal_state(j), OPM_POST_NEW);
	ck_assert_msg(!opm_journal_has(j, "copy:alice@example.org"),
	    "an expired entry kept its copy records");
	opm_journal_close(j);

	/* an unfinished one after JournalLifetime */
	j = opm_journal_open(dir, LIST, "cd02", 0, 30 * DAY, 10 * DAY, &error);
	opm_journal_close(j);
	want_state(dir, "cd02", 10 * DAY, OPM_POST_PENDING);
	want_state(dir, "cd02", 10 * DAY + 1, OPM_POST_NEW);
	tu_rmtree(dir);
}
END_TEST

START_TEST(forget_removes_the_entry)
{
	g_autofree char *dir = tu_tmpdir("journal");
	g_autoptr(GError) error = NULL;
	OpmJournal *j = opm_journal_open(dir, LIST, "ef01", 5, 30 * DAY,
	    10 * DAY, &error);

	opm_journal_forget(j);
	opm_journal_close(j);
	want_state(dir, "ef01", 6, OPM_POST_NEW);
	tu_rmtree(dir);
}
END_TEST

START_TEST(lock_is_released_when_the_holder_dies)
{
	g_autofree char *dir = tu_tmpdir("journal");
	g_autoptr(GError) error = NULL;
	int p[2], status;
	char c;
	pid_t pid;
	OpmJournal *j;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		OpmJournal *cj = opm_journal_open(dir, LIST, "aa01", 10,
		    30 * DAY, 10 * DAY, NULL);

		(void)opm_journal_record(cj, "copy:alice@example.org", NULL);
		(void)write(p[1], "x", 1);
		pause(); /* killed below, holding the lock */
		_exit(0);
	}
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	want_state(dir, "aa01", 11, OPM_POST_BUSY);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	want_state(dir, "aa01", 12, OPM_POST_PENDING);
	j = opm_journal_open(dir, LIST, "aa01", 13, 30 * DAY, 10 * DAY, &error);
	ck_assert(opm_journal_has(j, "copy:alice@example.org"));
	opm_journal_close(j);
	close(p[0]);
	close(p[1]);
	tu_rmtree(dir);
}
END_TEST

START_TEST(unusable_state_directory_is_an_error)
{
	g_autofree char *dir = tu_tmpdir("journal");
	g_autofree char *file = g_build_filename(dir, "file", NULL);
	g_autoptr(GError) error = NULL;
	OpmJournal *j;

	/* a plain file where a directory must be: fails even for root */
	tu_write(file, "not a directory\n");
	j = opm_journal_open(file, LIST, "bb01", 1, 30 * DAY, 10 * DAY, &error);
	ck_assert_msg(j == NULL, "got a journal in a file, want an error");
	ck_assert(g_error_matches(error, OPM_ERROR, OPM_ERROR_IO));
	tu_rmtree(dir);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("journal");
	TCase *tc = tcase_create("journal");

	tcase_add_test(tc, key_depends_on_every_input);
	tcase_add_test(tc, new_pending_done);
	tcase_add_test(tc, a_claim_is_not_a_record);
	tcase_add_test(tc, a_commit_in_another_process_records_the_copy);
	tcase_add_test(tc, a_torn_claim_is_dropped);
	tcase_add_test(tc, entries_expire);
	tcase_add_test(tc, forget_removes_the_entry);
	tcase_add_test(tc, lock_is_released_when_the_holder_dies);
	tcase_add_test(tc, unusable_state_directory_is_an_error);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
