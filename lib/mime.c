/*
 * NAME
 *	mime - bounded parsing and classification of a post
 * SYNOPSIS
 *	opm_message_parse(), opm_message_free(), opm_message_headers(),
 *	opm_message_part_headers(), opm_message_protected_headers(),
 *	opm_message_top_entity(), opm_message_inner_signature(),
 *	opm_mime_signed_entity(), opm_text_has_pgp_block(),
 *	opm_fields_get(), opm_fields_count(), opm_crlf()
 * DESCRIPTION
 *	First a raw pass over the bytes: total size, the top-level header
 *	block (count and size of fields) and a cheap upper bound on the number
 *	of MIME entities, so that GMime never sees input that would make it
 *	recurse deeply.  Then GMime parses, and a walk over the tree enforces
 *	depth, part count and per-part header bounds.
 *
 *	Only the top-level structure decides whether a post is signed.  For a
 *	multipart/signed the two body parts are delimited on the raw bytes,
 *	following RFC 2046 (a delimiter is CRLF "--" boundary, optional
 *	white space, CRLF; the CRLF before it belongs to the delimiter), so
 *	that the bytes handed to gpg are exactly the bytes the poster signed.
 *
 *	An RFC 3156 multipart/encrypted must be exactly the control part and
 *	one application/octet-stream; its decoded content is kept for the
 *	gate to decrypt.  Exchange's well-known rewriting of it, a
 *	multipart/mixed of exactly an empty text/plain, the control part and
 *	the octet-stream, is taken as what it was; nothing looser is.
 *
 *	Inline PGP counts only when the whole decoded text/plain body is one
 *	clear-signed block or one armored PGP MESSAGE, with nothing but white
 *	space around it.  The armor lines are matched at the start of a line
 *	only, so that a dash-escaped "- -----END PGP SIGNATURE-----" in the
 *	signed text cannot end the block early.
 *
 *	What a post signed and encrypted in one step decrypts to is the
 *	poster's content, with no signature of its own in the copies; so it
 *	must hold no signed or encrypted layer that a mail client could show
 *	as the post's signature (opm_message_inner_signature()).  Only
 *	messages attached as message/rfc822 may be signed: a client shows
 *	them as attached messages with their own From.
 *
 *	The multipart/signed entity the copies carry is written afresh
 *	(opm_mime_signed_entity()): the signed part's exact bytes and a
 *	clean signature part, without the preamble, the epilogue or
 *	anything else nobody signed.
 *
 *	The same parser serves for an entity the gate decrypted or a signed
 *	part whose protected header fields it reads: a MIME entity is a
 *	message whose header section holds only Content-* fields.
 * DIAGNOSTICS
 *	None: every problem of the message is reported in the OpmMessage.
 */
#include "config.h"

#include <string.h>

#include "mime.h"

void
opm_crlf_append(GString *out, const char *p, gsize n)
{
	gsize i = 0;

	while (i < n) {
		const char *nl = memchr(p + i, '\n', n - i);
		gsize end = nl != NULL ? (gsize)(nl - p) : n;

		g_string_append_len(out, p + i, (gssize)(end - i));
		if (nl == NULL)
			break;
		if (end == 0 || p[end - 1] != '\r')
			g_string_append_c(out, '\r');
		g_string_append_c(out, '\n');
		i = end + 1;
	}
}

GBytes *
opm_crlf(const char *p, gsize n)
{
	GString *out = g_string_sized_new(n + n / 32 + 2);

	opm_crlf_append(out, p, n);
	return g_string_free_to_bytes(out);
}

/* n bytes of raw from off with CRLF line ends: a slice of raw (no copy)
 * when they have them already, as mail from an MTA does.  (transfer
 * full) */
static GBytes *
crlf_slice(GBytes *raw, gsize off, gsize n)
{
	const char *p = (const char *)g_bytes_get_data(raw, NULL) + off;

	for (const char *nl = memchr(p, '\n', n); nl != NULL;
	    nl = memchr(nl + 1, '\n', n - (gsize)(nl + 1 - p)))
		if (nl == p || nl[-1] != '\r')
			return opm_crlf(p, n);
	return g_bytes_new_from_bytes(raw, off, n);
}

gsize
opm_body_offset(const char *p, gsize n)
{
	gsize i = 0;

	while (i < n) {
		const char *nl = memchr(p + i, '\n', n - i);
		gsize len;

		if (nl == NULL)
			return n;
		len = (gsize)(nl - (p + i));
		if (len == 0 || (len == 1 && p[i] == '\r'))
			return (gsize)(nl - p) + 1;
		i = (gsize)(nl - p) + 1;
	}
	return n;
}

static void
set_limit(OpmMessage *m, OpmLimit limit, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static void
set_limit(OpmMessage *m, OpmLimit limit, const char *fmt, ...)
{
	va_list ap;

	if (m->limit != OPM_LIMIT_OK)
		return;
	m->limit = limit;
	va_start(ap, fmt);
	m->limit_detail = g_strdup_vprintf(fmt, ap);
	va_end(ap);
}

/* Count and measure the fields of the top-level header block. */
static void
check_header_block(OpmMessage *m, const char *p, gsize n,
    const OpmLimits *lim)
{
	gint64 fields = 0, field_len = 0;
	gsize i = 0;

	while (i < n) {
		const char *nl = memchr(p + i, '\n', n - i);
		gsize end = nl != NULL ? (gsize)(nl - p) + 1 : n;

		if (p[i] == ' ' || p[i] == '\t') {
			field_len += end - i;
		} else {
			fields++;
			field_len = end - i;
		}
		if (field_len > lim->max_header_size) {
			set_limit(m, OPM_LIMIT_HEADER_SIZE,
			    "a header field longer than %" G_GINT64_FORMAT
			    " bytes", lim->max_header_size);
			return;
		}
		i = end;
	}
	if (fields > lim->max_headers)
		set_limit(m, OPM_LIMIT_HEADERS,
		    "%" G_GINT64_FORMAT " header fields, at most %"
		    G_GINT64_FORMAT, fields, lim->max_headers);
}

/* Cheap upper bound on the MIME entities with a header of their own: lines
 * starting "Content-Type", optional white space, ":".  Stops counting
 * past stop. */
static gint64
count_content_types(const char *p, gsize n, gint64 stop)
{
	static const char ct[] = "content-type";
	gint64 count = 0;

	for (gsize i = 0; i + sizeof(ct) - 1 < n && count <= stop;) {
		const char *nl;

		if (g_ascii_strncasecmp(p + i, ct, sizeof(ct) - 1) == 0) {
			gsize j = i + sizeof(ct) - 1;

			while (j < n && (p[j] == ' ' || p[j] == '\t'))
				j++;
			if (j < n && p[j] == ':')
				count++;
		}
		nl = memchr(p + i, '\n', n - i);
		if (nl == NULL)
			break;
		i = (gsize)(nl - p) + 1;
	}
	return count;
}

/* Add to set every boundary parameter the message declares, read loosely
 * from each "boundary=" anywhere in it (a word in a text part only adds a
 * value no line matches).  Returns FALSE when a value takes more than
 * this loose reading to decode (RFC 2231 sections, an encoded word, a
 * comment, a folded line): the caller must then assume any line may be
 * a delimiter. */
static gboolean
declared_boundaries(const char *p, gsize n, GHashTable *set)
{
	static const char key[] = "boundary";
	const gsize klen = sizeof(key) - 1;
	gboolean exact = TRUE;

	for (gsize i = 0; i + klen <= n; i++) {
		g_autoptr(GString) v = NULL;
		gsize j;

		if ((p[i] != 'b' && p[i] != 'B') ||
		    g_ascii_strncasecmp(p + i, key, klen) != 0)
			continue;
		for (j = i + klen; j < n && (p[j] == ' ' || p[j] == '\t'); j++)
			;
		if (j < n && p[j] == '*') {
			exact = FALSE;
			continue;
		}
		if (j >= n || p[j] != '=')
			continue;
		for (j++; j < n && (p[j] == ' ' || p[j] == '\t'); j++)
			;
		v = g_string_new(NULL);
		if (j < n && p[j] == '"') {
			for (j++; j < n && p[j] != '"'; j++) {
				if (p[j] == '\\' && j + 1 < n)
					j++;
				if (p[j] == '\r' || p[j] == '\n')
					break;
				g_string_append_c(v, p[j]);
			}
			if (j >= n || p[j] != '"')
				exact = FALSE;
		} else {
			for (; j < n && p[j] != ';' && !g_ascii_isspace(p[j]);
			    j++)
				g_string_append_c(v, p[j]);
		}
		while (v->len > 0 && (v->str[v->len - 1] == ' ' ||
		    v->str[v->len - 1] == '\t'))
			g_string_truncate(v, v->len - 1);
		if (v->len == 0 || v->str[0] == '(' ||
		    strstr(v->str, "=?") != NULL)
			exact = FALSE;
		else
			g_hash_table_add(set, g_string_free(g_steal_pointer(&v),
			    FALSE));
		i = j > i ? j - 1 : i;
	}
	return exact;
}

/* Cheap upper bound on the parts GMime makes from delimiter lines: lines
 * "--" boundary, optional white space (GMime's own reading), for the
 * boundaries the message declares, or every line starting "--" when the
 * declarations cannot be read exactly.  Stops counting past stop. */
static gint64
count_delimiters(const char *p, gsize n, gint64 stop)
{
	g_autoptr(GHashTable) set = g_hash_table_new_full(g_str_hash,
	    g_str_equal, g_free, NULL);
	gboolean exact = declared_boundaries(p, n, set);
	gint64 count = 0;

	if (exact && g_hash_table_size(set) == 0)
		return 0;
	for (gsize i = 0; i < n && count <= stop;) {
		const char *nl = memchr(p + i, '\n', n - i);
		gsize end = nl != NULL ? (gsize)(nl - p) : n;

		if (end - i >= 2 && p[i] == '-' && p[i + 1] == '-') {
			gsize e = end;

			while (e > i + 2 && (p[e - 1] == '\r' || p[e - 1] == ' ' ||
			    p[e - 1] == '\t'))
				e--;
			if (!exact) {
				count++;
			} else {
				g_autofree char *c = g_strndup(p + i + 2,
				    e - i - 2);
				gsize cl = e - i - 2;

				if (g_hash_table_contains(set, c))
					count++;
				else if (cl >= 2 && c[cl - 1] == '-' &&
				    c[cl - 2] == '-') {
					c[cl - 2] = '\0';
					if (g_hash_table_contains(set, c))
						count++;
				}
			}
		}
		if (nl == NULL)
			break;
		i = end + 1;
	}
	return count;
}

gint64
opm_mime_entity_bound(const char *p, gsize n, gint64 stop)
{
	gint64 ct = count_content_types(p, n, stop);

	if (ct > stop)
		return ct;
	return 1 + ct + count_delimiters(p, n, stop - ct);
}

/*
 * Header fields that say how an entity is read.  Parsers disagree on which
 * of two copies counts (GMime takes the last, others the first), so an
 * entity with two of one, or a Content-Type or Content-Disposition
 * naming one parameter twice, reads differently in different clients:
 * what the gate checks need not be what a member's client shows.
 */
static const char *const mime_fields[] = {
	"Content-Type", "Content-Transfer-Encoding", "MIME-Version",
	"Content-Disposition",
};

/* A parameter named twice in the structured field value (RFC 2045
 * parameters, RFC 2231 sections counted under their name).  NULL if
 * none. (transfer full) */
static char *
twice_named_param(const char *value)
{
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash,
	    g_str_equal, g_free, NULL);
	gboolean quoted = FALSE;
	const char *p = value;

	/* skip to the first ';' outside quotes and comments, then read
	 * "name=" after each such ';' */
	for (; *p != '\0'; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (*p == '\\' && quoted && p[1] != '\0')
			p++;
		else if (*p == ';' && !quoted) {
			const char *n = p + 1, *e;
			g_autofree char *name = NULL;
			char *star;

			while (*n == ' ' || *n == '\t' || *n == '\r' ||
			    *n == '\n')
				n++;
			for (e = n; *e != '\0' && *e != '=' && *e != ';' &&
			    *e != ' ' && *e != '\t' && *e != '\r' &&
			    *e != '\n'; e++)
				;
			if (e == n)
				continue;
			name = g_ascii_strdown(n, e - n);
			/* name*0, name*0*, name* are sections of name;
			 * only the first section counts */
			if ((star = strchr(name, '*')) != NULL) {
				if (star[1] != '\0' && star[1] != '*' &&
				    strcmp(star + 1, "0") != 0 &&
				    strcmp(star + 1, "0*") != 0)
					continue;
				*star = '\0';
			}
			if (g_hash_table_contains(seen, name))
				return g_steal_pointer(&name);
			g_hash_table_add(seen, g_steal_pointer(&name));
		}
	}
	return NULL;
}

/* Refuse (OPM_LIMIT_SYNTAX) a header list that a reader can take in two
 * ways. */
static void
check_ambiguous(OpmMessage *m, GMimeHeaderList *hl)
{
	int nh = g_mime_header_list_get_count(hl);

	for (gsize f = 0; f < G_N_ELEMENTS(mime_fields); f++) {
		int count = 0;

		for (int i = 0; i < nh; i++) {
			GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
			const char *raw = g_mime_header_get_raw_value(h);
			g_autofree char *twice = NULL;

			if (g_ascii_strcasecmp(g_mime_header_get_name(h),
			    mime_fields[f]) != 0)
				continue;
			if (++count > 1) {
				set_limit(m, OPM_LIMIT_SYNTAX, "a MIME header "
				    "with more than one %s field, which mail "
				    "programs read differently", mime_fields[f]);
				return;
			}
			if (raw != NULL && (twice = twice_named_param(raw)) !=
			    NULL) {
				g_autofree char *t = opm_sanitize(twice, 40);

				set_limit(m, OPM_LIMIT_SYNTAX, "a %s field "
				    "naming its %s parameter twice, which mail "
				    "programs read differently", mime_fields[f],
				    t);
				return;
			}
		}
	}
}

static void
walk(OpmMessage *m, GMimeObject *obj, gint64 depth, gint64 *parts,
    const OpmLimits *lim)
{
	GMimeHeaderList *hl;
	int nh;

	if (m->limit != OPM_LIMIT_OK)
		return;
	if (depth > lim->max_depth) {
		set_limit(m, OPM_LIMIT_DEPTH,
		    "MIME nesting deeper than %" G_GINT64_FORMAT " levels",
		    lim->max_depth);
		return;
	}
	if (++*parts > lim->max_parts) {
		set_limit(m, OPM_LIMIT_PARTS,
		    "more than %" G_GINT64_FORMAT " MIME parts", lim->max_parts);
		return;
	}
	hl = g_mime_object_get_header_list(obj);
	nh = g_mime_header_list_get_count(hl);
	if (nh > lim->max_headers) {
		set_limit(m, OPM_LIMIT_HEADERS,
		    "a MIME part with %d header fields, at most %"
		    G_GINT64_FORMAT, nh, lim->max_headers);
		return;
	}
	for (int i = 0; i < nh; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *raw = g_mime_header_get_raw_value(h);

		if (raw != NULL && (gint64)strlen(raw) > lim->max_header_size) {
			set_limit(m, OPM_LIMIT_HEADER_SIZE,
			    "a MIME header field longer than %" G_GINT64_FORMAT
			    " bytes", lim->max_header_size);
			return;
		}
	}
	check_ambiguous(m, hl);
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int n = g_mime_multipart_get_count(mp);

		for (int i = 0; i < n && m->limit == OPM_LIMIT_OK; i++)
			walk(m, g_mime_multipart_get_part(mp, i), depth + 1,
			    parts, lim);
	} else if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *inner =
		    g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));

		if (inner != NULL)
			check_ambiguous(m, g_mime_object_get_header_list(
			    GMIME_OBJECT(inner)));
		if (inner != NULL && g_mime_message_get_mime_part(inner) != NULL)
			walk(m, g_mime_message_get_mime_part(inner), depth + 1,
			    parts, lim);
	}
}

static gboolean
is_type(GMimeObject *obj, const char *type, const char *subtype)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);

	/* a part is multipart only if GMime parsed it as one: a broken
	 * header (a bare CR) can name multipart over a leaf part */
	if (g_ascii_strcasecmp(type, "multipart") == 0 && !GMIME_IS_MULTIPART(obj))
		return FALSE;
	return ct != NULL && g_mime_content_type_is_type(ct, type, subtype);
}

static const char *
param(GMimeObject *obj, const char *name)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	const char *v = ct != NULL ?
	    g_mime_content_type_get_parameter(ct, name) : NULL;

	return v != NULL ? v : "";
}

static gboolean
is_pkcs7(const char *s)
{
	return g_ascii_strcasecmp(s, "application/pkcs7-signature") == 0 ||
	    g_ascii_strcasecmp(s, "application/x-pkcs7-signature") == 0 ||
	    g_ascii_strcasecmp(s, "application/pkcs7-mime") == 0 ||
	    g_ascii_strcasecmp(s, "application/x-pkcs7-mime") == 0;
}

/* Decoded content of a leaf part.  (transfer full) */
static GBytes *
part_content(GMimeObject *obj)
{
	GMimeDataWrapper *w;
	GMimeStream *mem;
	GByteArray *ba;
	GBytes *out;

	if (!GMIME_IS_PART(obj) ||
	    (w = g_mime_part_get_content(GMIME_PART(obj))) == NULL)
		return g_bytes_new(NULL, 0);
	mem = g_mime_stream_mem_new();
	(void)g_mime_data_wrapper_write_to_stream(w, mem);
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	out = g_bytes_new(ba->data, ba->len);
	g_object_unref(mem);
	return out;
}

/*
 * Delimit the body parts of the top-level multipart on the raw bytes.
 * Fills starts[]/ends[] (at most max) and returns the number of parts, or
 * -1 when there is no closing delimiter.
 */
static int
raw_parts(const char *p, gsize n, const char *boundary, gsize *starts,
    gsize *ends, int max)
{
	gsize blen = strlen(boundary), i = 0;
	int count = 0;
	gboolean open = FALSE;

	while (i < n) {
		const char *nl = memchr(p + i, '\n', n - i);
		gsize end = nl != NULL ? (gsize)(nl - p) + 1 : n;
		gsize j = i + 2 + blen;
		gboolean close = FALSE;

		if (end - i >= 2 + blen && p[i] == '-' && p[i + 1] == '-' &&
		    memcmp(p + i + 2, boundary, blen) == 0) {
			if (j + 1 < end && p[j] == '-' && p[j + 1] == '-') {
				close = TRUE;
				j += 2;
			}
			while (j < end && (p[j] == ' ' || p[j] == '\t' ||
			    p[j] == '\r' || p[j] == '\n'))
				j++;
			if (j == end) {
				/* a delimiter line: it ends the open part */
				if (open) {
					gsize e = i;

					if (e > 0 && p[e - 1] == '\n')
						e--;
					if (e > 0 && p[e - 1] == '\r')
						e--;
					if (count <= max)
						ends[count - 1] = MAX(e,
						    starts[count - 1]);
				}
				if (close)
					return count;
				if (count < max)
					starts[count] = end;
				count++;
				open = TRUE;
			}
		}
		i = end;
	}
	return -1;
}

/* Describe where a signature hides below obj, or NULL if none does;
 * *kind says what hides there. */
static const char *
nested_signature(GMimeObject *obj, gboolean in_message, OpmPartial *kind)
{
	*kind = OPM_PARTIAL_SIGNED;
	if (is_type(obj, "multipart", "encrypted") ||
	    is_type(obj, "application", "pgp-encrypted")) {
		*kind = OPM_PARTIAL_ENCRYPTED;
		return in_message ?
		    "an encrypted message is attached, but the post itself is "
		    "not encrypted as a whole" :
		    "the encrypted part is only one part of the message, "
		    "not the whole post";
	}
	if (is_type(obj, "multipart", "signed") ||
	    is_type(obj, "application", "pgp-signature")) {
		return in_message ?
		    "a signed message is attached, but the post itself is not signed" :
		    "the signature covers only one part of the message, "
		    "not the whole post";
	}
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);

		for (int i = 0; i < g_mime_multipart_get_count(mp); i++) {
			const char *d = nested_signature(
			    g_mime_multipart_get_part(mp, i), in_message, kind);

			if (d != NULL)
				return d;
		}
	} else if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *inner =
		    g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));

		if (inner != NULL && g_mime_message_get_mime_part(inner) != NULL)
			return nested_signature(
			    g_mime_message_get_mime_part(inner), TRUE, kind);
	} else if (is_type(obj, "text", "plain")) {
		g_autoptr(GBytes) b = part_content(obj);
		gsize len;
		const char *t = g_bytes_get_data(b, &len);

		if (t != NULL && (g_strstr_len(t, len,
		    "-----BEGIN PGP SIGNED MESSAGE-----") != NULL ||
		    g_strstr_len(t, len, "-----BEGIN PGP MESSAGE-----") != NULL)) {
			*kind = in_message ? OPM_PARTIAL_SIGNED :
			    OPM_PARTIAL_INLINE;
			return in_message ?
			    "a signed message is attached, but the post itself is not signed" :
			    "the signed or encrypted text is only one part of the "
			    "message (inline PGP must be the whole message, "
			    "without HTML or attachments)";
		}
	}
	return NULL;
}

static gboolean
only_space(const char *p, gsize n)
{
	for (gsize i = 0; i < n; i++)
		if (!g_ascii_isspace(p[i]))
			return FALSE;
	return TRUE;
}

/*
 * Offset of the first line of t[from..n) that starts with marker and has
 * nothing after it but white space, or n when there is none.
 */
static gsize
find_line(const char *t, gsize n, gsize from, const char *marker)
{
	gsize ml = strlen(marker);

	for (gsize i = from; i < n;) {
		const char *nl = memchr(t + i, '\n', n - i);
		gsize end = nl != NULL ? (gsize)(nl - t) + 1 : n;

		if (end - i >= ml && memcmp(t + i, marker, ml) == 0 &&
		    only_space(t + i + ml, end - i - ml))
			return i;
		i = end;
	}
	return n;
}

/* Offset just after the line starting at i. */
static gsize
line_end(const char *t, gsize n, gsize i)
{
	const char *nl = memchr(t + i, '\n', n - i);

	return nl != NULL ? (gsize)(nl - t) + 1 : n;
}

static void
classify_inline(OpmMessage *m, GMimeObject *top)
{
	static const char begin_signed[] = "-----BEGIN PGP SIGNED MESSAGE-----";
	static const char begin_sig[] = "-----BEGIN PGP SIGNATURE-----";
	static const char end_sig[] = "-----END PGP SIGNATURE-----";
	static const char begin_msg[] = "-----BEGIN PGP MESSAGE-----";
	static const char end_msg[] = "-----END PGP MESSAGE-----";
	g_autoptr(GBytes) b = part_content(top);
	gsize len, s = 0, e, after;
	const char *t = g_bytes_get_data(b, &len);
	gboolean encrypted;

	if (t == NULL || (g_strstr_len(t, len, begin_signed) == NULL &&
	    g_strstr_len(t, len, begin_msg) == NULL))
		return;
	while (s < len && g_ascii_isspace(t[s]))
		s++;
	/* the block must be the first thing in the body */
	if (find_line(t, len, s, begin_signed) == s)
		encrypted = FALSE;
	else if (find_line(t, len, s, begin_msg) == s)
		encrypted = TRUE;
	else {
		m->form = OPM_FORM_PARTIAL;
		m->partial = OPM_PARTIAL_INLINE;
		m->form_detail = g_strdup("there is text before the signed or "
		    "encrypted block");
		return;
	}
	if (encrypted) {
		e = find_line(t, len, s, end_msg);
	} else {
		/* the signed text dash-escapes its lines starting with '-', so
		 * the first line that is the armor header is the signature's */
		e = find_line(t, len, s, begin_sig);
		if (e < len)
			e = find_line(t, len, e, end_sig);
	}
	if (e >= len) {
		m->form = OPM_FORM_BAD_STRUCTURE;
		m->form_detail = g_strdup("the inline PGP block is not closed");
		return;
	}
	after = line_end(t, len, e);
	if (!only_space(t + after, len - after)) {
		m->form = OPM_FORM_PARTIAL;
		m->partial = OPM_PARTIAL_INLINE;
		m->form_detail = g_strdup("there is text after the signed or "
		    "encrypted block");
		return;
	}
	m->form = OPM_FORM_INLINE;
	m->inline_encrypted = encrypted;
	m->inline_text = g_bytes_ref(b);
	if (encrypted)
		m->ciphertext = g_bytes_new_from_bytes(b, s, after - s);
	if (*param(top, "charset") != '\0')
		m->charset = g_strdup(param(top, "charset"));
}

/* Exchange's rewriting of a PGP/MIME encrypted message, exactly: a
 * multipart/mixed of an empty text/plain, application/pgp-encrypted
 * saying "Version: 1" and an application/octet-stream holding an
 * armored PGP MESSAGE.  Returns the octet-stream part or NULL. */
static GMimeObject *
exchange_mangled(GMimeObject *top)
{
	GMimeMultipart *mp = GMIME_MULTIPART(top);
	GMimeObject *p[3];
	g_autoptr(GBytes) b0 = NULL;
	g_autoptr(GBytes) b1 = NULL;
	g_autoptr(GBytes) b2 = NULL;
	g_autofree char *version = NULL;
	gsize n0, n1, n2, i = 0;
	const char *t0, *t1, *t2;

	if (g_mime_multipart_get_count(mp) != 3)
		return NULL;
	for (int k = 0; k < 3; k++) {
		p[k] = g_mime_multipart_get_part(mp, k);
		if (!GMIME_IS_PART(p[k]))
			return NULL;
	}
	if (!is_type(p[0], "text", "plain") ||
	    !is_type(p[1], "application", "pgp-encrypted") ||
	    !is_type(p[2], "application", "octet-stream"))
		return NULL;
	b0 = part_content(p[0]);
	b1 = part_content(p[1]);
	b2 = part_content(p[2]);
	t0 = g_bytes_get_data(b0, &n0);
	t1 = g_bytes_get_data(b1, &n1);
	t2 = g_bytes_get_data(b2, &n2);
	if (n0 > 0 && !only_space(t0, n0))
		return NULL;
	version = g_strstrip(g_strndup(t1 != NULL ? t1 : "", n1));
	if (strcmp(version, "Version: 1") != 0)
		return NULL;
	while (i < n2 && g_ascii_isspace(t2[i]))
		i++;
	if (t2 == NULL || find_line(t2, n2, i,
	    "-----BEGIN PGP MESSAGE-----") != i)
		return NULL;
	return p[2];
}

static void
classify(OpmMessage *m)
{
	GMimeObject *top = g_mime_message_get_mime_part(m->message);
	const char *d;

	m->form = OPM_FORM_UNSIGNED;
	if (top == NULL)
		return;
	if (is_type(top, "multipart", "signed")) {
		const char *proto = param(top, "protocol");
		const char *boundary;
		GMimeMultipart *mp = GMIME_MULTIPART(top);
		gsize starts[3], ends[3], body;
		gsize rlen;
		const char *raw = g_bytes_get_data(m->raw, &rlen);
		int n;

		if (is_pkcs7(proto)) {
			m->form = OPM_FORM_SMIME;
			return;
		}
		if (g_ascii_strcasecmp(proto, "application/pgp-signature") != 0) {
			m->form = OPM_FORM_BAD_STRUCTURE;
			m->form_detail = g_strdup_printf("multipart/signed with "
			    "protocol \"%s\" instead of application/pgp-signature",
			    proto);
			return;
		}
		if (g_mime_multipart_get_count(mp) != 2 ||
		    !is_type(g_mime_multipart_get_part(mp, 1), "application",
			"pgp-signature")) {
			m->form = OPM_FORM_BAD_STRUCTURE;
			m->form_detail = g_strdup("a PGP/MIME signed message must "
			    "have exactly two parts, the second "
			    "application/pgp-signature");
			return;
		}
		boundary = g_mime_multipart_get_boundary(mp);
		body = opm_body_offset(raw, rlen);
		n = boundary != NULL ? raw_parts(raw + body, rlen - body,
		    boundary, starts, ends, 3) : -1;
		if (n != 2) {
			m->form = OPM_FORM_BAD_STRUCTURE;
			m->form_detail = g_strdup(n < 0 ?
			    "the multipart/signed boundary is missing or not closed" :
			    "the multipart/signed body does not hold exactly two parts");
			return;
		}
		m->signed_data = crlf_slice(m->raw, body + starts[0],
		    ends[0] - starts[0]);
		m->signature = part_content(g_mime_multipart_get_part(mp, 1));
		m->entity_start = body;
		m->entity_end = rlen;
		m->form = OPM_FORM_PGPMIME_SIGNED;
		return;
	}
	if (is_type(top, "multipart", "encrypted")) {
		const char *proto = param(top, "protocol");

		if (is_pkcs7(proto)) {
			m->form = OPM_FORM_SMIME;
		} else if (g_ascii_strcasecmp(proto,
		    "application/pgp-encrypted") == 0) {
			GMimeMultipart *mp = GMIME_MULTIPART(top);
			GMimeObject *c = g_mime_multipart_get_count(mp) == 2 ?
			    g_mime_multipart_get_part(mp, 0) : NULL;
			GMimeObject *data = c != NULL ?
			    g_mime_multipart_get_part(mp, 1) : NULL;

			if (c == NULL || !GMIME_IS_PART(c) ||
			    !GMIME_IS_PART(data) ||
			    !is_type(c, "application", "pgp-encrypted") ||
			    !is_type(data, "application", "octet-stream")) {
				m->form = OPM_FORM_BAD_STRUCTURE;
				m->form_detail = g_strdup("a PGP/MIME encrypted "
				    "message must have exactly two parts, "
				    "application/pgp-encrypted and then "
				    "application/octet-stream");
				return;
			}
			m->form = OPM_FORM_PGPMIME_ENCRYPTED;
			m->ciphertext = part_content(data);
		} else {
			m->form = OPM_FORM_BAD_STRUCTURE;
			m->form_detail = g_strdup_printf("multipart/encrypted with "
			    "protocol \"%s\"", proto);
		}
		return;
	}
	if (is_type(top, "application", "pkcs7-mime") ||
	    is_type(top, "application", "x-pkcs7-mime")) {
		m->form = OPM_FORM_SMIME;
		return;
	}
	if (is_type(top, "text", "plain")) {
		classify_inline(m, top);
		return;
	}
	if (is_type(top, "multipart", "mixed")) {
		GMimeObject *data = exchange_mangled(top);

		if (data != NULL) {
			m->form = OPM_FORM_PGPMIME_ENCRYPTED;
			m->exchange = TRUE;
			m->ciphertext = part_content(data);
			return;
		}
	}
	if ((d = nested_signature(top, FALSE, &m->partial)) != NULL) {
		m->form = OPM_FORM_PARTIAL;
		m->form_detail = g_strdup(d);
	}
}

static void
array_forget(gpointer a)
{
	(void)g_byte_array_free(a, FALSE); /* the bytes are raw's */
}

/* A GMime stream that reads raw in place rather than a copy of it (a
 * large post would be held twice): it keeps raw alive.  (transfer full) */
static GMimeStream *
stream_over(GBytes *raw)
{
	gsize len;
	guint8 *p = (guint8 *)g_bytes_get_data(raw, &len);
	GByteArray *a = g_byte_array_new_take(p, len);
	GMimeStream *s = g_mime_stream_mem_new_with_byte_array(a);

	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(s), FALSE);
	g_object_set_data_full(G_OBJECT(s), "opm-array", a, array_forget);
	g_object_set_data_full(G_OBJECT(s), "opm-raw", g_bytes_ref(raw),
	    (GDestroyNotify)g_bytes_unref);
	return s;
}

OpmMessage *
opm_message_parse(GBytes *raw, const OpmLimits *lim)
{
	OpmMessage *m = g_new0(OpmMessage, 1);
	gsize len, body;
	const char *p = g_bytes_get_data(raw, &len);
	GMimeStream *stream;
	GMimeParser *parser;
	gint64 parts = 0;

	m->raw = g_bytes_ref(raw);
	if (len == 0) {
		set_limit(m, OPM_LIMIT_SYNTAX, "%s", "the message is empty");
		return m;
	}
	if ((gint64)len > lim->max_size) {
		set_limit(m, OPM_LIMIT_SIZE, "%" G_GSIZE_FORMAT " bytes, at most %"
		    G_GINT64_FORMAT, len, lim->max_size);
		return m;
	}
	body = opm_body_offset(p, len);
	check_header_block(m, p, body, lim);
	if (m->limit != OPM_LIMIT_OK)
		return m;
	/* An entity is the top-level one, or has a Content-Type line, or
	 * follows a delimiter line: bound what GMime builds before it runs. */
	if (opm_mime_entity_bound(p, len, 3 * lim->max_parts + 3) >
	    3 * lim->max_parts + 3) {
		set_limit(m, OPM_LIMIT_PARTS, "more than %" G_GINT64_FORMAT
		    " MIME parts", lim->max_parts);
		return m;
	}
	stream = stream_over(raw);
	parser = g_mime_parser_new_with_stream(stream);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	m->message = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	g_object_unref(stream);
	if (m->message == NULL) {
		set_limit(m, OPM_LIMIT_SYNTAX, "%s",
		    "the message cannot be parsed");
		return m;
	}
	check_ambiguous(m, g_mime_object_get_header_list(
	    GMIME_OBJECT(m->message)));
	if (g_mime_message_get_mime_part(m->message) != NULL)
		walk(m, g_mime_message_get_mime_part(m->message), 1, &parts, lim);
	if (m->limit != OPM_LIMIT_OK) {
		g_clear_object(&m->message);
		return m;
	}
	classify(m);
	return m;
}

void
opm_message_free(OpmMessage *m)
{
	if (m == NULL)
		return;
	g_clear_pointer(&m->raw, g_bytes_unref);
	g_clear_object(&m->message);
	g_free(m->limit_detail);
	g_free(m->form_detail);
	g_clear_pointer(&m->signed_data, g_bytes_unref);
	g_clear_pointer(&m->signature, g_bytes_unref);
	g_clear_pointer(&m->ciphertext, g_bytes_unref);
	g_clear_pointer(&m->inline_text, g_bytes_unref);
	g_free(m->charset);
	g_clear_pointer(&m->payload, g_bytes_unref);
	g_clear_pointer(&m->protected_headers, g_ptr_array_unref);
	g_free(m);
}

static GPtrArray *
headers_of(GMimeObject *obj, const char *name)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	GMimeHeaderList *hl;

	if (obj == NULL)
		return out;
	hl = g_mime_object_get_header_list(obj);
	for (int i = 0; i < g_mime_header_list_get_count(hl); i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);

		if (g_ascii_strcasecmp(g_mime_header_get_name(h), name) == 0)
			g_ptr_array_add(out,
			    g_strdup(g_mime_header_get_raw_value(h)));
	}
	return out;
}

GPtrArray *
opm_message_headers(OpmMessage *m, const char *name)
{
	return headers_of(m->message != NULL ? GMIME_OBJECT(m->message) : NULL,
	    name);
}

GPtrArray *
opm_message_part_headers(OpmMessage *m, const char *name)
{
	return headers_of(m->message != NULL ?
	    g_mime_message_get_mime_part(m->message) : NULL, name);
}

static void
field_free(OpmField *f)
{
	if (f == NULL)
		return;
	g_free(f->name);
	g_free(f->value);
	g_free(f);
}

GPtrArray *
opm_message_protected_headers(OpmMessage *entity)
{
	GMimeObject *top;
	GMimeHeaderList *hl;
	GPtrArray *out;

	if (entity == NULL || entity->message == NULL ||
	    (top = g_mime_message_get_mime_part(entity->message)) == NULL)
		return NULL;
	if (*param(top, "hp") == '\0' &&
	    g_ascii_strcasecmp(param(top, "protected-headers"), "v1") != 0)
		return NULL;
	out = g_ptr_array_new_with_free_func((GDestroyNotify)field_free);
	hl = g_mime_object_get_header_list(GMIME_OBJECT(entity->message));
	for (int i = 0; i < g_mime_header_list_get_count(hl); i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *name = g_mime_header_get_name(h);
		const char *value = g_mime_header_get_raw_value(h);
		OpmField *f;

		if (name == NULL || value == NULL ||
		    g_ascii_strncasecmp(name, "Content-", 8) == 0 ||
		    g_ascii_strcasecmp(name, "MIME-Version") == 0)
			continue;
		f = g_new0(OpmField, 1);
		f->name = g_strdup(name);
		f->value = g_strdup(value);
		g_ptr_array_add(out, f);
	}
	return out;
}

const char *
opm_fields_get(GPtrArray *fields, const char *name)
{
	for (guint i = 0; fields != NULL && i < fields->len; i++) {
		OpmField *f = g_ptr_array_index(fields, i);

		if (g_ascii_strcasecmp(f->name, name) == 0)
			return f->value;
	}
	return NULL;
}

guint
opm_fields_count(GPtrArray *fields, const char *name)
{
	guint n = 0;

	for (guint i = 0; fields != NULL && i < fields->len; i++) {
		OpmField *f = g_ptr_array_index(fields, i);

		if (g_ascii_strcasecmp(f->name, name) == 0)
			n++;
	}
	return n;
}

GBytes *
opm_message_top_entity(OpmMessage *m)
{
	GMimeObject *top = m->message != NULL ?
	    g_mime_message_get_mime_part(m->message) : NULL;
	GString *out = g_string_new(NULL);
	gsize len, body;
	const char *raw = g_bytes_get_data(m->raw, &len);

	if (top != NULL) {
		GMimeHeaderList *hl = g_mime_object_get_header_list(top);

		for (int i = 0; i < g_mime_header_list_get_count(hl); i++) {
			GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
			const char *name = g_mime_header_get_name(h);
			const char *v = g_mime_header_get_raw_value(h);

			if (name == NULL || v == NULL ||
			    g_ascii_strncasecmp(name, "Content-", 8) != 0)
				continue;
			while (*v == ' ' || *v == '\t')
				v++;
			g_string_append_printf(out, "%s: ", name);
			for (; *v != '\0'; v++) {
				if (*v == '\r')
					continue;
				if (*v == '\n')
					g_string_append_c(out, '\r');
				g_string_append_c(out, *v);
			}
			while (out->len > 0 && (out->str[out->len - 1] == '\n' ||
			    out->str[out->len - 1] == '\r' ||
			    out->str[out->len - 1] == ' '))
				g_string_truncate(out, out->len - 1);
			g_string_append(out, "\r\n");
		}
	}
	if (out->len == 0)
		g_string_append(out, "Content-Type: text/plain; charset=us-ascii\r\n");
	g_string_append(out, "\r\n");
	body = raw != NULL ? opm_body_offset(raw, len) : 0;
	if (raw != NULL)
		g_string_append_len(out, raw + body, (gssize)(len - body));
	return g_string_free_to_bytes(out);
}

/* TRUE when a line of the n bytes at t starts with marker. */
static gboolean
has_line_starting(const char *t, gsize n, const char *marker)
{
	gsize ml = strlen(marker);

	for (gsize i = 0; t != NULL && i < n;) {
		const char *nl = memchr(t + i, '\n', n - i);

		if (n - i >= ml && memcmp(t + i, marker, ml) == 0)
			return TRUE;
		if (nl == NULL)
			break;
		i = (gsize)(nl - t) + 1;
	}
	return FALSE;
}

static const char *const armor_starts[] = {
	"-----BEGIN PGP SIGNED MESSAGE-----", "-----BEGIN PGP MESSAGE-----",
};

/* TRUE when the n bytes at t hold an armor line that starts an inline
 * block: at the start of a line after blanks, or anywhere. */
static gboolean
has_armor(const char *t, gsize n, gboolean anywhere)
{
	for (gsize k = 0; t != NULL && k < G_N_ELEMENTS(armor_starts); k++) {
		const char *m = armor_starts[k];
		gsize ml = strlen(m);

		for (gsize i = 0; i < n;) {
			const char *nl = memchr(t + i, '\n', n - i);
			gsize j = i;

			if (anywhere) {
				if (n >= ml && memmem(t, n, m, ml) != NULL)
					return TRUE;
				break;
			}
			while (j < n && (t[j] == ' ' || t[j] == '\t'))
				j++;
			if (n - j >= ml && memcmp(t + j, m, ml) == 0)
				return TRUE;
			if (nl == NULL)
				break;
			i = (gsize)(nl - t) + 1;
		}
	}
	return FALSE;
}

/* The n bytes at t without NUL bytes and byte order marks: an ASCII armor
 * in UTF-16 or UTF-32 of either byte order reads as ASCII.
 * (transfer full) */
static GString *
without_nuls(const char *t, gsize n)
{
	GString *out = g_string_sized_new(n);

	for (gsize i = 0; i < n; i++) {
		if (t[i] == '\0')
			continue;
		if (i + 1 < n && (((guchar)t[i] == 0xff &&
		    (guchar)t[i + 1] == 0xfe) || ((guchar)t[i] == 0xfe &&
		    (guchar)t[i + 1] == 0xff))) {
			i++;
			continue;
		}
		if (i + 2 < n && (guchar)t[i] == 0xef &&
		    (guchar)t[i + 1] == 0xbb && (guchar)t[i + 2] == 0xbf) {
			i += 2;
			continue;
		}
		g_string_append_c(out, t[i]);
	}
	return out;
}

/* The text an HTML document shows, as far as an armor line goes: tags
 * and comments dropped, character references to ASCII decoded, others
 * a blank.  (transfer full) */
static GString *
html_text(const char *t, gsize n)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {
		{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'},
		{"apos;", '\''}, {"nbsp;", ' '}, {"dash;", '-'},
		{"hyphen;", '-'}, {"minus;", '-'},
	};
	GString *out = g_string_sized_new(n);

	for (gsize i = 0; i < n; i++) {
		if (t[i] == '<') {
			const char *e = memchr(t + i, '>', n - i);

			if (e == NULL)
				break;
			i = (gsize)(e - t);
			continue;
		}
		if (t[i] == '&' && i + 1 < n) {
			gsize j = i + 1;
			gboolean done = FALSE;

			if (t[j] == '#') {
				guint64 c = 0;
				gboolean hex = j + 1 < n && (t[j + 1] == 'x' ||
				    t[j + 1] == 'X');

				for (j += hex ? 2 : 1; j < n &&
				    (hex ? g_ascii_isxdigit(t[j]) :
				    g_ascii_isdigit(t[j])) && c < 0x110000; j++)
					c = c * (hex ? 16 : 10) +
					    (guint64)(hex ? g_ascii_xdigit_value(t[j]) :
					    g_ascii_digit_value(t[j]));
				if (j < n && t[j] == ';')
					j++;
				g_string_append_c(out, c > 0 && c < 128 ?
				    (char)c : ' ');
				i = j - 1;
				continue;
			}
			for (gsize k = 0; k < G_N_ELEMENTS(named) && !done; k++) {
				gsize l = strlen(named[k].name);

				if (n - j >= l && g_ascii_strncasecmp(t + j,
				    named[k].name, l) == 0) {
					g_string_append_c(out, named[k].c);
					i = j + l - 1;
					done = TRUE;
				}
			}
			if (done)
				continue;
		}
		g_string_append_c(out, t[i]);
	}
	return out;
}

/* One reading of a text: an armor at a line start, or for HTML anywhere
 * in the text it shows. */
static gboolean
reading_has_armor(const char *t, gsize n, gboolean html)
{
	g_autoptr(GString) h = NULL;

	if (!html)
		return has_armor(t, n, FALSE);
	h = html_text(t, n);
	return has_armor(h->str, h->len, TRUE);
}

OpmTextPgp
opm_text_pgp_block(GBytes *text, const char *charset, gboolean html)
{
	gsize n;
	const char *t = g_bytes_get_data(text, &n);
	g_autoptr(GString) bare = NULL;

	if (t == NULL)
		return OPM_TEXT_PLAIN;
	if (reading_has_armor(t, n, html))
		return OPM_TEXT_PGP;
	bare = without_nuls(t, n);
	if (reading_has_armor(bare->str, bare->len, html))
		return OPM_TEXT_PGP;
	if (charset != NULL && *charset != '\0' &&
	    g_ascii_strcasecmp(charset, "us-ascii") != 0 &&
	    g_ascii_strcasecmp(charset, "utf-8") != 0) {
		gsize un = 0;
		g_autofree char *u = g_convert(t, (gssize)n, "UTF-8", charset,
		    NULL, &un, NULL);

		if (u == NULL)
			return OPM_TEXT_UNREADABLE;
		if (reading_has_armor(u, un, html))
			return OPM_TEXT_PGP;
	}
	return OPM_TEXT_PLAIN;
}

gboolean
opm_text_has_pgp_block(GBytes *text)
{
	return opm_text_pgp_block(text, NULL, FALSE) != OPM_TEXT_PLAIN;
}

static const char *
loose_signature(GMimeObject *obj, gboolean top)
{
	if (is_type(obj, "multipart", "signed") ||
	    is_type(obj, "application", "pkcs7-signature") ||
	    is_type(obj, "application", "x-pkcs7-signature"))
		return top ? "it is itself a signed message (multipart/signed)" :
		    "it holds a signed part (multipart/signed)";
	if (is_type(obj, "multipart", "encrypted") ||
	    is_type(obj, "application", "pgp-encrypted") ||
	    is_type(obj, "application", "pkcs7-mime") ||
	    is_type(obj, "application", "x-pkcs7-mime"))
		return top ? "it is itself an encrypted message" :
		    "it holds an encrypted part";
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);

		for (int i = 0; i < g_mime_multipart_get_count(mp); i++) {
			const char *d = loose_signature(
			    g_mime_multipart_get_part(mp, i), FALSE);

			if (d != NULL)
				return d;
		}
		return NULL;
	}
	if (GMIME_IS_PART(obj) && is_type(obj, "text", "*")) {
		/* as a client shows it: transfer encoding and charset
		 * decoded, HTML as the text it shows */
		g_autoptr(GBytes) b = part_content(obj);

		switch (opm_text_pgp_block(b, param(obj, "charset"),
		    is_type(obj, "text", "html"))) {
		case OPM_TEXT_PGP:
			return top ? "it is itself an inline PGP signed or "
			    "encrypted text" : "it holds an inline PGP signed or "
			    "encrypted text";
		case OPM_TEXT_UNREADABLE:
			return "it holds a text part in a charset the list "
			    "cannot read, which could hide such a signature";
		case OPM_TEXT_PLAIN:
			break;
		}
	}
	if (top && GMIME_IS_MESSAGE_PART(obj)) {
		/* a message that is the whole content is no attachment */
		GMimeMessage *inner =
		    g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));

		if (inner != NULL && g_mime_message_get_mime_part(inner) != NULL)
			return loose_signature(
			    g_mime_message_get_mime_part(inner), TRUE);
	}
	/* an attached message/rfc822 speaks for its own author */
	return NULL;
}

const char *
opm_message_inner_signature(OpmMessage *m)
{
	GMimeObject *top = m->message != NULL ?
	    g_mime_message_get_mime_part(m->message) : NULL;

	return top != NULL ? loose_signature(top, TRUE) : NULL;
}

GBytes *
opm_mime_signed_entity(GBytes *signed_data, GBytes *armored,
    const char *micalg)
{
	gsize n, an;
	const char *d = g_bytes_get_data(signed_data, &n);
	const char *a = g_bytes_get_data(armored, &an);
	GString *out = g_string_sized_new(n + an + 512);
	g_autofree char *sum = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256,
	    armored);
	g_autofree char *dl = NULL;
	const char *b;
	guint k = 0;

	/* a boundary no line of the signed part starts with, the same for
	 * the same signature (a retry makes the same copies) */
	do {
		g_free(dl);
		dl = g_strdup_printf("--=-opm-signed-%.24s-%u", sum, k++);
	} while (has_line_starting(d, n, dl));
	b = dl + 2;
	g_string_append_printf(out, "Content-Type: multipart/signed; "
	    "micalg=\"%s\";\r\n protocol=\"application/pgp-signature\";\r\n"
	    " boundary=\"%s\"\r\n\r\n--%s\r\n", micalg, b, b);
	g_string_append_len(out, d != NULL ? d : "", (gssize)n);
	g_string_append_printf(out, "\r\n--%s\r\n"
	    "Content-Type: application/pgp-signature; name=\"signature.asc\"\r\n"
	    "Content-Description: OpenPGP digital signature\r\n"
	    "Content-Disposition: attachment; filename=\"signature.asc\"\r\n"
	    "\r\n", b);
	opm_crlf_append(out, a != NULL ? a : "", an);
	g_string_append_printf(out, "\r\n--%s--\r\n", b);
	return g_string_free_to_bytes(out);
}
