/*
 * NAME
 *	admission - nominations and vouches: who may join a vetted list
 * SYNOPSIS
 *	opm_admission_policy(), opm_nomination_new(), opm_nomination_free(),
 *	opm_nomination_state(), opm_nomination_expires(),
 *	opm_nomination_count(), opm_nomination_vouch(),
 *	opm_nomination_object(), opm_nomination_approve(),
 *	opm_nomination_describe(), opm_nominations_open(),
 *	opm_nominations_save(), opm_nominations_close(),
 *	opm_nominations_list(), opm_nominations_find(),
 *	opm_nominations_add(), opm_nominations_take()
 * DESCRIPTION
 *	The rules, in one place:
 *
 *	- a vouch counts when it comes from a member other than the
 *	  nominator and the candidate, once per member, and names the
 *	  candidate's fingerprint exactly (the one the nominator gave and
 *	  the attached key has);
 *	- an admin's objection ends the nomination; a member's objection is
 *	  kept, shown to the admins and changes no count;
 *	- a nomination expires NominationLifetime after it was made;
 *	- it is ready when the counting vouches reach VouchesRequired and,
 *	  with AdminApproval yes, an admin approved.
 *
 *	State: STATE/nominations/LISTADDRESS, a key file with one group per
 *	nomination, the candidate's key block in base64.  Every change is
 *	made under an exclusive flock(2) on the file's ".lock" beside it,
 *	read fresh after the lock is taken, and written back to a temporary
 *	file that is synced and renamed over the old one, the directory
 *	synced after: a crash leaves one whole state, old or new, and a
 *	restart or reload of the daemon loses nothing.
 * DIAGNOSTICS
 *	OPM_ERROR_CONFIG: a vouch, objection or approval that is refused,
 *	saying why in words fit for a reply.  OPM_ERROR_IO: the state file.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "admission.h"

void
opm_admission_policy(const OpmList *list, OpmAdmissionPolicy *p)
{
	p->vouch = g_strcmp0(list->admission, "vouch") == 0;
	p->required = (guint)MAX(list->vouches_required, 1);
	p->approval = list->admin_approval;
	p->lifetime = list->nomination_lifetime;
	p->show_vouchers = g_strcmp0(list->vouch_visibility, "admins") != 0;
}

static void
voice_free(OpmVoice *v)
{
	if (v == NULL)
		return;
	g_free(v->who);
	g_free(v->reason);
	g_free(v);
}

static OpmVoice *
voice_new(const char *who, gboolean admin, const char *reason, gint64 when)
{
	OpmVoice *v = g_new0(OpmVoice, 1);

	v->who = opm_address_normalize(who);
	v->admin = admin;
	v->reason = g_strdup(reason);
	v->when = when;
	return v;
}

OpmNomination *
opm_nomination_new(const char *address, const char *fpr, const char *name,
    const char *nominator, GBytes *key, gint64 now)
{
	OpmNomination *n = g_new0(OpmNomination, 1);

	n->address = opm_address_normalize(address);
	n->fpr = g_strdup(fpr);
	n->name = g_strdup(name);
	n->nominator = opm_address_normalize(nominator);
	n->created = now;
	n->key = key != NULL ? g_bytes_ref(key) : NULL;
	n->vouches = g_ptr_array_new_with_free_func((GDestroyNotify)voice_free);
	n->objections = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)voice_free);
	return n;
}

void
opm_nomination_free(OpmNomination *n)
{
	if (n == NULL)
		return;
	g_free(n->address);
	g_free(n->fpr);
	g_free(n->name);
	g_free(n->nominator);
	g_clear_pointer(&n->key, g_bytes_unref);
	g_clear_pointer(&n->vouches, g_ptr_array_unref);
	g_clear_pointer(&n->objections, g_ptr_array_unref);
	g_free(n->approved_by);
	g_free(n);
}

gint64
opm_nomination_expires(const OpmAdmissionPolicy *p, const OpmNomination *n)
{
	return n->created + p->lifetime;
}

guint
opm_nomination_count(const OpmNomination *n)
{
	guint count = 0;

	for (guint i = 0; i < n->vouches->len; i++) {
		OpmVoice *v = g_ptr_array_index(n->vouches, i);

		if (g_ascii_strcasecmp(v->who, n->nominator) != 0 &&
		    g_ascii_strcasecmp(v->who, n->address) != 0)
			count++;
	}
	return count;
}

static gboolean
admin_objected(const OpmNomination *n)
{
	for (guint i = 0; i < n->objections->len; i++)
		if (((OpmVoice *)g_ptr_array_index(n->objections, i))->admin)
			return TRUE;
	return FALSE;
}

OpmNominationState
opm_nomination_state(const OpmAdmissionPolicy *p, const OpmNomination *n,
    gint64 now)
{
	if (admin_objected(n))
		return OPM_NOMINATION_REFUSED;
	if (now >= opm_nomination_expires(p, n))
		return OPM_NOMINATION_EXPIRED;
	if (opm_nomination_count(n) >= p->required &&
	    (!p->approval || n->approved_by != NULL))
		return OPM_NOMINATION_READY;
	return OPM_NOMINATION_OPEN;
}

static gboolean
refuse(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static gboolean
refuse(GError **error, const char *fmt, ...)
{
	va_list ap;

	if (error == NULL)
		return FALSE;
	va_start(ap, fmt);
	g_propagate_error(error, g_error_new_valist(OPM_ERROR,
	    OPM_ERROR_CONFIG, fmt, ap));
	va_end(ap);
	return FALSE;
}

/* Refused unless n is open at now. */
static gboolean
still_open(const OpmAdmissionPolicy *p, const OpmNomination *n, gint64 now,
    GError **error)
{
	switch (opm_nomination_state(p, n, now)) {
	case OPM_NOMINATION_REFUSED:
		return refuse(error, "the nomination of %s was refused by an "
		    "admin", n->address);
	case OPM_NOMINATION_EXPIRED:
		return refuse(error, "the nomination of %s has expired",
		    n->address);
	default:
		return TRUE;
	}
}

static gboolean
spoke(GPtrArray *voices, const char *who)
{
	for (guint i = 0; i < voices->len; i++)
		if (g_ascii_strcasecmp(((OpmVoice *)g_ptr_array_index(voices,
		    i))->who, who) == 0)
			return TRUE;
	return FALSE;
}

gboolean
opm_nomination_vouch(const OpmAdmissionPolicy *p, OpmNomination *n,
    const char *who, const char *fpr, gboolean is_member, gint64 now,
    GError **error)
{
	if (!still_open(p, n, now, error))
		return FALSE;
	if (is_member)
		return refuse(error, "%s is a member already", n->address);
	if (g_ascii_strcasecmp(who, n->address) == 0)
		return refuse(error, "nobody can vouch for themselves");
	if (g_ascii_strcasecmp(who, n->nominator) == 0)
		return refuse(error, "you nominated %s; the vouches must come "
		    "from other members", n->address);
	if (fpr == NULL || g_ascii_strcasecmp(fpr, n->fpr) != 0)
		return refuse(error, "the fingerprint you give, %s, is not the "
		    "one of the key nominated for %s, %s: check the fingerprint "
		    "with the candidate again; your vouch was not counted",
		    fpr != NULL ? fpr : "(none)", n->address, n->fpr);
	if (spoke(n->vouches, who))
		return refuse(error, "you vouched for %s already", n->address);
	g_ptr_array_add(n->vouches, voice_new(who, FALSE, NULL, now));
	return TRUE;
}

gboolean
opm_nomination_object(const OpmAdmissionPolicy *p, OpmNomination *n,
    const char *who, gboolean admin, const char *reason, gint64 now,
    GError **error)
{
	if (!still_open(p, n, now, error))
		return FALSE;
	if (spoke(n->objections, who))
		return refuse(error, "you objected to %s already", n->address);
	g_ptr_array_add(n->objections, voice_new(who, admin, reason, now));
	return TRUE;
}

gboolean
opm_nomination_approve(const OpmAdmissionPolicy *p, OpmNomination *n,
    const char *who, gint64 now, GError **error)
{
	if (!still_open(p, n, now, error))
		return FALSE;
	if (!p->approval)
		return refuse(error, "this list admits candidates without an "
		    "admin's approval");
	if (n->approved_by != NULL)
		return refuse(error, "%s approved %s already", n->approved_by,
		    n->address);
	n->approved_by = opm_address_normalize(who);
	n->approved = now;
	return TRUE;
}

static char *
utc(gint64 t)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(t);

	return dt != NULL ? g_date_time_format(dt, "%Y-%m-%d %H:%M UTC") :
	    g_strdup("?");
}

char *
opm_nomination_describe(const OpmAdmissionPolicy *p, const OpmNomination *n,
    gboolean vouchers, gboolean objections, gint64 now)
{
	GString *s = g_string_new(NULL);
	g_autofree char *name = n->name != NULL ? opm_sanitize(n->name, 100) :
	    NULL;
	g_autofree char *until = utc(opm_nomination_expires(p, n));

	(void)now;
	g_string_append_printf(s, "  %s%s%s%s\n    fingerprint %s\n"
	    "    nominated by %s\n    vouches %u of %u%s\n    open until %s\n",
	    n->address, name != NULL ? " (" : "", name != NULL ? name : "",
	    name != NULL ? ")" : "", n->fpr, n->nominator,
	    opm_nomination_count(n), p->required, !p->approval ? "" :
	    n->approved_by != NULL ? ", approved by an admin" :
	    ", an admin's approval needed", until);
	if (vouchers)
		for (guint i = 0; i < n->vouches->len; i++)
			g_string_append_printf(s, "    vouched by %s\n",
			    ((OpmVoice *)g_ptr_array_index(n->vouches, i))->who);
	if (objections)
		for (guint i = 0; i < n->objections->len; i++) {
			OpmVoice *v = g_ptr_array_index(n->objections, i);
			g_autofree char *r = opm_sanitize(v->reason, 300);

			g_string_append_printf(s, "    objection by %s%s: %s\n",
			    v->who, v->admin ? " (admin)" : "", r);
		}
	return g_string_free(s, FALSE);
}

/* The state store */

struct OpmNominations {
	char *dir;
	char *path;
	int lock;
	GPtrArray *noms; /* OpmNomination *, owned */
};

static gboolean
io_failed(GError **error, const char *path, const char *what, int e)
{
	g_set_error(error, OPM_ERROR, OPM_ERROR_IO, "%s: %s: %s", path, what,
	    g_strerror(e));
	return FALSE;
}

/* Voices as a list of "WHEN ADMIN WHO REASON" strings. */
static void
put_voices(GKeyFile *kf, const char *g, const char *key, GPtrArray *vs)
{
	g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(g_free);

	if (vs->len == 0)
		return;
	for (guint i = 0; i < vs->len; i++) {
		OpmVoice *v = g_ptr_array_index(vs, i);

		g_ptr_array_add(items, g_strdup_printf("%" G_GINT64_FORMAT
		    " %d %s %s", v->when, v->admin ? 1 : 0, v->who,
		    v->reason != NULL ? v->reason : ""));
	}
	g_key_file_set_string_list(kf, g, key,
	    (const char *const *)items->pdata, items->len);
}

static gboolean
get_voices(GKeyFile *kf, const char *g, const char *key, GPtrArray *out)
{
	g_auto(GStrv) items = g_key_file_get_string_list(kf, g, key, NULL,
	    NULL);

	for (char **it = items; it != NULL && *it != NULL; it++) {
		g_auto(GStrv) w = g_strsplit(*it, " ", 4);
		OpmVoice *v;

		if (g_strv_length(w) < 3)
			return FALSE;
		v = g_new0(OpmVoice, 1);
		v->when = g_ascii_strtoll(w[0], NULL, 10);
		v->admin = strcmp(w[1], "1") == 0;
		v->who = g_strdup(w[2]);
		v->reason = w[3] != NULL && *w[3] != '\0' ? g_strdup(w[3]) :
		    NULL;
		g_ptr_array_add(out, v);
	}
	return TRUE;
}

static OpmNomination *
read_group(GKeyFile *kf, const char *g)
{
	g_autoptr(OpmNomination) n = g_new0(OpmNomination, 1);
	g_autofree char *key64 = NULL;

	n->vouches = g_ptr_array_new_with_free_func((GDestroyNotify)voice_free);
	n->objections = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)voice_free);
	n->address = g_key_file_get_string(kf, g, "candidate", NULL);
	n->fpr = g_key_file_get_string(kf, g, "fingerprint", NULL);
	n->name = g_key_file_get_string(kf, g, "name", NULL);
	n->nominator = g_key_file_get_string(kf, g, "nominator", NULL);
	n->created = g_key_file_get_int64(kf, g, "created", NULL);
	n->approved_by = g_key_file_get_string(kf, g, "approved-by", NULL);
	n->approved = g_key_file_get_int64(kf, g, "approved", NULL);
	key64 = g_key_file_get_string(kf, g, "key", NULL);
	if (n->address == NULL || n->fpr == NULL || n->nominator == NULL ||
	    n->created <= 0 || key64 == NULL ||
	    !get_voices(kf, g, "vouches", n->vouches) ||
	    !get_voices(kf, g, "objections", n->objections))
		return NULL;
	{
		gsize len = 0;
		guchar *k = g_base64_decode(key64, &len);

		if (len == 0) {
			g_free(k);
			return NULL;
		}
		n->key = g_bytes_new_take(k, len);
	}
	return g_steal_pointer(&n);
}

static gboolean
load(OpmNominations *s, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) kerr = NULL;
	g_auto(GStrv) groups = NULL;

	if (!g_file_test(s->path, G_FILE_TEST_EXISTS))
		return TRUE;
	if (!g_key_file_load_from_file(kf, s->path, G_KEY_FILE_NONE, &kerr)) {
		g_set_error(error, OPM_ERROR, OPM_ERROR_IO, "%s: %s", s->path,
		    kerr->message);
		return FALSE;
	}
	groups = g_key_file_get_groups(kf, NULL);
	for (char **g = groups; *g != NULL; g++) {
		OpmNomination *n = read_group(kf, *g);

		if (n == NULL) {
			g_set_error(error, OPM_ERROR, OPM_ERROR_IO, "%s: the "
			    "nomination [%s] is incomplete", s->path, *g);
			return FALSE;
		}
		g_ptr_array_add(s->noms, n);
	}
	return TRUE;
}

OpmNominations *
opm_nominations_open(const char *state_dir, const char *list_address,
    GError **error)
{
	OpmNominations *s = g_new0(OpmNominations, 1);
	g_autofree char *lockpath = NULL;

	s->lock = -1;
	s->noms = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)opm_nomination_free);
	s->dir = g_build_filename(state_dir, "nominations", NULL);
	s->path = g_build_filename(s->dir, list_address, NULL);
	lockpath = g_strconcat(s->path, ".lock", NULL);
	if (g_mkdir_with_parents(s->dir, 0700) != 0) {
		io_failed(error, s->dir, "cannot create", errno);
		goto FAIL;
	}
	if ((s->lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		io_failed(error, lockpath, "cannot open", errno);
		goto FAIL;
	}
	while (flock(s->lock, LOCK_EX) != 0)
		if (errno != EINTR) {
			io_failed(error, lockpath, "cannot lock", errno);
			goto FAIL;
		}
	if (!load(s, error))
		goto FAIL;
	return s;
FAIL:
	opm_nominations_close(s);
	return NULL;
}

gboolean
opm_nominations_save(OpmNominations *s, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autofree char *text = NULL;
	g_autofree char *tmp = g_strconcat(s->path, ".tmp", NULL);
	gsize len = 0, off = 0;
	int fd, e = 0;

	for (guint i = 0; i < s->noms->len; i++) {
		OpmNomination *n = g_ptr_array_index(s->noms, i);
		g_autofree char *g = g_strdup_printf("nomination %u", i + 1);
		g_autofree char *k64 = g_base64_encode(g_bytes_get_data(n->key,
		    NULL), g_bytes_get_size(n->key));

		g_key_file_set_string(kf, g, "candidate", n->address);
		g_key_file_set_string(kf, g, "fingerprint", n->fpr);
		if (n->name != NULL)
			g_key_file_set_string(kf, g, "name", n->name);
		g_key_file_set_string(kf, g, "nominator", n->nominator);
		g_key_file_set_int64(kf, g, "created", n->created);
		if (n->approved_by != NULL) {
			g_key_file_set_string(kf, g, "approved-by",
			    n->approved_by);
			g_key_file_set_int64(kf, g, "approved", n->approved);
		}
		put_voices(kf, g, "vouches", n->vouches);
		put_voices(kf, g, "objections", n->objections);
		g_key_file_set_string(kf, g, "key", k64);
	}
	text = g_key_file_to_data(kf, &len, NULL);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return io_failed(error, tmp, "cannot create", errno);
	while (off < len && e == 0) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			e = w < 0 ? errno : ENOSPC;
		else
			off += (gsize)w;
	}
	if (e == 0 && fsync(fd) != 0)
		e = errno;
	if (close(fd) != 0 && e == 0)
		e = errno;
	if (e == 0 && rename(tmp, s->path) != 0)
		e = errno;
	if (e != 0) {
		(void)g_unlink(tmp);
		return io_failed(error, s->path, "cannot write", e);
	}
	if ((fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	return TRUE;
}

void
opm_nominations_close(OpmNominations *s)
{
	if (s == NULL)
		return;
	if (s->lock >= 0)
		close(s->lock);
	g_clear_pointer(&s->noms, g_ptr_array_unref);
	g_free(s->dir);
	g_free(s->path);
	g_free(s);
}

GPtrArray *
opm_nominations_list(OpmNominations *s)
{
	return s->noms;
}

OpmNomination *
opm_nominations_find(OpmNominations *s, const char *address)
{
	g_autofree char *a = opm_address_normalize(address);

	for (guint i = 0; i < s->noms->len; i++) {
		OpmNomination *n = g_ptr_array_index(s->noms, i);

		if (g_ascii_strcasecmp(n->address, a) == 0)
			return n;
	}
	return NULL;
}

gboolean
opm_nominations_add(OpmNominations *s, OpmNomination *n, GError **error)
{
	OpmNomination *old = opm_nominations_find(s, n->address);

	if (old != NULL) {
		refuse(error, "%s was nominated already, by %s", n->address,
		    old->nominator);
		opm_nomination_free(n);
		return FALSE;
	}
	g_ptr_array_add(s->noms, n);
	return TRUE;
}

OpmNomination *
opm_nominations_take(OpmNominations *s, const char *address)
{
	OpmNomination *n = opm_nominations_find(s, address);
	guint i;

	if (n == NULL || !g_ptr_array_find(s->noms, n, &i))
		return NULL;
	return g_ptr_array_steal_index(s->noms, i);
}
