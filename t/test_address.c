/*
 * NAME
 *	test_address - envelope addresses that reach the filter's own
 * DESCRIPTION
 *	opm_address_canon() and opm_address_match() against every spelling
 *	an MTA delivers to one mailbox (quoted, with a source route, a
 *	trailing dot, an address extension, routing operators), against
 *	other mailboxes that look alike, and against hostile input;
 *	opm_conf_resolve() with the addresses of two lists, and the
 *	RecipientDelimiter option.
 */
#include "config.h"

#include <string.h>

#include <check.h>

#include "conf.h"
#include "tutil.h"

#define LIST_ADDRESS "secir@lists.example.org"
#define FPR_A "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define FPR_L "0123456789ABCDEF0123456789ABCDEF01234567"

/* ------------------------------------------------------------------ */
/* opm_address_canon                                                  */

static const struct {
	const char *in;
	const char *want; /* NULL: not an address */
} canons[] = {
	{"secir@lists.example.org", "secir@lists.example.org"},
	{"<secir@lists.example.org>", "secir@lists.example.org"},
	{" \t< secir@Lists.Example.ORG >\r\n", "secir@lists.example.org"},
	{"<\"secir\"@lists.example.org>", "secir@lists.example.org"},
	{"<\"se\\cir\"@lists.example.org>", "secir@lists.example.org"},
	{"<\"\\s\\e\\c\\i\\r\"@lists.example.org>", "secir@lists.example.org"},
	{"<\"sec\".\"ir\"@lists.example.org>", "sec.ir@lists.example.org"},
	{"<se\"c\"ir@lists.example.org>", "secir@lists.example.org"},
	{"<\"sec ir\"@lists.example.org>", "sec ir@lists.example.org"},
	{"<\"sec\\\"ir\"@lists.example.org>", "sec\"ir@lists.example.org"},
	{"<\"secir@lists.example.org\"@mx.example.test>",
	    "secir@lists.example.org@mx.example.test"},
	{"<@a.example,@b.example:secir@lists.example.org>",
	    "secir@lists.example.org"},
	{"<@[192.0.2.1]:secir@lists.example.org>", "secir@lists.example.org"},
	{"<secir@lists.example.org.>", "secir@lists.example.org"},
	{"<secir@lists.example.org..>", "secir@lists.example.org.."},
	{"<sec(a comment)ir@lists.example.org>", "secir@lists.example.org"},
	{"<(x(y)z)secir@lists.example.org(\\))>", "secir@lists.example.org"},
	{"<secir@[192.0.2.1]>", "secir@[192.0.2.1]"},
	{"<secir@>", "secir"},
	{"secir", "secir"},
	{"<secir+urgent@lists.example.org>", "secir+urgent@lists.example.org"},
	{"", NULL},
	{"<>", NULL},
	{"< >", NULL},
	{"<\"\">", NULL},
	{"<@lists.example.org>", NULL},
	{"\"", NULL},
	{"<secir@lists.example.org", NULL},
	{"secir@lists.example.org>", NULL},
	{"<<secir@lists.example.org>>", NULL},
	{"<\"secir@lists.example.org>", NULL},
	{"<secir(@lists.example.org>", NULL},
	{"<secir)@lists.example.org>", NULL},
	{"<sec\001ir@lists.example.org>", NULL},
	{"<\"sec\001ir\"@lists.example.org>", NULL},
	{"<\"sec\rir\"@lists.example.org>", NULL},
	{"<sec\\ir@lists.example.org>", NULL},
	{"<sec,ir@lists.example.org>", NULL},
	{"<secir@lists!example.org>", NULL},
	{"<secir@[192.0.2.1>", NULL},
	{"<secir@[1]2]>", NULL},
	{"<@a.example,@b.example>", NULL},
	{"<@a.example:\"x\"@b:secir@lists.example.org>", NULL},
	{"<\"x\"@a:secir@lists.example.org>", NULL},
	{"\\", NULL},
	{"((((((((", NULL},
};

START_TEST(canon_forms)
{
	g_autofree char *got = opm_address_canon(canons[_i].in);
	g_autofree char *shown = g_strescape(canons[_i].in, NULL);

	if (canons[_i].want == NULL)
		ck_assert_msg(got == NULL, "opm_address_canon(\"%s\"): got "
		    "\"%s\", want NULL", shown, got);
	else
		ck_assert_msg(got != NULL && strcmp(got, canons[_i].want) == 0,
		    "opm_address_canon(\"%s\"): got \"%s\", want \"%s\"", shown,
		    got != NULL ? got : "NULL", canons[_i].want);
}
END_TEST

/* ------------------------------------------------------------------ */
/* opm_address_match                                                  */

#define NONE OPM_ADDR_NONE
#define SAME OPM_ADDR_SAME
#define EXT OPM_ADDR_EXTENSION

static const struct {
	const char *rcpt, *owned, *delims;
	OpmAddrMatch want;
} matches[] = {
	/* the forms of the issue, delimiter + */
	{"<secir@lists.example.org>", LIST_ADDRESS, "+", SAME},
	{"<secir+urgent@lists.example.org>", LIST_ADDRESS, "+", EXT},
	{"<\"secir\"@lists.example.org>", LIST_ADDRESS, "+", SAME},
	{"<\"se\\cir\"@lists.example.org>", LIST_ADDRESS, "+", SAME},
	{"<secir@lists.example.org.>", LIST_ADDRESS, "+", SAME},
	/* case: domain and local part alike */
	{"<SECIR@LISTS.Example.Org>", LIST_ADDRESS, "+", SAME},
	{"<SeCiR+Urgent@lists.example.ORG.>", LIST_ADDRESS, "+", EXT},
	{"secir@lists.example.org", "SECIR@Lists.Example.Org", "+", SAME},
	/* combinations */
	{"<\"secir+urgent\"@lists.example.org.>", LIST_ADDRESS, "+", EXT},
	{"<@relay.example:\"secir\"@lists.example.org>", LIST_ADDRESS, "+",
	    SAME},
	{"< secir+urgent@lists.example.org >", LIST_ADDRESS, "+", EXT},
	{"<secir+a+b@lists.example.org>", LIST_ADDRESS, "+", EXT},
	{"<secir+@lists.example.org>", LIST_ADDRESS, "+", EXT},
	/* several delimiter characters, each one a delimiter */
	{"<secir-urgent@lists.example.org>", LIST_ADDRESS, "+-", EXT},
	{"<secir+urgent@lists.example.org>", LIST_ADDRESS, "-+", EXT},
	{"<secir-a+b@lists.example.org>", LIST_ADDRESS, "+-", EXT},
	{"<secir-urgent@lists.example.org>", LIST_ADDRESS, "+", NONE},
	{"<secir+urgent@lists.example.org>", LIST_ADDRESS, "", NONE},
	{"<secir+urgent@lists.example.org>", LIST_ADDRESS, NULL, NONE},
	/* the list's own local part holds the delimiter: the full address
	 * is the list; split at the first delimiter, as Postfix does, an
	 * extended form is another mailbox */
	{"<sec-ir@lists.example.org>", "sec-ir@lists.example.org", "-", SAME},
	{"<sec-ir-urgent@lists.example.org>", "sec-ir@lists.example.org", "-",
	    NONE},
	{"<sec-ir+urgent@lists.example.org>", "sec-ir@lists.example.org", "+",
	    EXT},
	{"<sec@lists.example.org>", "sec-ir@lists.example.org", "-", NONE},
	/* Postfix does not split X-request or owner-X when - delimits */
	{"<secir-request@lists.example.org>", LIST_ADDRESS, "-", NONE},
	{"<secir-request@lists.example.org>", LIST_ADDRESS, "+", NONE},
	{"<secir-request@lists.example.org>",
	    "secir-request@lists.example.org", "-", SAME},
	{"<secir-request+x@lists.example.org>",
	    "secir-request@lists.example.org", "+", EXT},
	{"<owner-secir@lists.example.org>", "owner@lists.example.org", "-",
	    NONE},
	{"<MAILER-DAEMON@lists.example.org>", "mailer@lists.example.org", "-",
	    NONE},
	{"<postmaster+x@lists.example.org>", "postmaster@lists.example.org",
	    "+", EXT},
	/* other mailboxes */
	{"<\"sec ir\"@lists.example.org>", LIST_ADDRESS, "+", NONE},
	{"<\"secir \"@lists.example.org>", LIST_ADDRESS, "+", NONE},
	{"<secirx@lists.example.org>", LIST_ADDRESS, "+", NONE},
	{"<secir@lists.example.com>", LIST_ADDRESS, "+", NONE},
	{"<secir@example.org>", LIST_ADDRESS, "+", NONE},
	{"<secir@sub.lists.example.org>", LIST_ADDRESS, "+", NONE},
	{"<secir@lists.example.org..>", LIST_ADDRESS, "+", NONE},
	{"<+secir@lists.example.org>", LIST_ADDRESS, "+", NONE},
	{"<sec+ir@lists.example.org>", LIST_ADDRESS, "+", NONE},
	{"<secir@[192.0.2.1]>", LIST_ADDRESS, "+", NONE},
	{"<secir-bounces@lists.example.org>", LIST_ADDRESS, "+", NONE},
	/* routing the MTA may follow to the list: counted as the list */
	{"<secir%lists.example.org>", LIST_ADDRESS, "+", SAME},
	{"<lists.example.org!secir>", LIST_ADDRESS, "+", SAME},
	{"<secir%lists.example.org@mx.example.test>", LIST_ADDRESS, "+", SAME},
	{"<lists.example.org!secir@mx.example.test>", LIST_ADDRESS, "+", SAME},
	{"<\"secir@lists.example.org\"@mx.example.test>", LIST_ADDRESS, "+",
	    SAME},
	{"<\"secir+x@lists.example.org\"@mx.example.test>", LIST_ADDRESS, "+",
	    EXT},
	{"<secir%lists.example.com@lists.example.org>", LIST_ADDRESS, "+",
	    NONE},
	/* no domain: the MTA adds its own, which may be the list's */
	{"<secir>", LIST_ADDRESS, "+", SAME},
	{"<secir+urgent@>", LIST_ADDRESS, "+", EXT},
	{"<ops>", LIST_ADDRESS, "+", NONE},
	/* not addresses */
	{"", LIST_ADDRESS, "+", NONE},
	{"<>", LIST_ADDRESS, "+", NONE},
	{NULL, LIST_ADDRESS, "+", NONE},
	{"<secir@lists.example.org", LIST_ADDRESS, "+", NONE},
	{"<\"secir@lists.example.org>", LIST_ADDRESS, "+", NONE},
	{LIST_ADDRESS, "", "+", NONE},
	{LIST_ADDRESS, NULL, "+", NONE},
};

START_TEST(match_forms)
{
	OpmAddrMatch got = opm_address_match(matches[_i].rcpt,
	    matches[_i].owned, matches[_i].delims);
	static const char *names[] = {"NONE", "EXTENSION", "SAME"};

	ck_assert_msg(got == matches[_i].want, "opm_address_match(\"%s\", "
	    "\"%s\", \"%s\"): got %s, want %s",
	    matches[_i].rcpt != NULL ? matches[_i].rcpt : "(null)",
	    matches[_i].owned != NULL ? matches[_i].owned : "(null)",
	    matches[_i].delims != NULL ? matches[_i].delims : "(null)",
	    names[got], names[matches[_i].want]);
}
END_TEST

/* Hostile input: long, deep, every byte.  It must end, and never match
 * what it is not. */
START_TEST(hostile)
{
	GString *s = g_string_new("<");
	g_autofree char *canon = NULL;

	/* a megabyte of local part */
	for (int i = 0; i < 1 << 20; i++)
		g_string_append_c(s, 'a');
	g_string_append(s, "@lists.example.org>");
	ck_assert_msg(opm_address_match(s->str, LIST_ADDRESS, "+") == NONE,
	    "a long local part: got a match, want none");
	/* deeply nested comments and an unending route */
	g_string_assign(s, "<");
	for (int i = 0; i < 100000; i++)
		g_string_append_c(s, '(');
	g_string_append(s, "secir@lists.example.org>");
	ck_assert_msg(opm_address_canon(s->str) == NULL,
	    "unclosed comments: got an address, want NULL");
	g_string_assign(s, "<");
	for (int i = 0; i < 10000; i++)
		g_string_append(s, "@a,");
	g_string_append(s, "@b:secir@lists.example.org>");
	ck_assert_msg(opm_address_match(s->str, LIST_ADDRESS, "+") == SAME,
	    "a long source route: got no match, want the list");
	/* routing operators many levels deep: bounded, and no match */
	g_string_assign(s, "<secir");
	for (int i = 0; i < 10000; i++)
		g_string_append(s, "%x");
	g_string_append(s, "@lists.example.org>");
	ck_assert_msg(opm_address_match(s->str, LIST_ADDRESS, "+") == NONE,
	    "ten thousand %% hops: got a match, want none");
	/* each byte as local part, domain and delimiter */
	for (int c = 1; c < 256; c++) {
		char local[] = {'s', (char)c, 'x', '@', 'd', '.', 'o', 0};
		char domain[] = {'a', '@', 'd', (char)c, '.', 'o', 0};
		char delim[] = {(char)c, 0};

		(void)opm_address_match(local, "s@d.o", delim);
		(void)opm_address_match(domain, "a@d.o", "+");
		g_free(opm_address_canon(local));
		g_free(opm_address_canon(domain));
	}
	canon = opm_address_canon("<\"\\");
	ck_assert_msg(canon == NULL, "a lone quoted pair: got \"%s\", want "
	    "NULL", canon);
	g_string_free(s, TRUE);
}
END_TEST

/* ------------------------------------------------------------------ */
/* opm_conf_resolve and RecipientDelimiter                            */

/* A configuration with two lists, secir and ops, and main_extra in the
 * main file.  (transfer full) or NULL with error set. */
static OpmConfig *
load(const char *dir, const char *main_extra, GError **error)
{
	g_autofree char *members = g_build_filename(dir, "members", NULL);
	g_autofree char *main_path = g_build_filename(dir, "main.conf", NULL);
	const char *lists[] = {"secir", "ops"};

	tu_write(members, "alice@example.org %s\n", FPR_A);
	for (gsize i = 0; i < G_N_ELEMENTS(lists); i++) {
		g_autofree char *file = g_strdup_printf("%s/%s.conf", dir,
		    lists[i]);

		tu_write(file, "Address %s@lists.example.org\nGnupgHome "
		    "%s/gnupg\nListKey %s\nMembersFile %s\n", lists[i], dir,
		    FPR_L, members);
	}
	tu_write(main_path, "List %s/secir.conf\nList %s/ops.conf\n%s\n", dir,
	    dir, main_extra);
	return opm_conf_load(main_path, error);
}

static const struct {
	const char *main_extra;
	const char *rcpt;
	const char *list; /* NULL: none */
	OpmAddrRole role;
} resolves[] = {
	{"", "<secir+urgent@lists.example.org>", "secir", OPM_ROLE_LIST},
	{"", "<\"ops\"@lists.example.org.>", "ops", OPM_ROLE_LIST},
	{"", "<secir-bounces@lists.example.org>", "secir", OPM_ROLE_BOUNCE},
	{"", "<ops-bounces+x@lists.example.org>", "ops", OPM_ROLE_BOUNCE},
	{"", "<secir-urgent@lists.example.org>", NULL, OPM_ROLE_NONE},
	{"RecipientDelimiter +", "<secir+urgent@lists.example.org>", "secir",
	    OPM_ROLE_LIST},
	{"RecipientDelimiter", "<secir+urgent@lists.example.org>", NULL,
	    OPM_ROLE_NONE},
	{"RecipientDelimiter", "<secir@lists.example.org.>", "secir",
	    OPM_ROLE_LIST},
	{"RecipientDelimiter -", "<secir-urgent@lists.example.org>", "secir",
	    OPM_ROLE_LIST},
	/* the full address first: the bounce address, not secir + bounces */
	{"RecipientDelimiter -", "<secir-bounces@lists.example.org>", "secir",
	    OPM_ROLE_BOUNCE},
	{"RecipientDelimiter -", "<ops-bounces-x@lists.example.org>", "ops",
	    OPM_ROLE_LIST},
	{"RecipientDelimiter -", "<ops-request@lists.example.org>", NULL,
	    OPM_ROLE_NONE},
	{"RecipientDelimiter +-", "<ops+bounces@lists.example.org>", "ops",
	    OPM_ROLE_LIST},
};

START_TEST(resolve)
{
	g_autofree char *dir = tu_tmpdir("opm-address");
	g_autoptr(GError) error = NULL;
	g_autoptr(OpmConfig) conf = load(dir, resolves[_i].main_extra, &error);
	OpmAddrRole role = 99;
	OpmList *l;
	g_autofree char *want = NULL;

	ck_assert_msg(conf != NULL, "got error \"%s\", want a configuration",
	    error != NULL ? error->message : "?");
	l = opm_conf_resolve(conf, resolves[_i].rcpt, &role);
	if (resolves[_i].list != NULL)
		want = g_strdup_printf("%s@lists.example.org", resolves[_i].list);
	ck_assert_msg(g_strcmp0(l != NULL ? l->address : NULL, want) == 0 &&
	    role == resolves[_i].role, "with \"%s\": opm_conf_resolve(\"%s\"): "
	    "got %s role %d, want %s role %d", resolves[_i].main_extra,
	    resolves[_i].rcpt, l != NULL ? l->address : "NULL", (int)role,
	    want != NULL ? want : "NULL", (int)resolves[_i].role);
	l = opm_conf_find_list(conf, resolves[_i].rcpt);
	ck_assert_msg(resolves[_i].role == OPM_ROLE_LIST ? l != NULL &&
	    strcmp(l->address, want) == 0 : l == NULL,
	    "opm_conf_find_list(\"%s\"): got %s", resolves[_i].rcpt,
	    l != NULL ? l->address : "NULL");
	tu_rmtree(dir);
}
END_TEST

START_TEST(delimiter_option)
{
	g_autofree char *dir = tu_tmpdir("opm-address");
	g_autoptr(GError) error = NULL;
	g_autoptr(OpmConfig) conf = load(dir, "", &error);
	static const char *bad[] = {"@", "+@", "\"", "\\", "+ -", "<", ":"};

	ck_assert_msg(conf != NULL && strcmp(conf->recipient_delimiter, "+")
	    == 0, "default RecipientDelimiter: got \"%s\", want \"+\"",
	    conf != NULL ? conf->recipient_delimiter : "(no configuration)");
	g_clear_pointer(&conf, opm_conf_unref);
	conf = load(dir, "RecipientDelimiter", &error);
	ck_assert_msg(conf != NULL && *conf->recipient_delimiter == '\0',
	    "RecipientDelimiter without a value: got %s, want none",
	    conf != NULL ? conf->recipient_delimiter : error->message);
	g_clear_pointer(&conf, opm_conf_unref);
	conf = load(dir, "RecipientDelimiter +-=", &error);
	ck_assert_msg(conf != NULL && strcmp(conf->recipient_delimiter, "+-=")
	    == 0, "RecipientDelimiter +-=: got %s",
	    conf != NULL ? conf->recipient_delimiter : error->message);
	g_clear_pointer(&conf, opm_conf_unref);
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *line = g_strdup_printf("RecipientDelimiter %s",
		    bad[i]);

		g_clear_error(&error);
		conf = load(dir, line, &error);
		ck_assert_msg(conf == NULL && error != NULL &&
		    strstr(error->message, "RecipientDelimiter") != NULL &&
		    strstr(error->message, "main.conf:3:") != NULL,
		    "\"%s\": got %s, want an error naming the option and line",
		    line, error != NULL ? error->message : "a configuration");
	}
	/* a member whose address is an extended list address would get
	 * copies by way of the list */
	{
		g_autofree char *members = g_build_filename(dir, "members", NULL);
		g_autofree char *main_path = g_build_filename(dir, "main.conf",
		    NULL);

		g_clear_error(&error);
		tu_write(main_path, "List %s/secir.conf\nList %s/ops.conf\n",
		    dir, dir);
		tu_write(members, "secir+x@lists.example.org %s\n", FPR_A);
		conf = opm_conf_load(main_path, &error);
		ck_assert_msg(conf == NULL && error != NULL &&
		    strstr(error->message, "list address") != NULL,
		    "member secir+x@lists.example.org: got %s, want an error",
		    error != NULL ? error->message : "a configuration");
	}
	tu_rmtree(dir);
}
END_TEST

static Suite *
address_suite(void)
{
	Suite *s = suite_create("address");
	TCase *tc;

	tc = tcase_create("canon");
	tcase_add_loop_test(tc, canon_forms, 0, G_N_ELEMENTS(canons));
	suite_add_tcase(s, tc);

	tc = tcase_create("match");
	tcase_add_loop_test(tc, match_forms, 0, G_N_ELEMENTS(matches));
	tcase_add_test(tc, hostile);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("configuration");
	tcase_add_loop_test(tc, resolve, 0, G_N_ELEMENTS(resolves));
	tcase_add_test(tc, delimiter_option);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run(address_suite());
}
