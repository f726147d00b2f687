/*
 * NAME
 *	mime.h - bounded parsing and classification of a post
 * DESCRIPTION
 *	A post is parsed once with GMime after a raw pre-scan that enforces
 *	the size and structure bounds, then classified by its top-level
 *	structure only (DESIGN.md section 3, step 2).  For an RFC 3156 signed
 *	post the exact bytes of the signed entity are cut from the raw
 *	message, not re-serialised by GMime.
 */
#ifndef OPM_MIME_H
#define OPM_MIME_H

#include "opm.h"

typedef enum {
	OPM_FORM_UNSIGNED,          /* nothing that counts as signed */
	OPM_FORM_PARTIAL,           /* a signature covers only part of it */
	OPM_FORM_BAD_STRUCTURE,     /* claims to be signed, is not RFC 3156 */
	OPM_FORM_SMIME,             /* S/MIME signed or enveloped */
	OPM_FORM_PGPMIME_SIGNED,    /* RFC 3156 multipart/signed */
	OPM_FORM_PGPMIME_ENCRYPTED, /* RFC 3156 multipart/encrypted */
	OPM_FORM_INLINE,            /* a text/plain that is one PGP block */
} OpmForm;

typedef enum {
	OPM_PARTIAL_SIGNED,     /* a signature covers one part only */
	OPM_PARTIAL_ENCRYPTED,  /* ciphertext is one part only */
	OPM_PARTIAL_INLINE,     /* an inline block with something around it */
} OpmPartial;

typedef enum {
	OPM_LIMIT_OK,
	OPM_LIMIT_SIZE,        /* 552 5.3.4 */
	OPM_LIMIT_DEPTH,       /* 550 5.6.0 */
	OPM_LIMIT_PARTS,
	OPM_LIMIT_HEADERS,
	OPM_LIMIT_HEADER_SIZE,
	OPM_LIMIT_SYNTAX,      /* not parseable as a message at all */
} OpmLimit;

typedef struct {
	gint64 max_size;
	gint64 max_depth;
	gint64 max_parts;
	gint64 max_headers;
	gint64 max_header_size;
} OpmLimits;

typedef struct {
	GBytes *raw;            /* the whole message as received */
	GMimeMessage *message;  /* NULL when limit != OPM_LIMIT_OK */
	OpmLimit limit;         /* which bound was crossed */
	char *limit_detail;     /* plain words, e.g. "14 levels, at most 8" */

	OpmForm form;
	char *form_detail;      /* why it is not signed, in plain words */
	OpmPartial partial;     /* PARTIAL: what is partial */
	GBytes *signed_data;    /* PGPMIME_SIGNED: the first part's exact
				   bytes, line endings made CRLF */
	GBytes *signature;      /* PGPMIME_SIGNED: the decoded signature */
	gsize entity_start;     /* raw offsets of the signed entity's body */
	gsize entity_end;

	GBytes *ciphertext;     /* PGPMIME_ENCRYPTED, and INLINE when
				   inline_encrypted: the OpenPGP message as
				   sent (armored or binary) */
	gboolean exchange;      /* PGPMIME_ENCRYPTED repaired from the
				   multipart/mixed Exchange makes of it */
	GBytes *inline_text;    /* INLINE: the decoded text/plain body */
	gboolean inline_encrypted; /* INLINE: the block is a PGP MESSAGE,
				   not a clear-signed text */
	char *charset;          /* INLINE: the charset parameter, or NULL */

	/* Set by the gate for the list it accepts the post for. */
	GBytes *payload;        /* the complete MIME entity (header section
				   and body, CRLF) every copy carries */
	GPtrArray *protected_headers; /* OpmField *: the protected header
				   fields of the signed entity, or NULL
				   when it declares none */
	gboolean encrypted;     /* the post was encrypted to the list key */
	gboolean combined;      /* it was signed inside the encryption, and
				   the copy does not carry that signature */
} OpmMessage;

/* A header field: name, and value as in the message (unfolded by GMime
 * where it came from GMime).  Owned by the array holding it. */
typedef struct {
	char *name;
	char *value;
} OpmField;

/* Parse raw (a full RFC 5322 message) within limits and classify it.
 * Never fails: a post over a bound or unparseable comes back with limit
 * set and message NULL.  (transfer full): opm_message_free(). */
OpmMessage *opm_message_parse(GBytes *raw, const OpmLimits *limits);
void opm_message_free(OpmMessage *m); /* accepts NULL */

/* An upper bound on the MIME entities GMime would build from the n bytes
 * at p: the top-level one, one per Content-Type line and one per line
 * that can be a delimiter of a declared boundary.  Counting stops once
 * the bound passes stop.  opm_message_parse() refuses input over its
 * bound before GMime runs. */
gint64 opm_mime_entity_bound(const char *p, gsize n, gint64 stop);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OpmMessage, opm_message_free)

/* The values of every top-level header called name, in order.
 * (transfer full): g_ptr_array_unref(). */
GPtrArray *opm_message_headers(OpmMessage *m, const char *name);

/* The same for the header section of the top-level MIME entity, where
 * GMime keeps the Content-* fields.  (transfer full) */
GPtrArray *opm_message_part_headers(OpmMessage *m, const char *name);

/* The protected header fields (RFC 9788 hp="...", or the older
 * protected-headers="v1") of a MIME entity parsed with
 * opm_message_parse(): every field of its header section that is not a
 * Content-* or MIME-Version field.  NULL when the entity's Content-Type
 * declares no header protection.  (transfer full): g_ptr_array_unref(). */
GPtrArray *opm_message_protected_headers(OpmMessage *entity);

/* The top-level MIME entity as received: its Content-* header fields
 * (line breaks made CRLF) and the raw body.  (transfer full) */
GBytes *opm_message_top_entity(OpmMessage *m);

/* What makes a decrypted entity (parsed with opm_message_parse()) more
 * than content: a multipart/signed or encrypted entity, an S/MIME one, or
 * a text part with a line starting an inline PGP block, anywhere but
 * inside an attached message/rfc822; in plain words for the reply, or
 * NULL when there is none.  (transfer none): a static string. */
const char *opm_message_inner_signature(OpmMessage *m);

/* TRUE when a line of text starts an inline PGP block (a clear-signed
 * text or a PGP MESSAGE), as a mail client would find it. */
gboolean opm_text_has_pgp_block(GBytes *text);

typedef enum {
	OPM_TEXT_PLAIN,      /* no inline PGP block */
	OPM_TEXT_PGP,        /* an inline PGP block */
	OPM_TEXT_UNREADABLE, /* not in its declared charset */
} OpmTextPgp;

/* Whether the text (transfer encoding decoded) of a part in charset (or
 * NULL) holds an inline PGP block as some mail client would show it: an
 * armor line at the start of a line after blanks, read as bytes, with
 * NUL bytes and byte order marks dropped (UTF-16, UTF-32), and converted
 * from charset; for HTML (html TRUE) anywhere in the text it shows, tags
 * dropped and character references decoded.  OPM_TEXT_UNREADABLE when
 * the charset cannot be converted. */
OpmTextPgp opm_text_pgp_block(GBytes *text, const char *charset,
    gboolean html);

/* A multipart/signed entity (RFC 3156) holding exactly the signed part
 * signed_data (CRLF, as verified) and the armored signature, under a new
 * boundary that no line of signed_data starts with, with micalg (e.g.
 * "pgp-sha256"): no preamble, no epilogue.  (transfer full) */
GBytes *opm_mime_signed_entity(GBytes *signed_data, GBytes *armored,
    const char *micalg);

/* The value of the first field called name in fields (as returned by
 * opm_message_protected_headers()), or NULL.  (transfer none) */
const char *opm_fields_get(GPtrArray *fields, const char *name);

/* The number of fields called name in fields. */
guint opm_fields_count(GPtrArray *fields, const char *name);

/* Convert bare LF to CRLF.  (transfer full) */
GBytes *opm_crlf(const char *p, gsize n);
/* The same, appended to out. */
void opm_crlf_append(GString *out, const char *p, gsize n);

/* Offset of the first byte after the blank line ending the header block
 * of the n bytes at p, or n when there is none. */
gsize opm_body_offset(const char *p, gsize n);

#endif
