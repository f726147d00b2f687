/*
 * NAME
 *	test_fanout - how split mode deals a list's members into gpg runs
 * DESCRIPTION
 *	opm_fanout_deal() alone: every member goes to exactly one part, in
 *	the order the list's keyring holds their keys; one part for a few
 *	members, a large post or a single processor; two halves, dealt
 *	alternately, from four members on; and from 24 on a small head part
 *	first, the members whose keys come first in the keyring, about one
 *	in six, whose copies go to the MTA while gpg still works on the two
 *	halves of the others.  The copies themselves (each decrypts with its
 *	member's key only, the parts' shared encrypted data) are checked by
 *	t/fanout.test.
 */
#include "config.h"

#include "tutil.h"
#include "fanout.h"

#define SMALL 10240

/* Deal n members whose keyring positions are a shuffle of 0..n-1; check
 * that order is the keyring order and each member is in one part; fill
 * count[] with the size of each part.  Returns the number of parts. */
static guint
deal(guint n, gsize inner, guint count[3], guint **part_out)
{
	g_autofree guint *position = g_new(guint, n + 1);
	g_autofree guint *order = g_new(guint, n + 1);
	guint *part = g_new(guint, n + 1);
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
	nparts = opm_fanout_deal(position, n, inner, order, part);
	ck_assert_uint_ge(nparts, 1);
	ck_assert_uint_le(nparts, 3);
	count[0] = count[1] = count[2] = 0;
	for (guint k = 0; k < n; k++) {
		ck_assert_uint_lt(order[k], n);
		ck_assert_msg(!seen[order[k]], "member %u dealt twice", order[k]);
		seen[order[k]] = TRUE;
		/* keyring order: the k-th member dealt has the k-th key */
		ck_assert_uint_eq(position[order[k]], k);
		ck_assert_uint_lt(part[k], nparts);
		count[part[k]]++;
	}
	*part_out = part;
	return nparts;
}

START_TEST(few_members_one_part)
{
	guint count[3];
	g_autofree guint *part = NULL;

	ck_assert_uint_eq(deal(1, SMALL, count, &part), 1);
	g_clear_pointer(&part, g_free);
	ck_assert_uint_eq(deal(3, SMALL, count, &part), 1);
	ck_assert_uint_eq(count[0], 3);
}
END_TEST

START_TEST(a_large_post_is_encrypted_once)
{
	guint count[3];
	g_autofree guint *part = NULL;

	ck_assert_uint_eq(deal(1000, 5 * 1024 * 1024, count, &part), 1);
	ck_assert_uint_eq(count[0], 1000);
}
END_TEST

START_TEST(from_four_members_two_halves_alternately)
{
	guint count[3];
	g_autofree guint *part = NULL;
	guint n = deal(10, SMALL, count, &part);

	if (g_get_num_processors() < 2) {
		ck_assert_uint_eq(n, 1);
		return;
	}
	ck_assert_uint_eq(n, 2);
	for (guint k = 0; k < 10; k++)
		ck_assert_uint_eq(part[k], k % 2);
	ck_assert_uint_eq(count[0], 5);
	ck_assert_uint_eq(count[1], 5);
	g_clear_pointer(&part, g_free);
	ck_assert_uint_eq(deal(23, SMALL, count, &part), 2);
}
END_TEST

START_TEST(a_large_list_gets_a_head_first)
{
	const guint sizes[] = {24, 100, 1000, 5000};

	if (g_get_num_processors() < 2)
		return;
	for (gsize i = 0; i < G_N_ELEMENTS(sizes); i++) {
		guint n = sizes[i], count[3], head = n / 6;
		g_autofree guint *part = NULL;

		ck_assert_uint_eq(deal(n, SMALL, count, &part), 3);
		/* the head: the first keys of the keyring, about one in six */
		ck_assert_uint_eq(count[0], head);
		for (guint k = 0; k < n; k++)
			ck_assert_msg(part[k] == (k < head ? 0 :
			    1 + (k - head) % 2), "%u members: member %u in part "
			    "%u", n, k, part[k]);
		/* the halves of the others, alternately: sizes differ by
		 * at most one */
		ck_assert_uint_eq(count[1] + count[2], n - head);
		ck_assert_uint_le(count[1] - count[2], 1);
		ck_assert_uint_lt(count[0], count[1]);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("fanout");
	TCase *tc = tcase_create("deal");

	tcase_add_test(tc, few_members_one_part);
	tcase_add_test(tc, a_large_post_is_encrypted_once);
	tcase_add_test(tc, from_four_members_two_halves_alternately);
	tcase_add_test(tc, a_large_list_gets_a_head_first);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
