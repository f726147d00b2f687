/*
 * NAME
 *	test_admission - unit tests of lib/admission.c, with a clock of the
 *	test's
 * DESCRIPTION
 *	The policy arithmetic: a candidate nominated by bob needs two vouches
 *	by others, then an admin's approval; vouches by the nominator, the
 *	candidate, twice by one member, with another fingerprint, for a
 *	member, or after expiry are refused and change no count; an admin's
 *	objection ends a nomination that had every vouch and the approval, a
 *	member's does not; a nomination expires at exactly its lifetime.
 *	The store: what is saved is read back whole by another open (a
 *	restart), nothing unsaved leaks, a second nomination of the same
 *	candidate is refused, a malformed state file is an error, not an
 *	empty list.
 */
#include "config.h"

#include <locale.h>
#include <string.h>

#include "tutil.h"

#include "admission.h"

#define DAY (24 * 3600)
#define T0 G_GINT64_CONSTANT(1800000000)
#define FPR "0123456789ABCDEF0123456789ABCDEF01234567"
#define OTHER "76543210FEDCBA9876543210FEDCBA9876543210"

static const OpmAdmissionPolicy policy = {TRUE, 2, TRUE, 30 * DAY, TRUE};

static OpmNomination *
nominate(void)
{
	g_autoptr(GBytes) key = g_bytes_new_static("key", 3);

	return opm_nomination_new("kim@Example.ORG", FPR, "Kim", "bob@example.org",
	    key, T0);
}

static void
want_state(const OpmAdmissionPolicy *p, const OpmNomination *n, gint64 t,
    OpmNominationState want)
{
	OpmNominationState got = opm_nomination_state(p, n, t);

	ck_assert_msg(got == want, "state at T0%+" G_GINT64_FORMAT "s: got %d, "
	    "want %d", t - T0, got, want);
}

static void
want_refused(gboolean ok, GError **error, const char *text)
{
	/* error is read here, after the call in the argument list */
	ck_assert_msg(!ok, "accepted, want refused with \"%s\"", text);
	ck_assert_msg(*error != NULL && strstr((*error)->message, text) != NULL,
	    "got \"%s\", want \"%s\"", *error != NULL ? (*error)->message :
	    "", text);
	g_clear_error(error);
}

START_TEST(threshold_then_approval)
{
	g_autoptr(OpmNomination) n = nominate();
	g_autoptr(GError) error = NULL;

	ck_assert_str_eq(n->address, "kim@example.org");
	want_state(&policy, n, T0, OPM_NOMINATION_OPEN);
	ck_assert(opm_nomination_vouch(&policy, n, "carol@example.net", FPR,
	    FALSE, T0 + 10, &error));
	want_state(&policy, n, T0 + 10, OPM_NOMINATION_OPEN);
	ck_assert(opm_nomination_vouch(&policy, n, "frank@example.org", FPR,
	    FALSE, T0 + 20, &error));
	ck_assert_uint_eq(opm_nomination_count(n), 2);
	/* enough vouches, but no approval yet */
	want_state(&policy, n, T0 + 20, OPM_NOMINATION_OPEN);
	ck_assert(opm_nomination_approve(&policy, n, "alice@example.org",
	    T0 + 30, &error));
	want_state(&policy, n, T0 + 30, OPM_NOMINATION_READY);
	/* approval first, then the vouches, is the same */
	{
		g_autoptr(OpmNomination) m = nominate();

		ck_assert(opm_nomination_approve(&policy, m, "alice@example.org",
		    T0, &error));
		want_state(&policy, m, T0, OPM_NOMINATION_OPEN);
		want_refused(opm_nomination_approve(&policy, m,
		    "alice@example.org", T0, &error), &error, "approved");
		g_clear_error(&error);
	}
}
END_TEST

START_TEST(without_approval_the_count_is_enough)
{
	OpmAdmissionPolicy p = policy;
	g_autoptr(OpmNomination) n = nominate();
	g_autoptr(GError) error = NULL;

	p.approval = FALSE;
	p.required = 3;
	ck_assert(opm_nomination_vouch(&p, n, "carol@example.net", FPR, FALSE,
	    T0, &error));
	ck_assert(opm_nomination_vouch(&p, n, "frank@example.org", FPR, FALSE,
	    T0, &error));
	want_state(&p, n, T0, OPM_NOMINATION_OPEN);
	ck_assert(opm_nomination_vouch(&p, n, "grace@example.net", FPR, FALSE,
	    T0, &error));
	want_state(&p, n, T0, OPM_NOMINATION_READY);
	want_refused(opm_nomination_approve(&p, n, "alice@example.org", T0,
	    &error), &error, "without an admin's approval");
}
END_TEST

static const struct {
	const char *name;
	const char *who;
	const char *fpr;
	gboolean is_member;
	gint64 at;
	const char *want;
} bad_vouches[] = {
	{"by the nominator", "bob@example.org", FPR, FALSE, 0,
	    "you nominated kim@example.org"},
	{"by the candidate", "KIM@example.org", FPR, FALSE, 0,
	    "nobody can vouch for themselves"},
	{"another fingerprint", "frank@example.org", OTHER, FALSE, 0,
	    "is not the one of the key nominated"},
	{"no fingerprint", "frank@example.org", NULL, FALSE, 0,
	    "is not the one of the key nominated"},
	{"twice", "carol@example.net", FPR, FALSE, 0,
	    "you vouched for kim@example.org already"},
	{"for a member", "frank@example.org", FPR, TRUE, 0,
	    "kim@example.org is a member already"},
	{"after expiry", "frank@example.org", FPR, FALSE, 30 * DAY,
	    "has expired"},
};

START_TEST(refused_vouches_do_not_count)
{
	g_autoptr(OpmNomination) n = nominate();
	g_autoptr(GError) error = NULL;

	/* carol vouched before every case */
	ck_assert(opm_nomination_vouch(&policy, n, "carol@example.net", FPR,
	    FALSE, T0, &error));
	for (guint i = 0; i < G_N_ELEMENTS(bad_vouches); i++) {
		gboolean ok = opm_nomination_vouch(&policy, n, bad_vouches[i].who,
		    bad_vouches[i].fpr, bad_vouches[i].is_member,
		    T0 + 1 + bad_vouches[i].at, &error);

		ck_assert_msg(!ok, "%s: accepted", bad_vouches[i].name);
		ck_assert_msg(strstr(error->message, bad_vouches[i].want) !=
		    NULL, "%s: got \"%s\", want \"%s\"", bad_vouches[i].name,
		    error->message, bad_vouches[i].want);
		g_clear_error(&error);
		ck_assert_msg(opm_nomination_count(n) == 1, "%s: the count is %u, "
		    "want 1", bad_vouches[i].name, opm_nomination_count(n));
	}
}
END_TEST

START_TEST(admin_objection_ends_it)
{
	g_autoptr(OpmNomination) n = nominate();
	g_autoptr(GError) error = NULL;

	ck_assert(opm_nomination_vouch(&policy, n, "carol@example.net", FPR,
	    FALSE, T0, &error));
	ck_assert(opm_nomination_vouch(&policy, n, "frank@example.org", FPR,
	    FALSE, T0, &error));
	/* a member's objection is kept, but changes nothing */
	ck_assert(opm_nomination_object(&policy, n, "grace@example.net", FALSE,
	    "I do not know them", T0 + 1, &error));
	want_state(&policy, n, T0 + 1, OPM_NOMINATION_OPEN);
	want_refused(opm_nomination_object(&policy, n, "grace@example.net",
	    FALSE, "again", T0 + 1, &error), &error, "objected to");
	g_clear_error(&error);
	ck_assert(opm_nomination_approve(&policy, n, "alice@example.org",
	    T0 + 2, &error));
	want_state(&policy, n, T0 + 2, OPM_NOMINATION_READY);
	/* an admin's ends it, though it had everything */
	ck_assert(opm_nomination_object(&policy, n, "dave@example.org", TRUE,
	    "left the team", T0 + 3, &error));
	want_state(&policy, n, T0 + 3, OPM_NOMINATION_REFUSED);
	want_state(&policy, n, T0 + 40 * DAY, OPM_NOMINATION_REFUSED);
	want_refused(opm_nomination_vouch(&policy, n, "grace@example.net", FPR,
	    FALSE, T0 + 4, &error), &error, "refused by an admin");
}
END_TEST

START_TEST(expires_at_its_lifetime)
{
	g_autoptr(OpmNomination) n = nominate();
	g_autoptr(GError) error = NULL;

	ck_assert(opm_nomination_vouch(&policy, n, "carol@example.net", FPR,
	    FALSE, T0, &error));
	ck_assert(opm_nomination_vouch(&policy, n, "frank@example.org", FPR,
	    FALSE, T0, &error));
	want_state(&policy, n, T0 + 30 * DAY - 1, OPM_NOMINATION_OPEN);
	want_state(&policy, n, T0 + 30 * DAY, OPM_NOMINATION_EXPIRED);
	want_refused(opm_nomination_approve(&policy, n, "alice@example.org",
	    T0 + 30 * DAY, &error), &error, "has expired");
}
END_TEST

START_TEST(describe_hides_vouchers_when_asked)
{
	g_autoptr(OpmNomination) n = nominate();
	g_autoptr(GError) error = NULL;
	g_autofree char *open = NULL;
	g_autofree char *hidden = NULL;

	ck_assert(opm_nomination_vouch(&policy, n, "carol@example.net", FPR,
	    FALSE, T0, &error));
	ck_assert(opm_nomination_object(&policy, n, "grace@example.net", FALSE,
	    "who?", T0, &error));
	open = opm_nomination_describe(&policy, n, TRUE, TRUE, T0);
	hidden = opm_nomination_describe(&policy, n, FALSE, FALSE, T0);
	ck_assert_msg(strstr(open, "vouches 1 of 2") != NULL &&
	    strstr(open, "vouched by carol@example.net") != NULL &&
	    strstr(open, "objection by grace@example.net: who?") != NULL &&
	    strstr(open, FPR) != NULL, "got:\n%s", open);
	ck_assert_msg(strstr(hidden, "vouches 1 of 2") != NULL &&
	    strstr(hidden, "carol") == NULL && strstr(hidden, "grace") == NULL,
	    "got:\n%s", hidden);
}
END_TEST

START_TEST(store_survives_a_restart)
{
	g_autofree char *dir = tu_tmpdir("admission");
	g_autoptr(GError) error = NULL;
	OpmNominations *s;
	OpmNomination *n;
	g_autoptr(GBytes) key = g_bytes_new_static("\x99\x00\x01;=[x]\n", 9);

	s = opm_nominations_open(dir, "secir@lists.example.org", &error);
	ck_assert_msg(s != NULL, "%s", error != NULL ? error->message : "");
	n = opm_nomination_new("kim@example.org", FPR, "Kim; [the] = one",
	    "bob@example.org", key, T0);
	ck_assert(opm_nomination_vouch(&policy, n, "carol@example.net", FPR,
	    FALSE, T0 + 5, &error));
	ck_assert(opm_nomination_object(&policy, n, "grace@example.net", FALSE,
	    "reason; with [odd] = chars", T0 + 6, &error));
	ck_assert(opm_nominations_add(s, n, &error));
	ck_assert(opm_nominations_save(s, &error));
	/* changed after the save and not saved: lost, as it should be */
	ck_assert(opm_nomination_vouch(&policy, n, "frank@example.org", FPR,
	    FALSE, T0 + 7, &error));
	opm_nominations_close(s);

	s = opm_nominations_open(dir, "secir@lists.example.org", &error);
	ck_assert_msg(s != NULL, "%s", error != NULL ? error->message : "");
	ck_assert_uint_eq(opm_nominations_list(s)->len, 1);
	n = opm_nominations_find(s, "kim@EXAMPLE.org");
	ck_assert(n != NULL);
	ck_assert_str_eq(n->fpr, FPR);
	ck_assert_str_eq(n->name, "Kim; [the] = one");
	ck_assert_str_eq(n->nominator, "bob@example.org");
	ck_assert(n->created == T0);
	ck_assert(g_bytes_equal(n->key, key));
	ck_assert_uint_eq(opm_nomination_count(n), 1);
	ck_assert_uint_eq(n->objections->len, 1);
	ck_assert_str_eq(((OpmVoice *)g_ptr_array_index(n->objections, 0))->reason,
	    "reason; with [odd] = chars");
	/* one nomination per candidate */
	{
		OpmNomination *again = opm_nomination_new("Kim@example.org", FPR,
		    NULL, "carol@example.net", key, T0);

		want_refused(opm_nominations_add(s, again, &error), &error,
		    "was nominated already, by bob@example.org");
		g_clear_error(&error);
	}
	/* no more than OPM_NOMINATIONS_MAX open */
	for (guint i = 1; i < OPM_NOMINATIONS_MAX; i++) {
		g_autofree char *a = g_strdup_printf("c%u@example.org", i);

		ck_assert(opm_nominations_add(s, opm_nomination_new(a, FPR,
		    NULL, "bob@example.org", key, T0), &error));
	}
	want_refused(opm_nominations_add(s, opm_nomination_new(
	    "one-more@example.org", FPR, NULL, "bob@example.org", key, T0),
	    &error), &error, "open nominations, the most it keeps");
	for (guint i = 1; i < OPM_NOMINATIONS_MAX; i++) {
		g_autofree char *a = g_strdup_printf("c%u@example.org", i);

		opm_nomination_free(opm_nominations_take(s, a));
	}
	n = opm_nominations_take(s, "kim@example.org");
	ck_assert(n != NULL);
	opm_nomination_free(n);
	ck_assert(opm_nominations_save(s, &error));
	opm_nominations_close(s);
	s = opm_nominations_open(dir, "secir@lists.example.org", &error);
	ck_assert_uint_eq(opm_nominations_list(s)->len, 0);
	opm_nominations_close(s);
	/* a damaged state file is an error, not "no nominations" */
	{
		g_autofree char *path = g_build_filename(dir, "nominations",
		    "secir@lists.example.org", NULL);

		tu_write(path, "[nomination 1]\ncandidate=kim@example.org\n");
		s = opm_nominations_open(dir, "secir@lists.example.org", &error);
		ck_assert_msg(s == NULL && error != NULL &&
		    strstr(error->message, "incomplete") != NULL,
		    "a damaged state file was read");
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("admission");
	TCase *tc = tcase_create("admission");

	setlocale(LC_ALL, "");
	tcase_add_test(tc, threshold_then_approval);
	tcase_add_test(tc, without_approval_the_count_is_enough);
	tcase_add_test(tc, refused_vouches_do_not_count);
	tcase_add_test(tc, admin_objection_ends_it);
	tcase_add_test(tc, expires_at_its_lifetime);
	tcase_add_test(tc, describe_hides_vouchers_when_asked);
	tcase_add_test(tc, store_survives_a_restart);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
