/*
 * NAME
 *	gate - the posting gate
 * SYNOPSIS
 *	opm_gate_check(), opm_gate_replayed(), opm_gate_limits(),
 *	opm_verdict_tempfail(), opm_verdict_free()
 * DESCRIPTION
 *	The checks run in the order a poster can act on: bounds, structure,
 *	the list's policy, decryption, signature validity, membership of the
 *	signer, key state, hash algorithm, freshness, identity binding of
 *	From: (outer and protected), replay.  The first failure decides.
 *
 *	Three forms count as signed.  An RFC 3156 multipart/signed is
 *	verified as it stands.  An RFC 3156 multipart/encrypted (or its
 *	Exchange-mangled form) is decrypted with the list key and must be
 *	signed inside: one combined sign+encrypt message, or a nested
 *	multipart/signed entity that is verified like a signed post.  Inline
 *	PGP, when the list allows it, is one clear-signed block or one
 *	signed+encrypted armored message making up the whole text/plain
 *	body.  For an accepted post the gate leaves in the OpmMessage what
 *	the copies carry (payload, protected header fields) and the signed
 *	bytes the journal key is made of (signed_data).  The key is made of
 *	their canonical text, so that one signature is one post in any form.
 *
 *	What is verified is what the copies carry: a multipart/signed
 *	entity rebuilt from its signed part and the signature packets
 *	alone, a clear-signed block rebuilt from what its signature covers.
 *	Every signature must be the same member's.  The content of a post
 *	signed and encrypted in one step must not be signed or encrypted
 *	again: the copies would show that inner signature as the poster's.
 *
 *	Every decision is taken from gpgme's structured verification (and
 *	decryption) result and the member table loaded with the
 *	configuration; no text from gpg or from the message is interpreted.
 *	Nothing decrypted goes into a reply text or a log line.
 *
 *	Every rejection text names the list, says what is wrong in plain
 *	words and what to do.  Text taken from the message is sanitized first.
 * DIAGNOSTICS
 *	Trouble that is not the poster's (gpg cannot run, the state directory
 *	is not writable) is a TEMPFAIL verdict, logged with g_warning().
 */
#include "config.h"

#include <string.h>

#include "gate.h"
#include "copy.h"
#include "keys.h"
#include "journal.h"
#include "pgp.h"

void
opm_verdict_free(OpmVerdict *v)
{
	if (v == NULL)
		return;
	g_free(v->text);
	g_free(v->reason);
	g_free(v->list);
	g_free(v->from);
	g_free(v->signer);
	g_free(v->replay_key);
	g_free(v->incident);
	g_free(v);
}

void
opm_gate_limits(const OpmConfig *conf, OpmLimits *out)
{
	out->max_size = conf->max_message_size;
	out->max_depth = conf->max_mime_depth;
	out->max_parts = conf->max_mime_parts;
	out->max_headers = conf->max_headers;
	out->max_header_size = conf->max_header_size;
}

static OpmVerdict *
verdict_new(const char *list)
{
	OpmVerdict *v = g_new0(OpmVerdict, 1);

	v->list = g_strdup(list);
	v->action = OPM_ACTION_ACCEPT;
	g_strlcpy(v->rcode, "250", sizeof(v->rcode));
	g_strlcpy(v->xcode, "2.0.0", sizeof(v->xcode));
	v->reason = g_strdup("signed by member");
	return v;
}

/* Set v to a refusal.  The text is "list ADDRESS: " followed by fmt; a
 * '\n' in fmt starts a new reply line. */
static OpmVerdict *
refuse(OpmVerdict *v, OpmAction action, const char *rcode, const char *xcode,
    const char *reason, const char *fmt, ...) G_GNUC_PRINTF(6, 7);

static OpmVerdict *
refuse(OpmVerdict *v, OpmAction action, const char *rcode, const char *xcode,
    const char *reason, const char *fmt, ...)
{
	g_autofree char *body = NULL;
	va_list ap;

	va_start(ap, fmt);
	body = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	v->action = action;
	g_strlcpy(v->rcode, rcode, sizeof(v->rcode));
	g_strlcpy(v->xcode, xcode, sizeof(v->xcode));
	g_free(v->reason);
	v->reason = g_strdup(reason);
	g_free(v->text);
	v->text = g_strdup_printf("list %s: %s", v->list, body);
	return v;
}

OpmVerdict *
opm_verdict_tempfail(const char *list, const char *xcode, const char *reason)
{
	OpmVerdict *v = verdict_new(list);

	return refuse(v, OPM_ACTION_TEMPFAIL, "451", xcode, reason,
	    "temporary local problem while checking your post (%s).\n"
	    "Nothing was delivered; your mail server will try again.",
	    reason);
}

OpmVerdict *
opm_verdict_list_key(const char *list, const char *cause)
{
	OpmVerdict *v = verdict_new(list);

	v->incident = g_strdup(cause);
	return refuse(v, OPM_ACTION_TEMPFAIL, "451", "4.7.0",
	    "list key unusable", "the list cannot decrypt or sign posts right "
	    "now: its own key cannot be used, which is no fault of your post."
	    "\nThe list admins have been told; your mail server will try "
	    "again, and the post will be distributed once it is fixed.");
}

/* "the key 0xFPR registered for you" when From: names a member. */
static char *
key_hint(OpmList *list, const char *from)
{
	OpmMember *m = from != NULL ? opm_list_find_member(list, NULL, from) :
	    NULL;

	if (m != NULL)
		return g_strdup_printf("the key 0x%s registered for you", m->fpr);
	return g_strdup("the key registered for you as a member of the list");
}

static char *
human_duration(gint64 s)
{
	if (s < 0)
		s = -s;
	if (s >= 2 * 86400)
		return g_strdup_printf("%" G_GINT64_FORMAT " days", s / 86400);
	if (s >= 2 * 3600)
		return g_strdup_printf("%" G_GINT64_FORMAT " hours", s / 3600);
	if (s >= 120)
		return g_strdup_printf("%" G_GINT64_FORMAT " minutes", s / 60);
	return g_strdup_printf("%" G_GINT64_FORMAT " seconds", s);
}

/*
 * The From: binding input: exactly one From: field with exactly one
 * mailbox.  Returns the normalized address or NULL with *why set.
 */
static char *
single_from(OpmMessage *msg, const char **why)
{
	g_autoptr(GPtrArray) froms = opm_message_headers(msg, "From");
	InternetAddressList *al;
	InternetAddress *a;
	char *addr = NULL;

	if (froms->len != 1) {
		*why = froms->len == 0 ? "the post has no From: header" :
		    "the post has more than one From: header";
		return NULL;
	}
	al = internet_address_list_parse(NULL, g_ptr_array_index(froms, 0));
	if (al == NULL || internet_address_list_length(al) != 1 ||
	    !INTERNET_ADDRESS_IS_MAILBOX(
		(a = internet_address_list_get_address(al, 0)))) {
		*why = "the From: header must hold exactly one address";
	} else {
		const char *s = internet_address_mailbox_get_addr(
		    INTERNET_ADDRESS_MAILBOX(a));

		if (s == NULL || strchr(s, '@') == NULL)
			*why = "the From: address is not a mail address";
		else
			addr = opm_address_normalize(s);
	}
	if (al != NULL)
		g_object_unref(al);
	return addr;
}

/* The From: address for texts and logs, even when it does not bind. */
static char *
any_from(OpmMessage *msg)
{
	g_autoptr(GPtrArray) froms = opm_message_headers(msg, "From");
	InternetAddressList *al;
	char *out = NULL;

	if (froms->len == 0)
		return NULL;
	al = internet_address_list_parse(NULL, g_ptr_array_index(froms, 0));
	if (al != NULL && internet_address_list_length(al) > 0 &&
	    INTERNET_ADDRESS_IS_MAILBOX(internet_address_list_get_address(al, 0))) {
		g_autofree char *n = opm_address_normalize(
		    internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(
			internet_address_list_get_address(al, 0))));

		out = opm_sanitize(n, 254);
	}
	if (al != NULL)
		g_object_unref(al);
	return out;
}

/* what: "post" or "decrypted post". */
static OpmVerdict *
check_limits(OpmVerdict *v, OpmMessage *msg, const char *what)
{
	g_autofree char *d = opm_sanitize(msg->limit_detail, 200);

	switch (msg->limit) {
	case OPM_LIMIT_OK:
		return NULL;
	case OPM_LIMIT_SIZE:
		return refuse(v, OPM_ACTION_REJECT, "552", "5.3.4", "too big",
		    "the %s is too big (%s).\n"
		    "Send a smaller message; share large files another way.",
		    what, d);
	case OPM_LIMIT_SYNTAX:
		return refuse(v, OPM_ACTION_REJECT, "550", "5.6.0", "malformed",
		    "the %s is not a well-formed MIME message (%s).\n"
		    "Send it again from an ordinary mail client.", what, d);
	default:
		return refuse(v, OPM_ACTION_REJECT, "550", "5.6.0",
		    "too complex", "the %s's MIME structure is too complex "
		    "(%s).\nSend a simpler message with fewer attachments.",
		    what, d);
	}
}

static OpmVerdict *
check_form(OpmVerdict *v, OpmList *list, OpmMessage *msg)
{
	g_autofree char *hint = key_hint(list, v->from);
	g_autofree char *d = opm_sanitize(msg->form_detail, 200);

	if (list->encrypted_only && (msg->form == OPM_FORM_PGPMIME_SIGNED ||
	    (msg->form == OPM_FORM_INLINE && !msg->inline_encrypted &&
	    list->inline_pgp)))
		return refuse(v, OPM_ACTION_REJECT, "550", "5.7.1",
		    "not encrypted", "your post is signed but not encrypted; "
		    "this list accepts only posts encrypted to the list key "
		    "0x%s.\n"
		    "Encrypt the post to the list key 0x%s (%s), sign it with "
		    "%s, and send it again.", list->list_key, list->list_key,
		    list->address, hint);
	switch (msg->form) {
	case OPM_FORM_PGPMIME_SIGNED:
	case OPM_FORM_PGPMIME_ENCRYPTED:
		return NULL;
	case OPM_FORM_UNSIGNED:
		return refuse(v, OPM_ACTION_REJECT, "550", "5.7.1", "unsigned",
		    "your post is not signed; this list accepts only posts "
		    "signed with OpenPGP.\n"
		    "Sign the whole message (PGP/MIME) with %s and send it "
		    "again.", hint);
	case OPM_FORM_PARTIAL:
		if (msg->partial == OPM_PARTIAL_ENCRYPTED)
			return refuse(v, OPM_ACTION_REJECT, "550", "5.7.1",
			    "partially encrypted", "your post is not encrypted "
			    "as a whole: %s.\n"
			    "Encrypt the whole message (PGP/MIME) to the list key "
			    "0x%s, signed with %s, with no text or attachment "
			    "outside the encryption, and send it again.", d,
			    list->list_key, hint);
		if (msg->partial == OPM_PARTIAL_INLINE)
			return refuse(v, OPM_ACTION_REJECT, "550", "5.7.1",
			    "partially signed", "your post is not signed as a "
			    "whole: %s.\n"
			    "Send the signed block alone, without text around "
			    "it, an HTML version or attachments, or better sign "
			    "the whole message (PGP/MIME) with %s.", d, hint);
		return refuse(v, OPM_ACTION_REJECT, "550", "5.7.1",
		    "partially signed", "your post is not signed as a whole: "
		    "%s.\nSign the whole message (PGP/MIME) with %s and send it "
		    "again; do not forward a signed message as an attachment.",
		    d, hint);
	case OPM_FORM_SMIME:
		return refuse(v, OPM_ACTION_REJECT, "550", "5.7.1", "S/MIME",
		    "your post is signed with S/MIME; this list accepts only "
		    "OpenPGP signatures.\n"
		    "Sign the message with OpenPGP (PGP/MIME) using %s.", hint);
	case OPM_FORM_BAD_STRUCTURE:
		return refuse(v, OPM_ACTION_REJECT, "550", "5.7.1",
		    "unsupported structure", "your post's signature structure "
		    "is not valid PGP/MIME (RFC 3156): %s.\n"
		    "Sign the whole message with %s from an OpenPGP-capable "
		    "mail client.", d, hint);
	case OPM_FORM_INLINE:
		if (list->inline_pgp)
			return NULL;
		return refuse(v, OPM_ACTION_REJECT, "550", "5.7.1", "inline PGP",
		    "inline PGP posts are not accepted by this list.\n"
		    "Sign the message as PGP/MIME with %s (in your client, turn "
		    "off inline PGP).", hint);
	}
	return refuse(v, OPM_ACTION_REJECT, "550", "5.7.1", "unsigned",
	    "your post is not signed.\nSign it with %s.", hint);
}

/*
 * The signed content in one form whatever form carried it: a signature
 * moved from a PGP/MIME part to a clear-signed block or into a
 * re-encrypted message covers the same text in CRLF or LF lines, with or
 * without a last line break, dash-escaped or not.  As OpenPGP's text
 * mode does, lines end in CRLF without trailing white space (here also
 * without stray CRs); line breaks at the end are dropped.
 * (transfer full)
 */
static GBytes *
canonical_text(GBytes *data)
{
	gsize n, start = 0;
	const char *p = data != NULL ? g_bytes_get_data(data, &n) : NULL;
	GString *out = g_string_sized_new(p != NULL ? n + n / 32 + 2 : 1);

	while (p != NULL && start <= n) {
		const char *nl = start < n ? memchr(p + start, '\n', n - start) :
		    NULL;
		gsize end = nl != NULL ? (gsize)(nl - p) : n;
		gsize e = end;

		while (e > start && (p[e - 1] == ' ' || p[e - 1] == '\t' ||
		    p[e - 1] == '\r'))
			e--;
		g_string_append_len(out, p + start, (gssize)(e - start));
		if (nl == NULL)
			break;
		g_string_append(out, "\r\n");
		start = end + 1;
	}
	while (out->len >= 2 && out->str[out->len - 2] == '\r' &&
	    out->str[out->len - 1] == '\n')
		g_string_truncate(out, out->len - 2);
	return g_string_free_to_bytes(out);
}

/*
 * The journal key of a post signed by fpr at sig_time: the signature and
 * the canonical text it covers, so that one signature is one post in any
 * form.  A post recorded under the key of the exact signed bytes (as
 * earlier versions made it) keeps that key, so that its retry resumes
 * and its replay is refused.  (transfer full)
 */
static char *
post_key(OpmConfig *conf, OpmList *list, const char *fpr, gint64 sig_time,
    GBytes *signed_data, gint64 now)
{
	g_autoptr(GBytes) canon = canonical_text(signed_data);
	char *key = opm_journal_key(list->address, fpr, sig_time, canon);
	g_autofree char *exact = opm_journal_key(list->address, fpr, sig_time,
	    signed_data);
	gint64 done = MAX(list->replay_lifetime, list->max_signature_age);

	if (strcmp(key, exact) != 0 &&
	    opm_journal_peek(conf->state_dir, list->address, key, now, done,
		conf->journal_lifetime, NULL, NULL) == OPM_POST_NEW &&
	    opm_journal_peek(conf->state_dir, list->address, exact, now, done,
		conf->journal_lifetime, NULL, NULL) != OPM_POST_NEW) {
		g_free(key);
		key = g_steal_pointer(&exact);
	}
	return key;
}

/* Check one signature; NULL when it is acceptable.  retry: the post's
 * distribution was interrupted and this is its sender's retry, which
 * the freshness window must not shut out. */
static OpmVerdict *
check_signature(OpmVerdict *v, OpmList *list, OpmSignature *s, gint64 now,
    gboolean retry, OpmKeyInfo **signer)
{
	g_autofree char *hint = key_hint(list, v->from);
	g_autofree char *who = opm_sanitize(s->fpr, 64);
	OpmKeyInfo *key = opm_keys_lookup(list, s->fpr);
	gpgme_err_code_t st = gpgme_err_code(s->status);
	OpmSubkeyInfo *sub = NULL;

	if (st == GPG_ERR_BAD_SIGNATURE)
		return refuse(v, OPM_ACTION_REJECT, "550", "5.7.7",
		    "bad signature", "the OpenPGP signature on your post does "
		    "not verify: the message was changed after it was signed, "
		    "or the signature is damaged.\n"
		    "Send it again signed with %s; if it keeps failing, a server "
		    "on the way is altering signed mail.", hint);
	if (key == NULL)
		return refuse(v, OPM_ACTION_REJECT, "550", "5.7.1", "not a member",
		    "your post is signed by key 0x%s, which is not registered "
		    "for any member of this list.\n"
		    "Sign with %s, or ask the list admins to register your key.",
		    who, hint);
	*signer = key;
	g_free(v->signer);
	v->signer = g_strdup(key->fpr);
	for (guint i = 0; i < key->subkeys->len; i++) {
		OpmSubkeyInfo *k = g_ptr_array_index(key->subkeys, i);

		if (g_ascii_strcasecmp(k->fpr, s->fpr) == 0 ||
		    g_str_has_suffix(k->fpr, who))
			sub = k;
	}
	if (st == GPG_ERR_CERT_REVOKED || key->revoked ||
	    (sub != NULL && sub->revoked))
		return refuse(v, OPM_ACTION_REJECT, "550", "5.7.5", "key revoked",
		    "the key 0x%s that signed your post is revoked.\n"
		    "Ask the list admins to register your new key, then sign "
		    "with it.", key->fpr);
	if (st == GPG_ERR_KEY_EXPIRED || key->expired ||
	    (sub != NULL && sub->expired) ||
	    (sub != NULL && sub->expires != 0 && s->timestamp > sub->expires))
		return refuse(v, OPM_ACTION_REJECT, "550", "5.7.5", "key expired",
		    "the key 0x%s that signed your post has expired.\n"
		    "Extend its expiry date, send the updated public key to the "
		    "list admins, and post again once they have loaded it.",
		    key->fpr);
	if (st == GPG_ERR_SIG_EXPIRED)
		return refuse(v, OPM_ACTION_REJECT, "550", "5.7.5",
		    "signature expired", "the signature on your post has "
		    "expired.\nSign the post again and send it.");
	if (st == GPG_ERR_DIGEST_ALGO ||
	    !(list->allowed_hashes & (1u << (s->hash_algo & 31))) ||
	    s->hash_algo > 31)
		return refuse(v, OPM_ACTION_REJECT, "550", "5.7.6", "weak hash",
		    "your post is signed with the %s hash algorithm, which this "
		    "list does not accept (it accepts %s).\n"
		    "Configure your OpenPGP software to use SHA256 or stronger "
		    "(GnuPG: personal-digest-preferences SHA512 SHA384 SHA256) "
		    "and send it again.", opm_hash_name(s->hash_algo),
		    list->hashes_words);
	if (st == GPG_ERR_TIME_CONFLICT ||
	    s->timestamp > now + list->max_clock_skew) {
		g_autofree char *ahead = human_duration(s->timestamp - now);

		return refuse(v, OPM_ACTION_REJECT, "550", "5.7.5",
		    "future signature", "the signature on your post is dated "
		    "%s in the future.\n"
		    "Check your computer's clock and time zone, then sign and "
		    "send the post again.", ahead);
	}
	if (st != GPG_ERR_NO_ERROR || s->wrong_key_usage ||
	    (sub != NULL && !sub->can_sign))
		return refuse(v, OPM_ACTION_REJECT, "550", "5.7.7",
		    "bad signature", "the OpenPGP signature on your post cannot "
		    "be verified.\nSend it again signed with %s.", hint);
	if (list->max_signature_age > 0 && !retry &&
	    now - s->timestamp > list->max_signature_age) {
		g_autofree char *age = human_duration(now - s->timestamp);
		g_autofree char *max = human_duration(list->max_signature_age);

		return refuse(v, OPM_ACTION_REJECT, "550", "5.7.5",
		    "stale signature", "the signature on your post was made %s "
		    "ago; this list accepts signatures up to %s old.\n"
		    "Sign the post again now and send it.", age, max);
	}
	return NULL;
}

/* TRUE when the protected header holds exactly one From: with exactly one
 * mailbox, whose address is member's. */
static gboolean
protected_from_binds(OpmMessage *msg, OpmMember *member)
{
	const char *value = opm_fields_get(msg->protected_headers, "From");
	InternetAddressList *al;
	gboolean ok = FALSE;

	if (opm_fields_count(msg->protected_headers, "From") != 1 ||
	    value == NULL)
		return FALSE;
	al = internet_address_list_parse(NULL, value);
	if (al != NULL && internet_address_list_length(al) == 1 &&
	    INTERNET_ADDRESS_IS_MAILBOX(internet_address_list_get_address(al, 0))) {
		const char *a = internet_address_mailbox_get_addr(
		    INTERNET_ADDRESS_MAILBOX(
			internet_address_list_get_address(al, 0)));
		g_autofree char *n = a != NULL && strchr(a, '@') != NULL ?
		    opm_address_normalize(a) : NULL;

		ok = n != NULL && strcmp(n, member->address) == 0;
	}
	if (al != NULL)
		g_object_unref(al);
	return ok;
}

static OpmVerdict *
check_identity(OpmVerdict *v, OpmList *list, OpmMessage *msg,
    OpmKeyInfo *signer)
{
	const char *why = NULL;
	g_autofree char *from = single_from(msg, &why);
	GString *registered = g_string_new(NULL);
	OpmVerdict *out = NULL;

	for (guint i = 0; i < list->members->len; i++) {
		OpmMember *m = g_ptr_array_index(list->members, i);

		if (m->key != signer)
			continue;
		if (from != NULL && strcmp(m->address, from) == 0)
			v->member = m;
		g_string_append_printf(registered, "%s%s",
		    registered->len > 0 ? ", " : "", m->address);
	}
	if (from == NULL)
		out = refuse(v, OPM_ACTION_REJECT, "550", "5.7.1", "bad From",
		    "%s.\nSend the post with a single From: address, %s.", why,
		    registered->str);
	else if (v->member == NULL) {
		g_autofree char *f = opm_sanitize(from, 254);

		out = refuse(v, OPM_ACTION_REJECT, "550", "5.7.1",
		    "From not signer", "the From: address %s is not the address "
		    "registered for the key 0x%s that signed the post (%s).\n"
		    "Send from %s, or ask the list admins to register this "
		    "address for your key.", f, signer->fpr, registered->str,
		    registered->str);
	} else if (opm_fields_count(msg->protected_headers, "From") > 0 &&
	    !protected_from_binds(msg, v->member)) {
		/* the value is not repeated: it may come from decrypted text */
		out = refuse(v, OPM_ACTION_REJECT, "550", "5.7.1",
		    "protected From not signer", "the From: address inside the "
		    "signed part of your post (its protected header) is not %s, "
		    "the address registered for the key 0x%s that signed it.\n"
		    "Send from %s, and check that your mail client's identity "
		    "uses that address.", v->member->address, signer->fpr,
		    v->member->address);
		v->member = NULL;
	}
	g_string_free(registered, TRUE);
	return out;
}

/* Forget what an earlier list's gate left in msg. */
static void
reset_post(OpmMessage *msg)
{
	g_clear_pointer(&msg->payload, g_bytes_unref);
	g_clear_pointer(&msg->protected_headers, g_ptr_array_unref);
	msg->encrypted = FALSE;
	msg->combined = FALSE;
	if (msg->form != OPM_FORM_PGPMIME_SIGNED)
		g_clear_pointer(&msg->signed_data, g_bytes_unref);
}

/* The protected header fields of a signed entity given as bytes. */
static GPtrArray *
protected_of(GBytes *entity, const OpmLimits *lim)
{
	g_autoptr(OpmMessage) e = opm_message_parse(entity, lim);

	return opm_message_protected_headers(e);
}

/* A text/plain entity around text decrypted from an inline block.
 * (transfer full) */
static GBytes *
text_entity(GBytes *text, const char *charset)
{
	GString *out = g_string_new(NULL);
	g_autoptr(GBytes) lines = NULL;
	gsize n, longest = 0, run = 0;
	const char *p = g_bytes_get_data(text, &n);
	gboolean ascii = TRUE;

	for (gsize i = 0; i < n; i++) {
		if ((guchar)p[i] >= 0x80 || p[i] == '\0')
			ascii = FALSE;
		run = p[i] == '\n' ? 0 : run + 1;
		longest = MAX(longest, run);
	}
	if (!ascii && g_utf8_validate(p, (gssize)n, NULL))
		charset = "utf-8";
	else if (ascii)
		charset = "us-ascii";
	else if (charset == NULL)
		charset = "iso-8859-1";
	g_string_append_printf(out, "Content-Type: text/plain; charset=\"%s\"\r\n",
	    charset);
	if (ascii && longest < 990) {
		lines = opm_crlf(p != NULL ? p : "", n);
		p = g_bytes_get_data(lines, &n);
		g_string_append(out, "Content-Transfer-Encoding: 7bit\r\n\r\n");
		g_string_append_len(out, p != NULL ? p : "", (gssize)n);
	} else {
		g_autofree char *b64 = g_base64_encode((const guchar *)p, n);
		gsize bl = strlen(b64);

		g_string_append(out, "Content-Transfer-Encoding: base64\r\n\r\n");
		for (gsize i = 0; i < bl; i += 76) {
			g_string_append_len(out, b64 + i, (gssize)MIN(76, bl - i));
			g_string_append(out, "\r\n");
		}
	}
	return g_string_free_to_bytes(out);
}

/* TRUE when b begins with a header field ("Name:"). */
static gboolean
starts_with_field(GBytes *b)
{
	gsize n, i = 0;
	const char *p = g_bytes_get_data(b, &n);

	while (i < n && p[i] > ' ' && p[i] < 127 && p[i] != ':')
		i++;
	return i > 0 && i < n && p[i] == ':';
}

/* Refusal for a post the list key cannot open as it should.  NULL for
 * OPM_DECRYPT_OK. */
static OpmVerdict *
check_decrypt(OpmVerdict *v, OpmList *list, OpmDecryptResult *d)
{
	g_autofree char *hint = key_hint(list, v->from);

	switch (d->status) {
	case OPM_DECRYPT_OK:
		return NULL;
	case OPM_DECRYPT_NOT_ENCRYPTED:
		return refuse(v, OPM_ACTION_REJECT, "550", "5.7.1",
		    "not really encrypted", "your post is marked as encrypted, "
		    "but what it carries is not a message encrypted to a key "
		    "(it is only signed, or damaged).\n"
		    "Encrypt the post to the list key 0x%s and sign it with %s, "
		    "or send it signed only (PGP/MIME).", list->list_key, hint);
	case OPM_DECRYPT_SYMMETRIC:
		return refuse(v, OPM_ACTION_REJECT, "550", "5.7.5",
		    "not encrypted to list key", "your post is encrypted with a "
		    "passphrase only, not to the list key, so the list cannot "
		    "decrypt it.\n"
		    "Encrypt it to the list key 0x%s (%s) and send it again.",
		    list->list_key, list->address);
	case OPM_DECRYPT_OTHER_KEY:
		return refuse(v, OPM_ACTION_REJECT, "550", "5.7.5",
		    "not encrypted to list key", "your post is not encrypted to "
		    "the list key, so the list cannot decrypt it.\n"
		    "Encrypt it to the list key 0x%s (%s), not to the members' "
		    "own keys, and send it again.", list->list_key,
		    list->address);
	case OPM_DECRYPT_NO_MDC:
		return refuse(v, OPM_ACTION_REJECT, "550", "5.7.7",
		    "no integrity protection", "your post is encrypted without "
		    "integrity protection (no MDC), so a change on the way would "
		    "go unnoticed; this list refuses such posts.\n"
		    "Use a current OpenPGP program (GnuPG 2.2 or later, without "
		    "--rfc2440 or --disable-mdc) and send the post again.");
	case OPM_DECRYPT_INTEGRITY:
		return refuse(v, OPM_ACTION_REJECT, "550", "5.7.7",
		    "integrity failure", "your encrypted post fails its "
		    "integrity check: it was damaged or changed after it was "
		    "encrypted.\n"
		    "Send it again; if it keeps failing, a server on the way is "
		    "altering encrypted mail.");
	case OPM_DECRYPT_UNSUPPORTED:
		return refuse(v, OPM_ACTION_REJECT, "550", "5.7.5",
		    "unsupported algorithm", "your post is encrypted with an "
		    "algorithm the list does not support.\n"
		    "Encrypt it to the list key 0x%s with your OpenPGP program's "
		    "default settings (AES) and send it again.",
		    list->list_key);
	case OPM_DECRYPT_TOO_BIG:
		return refuse(v, OPM_ACTION_REJECT, "552", "5.3.4", "too big",
		    "the decrypted post is too big.\n"
		    "Send a smaller message; share large files another way.");
	}
	return refuse(v, OPM_ACTION_REJECT, "550", "5.7.7", "integrity failure",
	    "your encrypted post cannot be decrypted.\nSend it again.");
}

static OpmVerdict *
refuse_unsigned_inside(OpmVerdict *v, OpmList *list)
{
	g_autofree char *hint = key_hint(list, v->from);

	return refuse(v, OPM_ACTION_REJECT, "550", "5.7.1",
	    "encrypted unsigned", "your post is encrypted to the list but not "
	    "signed inside; this list accepts only posts signed by a member.\n"
	    "Turn on both signing and encryption in your mail client, sign "
	    "with %s and send it again.", hint);
}

/* Wrap the verify result r around signatures taken from d. */
static OpmVerifyResult *
steal_signatures(OpmDecryptResult *d)
{
	OpmVerifyResult *r = g_new0(OpmVerifyResult, 1);

	r->signatures = g_steal_pointer(&d->signatures);
	d->signatures = NULL;
	return r;
}

/* A post signed and encrypted in one step whose content is signed (or
 * encrypted) again: its copies would show that inner signature, which
 * need not be the poster's, as the post's.  why: what was found. */
static OpmVerdict *
refuse_signed_inside(OpmVerdict *v, OpmList *list, const char *why)
{
	g_autofree char *hint = key_hint(list, v->from);

	return refuse(v, OPM_ACTION_REJECT, "550", "5.7.1", "signed inside",
	    "your post is signed and encrypted in one step, and what it "
	    "decrypts to is not plain content: %s; its copies would show that "
	    "inner signature as if it were yours.\n"
	    "Sign and encrypt only your own text with %s; attach a message "
	    "signed by someone else as a forwarded message (message/rfc822), "
	    "not as the post itself.", why, hint);
}

/* "pgp-sha256" (RFC 3156 micalg) for the signatures of r.
 * (transfer full) */
static char *
micalg_of(OpmVerifyResult *r)
{
	GString *m = g_string_new(NULL);

	for (guint i = 0; i < r->signatures->len; i++) {
		OpmSignature *s = g_ptr_array_index(r->signatures, i);
		const char *name = gpgme_hash_algo_name(s->hash_algo);
		g_autofree char *low = NULL;

		if (name == NULL)
			continue;
		low = g_ascii_strdown(name, -1);
		if (strstr(m->str, low) != NULL)
			continue;
		g_string_append_printf(m, "%spgp-%s", m->len > 0 ? "," : "",
		    low);
	}
	if (m->len == 0)
		g_string_append(m, "pgp-sha256");
	return g_string_free(m, FALSE);
}

/*
 * Verify an RFC 3156 signed entity (the post's, or one decrypted from it)
 * from its signed part and the signature packets of its signature part
 * alone, and set *payload to the entity rebuilt from exactly those two.
 * Returns NULL with *out set; or a refusal; or NULL with *out NULL and
 * error set.
 */
static OpmVerdict *
open_signed(OpmVerdict *v, OpmList *list, gpgme_ctx_t ctx, GBytes *data,
    GBytes *signature, GBytes **payload, OpmVerifyResult **out,
    GError **error)
{
	g_autoptr(GError) why = NULL;
	g_autoptr(GBytes) bin = opm_pgp_signatures(signature, &why);
	g_autoptr(GBytes) armor = NULL;
	g_autofree char *micalg = NULL;

	if (bin == NULL) {
		g_autofree char *hint = key_hint(list, v->from);

		/* why is our own text, never the message's */
		return refuse(v, OPM_ACTION_REJECT, "550", "5.7.7",
		    "bad signature", "the signature part of your post is not "
		    "one OpenPGP signature (it is damaged, or holds something "
		    "else as well: %s).\n"
		    "Send the post again signed with %s.", why != NULL ?
		    why->message : "unreadable", hint);
	}
	if ((*out = opm_verify_detached(ctx, data, bin, error)) == NULL)
		return NULL;
	armor = opm_pgp_armor(bin, "SIGNATURE");
	micalg = micalg_of(*out);
	*payload = opm_mime_signed_entity(data, armor, micalg);
	return NULL;
}

/*
 * Open the post: verify what is signed, decrypting first where needed,
 * and leave in msg what the copies carry.  Returns NULL with *out set to
 * the signatures to check; or a refusal (v); or NULL with *out NULL and
 * error set for internal trouble.
 */
static OpmVerdict *
open_post(OpmVerdict *v, OpmConfig *conf, OpmList *list, OpmMessage *msg,
    gpgme_ctx_t ctx, OpmVerifyResult **out, GError **error)
{
	g_autoptr(OpmDecryptResult) d = NULL;
	g_autoptr(OpmMessage) inner = NULL;
	g_autoptr(GBytes) plain = NULL;
	OpmLimits lim;
	OpmVerdict *bad;
	gsize max = (gsize)conf->max_message_size;

	*out = NULL;
	opm_gate_limits(conf, &lim);
	reset_post(msg);
	if (msg->form == OPM_FORM_PGPMIME_SIGNED) {
		if ((bad = open_signed(v, list, ctx, msg->signed_data,
		    msg->signature, &msg->payload, out, error)) != NULL ||
		    *out == NULL)
			return bad;
		msg->protected_headers = protected_of(msg->signed_data, &lim);
		return NULL;
	}
	if (msg->form == OPM_FORM_INLINE && !msg->inline_encrypted) {
		/* the block rebuilt from what its signature covers is what
		 * is verified and carried */
		g_autoptr(GError) why = NULL;
		g_autoptr(GBytes) canon = opm_pgp_clearsigned(msg->inline_text,
		    &why);

		if (canon == NULL) {
			g_autofree char *hint = key_hint(list, v->from);

			return refuse(v, OPM_ACTION_REJECT, "550", "5.7.7",
			    "bad signature", "the clear-signed block of your "
			    "post is not well formed (an armor header gpg does "
			    "not accept, or a damaged signature: %s).\n"
			    "Send it again signed with %s, or better sign the "
			    "whole message (PGP/MIME).", why != NULL ?
			    why->message : "unreadable", hint);
		}
		*out = opm_verify_opaque(ctx, canon, max, &plain, error);
		if (*out == NULL)
			return NULL;
		for (guint i = 0; msg->charset != NULL &&
		    g_ascii_strcasecmp(msg->charset, "utf-8") != 0 &&
		    g_ascii_strcasecmp(msg->charset, "us-ascii") != 0 &&
		    i < (*out)->signatures->len; i++) {
			OpmSignature *s = g_ptr_array_index((*out)->signatures, i);
			gsize n;
			const char *t = g_bytes_get_data(canon, &n);
			g_autofree char *u = NULL;
			gsize un = 0;
			g_autoptr(GBytes) ub = NULL;
			g_autoptr(GBytes) uplain = NULL;
			OpmVerifyResult *r2;

			if (gpgme_err_code(s->status) != GPG_ERR_BAD_SIGNATURE)
				continue;
			/* signed as the text reads, in UTF-8, but sent in
			 * the declared charset */
			u = g_convert(t != NULL ? t : "", (gssize)n, "UTF-8",
			    msg->charset, NULL, &un, NULL);
			if (u == NULL)
				break;
			ub = g_bytes_new(u, un);
			r2 = opm_verify_opaque(ctx, ub, max, &uplain, NULL);
			if (r2 != NULL && r2->signatures->len > 0 &&
			    uplain != NULL) {
				gboolean good = TRUE;

				for (guint k = 0; k < r2->signatures->len; k++)
					good = good && ((OpmSignature *)
					    g_ptr_array_index(r2->signatures,
						k))->status == 0;
				if (good) {
					opm_verify_result_free(*out);
					*out = r2;
					g_clear_pointer(&plain, g_bytes_unref);
					plain = g_steal_pointer(&uplain);
					/* the copies carry the form that
					 * verifies */
					g_bytes_unref(canon);
					canon = g_bytes_ref(ub);
					break;
				}
			}
			opm_verify_result_free(r2);
			break;
		}
		msg->signed_data = plain != NULL ? g_bytes_ref(plain) :
		    g_bytes_ref(canon);
		msg->payload = text_entity(canon, msg->charset);
		return NULL;
	}

	/* encrypted: PGP/MIME, its Exchange form, or an inline block */
	if (list->list_gpgkey == NULL && !opm_list_key_check(list, error))
		return NULL;
	if ((d = opm_decrypt_verify(ctx, list, msg->ciphertext, max,
	    error)) == NULL)
		return NULL;
	if ((bad = check_decrypt(v, list, d)) != NULL)
		return bad;
	msg->encrypted = TRUE;
	if (msg->form == OPM_FORM_INLINE) {
		if (d->signatures->len == 0)
			return refuse_unsigned_inside(v, list);
		switch (opm_text_pgp_block(d->plain, msg->charset, FALSE)) {
		case OPM_TEXT_PGP:
			return refuse_signed_inside(v, list, "it is itself an "
			    "inline PGP signed or encrypted text");
		case OPM_TEXT_UNREADABLE:
			return refuse_signed_inside(v, list, "it is text in a "
			    "charset the list cannot read, which could hide "
			    "such a signature");
		case OPM_TEXT_PLAIN:
			break;
		}
		msg->payload = text_entity(d->plain, msg->charset);
		msg->combined = TRUE;
		msg->signed_data = g_bytes_ref(d->plain);
		*out = steal_signatures(d);
		return NULL;
	}
	if (!starts_with_field(d->plain)) {
		/* RFC 3156 wants a MIME entity; text without a header
		 * section is carried as the text/plain it is */
		plain = text_entity(d->plain, NULL);
	} else {
		gsize n;
		const char *p = g_bytes_get_data(d->plain, &n);

		plain = opm_crlf(p != NULL ? p : "", n);
	}
	inner = opm_message_parse(plain, &lim);
	if ((bad = check_limits(v, inner, "decrypted post")) != NULL)
		return bad;
	if (inner->form == OPM_FORM_PGPMIME_ENCRYPTED ||
	    inner->form == OPM_FORM_SMIME ||
	    (inner->form == OPM_FORM_INLINE && inner->inline_encrypted))
		return refuse(v, OPM_ACTION_REJECT, "550", "5.7.1",
		    "encrypted twice", "your post is encrypted twice (or holds "
		    "another encrypted message as its whole content); this list "
		    "accepts one layer of encryption.\n"
		    "Encrypt the post once, to the list key 0x%s, signed, and "
		    "send it again.", list->list_key);
	if (d->signatures->len > 0) {
		/* one combined sign+encrypt message: the poster's content,
		 * with no signature of its own */
		const char *why = opm_message_inner_signature(inner);

		if (why != NULL)
			return refuse_signed_inside(v, list, why);
		msg->combined = TRUE;
		msg->signed_data = g_bytes_ref(d->plain);
		msg->payload = g_bytes_ref(plain);
		msg->protected_headers = opm_message_protected_headers(inner);
		*out = steal_signatures(d);
		return NULL;
	}
	if (inner->form != OPM_FORM_PGPMIME_SIGNED)
		return refuse_unsigned_inside(v, list);
	/* a nested RFC 3156 signed entity, rebuilt from its signed part and
	 * signature alone */
	if ((bad = open_signed(v, list, ctx, inner->signed_data,
	    inner->signature, &msg->payload, out, error)) != NULL ||
	    *out == NULL)
		return bad;
	msg->signed_data = g_bytes_ref(inner->signed_data);
	msg->protected_headers = protected_of(inner->signed_data, &lim);
	return NULL;
}

OpmVerdict *
opm_gate_check(OpmConfig *conf, OpmList *list, OpmMessage *msg, gint64 now)
{
	g_autoptr(OpmVerdict) v = verdict_new(list->address);
	g_autoptr(GError) error = NULL;
	gpgme_ctx_t ctx = NULL;
	g_autoptr(OpmVerifyResult) r = NULL;
	OpmKeyInfo *signer = NULL;
	OpmSignature *first = NULL;
	OpmVerdict *bad;
	gint64 seen = 0;
	gboolean retry = FALSE;

	if ((bad = check_limits(v, msg, "post")) != NULL)
		return g_steal_pointer(&v);
	v->from = any_from(msg);
	if ((bad = check_form(v, list, msg)) != NULL)
		return g_steal_pointer(&v);

	if ((ctx = opm_gpg_acquire(list, &error)) != NULL)
		bad = open_post(v, conf, list, msg, ctx, &r, &error);
	opm_gpg_release(list, ctx);
	if (ctx != NULL && bad != NULL) {
		reset_post(msg);
		return g_steal_pointer(&v);
	}
	if (r == NULL && g_error_matches(error, OPM_ERROR,
	    OPM_ERROR_LIST_KEY)) {
		OpmVerdict *t = opm_verdict_list_key(list->address,
		    error->message);

		g_warning("%s", error->message);
		reset_post(msg);
		t->from = g_steal_pointer(&v->from);
		return t;
	}
	if (r == NULL) {
		g_warning("%s: %s", list->address, error != NULL ?
		    error->message : "cannot open the post");
		reset_post(msg);
		return opm_verdict_tempfail(list->address, "4.7.0",
		    msg->form == OPM_FORM_PGPMIME_SIGNED ?
		    "signature check failed" : "decryption failed");
	}
	if (r->signatures->len > OPM_PGP_MAX_SIGNATURES) {
		/* inside an encryption they could not be counted before */
		g_autofree char *hint = key_hint(list, v->from);

		refuse(v, OPM_ACTION_REJECT, "550", "5.7.7", "bad signature",
		    "your post carries %u signatures, more than the %d a post "
		    "may carry (one for each key that signs).\n"
		    "Send it again signed once with %s.", r->signatures->len,
		    OPM_PGP_MAX_SIGNATURES, hint);
		return g_steal_pointer(&v);
	}
	if (r->signatures->len == 0 || r->op_error != 0) {
		g_autofree char *hint = key_hint(list, v->from);

		refuse(v, OPM_ACTION_REJECT, "550", "5.7.7", "bad signature",
		    "your post holds no usable OpenPGP signature.\n"
		    "Send it again signed with %s.", hint);
		return g_steal_pointer(&v);
	}
	{
		/* A post whose distribution was interrupted was fresh when it
		 * was accepted: its retry is not held to the freshness window
		 * (every other rule still applies). */
		OpmSignature *s0 = g_ptr_array_index(r->signatures, 0);
		OpmKeyInfo *k0 = opm_keys_lookup(list, s0->fpr);

		if (k0 != NULL) {
			g_autofree char *key = post_key(conf, list, k0->fpr,
			    s0->timestamp, msg->signed_data, now);
			OpmPostState st = opm_journal_peek(conf->state_dir,
			    list->address, key, now, MAX(list->replay_lifetime,
				list->max_signature_age), conf->journal_lifetime,
			    NULL, NULL);

			retry = st == OPM_POST_PENDING || st == OPM_POST_BUSY;
		}
	}
	for (guint i = 0; i < r->signatures->len; i++) {
		OpmSignature *s = g_ptr_array_index(r->signatures, i);
		OpmKeyInfo *k = NULL;

		if ((bad = check_signature(v, list, s, now, retry, &k)) != NULL)
			return g_steal_pointer(&v);
		if (signer == NULL) {
			signer = k;
			first = s;
		} else if (k != signer) {
			/* every signature the copies carry is the poster's */
			g_free(v->signer);
			v->signer = g_strdup(signer->fpr);
			refuse(v, OPM_ACTION_REJECT, "550", "5.7.1",
			    "more than one signer", "your post carries "
			    "signatures by more than one member's key (0x%s and "
			    "0x%s); this list accepts posts signed by their "
			    "poster alone.\n"
			    "Send the post signed only with your own key.",
			    signer->fpr, k->fpr);
			return g_steal_pointer(&v);
		}
	}
	g_free(v->signer);
	v->signer = g_strdup(signer->fpr);
	if ((bad = check_identity(v, list, msg, signer)) != NULL)
		return g_steal_pointer(&v);
	{
		/* every header field the copies carry must fold within
		 * RFC 5322's 998 octets */
		g_autofree char *field = opm_copy_long_header(list, msg,
		    v->member, now);

		if (field != NULL) {
			g_autofree char *f = opm_sanitize(field, 60);

			refuse(v, OPM_ACTION_REJECT, "550", "5.6.0",
			    "header too long", "the %s header field of your "
			    "post holds a word too long for a line of 998 "
			    "characters (the limit of RFC 5322), so the copies "
			    "cannot carry it.\n"
			    "Shorten it, or put spaces in it, and send the post "
			    "again.", f);
			reset_post(msg);
			return g_steal_pointer(&v);
		}
	}

	v->replay_key = post_key(conf, list, signer->fpr, first->timestamp,
	    msg->signed_data, now);
	switch (opm_journal_peek(conf->state_dir, list->address, v->replay_key,
	    now, MAX(list->replay_lifetime, list->max_signature_age),
	    conf->journal_lifetime, &seen, &error)) {
	case OPM_POST_NEW:
	case OPM_POST_PENDING: /* a retry of an unfinished fan-out */
		break;
	case OPM_POST_DONE:
		opm_gate_replayed(v, seen);
		return g_steal_pointer(&v);
	case OPM_POST_BUSY:
		opm_verdict_free(v);
		v = NULL;
		return opm_verdict_tempfail(list->address, "4.3.0",
		    "the same post is being distributed right now");
	case OPM_POST_ERROR:
		g_warning("%s: %s", list->address, error->message);
		opm_verdict_free(v);
		v = NULL;
		return opm_verdict_tempfail(list->address, "4.3.0",
		    "state directory unavailable");
	}
	return g_steal_pointer(&v);
}

OpmVerdict *
opm_gate_replayed(OpmVerdict *v, gint64 seen)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(seen);
	g_autofree char *when = dt != NULL ?
	    g_date_time_format(dt, "%Y-%m-%d %H:%M UTC") : g_strdup("earlier");

	return refuse(v, OPM_ACTION_REJECT, "550", "5.7.5", "replayed",
	    "this signed post was already distributed on %s; a signature is "
	    "accepted once only.\n"
	    "To post again, write and sign a new message.", when);
}
