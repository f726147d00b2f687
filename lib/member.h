/*
 * NAME
 *	member.h - membership changes: add, remove, change a member's key
 * DESCRIPTION
 *	The one place a list's membership changes, for the admin tool on the
 *	host and for command mails alike.  A batch of changes is all or
 *	nothing: every change is checked first (keys with the rules of
 *	"openpgp-milter -n"), then keys are imported into the list's GnuPG
 *	home, then the members file is replaced in one rename, under a lock.
 */
#ifndef OPM_MEMBER_H
#define OPM_MEMBER_H

#include "conf.h"
#include "inject.h"
#include "keys.h"

typedef enum {
	OPM_CHANGE_ADD,
	OPM_CHANGE_REMOVE,
	OPM_CHANGE_SET_KEY,
} OpmChangeOp;

typedef struct {
	OpmChangeOp op;
	char *address;  /* as given; normalized by opm_member_apply() */
	char *fpr;      /* ADD, SET_KEY: the primary fingerprint the new key
			   must have; NULL: the one key of the block with a
			   user ID for address */
	char *name;     /* ADD: display name, or NULL */
	GBytes *keys;   /* ADD, SET_KEY: an OpenPGP public key block,
			   armored or binary; owned */

	/* filled in by opm_member_apply() */
	char *old_fpr;  /* REMOVE, SET_KEY: the key pinned before */
	char *new_fpr;  /* ADD, SET_KEY: the key pinned now */
	gint64 expires; /* ADD, SET_KEY: when the new key stops signing or
			   encrypting; 0 never */
	char *warnings; /* ADD, SET_KEY: what -n warns about the new key, one
			   per line, or NULL */
} OpmChange;

/* (transfer full): opm_change_free() */
OpmChange *opm_change_new(OpmChangeOp op, const char *address,
    const char *fpr, const char *name, GBytes *keys);
void opm_change_free(OpmChange *c); /* accepts NULL */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OpmChange, opm_change_free)

/* "add-member", "remove-member", "set-key".  (transfer none) */
const char *opm_change_op_name(OpmChangeOp op);

/* Check changes (OpmChange *, in order, each seeing the ones before it)
 * against the list's members file as it is now, and unless dry_run,
 * import the new keys into the list's GnuPG home and replace the members
 * file.  Runs as the user that owns the list's files.  conf: to refuse
 * list addresses as members.  Each change is logged.
 *
 * A change that cannot be made is an OPM_ERROR_CONFIG error whose message
 * says why, with *failed (may be NULL) its index; then nothing was
 * changed.  Other codes are trouble of the host (lock, files, gpg). */
gboolean opm_member_apply(OpmConfig *conf, OpmList *list,
    GPtrArray *changes, gboolean dry_run, gint64 now, guint *failed,
    GError **error);

/* A plain text, one line per change, "by" naming who asked for them.
 * (transfer full) */
char *opm_member_summary(GPtrArray *changes, const char *by);

/* Send every admin of list (its keys loaded, its secret key present) a
 * notice of changes, signed by the list key and encrypted to the admin's
 * pinned key (the member key of the admin's address).  An admin without
 * a usable key is skipped with a warning.  Returns the number sent, or
 * -1 with error when the MTA refused one. */
gint opm_member_announce(OpmList *list, GPtrArray *changes, const char *by,
    OpmInjector *inj, gint64 now, GError **error);

/* After changes were made: a welcome to each member added (the rules,
 * the key to sign with, the list key, where the members' guide is; to
 * the new key) and a goodbye to each removed (to the old key), each
 * signed by the list key and encrypted.  A message that cannot be made
 * or queued is logged.  Returns the number queued. */
gint opm_member_greet(OpmList *list, GPtrArray *changes, OpmInjector *inj,
    gint64 now);

/* One encrypted notice from the list to the holder of key fpr at to.
 * (transfer full) */
GBytes *opm_member_notice(OpmList *list, const char *to, const char *fpr,
    const char *subject, const char *body, gint64 now, GError **error);

/* When the first usable signing or encryption (sub)key of k expires;
 * 0 never. */
gint64 opm_member_key_expires(const OpmKeyInfo *k);

/* Make a list key in gnupg_home: ed25519 for signing and certifying,
 * a cv25519 encryption subkey, no passphrase, user ID uid, expiring
 * after expires seconds (0: never).  (transfer full): its fingerprint */
char *opm_member_create_key(const char *gnupg_home, const char *uid,
    gint64 expires, GError **error);

/* The public key fpr of gnupg_home, self-signatures only, armored or
 * binary.  (transfer full) */
GBytes *opm_member_export_key(const char *gnupg_home, const char *fpr,
    gboolean armor, GError **error);

#endif
