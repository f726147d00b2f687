/*
 * NAME
 *	util - small helpers shared by every lib/ module
 * SYNOPSIS
 *	opm_error_quark(), opm_sanitize(), opm_address_normalize(),
 *	opm_envelope_address(), opm_commit_run(), opm_commit_clear()
 * DESCRIPTION
 *	String helpers that keep untrusted text out of headers, replies and
 *	logs, and that put mail addresses into the one form the rest of the
 *	library compares.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "opm.h"

G_DEFINE_QUARK(openpgp-milter-error-quark, opm_error)

char *
opm_sanitize(const char *s, gsize max)
{
	GString *out;

	if (s == NULL)
		return g_strdup("");
	out = g_string_sized_new(MIN(strlen(s), max) + 1);
	for (; *s != '\0' && out->len < max; s++) {
		unsigned char c = (unsigned char)*s;

		g_string_append_c(out, (c >= 0x20 && c < 0x7f) ? (char)c : '?');
	}
	return g_string_free(out, FALSE);
}

char *
opm_address_normalize(const char *addr)
{
	const char *at;
	char *domain;
	char *out;

	if (addr == NULL)
		return NULL;
	at = strrchr(addr, '@');
	if (at == NULL)
		return g_strdup(addr);
	domain = g_ascii_strdown(at + 1, -1);
	out = g_strdup_printf("%.*s@%s", (int)(at - addr), addr, domain);
	g_free(domain);
	return out;
}

char *
opm_envelope_address(const char *arg)
{
	g_autofree char *s = g_strstrip(g_strdup(arg != NULL ? arg : ""));
	gsize n = strlen(s);

	if (n >= 2 && s[0] == '<' && s[n - 1] == '>')
		return g_strndup(s + 1, n - 2);
	return g_steal_pointer(&s);
}

gboolean
opm_commit_run(const OpmCommit *c)
{
	/* the write survives the death of any process at once; the journal
	 * syncs the file when it writes the post's state */
	return c->fd >= 0 && c->offset >= 0 &&
	    pwrite(c->fd, "d", 1, (off_t)c->offset) == 1;
}

void
opm_commit_clear(OpmCommit *c)
{
	c->fd = -1;
	c->offset = -1;
}
