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
	GBytes *signed_data;    /* PGPMIME_SIGNED: the first part's exact
				   bytes, line endings made CRLF */
	GBytes *signature;      /* PGPMIME_SIGNED: the decoded signature */
	gsize entity_start;     /* raw offsets of the signed entity's body */
	gsize entity_end;
} OpmMessage;

/* Parse raw (a full RFC 5322 message) within limits and classify it.
 * Never fails: a post over a bound or unparseable comes back with limit
 * set and message NULL.  (transfer full): opm_message_free(). */
OpmMessage *opm_message_parse(GBytes *raw, const OpmLimits *limits);
void opm_message_free(OpmMessage *m); /* accepts NULL */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OpmMessage, opm_message_free)

/* The values of every top-level header called name, in order.
 * (transfer full): g_ptr_array_unref(). */
GPtrArray *opm_message_headers(OpmMessage *m, const char *name);

/* The same for the header section of the top-level MIME entity, where
 * GMime keeps the Content-* fields.  (transfer full) */
GPtrArray *opm_message_part_headers(OpmMessage *m, const char *name);

/* Convert bare LF to CRLF.  (transfer full) */
GBytes *opm_crlf(const char *p, gsize n);

#endif
