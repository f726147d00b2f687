/*
 * NAME
 *	test_command - unit tests of lib/command.c, the command mail parser
 * DESCRIPTION
 *	Table-driven: texts as members and admins write them (any case,
 *	CRLF, quoted lines, a signature after "-- ") and the commands they
 *	must give; and hostile or broken texts (unknown words, missing or
 *	extra arguments, short fingerprints, control characters, NUL and
 *	8-bit bytes, an overlong line, too many commands, nothing at all)
 *	with the line the error must name.
 */
#include "config.h"

#include <string.h>

#include "tutil.h"

#include "command.h"

static const struct {
	const char *name;
	const char *text;
	guint n;            /* commands wanted */
	OpmCommandVerb first;
	const char *address; /* of the first, or NULL */
	const char *fpr;
	const char *cname;
} good[] = {
	{"one word", "get-list-key\n", 1, OPM_CMD_GET_LIST_KEY, NULL, NULL, NULL},
	{"any case, CRLF", "GET-List-KEY\r\nHelp\r\n", 2, OPM_CMD_GET_LIST_KEY,
	    NULL, NULL, NULL},
	{"quoted and blank lines skipped",
	    "> add-member x@example.org\n\n  list-members  \n", 1,
	    OPM_CMD_LIST_MEMBERS, NULL, NULL, NULL},
	{"signature ends the commands", "unsubscribe\n-- \nadd-member junk\n",
	    1, OPM_CMD_UNSUBSCRIBE, NULL, NULL, NULL},
	{"add-member with a name",
	    "add-member bob@example.org 62491816b3fe596d1aa3a7522dd140ea0e06d6bc"
	    "  Bob  Example\n", 1, OPM_CMD_ADD_MEMBER, "bob@example.org",
	    "62491816B3FE596D1AA3A7522DD140EA0E06D6BC", "Bob  Example"},
	{"set-key", "set-key bob@example.org "
	    "62491816B3FE596D1AA3A7522DD140EA0E06D6BC\n", 1, OPM_CMD_SET_KEY,
	    "bob@example.org", "62491816B3FE596D1AA3A7522DD140EA0E06D6BC", NULL},
	{"update-key, tab separated", "update-key\t"
	    "62491816B3FE596D1AA3A7522DD140EA0E06D6BC", 1, OPM_CMD_UPDATE_KEY,
	    NULL, "62491816B3FE596D1AA3A7522DD140EA0E06D6BC", NULL},
	{"remove-member", "remove-member carol@example.net\n", 1,
	    OPM_CMD_REMOVE_MEMBER, "carol@example.net", NULL, NULL},
	{"nominate with a name", "nominate kim@example.org "
	    "62491816b3fe596d1aa3a7522dd140ea0e06d6bc Kim  Example\n", 1,
	    OPM_CMD_NOMINATE, "kim@example.org",
	    "62491816B3FE596D1AA3A7522DD140EA0E06D6BC", "Kim  Example"},
	{"vouch", "VOUCH kim@example.org "
	    "62491816B3FE596D1AA3A7522DD140EA0E06D6BC\n", 1, OPM_CMD_VOUCH,
	    "kim@example.org", "62491816B3FE596D1AA3A7522DD140EA0E06D6BC", NULL},
	{"object: the reason is the rest of the line",
	    "object o@example.org  nobody object(s) knows o\n", 1,
	    OPM_CMD_OBJECT, "o@example.org", NULL, "nobody object(s) knows o"},
	{"approve, nominations, withdraw", "approve kim@example.org\n"
	    "nominations\nwithdraw kim@example.org\n", 3, OPM_CMD_APPROVE,
	    "kim@example.org", NULL, NULL},
};

START_TEST(commands_are_read)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) cmds = opm_command_parse(good[_i].text,
	    strlen(good[_i].text), NULL, &error);
	OpmCommand *c;

	ck_assert_msg(cmds != NULL, "%s: got error \"%s\", want %u commands",
	    good[_i].name, error != NULL ? error->message : "?", good[_i].n);
	ck_assert_msg(cmds->len == good[_i].n, "%s: got %u commands, want %u",
	    good[_i].name, cmds->len, good[_i].n);
	c = g_ptr_array_index(cmds, 0);
	ck_assert_msg(c->verb == good[_i].first, "%s: got %s, want %s",
	    good[_i].name, opm_command_name(c->verb),
	    opm_command_name(good[_i].first));
	ck_assert_msg(g_strcmp0(c->address, good[_i].address) == 0 &&
	    g_strcmp0(c->fpr, good[_i].fpr) == 0 &&
	    g_strcmp0(c->name, good[_i].cname) == 0, "%s: got %s %s \"%s\", "
	    "want %s %s \"%s\"", good[_i].name, c->address, c->fpr, c->name,
	    good[_i].address, good[_i].fpr, good[_i].cname);
}
END_TEST

static const struct {
	const char *name;
	const char *text;
	gsize len;          /* 0: strlen */
	guint line;         /* the line the error must name */
	const char *want;
} bad[] = {
	{"empty", "", 0, 0, "no command"},
	{"only quotes", "> help\n\n", 0, 0, "no command"},
	{"unknown word", "help\nsubscribe me\n", 0, 2, "is not a command"},
	{"greeting", "Hello list,\nhelp\n", 0, 1, "is not a command"},
	{"extra argument", "help me\n", 0, 1, "want \"help\""},
	{"missing fingerprint", "add-member bob@example.org\n", 0, 1,
	    "want \"add-member ADDRESS FINGERPRINT [NAME]\""},
	{"short fingerprint", "update-key 0E06D6BC\n", 0, 1,
	    "full fingerprint"},
	{"not an address", "remove-member bob\n", 0, 1, "not a mail address"},
	{"vouch with a key ID", "vouch kim@example.org 0E06D6BC\n", 0, 1,
	    "full fingerprint"},
	{"vouch with a name", "vouch kim@example.org "
	    "62491816B3FE596D1AA3A7522DD140EA0E06D6BC Kim\n", 0, 1,
	    "want \"vouch ADDRESS FINGERPRINT\""},
	{"object without a reason", "object kim@example.org\n", 0, 1,
	    "want \"object ADDRESS REASON\""},
	{"comment in address", "remove-member b#b@example.org\n", 0, 1,
	    "not a mail address"},
	{"control character", "help\nlist-members\x1b[2J\n", 0, 2,
	    "not printable ASCII (byte 0x1b)"},
	{"NUL byte", "help\0unsubscribe\n", 17, 1, "byte 0x00"},
	{"8-bit byte", "help\nremove-member b\xc3\xb6@example.org\n", 0, 2,
	    "byte 0xc3"},
	{"bare CR inside", "help\rremove-member x@example.org\n", 0, 1,
	    "byte 0x0d"},
};

START_TEST(bad_texts_name_their_line)
{
	g_autoptr(GError) error = NULL;
	gsize len = bad[_i].len > 0 ? bad[_i].len : strlen(bad[_i].text);
	guint line = 99;
	g_autoptr(GPtrArray) cmds = opm_command_parse(bad[_i].text, len, &line,
	    &error);

	ck_assert_msg(cmds == NULL, "%s: accepted", bad[_i].name);
	ck_assert_msg(g_error_matches(error, OPM_ERROR, OPM_ERROR_CONFIG) &&
	    strstr(error->message, bad[_i].want) != NULL, "%s: got \"%s\", "
	    "want \"%s\"", bad[_i].name, error->message, bad[_i].want);
	ck_assert_msg(line == bad[_i].line, "%s: got line %u, want %u",
	    bad[_i].name, line, bad[_i].line);
}
END_TEST

START_TEST(overlong_line_is_refused_without_echo)
{
	GString *t = g_string_new("help\n");
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) cmds = NULL;
	guint line = 0;

	for (int i = 0; i < 100000; i++)
		g_string_append_c(t, 'x');
	g_string_append(t, "\n");
	cmds = opm_command_parse(t->str, t->len, &line, &error);
	ck_assert(cmds == NULL);
	ck_assert_msg(line == 2 && strstr(error->message, "longer than") !=
	    NULL && strlen(error->message) < 200, "got line %u \"%.200s\"",
	    line, error->message);
	g_string_free(t, TRUE);
}
END_TEST

START_TEST(too_many_commands)
{
	GString *t = g_string_new(NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) cmds = NULL;
	guint line = 0;

	for (int i = 0; i <= OPM_COMMAND_MAX; i++)
		g_string_append(t, "help\n");
	cmds = opm_command_parse(t->str, t->len, &line, &error);
	ck_assert(cmds == NULL);
	ck_assert_msg(line == OPM_COMMAND_MAX + 1 && strstr(error->message,
	    "more than") != NULL, "got line %u \"%s\"", line, error->message);
	g_string_free(t, TRUE);
}
END_TEST

START_TEST(authority_of_each_command)
{
	ck_assert(opm_command_authority(OPM_CMD_GET_LIST_KEY) ==
	    OPM_AUTH_ANYONE);
	ck_assert(opm_command_authority(OPM_CMD_UPDATE_KEY) == OPM_AUTH_MEMBER);
	ck_assert(opm_command_authority(OPM_CMD_UNSUBSCRIBE) ==
	    OPM_AUTH_MEMBER);
	ck_assert(opm_command_authority(OPM_CMD_ADD_MEMBER) == OPM_AUTH_ADMIN);
	ck_assert(opm_command_authority(OPM_CMD_REMOVE_MEMBER) ==
	    OPM_AUTH_ADMIN);
	ck_assert(opm_command_authority(OPM_CMD_SET_KEY) == OPM_AUTH_ADMIN);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("command");
	TCase *tc = tcase_create("parse");

	tcase_add_loop_test(tc, commands_are_read, 0, G_N_ELEMENTS(good));
	tcase_add_loop_test(tc, bad_texts_name_their_line, 0, G_N_ELEMENTS(bad));
	tcase_add_test(tc, overlong_line_is_refused_without_echo);
	tcase_add_test(tc, too_many_commands);
	tcase_add_test(tc, authority_of_each_command);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
