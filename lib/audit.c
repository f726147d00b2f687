/*
 * NAME
 *	audit - the configuration check behind "openpgp-milter -n"
 * SYNOPSIS
 *	opm_audit_list(), opm_audit_key(), opm_audit_list_key(),
 *	opm_problem_free(), opm_incident_begin(), opm_incident_end()
 * DESCRIPTION
 *	For one list: the GnuPG home must not fetch or import keys by itself;
 *	the list key must be there with its secret part, able to sign and to
 *	encrypt; every member's pinned key must be there under its primary
 *	fingerprint, neither expired, revoked nor disabled, with a usable
 *	signing and encryption key, a user ID with the member's address, and
 *	an acceptable algorithm and size.  Keys that expire within
 *	KeyExpiryWarning give a warning, and so does a members file whose
 *	directory this user cannot write (membership changes rename a new
 *	file into it).
 *
 *	opm_audit_list_key() uses the list key as the daemon does, without a
 *	passphrase: it signs a text and decrypts one encrypted to the list
 *	key, so that a passphrase, a missing or unreadable secret part or an
 *	agent that cannot start shows before the first post.
 *
 *	An incident is a time during which the list key cannot be used.  It
 *	is kept in the state directory as the file "incident.ADDRESS", made
 *	with O_EXCL by the first post that finds the key unusable (that post
 *	alone has the admins told), holding the cause; the first post
 *	distributed afterwards removes it, which ends the incident.  So the
 *	admins get one notice per incident, also across restarts and reloads.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "audit.h"
#include "keys.h"

void
opm_problem_free(OpmProblem *p)
{
	if (p == NULL)
		return;
	g_free(p->where);
	g_free(p->text);
	g_free(p);
}

static void
add(GPtrArray *out, OpmSeverity sev, const char *where, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

static void
add(GPtrArray *out, OpmSeverity sev, const char *where, const char *fmt, ...)
{
	OpmProblem *p = g_new0(OpmProblem, 1);
	va_list ap;

	p->severity = sev;
	p->where = g_strdup(where);
	va_start(ap, fmt);
	p->text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_ptr_array_add(out, p);
}

static gboolean
usable(const OpmSubkeyInfo *s)
{
	return !s->revoked && !s->expired && !s->invalid && !s->disabled;
}

/* Soonest expiry among the usable subkeys with the capability, 0 never,
 * -1 none usable. */
static gint64
capability(const OpmKeyInfo *k, gboolean sign)
{
	gint64 best = -1;

	for (guint i = 0; i < k->subkeys->len; i++) {
		OpmSubkeyInfo *s = g_ptr_array_index(k->subkeys, i);

		if (!usable(s) || !(sign ? s->can_sign : s->can_encrypt))
			continue;
		if (s->expires == 0)
			return 0;
		best = MAX(best, s->expires);
	}
	return best;
}

static void
check_algorithms(GPtrArray *out, OpmList *list, const char *where,
    const OpmKeyInfo *k)
{
	for (guint i = 0; i < k->subkeys->len; i++) {
		OpmSubkeyInfo *s = g_ptr_array_index(k->subkeys, i);

		if (!usable(s))
			continue;
		switch (s->algo) {
		case GPGME_PK_RSA:
		case GPGME_PK_RSA_E:
		case GPGME_PK_RSA_S:
			if ((gint64)s->bits < list->min_rsa_bits)
				add(out, OPM_PROBLEM_ERROR, where,
				    "key %s: RSA %u bits is below the minimum "
				    "of %" G_GINT64_FORMAT, k->fpr, s->bits,
				    list->min_rsa_bits);
			break;
		case GPGME_PK_DSA:
		case GPGME_PK_ELG:
		case GPGME_PK_ELG_E:
			if (!list->allow_dsa)
				add(out, OPM_PROBLEM_ERROR, where,
				    "key %s: %s keys are not accepted "
				    "(AllowDsa no)", k->fpr,
				    gpgme_pubkey_algo_name(s->algo));
			break;
		default:
			break;
		}
	}
}

static void
check_expiry(GPtrArray *out, OpmList *list, const char *where,
    const OpmKeyInfo *k, const char *what, gint64 when, gint64 now)
{
	if (when > 0 && when - now < list->key_expiry_warning) {
		g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(when);
		g_autofree char *d = g_date_time_format(dt, "%Y-%m-%d");

		add(out, OPM_PROBLEM_WARNING, where, "key %s: %s expires on %s",
		    k->fpr, what, d);
	}
}

static void
check_gpg_conf(GPtrArray *out, OpmList *list)
{
	g_autofree char *path = g_build_filename(list->gnupg_home, "gpg.conf",
	    NULL);
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;
	guint n = 0;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return;
	lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l != NULL; l++) {
		g_autofree char *where = g_strdup_printf("%s:%u", path, ++n);

		g_strstrip(*l);
		if (**l == '#')
			continue;
		if (strstr(*l, "auto-key-retrieve") != NULL ||
		    strstr(*l, "auto-key-import") != NULL ||
		    g_str_has_prefix(*l, "auto-key-locate"))
			add(out, OPM_PROBLEM_ERROR, where, "the list's GnuPG home "
			    "must not fetch or import keys by itself: remove "
			    "\"%s\"", *l);
	}
}

void
opm_audit_key(GPtrArray *out, OpmList *list, const char *where,
    const char *address, const char *fpr, const OpmKeyInfo *k, gint64 now)
{
	gint64 sign, enc;
	gboolean uid = FALSE;

	if (k == NULL) {
		add(out, OPM_PROBLEM_ERROR, where, "%s: no key with primary "
		    "fingerprint %s in %s (import it, and pin the "
		    "primary key's fingerprint, not a subkey's)",
		    address, fpr, list->gnupg_home);
		return;
	}
	if (k->revoked || k->expired || k->disabled || k->invalid) {
		add(out, OPM_PROBLEM_ERROR, where, "%s: key %s is %s",
		    address, k->fpr, k->revoked ? "revoked" :
		    k->expired ? "expired" : k->disabled ? "disabled" :
		    "invalid");
		return;
	}
	sign = capability(k, TRUE);
	enc = capability(k, FALSE);
	if (sign < 0)
		add(out, OPM_PROBLEM_ERROR, where, "%s: key %s has no "
		    "usable signing key", address, k->fpr);
	if (enc < 0)
		add(out, OPM_PROBLEM_ERROR, where, "%s: key %s has no "
		    "usable encryption key", address, k->fpr);
	for (guint j = 0; j < k->emails->len; j++)
		if (g_ascii_strcasecmp(g_ptr_array_index(k->emails, j),
		    address) == 0)
			uid = TRUE;
	if (!uid)
		add(out, OPM_PROBLEM_ERROR, where, "%s: no valid user ID "
		    "of key %s carries this address", address, k->fpr);
	check_algorithms(out, list, where, k);
	check_expiry(out, list, where, k, "its signing key", MAX(sign, 0),
	    now);
	check_expiry(out, list, where, k, "its encryption key",
	    MAX(enc, 0), now);
}

const char *
opm_audit_inactive(const OpmMember *m, gint64 now)
{
	if (m->key == NULL)
		return "its key is missing";
	if (m->key->revoked)
		return "its key is revoked";
	if (m->key->expired)
		return "its key has expired";
	if (m->key->invalid || m->key->disabled)
		return "its key is not usable";
	if (!opm_key_can(m->key, TRUE, now) || !opm_key_can(m->key, FALSE, now))
		return "its key can no longer sign or encrypt";
	return NULL;
}

GPtrArray *
opm_audit_list(OpmList *list, gint64 now)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)opm_problem_free);
	OpmKeyInfo *lk = list->list_keyinfo;

	if (!g_file_test(list->gnupg_home, G_FILE_TEST_IS_DIR))
		add(out, OPM_PROBLEM_ERROR, list->file,
		    "GnupgHome %s is not a directory", list->gnupg_home);
	check_gpg_conf(out, list);
	if (lk == NULL) {
		add(out, OPM_PROBLEM_ERROR, list->file, "the list key %s is not "
		    "in %s", list->list_key, list->gnupg_home);
	} else {
		if (lk->revoked || lk->expired || lk->disabled || lk->invalid)
			add(out, OPM_PROBLEM_ERROR, list->file,
			    "the list key %s is %s", lk->fpr, lk->revoked ?
			    "revoked" : lk->expired ? "expired" : "not usable");
		else {
			if (capability(lk, TRUE) < 0)
				add(out, OPM_PROBLEM_ERROR, list->file, "the list "
				    "key %s cannot sign", lk->fpr);
			if (capability(lk, FALSE) < 0)
				add(out, OPM_PROBLEM_ERROR, list->file, "the list "
				    "key %s cannot encrypt", lk->fpr);
			check_expiry(out, list, list->file, lk, "the list key",
			    MAX(capability(lk, TRUE), 0), now);
		}
	}
	if (list->members->len == 0)
		add(out, OPM_PROBLEM_WARNING, list->members_file,
		    "the list has no members");
	if (g_strcmp0(list->admission, "vouch") == 0) {
		guint admins = list->admins != NULL ? list->admins->len : 0;

		if (list->admin_approval && admins == 0)
			add(out, OPM_PROBLEM_ERROR, list->file, "Admission vouch "
			    "with AdminApproval yes needs an Admin to approve");
		else if (admins == 0)
			add(out, OPM_PROBLEM_WARNING, list->file, "Admission "
			    "vouch without an Admin: nobody can end a nomination "
			    "by objecting");
		if (list->members->len > 0 &&
		    (gint64)list->members->len - 1 < list->vouches_required)
			add(out, OPM_PROBLEM_WARNING, list->file,
			    "VouchesRequired is %" G_GINT64_FORMAT ", but the list "
			    "has only %u members besides a nominator: nobody can "
			    "be admitted", list->vouches_required,
			    list->members->len - 1);
	}
	{
		/* membership changes replace the file by a rename */
		g_autofree char *dir = g_path_get_dirname(list->members_file);

		if (g_access(dir, W_OK) != 0)
			add(out, OPM_PROBLEM_WARNING, list->members_file,
			    "this user cannot write to %s: membership changes "
			    "(openpgp-milter-admin, command mails) will fail",
			    dir);
	}
	for (guint i = 0; i < list->members->len; i++) {
		OpmMember *m = g_ptr_array_index(list->members, i);
		g_autofree char *where = g_strdup_printf("%s:%u",
		    list->members_file, m->line);
		const char *inactive = opm_audit_inactive(m, now);
		guint before = out->len, j;

		opm_audit_key(out, list, where, m->address, m->fpr, m->key, now);
		if (inactive == NULL)
			continue;
		/* said on the member's error line, or on a line of its own */
		for (j = before; j < out->len; j++) {
			OpmProblem *p = g_ptr_array_index(out, j);

			if (p->severity == OPM_PROBLEM_ERROR) {
				char *t = g_strdup_printf("%s; inactive (%s): remove "
				    "the member or get a new key", p->text,
				    inactive);

				g_free(p->text);
				p->text = t;
				break;
			}
		}
		if (j == out->len)
			add(out, OPM_PROBLEM_WARNING, where, "%s: inactive (%s): "
			    "remove the member or get a new key", m->address,
			    inactive);
	}
	return out;
}

void
opm_audit_list_key(GPtrArray *out, OpmList *list)
{
	g_autoptr(GError) error = NULL;
	g_auto(gpgme_ctx_t) ctx = NULL;
	g_autoptr(GBytes) text = g_bytes_new_static("openpgp-milter -n\n", 18);
	g_autoptr(GBytes) cipher = NULL;
	g_autoptr(OpmDecryptResult) d = NULL;
	const char *self[] = {list->list_key, NULL};

	if (list->list_keyinfo == NULL)
		return; /* said already */
	if ((ctx = opm_gpg_context(list->gnupg_home, &error)) == NULL ||
	    !opm_list_key_check(list, &error) ||
	    (cipher = opm_sign_encrypt(ctx, list->list_gpgkey, self, text,
		&error)) == NULL ||
	    (d = opm_decrypt_verify(ctx, list, cipher, 4096, &error)) == NULL) {
		add(out, OPM_PROBLEM_ERROR, list->file, "%s", error->message);
		return;
	}
	if (d->status != OPM_DECRYPT_OK)
		add(out, OPM_PROBLEM_ERROR, list->file, "the list key %s cannot "
		    "decrypt a text encrypted to it", list->list_key);
}

static char *
incident_path(const char *state_dir, const char *list)
{
	g_autofree char *name = g_strconcat("incident.", list, NULL);

	return g_build_filename(state_dir, name, NULL);
}

gboolean
opm_incident_begin(const char *state_dir, const char *list,
    const char *cause, GError **error)
{
	g_autofree char *path = incident_path(state_dir, list);
	gsize n = strlen(cause);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0 && errno == EEXIST)
		return FALSE;
	if (fd < 0 || write(fd, cause, n) != (ssize_t)n ||
	    write(fd, "\n", 1) != 1) {
		int e = errno;

		g_set_error(error, OPM_ERROR, OPM_ERROR_IO, "%s: %s", path,
		    g_strerror(e));
		if (fd >= 0)
			(void)close(fd);
		return TRUE; /* better two notices than none */
	}
	(void)close(fd);
	return TRUE;
}

gboolean
opm_incident_end(const char *state_dir, const char *list)
{
	g_autofree char *path = incident_path(state_dir, list);

	return g_unlink(path) == 0;
}
