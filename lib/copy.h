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

/* A member's copy around armored ciphertext.  (transfer full) */
GBytes *opm_copy_outer(OpmList *list, OpmMessage *msg, OpmMember *poster,
    const char *rcpt, const char *message_id, GBytes *armored, gint64 now);

/* The notice for a member whose key cannot be used.  (transfer full) */
GBytes *opm_copy_withheld_notice(OpmList *list, OpmMember *poster,
    OpmMember *rcpt, const char *why, const char *message_id, gint64 now);

/* The notice to an admin naming the members who got no copy; withheld
 * holds OpmMember * and reasons holds char * at the same index.
 * (transfer full) */
GBytes *opm_copy_admin_notice(OpmList *list, OpmMember *poster,
    const char *admin, GPtrArray *withheld, GPtrArray *reasons,
    const char *message_id, gint64 now);

/* The display name the list shows for poster: the name in From: unless
 * it holds an address or another member's name, else the members file's.
 * NULL when there is none.  (transfer full) */
char *opm_copy_display_name(OpmList *list, OpmMessage *msg,
    OpmMember *poster);

#endif
