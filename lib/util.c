/*
 * NAME
 *	util - small helpers shared by every lib/ module
 * SYNOPSIS
 *	opm_error_quark(), opm_refuse(), opm_sanitize(), opm_address_normalize(),
 *	opm_envelope_address(), opm_address_canon(), opm_address_match(),
 *	opm_commit_run(), opm_commit_clear()
 * DESCRIPTION
 *	String helpers that keep untrusted text out of headers, replies and
 *	logs, and that put mail addresses into the one form the rest of the
 *	library compares.
 *
 *	opm_address_match() is the one rule by which an envelope address is
 *	found to reach an address the filter owns (a list address, a bounce
 *	address): the MTA delivers many spellings of one mailbox, and the
 *	gate must see every one of them.  It follows what Postfix does with
 *	an envelope recipient: white space and comments outside quotes are
 *	dropped, a source route is ignored, a quoted local part stands for
 *	its unquoted content, one trailing dot of the domain goes, the
 *	domain and the local part are compared without regard to case, and
 *	an address extension after a recipient delimiter is taken off the
 *	first delimiter character on (never from owner-X or X-request when
 *	'-' is a delimiter, never from postmaster or MAILER-DAEMON).  A
 *	local part that still routes somewhere (user@domain, user%domain or
 *	domain!user, after unquoting) also counts as that inner address,
 *	since an MTA may deliver it there; an address without a domain
 *	matches any domain, since the MTA completes it with one of its own.
 *	Where the MTA might or might not deliver an address to the owned
 *	one, the answer is yes: a post that should not have met the gate
 *	is at worst refused, one that escaped it would reach the list.
 * DIAGNOSTICS
 *	An envelope address that is not an address at all (unbalanced
 *	quotes or brackets, control characters, no local part) reaches
 *	nothing; opm_address_canon() returns NULL for it.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "opm.h"

G_DEFINE_QUARK(openpgp-milter-error-quark, opm_error)

gboolean
opm_refuse(GError **error, const char *fmt, ...)
{
	va_list ap;

	if (error == NULL)
		return FALSE;
	va_start(ap, fmt);
	g_propagate_error(error, g_error_new_valist(OPM_ERROR,
	    OPM_ERROR_CONFIG, fmt, ap));
	va_end(ap);
	return FALSE;
}

gboolean
opm_mkdir(const char *dir, int mode, GError **error)
{
	int e;

	if (g_mkdir_with_parents(dir, mode) == 0)
		return TRUE;
	e = errno;
	g_set_error(error, OPM_ERROR, OPM_ERROR_IO, "%s: %s", dir,
	    g_strerror(e));
	return FALSE;
}

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

/* An envelope address taken apart: local part in internal (unquoted)
 * form, domain in lower case or NULL when there is none. */
typedef struct {
	char *local;
	char *domain;
} Addr;

static void
addr_clear(Addr *a)
{
	g_clear_pointer(&a->local, g_free);
	g_clear_pointer(&a->domain, g_free);
}

static gboolean
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static gboolean
is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* RFC 5322 atext, plus the dot and the routing operators that an
 * unquoted local part in internal form may hold; 8-bit bytes pass
 * (SMTPUTF8). */
static gboolean
is_local_char(unsigned char c)
{
	return g_ascii_isalnum(c) || c >= 0x80 ||
	    strchr("!#$%&'*+-/=?^_`{|}~.@", c) != NULL;
}

/*
 * s without white space and (comments) outside quoted strings and domain
 * literals, as an RFC 822 parser reads an address.  FALSE when a quote,
 * a bracket or a comment is left open or a control character appears.
 */
static gboolean
strip_cfws(const char *s, GString *out)
{
	gboolean quoted = FALSE, literal = FALSE;
	gsize depth = 0;

	for (; *s != '\0'; s++) {
		char c = *s;

		if (is_control((unsigned char)c) && !is_space(c))
			return FALSE;
		if (depth > 0) {
			if (c == '\\' && s[1] != '\0')
				s++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			continue;
		}
		if (quoted) {
			if (c == '\r' || c == '\n')
				return FALSE;
			g_string_append_c(out, c);
			if (c == '\\' && s[1] != '\0')
				g_string_append_c(out, *++s);
			else if (c == '"')
				quoted = FALSE;
			continue;
		}
		if (literal) {
			if (!is_space(c))
				g_string_append_c(out, c);
			if (c == ']')
				literal = FALSE;
			continue;
		}
		if (is_space(c))
			continue;
		if (c == '(') {
			depth++;
			continue;
		}
		if (c == ')')
			return FALSE;
		if (c == '"')
			quoted = TRUE;
		else if (c == '[')
			literal = TRUE;
		g_string_append_c(out, c);
	}
	return !quoted && !literal && depth == 0;
}

/* Index of the first c in s[0..n) outside quoted strings and domain
 * literals (rightmost when last), or -1. */
static gssize
find_plain(const char *s, gsize n, char c, gboolean last)
{
	gboolean quoted = FALSE, literal = FALSE;
	gssize found = -1;

	for (gsize i = 0; i < n; i++) {
		if (quoted) {
			if (s[i] == '\\' && i + 1 < n)
				i++;
			else if (s[i] == '"')
				quoted = FALSE;
		} else if (literal) {
			if (s[i] == ']')
				literal = FALSE;
		} else if (s[i] == '"') {
			quoted = TRUE;
		} else if (s[i] == '[') {
			literal = TRUE;
		} else if (s[i] == c) {
			found = (gssize)i;
			if (!last)
				break;
		}
	}
	return found;
}

/* The local part s[0..n) in internal form: words joined, quotes
 * removed, quoted pairs resolved.  NULL when it is not a local part. */
static char *
local_internal(const char *s, gsize n)
{
	GString *out = g_string_sized_new(n);
	gboolean quoted = FALSE;

	for (gsize i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"') {
			quoted = !quoted;
			continue;
		}
		if (quoted) {
			if (c == '\\' && i + 1 < n)
				c = (unsigned char)s[++i];
			if (is_control(c))
				goto BAD;
			g_string_append_c(out, (char)c);
			continue;
		}
		if (!is_local_char(c))
			goto BAD;
		g_string_append_c(out, (char)c);
	}
	if (quoted || out->len == 0)
		goto BAD;
	return g_string_free(out, FALSE);
BAD:
	g_string_free(out, TRUE);
	return NULL;
}

/* The domain s[0..n) in lower case, without one trailing dot (but not
 * from "x.." or "."), or NULL when it is not a domain. */
static char *
domain_canon(const char *s, gsize n)
{
	if (n == 0)
		return NULL;
	if (s[0] == '[') {
		if (n < 3 || s[n - 1] != ']' ||
		    memchr(s + 1, ']', n - 2) != NULL ||
		    memchr(s + 1, '[', n - 2) != NULL)
			return NULL;
		return g_ascii_strdown(s, (gssize)n);
	}
	for (gsize i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!g_ascii_isalnum(c) && c < 0x80 && c != '-' && c != '.' &&
		    c != '_')
			return NULL;
	}
	if (n >= 2 && s[n - 1] == '.' && s[n - 2] != '.')
		n--;
	return g_ascii_strdown(s, (gssize)n);
}

/*
 * Take an envelope address apart as the MTA reads it: white space and
 * comments dropped, one pair of angle brackets and a source route
 * removed, split at the rightmost '@' outside quotes.  "user@" counts
 * as "user".  FALSE (a cleared) when it is not an address.
 */
static gboolean
addr_parse(const char *in, Addr *a)
{
	g_autoptr(GString) buf = g_string_new(NULL);
	const char *s;
	gsize n;
	gssize at;

	a->local = a->domain = NULL;
	if (in == NULL || !strip_cfws(in, buf))
		return FALSE;
	s = buf->str;
	n = buf->len;
	if (n > 0 && s[0] == '<') {
		if (n < 2 || s[n - 1] != '>')
			return FALSE;
		s++;
		n -= 2;
	}
	if (find_plain(s, n, '<', FALSE) >= 0 ||
	    find_plain(s, n, '>', FALSE) >= 0)
		return FALSE;
	if (n > 0 && s[0] == '@') {
		/* a source route, "@a,@b:": the MTA ignores it */
		gssize colon = find_plain(s, n, ':', FALSE);

		if (colon < 0 || memchr(s, '"', (gsize)colon) != NULL)
			return FALSE;
		s += colon + 1;
		n -= (gsize)colon + 1;
	}
	at = find_plain(s, n, '@', TRUE);
	if (at >= 0 && (gsize)at + 1 < n) {
		a->domain = domain_canon(s + at + 1, n - (gsize)at - 1);
		if (a->domain == NULL)
			return FALSE;
	}
	a->local = local_internal(s, at >= 0 ? (gsize)at : n);
	if (a->local == NULL) {
		addr_clear(a);
		return FALSE;
	}
	return TRUE;
}

/* The address a local part with routing operators leads to, as the MTA
 * routes it once its own domain is stripped: "user@domain" (after
 * unquoting), else "domain!user" (at the first '!'), else "user%domain"
 * (at the rightmost '%').  FALSE when local routes nowhere. */
static gboolean
addr_route(const char *local, Addr *inner)
{
	g_autofree char *s = NULL;
	const char *p;

	if (strchr(local, '@') != NULL) {
		s = g_strdup(local);
	} else if ((p = strchr(local, '!')) != NULL) {
		s = g_strdup_printf("%s@%.*s", p + 1, (int)(p - local), local);
	} else if ((p = strrchr(local, '%')) != NULL) {
		s = g_strdup(local);
		s[p - local] = '@';
	} else {
		return FALSE;
	}
	return addr_parse(s, inner) && inner->domain != NULL;
}

char *
opm_address_canon(const char *addr)
{
	Addr a;
	char *out;

	if (!addr_parse(addr, &a))
		return NULL;
	out = a.domain != NULL ? g_strconcat(a.local, "@", a.domain, NULL) :
	    g_strdup(a.local);
	addr_clear(&a);
	return out;
}

/* Postfix never splits these local parts at a delimiter. */
static gboolean
never_split(const char *local, const char *delimiters)
{
	gsize n = strlen(local);

	if (g_ascii_strcasecmp(local, "postmaster") == 0 ||
	    g_ascii_strcasecmp(local, "mailer-daemon") == 0)
		return TRUE;
	return strchr(delimiters, '-') != NULL &&
	    (g_ascii_strncasecmp(local, "owner-", 6) == 0 ||
		(n > 8 && g_ascii_strcasecmp(local + n - 8, "-request") == 0));
}

/* One spelling r of the recipient against the owned address o. */
static OpmAddrMatch
match_one(const Addr *r, const Addr *o, const char *delimiters)
{
	gsize n;

	if (r->domain != NULL && (o->domain == NULL ||
	    strcmp(r->domain, o->domain) != 0))
		return OPM_ADDR_NONE;
	if (g_ascii_strcasecmp(r->local, o->local) == 0)
		return OPM_ADDR_SAME;
	if (delimiters == NULL || *delimiters == '\0' ||
	    never_split(r->local, delimiters))
		return OPM_ADDR_NONE;
	n = strcspn(r->local, delimiters);
	if (n == 0 || r->local[n] == '\0' || strlen(o->local) != n ||
	    g_ascii_strncasecmp(r->local, o->local, n) != 0)
		return OPM_ADDR_NONE;
	return OPM_ADDR_EXTENSION;
}

/* Routing depth followed; each step makes the address shorter anyway. */
#define MAX_ROUTE 8

OpmAddrMatch
opm_address_match(const char *rcpt, const char *owned,
    const char *delimiters)
{
	OpmAddrMatch best = OPM_ADDR_NONE;
	Addr o, r;

	if (!addr_parse(owned, &o))
		return OPM_ADDR_NONE;
	if (!addr_parse(rcpt, &r)) {
		addr_clear(&o);
		return OPM_ADDR_NONE;
	}
	for (int depth = 0; best != OPM_ADDR_SAME; depth++) {
		OpmAddrMatch m = match_one(&r, &o, delimiters);
		Addr inner;

		if (m > best)
			best = m;
		if (depth == MAX_ROUTE || !addr_route(r.local, &inner))
			break;
		addr_clear(&r);
		r = inner;
	}
	addr_clear(&r);
	addr_clear(&o);
	return best;
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
