/*
 * NAME
 *	member - membership changes: add, remove, change a member's key
 * SYNOPSIS
 *	opm_change_new(), opm_change_free(), opm_change_op_name(),
 *	opm_member_apply(), opm_member_summary(), opm_member_announce(),
 *	opm_member_notice(), opm_member_create_key(), opm_member_export_key(),
 *	opm_member_key_expires(), opm_member_greet()
 * DESCRIPTION
 *	A batch of changes runs under an exclusive flock(2) on
 *	MEMBERSFILE.lock, so that two changes at once (two admins, or the
 *	admin tool and a command mail) are made one after the other, each on
 *	the members file the other left.  Under the lock:
 *
 *	1. The members file is read and parsed as the daemon parses it, and
 *	   each change is checked against it in order: the address must be a
 *	   plain address, not one of the host's lists, and a member or not as
 *	   the change needs.
 *	2. A new key is read without trusting it: the block must be OpenPGP
 *	   public-key packets only (a secret key is refused); it is imported
 *	   into a scratch GnuPG home inside the list's, where the key to pin
 *	   is chosen (the named fingerprint, or the one key with a user ID
 *	   for the address) and checked with the rules of "openpgp-milter
 *	   -n" (opm_audit_key()).  Only that key, exported minimal, goes on.
 *	3. The keys are imported into the list's GnuPG home and checked once
 *	   more as that home now holds them (a revocation it knew counts).
 *	4. The new members file is written to a temporary file beside it,
 *	   synced, renamed over the old one and the directory synced.
 *
 *	A crash before step 4's rename leaves the old members file, with at
 *	most a key in the keyring that it does not name (harmless: trust
 *	comes from the members file); after it, the new one, whose keys are
 *	all imported.  The daemon notices the new file by its stamp
 *	(opm_conf_members_changed()) and reads it for the next post.
 *	Removed members' keys stay in the keyring.
 * DIAGNOSTICS
 *	OPM_ERROR_CONFIG: a change that cannot be made, saying why.
 *	OPM_ERROR_IO, OPM_ERROR_CRYPTO: the host's trouble.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "audit.h"
#include "copy.h"
#include "keys.h"
#include "member.h"
#include "mime.h"
#include "pgp.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(OpmKeyInfo, opm_key_info_free)

/* No key block a member sends needs more. */
#define MAX_KEY_BLOCK (1024 * 1024)

OpmChange *
opm_change_new(OpmChangeOp op, const char *address, const char *fpr,
    const char *name, GBytes *keys)
{
	OpmChange *c = g_new0(OpmChange, 1);

	c->op = op;
	c->address = g_strdup(address);
	c->fpr = g_strdup(fpr);
	c->name = g_strdup(name);
	c->keys = keys != NULL ? g_bytes_ref(keys) : NULL;
	return c;
}

void
opm_change_free(OpmChange *c)
{
	if (c == NULL)
		return;
	g_free(c->address);
	g_free(c->fpr);
	g_free(c->name);
	g_clear_pointer(&c->keys, g_bytes_unref);
	g_free(c->old_fpr);
	g_free(c->new_fpr);
	g_free(c->warnings);
	g_free(c);
}

const char *
opm_change_op_name(OpmChangeOp op)
{
	switch (op) {
	case OPM_CHANGE_ADD:
		return "add-member";
	case OPM_CHANGE_REMOVE:
		return "remove-member";
	case OPM_CHANGE_SET_KEY:
		return "set-key";
	}
	return "?";
}

/* Remove a scratch directory and what gpg left in it. */
static void
remove_tree(const char *path)
{
	GStatBuf st;

	if (g_lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		GDir *d = g_dir_open(path, 0, NULL);
		const char *n;

		while (d != NULL && (n = g_dir_read_name(d)) != NULL) {
			g_autofree char *p = g_build_filename(path, n, NULL);

			remove_tree(p);
		}
		if (d != NULL)
			g_dir_close(d);
		(void)g_rmdir(path);
	} else
		(void)g_unlink(path);
}

/*
 * The packets of a key block, before gpg sees it: public keys, subkeys,
 * user IDs and signatures only.  (transfer full): the binary block.
 */
static GBytes *
key_packets(GBytes *keys, GError **error)
{
	gsize n;
	const char *p = g_bytes_get_data(keys, &n);
	g_autoptr(GBytes) bin = NULL;
	g_autoptr(GError) aerr = NULL;
	const guint8 *b;
	gsize len, i = 0;
	guint packets = 0;

	if (n == 0)
		return opm_refuse(error, "the key block is empty"), NULL;
	if (n > MAX_KEY_BLOCK)
		return opm_refuse(error, "the key block is larger than %d bytes",
		    MAX_KEY_BLOCK), NULL;
	if (g_strstr_len(p, (gssize)n, "-----BEGIN PGP PRIVATE KEY BLOCK") !=
	    NULL)
		return opm_refuse(error, "the key block holds a secret key: send "
		    "the public key only"), NULL;
	if (g_strstr_len(p, (gssize)n, "-----BEGIN PGP") != NULL) {
		bin = opm_pgp_dearmor(keys, "PUBLIC KEY BLOCK", &aerr);
		if (bin == NULL)
			return opm_refuse(error, "the key block is not a valid armored "
			    "OpenPGP public key block (%s)", aerr->message), NULL;
	} else
		bin = g_bytes_ref(keys);
	b = g_bytes_get_data(bin, &len);
	while (i < len) {
		int tag;
		gsize plen;
		gboolean open;

		if (!opm_pgp_packet_header(b, len, &i, &tag, &plen, &open) ||
		    open || plen > len - i)
			return opm_refuse(error, "the key block is malformed (packet "
			    "%u is cut short or not a key packet)", packets + 1),
			    NULL;
		if (tag == 5 || tag == 7)
			return opm_refuse(error, "the key block holds a secret key: "
			    "send the public key only"), NULL;
		if (packets == 0 && tag != 6)
			return opm_refuse(error, "the key block does not start with a "
			    "public key"), NULL;
		if (tag != 6 && tag != 14 && tag != 13 && tag != 17 &&
		    tag != 2 && tag != 12)
			return opm_refuse(error, "the key block holds a packet of type "
			    "%d, which no public key block has", tag), NULL;
		i += plen;
		packets++;
	}
	if (packets == 0)
		return opm_refuse(error, "the key block holds no key"), NULL;
	return g_steal_pointer(&bin);
}

static gboolean
gpg_failed(GError **error, gpgme_error_t err, const char *what)
{
	g_autofree char *msg = opm_gpg_strerror(err);

	g_set_error(error, OPM_ERROR, OPM_ERROR_CRYPTO, "%s: %s", what, msg);
	return FALSE;
}

static gboolean
import(gpgme_ctx_t ctx, GBytes *bin, gboolean *none, GError **error)
{
	g_auto(gpgme_data_t) d = NULL;
	gpgme_import_result_t r;
	gpgme_error_t err;
	gsize n;
	const void *p = g_bytes_get_data(bin, &n);

	*none = FALSE;
	if ((err = gpgme_data_new_from_mem(&d, p, n, 0)) != 0)
		return gpg_failed(error, err, "gpgme data");
	err = gpgme_op_import(ctx, d);
	if (err != 0 && opm_gpg_error_is_data(err)) {
		*none = TRUE;
		return TRUE;
	}
	if (err != 0)
		return gpg_failed(error, err, "gpg --import");
	r = gpgme_op_import_result(ctx);
	*none = r == NULL || r->considered == 0 ||
	    (r->imported == 0 && r->unchanged == 0 && r->new_signatures == 0 &&
	    r->new_sub_keys == 0 && r->new_user_ids == 0);
	return TRUE;
}

/* The key with primary fingerprint fpr in ctx's home.  (transfer full) */
static OpmKeyInfo *
key_info(gpgme_ctx_t ctx, const char *fpr, GError **error)
{
	gpgme_key_t key = NULL;
	gpgme_error_t err = gpgme_get_key(ctx, fpr, &key, 0);
	OpmKeyInfo *k;

	if (gpgme_err_code(err) == GPG_ERR_EOF)
		return NULL;
	if (err != 0) {
		gpg_failed(error, err, "gpg --list-keys");
		return NULL;
	}
	k = opm_key_info_new(key);
	gpgme_key_unref(key);
	return k;
}

/* Errors of the -n rules for k as a key of c->address: FALSE with a
 * refusal naming them; warnings go to c->warnings. */
static gboolean
key_passes(OpmList *list, OpmChange *c, const OpmKeyInfo *k, gint64 now,
    GError **error)
{
	g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)opm_problem_free);
	g_autoptr(GString) errs = g_string_new(NULL);
	g_autoptr(GString) warns = g_string_new(NULL);

	opm_audit_key(problems, list, "key", c->address, k->fpr, k, now);
	for (guint i = 0; i < problems->len; i++) {
		OpmProblem *p = g_ptr_array_index(problems, i);
		GString *to = p->severity == OPM_PROBLEM_ERROR ? errs : warns;

		g_string_append_printf(to, "%s%s", to->len > 0 ? "; " : "",
		    p->text);
	}
	g_free(c->warnings);
	c->warnings = warns->len > 0 ? g_strdup(warns->str) : NULL;
	if (errs->len > 0)
		return opm_refuse(error, "%s", errs->str);
	c->expires = opm_member_key_expires(k);
	return TRUE;
}

gint64
opm_member_key_expires(const OpmKeyInfo *k)
{
	gint64 when = 0;

	for (guint i = 0; k != NULL && i < k->subkeys->len; i++) {
		OpmSubkeyInfo *s = g_ptr_array_index(k->subkeys, i);

		if (s->expires > 0 && !s->revoked && !s->expired &&
		    (s->can_sign || s->can_encrypt) &&
		    (when == 0 || s->expires < when))
			when = s->expires;
	}
	return when;
}

/*
 * Step 2: choose and check the key of c in a scratch home; *out gets it
 * exported minimal.
 */
static gboolean
prepare_key(OpmList *list, OpmChange *c, gint64 now, GBytes **out,
    GError **error)
{
	g_autoptr(GBytes) bin = key_packets(c->keys, error);
	g_autofree char *scratch = NULL;
	g_auto(gpgme_ctx_t) ctx = NULL;
	g_auto(gpgme_data_t) exp = NULL;
	g_autoptr(OpmKeyInfo) k = NULL;
	g_autofree char *chosen = NULL;
	gpgme_key_t key;
	gpgme_error_t err;
	gboolean none, ok = FALSE;
	guint with_uid = 0;

	if (bin == NULL)
		return FALSE;
	scratch = g_build_filename(list->gnupg_home, ".import-XXXXXX", NULL);
	if (g_mkdtemp_full(scratch, 0700) == NULL) {
		g_set_error(error, OPM_ERROR, OPM_ERROR_IO,
		    "cannot make a scratch directory in %s: %s",
		    list->gnupg_home, g_strerror(errno));
		return FALSE;
	}
	if ((ctx = opm_gpg_context(scratch, error)) == NULL ||
	    !import(ctx, bin, &none, error))
		goto DONE;
	if (none) {
		opm_refuse(error, "the key block holds no key gpg can read");
		goto DONE;
	}
	if ((err = gpgme_op_keylist_start(ctx, NULL, 0)) != 0) {
		gpg_failed(error, err, "gpg --list-keys");
		goto DONE;
	}
	while (gpgme_op_keylist_next(ctx, &key) == 0) {
		g_autoptr(OpmKeyInfo) ki = opm_key_info_new(key);

		gpgme_key_unref(key);
		if (c->fpr != NULL) {
			if (strcmp(ki->fpr, c->fpr) == 0)
				chosen = g_strdup(ki->fpr);
			continue;
		}
		for (guint i = 0; i < ki->emails->len; i++)
			if (g_ascii_strcasecmp(ki->emails->pdata[i],
			    c->address) == 0) {
				if (with_uid++ == 0)
					chosen = g_strdup(ki->fpr);
				break;
			}
	}
	(void)gpgme_op_keylist_end(ctx);
	if (c->fpr != NULL && chosen == NULL) {
		opm_refuse(error, "the key block holds no key with the primary "
		    "fingerprint %s", c->fpr);
		goto DONE;
	}
	if (c->fpr == NULL && with_uid != 1) {
		opm_refuse(error, with_uid == 0 ? "no key in the key block has a "
		    "user ID for %s" : "several keys in the key block have a "
		    "user ID for %s: name the fingerprint", c->address);
		goto DONE;
	}
	if ((k = key_info(ctx, chosen, error)) == NULL) {
		if (error == NULL || *error == NULL)
			opm_refuse(error, "key %s vanished", chosen);
		goto DONE;
	}
	if (!key_passes(list, c, k, now, error))
		goto DONE;
	if ((err = gpgme_data_new(&exp)) != 0 ||
	    (err = gpgme_op_export(ctx, chosen, GPGME_EXPORT_MODE_MINIMAL,
		exp)) != 0) {
		gpg_failed(error, err, "gpg --export");
		goto DONE;
	}
	{
		size_t n = 0;
		char *p = gpgme_data_release_and_get_mem(exp, &n);

		exp = NULL;
		*out = g_bytes_new(p, n);
		gpgme_free(p);
	}
	g_free(c->new_fpr);
	c->new_fpr = g_steal_pointer(&chosen);
	ok = TRUE;
DONE:
	g_clear_pointer(&ctx, gpgme_release);
	remove_tree(scratch);
	return ok;
}

/* The members file as lines, and where each member is. */
typedef struct {
	GPtrArray *lines;   /* char *, NULL for a removed line */
	GHashTable *where;  /* address -> OpmMember * whose line is the index
			       into lines + 1 */
	GPtrArray *members; /* OpmMember *, owned */
} Roster;

static void
roster_clear(Roster *r)
{
	g_clear_pointer(&r->lines, g_ptr_array_unref);
	g_clear_pointer(&r->where, g_hash_table_unref);
	g_clear_pointer(&r->members, g_ptr_array_unref);
}

static gboolean
roster_read(Roster *r, const char *path, GError **error)
{
	g_autofree char *text = NULL;
	g_autoptr(GError) ioerr = NULL;
	g_auto(GStrv) lines = NULL;

	if (!g_file_get_contents(path, &text, NULL, &ioerr)) {
		g_set_error(error, OPM_ERROR, OPM_ERROR_IO, "%s: %s", path,
		    ioerr->message);
		return FALSE;
	}
	if ((r->members = opm_members_parse(path, text, error)) == NULL)
		return FALSE;
	r->lines = g_ptr_array_new_with_free_func(g_free);
	lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l != NULL; l++)
		g_ptr_array_add(r->lines, g_strdup(*l));
	/* a final newline leaves an empty last piece */
	if (r->lines->len > 0 &&
	    *(char *)g_ptr_array_index(r->lines, r->lines->len - 1) == '\0')
		g_ptr_array_remove_index(r->lines, r->lines->len - 1);
	r->where = g_hash_table_new(g_str_hash, g_str_equal);
	for (guint i = 0; i < r->members->len; i++) {
		OpmMember *m = g_ptr_array_index(r->members, i);

		g_hash_table_insert(r->where, m->address, m);
	}
	return TRUE;
}

static char *
member_line(const char *address, const char *fpr, const char *name)
{
	return g_strdup_printf("%s %s%s%s", address, fpr,
	    name != NULL ? " " : "", name != NULL ? name : "");
}

static gboolean
text_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '#')
			return FALSE;
	return TRUE;
}

/* Step 1 and 2 for one change, on the roster as the changes before it
 * left it.  *key: the key to import, or NULL. */
static gboolean
check_change(OpmConfig *conf, OpmList *list, Roster *r, OpmChange *c,
    gint64 now, GBytes **key, GError **error)
{
	OpmMember *m;
	char *norm;

	*key = NULL;
	if (c->address == NULL || !opm_address_valid(c->address) ||
	    !text_ok(c->address))
		return opm_refuse(error, "\"%s\" is not a mail address",
		    c->address != NULL ? c->address : "");
	norm = opm_address_normalize(c->address);
	g_free(c->address);
	c->address = norm;
	if (c->fpr != NULL) {
		char *f = opm_fpr_canon(c->fpr);

		if (f == NULL)
			return opm_refuse(error, "\"%s\" is not a full key fingerprint "
			    "(40 or 64 hex digits)", c->fpr);
		g_free(c->fpr);
		c->fpr = f;
	}
	if (c->name != NULL && (!text_ok(c->name) || strlen(c->name) > 200))
		return opm_refuse(error, "the name must be one line of at most 200 "
		    "characters without \"#\"");
	if (conf != NULL && opm_conf_find_list(conf, c->address) != NULL)
		return opm_refuse(error, "%s is a list address on this host and "
		    "cannot be a member", c->address);
	for (guint i = 0; conf != NULL && i < conf->lists->len; i++) {
		OpmList *l = g_ptr_array_index(conf->lists, i);

		/* copies to these would come back to the filter */
		if (g_ascii_strcasecmp(l->bounce_address, c->address) == 0 ||
		    g_ascii_strcasecmp(l->request_address, c->address) == 0)
			return opm_refuse(error, "%s is the bounce or request address "
			    "of the list %s and cannot be a member", c->address,
			    l->address);
	}
	m = g_hash_table_lookup(r->where, c->address);
	if (c->op == OPM_CHANGE_ADD && m != NULL)
		return opm_refuse(error, "%s is already a member (key %s)",
		    c->address, m->fpr);
	if (c->op != OPM_CHANGE_ADD && m == NULL)
		return opm_refuse(error, "%s is not a member of %s", c->address,
		    list->address);
	if (m != NULL)
		c->old_fpr = g_strdup(m->fpr);
	if (c->op == OPM_CHANGE_REMOVE)
		return TRUE;
	if (c->keys == NULL)
		return opm_refuse(error, "no key was given for %s", c->address);
	return prepare_key(list, c, now, key, error);
}

/* Apply a checked change to the roster. */
static void
roster_apply(Roster *r, OpmChange *c)
{
	OpmMember *m = g_hash_table_lookup(r->where, c->address);

	if (c->op == OPM_CHANGE_ADD) {
		m = g_new0(OpmMember, 1);
		m->address = g_strdup(c->address);
		m->fpr = g_strdup(c->new_fpr);
		m->name = g_strdup(c->name);
		g_ptr_array_add(r->lines, member_line(m->address, m->fpr,
		    m->name));
		m->line = r->lines->len;
		g_ptr_array_add(r->members, m);
		g_hash_table_insert(r->where, m->address, m);
		return;
	}
	g_free(g_ptr_array_index(r->lines, m->line - 1));
	if (c->op == OPM_CHANGE_REMOVE) {
		g_ptr_array_index(r->lines, m->line - 1) = NULL;
		g_hash_table_remove(r->where, c->address);
		return;
	}
	g_free(m->fpr);
	m->fpr = g_strdup(c->new_fpr);
	g_ptr_array_index(r->lines, m->line - 1) = member_line(m->address,
	    m->fpr, m->name);
}

static gboolean
io_failed(GError **error, const char *path, const char *what)
{
	g_set_error(error, OPM_ERROR, OPM_ERROR_IO, "%s: %s: %s", path, what,
	    g_strerror(errno));
	return FALSE;
}

/* Step 4. */
static gboolean
roster_write(Roster *r, const char *path, GError **error)
{
	g_autofree char *tmp = g_strdup_printf("%s.XXXXXX", path);
	g_autofree char *dir = g_path_get_dirname(path);
	GString *text = g_string_new(NULL);
	GStatBuf st;
	mode_t mode = 0640;
	gsize off = 0;
	int fd, dfd;

	for (guint i = 0; i < r->lines->len; i++) {
		const char *l = g_ptr_array_index(r->lines, i);

		if (l != NULL)
			g_string_append_printf(text, "%s\n", l);
	}
	if (g_stat(path, &st) == 0)
		mode = st.st_mode & 0777;
	if ((fd = g_mkstemp_full(tmp, O_RDWR | O_CLOEXEC, 0600)) < 0) {
		g_string_free(text, TRUE);
		return io_failed(error, tmp, "cannot create");
	}
	while (off < text->len) {
		ssize_t w = write(fd, text->str + off, text->len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (gsize)w;
	}
	if (off < text->len) {
		g_string_free(text, TRUE);
		close(fd);
		(void)g_unlink(tmp);
		return io_failed(error, tmp, "cannot write");
	}
	g_string_free(text, TRUE);
	if (fchmod(fd, mode) != 0 || fsync(fd) != 0 || close(fd) != 0) {
		(void)g_unlink(tmp);
		return io_failed(error, tmp, "cannot write");
	}
	if (rename(tmp, path) != 0) {
		(void)g_unlink(tmp);
		return io_failed(error, path, "cannot replace");
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return TRUE;
}

static int
lock_members(OpmList *list, GError **error)
{
	g_autofree char *path = g_strconcat(list->members_file, ".lock", NULL);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0660);

	if (fd < 0) {
		io_failed(error, path, "cannot open the lock file");
		return -1;
	}
	while (flock(fd, LOCK_EX) != 0)
		if (errno != EINTR) {
			io_failed(error, path, "cannot lock");
			close(fd);
			return -1;
		}
	return fd;
}

gboolean
opm_member_apply(OpmConfig *conf, OpmList *list, GPtrArray *changes,
    gboolean dry_run, gint64 now, guint *failed, GError **error)
{
	Roster r = {0};
	g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)g_bytes_unref);
	g_auto(gpgme_ctx_t) ctx = NULL;
	gboolean ok = FALSE;
	int lock;

	if (failed != NULL)
		*failed = 0;
	if ((lock = lock_members(list, error)) < 0)
		return FALSE;
	if (!roster_read(&r, list->members_file, error))
		goto DONE;
	for (guint i = 0; i < changes->len; i++) {
		OpmChange *c = g_ptr_array_index(changes, i);
		GBytes *key = NULL;

		if (failed != NULL)
			*failed = i;
		if (!check_change(conf, list, &r, c, now, &key, error))
			goto DONE;
		g_ptr_array_add(keys, key);
		roster_apply(&r, c);
	}
	if (dry_run) {
		ok = TRUE;
		goto DONE;
	}
	/* step 3: every key into the list's home, and checked there */
	for (guint i = 0; i < changes->len; i++) {
		OpmChange *c = g_ptr_array_index(changes, i);
		GBytes *key = g_ptr_array_index(keys, i);
		g_autoptr(OpmKeyInfo) k = NULL;
		gboolean none;

		if (key == NULL)
			continue;
		if (failed != NULL)
			*failed = i;
		if (ctx == NULL && (ctx = opm_gpg_context(list->gnupg_home,
		    error)) == NULL)
			goto DONE;
		if (!import(ctx, key, &none, error))
			goto DONE;
		if ((k = key_info(ctx, c->new_fpr, error)) == NULL) {
			if (error == NULL || *error == NULL)
				g_set_error(error, OPM_ERROR, OPM_ERROR_CRYPTO,
				    "key %s is not in %s after its import",
				    c->new_fpr, list->gnupg_home);
			goto DONE;
		}
		if (!key_passes(list, c, k, now, error))
			goto DONE;
	}
	if (failed != NULL)
		*failed = changes->len;
	if (!roster_write(&r, list->members_file, error))
		goto DONE;
	for (guint i = 0; i < changes->len; i++) {
		OpmChange *c = g_ptr_array_index(changes, i);

		g_message("%s: %s %s%s%s%s%s", list->address,
		    opm_change_op_name(c->op), c->address,
		    c->old_fpr != NULL ? " old key " : "",
		    c->old_fpr != NULL ? c->old_fpr : "",
		    c->new_fpr != NULL ? " key " : "",
		    c->new_fpr != NULL ? c->new_fpr : "");
	}
	ok = TRUE;
DONE:
	roster_clear(&r);
	close(lock);
	return ok;
}

char *
opm_member_summary(GPtrArray *changes, const char *by)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < changes->len; i++) {
		OpmChange *c = g_ptr_array_index(changes, i);

		switch (c->op) {
		case OPM_CHANGE_ADD:
			g_string_append_printf(s, "  added %s%s%s%s with key %s\n",
			    c->address, c->name != NULL ? " (" : "",
			    c->name != NULL ? c->name : "",
			    c->name != NULL ? ")" : "", c->new_fpr);
			break;
		case OPM_CHANGE_REMOVE:
			g_string_append_printf(s, "  removed %s (key %s)\n",
			    c->address, c->old_fpr);
			break;
		case OPM_CHANGE_SET_KEY:
			g_string_append_printf(s, "  %s: key %s replaced by %s\n",
			    c->address, c->old_fpr, c->new_fpr);
			break;
		}
	}
	if (by != NULL)
		g_string_append_printf(s, "\nRequested by %s.\n", by);
	return g_string_free(s, FALSE);
}

GBytes *
opm_member_notice(OpmList *list, const char *to, const char *fpr,
    const char *subject, const char *body, gint64 now, GError **error)
{
	g_autoptr(GBytes) inner = opm_copy_notice_inner(list, to, subject, body);
	g_autoptr(OpmCopyFrame) frame = NULL;
	g_autoptr(GBytes) armored = NULL;
	g_autofree char *key = NULL;
	g_autofree char *mid = NULL;
	const char *rcpts[] = {fpr, NULL};
	gpgme_ctx_t ctx;

	if (list->list_gpgkey == NULL) {
		g_set_error(error, OPM_ERROR, OPM_ERROR_KEY, "%s: the secret "
		    "list key %s is missing", list->address, list->list_key);
		return NULL;
	}
	if ((ctx = opm_gpg_acquire(list, error)) == NULL)
		return NULL;
	armored = opm_sign_encrypt(ctx, list->list_gpgkey, rcpts, inner, error);
	opm_gpg_release(list, ctx);
	if (armored == NULL)
		return NULL;
	key = g_strdup_printf("notice:%s:%" G_GINT64_FORMAT ":%08x", subject,
	    now, g_random_int());
	mid = opm_copy_message_id(list, key, to);
	frame = opm_copy_frame_notice(list, to, NULL, now);
	return opm_copy_outer(frame, mid, armored);
}

gint
opm_member_announce(OpmList *list, GPtrArray *changes, const char *by,
    OpmInjector *inj, gint64 now, GError **error)
{
	g_autofree char *summary = opm_member_summary(changes, by);
	g_autofree char *subject = g_strdup_printf("[%s] membership changed",
	    list->name);
	g_autofree char *body = g_strdup_printf("The membership of the list %s "
	    "changed:\n\n%s", list->address, summary);
	gint sent = 0;

	for (guint i = 0; list->admins != NULL && i < list->admins->len; i++) {
		const char *admin = g_ptr_array_index(list->admins, i);
		OpmMember *m = opm_list_find_member(list, NULL, admin);
		g_autoptr(GBytes) notice = NULL;
		g_autoptr(GError) err = NULL;
		const char *pin;

		if (m == NULL || m->key == NULL ||
		    !opm_key_can(m->key, FALSE, now)) {
			g_warning("%s: admin %s has no usable key in the members "
			    "file: no notice of the membership change sent",
			    list->address, admin);
			continue;
		}
		/* a key pinned by AdminKey is the admin's, else the member's */
		pin = list->admin_pins != NULL ?
		    g_hash_table_lookup(list->admin_pins, admin) : NULL;
		if ((notice = opm_member_notice(list, admin, pin != NULL ? pin :
		    m->fpr, subject, body, now, &err)) == NULL) {
			g_warning("%s: notice to admin %s: %s", list->address,
			    admin, err->message);
			continue;
		}
		if (!opm_injector_send(inj, list->bounce_address, admin, notice,
		    NULL, error))
			return -1;
		sent++;
	}
	return sent;
}

char *
opm_member_create_key(const char *gnupg_home, const char *uid,
    gint64 expires, GError **error)
{
	g_auto(gpgme_ctx_t) ctx = opm_gpg_context(gnupg_home, error);
	gpgme_genkey_result_t r;
	gpgme_key_t key = NULL;
	gpgme_error_t err;
	char *fpr;

	if (ctx == NULL)
		return NULL;
	if ((err = gpgme_op_createkey(ctx, uid, "ed25519", 0,
	    (unsigned long)expires, NULL, GPGME_CREATE_SIGN |
	    GPGME_CREATE_CERT | GPGME_CREATE_NOPASSWD)) != 0) {
		gpg_failed(error, err, "cannot make the list key");
		return NULL;
	}
	r = gpgme_op_genkey_result(ctx);
	if (r == NULL || r->fpr == NULL) {
		g_set_error(error, OPM_ERROR, OPM_ERROR_CRYPTO,
		    "gpg made a key but did not say which");
		return NULL;
	}
	fpr = g_ascii_strup(r->fpr, -1);
	if ((err = gpgme_get_key(ctx, fpr, &key, 1)) != 0 ||
	    (err = gpgme_op_createsubkey(ctx, key, "cv25519", 0,
	    (unsigned long)expires, GPGME_CREATE_ENCR |
	    GPGME_CREATE_NOPASSWD)) != 0) {
		if (key != NULL)
			gpgme_key_unref(key);
		g_free(fpr);
		gpg_failed(error, err, "cannot add the encryption subkey");
		return NULL;
	}
	gpgme_key_unref(key);
	return fpr;
}

GBytes *
opm_member_export_key(const char *gnupg_home, const char *fpr,
    gboolean armor, GError **error)
{
	g_auto(gpgme_ctx_t) ctx = opm_gpg_context(gnupg_home, error);
	gpgme_data_t d = NULL;
	gpgme_error_t err;
	size_t n = 0;
	char *p;
	GBytes *out;

	if (ctx == NULL)
		return NULL;
	gpgme_set_armor(ctx, armor);
	if ((err = gpgme_data_new(&d)) != 0 ||
	    (err = gpgme_op_export(ctx, fpr, GPGME_EXPORT_MODE_MINIMAL, d)) !=
	    0) {
		gpgme_data_release(d);
		gpg_failed(error, err, "gpg --export");
		return NULL;
	}
	p = gpgme_data_release_and_get_mem(d, &n);
	if (n == 0) {
		gpgme_free(p);
		g_set_error(error, OPM_ERROR, OPM_ERROR_KEY, "no key %s in %s",
		    fpr, gnupg_home);
		return NULL;
	}
	out = g_bytes_new(p, n);
	gpgme_free(p);
	return out;
}

gint
opm_member_greet(OpmList *list, GPtrArray *changes, OpmInjector *inj,
    gint64 now)
{
	g_autofree char *key = NULL;
	gint sent = 0;

	for (guint i = 0; inj != NULL && i < changes->len; i++) {
		OpmChange *ch = g_ptr_array_index(changes, i);
		g_autofree char *subject = NULL;
		g_autofree char *body = NULL;
		g_autoptr(GBytes) mail = NULL;
		g_autoptr(GError) error = NULL;
		const char *fpr;

		if (ch->op == OPM_CHANGE_ADD) {
			if (key == NULL) {
				g_autoptr(GBytes) k = opm_member_export_key(
				    list->gnupg_home, list->list_key, TRUE, NULL);

				key = k != NULL ? g_strndup(g_bytes_get_data(k,
				    NULL), g_bytes_get_size(k)) : g_strdup("(ask "
				    "the admins for it)\n");
			}
			fpr = ch->new_fpr;
			subject = g_strdup_printf("[%s] welcome to the list",
			    list->name);
			body = g_strdup_printf("Welcome to the list %s.\n\n"
			    "The rules: every post must be signed with your "
			    "OpenPGP key\n%s, and sent from this address; posts "
			    "that are not are refused\nwhen you send them.  You "
			    "receive every post encrypted to that key\nalone, "
			    "signed by the list key %s.\n\nThe members' guide "
			    "(how to post from your mail client, what each\n"
			    "refusal means): %s\nCommands (key rotation and more): "
			    "send \"help\" in a signed mail to\n%s.\n\nThe "
			    "list's public key:\n\n%s", list->address, ch->new_fpr,
			    list->list_key, list->list_help != NULL ?
			    list->list_help : "ask the list's admins for it.",
			    list->request_address, key);
		} else if (ch->op == OPM_CHANGE_REMOVE) {
			fpr = ch->old_fpr;
			subject = g_strdup_printf("[%s] you have left the list",
			    list->name);
			body = g_strdup_printf("You are no longer a member of the "
			    "list %s, and will receive\nno more of its posts.  "
			    "Ask its admins if this is a mistake.\n",
			    list->address);
		} else
			continue;
		mail = opm_member_notice(list, ch->address, fpr, subject, body,
		    now, &error);
		if (mail == NULL || !opm_injector_send(inj, list->bounce_address,
		    ch->address, mail, NULL, &error)) {
			g_warning("%s: no %s sent to %s: %s", list->address,
			    ch->op == OPM_CHANGE_ADD ? "welcome" : "goodbye",
			    ch->address, error->message);
			continue;
		}
		sent++;
	}
	return sent;
}
