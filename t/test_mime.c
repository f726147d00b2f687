/*
 * NAME
 *	test_mime - unit tests of lib/mime.c
 * DESCRIPTION
 *	Messages are built in memory, each with LF and with CRLF line
 *	endings, and run through opm_message_parse(): the form it gives
 *	(only a top-level RFC 3156 structure counts as signed), the exact
 *	bytes it hands to gpg for a signed post, the bounds on size and
 *	structure, and the header and line-ending helpers.  No keys needed.
 */
#include "config.h"

#include <string.h>

#include "tutil.h"

#include "mime.h"

/* The same text with every LF made CRLF; the input has no CR.
 * (transfer full) */
static char *
crlf(const char *lf)
{
	return tu_replace(lf, "\n", "\r\n");
}

static const OpmLimits roomy = {
	.max_size = 10 * 1024 * 1024,
	.max_depth = 8,
	.max_parts = 100,
	.max_headers = 200,
	.max_header_size = 16 * 1024,
};

static OpmMessage *
parse(const char *text, const OpmLimits *limits)
{
	g_autoptr(GBytes) raw = tu_bytes(text);

	return opm_message_parse(raw, limits);
}

static const char *
form_name(OpmForm f)
{
	switch (f) {
	case OPM_FORM_UNSIGNED: return "UNSIGNED";
	case OPM_FORM_PARTIAL: return "PARTIAL";
	case OPM_FORM_BAD_STRUCTURE: return "BAD_STRUCTURE";
	case OPM_FORM_SMIME: return "SMIME";
	case OPM_FORM_PGPMIME_SIGNED: return "PGPMIME_SIGNED";
	case OPM_FORM_PGPMIME_ENCRYPTED: return "PGPMIME_ENCRYPTED";
	case OPM_FORM_INLINE: return "INLINE";
	}
	return "?";
}

static const char *
limit_name(OpmLimit l)
{
	switch (l) {
	case OPM_LIMIT_OK: return "OK";
	case OPM_LIMIT_SIZE: return "SIZE";
	case OPM_LIMIT_DEPTH: return "DEPTH";
	case OPM_LIMIT_PARTS: return "PARTS";
	case OPM_LIMIT_HEADERS: return "HEADERS";
	case OPM_LIMIT_HEADER_SIZE: return "HEADER_SIZE";
	case OPM_LIMIT_SYNTAX: return "SYNTAX";
	}
	return "?";
}

/* Printable form of bytes for failure messages.  (transfer full) */
static char *
show(GBytes *b)
{
	g_autofree char *copy = NULL;
	gsize n;
	const char *p;

	if (b == NULL)
		return g_strdup("(null)");
	p = g_bytes_get_data(b, &n);
	copy = g_strndup(p != NULL ? p : "", n);
	return g_strescape(copy, NULL);
}

#define HEAD \
	"From: Alice Example <alice@example.org>\n" \
	"To: secir@lists.example.org\n" \
	"Subject: test\n" \
	"Date: Mon, 02 Jan 2026 10:00:00 +0000\n" \
	"Message-ID: <test@example.org>\n" \
	"MIME-Version: 1.0\n"

#define SIG_PART(b) \
	"--" b "\n" \
	"Content-Type: application/pgp-signature; name=\"signature.asc\"\n" \
	"\n" \
	"-----BEGIN PGP SIGNATURE-----\n" \
	"\n" \
	"iHUEARYIAB0WIQTLtest\n" \
	"=ab12\n" \
	"-----END PGP SIGNATURE-----\n"

#define SIGNED_CT(b) \
	"Content-Type: multipart/signed; micalg=pgp-sha256;\n" \
	" protocol=\"application/pgp-signature\"; boundary=\"" b "\"\n"

/* ------------------------------------------------------------------ */
/* the signed bytes                                                   */

/* A preamble, transport padding after both delimiters, a line that only
 * starts like a delimiter, a blank line at the end of the signed part,
 * and an epilogue. */
static const char signed_msg[] =
    HEAD
    SIGNED_CT("=-sig")
    "\n"
    "This is an OpenPGP/MIME signed message (RFC 3156).\n"
    "--=-sig \t\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n"
    "Hello list,\n"
    "--=-sig-this-line-is-text\n"
    "--=-sigX\n"
    "last line.\n"
    "\n"
    SIG_PART("=-sig")
    "\n"
    "--=-sig--  \n"
    "This is the epilogue.\n";

/* What the poster's client signed: the first part, CRLF, without the
 * CRLF that belongs to the next delimiter. */
static const char signed_want[] =
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "\r\n"
    "Hello list,\r\n"
    "--=-sig-this-line-is-text\r\n"
    "--=-sigX\r\n"
    "last line.\r\n";

START_TEST(signed_data_is_exact)
{
	/* _i: 0 LF input, 1 CRLF input */
	g_autofree char *text = _i == 0 ? g_strdup(signed_msg) :
	    crlf(signed_msg);
	g_autoptr(OpmMessage) m = parse(text, &roomy);
	g_autoptr(GBytes) want = tu_bytes(signed_want);
	g_autofree char *got_s = NULL;
	g_autofree char *want_s = NULL;
	const char *sig;
	gsize n;

	ck_assert_msg(m->limit == OPM_LIMIT_OK, "%s input: got limit %s (%s), "
	    "want OK", _i == 0 ? "LF" : "CRLF", limit_name(m->limit),
	    m->limit_detail);
	ck_assert_msg(m->form == OPM_FORM_PGPMIME_SIGNED, "%s input: got form "
	    "%s (%s), want PGPMIME_SIGNED", _i == 0 ? "LF" : "CRLF",
	    form_name(m->form), m->form_detail);
	got_s = show(m->signed_data);
	want_s = show(want);
	ck_assert_msg(m->signed_data != NULL &&
	    g_bytes_equal(m->signed_data, want),
	    "%s input: signed data: got \"%s\", want \"%s\"",
	    _i == 0 ? "LF" : "CRLF", got_s, want_s);

	ck_assert_msg(m->signature != NULL, "got no signature, want one");
	sig = g_bytes_get_data(m->signature, &n);
	ck_assert_msg(n > 0 && g_str_has_prefix(sig,
	    "-----BEGIN PGP SIGNATURE-----") &&
	    g_strstr_len(sig, n, "-----END PGP SIGNATURE-----") != NULL &&
	    g_strstr_len(sig, n, "--=-sig") == NULL,
	    "signature: got \"%.*s\", want the armored block only", (int)n, sig);
}
END_TEST

/* A signed part that is itself multipart, with a nested boundary. */
static const char nested_msg[] =
    HEAD
    SIGNED_CT("outer")
    "\n"
    "--outer\n"
    "Content-Type: multipart/mixed; boundary=\"inner\"\n"
    "\n"
    "--inner\n"
    "Content-Type: text/plain\n"
    "\n"
    "text\n"
    "--inner\n"
    "Content-Type: application/octet-stream\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "AAEC\n"
    "--inner--\n"
    "--outer\n"
    "Content-Type: application/pgp-signature\n"
    "\n"
    "-----BEGIN PGP SIGNATURE-----\n"
    "-----END PGP SIGNATURE-----\n"
    "--outer--\n";

static const char nested_want[] =
    "Content-Type: multipart/mixed; boundary=\"inner\"\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "text\r\n"
    "--inner\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAEC\r\n"
    "--inner--";

START_TEST(signed_data_of_a_multipart)
{
	g_autofree char *text = _i == 0 ? g_strdup(nested_msg) :
	    crlf(nested_msg);
	g_autoptr(OpmMessage) m = parse(text, &roomy);
	g_autoptr(GBytes) want = tu_bytes(nested_want);
	g_autofree char *got_s = NULL;
	g_autofree char *want_s = NULL;

	ck_assert_msg(m->form == OPM_FORM_PGPMIME_SIGNED, "got form %s (%s), "
	    "want PGPMIME_SIGNED", form_name(m->form), m->form_detail);
	got_s = show(m->signed_data);
	want_s = show(want);
	ck_assert_msg(m->signed_data != NULL &&
	    g_bytes_equal(m->signed_data, want),
	    "signed data: got \"%s\", want \"%s\"", got_s, want_s);
}
END_TEST

/* ------------------------------------------------------------------ */
/* forms                                                              */

static const struct {
	const char *name;
	const char *text; /* LF line endings */
	OpmForm want;
} forms[] = {
	{"plain text is unsigned", HEAD
	    "Content-Type: text/plain; charset=us-ascii\n"
	    "\n"
	    "Hello.\n", OPM_FORM_UNSIGNED},
	{"no Content-Type is unsigned", HEAD
	    "\n"
	    "Hello.\n", OPM_FORM_UNSIGNED},
	{"multipart/mixed without signature is unsigned", HEAD
	    "Content-Type: multipart/mixed; boundary=\"b\"\n"
	    "\n"
	    "--b\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "one\n"
	    "--b\n"
	    "Content-Type: text/html\n"
	    "\n"
	    "<p>two</p>\n"
	    "--b--\n", OPM_FORM_UNSIGNED},
	{"signed with upper-case type and protocol", HEAD
	    "Content-Type: Multipart/Signed; micalg=pgp-sha256;\n"
	    " protocol=\"Application/PGP-Signature\"; boundary=\"b\"\n"
	    "\n"
	    "--b\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "signed\n"
	    "--b\n"
	    "Content-Type: Application/PGP-Signature\n"
	    "\n"
	    "-----BEGIN PGP SIGNATURE-----\n"
	    "-----END PGP SIGNATURE-----\n"
	    "--b--\n", OPM_FORM_PGPMIME_SIGNED},
	{"signed entity inside multipart/mixed is partial", HEAD
	    "Content-Type: multipart/mixed; boundary=\"outer\"\n"
	    "\n"
	    "--outer\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "This part is not signed.\n"
	    "--outer\n"
	    SIGNED_CT("inner")
	    "\n"
	    "--inner\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "This part is.\n"
	    SIG_PART("inner")
	    "--inner--\n"
	    "--outer--\n", OPM_FORM_PARTIAL},
	{"signed entity alone inside multipart/mixed is partial", HEAD
	    "Content-Type: multipart/mixed; boundary=\"outer\"\n"
	    "\n"
	    "--outer\n"
	    SIGNED_CT("inner")
	    "\n"
	    "--inner\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "Signed.\n"
	    SIG_PART("inner")
	    "--inner--\n"
	    "--outer--\n", OPM_FORM_PARTIAL},
	{"attached signed message/rfc822 is partial", HEAD
	    "Content-Type: multipart/mixed; boundary=\"outer\"\n"
	    "\n"
	    "--outer\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "See the attached post.\n"
	    "--outer\n"
	    "Content-Type: message/rfc822\n"
	    "Content-Disposition: attachment; filename=\"post.eml\"\n"
	    "\n"
	    HEAD
	    SIGNED_CT("inner")
	    "\n"
	    "--inner\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "The attached post is signed.\n"
	    SIG_PART("inner")
	    "--inner--\n"
	    "--outer--\n", OPM_FORM_PARTIAL},
	{"top-level message/rfc822 holding a signed post is partial", HEAD
	    "Content-Type: message/rfc822\n"
	    "\n"
	    HEAD
	    SIGNED_CT("inner")
	    "\n"
	    "--inner\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "Forwarded.\n"
	    SIG_PART("inner")
	    "--inner--\n", OPM_FORM_PARTIAL},
	{"clear-signed text inside multipart/mixed is partial", HEAD
	    "Content-Type: multipart/mixed; boundary=\"outer\"\n"
	    "\n"
	    "--outer\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "-----BEGIN PGP SIGNED MESSAGE-----\n"
	    "Hash: SHA256\n"
	    "\n"
	    "signed text\n"
	    "-----BEGIN PGP SIGNATURE-----\n"
	    "-----END PGP SIGNATURE-----\n"
	    "--outer\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "unsigned text\n"
	    "--outer--\n", OPM_FORM_PARTIAL},
	{"text before a clear-signed block is partial", HEAD
	    "Content-Type: text/plain\n"
	    "\n"
	    "I add this line outside the signature.\n"
	    "-----BEGIN PGP SIGNED MESSAGE-----\n"
	    "Hash: SHA256\n"
	    "\n"
	    "signed text\n"
	    "-----BEGIN PGP SIGNATURE-----\n"
	    "-----END PGP SIGNATURE-----\n", OPM_FORM_PARTIAL},
	{"text after a clear-signed block is partial", HEAD
	    "Content-Type: text/plain\n"
	    "\n"
	    "-----BEGIN PGP SIGNED MESSAGE-----\n"
	    "Hash: SHA256\n"
	    "\n"
	    "signed text\n"
	    "-----BEGIN PGP SIGNATURE-----\n"
	    "-----END PGP SIGNATURE-----\n"
	    "P.S. unsigned\n", OPM_FORM_PARTIAL},
	{"one clear-signed block is inline", HEAD
	    "Content-Type: text/plain\n"
	    "\n"
	    "\n"
	    "-----BEGIN PGP SIGNED MESSAGE-----\n"
	    "Hash: SHA256\n"
	    "\n"
	    "signed text\n"
	    "-----BEGIN PGP SIGNATURE-----\n"
	    "\n"
	    "iHUEARYIAB0WIQTLtest\n"
	    "-----END PGP SIGNATURE-----\n"
	    "\n", OPM_FORM_INLINE},
	{"unclosed clear-signed block is bad structure", HEAD
	    "Content-Type: text/plain\n"
	    "\n"
	    "-----BEGIN PGP SIGNED MESSAGE-----\n"
	    "Hash: SHA256\n"
	    "\n"
	    "signed text, no signature\n", OPM_FORM_BAD_STRUCTURE},
	{"pkcs7-signature protocol is S/MIME", HEAD
	    "Content-Type: multipart/signed; micalg=sha-256;\n"
	    " protocol=\"application/pkcs7-signature\"; boundary=\"b\"\n"
	    "\n"
	    "--b\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "text\n"
	    "--b\n"
	    "Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwEAAA==\n"
	    "--b--\n", OPM_FORM_SMIME},
	{"x-pkcs7-signature protocol is S/MIME", HEAD
	    "Content-Type: multipart/signed; micalg=sha1;\n"
	    " protocol=\"application/x-pkcs7-signature\"; boundary=\"b\"\n"
	    "\n"
	    "--b\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "text\n"
	    "--b\n"
	    "Content-Type: application/x-pkcs7-signature\n"
	    "\n"
	    "AAAA\n"
	    "--b--\n", OPM_FORM_SMIME},
	{"application/pkcs7-mime is S/MIME", HEAD
	    "Content-Type: application/pkcs7-mime; smime-type=signed-data;\n"
	    " name=\"smime.p7m\"\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwEAAA==\n",
	    OPM_FORM_SMIME},
	{"three parts is bad structure", HEAD
	    SIGNED_CT("b")
	    "\n"
	    "--b\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "signed\n"
	    SIG_PART("b")
	    "--b\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "an unsigned third part\n"
	    "--b--\n", OPM_FORM_BAD_STRUCTURE},
	{"one part is bad structure", HEAD
	    SIGNED_CT("b")
	    "\n"
	    "--b\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "signed, but where is the signature\n"
	    "--b--\n", OPM_FORM_BAD_STRUCTURE},
	{"wrong protocol is bad structure", HEAD
	    "Content-Type: multipart/signed; micalg=pgp-sha256;\n"
	    " protocol=\"application/pgp-keys\"; boundary=\"b\"\n"
	    "\n"
	    "--b\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "signed\n"
	    SIG_PART("b")
	    "--b--\n", OPM_FORM_BAD_STRUCTURE},
	{"missing protocol is bad structure", HEAD
	    "Content-Type: multipart/signed; micalg=pgp-sha256; boundary=\"b\"\n"
	    "\n"
	    "--b\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "signed\n"
	    SIG_PART("b")
	    "--b--\n", OPM_FORM_BAD_STRUCTURE},
	{"second part not a signature is bad structure", HEAD
	    SIGNED_CT("b")
	    "\n"
	    "--b\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "signed\n"
	    "--b\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "-----BEGIN PGP SIGNATURE-----\n"
	    "-----END PGP SIGNATURE-----\n"
	    "--b--\n", OPM_FORM_BAD_STRUCTURE},
	{"missing closing boundary is bad structure", HEAD
	    SIGNED_CT("b")
	    "\n"
	    "--b\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "signed\n"
	    SIG_PART("b"), OPM_FORM_BAD_STRUCTURE},
	{"PGP/MIME encrypted", HEAD
	    "Content-Type: multipart/encrypted;\n"
	    " protocol=\"application/pgp-encrypted\"; boundary=\"b\"\n"
	    "\n"
	    "This is an OpenPGP/MIME encrypted message (RFC 3156).\n"
	    "--b\n"
	    "Content-Type: application/pgp-encrypted\n"
	    "\n"
	    "Version: 1\n"
	    "--b\n"
	    "Content-Type: application/octet-stream; name=\"encrypted.asc\"\n"
	    "\n"
	    "-----BEGIN PGP MESSAGE-----\n"
	    "\n"
	    "hF4DAAAAAAAAAAASAQdAtest\n"
	    "-----END PGP MESSAGE-----\n"
	    "--b--\n", OPM_FORM_PGPMIME_ENCRYPTED},
	{"multipart/encrypted with another protocol is bad structure", HEAD
	    "Content-Type: multipart/encrypted;\n"
	    " protocol=\"application/x-unknown\"; boundary=\"b\"\n"
	    "\n"
	    "--b\n"
	    "Content-Type: application/x-unknown\n"
	    "\n"
	    "x\n"
	    "--b--\n", OPM_FORM_BAD_STRUCTURE},
};

START_TEST(form)
{
	/* every case twice: even _i LF, odd _i CRLF */
	gsize c = (gsize)_i / 2;
	gboolean is_crlf = _i % 2 == 1;
	g_autofree char *text = is_crlf ? crlf(forms[c].text) :
	    g_strdup(forms[c].text);
	g_autoptr(OpmMessage) m = parse(text, &roomy);

	ck_assert_msg(m->limit == OPM_LIMIT_OK, "%s (%s): got limit %s (%s), "
	    "want OK", forms[c].name, is_crlf ? "CRLF" : "LF",
	    limit_name(m->limit), m->limit_detail);
	ck_assert_msg(m->message != NULL, "%s: got no GMime message",
	    forms[c].name);
	ck_assert_msg(m->form == forms[c].want, "%s (%s): got %s (%s), want %s",
	    forms[c].name, is_crlf ? "CRLF" : "LF", form_name(m->form),
	    m->form_detail != NULL ? m->form_detail : "no detail",
	    form_name(forms[c].want));
	/* the poster is told why: a detail goes with these forms */
	if (m->form == OPM_FORM_PARTIAL || m->form == OPM_FORM_BAD_STRUCTURE)
		ck_assert_msg(m->form_detail != NULL && *m->form_detail != '\0',
		    "%s: got no form_detail, want the reason in plain words",
		    forms[c].name);
	if (m->form != OPM_FORM_PGPMIME_SIGNED)
		ck_assert_msg(m->signed_data == NULL && m->signature == NULL,
		    "%s: got signed data for a %s message, want none",
		    forms[c].name, form_name(m->form));
}
END_TEST

/* ------------------------------------------------------------------ */
/* bounds                                                             */

/* depth multipart/mixed entities, one inside the other, around a text.
 * (transfer full) */
static char *
nested(int depth)
{
	GString *s = g_string_new(HEAD);

	for (int i = 0; i < depth; i++)
		g_string_append_printf(s, "Content-Type: multipart/mixed; "
		    "boundary=\"level%d\"\n\n--level%d\n", i, i);
	g_string_append(s, "Content-Type: text/plain\n\nthe bottom\n");
	for (int i = depth - 1; i >= 0; i--)
		g_string_append_printf(s, "--level%d--\n", i);
	return g_string_free(s, FALSE);
}

/* A multipart/mixed of n text parts.  (transfer full) */
static char *
many_parts(int n)
{
	GString *s = g_string_new(HEAD
	    "Content-Type: multipart/mixed; boundary=\"b\"\n\n");

	for (int i = 0; i < n; i++)
		g_string_append_printf(s, "--b\nContent-Type: text/plain\n\n"
		    "part %d\n", i);
	g_string_append(s, "--b--\n");
	return g_string_free(s, FALSE);
}

/* A text message with extra header fields X-Extra-N.  (transfer full) */
static char *
many_headers(int n)
{
	GString *s = g_string_new(HEAD);

	for (int i = 0; i < n; i++)
		g_string_append_printf(s, "X-Extra-%d: value\n", i);
	g_string_append(s, "Content-Type: text/plain\n\nbody\n");
	return g_string_free(s, FALSE);
}

/* A part (not the message) with n extra header fields.  (transfer full) */
static char *
part_with_headers(int n)
{
	GString *s = g_string_new(HEAD
	    "Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\n");

	for (int i = 0; i < n; i++)
		g_string_append_printf(s, "X-Part-%d: value\n", i);
	g_string_append(s, "Content-Type: text/plain\n\nbody\n--b--\n");
	return g_string_free(s, FALSE);
}

/* A Subject: of about len bytes, in one line or folded over lines of
 * 70 bytes.  (transfer full) */
static char *
long_subject(int len, gboolean folded)
{
	GString *s = g_string_new("From: Alice Example <alice@example.org>\n"
	    "To: secir@lists.example.org\nSubject: x");

	for (int i = 10; i < len; i++) {
		if (folded && i % 70 == 0)
			g_string_append(s, "\n ");
		else
			g_string_append_c(s, 'x');
	}
	g_string_append(s, "\nMIME-Version: 1.0\n"
	    "Content-Type: text/plain\n\nbody\n");
	return g_string_free(s, FALSE);
}

/* A part with a Content-Description of about len bytes.  (transfer full) */
static char *
long_part_header(int len)
{
	GString *s = g_string_new(HEAD
	    "Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\n"
	    "Content-Type: text/plain\nContent-Description: ");

	for (int i = 0; i < len; i++)
		g_string_append_c(s, 'd');
	g_string_append(s, "\n\nbody\n--b--\n");
	return g_string_free(s, FALSE);
}

typedef enum {
	GEN_NESTED,
	GEN_PARTS,
	GEN_HEADERS,
	GEN_PART_HEADERS,
	GEN_SUBJECT,
	GEN_FOLDED_SUBJECT,
	GEN_PART_HEADER_SIZE,
} Gen;

static const OpmLimits small = {
	.max_size = 64 * 1024,
	.max_depth = 4,
	.max_parts = 10,
	.max_headers = 20,
	.max_header_size = 1000,
};

static const struct {
	const char *name;
	Gen gen;
	int n;
	OpmLimit want;
} bounds[] = {
	{"2 levels of nesting, at most 4", GEN_NESTED, 2, OPM_LIMIT_OK},
	{"6 levels of nesting, at most 4", GEN_NESTED, 6, OPM_LIMIT_DEPTH},
	{"9 levels of nesting, at most 4", GEN_NESTED, 9, OPM_LIMIT_DEPTH},
	{"5 parts, at most 10", GEN_PARTS, 5, OPM_LIMIT_OK},
	{"15 parts, at most 10", GEN_PARTS, 15, OPM_LIMIT_PARTS},
	{"500 parts, at most 10", GEN_PARTS, 500, OPM_LIMIT_PARTS},
	{"10 extra header fields, at most 20 in all", GEN_HEADERS, 10,
	    OPM_LIMIT_OK},
	{"30 extra header fields, at most 20 in all", GEN_HEADERS, 30,
	    OPM_LIMIT_HEADERS},
	{"a part with 10 header fields, at most 20", GEN_PART_HEADERS, 10,
	    OPM_LIMIT_OK},
	{"a part with 30 header fields, at most 20", GEN_PART_HEADERS, 30,
	    OPM_LIMIT_HEADERS},
	{"a 900-byte Subject, at most 1000", GEN_SUBJECT, 900, OPM_LIMIT_OK},
	{"a 1200-byte Subject, at most 1000", GEN_SUBJECT, 1200,
	    OPM_LIMIT_HEADER_SIZE},
	{"a 1200-byte Subject over folded lines, at most 1000",
	    GEN_FOLDED_SUBJECT, 1200, OPM_LIMIT_HEADER_SIZE},
	{"a 900-byte part header, at most 1000", GEN_PART_HEADER_SIZE, 900,
	    OPM_LIMIT_OK},
	{"a 1200-byte part header, at most 1000", GEN_PART_HEADER_SIZE, 1200,
	    OPM_LIMIT_HEADER_SIZE},
};

START_TEST(bound)
{
	gsize c = (gsize)_i / 2;
	gboolean is_crlf = _i % 2 == 1;
	g_autofree char *lf = NULL;
	g_autofree char *text = NULL;
	g_autoptr(OpmMessage) m = NULL;

	switch (bounds[c].gen) {
	case GEN_NESTED: lf = nested(bounds[c].n); break;
	case GEN_PARTS: lf = many_parts(bounds[c].n); break;
	case GEN_HEADERS: lf = many_headers(bounds[c].n); break;
	case GEN_PART_HEADERS: lf = part_with_headers(bounds[c].n); break;
	case GEN_SUBJECT: lf = long_subject(bounds[c].n, FALSE); break;
	case GEN_FOLDED_SUBJECT: lf = long_subject(bounds[c].n, TRUE); break;
	case GEN_PART_HEADER_SIZE: lf = long_part_header(bounds[c].n); break;
	}
	text = is_crlf ? crlf(lf) : g_strdup(lf);
	m = parse(text, &small);
	ck_assert_msg(m->limit == bounds[c].want, "%s (%s): got limit %s (%s), "
	    "want %s", bounds[c].name, is_crlf ? "CRLF" : "LF",
	    limit_name(m->limit), m->limit_detail != NULL ? m->limit_detail :
	    "no detail", limit_name(bounds[c].want));
	if (bounds[c].want == OPM_LIMIT_OK) {
		ck_assert_msg(m->message != NULL, "%s: got no message, want one",
		    bounds[c].name);
	} else {
		ck_assert_msg(m->message == NULL, "%s: got a GMime message over "
		    "a bound, want none", bounds[c].name);
		ck_assert_msg(m->limit_detail != NULL && *m->limit_detail != '\0',
		    "%s: got no limit_detail, want the bound in plain words",
		    bounds[c].name);
	}
}
END_TEST

START_TEST(size_bound)
{
	g_autofree char *text = many_parts(3);
	gint64 len = (gint64)strlen(text);
	OpmLimits lim = roomy;
	struct {
		gint64 max;
		OpmLimit want;
	} cases[] = {
		{len + 1, OPM_LIMIT_OK},
		{len, OPM_LIMIT_OK},
		{len - 1, OPM_LIMIT_SIZE},
		{1024, len > 1024 ? OPM_LIMIT_SIZE : OPM_LIMIT_OK},
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(OpmMessage) m = NULL;

		lim.max_size = cases[i].max;
		m = parse(text, &lim);
		ck_assert_msg(m->limit == cases[i].want, "a %" G_GINT64_FORMAT
		    "-byte message, at most %" G_GINT64_FORMAT ": got %s, want %s",
		    len, cases[i].max, limit_name(m->limit),
		    limit_name(cases[i].want));
		if (cases[i].want == OPM_LIMIT_SIZE)
			ck_assert_msg(m->message == NULL && m->limit_detail != NULL,
			    "over the size bound: got a parsed message or no "
			    "detail, want neither a message nor silence");
	}
}
END_TEST

START_TEST(big_message_is_refused_before_parsing)
{
	/* 2 MiB of body with a 1 MiB bound */
	GString *s = g_string_new(HEAD "Content-Type: text/plain\n\n");
	g_autoptr(GBytes) raw = NULL;
	g_autoptr(OpmMessage) m = NULL;
	OpmLimits lim = roomy;

	while (s->len < 2 * 1024 * 1024)
		g_string_append(s, "The quick brown fox jumps over the lazy dog.\n");
	raw = g_string_free_to_bytes(s);
	lim.max_size = 1024 * 1024;
	m = opm_message_parse(raw, &lim);
	ck_assert_msg(m->limit == OPM_LIMIT_SIZE, "2 MiB, at most 1 MiB: got %s, "
	    "want SIZE", limit_name(m->limit));
	ck_assert_msg(m->raw != NULL && g_bytes_equal(m->raw, raw),
	    "got raw bytes that differ from the input, want them kept");
}
END_TEST

/* A multipart/mixed of n empty parts: delimiter lines and nothing else,
 * the boundary declared as decl (the Content-Type parameters) and
 * written on the delimiters as b. */
static char *
empty_parts(const char *decl, const char *b, int n)
{
	GString *s = g_string_new(HEAD);

	g_string_append_printf(s, "Content-Type: multipart/mixed;%s\n\n", decl);
	for (int i = 0; i < n; i++)
		g_string_append_printf(s, "--%s\n", b);
	g_string_append_printf(s, "--%s--\n", b);
	return g_string_free(s, FALSE);
}

static const struct {
	const char *name;
	const char *decl;
	const char *b;
} delimiter_forms[] = {
	{"a token boundary", " boundary=b", "b"},
	{"a quoted boundary", " boundary=\"x y\"", "x y"},
	{"a boundary with white space after the delimiters", " boundary=q",
	    "q \t"},
	{"RFC 2231 sections", "\n boundary*0=\"b\";\n boundary*1=\"x\"", "bx"},
	{"an encoded word", " boundary=\"=?us-ascii?q?zz?=\"", "zz"},
	{"a folded quoted boundary", " boundary=\"a\n b\"", "a b"},
	{"a boundary on the next line", " boundary=\n c", "c"},
};

/* Every empty part is a GMime entity without a Content-Type line: the
 * bound counts the delimiter lines, whatever form the boundary takes,
 * so that GMime never builds a million of them. */
START_TEST(entity_bound_counts_delimiters)
{
	const int n = 20000;
	gsize c = (gsize)_i / 2;
	gboolean is_crlf = _i % 2 == 1;
	g_autofree char *lf = empty_parts(delimiter_forms[c].decl,
	    delimiter_forms[c].b, n);
	g_autofree char *text = is_crlf ? crlf(lf) : g_strdup(lf);
	gint64 n_bound = opm_mime_entity_bound(text, strlen(text), G_MAXINT64 / 2);
	g_autoptr(OpmMessage) m = parse(text, &roomy);

	ck_assert_msg(n_bound >= n, "%s (%s): got a bound of %" G_GINT64_FORMAT
	    " for %d parts, want at least %d", delimiter_forms[c].name,
	    is_crlf ? "CRLF" : "LF", n_bound, n, n);
	ck_assert_msg(opm_mime_entity_bound(text, strlen(text), 303) <= 400,
	    "%s: got no early stop, want the count to end past the bound",
	    delimiter_forms[c].name);
	ck_assert_msg(m->limit == OPM_LIMIT_PARTS && m->message == NULL,
	    "%s: got limit %s, want PARTS and no message",
	    delimiter_forms[c].name, limit_name(m->limit));
}
END_TEST

/* Text lines that start with "--" but match no declared boundary (a
 * signature separator, rulers, diff headers) make no entity: a long
 * report with a few attachments stays within 100 parts. */
START_TEST(entity_bound_ignores_other_dash_lines)
{
	GString *s = g_string_new(HEAD "Content-Type: multipart/mixed; "
	    "boundary=\"==sep==\"\n\n--==sep==\nContent-Type: text/plain\n\n");
	g_autofree char *text = NULL;
	g_autoptr(OpmMessage) m = NULL;
	gint64 n_bound;

	for (int i = 0; i < 1000; i++)
		g_string_append_printf(s, "--- a/file%d.c\n------------\n-- \n"
		    "--==sep\n", i);
	g_string_append(s, "--==sep==\nContent-Type: text/plain\n\nlog\n"
	    "--==sep==--\n");
	text = g_string_free(s, FALSE);
	n_bound = opm_mime_entity_bound(text, strlen(text), G_MAXINT64 / 2);
	/* the top level, 3 Content-Type lines, 3 delimiter lines */
	ck_assert_msg(n_bound <= 7, "got a bound of %" G_GINT64_FORMAT
	    " for 3 entities, want at most 7", n_bound);
	m = parse(text, &roomy);
	ck_assert_msg(m->limit == OPM_LIMIT_OK, "got limit %s (%s), want OK",
	    limit_name(m->limit), m->limit_detail);
}
END_TEST

/* "Content-Type :" is a Content-Type field to GMime. */
START_TEST(entity_bound_counts_content_type_with_space)
{
	GString *s = g_string_new(HEAD);
	g_autofree char *text = NULL;

	for (int i = 0; i < 500; i++)
		g_string_append_printf(s, "Content-Type \t: multipart/mixed; "
		    "boundary=n%d\n\n--n%d\n", i, i);
	text = g_string_free(s, FALSE);
	ck_assert_int_ge(opm_mime_entity_bound(text, strlen(text),
	    G_MAXINT64 / 2), 1000);
}
END_TEST

START_TEST(empty_message_is_malformed)
{
	g_autoptr(GBytes) raw = g_bytes_new(NULL, 0);
	g_autoptr(OpmMessage) m = opm_message_parse(raw, &roomy);

	ck_assert_msg(m->limit == OPM_LIMIT_SYNTAX && m->message == NULL,
	    "got limit %s, want SYNTAX and no message", limit_name(m->limit));
}
END_TEST

/* ------------------------------------------------------------------ */
/* headers and line endings                                           */

START_TEST(both_from_headers_are_returned)
{
	static const char lf[] =
	    "From: Alice Example <alice@example.org>\n"
	    "To: secir@lists.example.org\n"
	    "from: Bob Example <bob@example.org>\n"
	    "Subject: two From fields\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "body\n";
	g_autofree char *text = _i == 0 ? g_strdup(lf) : crlf(lf);
	g_autoptr(OpmMessage) m = parse(text, &roomy);
	g_autoptr(GPtrArray) from = opm_message_headers(m, "From");
	g_autoptr(GPtrArray) lower = opm_message_headers(m, "FROM");
	g_autoptr(GPtrArray) none = opm_message_headers(m, "Reply-To");

	ck_assert_msg(from->len == 2, "From: got %u values, want 2", from->len);
	ck_assert_msg(strstr(g_ptr_array_index(from, 0), "alice@example.org") !=
	    NULL, "first From: got \"%s\", want alice's",
	    (char *)g_ptr_array_index(from, 0));
	ck_assert_msg(strstr(g_ptr_array_index(from, 1), "bob@example.org") !=
	    NULL, "second From: got \"%s\", want bob's",
	    (char *)g_ptr_array_index(from, 1));
	ck_assert_msg(lower->len == 2, "FROM: got %u values, want 2 (names "
	    "are not case sensitive)", lower->len);
	ck_assert_msg(none->len == 0, "Reply-To: got %u values, want 0",
	    none->len);
}
END_TEST

START_TEST(headers_of_a_refused_message_are_empty)
{
	g_autofree char *text = many_headers(30);
	g_autoptr(OpmMessage) m = parse(text, &small);
	g_autoptr(GPtrArray) from = opm_message_headers(m, "From");

	ck_assert_msg(m->limit != OPM_LIMIT_OK, "got limit OK, want a bound");
	ck_assert_msg(from != NULL && from->len == 0, "got %u From values, "
	    "want 0", from != NULL ? from->len : 0);
}
END_TEST

static const struct {
	const char *in;
	const char *want;
} crlfs[] = {
	{"", ""},
	{"a", "a"},
	{"\n", "\r\n"},
	{"a\nb", "a\r\nb"},
	{"a\nb\n", "a\r\nb\r\n"},
	{"a\n\n", "a\r\n\r\n"},
	{"a\r\nb\r\n", "a\r\nb\r\n"},
	{"a\r\nb\nc\r\n", "a\r\nb\r\nc\r\n"},
	{"\n\r\n\n", "\r\n\r\n\r\n"},
	{"a\rb", "a\rb"},
	{"a\r\r\n", "a\r\r\n"},
};

START_TEST(crlf_conversion)
{
	g_autoptr(GBytes) got = opm_crlf(crlfs[_i].in, strlen(crlfs[_i].in));
	g_autoptr(GBytes) want = tu_bytes(crlfs[_i].want);
	g_autoptr(GBytes) in = tu_bytes(crlfs[_i].in);
	g_autofree char *in_s = show(in);
	g_autofree char *got_s = show(got);
	g_autofree char *want_s = show(want);

	ck_assert_msg(g_bytes_equal(got, want), "opm_crlf(\"%s\"): got \"%s\", "
	    "want \"%s\"", in_s, got_s, want_s);
}
END_TEST

START_TEST(crlf_keeps_nul_bytes)
{
	static const char in[] = {'a', '\0', '\n', 'b'};
	static const char want_b[] = {'a', '\0', '\r', '\n', 'b'};
	g_autoptr(GBytes) got = opm_crlf(in, sizeof(in));
	g_autoptr(GBytes) want = g_bytes_new_static(want_b, sizeof(want_b));

	ck_assert_msg(g_bytes_equal(got, want), "opm_crlf over a NUL byte: got "
	    "%zu bytes, want %zu", g_bytes_get_size(got), sizeof(want_b));
}
END_TEST

static const struct {
	const char *name;
	const char *text;
	gboolean signed_inside;
} inner_cases[] = {
	{"plain text", "Content-Type: text/plain\n\nHello\n", FALSE},
	{"a quoted clear-signed block",
	    "Content-Type: text/plain\n\nYou wrote:\n"
	    "> -----BEGIN PGP SIGNED MESSAGE-----\n> Hash: SHA256\n", FALSE},
	{"a clear-signed block",
	    "Content-Type: text/plain\n\n"
	    "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nHi\n", TRUE},
	{"a clear-signed block after some text",
	    "Content-Type: text/plain\n\nSee:\n"
	    "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nHi\n", TRUE},
	{"a PGP message block",
	    "Content-Type: text/plain\n\n-----BEGIN PGP MESSAGE-----\n", TRUE},
	{"a multipart/signed",
	    "Content-Type: multipart/signed; protocol=\"application/pgp-"
	    "signature\"; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
	    "Hi\n--b\nContent-Type: application/pgp-signature\n\nsig\n"
	    "--b--\n", TRUE},
	{"a multipart/signed among other parts",
	    "Content-Type: multipart/mixed; boundary=m\n\n--m\n"
	    "Content-Type: text/plain\n\nHi\n--m\n"
	    "Content-Type: multipart/signed; boundary=b\n\n--b\n"
	    "Content-Type: text/plain\n\nHi\n--b\n"
	    "Content-Type: application/pgp-signature\n\nsig\n--b--\n"
	    "--m--\n", TRUE},
	{"an encrypted part",
	    "Content-Type: multipart/mixed; boundary=m\n\n--m\n"
	    "Content-Type: application/pgp-encrypted\n\nVersion: 1\n"
	    "--m--\n", TRUE},
	{"a signed message that is the whole content",
	    "Content-Type: message/rfc822\n\nFrom: a@example.org\n"
	    "Content-Type: multipart/signed; boundary=b\n\n--b\n"
	    "Content-Type: text/plain\n\nHi\n--b\n"
	    "Content-Type: application/pgp-signature\n\nsig\n--b--\n", TRUE},
	/* as a client shows a text part: charset and transfer encoding
	 * decoded, HTML as the text it shows */
	{"a clear-signed block in UTF-16 with a byte order mark",
	    "Content-Type: text/plain; charset=utf-16\n"
	    "Content-Transfer-Encoding: base64\n\n"
	    "//5IAGkACgAtAC0ALQAtAC0AQgBFAEcASQBOACAAUABHAFAAIABTAEkARwBOAEUA\n"
	    "RAAgAE0ARQBTAFMAQQBHAEUALQAtAC0ALQAtAAoASABhAHMAaAA6ACAAUwBIAEEA\n"
	    "MgA1ADYACgAKAEgAaQAKAA==\n", TRUE},
	{"a clear-signed block in UTF-16BE",
	    "Content-Type: text/plain; charset=utf-16be\n"
	    "Content-Transfer-Encoding: base64\n\n"
	    "AEgAaQAKAC0ALQAtAC0ALQBCAEUARwBJAE4AIABQAEcAUAAgAFMASQBHAE4ARQBE\n"
	    "ACAATQBFAFMAUwBBAEcARQAtAC0ALQAtAC0ACgBIAGEAcwBoADoAIABTAEgAQQAy\n"
	    "ADUANgAKAAoASABpAAo=\n", TRUE},
	{"a clear-signed block in UTF-32LE, no charset given",
	    "Content-Type: multipart/mixed; boundary=m\n\n--m\n"
	    "Content-Type: text/plain\n\nHi\n--m\n"
	    "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
	    "SAAAAGkAAAAKAAAALQAAAC0AAAAtAAAALQAAAC0AAABCAAAARQAAAEcAAABJAAAA\n"
	    "TgAAACAAAABQAAAARwAAAFAAAAAgAAAAUwAAAEkAAABHAAAATgAAAEUAAABEAAAA\n"
	    "IAAAAE0AAABFAAAAUwAAAFMAAABBAAAARwAAAEUAAAAtAAAALQAAAC0AAAAtAAAA\n"
	    "LQAAAAoAAABIAAAAYQAAAHMAAABoAAAAOgAAACAAAABTAAAASAAAAEEAAAAyAAAA\n"
	    "NQAAADYAAAAKAAAACgAAAEgAAABpAAAACgAAAA==\n--m--\n", TRUE},
	{"UTF-16 that does not decode",
	    "Content-Type: text/plain; charset=utf-16\n"
	    "Content-Transfer-Encoding: base64\n\n"
	    "//5IAGkACgAtAC0ALQAtAC0AQgBFAEcASQBOACAAUABHAFAAIABTAEkARwBOAEUA\n"
	    "RAAgAE0ARQBTAFMAQQBHAEUALQAtAC0ALQAtAAoASABhAHMAaAA6ACAAUwBIAEEA\n"
	    "MgA1ADYACgAKAEgAaQAK\n", TRUE},
	{"a charset nobody knows",
	    "Content-Type: text/plain; charset=x-no-such-charset\n\nHi\n", TRUE},
	{"a clear-signed block in UTF-7",
	    "Content-Type: text/plain; charset=utf-7\n\nHi\n"
	    "+AC0ALQAtAC0ALQ-BEGIN PGP SIGNED MESSAGE+AC0ALQAtAC0ALQ-\n"
	    "Hash: SHA256\n", TRUE},
	{"a clear-signed block in quoted-printable",
	    "Content-Type: text/plain\nContent-Transfer-Encoding: "
	    "quoted-printable\n\nHi\n=2D----BEGIN PGP SIGNED MESSAGE-----\n",
	    TRUE},
	{"an indented clear-signed block",
	    "Content-Type: text/plain\n\nHi\n"
	    "   -----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n", TRUE},
	{"Latin-1 text",
	    "Content-Type: text/plain; charset=iso-8859-1\n\nCaf\xe9\n",
	    FALSE},
	{"a clear-signed block in an HTML <pre>",
	    "Content-Type: text/html\n\n<html><body><pre>"
	    "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nHi\n"
	    "</pre></body></html>\n", TRUE},
	{"a clear-signed block in HTML lines",
	    "Content-Type: multipart/alternative; boundary=a\n\n--a\n"
	    "Content-Type: text/plain\n\nHi\n--a\n"
	    "Content-Type: text/html\n\n<p>Hi<br>-----BEGIN PGP SIGNED "
	    "MESSAGE-----<br>Hash: SHA256<br><br>Hi</p>\n--a--\n", TRUE},
	{"a clear-signed block in HTML behind tags and references",
	    "Content-Type: text/html\n\n<div>&#45;-<b></b>---BEGIN PGP "
	    "SIGNED&#x20;MESSAGE-----</div>\n", TRUE},
	{"HTML without a block",
	    "Content-Type: text/html\n\n<p>Hi &amp; bye<br>-- <br>me</p>\n",
	    FALSE},
	{"a signed message attached as message/rfc822",
	    "Content-Type: multipart/mixed; boundary=m\n\n--m\n"
	    "Content-Type: text/plain\n\nForwarded:\n--m\n"
	    "Content-Type: message/rfc822\n\nFrom: a@example.org\n"
	    "Content-Type: multipart/signed; boundary=b\n\n--b\n"
	    "Content-Type: text/plain\n\nHi\n--b\n"
	    "Content-Type: application/pgp-signature\n\nsig\n--b--\n"
	    "--m--\n", FALSE},
};

START_TEST(inner_signature)
{
	g_autofree char *text = _i % 2 ? crlf(inner_cases[_i / 2].text) :
	    g_strdup(inner_cases[_i / 2].text);
	g_autoptr(OpmMessage) m = parse(text, &roomy);
	const char *got = opm_message_inner_signature(m);

	ck_assert_msg((got != NULL) == inner_cases[_i / 2].signed_inside,
	    "%s: got %s, want %s", inner_cases[_i / 2].name,
	    got != NULL ? got : "nothing", inner_cases[_i / 2].signed_inside ?
	    "a signature inside" : "nothing");
}
END_TEST

/* Entities mail programs read in different ways (GMime takes the last
 * of two Content-Type fields, others the first) are refused as
 * malformed, wherever they are. */
static const struct {
	const char *name;
	const char *text;
	gboolean ambiguous;
} ambiguous_cases[] = {
	{"one field of each",
	    "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=m\n\n"
	    "--m\nContent-Type: text/plain; charset=us-ascii\n"
	    "Content-Transfer-Encoding: 7bit\n\nHi\n--m--\n", FALSE},
	{"a parameter in RFC 2231 sections",
	    "Content-Type: text/plain;\n title*0=\"a\";\n title*1=\"b\"\n\n"
	    "Hi\n", FALSE},
	{"a quoted ';' in a parameter",
	    "Content-Type: text/plain; name=\"a; name=b\"\n\nHi\n", FALSE},
	{"two Content-Type fields at the top",
	    "Content-Type: text/plain\nContent-Type: text/html\n\nHi\n", TRUE},
	{"two MIME-Version fields",
	    "MIME-Version: 1.0\nMIME-Version: 1.0\nContent-Type: text/plain\n"
	    "\nHi\n", TRUE},
	{"two Content-Type fields in a part, multipart/signed first",
	    "Content-Type: multipart/mixed; boundary=m\n\n--m\n"
	    "Content-Type: text/plain\n\nHi\n--m\n"
	    "Content-Type: multipart/signed; boundary=b\n"
	    "Content-Type: text/plain\n\n--b\n"
	    "Content-Type: text/plain\n\nHi\n--b\n"
	    "Content-Type: application/pgp-signature\n\nsig\n--b--\n"
	    "--m--\n", TRUE},
	{"two Content-Transfer-Encoding fields in a part",
	    "Content-Type: multipart/mixed; boundary=m\n\n--m\n"
	    "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n"
	    "content-transfer-encoding: 7bit\n\nHi\n--m--\n", TRUE},
	{"two Content-Disposition fields in a part",
	    "Content-Type: multipart/mixed; boundary=m\n\n--m\n"
	    "Content-Type: text/plain\nContent-Disposition: inline\n"
	    "Content-Disposition: attachment\n\nHi\n--m--\n", TRUE},
	{"a boundary parameter named twice",
	    "Content-Type: multipart/mixed; boundary=m; boundary=n\n\n--m\n"
	    "Content-Type: text/plain\n\nHi\n--m--\n--n\n"
	    "Content-Type: text/plain\n\nHo\n--n--\n", TRUE},
	{"a boundary parameter and its RFC 2231 form",
	    "Content-Type: multipart/mixed; boundary=m;\n boundary*0=n\n\n"
	    "--m\nContent-Type: text/plain\n\nHi\n--m--\n", TRUE},
	{"a charset parameter named twice in a part",
	    "Content-Type: multipart/mixed; boundary=m\n\n--m\n"
	    "Content-Type: text/plain; charset=utf-16; charset=us-ascii\n\n"
	    "Hi\n--m--\n", TRUE},
	{"two Content-Type fields in an attached message",
	    "Content-Type: multipart/mixed; boundary=m\n\n--m\n"
	    "Content-Type: message/rfc822\n\nFrom: a@example.org\n"
	    "Content-Type: multipart/signed; boundary=b\n"
	    "Content-Type: text/plain\n\nHi\n--m--\n", TRUE},
};

START_TEST(ambiguous_entity)
{
	g_autofree char *text = _i % 2 ? crlf(ambiguous_cases[_i / 2].text) :
	    g_strdup(ambiguous_cases[_i / 2].text);
	g_autoptr(OpmMessage) m = parse(text, &roomy);

	if (ambiguous_cases[_i / 2].ambiguous)
		ck_assert_msg(m->limit == OPM_LIMIT_SYNTAX &&
		    m->limit_detail != NULL && m->message == NULL,
		    "%s: got limit %s (%s), want a syntax refusal in words",
		    ambiguous_cases[_i / 2].name, limit_name(m->limit),
		    m->limit_detail != NULL ? m->limit_detail : "no detail");
	else
		ck_assert_msg(m->limit == OPM_LIMIT_OK, "%s: got limit %s (%s), "
		    "want none", ambiguous_cases[_i / 2].name,
		    limit_name(m->limit), m->limit_detail != NULL ?
		    m->limit_detail : "no detail");
}
END_TEST

/* The rebuilt multipart/signed entity holds the signed part and the
 * armor and nothing else, and parses back to the same signed data. */
START_TEST(signed_entity_rebuilt)
{
	static const char data[] = "Content-Type: text/plain\r\n\r\n"
	    "--=-opm-signed- is not a boundary here\r\nHello";
	static const char armor[] = "-----BEGIN PGP SIGNATURE-----\n\n"
	    "iQ==\n=AAAA\n-----END PGP SIGNATURE-----\n";
	g_autoptr(GBytes) d = tu_bytes(data);
	g_autoptr(GBytes) a = tu_bytes(armor);
	g_autoptr(GBytes) e = opm_mime_signed_entity(d, a, "pgp-sha256");
	g_autoptr(OpmMessage) m = opm_message_parse(e, &roomy);
	g_autofree char *text = g_strndup(g_bytes_get_data(e, NULL),
	    g_bytes_get_size(e));
	const char *body = strstr(text, "\r\n\r\n");

	ck_assert_str_eq(form_name(m->form), "PGPMIME_SIGNED");
	ck_assert(g_bytes_equal(m->signed_data, d));
	ck_assert_msg(body != NULL && g_str_has_prefix(body + 4, "--"),
	    "a preamble: %s", text);
	ck_assert_msg(g_str_has_suffix(text, "-----END PGP SIGNATURE-----"
	    "\r\n\r\n") == FALSE && g_str_has_suffix(text, "--\r\n"),
	    "an epilogue: %s", text);
	ck_assert(strstr(text, "micalg=\"pgp-sha256\"") != NULL);
}
END_TEST

static Suite *
mime_suite(void)
{
	Suite *s = suite_create("mime");
	TCase *tc;

	tc = tcase_create("signed data");
	tcase_add_loop_test(tc, signed_data_is_exact, 0, 2);
	tcase_add_loop_test(tc, signed_data_of_a_multipart, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("forms");
	tcase_add_loop_test(tc, form, 0, 2 * G_N_ELEMENTS(forms));
	tcase_add_loop_test(tc, inner_signature, 0,
	    2 * G_N_ELEMENTS(inner_cases));
	tcase_add_test(tc, signed_entity_rebuilt);
	tcase_add_loop_test(tc, ambiguous_entity, 0,
	    2 * G_N_ELEMENTS(ambiguous_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("bounds");
	tcase_add_loop_test(tc, bound, 0, 2 * G_N_ELEMENTS(bounds));
	tcase_add_test(tc, size_bound);
	tcase_add_test(tc, big_message_is_refused_before_parsing);
	tcase_add_loop_test(tc, entity_bound_counts_delimiters, 0,
	    2 * G_N_ELEMENTS(delimiter_forms));
	tcase_add_test(tc, entity_bound_ignores_other_dash_lines);
	tcase_add_test(tc, entity_bound_counts_content_type_with_space);
	tcase_add_test(tc, empty_message_is_malformed);
	suite_add_tcase(s, tc);

	tc = tcase_create("helpers");
	tcase_add_loop_test(tc, both_from_headers_are_returned, 0, 2);
	tcase_add_test(tc, headers_of_a_refused_message_are_empty);
	tcase_add_loop_test(tc, crlf_conversion, 0, G_N_ELEMENTS(crlfs));
	tcase_add_test(tc, crlf_keeps_nul_bytes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	g_mime_init();
	return tu_run(mime_suite());
}
