/*
 * NAME
 *	command - the commands of a mail to a list's request address
 * SYNOPSIS
 *	opm_command_parse(), opm_command_free(), opm_command_name(),
 *	opm_command_authority(), opm_command_is_admission()
 * DESCRIPTION
 *	A small line parser with a table of verbs: name, who may give it,
 *	and how many arguments it takes.  Everything it returns was checked
 *	here for form only (an address that looks like one, a full
 *	fingerprint); whether the change can be made is lib/member.c's
 *	business.  Text from mail is hostile: a line with control
 *	characters, NUL bytes or 8-bit bytes, a line over
 *	OPM_COMMAND_MAX_LINE bytes and more than OPM_COMMAND_MAX commands
 *	are errors, and nothing of such a line is echoed back unsanitized.
 * DIAGNOSTICS
 *	OPM_ERROR_CONFIG: "line N: ...".
 */
#include "config.h"

#include <string.h>

#include "command.h"
#include "conf.h"

static const struct {
	const char *name;
	OpmCommandVerb verb;
	OpmAuthority auth;
	guint min, max; /* arguments; max G_MAXUINT: a name may follow */
	const char *usage;
} verbs[] = {
	{"get-list-key", OPM_CMD_GET_LIST_KEY, OPM_AUTH_ANYONE, 0, 0,
	    "get-list-key"},
	{"help", OPM_CMD_HELP, OPM_AUTH_MEMBER, 0, 0, "help"},
	{"list-members", OPM_CMD_LIST_MEMBERS, OPM_AUTH_MEMBER, 0, 0,
	    "list-members"},
	{"update-key", OPM_CMD_UPDATE_KEY, OPM_AUTH_MEMBER, 1, 1,
	    "update-key FINGERPRINT"},
	{"unsubscribe", OPM_CMD_UNSUBSCRIBE, OPM_AUTH_MEMBER, 0, 0,
	    "unsubscribe"},
	{"add-member", OPM_CMD_ADD_MEMBER, OPM_AUTH_ADMIN, 2, G_MAXUINT,
	    "add-member ADDRESS FINGERPRINT [NAME]"},
	{"remove-member", OPM_CMD_REMOVE_MEMBER, OPM_AUTH_ADMIN, 1, 1,
	    "remove-member ADDRESS"},
	{"set-key", OPM_CMD_SET_KEY, OPM_AUTH_ADMIN, 2, 2,
	    "set-key ADDRESS FINGERPRINT"},
	{"nominate", OPM_CMD_NOMINATE, OPM_AUTH_MEMBER, 2, G_MAXUINT,
	    "nominate ADDRESS FINGERPRINT [NAME]"},
	{"vouch", OPM_CMD_VOUCH, OPM_AUTH_MEMBER, 2, 2,
	    "vouch ADDRESS FINGERPRINT"},
	{"object", OPM_CMD_OBJECT, OPM_AUTH_MEMBER, 2, G_MAXUINT,
	    "object ADDRESS REASON"},
	{"approve", OPM_CMD_APPROVE, OPM_AUTH_ADMIN, 1, 1, "approve ADDRESS"},
	{"nominations", OPM_CMD_NOMINATIONS, OPM_AUTH_MEMBER, 0, 0,
	    "nominations"},
	{"withdraw", OPM_CMD_WITHDRAW, OPM_AUTH_MEMBER, 1, 1,
	    "withdraw ADDRESS"},
};

void
opm_command_free(OpmCommand *c)
{
	if (c == NULL)
		return;
	g_free(c->address);
	g_free(c->fpr);
	g_free(c->name);
	g_free(c);
}

const char *
opm_command_name(OpmCommandVerb verb)
{
	for (guint i = 0; i < G_N_ELEMENTS(verbs); i++)
		if (verbs[i].verb == verb)
			return verbs[i].name;
	return "?";
}

OpmAuthority
opm_command_authority(OpmCommandVerb verb)
{
	for (guint i = 0; i < G_N_ELEMENTS(verbs); i++)
		if (verbs[i].verb == verb)
			return verbs[i].auth;
	return OPM_AUTH_ADMIN;
}

gboolean
opm_command_is_admission(OpmCommandVerb verb)
{
	return verb == OPM_CMD_NOMINATE || verb == OPM_CMD_VOUCH ||
	    verb == OPM_CMD_OBJECT || verb == OPM_CMD_APPROVE ||
	    verb == OPM_CMD_NOMINATIONS || verb == OPM_CMD_WITHDRAW;
}

/* The rest of s after its first n words, stripped; NULL when empty.
 * (transfer full) */
static char *
rest_after(const char *s, guint n)
{
	const char *p = s;

	for (guint i = 0; i < n; i++) {
		while (*p == ' ' || *p == '\t')
			p++;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	return *p != '\0' ? g_strstrip(g_strdup(p)) : NULL;
}

static gboolean
bad(GError **error, guint *bad_line, guint line, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

static gboolean
bad(GError **error, guint *bad_line, guint line, const char *fmt, ...)
{
	g_autofree char *why = NULL;
	va_list ap;

	va_start(ap, fmt);
	why = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (bad_line != NULL)
		*bad_line = line;
	g_set_error(error, OPM_ERROR, OPM_ERROR_CONFIG, "line %u: %s", line,
	    why);
	return FALSE;
}

/* One line, without its line end, checked for printable ASCII. */
static gboolean
parse_line(const char *p, gsize n, guint line, GPtrArray *out,
    guint *bad_line, GError **error)
{
	g_autofree char *s = NULL;
	g_auto(GStrv) w = NULL;
	g_autofree char *word = NULL;
	OpmCommand *c;
	guint nargs = 0, v;

	if (n > OPM_COMMAND_MAX_LINE)
		return bad(error, bad_line, line, "longer than %d characters",
		    OPM_COMMAND_MAX_LINE);
	for (gsize i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];

		if ((ch < 0x20 && ch != '\t') || ch >= 0x7f)
			return bad(error, bad_line, line, "holds a character "
			    "that is not printable ASCII (byte 0x%02x)", ch);
	}
	s = g_strstrip(g_strndup(p, n));
	if (*s == '\0' || *s == '>')
		return TRUE;
	w = g_regex_split_simple("[ \t]+", s, 0, 0);
	word = opm_sanitize(w[0], 40);
	for (v = 0; v < G_N_ELEMENTS(verbs); v++)
		if (g_ascii_strcasecmp(w[0], verbs[v].name) == 0)
			break;
	if (v == G_N_ELEMENTS(verbs))
		return bad(error, bad_line, line, "\"%s\" is not a command "
		    "(send \"help\" for the list of commands)", word);
	while (w[nargs + 1] != NULL)
		nargs++;
	if (nargs < verbs[v].min || nargs > verbs[v].max)
		return bad(error, bad_line, line, "want \"%s\"", verbs[v].usage);
	if (out->len >= OPM_COMMAND_MAX)
		return bad(error, bad_line, line, "more than %d commands in one "
		    "mail", OPM_COMMAND_MAX);
	c = g_new0(OpmCommand, 1);
	c->verb = verbs[v].verb;
	c->line = line;
	g_ptr_array_add(out, c);
	switch (c->verb) {
	case OPM_CMD_UPDATE_KEY:
		c->fpr = opm_fpr_canon(w[1]);
		break;
	case OPM_CMD_ADD_MEMBER:
	case OPM_CMD_SET_KEY:
	case OPM_CMD_NOMINATE:
	case OPM_CMD_VOUCH:
		c->address = g_strdup(w[1]);
		c->fpr = opm_fpr_canon(w[2]);
		/* the name: the rest of the line as written */
		if (w[3] != NULL)
			c->name = rest_after(s, 3);
		break;
	case OPM_CMD_OBJECT:
		c->address = g_strdup(w[1]);
		c->name = rest_after(s, 2);
		break;
	case OPM_CMD_REMOVE_MEMBER:
	case OPM_CMD_APPROVE:
	case OPM_CMD_WITHDRAW:
		c->address = g_strdup(w[1]);
		break;
	default:
		break;
	}
	if (c->address != NULL && (!opm_address_valid(c->address) ||
	    strchr(c->address, '#') != NULL)) {
		g_autofree char *a = opm_sanitize(c->address, 80);

		return bad(error, bad_line, line, "\"%s\" is not a mail address",
		    a);
	}
	if ((c->verb == OPM_CMD_UPDATE_KEY || c->verb == OPM_CMD_ADD_MEMBER ||
	    c->verb == OPM_CMD_SET_KEY || c->verb == OPM_CMD_NOMINATE ||
	    c->verb == OPM_CMD_VOUCH) && c->fpr == NULL)
		return bad(error, bad_line, line, "want the full fingerprint of "
		    "the key (40 or 64 hex digits, without spaces): \"%s\"",
		    verbs[v].usage);
	return TRUE;
}

GPtrArray *
opm_command_parse(const char *text, gsize n, guint *bad_line, GError **error)
{
	g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)opm_command_free);
	gsize i = 0;
	guint line = 0;

	if (bad_line != NULL)
		*bad_line = 0;
	while (i < n) {
		const char *nl = memchr(text + i, '\n', n - i);
		gsize end = nl != NULL ? (gsize)(nl - text) : n;
		gsize len = end - i;

		line++;
		if (len > 0 && text[i + len - 1] == '\r')
			len--;
		/* the signature delimiter ends the commands */
		if ((len == 3 && memcmp(text + i, "-- ", 3) == 0) ||
		    (len == 2 && memcmp(text + i, "--", 2) == 0))
			break;
		if (!parse_line(text + i, len, line, out, bad_line, error))
			return NULL;
		i = end + 1;
	}
	if (out->len == 0) {
		if (bad_line != NULL)
			*bad_line = 0;
		g_set_error(error, OPM_ERROR, OPM_ERROR_CONFIG, "the mail holds "
		    "no command (send \"help\" for the list of commands)");
		return NULL;
	}
	return g_steal_pointer(&out);
}
