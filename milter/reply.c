/*
 * NAME
 *	reply - a verdict becomes an SMTP reply and a milter return code
 * SYNOPSIS
 *	opmf_reply()
 * DESCRIPTION
 *	The only place that maps OpmVerdict to smfi_setreply() and sfsistat.
 *	An accepted post has been distributed as encrypted copies, so the
 *	original is discarded unless other recipients still need it.
 *	Reply text lines are printable ASCII (the gate sanitizes what it
 *	takes from a message); '%' is doubled as libmilter requires.
 *
 *	A text of several lines goes out as one SMTP reply line, its lines
 *	joined by spaces, whenever that line fits in the 512 octets RFC 5321
 *	(4.5.3.1.5) allows.  libmilter joins the lines of a multi-line reply
 *	with CRLF, and Postfix writes that CRLF into its log as "??" (and
 *	the poster's bounce shows the codes between the lines); only a text
 *	too long for one line is sent as a multi-line reply.
 */
#include "config.h"

#include <string.h>

#include "opmf.h"

/* RFC 5321 4.5.3.1.5: a reply line, code and CRLF included */
#define REPLY_LINE_MAX 512

static char *
escape_percent(const char *s)
{
	GString *out = g_string_new(NULL);

	for (; *s != '\0'; s++) {
		if (*s == '%')
			g_string_append_c(out, '%');
		g_string_append_c(out, *s);
	}
	return g_string_free(out, FALSE);
}

sfsistat
opmf_reply(SMFICTX *ctx, const OpmVerdict *v, gboolean keep_original)
{
	g_auto(GStrv) lines = NULL;
	sfsistat rc;

	switch (v->action) {
	case OPM_ACTION_ACCEPT:
		/* distributed: the original goes nowhere but to non-list
		 * recipients of the same transaction */
		return keep_original ? SMFIS_CONTINUE : SMFIS_DISCARD;
	case OPM_ACTION_REJECT:
		rc = SMFIS_REJECT;
		break;
	case OPM_ACTION_TEMPFAIL:
	default:
		rc = SMFIS_TEMPFAIL;
		break;
	}
	lines = g_strsplit(v->text != NULL ? v->text : "", "\n", 31);
	for (char **l = lines; *l != NULL; l++) {
		char *e = escape_percent(*l);

		g_free(*l);
		*l = e;
	}
	if (g_strv_length(lines) > 1) {
		g_autofree char *one = g_strjoinv(" ", lines);

		/* "550 5.7.1 " + text + CRLF */
		if (strlen(v->rcode) + strlen(v->xcode) + 2 + strlen(one) + 2 <=
		    REPLY_LINE_MAX) {
			g_strfreev(lines);
			lines = g_new0(char *, 2);
			lines[0] = g_steal_pointer(&one);
		}
	}
	if (opmf_smfi->setreply(ctx, v->rcode, v->xcode, lines) != MI_SUCCESS)
		g_warning("%s: cannot set the SMTP reply text", v->list);
	return rc;
}
