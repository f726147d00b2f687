/*
 * NAME
 *	test_posts - unit tests of how encrypted and inline posts are read
 * DESCRIPTION
 *	Messages built in memory, with LF and with CRLF line endings, run
 *	through opm_message_parse(): an RFC 3156 multipart/encrypted must be
 *	exactly control part and data; Exchange's rewriting of it is
 *	recognised exactly and nothing looser; an inline block counts only
 *	when it is the whole text/plain body, its armor lines matched at the
 *	start of a line so that dash-escaped text cannot end it early.  Then
 *	the protected header fields of a signed entity and the top-level
 *	entity a copy carries.  No keys needed: decryption and what the gate
 *	makes of it are covered by t/posts.test.
 */
#include "config.h"

#include <string.h>

#include "tutil.h"

#include "mime.h"

static const OpmLimits roomy = {
	.max_size = 10 * 1024 * 1024,
	.max_depth = 8,
	.max_parts = 100,
	.max_headers = 200,
	.max_header_size = 16 * 1024,
};

#define HEAD \
	"From: Alice Example <alice@example.org>\n" \
	"To: secir@lists.example.org\n" \
	"Subject: test\n" \
	"MIME-Version: 1.0\n"

#define CLEAR_BLOCK(text) \
	"-----BEGIN PGP SIGNED MESSAGE-----\n" \
	"Hash: SHA256\n" \
	"\n" \
	text \
	"-----BEGIN PGP SIGNATURE-----\n" \
	"\n" \
	"iHUEARYIAB0WIQTLtest\n" \
	"-----END PGP SIGNATURE-----\n"

#define MSG_BLOCK \
	"-----BEGIN PGP MESSAGE-----\n" \
	"\n" \
	"hF4DAAAAAAAAAAASAQdAtest\n" \
	"-----END PGP MESSAGE-----\n"

#define EXCHANGE_HEAD \
	HEAD \
	"Content-Type: multipart/mixed; boundary=\"x\"\n" \
	"\n"

#define EXCHANGE_EMPTY \
	"--x\n" \
	"Content-Type: text/plain; charset=\"us-ascii\"\n" \
	"Content-Transfer-Encoding: quoted-printable\n" \
	"\n" \
	"\n"

#define EXCHANGE_VERSION \
	"--x\n" \
	"Content-Type: application/pgp-encrypted;\n" \
	" name=\"PGPMIME Versions Identification\"\n" \
	"Content-Transfer-Encoding: 7bit\n" \
	"\n" \
	"Version: 1\n" \
	"\n"

#define EXCHANGE_DATA \
	"--x\n" \
	"Content-Type: application/octet-stream; name=\"encrypted.asc\"\n" \
	"Content-Transfer-Encoding: 7bit\n" \
	"\n" \
	MSG_BLOCK

#define ENCRYPTED_ENTITY(b) \
	"Content-Type: multipart/encrypted;\n" \
	" protocol=\"application/pgp-encrypted\"; boundary=\"" b "\"\n" \
	"\n" \
	"--" b "\n" \
	"Content-Type: application/pgp-encrypted\n" \
	"\n" \
	"Version: 1\n" \
	"--" b "\n" \
	"Content-Type: application/octet-stream\n" \
	"\n" \
	MSG_BLOCK \
	"--" b "--\n"

typedef struct {
	const char *name;
	const char *text;
	OpmForm form;
	int flag; /* INLINE: 1 encrypted; ENCRYPTED: 1 exchange;
		     PARTIAL: OpmPartial */
} FormCase;

static const FormCase forms[] = {
	{"a clear-signed block alone is inline, not encrypted", HEAD
	    "Content-Type: text/plain\n\n\n" CLEAR_BLOCK("signed text\n") "\n",
	    OPM_FORM_INLINE, 0},
	{"a dash-escaped END line inside the signed text does not end the "
	    "block", HEAD "Content-Type: text/plain\n\n"
	    CLEAR_BLOCK("- -----END PGP SIGNATURE-----\n"
		"- -----BEGIN PGP SIGNATURE-----\n" "- -- \n"),
	    OPM_FORM_INLINE, 0},
	{"text hidden after the END line of a first signature is text after",
	    HEAD "Content-Type: text/plain\n\n"
	    CLEAR_BLOCK("signed text\n")
	    "unsigned words\n"
	    "-----END PGP SIGNATURE-----\n",
	    OPM_FORM_PARTIAL, OPM_PARTIAL_INLINE},
	{"a second clear-signed block is text after", HEAD
	    "Content-Type: text/plain\n\n"
	    CLEAR_BLOCK("one\n") CLEAR_BLOCK("two\n"),
	    OPM_FORM_PARTIAL, OPM_PARTIAL_INLINE},
	{"an armored PGP MESSAGE alone is inline encrypted", HEAD
	    "Content-Type: text/plain\n\n" MSG_BLOCK "\n",
	    OPM_FORM_INLINE, 1},
	{"an armored PGP MESSAGE after text is partial", HEAD
	    "Content-Type: text/plain\n\nRead this:\n" MSG_BLOCK,
	    OPM_FORM_PARTIAL, OPM_PARTIAL_INLINE},
	{"an armored PGP MESSAGE before text is partial", HEAD
	    "Content-Type: text/plain\n\n" MSG_BLOCK "Regards\n",
	    OPM_FORM_PARTIAL, OPM_PARTIAL_INLINE},
	{"an inline block beside an HTML version is partial", HEAD
	    "Content-Type: multipart/alternative; boundary=\"a\"\n\n"
	    "--a\nContent-Type: text/plain\n\n" CLEAR_BLOCK("text\n")
	    "--a\nContent-Type: text/html\n\n<p>text</p>\n--a--\n",
	    OPM_FORM_PARTIAL, OPM_PARTIAL_INLINE},
	{"Exchange's rewriting is an encrypted post", EXCHANGE_HEAD
	    EXCHANGE_EMPTY EXCHANGE_VERSION EXCHANGE_DATA "--x--\n",
	    OPM_FORM_PGPMIME_ENCRYPTED, 1},
	{"Exchange's rewriting with text in the first part is partial",
	    EXCHANGE_HEAD
	    "--x\nContent-Type: text/plain\n\nPlease read the attachment.\n"
	    EXCHANGE_VERSION EXCHANGE_DATA "--x--\n",
	    OPM_FORM_PARTIAL, OPM_PARTIAL_ENCRYPTED},
	{"Exchange's rewriting with a fourth part is partial", EXCHANGE_HEAD
	    EXCHANGE_EMPTY EXCHANGE_VERSION EXCHANGE_DATA
	    "--x\nContent-Type: text/plain\n\nextra\n--x--\n",
	    OPM_FORM_PARTIAL, OPM_PARTIAL_ENCRYPTED},
	{"Exchange's rewriting in another order is partial", EXCHANGE_HEAD
	    EXCHANGE_VERSION EXCHANGE_EMPTY EXCHANGE_DATA "--x--\n",
	    OPM_FORM_PARTIAL, OPM_PARTIAL_ENCRYPTED},
	{"Exchange's rewriting with another version is partial",
	    EXCHANGE_HEAD EXCHANGE_EMPTY
	    "--x\nContent-Type: application/pgp-encrypted\n\nVersion: 2\n"
	    EXCHANGE_DATA "--x--\n",
	    OPM_FORM_PARTIAL, OPM_PARTIAL_ENCRYPTED},
	{"Exchange's rewriting without a PGP MESSAGE is not encrypted",
	    EXCHANGE_HEAD EXCHANGE_EMPTY EXCHANGE_VERSION
	    "--x\nContent-Type: application/octet-stream\n\nnot armored\n"
	    "--x--\n",
	    OPM_FORM_PARTIAL, OPM_PARTIAL_ENCRYPTED},
	{"a multipart/encrypted of control part and data is encrypted", HEAD
	    ENCRYPTED_ENTITY("e"), OPM_FORM_PGPMIME_ENCRYPTED, 0},
	{"a multipart/encrypted with a third part is bad structure", HEAD
	    "Content-Type: multipart/encrypted;\n"
	    " protocol=\"application/pgp-encrypted\"; boundary=\"e\"\n\n"
	    "--e\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n"
	    "--e\nContent-Type: application/octet-stream\n\n" MSG_BLOCK
	    "--e\nContent-Type: text/plain\n\nunencrypted words\n--e--\n",
	    OPM_FORM_BAD_STRUCTURE, 0},
	{"a multipart/encrypted with the data first is bad structure", HEAD
	    "Content-Type: multipart/encrypted;\n"
	    " protocol=\"application/pgp-encrypted\"; boundary=\"e\"\n\n"
	    "--e\nContent-Type: application/octet-stream\n\n" MSG_BLOCK
	    "--e\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n"
	    "--e--\n",
	    OPM_FORM_BAD_STRUCTURE, 0},
	{"a multipart/encrypted beside a text part is partial", HEAD
	    "Content-Type: multipart/mixed; boundary=\"m\"\n\n"
	    "--m\nContent-Type: text/plain\n\nhello\n--m\n"
	    ENCRYPTED_ENTITY("e") "--m--\n",
	    OPM_FORM_PARTIAL, OPM_PARTIAL_ENCRYPTED},
	{"a multipart/encrypted alone in a multipart/mixed is partial", HEAD
	    "Content-Type: multipart/mixed; boundary=\"m\"\n\n"
	    "--m\n" ENCRYPTED_ENTITY("e") "--m--\n",
	    OPM_FORM_PARTIAL, OPM_PARTIAL_ENCRYPTED},
	{"a PGP MESSAGE inside HTML is not signed", HEAD
	    "Content-Type: text/html\n\n<pre>\n" MSG_BLOCK "</pre>\n",
	    OPM_FORM_UNSIGNED, 0},
};

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

static OpmMessage *
parse(const char *text, gboolean is_crlf)
{
	g_autofree char *t = is_crlf ? tu_replace(text, "\n", "\r\n") :
	    g_strdup(text);
	g_autoptr(GBytes) raw = tu_bytes(t);

	return opm_message_parse(raw, &roomy);
}

START_TEST(form)
{
	const FormCase *c = &forms[_i / 2];
	gboolean is_crlf = _i % 2 == 1;
	g_autoptr(OpmMessage) m = parse(c->text, is_crlf);
	const char *le = is_crlf ? "CRLF" : "LF";

	ck_assert_msg(m->limit == OPM_LIMIT_OK, "%s (%s): got limit %d, want "
	    "OK", c->name, le, m->limit);
	ck_assert_msg(m->form == c->form, "%s (%s): got %s (%s), want %s",
	    c->name, le, form_name(m->form),
	    m->form_detail != NULL ? m->form_detail : "no detail",
	    form_name(c->form));
	switch (c->form) {
	case OPM_FORM_INLINE:
		ck_assert_msg(m->inline_encrypted == (c->flag == 1),
		    "%s (%s): got inline_encrypted %d, want %d", c->name, le,
		    m->inline_encrypted, c->flag == 1);
		ck_assert_msg(m->inline_text != NULL, "%s (%s): got no "
		    "inline_text", c->name, le);
		ck_assert_msg((m->ciphertext != NULL) == (c->flag == 1),
		    "%s (%s): ciphertext %s, want %s", c->name, le,
		    m->ciphertext != NULL ? "set" : "unset",
		    c->flag == 1 ? "set" : "unset");
		break;
	case OPM_FORM_PGPMIME_ENCRYPTED: {
		gsize n;
		const char *p;

		ck_assert_msg(m->exchange == (c->flag == 1), "%s (%s): got "
		    "exchange %d, want %d", c->name, le, m->exchange,
		    c->flag == 1);
		ck_assert_msg(m->ciphertext != NULL, "%s (%s): got no "
		    "ciphertext", c->name, le);
		p = g_bytes_get_data(m->ciphertext, &n);
		ck_assert_msg(p != NULL && g_strstr_len(p, (gssize)n,
		    "-----BEGIN PGP MESSAGE-----") != NULL, "%s (%s): the "
		    "ciphertext is not the data part", c->name, le);
		break;
	}
	case OPM_FORM_PARTIAL:
		ck_assert_msg((int)m->partial == c->flag, "%s (%s): got partial "
		    "kind %d, want %d (%s)", c->name, le, m->partial, c->flag,
		    m->form_detail);
		break;
	default:
		break;
	}
}
END_TEST

typedef struct {
	const char *name;
	const char *entity;
	const char *from;    /* NULL: no protected fields expected */
	const char *subject;
} ProtectedCase;

static const ProtectedCase protecteds[] = {
	{"protected-headers=\"v1\" (Thunderbird)",
	    "Content-Type: text/plain; charset=utf-8; protected-headers=\"v1\"\n"
	    "From: Alice Example <alice@example.org>\n"
	    "Subject: the real subject\n"
	    "Content-Transfer-Encoding: 7bit\n\nhello\n",
	    "Alice Example <alice@example.org>", "the real subject"},
	{"hp=\"cipher\" (RFC 9788)",
	    "Content-Type: multipart/mixed; boundary=\"b\"; hp=\"cipher\"\n"
	    "Subject: inside\n"
	    "From: bob@example.org\n\n--b\nContent-Type: text/plain\n\nx\n"
	    "--b--\n",
	    "bob@example.org", "inside"},
	{"header fields without the marker are not protected",
	    "Content-Type: text/plain\n"
	    "Subject: not declared\n"
	    "From: mallory@example.com\n\nhello\n", NULL, NULL},
};

START_TEST(protected_fields)
{
	const ProtectedCase *c = &protecteds[_i / 2];
	g_autoptr(OpmMessage) m = parse(c->entity, _i % 2 == 1);
	g_autoptr(GPtrArray) f = opm_message_protected_headers(m);
	g_autofree char *from = NULL;
	g_autofree char *subject = NULL;

	if (c->from == NULL) {
		ck_assert_msg(f == NULL, "%s: got %u protected fields, want "
		    "none", c->name, f->len);
		return;
	}
	ck_assert_msg(f != NULL, "%s: got no protected fields", c->name);
	ck_assert_msg(opm_fields_get(f, "Content-Type") == NULL,
	    "%s: Content-Type counted as a protected field", c->name);
	from = g_strstrip(g_strdup(opm_fields_get(f, "From")));
	subject = g_strstrip(g_strdup(opm_fields_get(f, "subject")));
	ck_assert_msg(g_strcmp0(from, c->from) == 0, "%s: From: got %s, want "
	    "%s", c->name, from, c->from);
	ck_assert_msg(g_strcmp0(subject, c->subject) == 0, "%s: Subject: got "
	    "%s, want %s", c->name, subject, c->subject);
	ck_assert_msg(opm_fields_count(f, "From") == 1, "%s: got %u From "
	    "fields, want 1", c->name, opm_fields_count(f, "From"));
}
END_TEST

START_TEST(top_entity_is_content_fields_and_raw_body)
{
	static const char text[] = HEAD
	    "Content-Type: text/plain; charset=iso-8859-1\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    "X-Other: dropped\r\n"
	    "\r\n"
	    "caf=E9\r\n";
	static const char want[] =
	    "Content-Type: text/plain; charset=iso-8859-1\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    "\r\n"
	    "caf=E9\r\n";
	g_autofree char *t = tu_replace(text, "\n", "\r\n");
	g_autofree char *t2 = tu_replace(t, "\r\r\n", "\r\n");
	g_autoptr(GBytes) raw = tu_bytes(t2);
	g_autoptr(OpmMessage) m = opm_message_parse(raw, &roomy);
	g_autoptr(GBytes) e = opm_message_top_entity(m);
	g_autofree char *got = g_strndup(g_bytes_get_data(e, NULL),
	    g_bytes_get_size(e));

	ck_assert_msg(strcmp(got, want) == 0, "got\n%s\nwant\n%s", got, want);
}
END_TEST

static Suite *
posts_suite(void)
{
	Suite *s = suite_create("posts");
	TCase *tc;

	tc = tcase_create("forms");
	tcase_add_loop_test(tc, form, 0, 2 * G_N_ELEMENTS(forms));
	suite_add_tcase(s, tc);
	tc = tcase_create("protected headers");
	tcase_add_loop_test(tc, protected_fields, 0,
	    2 * G_N_ELEMENTS(protecteds));
	tcase_add_test(tc, top_entity_is_content_fields_and_raw_body);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	g_mime_init();
	return tu_run(posts_suite());
}
