/*
 * NAME
 *	copy - build the messages a post becomes
 * SYNOPSIS
 *	opm_copy_inner(), opm_copy_frame_new(), opm_copy_frame_free(),
 *	opm_copy_outer(), opm_copy_outer_pieces(), opm_copy_message_id(),
 *	opm_copy_withheld_notice(), opm_copy_admin_notice(),
 *	opm_copy_list_key_notice(), opm_copy_frame_notice(),
 *	opm_copy_notice_inner(), opm_copy_signed_outer(),
 *	opm_copy_display_name(), opm_copy_long_header()
 * DESCRIPTION
 *	Headers are written by hand, CRLF terminated, so that the poster's
 *	signed entity is carried byte for byte: only the header section of
 *	the entity the gate chose (msg->payload) changes.  That entity is
 *	the post's multipart/signed (RFC 3156 signs its first body part, not
 *	its header section), the nested multipart/signed decrypted from an
 *	encrypted post, the decrypted content of a combined sign+encrypt
 *	post, or the text/plain of an inline post.  Its Content-* fields are
 *	kept; any other field in its header section is replaced by the
 *	list's protected header fields.
 *
 *	When the signed entity carries protected header fields, its Subject,
 *	From, To, Cc and Reply-To are the only ones shown; the outer ones,
 *	which nobody signed, are not.  Other fields missing inside (Date,
 *	Message-ID, threading) are taken from outside as before.  To, Cc and
 *	Reply-To, where replies go, are never taken from outside: without
 *	a signed To the copy's is the list address.
 *
 *	Protected header fields follow RFC 9788: they sit in the header
 *	section of the cryptographic payload, whose Content-Type gets
 *	hp="cipher" (and the older protected-headers="v1" that deployed
 *	clients read), replacing any such parameter it had.  The outer
 *	header is minimal and never carries reply routing taken from outside
 *	the signature.
 *
 *	Every header field is folded before white space to lines of 78
 *	octets where it can be (RFC 5322 section 2.2.3); a field with a word
 *	too long for a line of 998 octets cannot be, and the gate refuses
 *	the post (opm_copy_long_header()).
 *
 *	Every value taken from the message is either copied raw from a header
 *	the list verified the sender of (From) or passed through as header
 *	text with line breaks normalised; display names are re-encoded with
 *	GMime.
 */
#include "config.h"

#include <string.h>

#include "copy.h"
#include "keys.h"

/* A header value as written in a copy: without leading white space
 * and final line break, line breaks made CRLF.  (transfer full) */
static char *
normalize_value(const char *s)
{
	GString *out = g_string_new(NULL);

	while (*s == ' ' || *s == '\t')
		s++;
	for (; *s != '\0'; s++) {
		if (*s == '\r')
			continue;
		if (*s == '\n')
			g_string_append(out, "\r\n");
		else
			g_string_append_c(out, *s);
	}
	while (out->len > 0 && (out->str[out->len - 1] == '\n' ||
	    out->str[out->len - 1] == '\r' || out->str[out->len - 1] == ' ' ||
	    out->str[out->len - 1] == '\t'))
		g_string_truncate(out, out->len - 1);
	return g_string_free(out, FALSE);
}

/* Raw value of the first top-level header called name, normalized as
 * above.  (transfer full) or NULL. */
static char *
raw_header(OpmMessage *msg, const char *name)
{
	g_autoptr(GPtrArray) v = g_ascii_strncasecmp(name, "Content-", 8) == 0 ?
	    opm_message_part_headers(msg, name) : opm_message_headers(msg, name);

	if (v->len == 0)
		return NULL;
	return normalize_value(g_ptr_array_index(v, 0));
}

/* Soft and hard limits of a header line (RFC 5322 section 2.1.1),
 * without its CRLF. */
#define LINE_SOFT 78
#define LINE_HARD 998

static gboolean
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Append the n bytes at l, one physical line of a header field, folded
 * before white space (RFC 5322 section 2.2.3): lines of LINE_SOFT octets
 * where a break allows it.  from: the first place a break may go (after
 * "Name:" on a field's first line). */
static void
fold_line(GString *h, const char *l, gsize n, gsize from)
{
	while (n > LINE_SOFT) {
		gsize cut = 0, i;
		gboolean text = FALSE;

		/* the last break at or before LINE_SOFT, else the first after
		 * it; a break needs text before it and text after it */
		for (i = 0; i < n; i++) {
			if (is_wsp(l[i]) && text && i >= from) {
				gsize k = i;

				while (k < n && is_wsp(l[k]))
					k++;
				if (k < n) {
					if (i > LINE_SOFT && cut != 0)
						break;
					cut = i;
					if (i > LINE_SOFT)
						break;
				}
			}
			if (!is_wsp(l[i]) && i >= from)
				text = TRUE;
		}
		if (cut == 0)
			break;
		g_string_append_len(h, l, (gssize)cut);
		g_string_append(h, "\r\n");
		l += cut;
		n -= cut;
		from = 1;
	}
	g_string_append_len(h, l, (gssize)n);
	g_string_append(h, "\r\n");
}

/* Append the field "name: value", folded; value may hold folds of its
 * own (CRLF and white space).  The milter writes every header field
 * through here. */
static void
add_header(GString *h, const char *name, const char *value)
{
	g_autofree char *field = NULL;
	const char *l;
	gboolean first = TRUE;

	if (value == NULL)
		return;
	field = g_strdup_printf("%s: %s", name, value);
	for (l = field; l != NULL;) {
		const char *e = strstr(l, "\r\n");
		gsize n = e != NULL ? (gsize)(e - l) : strlen(l);

		fold_line(h, l, n, first ? strlen(name) + 1 : 1);
		first = FALSE;
		l = e != NULL ? e + 2 : NULL;
	}
}

/* The name of the first field in the header section h with a line
 * longer than LINE_HARD, or NULL.  (transfer full) */
static char *
long_field(const GString *h)
{
	gsize i = 0, field = 0;

	while (i < h->len) {
		const char *nl = memchr(h->str + i, '\n', h->len - i);
		gsize end = nl != NULL ? (gsize)(nl - h->str) : h->len;
		gsize len = end - i - (end > i && h->str[end - 1] == '\r');

		if (!is_wsp(h->str[i]))
			field = i;
		if (len > LINE_HARD) {
			const char *c = memchr(h->str + field, ':', end - field);

			return g_strndup(h->str + field, c != NULL ?
			    (gsize)(c - (h->str + field)) : 0);
		}
		i = end + 1;
	}
	return NULL;
}

static const char *
list_domain(OpmList *list)
{
	const char *at = strrchr(list->address, '@');

	return at != NULL ? at + 1 : list->address;
}

static char *
mailbox(const char *name, const char *addr)
{
	InternetAddress *ia = internet_address_mailbox_new(name, addr);
	char *s = internet_address_to_string(ia, NULL, TRUE);

	g_object_unref(ia);
	return s;
}

static char *
format_date(gint64 now)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(now);

	return g_mime_utils_header_format_date(dt);
}

static void
add_list_headers(GString *h, OpmList *list)
{
	/* RFC 2919: the phrase is the Name, the id the address's local part */
	g_autofree char *local = g_strndup(list->address,
	    (gsize)(strrchr(list->address, '@') - list->address));
	g_autofree char *phrase = mailbox(list->name, "x@x");
	g_autofree char *id = NULL;

	/* mailbox() quotes and encodes the phrase as a header needs it */
	*strrchr(phrase, '<') = '\0';
	id = g_strdup_printf("%s<%s.%s>", phrase, local, list_domain(list));
	g_autofree char *post = g_strdup_printf("<mailto:%s>", list->address);

	add_header(h, "List-Id", id);
	add_header(h, "List-Post", post);
	if (list->list_help != NULL) {
		g_autofree char *help = g_strdup_printf("<%s>", list->list_help);

		add_header(h, "List-Help", help);
	} else if (list->admins != NULL && list->admins->len > 0) {
		g_autofree char *help = g_strdup_printf("<mailto:%s?subject=help>",
		    (char *)g_ptr_array_index(list->admins, 0));

		add_header(h, "List-Help", help);
	}
}

/* Latin letters that other scripts' letters look like (after NFKC and
 * case folding), for comparing names as a reader sees them. */
static gunichar
confusable(gunichar c)
{
	static const struct {
		gunichar from;
		char to;
	} map[] = {
		/* Cyrillic */
		{0x0430, 'a'}, {0x0431, 'b'}, {0x0432, 'b'}, {0x0435, 'e'},
		{0x0437, 'e'}, {0x0438, 'u'}, {0x043a, 'k'}, {0x043c, 'm'},
		{0x043d, 'h'}, {0x043e, 'o'}, {0x0440, 'p'}, {0x0441, 'c'},
		{0x0442, 't'}, {0x0443, 'y'}, {0x0445, 'x'}, {0x044c, 'b'},
		{0x0455, 's'}, {0x0456, 'i'}, {0x0457, 'i'}, {0x0458, 'j'},
		{0x045b, 'h'}, {0x04bb, 'h'}, {0x04cf, 'l'}, {0x0501, 'd'},
		{0x051b, 'q'}, {0x051d, 'w'}, {0x0461, 'w'}, {0x0475, 'v'},
		/* Greek */
		{0x03b1, 'a'}, {0x03b2, 'b'}, {0x03b5, 'e'}, {0x03b7, 'n'},
		{0x03b9, 'i'}, {0x03ba, 'k'}, {0x03bd, 'v'}, {0x03bf, 'o'},
		{0x03c1, 'p'}, {0x03c3, 'o'}, {0x03c4, 't'}, {0x03c5, 'u'},
		{0x03c7, 'x'}, {0x03c9, 'w'}, {0x03f2, 'c'}, {0x03f3, 'j'},
		{0x03bc, 'u'},
		/* Latin look-alikes */
		{0x0131, 'i'}, {0x0251, 'a'}, {0x0261, 'g'}, {0x0269, 'i'},
		{0x026a, 'i'}, {0x028f, 'y'}, {0x0299, 'b'}, {0x029c, 'h'},
		{0x1d00, 'a'}, {0x1d04, 'c'}, {0x1d05, 'd'}, {0x1d07, 'e'},
		{0x1d0b, 'k'}, {0x1d0d, 'm'}, {0x1d0f, 'o'}, {0x1d18, 'p'},
		{0x1d1b, 't'}, {0x1d1c, 'u'}, {0x1d20, 'v'}, {0x1d21, 'w'},
		{0x1d22, 'z'}, {0x0280, 'r'}, {0x0274, 'n'}, {0x029f, 'l'},
		/* digits and strokes read as letters */
		{'0', 'o'}, {'1', 'l'}, {'i', 'l'}, {'|', 'l'}, {'3', 'e'},
		{'5', 's'}, {0x01c0, 'l'},
	};

	for (gsize i = 0; i < G_N_ELEMENTS(map); i++)
		if (map[i].from == c)
			return (gunichar)map[i].to;
	return c;
}

/* The skeleton of a name as a reader compares it: NFKC, case folded,
 * look-alike letters made Latin, accents dropped, and only letters and
 * digits kept (no blanks, punctuation, controls or invisible
 * characters).  NULL for text that is not UTF-8.  (transfer full) */
static char *
name_skeleton(const char *name)
{
	g_autofree char *nfkc = NULL;
	g_autofree char *fold = NULL;
	g_autofree char *nfd = NULL;
	GString *out;

	if (!g_utf8_validate(name, -1, NULL) ||
	    (nfkc = g_utf8_normalize(name, -1, G_NORMALIZE_NFKC)) == NULL)
		return NULL;
	fold = g_utf8_casefold(nfkc, -1);
	nfd = g_utf8_normalize(fold, -1, G_NORMALIZE_NFD);
	out = g_string_new(NULL);
	for (const char *p = nfd; p != NULL && *p != '\0';
	    p = g_utf8_next_char(p)) {
		gunichar c = confusable(g_utf8_get_char(p));

		if (g_unichar_isalnum(c))
			g_string_append_unichar(out, c);
	}
	return g_string_free(out, FALSE);
}

/* TRUE when a display name cannot be shown as the poster's: not UTF-8,
 * an '@' (after NFKC: full-width and small ones too), a control or
 * invisible formatting character, or another member's name as a
 * reader would see it (any case, spacing, punctuation, look-alike
 * letters) anywhere in it. */
static gboolean
name_misleads(OpmList *list, OpmMember *poster, const char *name)
{
	g_autofree char *nfkc = NULL;
	g_autofree char *skel = NULL;

	if (!g_utf8_validate(name, -1, NULL) ||
	    (nfkc = g_utf8_normalize(name, -1, G_NORMALIZE_NFKC)) == NULL)
		return TRUE;
	if (strchr(nfkc, '@') != NULL)
		return TRUE;
	for (const char *p = name; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		GUnicodeType t = g_unichar_type(c);

		if (t == G_UNICODE_CONTROL || t == G_UNICODE_FORMAT ||
		    t == G_UNICODE_UNASSIGNED || t == G_UNICODE_PRIVATE_USE ||
		    t == G_UNICODE_LINE_SEPARATOR ||
		    t == G_UNICODE_PARAGRAPH_SEPARATOR)
			return TRUE;
	}
	if ((skel = name_skeleton(name)) == NULL)
		return TRUE;
	for (guint i = 0; i < list->members->len; i++) {
		OpmMember *m = g_ptr_array_index(list->members, i);
		g_autofree char *other = NULL;

		if (m->key == poster->key || m->name == NULL)
			continue;
		other = name_skeleton(m->name);
		if (other != NULL && *other != '\0' &&
		    strstr(skel, other) != NULL)
			return TRUE;
	}
	return FALSE;
}

char *
opm_copy_display_name(OpmList *list, OpmMessage *msg, OpmMember *poster)
{
	g_autoptr(GPtrArray) from = opm_message_headers(msg, "From");
	const char *pfrom = opm_fields_get(msg->protected_headers, "From");
	InternetAddressList *al = NULL;
	g_autofree char *name = NULL;

	if (pfrom != NULL)
		al = internet_address_list_parse(NULL, pfrom);
	else if (from->len > 0)
		al = internet_address_list_parse(NULL, g_ptr_array_index(from, 0));
	if (al != NULL && internet_address_list_length(al) > 0) {
		const char *n = internet_address_get_name(
		    internet_address_list_get_address(al, 0));

		if (n != NULL)
			name = g_strstrip(g_strdup(n));
	}
	if (al != NULL)
		g_object_unref(al);
	if (name == NULL || *name == '\0' ||
	    name_misleads(list, poster, name))
		return g_strdup(poster->name);
	return g_steal_pointer(&name);
}


/*
 * The value of header field name for the copy: from the signed entity's
 * protected header fields when it has them (Subject, From, To, Cc and
 * Reply-To only from there), else from the post's header, except the
 * fields a reply goes to (To, Cc, Reply-To), which are never taken from
 * outside a signature: the copy's protected header is signed by the
 * list, and a reply to all would reach whoever a server on the way
 * added.  (transfer full) or NULL.
 */
static char *
field_value(OpmMessage *msg, const char *name)
{
	static const char *inside_only[] = {"Subject", "From", "To", "Cc",
	    "Reply-To"};
	static const char *routing[] = {"To", "Cc", "Reply-To"};
	const char *v = opm_fields_get(msg->protected_headers, name);

	if (v != NULL)
		return normalize_value(v);
	if (msg->protected_headers != NULL)
		for (gsize i = 0; i < G_N_ELEMENTS(inside_only); i++)
			if (g_ascii_strcasecmp(name, inside_only[i]) == 0)
				return NULL;
	for (gsize i = 0; i < G_N_ELEMENTS(routing); i++)
		if (g_ascii_strcasecmp(name, routing[i]) == 0)
			return NULL;
	return raw_header(msg, name);
}

/* The payload's Content-Type value with the header-protection
 * parameters, replacing any it had. */
static char *
payload_content_type(const char *raw)
{
	g_autofree char *ct = raw != NULL ? normalize_value(raw) : NULL;
	GMimeContentType *t;
	GMimeParamList *pl;
	gsize n;

	if (ct == NULL)
		return g_strdup("text/plain; charset=us-ascii;\r\n"
		    " protected-headers=\"v1\"; hp=\"cipher\"");
	t = g_mime_content_type_parse(NULL, ct);
	pl = t != NULL ? g_mime_content_type_get_parameters(t) : NULL;
	if (pl != NULL && (g_mime_param_list_remove(pl, "hp") |
	    g_mime_param_list_remove(pl, "protected-headers"))) {
		g_autofree char *enc = g_mime_content_type_encode(t, NULL);

		g_free(ct);
		ct = normalize_value(enc);
		/* what GMime wrote starts after "Content-Type:" */
	}
	if (t != NULL)
		g_object_unref(t);
	n = strlen(ct);
	while (n > 0 && (ct[n - 1] == ';' || g_ascii_isspace(ct[n - 1])))
		ct[--n] = '\0';
	return g_strdup_printf("%s;\r\n protected-headers=\"v1\"; hp=\"cipher\"",
	    ct);
}

static char *
outer_from(OpmList *list, OpmMessage *msg, OpmMember *poster)
{
	g_autofree char *name = opm_copy_display_name(list, msg, poster);
	g_autofree char *shown = NULL;

	if (!list->rewrite_from)
		return mailbox(name, poster->address);
	shown = name != NULL ? g_strdup_printf("%s via %s", name, list->name) :
	    g_strdup(list->name);
	return mailbox(shown, list->address);
}

/* Authentication-Results value: what the list checked. */
static char *
auth_results(OpmList *list, OpmMessage *msg, OpmMember *poster)
{
	const char *fpr = poster->key != NULL ? poster->key->fpr : poster->fpr;

	if (msg->combined)
		return g_strdup_printf("%s;\r\n openpgp=pass (the list %s "
		    "decrypted the post\r\n and verified the signature made "
		    "inside the encryption by\r\n %s with key %s;\r\n"
		    " the poster's signature is not included in this copy)\r\n"
		    " header.from=%s policy.key=%s", list_domain(list),
		    list->address, poster->address, fpr, poster->address, fpr);
	return g_strdup_printf("%s;\r\n openpgp=pass (the list %s %s\r\n"
	    " %s with key %s)\r\n header.from=%s policy.key=%s",
	    list_domain(list), list->address, msg->encrypted ?
	    "decrypted the post and verified the signature of" :
	    "verified the signature of", poster->address, fpr,
	    poster->address, fpr);
}

/* Write the inner entity's header section (and the blank line) into h;
 * returns the offset of entity's body.  entity: the payload. */
static gsize
inner_header(GString *h, OpmList *list, OpmMessage *msg, OpmMember *poster,
    GBytes *entity)
{
	static const char *protect[] = {"Subject", "To", "Cc", "Date",
	    "Message-ID", "Reply-To", "In-Reply-To", "References"};
	g_autoptr(GString) kept = g_string_new(NULL);
	g_autofree char *ctraw = NULL;
	g_autofree char *ct = NULL;
	g_autofree char *name = opm_copy_display_name(list, msg, poster);
	g_autofree char *from = mailbox(name, poster->address);
	g_autofree char *ofrom = outer_from(list, msg, poster);
	g_autofree char *osubj = NULL;
	g_autofree char *ar = auth_results(list, msg, poster);
	gsize len, i = 0, body;
	const char *e;

	e = g_bytes_get_data(entity, &len);
	if (e == NULL)
		e = "";
	/* the entity's header section: keep its Content-* fields, take its
	 * Content-Type apart, drop the rest */
	body = len;
	while (i < len) {
		gsize start = i, colon;
		const char *nl;

		if (e[i] == '\n' || (e[i] == '\r' && i + 1 < len &&
		    e[i + 1] == '\n')) {
			body = i + (e[i] == '\r' ? 2 : 1);
			break;
		}
		/* one field: its first line and every continuation line */
		do {
			nl = memchr(e + i, '\n', len - i);
			i = nl != NULL ? (gsize)(nl - e) + 1 : len;
		} while (i < len && (e[i] == ' ' || e[i] == '\t'));
		for (colon = start; colon < i && e[colon] != ':'; colon++)
			;
		if (colon >= i)
			continue;
		if (colon - start == 12 &&
		    g_ascii_strncasecmp(e + start, "Content-Type", 12) == 0) {
			g_free(ctraw);
			ctraw = g_strndup(e + colon + 1, i - colon - 1);
		} else if (colon - start > 8 &&
		    g_ascii_strncasecmp(e + start, "Content-", 8) == 0) {
			g_autofree char *n = g_strndup(e + start, colon - start);
			g_autofree char *f = g_strndup(e + colon + 1,
			    i - colon - 1);
			g_autofree char *v = normalize_value(f);

			add_header(kept, g_strstrip(n), v);
		}
	}
	ct = payload_content_type(ctraw);
	add_header(h, "Content-Type", ct);
	g_string_append_len(h, kept->str, (gssize)kept->len);
	add_header(h, "From", from);
	for (gsize k = 0; k < G_N_ELEMENTS(protect); k++) {
		g_autofree char *v = field_value(msg, protect[k]);

		/* no To nobody signed: the post went to the list */
		if (v == NULL && strcmp(protect[k], "To") == 0)
			v = g_strdup(list->address);
		add_header(h, protect[k], v);
	}
	add_list_headers(h, list);
	add_header(h, "Authentication-Results", ar);
	/* what the outer header says instead (RFC 9788, HP-Outer) */
	{
		g_autofree char *v = g_strdup_printf("From: %s", ofrom);
		g_autofree char *t = g_strdup_printf("To: %s", list->address);

		add_header(h, "HP-Outer", v);
		add_header(h, "HP-Outer", t);
	}
	if (!list->show_subject)
		osubj = g_strdup("Subject: ...");
	else {
		g_autofree char *sj = field_value(msg, "Subject");

		osubj = sj != NULL ? g_strdup_printf("Subject: %s", sj) : NULL;
	}
	add_header(h, "HP-Outer", osubj);
	g_string_append(h, "\r\n");
	return body;
}

GBytes *
opm_copy_inner(OpmList *list, OpmMessage *msg, OpmMember *poster)
{
	GString *h = g_string_new(NULL);
	g_autoptr(GBytes) built = NULL;
	GBytes *entity = msg->payload;
	gsize len, body;
	const char *e;

	if (entity == NULL)
		entity = built = opm_message_top_entity(msg);
	body = inner_header(h, list, msg, poster, entity);
	e = g_bytes_get_data(entity, &len);
	if (e != NULL && body < len)
		g_string_append_len(h, e + body, (gssize)(len - body));
	return g_string_free_to_bytes(h);
}

char *
opm_copy_message_id(OpmList *list, const char *post_key, const char *rcpt)
{
	g_autofree char *text = g_strdup_printf("%s\n%s", post_key, rcpt);
	g_autofree char *h = g_compute_checksum_for_string(G_CHECKSUM_SHA256,
	    text, -1);

	return g_strdup_printf("<%.32s@%s>", h, list_domain(list));
}

static char *
boundary(void)
{
	return g_strdup_printf("=-opm-%08x%08x%08x", g_random_int(),
	    g_random_int(), g_random_int());
}

/* The outer header every copy and notice shares: the fields before the
 * Message-ID, and those after it. */
static void
outer_head(GString *h, const char *from, const char *to, const char *subject,
    gint64 now)
{
	g_autofree char *date = format_date(now);

	add_header(h, "From", from);
	add_header(h, "To", to);
	add_header(h, "Subject", subject);
	add_header(h, "Date", date);
}

static void
outer_tail(GString *h, OpmList *list)
{
	add_header(h, "Sender", list->bounce_address);
	add_list_headers(h, list);
	add_header(h, "Precedence", "list");
	add_header(h, "MIME-Version", "1.0");
}

static void
outer_common(GString *h, OpmList *list, const char *from, const char *to,
    const char *subject, const char *message_id, gint64 now)
{
	outer_head(h, from, to, subject, now);
	add_header(h, "Message-ID", message_id);
	outer_tail(h, list);
}

/* Autocrypt (autocrypt.org, Level 1): the list key for the list
 * address, so that members' clients learn it from the copies.  keydata
 * folded into lines of 76 characters. */
static void
add_autocrypt(GString *h, OpmList *list)
{
	const char *k = list->autocrypt_keydata;
	gsize n;

	if (!list->autocrypt || k == NULL)
		return;
	n = strlen(k);
	g_string_append_printf(h, "Autocrypt: addr=%s; keydata=", list->address);
	for (gsize i = 0; i < n; i += 76) {
		g_string_append(h, "\r\n ");
		g_string_append_len(h, k + i, (gssize)MIN(76, n - i));
	}
	g_string_append(h, "\r\n");
}

struct _OpmCopyFrame {
	GString *head; /* the copy's header fields before the Message-ID */
	GString *tail; /* those after it, but the Content-Type */
};

OpmCopyFrame *
opm_copy_frame_new(OpmList *list, OpmMessage *msg, OpmMember *poster,
    gint64 now)
{
	OpmCopyFrame *f = g_new0(OpmCopyFrame, 1);
	g_autofree char *from = outer_from(list, msg, poster);
	g_autofree char *subject = list->show_subject ?
	    field_value(msg, "Subject") : NULL;
	g_autofree char *refs = field_value(msg, "References");
	g_autofree char *irt = field_value(msg, "In-Reply-To");

	f->head = g_string_new(NULL);
	outer_head(f->head, from, list->address,
	    subject != NULL ? subject : "...", now);
	f->tail = g_string_new(NULL);
	outer_tail(f->tail, list);
	/* threading survives the encryption without revealing content */
	add_header(f->tail, "In-Reply-To", irt);
	add_header(f->tail, "References", refs);
	add_autocrypt(f->tail, list);
	return f;
}

OpmCopyFrame *
opm_copy_frame_notice(OpmList *list, const char *to, const char *subject,
    gint64 now)
{
	OpmCopyFrame *f = g_new0(OpmCopyFrame, 1);
	g_autofree char *from = mailbox(list->name, list->address);
	g_autofree char *subj = subject != NULL ?
	    g_mime_utils_header_encode_text(NULL, subject, "utf-8") : NULL;

	f->head = g_string_new(NULL);
	outer_head(f->head, from, to, subj != NULL ? subj : "...", now);
	f->tail = g_string_new(NULL);
	outer_tail(f->tail, list);
	add_header(f->tail, "Auto-Submitted", "auto-generated");
	return f;
}

GBytes *
opm_copy_notice_inner(OpmList *list, const char *to, const char *subject,
    const char *body)
{
	GString *h = g_string_new(NULL);
	g_autofree char *from = mailbox(list->name, list->address);
	g_autofree char *subj = g_mime_utils_header_encode_text(NULL, subject,
	    "utf-8");

	add_header(h, "Content-Type",
	    "text/plain; charset=utf-8; protected-headers=\"v1\"");
	add_header(h, "Content-Transfer-Encoding", "8bit");
	add_header(h, "From", from);
	add_header(h, "To", to);
	add_header(h, "Subject", subj);
	add_header(h, "HP-Outer", "Subject: ...");
	g_string_append(h, "\r\n");
	opm_crlf_append(h, body, strlen(body));
	return g_string_free_to_bytes(h);
}

void
opm_copy_frame_free(OpmCopyFrame *f)
{
	if (f == NULL)
		return;
	g_string_free(f->head, TRUE);
	g_string_free(f->tail, TRUE);
	g_free(f);
}

void
opm_copy_outer_pieces(const OpmCopyFrame *f, const char *message_id,
    GBytes **head, GBytes **tail)
{
	GString *h = g_string_sized_new(f->head->len + f->tail->len + 1024);
	g_autofree char *b = boundary();
	g_autofree char *ct = NULL;

	g_string_append_len(h, f->head->str, (gssize)f->head->len);
	add_header(h, "Message-ID", message_id);
	g_string_append_len(h, f->tail->str, (gssize)f->tail->len);
	ct = g_strdup_printf("multipart/encrypted;\r\n"
	    " protocol=\"application/pgp-encrypted\";\r\n boundary=\"%s\"", b);
	add_header(h, "Content-Type", ct);
	g_string_append_printf(h, "\r\nThis is an OpenPGP/MIME encrypted "
	    "message (RFC 3156).\r\n\r\n--%s\r\n"
	    "Content-Type: application/pgp-encrypted\r\n"
	    "Content-Description: PGP/MIME version identification\r\n\r\n"
	    "Version: 1\r\n\r\n--%s\r\n"
	    "Content-Type: application/octet-stream; name=\"encrypted.asc\"\r\n"
	    "Content-Description: OpenPGP encrypted message\r\n"
	    "Content-Disposition: inline; filename=\"encrypted.asc\"\r\n\r\n",
	    b, b);
	*head = g_string_free_to_bytes(h);
	*tail = g_bytes_new_take(g_strdup_printf("\r\n--%s--\r\n", b),
	    strlen(b) + 8);
}

GBytes *
opm_copy_outer(const OpmCopyFrame *f, const char *message_id,
    GBytes *armored)
{
	gsize len, hl, tl;
	const char *a = g_bytes_get_data(armored, &len);
	g_autoptr(GBytes) head = NULL;
	g_autoptr(GBytes) tail = NULL;
	const char *hp, *tp;
	GString *h;

	opm_copy_outer_pieces(f, message_id, &head, &tail);
	hp = g_bytes_get_data(head, &hl);
	tp = g_bytes_get_data(tail, &tl);
	h = g_string_sized_new(hl + len + len / 32 + tl + 2);
	g_string_append_len(h, hp, (gssize)hl);
	opm_crlf_append(h, a, len);
	if (len > 0 && a[len - 1] != '\n')
		g_string_append(h, "\r\n");
	g_string_append_len(h, tp, (gssize)tl);
	return g_string_free_to_bytes(h);
}

GBytes *
opm_copy_signed_outer(const OpmCopyFrame *f, const char *message_id,
    GBytes *entity, GBytes *signature, const char *micalg)
{
	gsize elen, slen;
	const char *e = g_bytes_get_data(entity, &elen);
	const char *sg = g_bytes_get_data(signature, &slen);
	GString *h = g_string_new(NULL);
	g_autofree char *b = boundary();
	g_autofree char *ct = NULL;

	g_string_append_len(h, f->head->str, (gssize)f->head->len);
	add_header(h, "Message-ID", message_id);
	g_string_append_len(h, f->tail->str, (gssize)f->tail->len);
	ct = g_strdup_printf("multipart/signed; micalg=%s;\r\n"
	    " protocol=\"application/pgp-signature\";\r\n boundary=\"%s\"",
	    micalg, b);
	add_header(h, "Content-Type", ct);
	g_string_append_printf(h, "\r\nThis is an OpenPGP/MIME signed message "
	    "(RFC 3156).\r\n\r\n--%s\r\n", b);
	g_string_append_len(h, e, (gssize)elen);
	g_string_append_printf(h, "\r\n--%s\r\n"
	    "Content-Type: application/pgp-signature; name=\"signature.asc\"\r\n"
	    "Content-Description: OpenPGP digital signature\r\n\r\n", b);
	opm_crlf_append(h, sg, slen);
	g_string_append_printf(h, "\r\n--%s--\r\n", b);
	return g_string_free_to_bytes(h);
}

static GBytes *
text_message(OpmList *list, const char *to, const char *subject,
    const char *message_id, const char *body, gint64 now)
{
	GString *h = g_string_new(NULL);
	g_autofree char *from = mailbox(list->name, list->address);
	/* the Name may be any text: RFC 2047 where it is not ASCII */
	g_autofree char *subj = g_mime_utils_header_encode_text(NULL, subject,
	    "utf-8");

	outer_common(h, list, from, to, subj, message_id, now);
	add_header(h, "Auto-Submitted", "auto-generated");
	add_header(h, "Content-Type", "text/plain; charset=utf-8");
	add_header(h, "Content-Transfer-Encoding", "8bit");
	g_string_append(h, "\r\n");
	opm_crlf_append(h, body, strlen(body));
	return g_string_free_to_bytes(h);
}

GBytes *
opm_copy_withheld_notice(OpmList *list, OpmMember *poster, OpmMember *rcpt,
    const char *why, const char *message_id, gint64 now)
{
	g_autofree char *subject = g_strdup_printf("[%s] a post was withheld "
	    "from you: your key cannot be used", list->name);
	g_autofree char *body = g_strdup_printf(
	    "A post by %s to the list %s was not sent to you, because\n"
	    "your OpenPGP key %s cannot be used: %s.\n\n"
	    "This list never sends posts in clear text, and this notice holds\n"
	    "nothing of the post.  Send your current public key to the list\n"
	    "admins; once they have loaded it you will receive new posts.\n",
	    poster->address, list->address, rcpt->fpr, why);

	return text_message(list, rcpt->address, subject, message_id, body, now);
}

GBytes *
opm_copy_admin_notice(OpmList *list, OpmMember *poster, const char *admin,
    GPtrArray *withheld, GPtrArray *reasons, const char *message_id,
    gint64 now)
{
	g_autofree char *subject = g_strdup_printf("[%s] post by %s withheld "
	    "from %u member%s", list->name, poster->address, withheld->len,
	    withheld->len == 1 ? "" : "s");
	GString *body = g_string_new(NULL);
	g_autofree char *text = NULL;

	g_string_append_printf(body, "A post by %s to %s was accepted, but these "
	    "members got\nonly a notice, because their key cannot be used:\n\n",
	    poster->address, list->address);
	for (guint i = 0; i < withheld->len; i++) {
		OpmMember *m = g_ptr_array_index(withheld, i);

		g_string_append_printf(body, "  %s  key %s: %s\n", m->address,
		    m->fpr, (char *)g_ptr_array_index(reasons, i));
	}
	g_string_append(body, "\nImport their current keys into the list's "
	    "GnuPG home, check with\n\"openpgp-milter -n\" and reload the "
	    "milter (SIGHUP).\n");
	text = g_string_free(body, FALSE);
	return text_message(list, admin, subject, message_id, text, now);
}

char *
opm_copy_long_header(OpmList *list, OpmMessage *msg, OpmMember *poster,
    gint64 now)
{
	g_autoptr(GString) h = g_string_new(NULL);
	g_autoptr(GBytes) built = NULL;
	g_autoptr(OpmCopyFrame) f = opm_copy_frame_new(list, msg, poster, now);

	(void)inner_header(h, list, msg, poster, msg->payload != NULL ?
	    msg->payload : (built = opm_message_top_entity(msg)));
	g_string_append_len(h, f->head->str, (gssize)f->head->len);
	g_string_append_len(h, f->tail->str, (gssize)f->tail->len);
	return long_field(h);
}

GBytes *
opm_copy_list_key_notice(OpmList *list, const char *admin, const char *cause,
    const char *message_id, gint64 now)
{
	g_autofree char *subject = g_strdup_printf("[%s] the list key cannot "
	    "be used: posts are held", list->name);
	g_autofree char *body = g_strdup_printf(
	    "The list %s cannot decrypt or sign posts right now:\n\n"
	    "  %s\n\n"
	    "Every post to the list gets a temporary failure (451 4.7.0) until\n"
	    "this is fixed; the posters' mail servers keep retrying, and their\n"
	    "posts are distributed once the key works again.  Fix the list's\n"
	    "GnuPG home %s as the filter's user, check with\n"
	    "\"openpgp-milter -n\" and reload the milter (SIGHUP).\n\n"
	    "This is the only notice until the list key works again.\n",
	    list->address, cause, list->gnupg_home);

	return text_message(list, admin, subject, message_id, body, now);
}
