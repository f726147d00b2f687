/*
 * NAME
 *	keys - member keys and verification through gpgme
 * SYNOPSIS
 *	opm_gpg_context(), opm_gpg_acquire(), opm_gpg_release(),
 *	opm_keys_load(), opm_keys_lookup(), opm_key_info_new(),
 *	opm_verify_detached(), opm_verify_opaque(), opm_decrypt_verify(),
 *	opm_sign_encrypt(), opm_sign_encrypt_to(), opm_list_key_check(),
 *	opm_gpg_error_is_data(), opm_gpg_strerror()
 * DESCRIPTION
 *	One keylisting per list and (re)load fills each member's OpmKeyInfo.
 *	Verification copies gpgme's structured result out of the context so
 *	that callers never touch gpgme objects.
 *
 *	Decryption (EFAIL, USENIX Security 2018) is fenced twice.  First the
 *	OpenPGP packet sequence is read without gpg: session key packets,
 *	then the encrypted data packet, which must be integrity-protected
 *	(SEIPD, tag 18, or AEAD, tag 20); a message without an MDC (tag 9)
 *	is never handed to gpg, and one with no session key for the list key
 *	or only a passphrase is refused as such.  Then gpg decrypts into a
 *	bounded memory buffer, and unless gpgme reports complete success
 *	with the list key, no MDC problem and no unsupported algorithm, the
 *	buffer is wiped and freed without being read: gpg 2.2 writes
 *	plaintext before it reports a bad MDC.
 *
 *	No passphrase is ever given: pinentry is in loopback mode and the
 *	passphrase callback refuses, so a list key that has one fails at
 *	once.  gpg-agent would still answer from its cache, so before the
 *	list key decrypts or signs, the list's agent (when one runs) is
 *	asked with KEYINFO whether a secret key of the list key is
 *	protected.  A decryption that fails is the poster's fault when
 *	gpgme's result says so (not to the list key, no MDC, damaged data
 *	including a damaged session key packet, unsupported algorithm); it
 *	is OPM_ERROR_LIST_KEY, the list's own trouble, when the error
 *	shows the list's side (its secret key, passphrase, gpg-agent, a
 *	system error); anything else is OPM_ERROR_CRYPTO, a temporary
 *	failure that raises no list-key alarm.
 * DIAGNOSTICS
 *	gpgme failures that are not about the data are OPM_ERROR_CRYPTO;
 *	a list key that cannot decrypt or sign is OPM_ERROR_LIST_KEY.
 *	One gpgme context must be used by one thread at a time.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "keys.h"
#include "pgp.h"

char *
opm_gpg_strerror(gpgme_error_t err)
{
	char buf[256];

	if (gpgme_strerror_r(err, buf, sizeof(buf)) != 0)
		g_snprintf(buf, sizeof(buf), "gpgme error %u", (unsigned)err);
	return g_strdup(buf);
}

gboolean
opm_gpg_error_is_data(gpgme_error_t err)
{
	switch (gpgme_err_code(err)) {
	case GPG_ERR_NO_DATA:
	case GPG_ERR_BAD_DATA:
	case GPG_ERR_INV_DATA:
	case GPG_ERR_BAD_SIGNATURE:
	case GPG_ERR_UNKNOWN_PACKET:
	case GPG_ERR_INV_PACKET:
	case GPG_ERR_INV_ARMOR:
	case GPG_ERR_UNEXPECTED:
	case GPG_ERR_UNSUPPORTED_ALGORITHM:
	case GPG_ERR_DIGEST_ALGO:
	case GPG_ERR_PUBKEY_ALGO:
	case GPG_ERR_WRONG_KEY_USAGE:
	case GPG_ERR_BAD_MPI:
	case GPG_ERR_NOT_SUPPORTED:
	case GPG_ERR_DECRYPT_FAILED:
	case GPG_ERR_NO_SECKEY:
	case GPG_ERR_BAD_KEY:
	case GPG_ERR_CHECKSUM:
	case GPG_ERR_TRUNCATED:
	case GPG_ERR_INV_LENGTH:
		return TRUE;
	default:
		return FALSE;
	}
}

/*
 * gpg asks for a passphrase only for a secret key that has one.  The
 * filter never gives one (loopback pinentry, so that no pinentry program
 * is started either): the key fails at once.  hook: a gboolean * that
 * records the question, or NULL.
 */
static gpgme_error_t
refuse_passphrase(void *hook, const char *uid_hint, const char *info,
    int prev_was_bad, int fd)
{
	(void)uid_hint;
	(void)info;
	(void)prev_was_bad;
	(void)fd;
	if (hook != NULL)
		*(gboolean *)hook = TRUE;
	return gpg_error(GPG_ERR_NO_PASSPHRASE);
}

gpgme_ctx_t
opm_gpg_context(const char *gnupg_home, GError **error)
{
	gpgme_ctx_t ctx = NULL;
	gpgme_error_t err;

	if ((err = gpgme_new(&ctx)) != 0 ||
	    (err = gpgme_set_protocol(ctx, GPGME_PROTOCOL_OpenPGP)) != 0 ||
	    (err = gpgme_ctx_set_engine_info(ctx, GPGME_PROTOCOL_OpenPGP,
		NULL, gnupg_home)) != 0) {
		g_autofree char *msg = opm_gpg_strerror(err);

		g_set_error(error, OPM_ERROR, OPM_ERROR_CRYPTO,
		    "cannot set up gpgme for %s: %s", gnupg_home, msg);
		if (ctx != NULL)
			gpgme_release(ctx);
		return NULL;
	}
	gpgme_set_offline(ctx, 1);
	gpgme_set_armor(ctx, 0);
	gpgme_set_textmode(ctx, 0);
	gpgme_set_pinentry_mode(ctx, GPGME_PINENTRY_MODE_LOOPBACK);
	gpgme_set_passphrase_cb(ctx, refuse_passphrase, NULL);
	/* trust is the members file's business, not the web of trust's */
	(void)gpgme_set_ctx_flag(ctx, "trust-model", "always");
	(void)gpgme_set_ctx_flag(ctx, "auto-key-retrieve", "0");
	return ctx;
}

gpgme_ctx_t
opm_gpg_acquire(OpmList *list, GError **error)
{
	gpgme_ctx_t ctx = NULL;

	pthread_mutex_lock(&list->gpg_pool_lock);
	if (list->gpg_pool != NULL && list->gpg_pool->len > 0)
		ctx = g_ptr_array_steal_index_fast(list->gpg_pool,
		    list->gpg_pool->len - 1);
	pthread_mutex_unlock(&list->gpg_pool_lock);
	return ctx != NULL ? ctx : opm_gpg_context(list->gnupg_home, error);
}

void
opm_gpg_release(OpmList *list, gpgme_ctx_t ctx)
{
	if (ctx == NULL)
		return;
	/* as opm_gpg_context() left it */
	gpgme_signers_clear(ctx);
	gpgme_set_armor(ctx, 0);
	gpgme_set_textmode(ctx, 0);
	gpgme_set_passphrase_cb(ctx, refuse_passphrase, NULL);
	pthread_mutex_lock(&list->gpg_pool_lock);
	if (list->gpg_pool == NULL)
		list->gpg_pool = g_ptr_array_new();
	if (list->gpg_pool->len < 16) {
		g_ptr_array_add(list->gpg_pool, ctx);
		ctx = NULL;
	}
	pthread_mutex_unlock(&list->gpg_pool_lock);
	if (ctx != NULL)
		gpgme_release(ctx);
}

void
opm_key_info_free(OpmKeyInfo *k)
{
	if (k == NULL)
		return;
	g_free(k->fpr);
	g_clear_pointer(&k->subkeys, g_ptr_array_unref);
	g_clear_pointer(&k->emails, g_ptr_array_unref);
	g_free(k);
}

static void
subkey_info_free(OpmSubkeyInfo *s)
{
	if (s == NULL)
		return;
	g_free(s->fpr);
	g_free(s);
}

OpmKeyInfo *
opm_key_info_new(gpgme_key_t key)
{
	OpmKeyInfo *k = g_new0(OpmKeyInfo, 1);

	k->fpr = g_ascii_strup(key->fpr != NULL ? key->fpr :
	    key->subkeys->fpr, -1);
	k->revoked = key->revoked;
	k->expired = key->expired;
	k->invalid = key->invalid;
	k->disabled = key->disabled;
	k->subkeys = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)subkey_info_free);
	k->emails = g_ptr_array_new_with_free_func(g_free);
	for (gpgme_subkey_t s = key->subkeys; s != NULL; s = s->next) {
		OpmSubkeyInfo *si = g_new0(OpmSubkeyInfo, 1);

		si->fpr = g_ascii_strup(s->fpr != NULL ? s->fpr : s->keyid, -1);
		si->revoked = s->revoked;
		si->expired = s->expired;
		si->invalid = s->invalid;
		si->disabled = s->disabled;
		si->can_sign = s->can_sign;
		si->can_encrypt = s->can_encrypt;
		si->created = s->timestamp;
		si->expires = s->expires;
		si->algo = s->pubkey_algo;
		si->bits = s->length;
		g_ptr_array_add(k->subkeys, si);
	}
	for (gpgme_user_id_t u = key->uids; u != NULL; u = u->next) {
		if (u->revoked || u->invalid || u->email == NULL ||
		    *u->email == '\0')
			continue;
		g_ptr_array_add(k->emails, opm_address_normalize(u->email));
	}
	return k;
}

static OpmKeyInfo *
key_info_copy(const OpmKeyInfo *k)
{
	OpmKeyInfo *c = g_memdup2(k, sizeof(*k));

	c->fpr = g_strdup(k->fpr);
	c->subkeys = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)subkey_info_free);
	for (guint i = 0; i < k->subkeys->len; i++) {
		OpmSubkeyInfo *s = g_memdup2(g_ptr_array_index(k->subkeys, i),
		    sizeof(OpmSubkeyInfo));

		s->fpr = g_strdup(s->fpr);
		g_ptr_array_add(c->subkeys, s);
	}
	c->emails = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < k->emails->len; i++)
		g_ptr_array_add(c->emails,
		    g_strdup(g_ptr_array_index(k->emails, i)));
	return c;
}

/* The keygrips of the secret (sub)keys of key gpg may use to sign or
 * decrypt.  (transfer full) */
static GStrv
secret_keygrips(gpgme_key_t key)
{
	g_autoptr(GPtrArray) out = g_ptr_array_new();

	for (gpgme_subkey_t s = key->subkeys; s != NULL; s = s->next)
		if (s->secret && s->keygrip != NULL && !s->revoked &&
		    !s->expired && !s->disabled && !s->invalid &&
		    (s->can_sign || s->can_encrypt))
			g_ptr_array_add(out, g_strdup(s->keygrip));
	g_ptr_array_add(out, NULL);
	return (GStrv)g_ptr_array_free(g_steal_pointer(&out), FALSE);
}

/* Where the gpg-agent of gnupg_home listens (gpgconf --list-dirs), or
 * NULL.  (transfer full) */
static char *
agent_socket(const char *gnupg_home)
{
	g_auto(gpgme_ctx_t) ctx = NULL;
	char *path = NULL, *out = NULL;

	if (gpgme_new(&ctx) != 0 ||
	    gpgme_set_protocol(ctx, GPGME_PROTOCOL_GPGCONF) != 0 ||
	    gpgme_ctx_set_engine_info(ctx, GPGME_PROTOCOL_GPGCONF, NULL,
		gnupg_home) != 0 ||
	    gpgme_op_conf_dir(ctx, "agent-socket", &path) != 0)
		return NULL;
	out = g_strdup(path);
	gpgme_free(path);
	return out;
}

/* The list key for an Autocrypt: header: exported minimal (the
 * primary key, its user ID, the encryption subkey and their
 * self-signatures), base64.  NULL when gpg cannot export it.
 * (transfer full) */
static char *
autocrypt_keydata(gpgme_ctx_t ctx, const char *fpr)
{
	gpgme_data_t d = NULL;
	size_t n = 0;
	char *p, *b64 = NULL;

	if (gpgme_data_new(&d) != 0)
		return NULL;
	if (gpgme_op_export(ctx, fpr, GPGME_EXPORT_MODE_MINIMAL, d) != 0) {
		gpgme_data_release(d);
		return NULL;
	}
	p = gpgme_data_release_and_get_mem(d, &n);
	if (n > 0)
		b64 = g_base64_encode((const guchar *)p, n);
	gpgme_free(p);
	return b64;
}

gboolean
opm_keys_load(OpmList *list, GError **error)
{
	g_auto(gpgme_ctx_t) ctx = opm_gpg_context(list->gnupg_home, error);
	g_autoptr(GHashTable) all = NULL;
	gpgme_error_t err;
	gpgme_key_t key;
	guint position = 0;

	if (ctx == NULL)
		return FALSE;
	/* primary fpr -> OpmKeyInfo, for every key in the home */
	all = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
	    (GDestroyNotify)opm_key_info_free);
	gpgme_set_keylist_mode(ctx, GPGME_KEYLIST_MODE_LOCAL);
	if ((err = gpgme_op_keylist_start(ctx, NULL, 0)) != 0)
		goto FAIL;
	while ((err = gpgme_op_keylist_next(ctx, &key)) == 0) {
		OpmKeyInfo *k = opm_key_info_new(key);

		gpgme_key_unref(key);
		k->position = position++;
		g_hash_table_replace(all, k->fpr, k);
	}
	if (gpgme_err_code(err) != GPG_ERR_EOF)
		goto FAIL;
	(void)gpgme_op_keylist_end(ctx);
	if ((err = gpgme_op_keylist_start(ctx, NULL, 1)) != 0)
		goto FAIL;
	while ((err = gpgme_op_keylist_next(ctx, &key)) == 0) {
		g_autofree char *fpr = g_ascii_strup(key->fpr, -1);
		OpmKeyInfo *k = g_hash_table_lookup(all, fpr);

		if (k != NULL)
			k->has_secret = TRUE;
		gpgme_key_unref(key);
	}
	if (gpgme_err_code(err) != GPG_ERR_EOF)
		goto FAIL;
	(void)gpgme_op_keylist_end(ctx);

	g_clear_pointer(&list->keys_by_fpr, g_hash_table_unref);
	g_clear_pointer(&list->keys, g_ptr_array_unref);
	opm_key_info_free(list->list_keyinfo);
	list->list_keyinfo = NULL;
	if (g_hash_table_lookup(all, list->list_key) != NULL) {
		/* the list key is not a member's: copy it out */
		OpmKeyInfo *lk = g_hash_table_lookup(all, list->list_key);

		list->list_keyinfo = key_info_copy(lk);
	}
	if (list->list_gpgkey != NULL)
		gpgme_key_unref(list->list_gpgkey);
	list->list_gpgkey = NULL;
	g_clear_pointer(&list->list_keygrips, g_strfreev);
	gpgme_set_keylist_mode(ctx, GPGME_KEYLIST_MODE_LOCAL |
	    GPGME_KEYLIST_MODE_WITH_KEYGRIP);
	if (list->list_keyinfo != NULL && list->list_keyinfo->has_secret &&
	    (err = gpgme_get_key(ctx, list->list_key, &key, 1)) == 0) {
		list->list_gpgkey = key;
		list->list_keygrips = secret_keygrips(key);
	}
	g_free(list->agent_socket);
	list->agent_socket = agent_socket(list->gnupg_home);
	g_clear_pointer(&list->autocrypt_keydata, g_free);
	if (list->autocrypt && list->list_keyinfo != NULL)
		list->autocrypt_keydata = autocrypt_keydata(ctx, list->list_key);
	list->keys_by_fpr = g_hash_table_new(g_str_hash, g_str_equal);
	list->keys = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)opm_key_info_free);
	for (guint i = 0; i < list->members->len; i++) {
		OpmMember *m = g_ptr_array_index(list->members, i);
		OpmKeyInfo *k;

		/* a key may serve several member addresses */
		m->key = g_hash_table_lookup(list->keys_by_fpr, m->fpr);
		if (m->key != NULL)
			continue;
		if (!g_hash_table_steal_extended(all, m->fpr, NULL,
		    (gpointer *)&k))
			continue;
		m->key = k;
		g_ptr_array_add(list->keys, k);
		for (guint j = 0; j < k->subkeys->len; j++) {
			OpmSubkeyInfo *s = g_ptr_array_index(k->subkeys, j);

			g_hash_table_insert(list->keys_by_fpr, s->fpr, k);
		}
	}
	return TRUE;
FAIL: {
	g_autofree char *msg = opm_gpg_strerror(err);

	g_set_error(error, OPM_ERROR, OPM_ERROR_CRYPTO,
	    "%s: cannot list keys in %s: %s", list->file, list->gnupg_home,
	    msg);
	return FALSE;
}
}

/* gpg-agent's KEYINFO line: KEYGRIP TYPE SERIALNO IDSTR CACHED
 * PROTECTION ...; PROTECTION is P (passphrase), C (none) or - (unknown). */
typedef struct {
	gboolean seen;
	char protection;
} KeyInfo;

static gpgme_error_t
keyinfo_status(void *opaque, const char *status, const char *args)
{
	KeyInfo *ki = opaque;
	g_auto(GStrv) f = NULL;

	if (strcmp(status, "KEYINFO") != 0 || args == NULL)
		return 0;
	f = g_strsplit(args, " ", -1);
	if (g_strv_length(f) >= 6) {
		ki->seen = TRUE;
		ki->protection = f[5][0];
	}
	return 0;
}

/* A list-key error: the list, the key and the cause in plain words. */
static void
list_key_error(GError **error, const OpmList *list, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static void
list_key_error(GError **error, const OpmList *list, const char *fmt, ...)
{
	g_autofree char *cause = NULL;
	va_list ap;

	va_start(ap, fmt);
	cause = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(error, OPM_ERROR, OPM_ERROR_LIST_KEY,
	    "list %s: the list key %s cannot be used: %s", list->address,
	    list->list_key, cause);
}

static void
passphrase_error(GError **error, const OpmList *list)
{
	list_key_error(error, list, "its secret key has a passphrase, and the "
	    "filter never gives one (remove it, as the filter's user: gpg "
	    "--homedir %s --pinentry-mode loopback --passwd %s, entering the "
	    "old passphrase and then an empty one)", list->gnupg_home,
	    list->list_key);
}

gboolean
opm_list_key_check(OpmList *list, GError **error)
{
	g_auto(gpgme_ctx_t) ctx = NULL;
	g_autofree char *keys = g_build_filename(list->gnupg_home,
	    "private-keys-v1.d", NULL);

	if (list->list_gpgkey == NULL || list->list_keygrips == NULL ||
	    list->list_keygrips[0] == NULL) {
		int e = g_access(keys, R_OK | X_OK) == 0 ? 0 : errno;

		if (e != 0 && e != ENOENT)
			list_key_error(error, list, "the filter's user cannot "
			    "read %s: %s (it and its files must belong to the "
			    "filter's user)", keys, g_strerror(e));
		else
			list_key_error(error, list, "its secret key is not in %s "
			    "(import it as the filter's user, or set ListKey to "
			    "the key whose secret part is there)",
			    list->gnupg_home);
		return FALSE;
	}
	/* No agent running: nothing is cached, and gpg, which will start
	 * one, fails on a passphrase by itself. */
	if (list->agent_socket == NULL || gpgme_new(&ctx) != 0 ||
	    gpgme_set_protocol(ctx, GPGME_PROTOCOL_ASSUAN) != 0 ||
	    gpgme_ctx_set_engine_info(ctx, GPGME_PROTOCOL_ASSUAN,
		list->agent_socket, list->gnupg_home) != 0)
		return TRUE;
	for (char **g = list->list_keygrips; *g != NULL; g++) {
		g_autofree char *cmd = g_strdup_printf("KEYINFO %s", *g);
		KeyInfo ki = {FALSE, '-'};
		gpgme_error_t op = 0;
		gpgme_error_t err = gpgme_op_assuan_transact_ext(ctx, cmd, NULL,
		    NULL, NULL, NULL, keyinfo_status, &ki, &op);

		if (err != 0 && g == list->list_keygrips)
			return TRUE; /* no agent */
		if (err == 0 && op == 0 && ki.seen && ki.protection == 'C')
			continue;
		if (err == 0 && op == 0 && ki.seen && ki.protection == 'P') {
			passphrase_error(error, list);
			return FALSE;
		}
		if (err == 0 && gpgme_err_code(op) == GPG_ERR_NOT_FOUND) {
			list_key_error(error, list, "its secret key (keygrip %s) "
			    "is missing from %s", *g, keys);
			return FALSE;
		}
		{
			g_autofree char *msg = opm_gpg_strerror(err != 0 ? err :
			    op != 0 ? op : gpg_error(GPG_ERR_UNUSABLE_SECKEY));

			list_key_error(error, list, "gpg-agent cannot read its "
			    "secret key (keygrip %s) in %s: %s (the directory "
			    "and its files must belong to the filter's user)",
			    *g, keys, msg);
			return FALSE;
		}
	}
	return TRUE;
}

OpmKeyInfo *
opm_keys_lookup(OpmList *list, const char *fpr)
{
	g_autofree char *up = NULL;
	GHashTableIter it;
	gpointer kp, vp;
	gsize n;

	if (fpr == NULL || list->keys_by_fpr == NULL)
		return NULL;
	up = g_ascii_strup(fpr, -1);
	if ((vp = g_hash_table_lookup(list->keys_by_fpr, up)) != NULL)
		return vp;
	/* gpg reports only the key ID when it lacks a v4 issuer fingerprint */
	n = strlen(up);
	if (n != 16)
		return NULL;
	g_hash_table_iter_init(&it, list->keys_by_fpr);
	while (g_hash_table_iter_next(&it, &kp, &vp))
		if (strlen(kp) >= n && strcmp((char *)kp + strlen(kp) - n, up) == 0)
			return vp;
	return NULL;
}

void
opm_verify_result_free(OpmVerifyResult *r)
{
	if (r == NULL)
		return;
	g_clear_pointer(&r->signatures, g_ptr_array_unref);
	g_free(r);
}

static void
signature_free(OpmSignature *s)
{
	if (s == NULL)
		return;
	g_free(s->fpr);
	g_free(s);
}

static void
copy_signatures(gpgme_verify_result_t vr, GPtrArray *out)
{
	for (gpgme_signature_t s = vr != NULL ? vr->signatures : NULL;
	    s != NULL; s = s->next) {
		OpmSignature *o = g_new0(OpmSignature, 1);

		o->fpr = g_strdup(s->fpr);
		o->status = s->status;
		o->summary = s->summary;
		o->timestamp = s->timestamp;
		o->exp_timestamp = s->exp_timestamp;
		o->hash_algo = s->hash_algo;
		o->pubkey_algo = s->pubkey_algo;
		o->wrong_key_usage = s->wrong_key_usage;
		g_ptr_array_add(out, o);
	}
}

OpmVerifyResult *
opm_verify_detached(gpgme_ctx_t ctx, GBytes *data, GBytes *sig,
    GError **error)
{
	g_auto(gpgme_data_t) d_data = NULL;
	g_auto(gpgme_data_t) d_sig = NULL;
	OpmVerifyResult *r;
	gpgme_verify_result_t vr;
	gpgme_error_t err;
	gsize dlen, slen;
	const void *dp = g_bytes_get_data(data, &dlen);
	const void *sp = g_bytes_get_data(sig, &slen);

	if ((err = gpgme_data_new_from_mem(&d_data, dp, dlen, 0)) != 0 ||
	    (err = gpgme_data_new_from_mem(&d_sig, sp, slen, 0)) != 0) {
		g_autofree char *msg = opm_gpg_strerror(err);

		g_set_error(error, OPM_ERROR, OPM_ERROR_CRYPTO,
		    "gpgme data: %s", msg);
		return NULL;
	}
	r = g_new0(OpmVerifyResult, 1);
	r->signatures = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)signature_free);
	r->op_error = gpgme_op_verify(ctx, d_sig, d_data, NULL);
	if (r->op_error != 0 && !opm_gpg_error_is_data(r->op_error)) {
		g_autofree char *msg = opm_gpg_strerror(r->op_error);

		g_set_error(error, OPM_ERROR, OPM_ERROR_CRYPTO,
		    "gpg verify failed: %s", msg);
		opm_verify_result_free(r);
		return NULL;
	}
	vr = gpgme_op_verify_result(ctx);
	copy_signatures(vr, r->signatures);
	return r;
}

/*
 * Output of gpg into memory, refused beyond a limit.  What it holds is
 * wiped when it is dropped.
 */
typedef struct {
	GByteArray *buf;
	gsize max;
	gboolean overflow;
} OpmSink;

static gpgme_ssize_t
sink_write(void *handle, const void *p, size_t n)
{
	OpmSink *s = handle;

	if (n > s->max || s->buf->len > s->max - n) {
		s->overflow = TRUE;
		errno = EFBIG;
		return -1;
	}
	g_byte_array_append(s->buf, p, (guint)n);
	return (gpgme_ssize_t)n;
}

static void
sink_wipe(OpmSink *s)
{
	if (s->buf == NULL)
		return;
	if (s->buf->len > 0)
		memset(s->buf->data, 0, s->buf->len);
	g_byte_array_unref(s->buf);
	s->buf = NULL;
}

/* The sink's bytes.  (transfer full); the sink is empty after. */
static GBytes *
sink_take(OpmSink *s)
{
	GBytes *b = g_bytes_new(s->buf->data, s->buf->len);

	sink_wipe(s);
	return b;
}

static struct gpgme_data_cbs sink_cbs = {
	.write = sink_write,
};

OpmVerifyResult *
opm_verify_opaque(gpgme_ctx_t ctx, GBytes *signed_text, gsize max_plain,
    GBytes **plain, GError **error)
{
	g_auto(gpgme_data_t) in = NULL;
	g_auto(gpgme_data_t) out = NULL;
	OpmSink sink = {g_byte_array_new(), max_plain, FALSE};
	OpmVerifyResult *r = NULL;
	gpgme_error_t err;
	gsize len;
	const void *p = g_bytes_get_data(signed_text, &len);

	*plain = NULL;
	if ((err = gpgme_data_new_from_mem(&in, p, len, 0)) != 0 ||
	    (err = gpgme_data_new_from_cbs(&out, &sink_cbs, &sink)) != 0) {
		g_autofree char *msg = opm_gpg_strerror(err);

		g_set_error(error, OPM_ERROR, OPM_ERROR_CRYPTO,
		    "gpgme data: %s", msg);
		goto DONE;
	}
	r = g_new0(OpmVerifyResult, 1);
	r->signatures = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)signature_free);
	r->op_error = gpgme_op_verify(ctx, in, NULL, out);
	if (sink.overflow) {
		r->op_error = gpg_error(GPG_ERR_TOO_LARGE);
		goto DONE;
	}
	if (r->op_error != 0 && !opm_gpg_error_is_data(r->op_error)) {
		g_autofree char *msg = opm_gpg_strerror(r->op_error);

		g_set_error(error, OPM_ERROR, OPM_ERROR_CRYPTO,
		    "gpg verify failed: %s", msg);
		g_clear_pointer(&r, opm_verify_result_free);
		goto DONE;
	}
	copy_signatures(gpgme_op_verify_result(ctx), r->signatures);
	if (r->op_error == 0)
		*plain = sink_take(&sink);
DONE:
	sink_wipe(&sink);
	return r;
}

void
opm_decrypt_result_free(OpmDecryptResult *r)
{
	if (r == NULL)
		return;
	g_clear_pointer(&r->plain, g_bytes_unref);
	g_clear_pointer(&r->signatures, g_ptr_array_unref);
	g_free(r);
}

/* TRUE when keyid (16 hex digits) names an encryption (sub)key of k. */
static gboolean
is_list_subkey(const OpmKeyInfo *k, const char *keyid)
{
	for (guint i = 0; k != NULL && i < k->subkeys->len; i++) {
		OpmSubkeyInfo *s = g_ptr_array_index(k->subkeys, i);
		gsize n = strlen(s->fpr);

		if (s->can_encrypt && n >= 16 &&
		    g_ascii_strcasecmp(s->fpr + n - 16, keyid) == 0)
			return TRUE;
	}
	return FALSE;
}

/*
 * The packet sequence of an encrypted message, read before gpg sees it:
 * OPM_DECRYPT_OK when gpg may try it.  *wildcard is set when a session
 * key packet hides its recipient (gpg then tries the list key).
 */
static OpmDecryptStatus
scan_packets(GBytes *cipher, const OpmKeyInfo *list_key, gboolean *wildcard)
{
	g_autoptr(GBytes) bin = NULL;
	gsize n, i = 0, s = 0;
	const char *t = g_bytes_get_data(cipher, &n);
	const guint8 *p;
	guint pkesk = 0, skesk = 0;
	gboolean ours = FALSE;

	*wildcard = FALSE;
	if (t == NULL)
		return OPM_DECRYPT_NOT_ENCRYPTED;
	while (s < n && g_ascii_isspace(t[s]))
		s++;
	if (s < n && ((guint8)t[s] & 0x80))
		bin = g_bytes_ref(cipher);
	else if ((bin = opm_pgp_dearmor(cipher, "MESSAGE", NULL)) == NULL)
		return OPM_DECRYPT_NOT_ENCRYPTED;
	p = g_bytes_get_data(bin, &n);
	if (p == NULL)
		return OPM_DECRYPT_NOT_ENCRYPTED;
	for (;;) {
		int tag;
		gsize len;
		gboolean open;

		if (!opm_pgp_packet_header(p, n, &i, &tag, &len, &open))
			return OPM_DECRYPT_NOT_ENCRYPTED;
		if (tag == 18 || tag == 20 || tag == 9) {
			if (pkesk == 0)
				return skesk > 0 ? OPM_DECRYPT_SYMMETRIC :
				    OPM_DECRYPT_NOT_ENCRYPTED;
			if (!ours && !*wildcard)
				return OPM_DECRYPT_OTHER_KEY;
			return tag == 9 ? OPM_DECRYPT_NO_MDC : OPM_DECRYPT_OK;
		}
		if (open || len > n - i)
			return OPM_DECRYPT_NOT_ENCRYPTED;
		switch (tag) {
		case 1: /* public-key encrypted session key */
			pkesk++;
			if (len >= 9 && p[i] == 3) {
				char keyid[17];
				gboolean zero = TRUE;

				for (int b = 0; b < 8; b++) {
					g_snprintf(keyid + 2 * b, 3, "%02X",
					    p[i + 1 + b]);
					zero = zero && p[i + 1 + b] == 0;
				}
				if (zero)
					*wildcard = TRUE;
				else if (is_list_subkey(list_key, keyid))
					ours = TRUE;
			}
			break;
		case 3: /* symmetric-key encrypted session key */
			skesk++;
			break;
		case 10: /* marker */
			break;
		default: /* signed, compressed or literal data, keys ... */
			return OPM_DECRYPT_NOT_ENCRYPTED;
		}
		i += len;
	}
}

/* TRUE when err says the data did not decrypt as it should: damaged or
 * altered after it was encrypted, or a bad MDC. */
static gboolean
is_integrity_error(gpgme_error_t err)
{
	switch (gpgme_err_code(err)) {
	case GPG_ERR_DECRYPT_FAILED:
	case GPG_ERR_BAD_DATA:
	case GPG_ERR_INV_DATA:
	case GPG_ERR_NO_DATA:
	case GPG_ERR_CHECKSUM:
	case GPG_ERR_TRUNCATED:
	case GPG_ERR_INV_PACKET:
	case GPG_ERR_UNKNOWN_PACKET:
	case GPG_ERR_INV_LENGTH:
	case GPG_ERR_INV_ARMOR:
	case GPG_ERR_BAD_MPI:
	case GPG_ERR_UNEXPECTED:
	/* the session key packet is damaged: an ECDH point that is none
	 * (gpg: "Invalid object"), a key that does not unwrap */
	case GPG_ERR_INV_OBJ:
	case GPG_ERR_INV_VALUE:
	case GPG_ERR_WRONG_SECKEY:
	case GPG_ERR_BAD_KEY:
	case GPG_ERR_INV_KEYLEN:
	case GPG_ERR_TOO_SHORT:
	case GPG_ERR_TOO_LARGE:
		return TRUE;
	default:
		return FALSE;
	}
}

/* TRUE when err shows trouble on the list's side: its secret key, its
 * passphrase, gpg-agent, the file system. */
static gboolean
is_list_side_error(gpgme_error_t err)
{
	if (gpgme_err_code_to_errno(gpgme_err_code(err)) != 0)
		return TRUE; /* EACCES, EIO, ENOSPC, ENOMEM ... */
	switch (gpgme_err_code(err)) {
	case GPG_ERR_NO_SECKEY:
	case GPG_ERR_UNUSABLE_SECKEY:
	case GPG_ERR_BAD_SECKEY:
	case GPG_ERR_BAD_PASSPHRASE:
	case GPG_ERR_NO_PASSPHRASE:
	case GPG_ERR_CANCELED:
	case GPG_ERR_FULLY_CANCELED:
	case GPG_ERR_NO_PIN_ENTRY:
	case GPG_ERR_PIN_ENTRY:
	case GPG_ERR_NO_AGENT:
	case GPG_ERR_AGENT:
	case GPG_ERR_NOT_FOUND:
	case GPG_ERR_EOF:
		return TRUE;
	default:
		return FALSE;
	}
}

OpmDecryptResult *
opm_decrypt_verify(gpgme_ctx_t ctx, OpmList *list, GBytes *cipher,
    gsize max_plain, GError **error)
{
	g_auto(gpgme_data_t) in = NULL;
	g_auto(gpgme_data_t) out = NULL;
	OpmSink sink = {NULL, max_plain, FALSE};
	OpmDecryptResult *r = g_new0(OpmDecryptResult, 1);
	const OpmKeyInfo *list_key = list->list_keyinfo;
	gpgme_decrypt_result_t dr;
	gpgme_error_t err;
	gboolean wildcard, ours_ok = FALSE, ours_missing = FALSE;
	gboolean others = FALSE, asked = FALSE;
	gsize len;
	const void *p = g_bytes_get_data(cipher, &len);

	r->signatures = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)signature_free);
	if ((r->status = scan_packets(cipher, list_key, &wildcard)) !=
	    OPM_DECRYPT_OK)
		return r;
	/* a passphrase gpg-agent still holds must not open it */
	if (!opm_list_key_check(list, error))
		goto FAIL;
	sink.buf = g_byte_array_new();
	if ((err = gpgme_data_new_from_mem(&in, p, len, 0)) != 0 ||
	    (err = gpgme_data_new_from_cbs(&out, &sink_cbs, &sink)) != 0) {
		g_autofree char *msg = opm_gpg_strerror(err);

		g_set_error(error, OPM_ERROR, OPM_ERROR_CRYPTO,
		    "gpgme data: %s", msg);
		goto FAIL;
	}
	gpgme_set_passphrase_cb(ctx, refuse_passphrase, &asked);
	err = gpgme_op_decrypt_ext(ctx, GPGME_DECRYPT_VERIFY, in, out);
	gpgme_set_passphrase_cb(ctx, refuse_passphrase, NULL);
	dr = gpgme_op_decrypt_result(ctx);
	for (gpgme_recipient_t rc = dr != NULL ? dr->recipients : NULL;
	    rc != NULL; rc = rc->next) {
		gboolean mine = rc->keyid != NULL &&
		    (is_list_subkey(list_key, rc->keyid) ||
		    (wildcard && strspn(rc->keyid, "0") == strlen(rc->keyid)));

		if (mine && rc->status == 0)
			ours_ok = TRUE;
		else if (mine && !wildcard &&
		    gpgme_err_code(rc->status) == GPG_ERR_NO_SECKEY)
			ours_missing = TRUE;
		else if (!mine)
			others = TRUE;
	}
	/* The poster's side: the structured result says what is wrong with
	 * the post.  Everything else is the list's side. */
	if (sink.overflow) {
		r->status = OPM_DECRYPT_TOO_BIG;
	} else if (dr != NULL && dr->legacy_cipher_nomdc) {
		r->status = OPM_DECRYPT_NO_MDC;
	} else if (asked) {
		/* even when the cache answered: the verdict never depends on
		 * a passphrase */
		passphrase_error(error, list);
		goto FAIL;
	} else if (err == 0 && dr != NULL && ours_ok &&
	    dr->unsupported_algorithm == NULL && !dr->wrong_key_usage) {
		r->status = OPM_DECRYPT_OK;
		r->is_mime = dr->is_mime;
		copy_signatures(gpgme_op_verify_result(ctx), r->signatures);
		r->plain = sink_take(&sink);
		return r;
	} else if ((dr != NULL && dr->unsupported_algorithm != NULL) ||
	    gpgme_err_code(err) == GPG_ERR_UNSUPPORTED_ALGORITHM ||
	    gpgme_err_code(err) == GPG_ERR_CIPHER_ALGO) {
		r->status = OPM_DECRYPT_UNSUPPORTED;
	} else if ((dr != NULL && dr->wrong_key_usage) ||
	    (err == 0 && !ours_ok)) {
		r->status = OPM_DECRYPT_OTHER_KEY;
	} else if (!opm_list_key_check(list, error)) {
		/* gpg has started the agent by now: it names the cause */
		goto FAIL;
	} else if (ours_missing) {
		list_key_error(error, list, "gpg finds no usable secret key "
		    "for it in %s", list->gnupg_home);
		goto FAIL;
	} else if (gpgme_err_code(err) == GPG_ERR_NO_SECKEY &&
	    (others || wildcard)) {
		/* the list key, which works, is not among the recipients */
		r->status = OPM_DECRYPT_OTHER_KEY;
	} else if (is_integrity_error(err)) {
		/* the post's data is damaged: its session key packet, or
		 * what the session key opens */
		r->status = OPM_DECRYPT_INTEGRITY;
	} else if (err == 0 || is_list_side_error(err)) {
		g_autofree char *msg = opm_gpg_strerror(err != 0 ? err :
		    gpg_error(GPG_ERR_DECRYPT_FAILED));

		list_key_error(error, list, "gpg cannot decrypt with it: %s",
		    msg);
		goto FAIL;
	} else {
		/* neither known to be the post's fault nor the list key's:
		 * a temporary failure, no alarm that the list key is
		 * broken */
		g_autofree char *msg = opm_gpg_strerror(err);

		g_set_error(error, OPM_ERROR, OPM_ERROR_CRYPTO,
		    "gpg cannot decrypt the post: %s", msg);
		goto FAIL;
	}
	/* the plaintext gpg may have written before the failure is dropped
	 * unread */
	sink_wipe(&sink);
	g_ptr_array_set_size(r->signatures, 0);
	return r;
FAIL:
	sink_wipe(&sink);
	opm_decrypt_result_free(r);
	return NULL;
}

gboolean
opm_key_can(const OpmKeyInfo *k, gboolean sign, gint64 now)
{
	if (k == NULL || k->revoked || k->expired || k->invalid || k->disabled)
		return FALSE;
	for (guint i = 0; i < k->subkeys->len; i++) {
		OpmSubkeyInfo *s = g_ptr_array_index(k->subkeys, i);

		if (s->revoked || s->expired || s->invalid || s->disabled ||
		    (s->expires != 0 && s->expires <= now))
			continue;
		if (sign ? s->can_sign : s->can_encrypt)
			return i == 0 || ((OpmSubkeyInfo *)
			    g_ptr_array_index(k->subkeys, 0))->expires == 0 ||
			    ((OpmSubkeyInfo *)g_ptr_array_index(k->subkeys,
				0))->expires > now;
	}
	return FALSE;
}

/* TRUE when err says the signer's secret key cannot be used. */
static gboolean
is_secret_key_error(gpgme_error_t err)
{
	switch (gpgme_err_code(err)) {
	case GPG_ERR_NO_SECKEY:
	case GPG_ERR_UNUSABLE_SECKEY:
	case GPG_ERR_BAD_PASSPHRASE:
	case GPG_ERR_NO_PASSPHRASE:
	case GPG_ERR_NO_AGENT:
		return TRUE;
	default:
		return FALSE;
	}
}

GBytes *
opm_sign_encrypt(gpgme_ctx_t ctx, gpgme_key_t signer,
    const char *const *recipients, GBytes *plain, GError **error)
{
	return opm_sign_encrypt_to(ctx, signer, recipients, plain, TRUE, error);
}

GBytes *
opm_sign_encrypt_to(gpgme_ctx_t ctx, gpgme_key_t signer,
    const char *const *recipients, GBytes *plain, gboolean armor,
    GError **error)
{
	g_auto(gpgme_data_t) in = NULL;
	g_auto(gpgme_data_t) out = NULL;
	g_autoptr(GString) rcpts = g_string_new(NULL);
	gpgme_encrypt_result_t er;
	gpgme_sign_result_t sr;
	gpgme_error_t err;
	gboolean asked = FALSE;
	gsize len;
	const void *p = g_bytes_get_data(plain, &len);
	char *buf;
	size_t n;

	for (const char *const *r = recipients; *r != NULL; r++)
		g_string_append_printf(rcpts, "%s\n", *r);
	if ((err = gpgme_data_new_from_mem(&in, p, len, 0)) != 0 ||
	    (err = gpgme_data_new(&out)) != 0)
		goto FAIL;
	gpgme_signers_clear(ctx);
	if ((err = gpgme_signers_add(ctx, signer)) != 0)
		goto FAIL;
	gpgme_set_armor(ctx, armor);
	gpgme_set_passphrase_cb(ctx, refuse_passphrase, &asked);
	err = gpgme_op_encrypt_sign_ext(ctx, NULL, rcpts->str,
	    GPGME_ENCRYPT_ALWAYS_TRUST | GPGME_ENCRYPT_NO_ENCRYPT_TO, in, out);
	gpgme_set_passphrase_cb(ctx, refuse_passphrase, NULL);
	gpgme_set_armor(ctx, 0);
	gpgme_signers_clear(ctx);
	er = gpgme_op_encrypt_result(ctx);
	if (er != NULL && er->invalid_recipients != NULL) {
		g_autofree char *msg = opm_gpg_strerror(
		    er->invalid_recipients->reason);

		g_set_error(error, OPM_ERROR, OPM_ERROR_KEY, "key %s: %s",
		    er->invalid_recipients->fpr != NULL ?
		    er->invalid_recipients->fpr : "?", msg);
		return NULL;
	}
	/* gpgme counts a refused recipient as an invalid signer too */
	sr = gpgme_op_sign_result(ctx);
	if (asked || (sr != NULL && sr->invalid_signers != NULL) ||
	    is_secret_key_error(err)) {
		g_autofree char *msg = opm_gpg_strerror(
		    sr != NULL && sr->invalid_signers != NULL ?
		    sr->invalid_signers->reason : err);

		g_set_error(error, OPM_ERROR, OPM_ERROR_LIST_KEY,
		    "the list key %s cannot sign: %s", signer->fpr, asked ?
		    "its secret key has a passphrase, and the filter never "
		    "gives one" : msg);
		return NULL;
	}
	if (err != 0)
		goto FAIL;
	buf = gpgme_data_release_and_get_mem(out, &n);
	out = NULL;
	if (buf == NULL) {
		g_set_error(error, OPM_ERROR, OPM_ERROR_CRYPTO,
		    "gpg produced no ciphertext");
		return NULL;
	}
	/* the buffer itself, not a copy: a large post's ciphertext is
	 * large */
	return g_bytes_new_with_free_func(buf, n, gpgme_free, buf);
FAIL: {
	g_autofree char *msg = opm_gpg_strerror(err);

	g_set_error(error, OPM_ERROR, gpgme_err_code(err) ==
	    GPG_ERR_UNUSABLE_PUBKEY ? OPM_ERROR_KEY : OPM_ERROR_CRYPTO,
	    "sign and encrypt: %s", msg);
	return NULL;
}
}
