/*
 * NAME
 *	test_fanout - how split mode deals a list's members into gpg runs
 * DESCRIPTION
 *	opm_fanout_deal() alone: every member goes to exactly one part, in
 *	the order the list's keyring holds their keys; one part for a few
 *	members, a post over 4 MiB or a single processor; from four members
 *	on two halves, dealt alternately, whatever the list's size, so that
 *	a post costs at most three gpg runs (one verify, two sign+encrypts).
 *	The copies themselves (each decrypts with its member's key only,
 *	each half's shared encrypted data) are checked by t/fanout.test and
 *	t/fanout-parts.test.
 */
#include "config.h"

#include "tutil.h"
#include "fanout.h"

#define SMALL 10240

/* Deal n members whose keyring positions are a shuffle of 0..n-1, and
 * check that order is the keyring order and that each member is dealt
 * once.  Returns the number of parts. */
static guint
deal(guint n, gsize inner)
{
	g_autofree guint *position = g_new(guint, n + 1);
	g_autofree guint *order = g_new(guint, n + 1);
	g_autofree gboolean *seen = g_new0(gboolean, n + 1);
	GRand *r = g_rand_new_with_seed(n);
	guint nparts;

	for (guint i = 0; i < n; i++)
		position[i] = i;
	for (guint i = n; i > 1; i--) {
		guint j = (guint)g_rand_int_range(r, 0, (gint32)i);
		guint t = position[i - 1];

		position[i - 1] = position[j];
		position[j] = t;
	}
	g_rand_free(r);
	nparts = opm_fanout_deal(position, n, inner, order);
	for (guint k = 0; k < n; k++) {
		ck_assert_uint_lt(order[k], n);
		ck_assert_msg(!seen[order[k]], "member %u dealt twice", order[k]);
		seen[order[k]] = TRUE;
		/* keyring order: the k-th member dealt has the k-th key, so
		 * that k % parts gives each part every other key */
		ck_assert_uint_eq(position[order[k]], k);
	}
	return nparts;
}

START_TEST(few_members_one_part)
{
	ck_assert_uint_eq(deal(1, SMALL), 1);
	ck_assert_uint_eq(deal(3, SMALL), 1);
}
END_TEST

START_TEST(a_large_post_is_encrypted_once)
{
	ck_assert_uint_eq(deal(1000, 5 * 1024 * 1024), 1);
	ck_assert_uint_eq(deal(1000, 4 * 1024 * 1024 + 1), 1);
}
END_TEST

START_TEST(from_four_members_two_halves)
{
	const guint sizes[] = {4, 10, 30, 100, 1000, 5000};
	guint want = g_get_num_processors() > 1 ? 2 : 1;

	for (gsize i = 0; i < G_N_ELEMENTS(sizes); i++)
		ck_assert_msg(deal(sizes[i], SMALL) == want,
		    "%u members: want %u parts", sizes[i], want);
	ck_assert_uint_eq(deal(100, 4 * 1024 * 1024), want);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("fanout");
	TCase *tc = tcase_create("deal");

	tcase_add_test(tc, few_members_one_part);
	tcase_add_test(tc, a_large_post_is_encrypted_once);
	tcase_add_test(tc, from_four_members_two_halves);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
