/*
 * NAME
 *	pgp.h - OpenPGP message splitting and ASCII armor
 * DESCRIPTION
 *	An OpenPGP message encrypted to N recipients is N public-key
 *	encrypted session key packets (PKESK, tag 1) followed by one
 *	encrypted data packet (SEIPD tag 18, or AEAD tag 20).  Every
 *	recipient's copy is its own PKESK followed by the shared data packet:
 *	one signing and one symmetric encryption serve the whole list, and a
 *	copy names no key but its recipient's.
 */
#ifndef OPM_PGP_H
#define OPM_PGP_H

#include "opm.h"

typedef struct {
	char keyid[17];  /* upper-case hex key ID of the recipient subkey */
	gsize offset;    /* of the whole packet in the message */
	gsize length;    /* of the whole packet, header included */
} OpmPkesk;

typedef struct {
	GBytes *message;   /* the binary message split */
	GArray *pkesks;    /* OpmPkesk, in message order */
	gsize data_offset; /* the encrypted data packet, to the end */
} OpmPgpSplit;

void opm_pgp_split_free(OpmPgpSplit *s); /* accepts NULL */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OpmPgpSplit, opm_pgp_split_free)

/* Split a binary message.  Accepts only: one or more version 3 PKESK
 * packets, then exactly one SEIPD or AEAD packet that runs to the end.
 * Anything else (a SKESK, a marker, an unprotected SED packet, trailing
 * bytes, truncation) is an OPM_ERROR_CRYPTO error.  (transfer full) */
OpmPgpSplit *opm_pgp_split(GBytes *message, GError **error);

/* The binary message for one recipient: PKESK i and the data packet.
 * (transfer full) */
GBytes *opm_pgp_split_message(OpmPgpSplit *s, guint i);

/* ASCII armor (RFC 4880 section 6) of type "MESSAGE", "SIGNATURE", ...
 * with CRC-24 checksum and LF line ends.  (transfer full) */
GBytes *opm_pgp_armor(GBytes *binary, const char *type);

/* The armored message of each recipient of a split, cheaply: what all
 * share is encoded once.  Holds a reference to s->message, not to s,
 * which may go.  Lines end in CRLF when crlf, else LF.  Not for two
 * threads at once.  (transfer full): opm_pgp_armorer_free(). */
typedef struct _OpmPgpArmorer OpmPgpArmorer;
OpmPgpArmorer *opm_pgp_armorer_new(OpmPgpSplit *s, const char *type,
    gboolean crlf);
void opm_pgp_armorer_free(OpmPgpArmorer *a); /* accepts NULL */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OpmPgpArmorer, opm_pgp_armorer_free)

/* Exactly opm_pgp_armor(opm_pgp_split_message(s, i), type), in time
 * proportional to the PKESK's length once the lines it shares with the
 * others are made.  (transfer full) */
GBytes *opm_pgp_armorer_message(OpmPgpArmorer *a, guint i);

/* The same message in three pieces, for writing out without joining
 * them: piece[0] the armor header and the lines of recipient i's own
 * bytes, piece[1] the lines shared with every recipient of the same
 * variant (a reference, not a copy; NULL for a tiny message), piece[2]
 * the checksum and END line.  Caller unrefs each.  For shared data over
 * 1 MiB only the lines of the latest variant are kept, so serve the
 * recipients grouped by opm_pgp_armorer_variant(). */
void opm_pgp_armorer_pieces(OpmPgpArmorer *a, guint i, GBytes *piece[3]);

/* Which shared lines recipient i's message uses (0 to 47). */
guint opm_pgp_armorer_variant(OpmPgpArmorer *a, guint i);

/* Undo opm_pgp_armor: the first armored block in text of the given type
 * ("MESSAGE"; NULL: any); checks the CRC when present.  NULL with an
 * OPM_ERROR_CRYPTO error.  (transfer full) */
GBytes *opm_pgp_dearmor(GBytes *text, const char *type, GError **error);

/* The most signature packets a signature may hold: one for each key a
 * poster signs with, a few at most. */
#define OPM_PGP_MAX_SIGNATURES 8

/* The signature packets of a detached signature as sent (armored, where
 * only the first "BEGIN PGP SIGNATURE" block counts, or binary), in
 * binary: NULL with an OPM_ERROR_CRYPTO error, in words for the poster,
 * when it holds anything else (another kind of packet, a truncated
 * one), no signature at all or more than OPM_PGP_MAX_SIGNATURES.
 * (transfer full) */
GBytes *opm_pgp_signatures(GBytes *sig, GError **error);

/* The clear-signed block (RFC 4880 section 7) that text holds, after
 * white space, rebuilt from what the signature covers: the BEGIN line,
 * its Hash headers, each line of the signed text without trailing white
 * space and dash-escaped only where it starts with "-" or "From ", and
 * the signature re-armored from its packets alone; LF line ends.  NULL
 * with an OPM_ERROR_CRYPTO error when text is not such a block (another
 * armor header than Hash or NotDashEscaped, no signature, a signature
 * that opm_pgp_signatures() refuses).  (transfer full) */
GBytes *opm_pgp_clearsigned(GBytes *text, GError **error);

/* The header of the packet at p[*i] (RFC 4880 4.2): *tag, *len the body
 * length or the first chunk's, *open_length when the body is partial or
 * runs to the end.  *i moves to the body.  FALSE when there is no
 * packet header there. */
gboolean opm_pgp_packet_header(const guint8 *p, gsize n, gsize *i,
    int *tag, gsize *len, gboolean *open_length);

#endif
