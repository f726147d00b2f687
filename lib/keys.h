/*
 * NAME
 *	keys.h - member keys and OpenPGP operations through gpgme
 * DESCRIPTION
 *	Member keys are listed once per (re)load of the configuration, so
 *	that no gpg process is started to look up a key while a post is
 *	handled.  Verification returns gpgme's structured result copied into
 *	plain structs; nothing is ever decided from gpg's text output.
 */
#ifndef OPM_KEYS_H
#define OPM_KEYS_H

#include "conf.h"

typedef struct {
	char *fpr;
	gboolean revoked, expired, invalid, disabled;
	gboolean can_sign, can_encrypt;
	gint64 created, expires; /* expires 0: never */
	gpgme_pubkey_algo_t algo;
	guint bits;
} OpmSubkeyInfo;

struct OpmKeyInfo {
	char *fpr;           /* primary key fingerprint, upper case */
	gboolean revoked, expired, invalid, disabled;
	GPtrArray *subkeys;  /* OpmSubkeyInfo *, [0] is the primary key */
	GPtrArray *emails;   /* char *, normalized addresses of valid UIDs */
	gboolean has_secret;
	guint position;      /* where the keyring holds it, counted from 0:
				gpg looks a recipient up by reading the
				keyring from the start */
};

void opm_key_info_free(OpmKeyInfo *k); /* accepts NULL */

/* What the library keeps of a key gpgme listed; position 0, has_secret
 * FALSE.  (transfer full): opm_key_info_free() */
OpmKeyInfo *opm_key_info_new(gpgme_key_t key);

/* A gpgme context for the GnuPG home, OpenPGP, offline, armor off, with
 * the trust model set to "always" (trust comes from the members file).
 * NULL with error on failure.  (transfer full): gpgme_release(). */
gpgme_ctx_t opm_gpg_context(const char *gnupg_home, GError **error);

/* A context for the list's GnuPG home from the list's pool, or a new
 * one: setting a context's home makes gpgme run "gpg --version", so
 * contexts are kept for the next post.  Use by one thread at a time;
 * give back with opm_gpg_release().  (transfer full) */
gpgme_ctx_t opm_gpg_acquire(OpmList *list, GError **error);
void opm_gpg_release(OpmList *list, gpgme_ctx_t ctx); /* accepts NULL */

/* List every key in the list's GnuPG home once and attach to each member
 * its OpmKeyInfo (NULL where the key is missing); fill keys_by_fpr.
 * FALSE with error only if gpg itself failed. */
gboolean opm_keys_load(OpmList *list, GError **error);

/* The member key that has a (sub)key with this fingerprint, or NULL.
 * Accepts a 16-hex key ID as gpg may report for unknown keys.
 * (transfer none) */
OpmKeyInfo *opm_keys_lookup(OpmList *list, const char *fpr);

typedef struct {
	char *fpr;                 /* fingerprint or key ID as reported */
	gpgme_error_t status;      /* 0 for a good signature */
	gpgme_sigsum_t summary;
	gint64 timestamp;
	gint64 exp_timestamp;
	gpgme_hash_algo_t hash_algo;
	gpgme_pubkey_algo_t pubkey_algo;
	gboolean wrong_key_usage;
} OpmSignature;

typedef struct {
	gpgme_error_t op_error;    /* gpgme_op_verify's own return */
	GPtrArray *signatures;     /* OpmSignature *, owned */
} OpmVerifyResult;

void opm_verify_result_free(OpmVerifyResult *r); /* accepts NULL */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OpmVerifyResult, opm_verify_result_free)

/* Verify a detached signature over data.  Returns NULL with error only for
 * internal trouble (gpg could not be run); problems of the message itself
 * are in op_error and in each signature's status.  (transfer full) */
OpmVerifyResult *opm_verify_detached(gpgme_ctx_t ctx, GBytes *data,
    GBytes *sig, GError **error);

/* Verify an opaque or clear-signed OpenPGP message (an inline
 * "BEGIN PGP SIGNED MESSAGE" block).  *plain gets the signed text gpg
 * recovered, dash-escaping undone, only when gpg reported no error; it is
 * at most max_plain bytes.  NULL with error only for internal trouble.
 * (transfer full) */
OpmVerifyResult *opm_verify_opaque(gpgme_ctx_t ctx, GBytes *signed_text,
    gsize max_plain, GBytes **plain, GError **error);

typedef enum {
	OPM_DECRYPT_OK,            /* decrypted with the list key */
	OPM_DECRYPT_NOT_ENCRYPTED, /* not an encrypted OpenPGP message (for
				      instance one that is only signed) */
	OPM_DECRYPT_SYMMETRIC,     /* encrypted with a passphrase only */
	OPM_DECRYPT_OTHER_KEY,     /* not encrypted to the list key */
	OPM_DECRYPT_NO_MDC,        /* no integrity protection */
	OPM_DECRYPT_INTEGRITY,     /* the list key opened it, but the data
				      is damaged or was altered */
	OPM_DECRYPT_TOO_BIG,       /* the plaintext is over the limit */
	OPM_DECRYPT_UNSUPPORTED,   /* an algorithm gpg does not support */
} OpmDecryptStatus;

typedef struct {
	OpmDecryptStatus status;
	GBytes *plain;             /* OK only: the plaintext; else NULL */
	gboolean is_mime;          /* the sender marked the content MIME */
	GPtrArray *signatures;     /* OK only: OpmSignature *, the signatures
				      made inside the encryption; owned */
} OpmDecryptResult;

void opm_decrypt_result_free(OpmDecryptResult *r); /* accepts NULL */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OpmDecryptResult, opm_decrypt_result_free)

/* Decrypt an OpenPGP message (armored or binary) with the key of list,
 * and verify what is signed inside.  Before gpg sees it, the packet
 * sequence is checked: public-key session key packets, one of them for
 * an encryption subkey of the list key, then an integrity-protected data
 * packet (SEIPD or AEAD); a message without integrity protection is
 * never decrypted.  On any failure the output is discarded unread and
 * plain is NULL; the plaintext is limited to max_plain bytes.  A status
 * other than OK is the poster's fault, told apart from gpgme's
 * structured result.  NULL with error for trouble on the list's side:
 * OPM_ERROR_LIST_KEY when the list key cannot be used (it needs a
 * passphrase, even one gpg-agent has cached; its secret part is missing
 * or unreadable; gpg-agent cannot start), another code for internal
 * trouble.  (transfer full) */
OpmDecryptResult *opm_decrypt_verify(gpgme_ctx_t ctx, OpmList *list,
    GBytes *cipher, gsize max_plain, GError **error);

/* TRUE when the secret part of list's key can be used without a
 * passphrase.  It asks the list's gpg-agent, when one runs, about every
 * secret (sub)key of the list key: a passphrase the agent has cached
 * does not count.  With no agent running nothing is cached, and gpg
 * fails on a passphrase by itself (the filter never gives one).  FALSE
 * with an OPM_ERROR_LIST_KEY error naming the list, the key and the
 * cause. */
gboolean opm_list_key_check(OpmList *list, GError **error);

/* TRUE when k is usable at time now and has a usable (sub)key that can
 * sign (sign TRUE) or encrypt (sign FALSE). */
gboolean opm_key_can(const OpmKeyInfo *k, gboolean sign, gint64 now);

/* Sign plain with signer and encrypt it to the keys whose fingerprints are
 * in recipients (NULL-terminated), ASCII-armored, ignoring any
 * encrypt-to of the GnuPG home.  A recipient key gpg will not use is an
 * OPM_ERROR_KEY error naming it; a signer that cannot sign (passphrase,
 * secret part missing) an OPM_ERROR_LIST_KEY error.  (transfer full) */
GBytes *opm_sign_encrypt(gpgme_ctx_t ctx, gpgme_key_t signer,
    const char *const *recipients, GBytes *plain, GError **error);

/* The same, binary (OpenPGP packets) unless armor.  (transfer full) */
GBytes *opm_sign_encrypt_to(gpgme_ctx_t ctx, gpgme_key_t signer,
    const char *const *recipients, GBytes *plain, gboolean armor,
    GError **error);

/* TRUE when a gpgme error code is about the data handed to gpg (bad or
 * missing signature, broken packets) rather than about gpg itself. */
gboolean opm_gpg_error_is_data(gpgme_error_t err);

/* Text for a gpgme error code.  (transfer full) */
char *opm_gpg_strerror(gpgme_error_t err);

#endif
