/*
 * NAME
 *	copy.h - build the messages a post becomes
 * DESCRIPTION
 *	The inner entity (identical for every member) is the entity the gate
 *	chose (msg->payload: the poster's signed entity byte for byte, or the
 *	content decrypted from an encrypted post) under RFC 9788 protected
 *	headers and an Authentication-Results line stating what the list
 *	verified.  Each
 *	member's copy wraps the list's signed-and-encrypted form of it in an
 *	RFC 3156 multipart/encrypted with minimal outer headers.  Members whose
 *	key cannot be used get a notice without content; the admins get one
 *	notice per post naming them.
 */
#ifndef OPM_COPY_H
#define OPM_COPY_H

#include "conf.h"
#include "mime.h"

/* The entity every member's copy encrypts.  poster: the verified signing
 * member.  (transfer full) */
GBytes *opm_copy_inner(OpmList *list, OpmMessage *msg, OpmMember *poster);

/* Message-ID of the copy of post key for rcpt: the same on every retry.
 * (transfer full) */
char *opm_copy_message_id(OpmList *list, const char *post_key,
    const char *rcpt);

/* What every member's copy of one post shares (its outer header but the
 * Message-ID), worked out once per post at time now. */
typedef struct _OpmCopyFrame OpmCopyFrame;
OpmCopyFrame *opm_copy_frame_new(OpmList *list, OpmMessage *msg,
    OpmMember *poster, gint64 now);
void opm_copy_frame_free(OpmCopyFrame *f); /* accepts NULL */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OpmCopyFrame, opm_copy_frame_free)

/* The frame of a text the list itself writes to one person (membership
 * notices, replies to command mails): From: the list, To: to, Subject:
 * subject (NULL: "...", for an encrypted one), Auto-Submitted.
 * (transfer full) */
OpmCopyFrame *opm_copy_frame_notice(OpmList *list, const char *to,
    const char *subject, gint64 now);

/* An RFC 3156 multipart/signed message around entity (a MIME entity,
 * CRLF) and its armored detached signature.  (transfer full) */
GBytes *opm_copy_signed_outer(const OpmCopyFrame *f, const char *message_id,
    GBytes *entity, GBytes *signature, const char *micalg);

/* The entity such a notice encrypts: body as text/plain under protected
 * header fields carrying the real subject.  (transfer full) */
GBytes *opm_copy_notice_inner(OpmList *list, const char *to,
    const char *subject, const char *body);

/* A member's copy around armored ciphertext.  (transfer full) */
GBytes *opm_copy_outer(const OpmCopyFrame *f, const char *message_id,
    GBytes *armored);

/* The same copy in pieces, for a copy written out without being joined:
 * *head is everything before the armored ciphertext, *tail everything
 * after it; the ciphertext between them must have CRLF line ends and
 * end in one.  (transfer full) both. */
void opm_copy_outer_pieces(const OpmCopyFrame *f, const char *message_id,
    GBytes **head, GBytes **tail);

/* The notice for a member whose key cannot be used.  (transfer full) */
GBytes *opm_copy_withheld_notice(OpmList *list, OpmMember *poster,
    OpmMember *rcpt, const char *why, const char *message_id, gint64 now);

/* The notice to an admin naming the members who got no copy; withheld
 * holds OpmMember * and reasons holds char * at the same index.
 * (transfer full) */
GBytes *opm_copy_admin_notice(OpmList *list, OpmMember *poster,
    const char *admin, GPtrArray *withheld, GPtrArray *reasons,
    const char *message_id, gint64 now);

/* The name of the first header field the copies of msg would carry
 * (inside or outside the encryption) with a line longer than 998 octets
 * even folded (RFC 5322 section 2.1.1): a word too long for any line.
 * NULL when every field fits.  (transfer full) */
char *opm_copy_long_header(OpmList *list, OpmMessage *msg,
    OpmMember *poster, gint64 now);

/* The notice to an admin that the list key cannot be used: cause names
 * the key and what is wrong.  (transfer full) */
GBytes *opm_copy_list_key_notice(OpmList *list, const char *admin,
    const char *cause, const char *message_id, gint64 now);

/* The display name the list shows for poster: the name in From: unless
 * it holds an address or another member's name, else the members file's.
 * NULL when there is none.  (transfer full) */
char *opm_copy_display_name(OpmList *list, OpmMessage *msg,
    OpmMember *poster);

#endif
