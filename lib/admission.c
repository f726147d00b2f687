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
 *	opm_nominations_add(), opm_nominations_take(),
 *	opm_admission_event_new(), opm_admission_event_free(),
 *	opm_admission_settle(), opm_admission_notify(),
 *	opm_admission_tell_admins(), opm_admission_announce(),
 *	opm_admission_check()
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
 *	  with AdminApproval yes, an admin approved; a vouch by someone who
 *	  is no longer a member is dropped (opm_admission_settle()).
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

/* Refused unless n is open at now. */
static gboolean
still_open(const OpmAdmissionPolicy *p, const OpmNomination *n, gint64 now,
    GError **error)
{
	switch (opm_nomination_state(p, n, now)) {
	case OPM_NOMINATION_REFUSED:
		return opm_refuse(error, "the nomination of %s was refused by an "
		    "admin", n->address);
	case OPM_NOMINATION_EXPIRED:
		return opm_refuse(error, "the nomination of %s has expired",
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
		return opm_refuse(error, "%s is a member already", n->address);
	if (g_ascii_strcasecmp(who, n->address) == 0)
		return opm_refuse(error, "nobody can vouch for themselves");
	if (g_ascii_strcasecmp(who, n->nominator) == 0)
		return opm_refuse(error, "you nominated %s; the vouches must come "
		    "from other members", n->address);
	if (fpr == NULL || g_ascii_strcasecmp(fpr, n->fpr) != 0)
		return opm_refuse(error, "the fingerprint you give, %s, is not the "
		    "one of the key nominated for %s, %s: check the fingerprint "
		    "with the candidate again; your vouch was not counted",
		    fpr != NULL ? fpr : "(none)", n->address, n->fpr);
	if (spoke(n->vouches, who))
		return opm_refuse(error, "you vouched for %s already", n->address);
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
		return opm_refuse(error, "you objected to %s already", n->address);
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
		return opm_refuse(error, "this list admits candidates without an "
		    "admin's approval");
	if (n->approved_by != NULL)
		return opm_refuse(error, "%s approved %s already", n->approved_by,
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

	if (old != NULL || s->noms->len >= OPM_NOMINATIONS_MAX) {
		if (old != NULL)
			opm_refuse(error, "%s was nominated already, by %s",
			    n->address, old->nominator);
		else
			opm_refuse(error, "the list has %d open nominations, the "
			    "most it keeps: wait until some end",
			    OPM_NOMINATIONS_MAX);
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

/* Settling and telling */

OpmAdmissionEvent *
opm_admission_event_new(OpmAdmissionOutcome outcome, OpmNomination *n,
    OpmChange *change, const char *why)
{
	OpmAdmissionEvent *e = g_new0(OpmAdmissionEvent, 1);

	e->outcome = outcome;
	e->nom = n;
	e->change = change;
	e->why = g_strdup(why);
	return e;
}

void
opm_admission_event_free(OpmAdmissionEvent *e)
{
	if (e == NULL)
		return;
	opm_nomination_free(e->nom);
	opm_change_free(e->change);
	g_free(e->why);
	g_free(e);
}

gboolean
opm_admission_settle(OpmConfig *conf, OpmList *list, OpmNominations *s,
    gboolean dry_run, gint64 now, GPtrArray *events, GError **error)
{
	OpmAdmissionPolicy p;
	guint i = 0;

	opm_admission_policy(list, &p);
	while (i < s->noms->len) {
		OpmNomination *n = g_ptr_array_index(s->noms, i);
		OpmMember *m = opm_list_find_member(list, NULL, n->address);
		OpmNominationState st = opm_nomination_state(&p, n, now);
		g_autoptr(GPtrArray) changes = NULL;
		g_autoptr(GError) why = NULL;
		OpmChange *c;

		if (m != NULL) {
			/* added meanwhile, by an admin or before a crash */
			g_message("%s: the nomination of %s ends: a member now",
			    list->address, n->address);
			opm_nomination_free(g_ptr_array_steal_index(s->noms, i));
			continue;
		}
		/* a vouch counts while its giver is a member */
		for (guint j = n->vouches->len; j > 0; j--) {
			OpmVoice *v = g_ptr_array_index(n->vouches, j - 1);

			if (opm_list_find_member(list, NULL, v->who) == NULL) {
				g_message("%s: the vouch of %s for %s no longer "
				    "counts: not a member", list->address, v->who,
				    n->address);
				g_ptr_array_remove_index(n->vouches, j - 1);
				st = opm_nomination_state(&p, n, now);
			}
		}
		if (st == OPM_NOMINATION_OPEN) {
			i++;
			continue;
		}
		n = g_ptr_array_steal_index(s->noms, i);
		if (st == OPM_NOMINATION_EXPIRED ||
		    st == OPM_NOMINATION_REFUSED) {
			g_message("%s: the nomination of %s %s", list->address,
			    n->address, st == OPM_NOMINATION_EXPIRED ? "expired" :
			    "was refused by an admin");
			g_ptr_array_add(events, opm_admission_event_new(
			    st == OPM_NOMINATION_EXPIRED ? OPM_ADMISSION_EXPIRED :
			    OPM_ADMISSION_REFUSED, n, NULL, NULL));
			continue;
		}
		/* ready: the same change as add-member */
		changes = g_ptr_array_new_with_free_func(
		    (GDestroyNotify)opm_change_free);
		g_ptr_array_add(changes, opm_change_new(OPM_CHANGE_ADD,
		    n->address, n->fpr, n->name, n->key));
		if (!opm_member_apply(conf, list, changes, dry_run, now, NULL,
		    &why)) {
			if (!g_error_matches(why, OPM_ERROR, OPM_ERROR_CONFIG)) {
				/* back where it was; the caller does not save */
				g_ptr_array_insert(s->noms, (gint)i, n);
				g_propagate_error(error, g_steal_pointer(&why));
				return FALSE;
			}
			g_warning("%s: the nomination of %s ends: %s",
			    list->address, n->address, why->message);
			g_ptr_array_add(events, opm_admission_event_new(
			    OPM_ADMISSION_FAILED, n, NULL, why->message));
			continue;
		}
		c = g_ptr_array_steal_index(changes, 0);
		g_message("%s: %s admitted, nominated by %s, %u vouches%s%s",
		    list->address, n->address, n->nominator,
		    opm_nomination_count(n), n->approved_by != NULL ?
		    ", approved by " : "", n->approved_by != NULL ?
		    n->approved_by : "");
		g_ptr_array_add(events, opm_admission_event_new(
		    OPM_ADMISSION_ADMITTED, n, c, NULL));
	}
	return TRUE;
}

/* One notice to the holder of the member key of address; FALSE when it
 * could not be made or queued (logged). */
static gboolean
tell(OpmList *list, const char *address, const char *subject,
    const char *body, OpmInjector *inj, gint64 now)
{
	OpmMember *m = opm_list_find_member(list, NULL, address);
	const char *pin = list->admin_pins != NULL ?
	    g_hash_table_lookup(list->admin_pins, address) : NULL;
	g_autoptr(GBytes) mail = NULL;
	g_autoptr(GError) error = NULL;

	if (m == NULL || m->key == NULL || !opm_key_can(m->key, FALSE, now)) {
		g_warning("%s: %s has no usable key: \"%s\" not sent",
		    list->address, address, subject);
		return FALSE;
	}
	mail = opm_member_notice(list, address, pin != NULL ? pin : m->fpr,
	    subject, body, now, &error);
	if (mail == NULL || !opm_injector_send(inj, list->bounce_address,
	    address, mail, NULL, &error)) {
		g_warning("%s: \"%s\" to %s: %s", list->address, subject, address,
		    error->message);
		return FALSE;
	}
	return TRUE;
}

static gboolean
is_admin(OpmList *list, const char *address)
{
	for (guint i = 0; list->admins != NULL && i < list->admins->len; i++)
		if (g_ascii_strcasecmp(g_ptr_array_index(list->admins, i),
		    address) == 0)
			return TRUE;
	return FALSE;
}

gint
opm_admission_tell_admins(OpmList *list, const char *subject,
    const char *body, OpmInjector *inj, gint64 now)
{
	gint sent = 0;

	for (guint i = 0; list->admins != NULL && i < list->admins->len; i++)
		sent += tell(list, g_ptr_array_index(list->admins, i), subject,
		    body, inj, now);
	return sent;
}

/* The nominator (unless an admin, who hears as one) and the admins. */
static gint
tell_nominator_and_admins(OpmList *list, const OpmNomination *n,
    const char *subject, const char *to_nominator, const char *to_admins,
    OpmInjector *inj, gint64 now)
{
	gint sent = 0;

	if (!is_admin(list, n->nominator) && opm_list_find_member(list, NULL,
	    n->nominator) != NULL)
		sent += tell(list, n->nominator, subject, to_nominator, inj, now);
	return sent + opm_admission_tell_admins(list, subject, to_admins, inj,
	    now);
}

static char *
objections_text(const OpmNomination *n)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < n->objections->len; i++) {
		OpmVoice *v = g_ptr_array_index(n->objections, i);
		g_autofree char *r = opm_sanitize(v->reason, 300);

		g_string_append_printf(s, "  %s%s: %s\n", v->who, v->admin ?
		    " (admin)" : "", r);
	}
	return g_string_free(s, FALSE);
}

gint
opm_admission_notify(OpmList *list, GPtrArray *events, OpmInjector *inj,
    gint64 now)
{
	gint sent = 0;

	for (guint i = 0; inj != NULL && i < events->len; i++) {
		OpmAdmissionEvent *e = g_ptr_array_index(events, i);
		OpmNomination *n = e->nom;
		g_autofree char *subject = NULL;
		g_autofree char *mine = NULL;
		g_autofree char *theirs = NULL;
		g_autofree char *obj = objections_text(n);

		switch (e->outcome) {
		case OPM_ADMISSION_ADMITTED: {
			g_autoptr(GPtrArray) one = g_ptr_array_new();
			g_autoptr(GError) error = NULL;
			g_autofree char *body = NULL;
			g_autofree char *name = n->name != NULL ?
			    opm_sanitize(n->name, 100) : NULL;

			g_ptr_array_add(one, e->change);
			sent += opm_member_greet(list, one, inj, now);
			subject = g_strdup_printf("[%s] new member %s",
			    list->name, n->address);
			body = g_strdup_printf("%s%s%s%s joined the list %s, with "
			    "the key\n%s,\nnominated by %s and vouched for by %u "
			    "members%s.\n", n->address, name != NULL ? " (" : "",
			    name != NULL ? name : "", name != NULL ? ")" : "",
			    list->address, n->fpr, n->nominator,
			    opm_nomination_count(n), n->approved_by != NULL ?
			    ", approved by an admin" : "");
			for (guint j = 0; j < list->members->len; j++) {
				OpmMember *m = g_ptr_array_index(list->members, j);

				if (m->key != NULL && opm_key_can(m->key, FALSE,
				    now))
					sent += tell(list, m->address, subject, body,
					    inj, now);
			}
			(void)error;
			continue;
		}
		case OPM_ADMISSION_EXPIRED:
			subject = g_strdup_printf("[%s] the nomination of %s "
			    "expired", list->name, n->address);
			mine = g_strdup_printf("The nomination of %s (key %s) to "
			    "the list %s\nexpired with %u of %u vouches%s.  "
			    "Nobody was added.\nYou may nominate again.\n",
			    n->address, n->fpr, list->address,
			    opm_nomination_count(n), (guint)MAX(
			    list->vouches_required, 1), list->admin_approval &&
			    n->approved_by == NULL ? " and no admin's approval" :
			    "");
			theirs = g_strdup_printf("%s\nNominated by %s.\n%s%s",
			    mine, n->nominator, *obj != '\0' ? "Objections:\n" :
			    "", obj);
			break;
		case OPM_ADMISSION_REFUSED:
			subject = g_strdup_printf("[%s] the nomination of %s was "
			    "refused", list->name, n->address);
			mine = g_strdup_printf("An admin of the list %s objected "
			    "to the nomination of %s\n(key %s).  The nomination "
			    "has ended and nobody was added.\n", list->address,
			    n->address, n->fpr);
			theirs = g_strdup_printf("%s\nNominated by %s.  "
			    "Objections:\n%s", mine, n->nominator, obj);
			break;
		case OPM_ADMISSION_WITHDRAWN:
			subject = g_strdup_printf("[%s] the nomination of %s was "
			    "withdrawn", list->name, n->address);
			mine = g_strdup_printf("%s withdrew the nomination of %s "
			    "(key %s)\nto the list %s.  Nobody was added.\n",
			    n->nominator, n->address, n->fpr, list->address);
			theirs = g_strdup(mine);
			break;
		case OPM_ADMISSION_FAILED: {
			g_autofree char *why = opm_sanitize(e->why, 500);

			subject = g_strdup_printf("[%s] %s could not be added",
			    list->name, n->address);
			mine = g_strdup_printf("The nomination of %s (key %s) to "
			    "the list %s\nhad every vouch it needed, but the "
			    "candidate could not be added:\n%s.\nThe nomination "
			    "has ended; nominate again with a key that passes.\n",
			    n->address, n->fpr, list->address, why);
			theirs = g_strdup(mine);
			break;
		}
		}
		sent += tell_nominator_and_admins(list, n, subject, mine, theirs,
		    inj, now);
	}
	return sent;
}

gint
opm_admission_announce(OpmList *list, const OpmNomination *n,
    OpmInjector *inj, gint64 now)
{
	OpmAdmissionPolicy p;
	g_autofree char *subject = g_strdup_printf("[%s] nomination of %s",
	    list->name, n->address);
	g_autofree char *body = NULL;
	g_autofree char *name = n->name != NULL ? opm_sanitize(n->name, 100) :
	    NULL;
	g_autofree char *until = NULL;
	gint sent = 0;

	opm_admission_policy(list, &p);
	until = utc(opm_nomination_expires(&p, n));
	body = g_strdup_printf("%s nominated a new member for the list %s:\n\n"
	    "  %s%s%s%s\n  key fingerprint %s\n\n"
	    "If you know this person, check the fingerprint with them in a way\n"
	    "you trust (in person, or on the telephone, reading it aloud), not\n"
	    "from this mail.  If it matches, vouch by sending, in a mail signed\n"
	    "with your key to %s, the line\n\n"
	    "  vouch %s %s\n\n"
	    "If you object, send the line\n\n"
	    "  object %s REASON\n\n"
	    "The candidate joins after %u vouches by members other than the\n"
	    "nominator%s.  The nomination is open until %s.\n"
	    "Send \"nominations\" to see where it stands.\n",
	    n->nominator, list->address, n->address, name != NULL ? " (" : "",
	    name != NULL ? name : "", name != NULL ? ")" : "", n->fpr,
	    list->request_address, n->address, n->fpr, n->address, p.required,
	    p.approval ? " and an admin's approval" : "", until);
	for (guint i = 0; inj != NULL && i < list->members->len; i++) {
		OpmMember *m = g_ptr_array_index(list->members, i);

		if (g_ascii_strcasecmp(m->address, n->nominator) == 0 ||
		    m->key == NULL || !opm_key_can(m->key, FALSE, now))
			continue;
		sent += tell(list, m->address, subject, body, inj, now);
	}
	return sent;
}

gboolean
opm_admission_check(OpmConfig *conf, OpmList *list, OpmInjector *inj,
    gint64 now, guint *ended, GError **error)
{
	g_autoptr(GPtrArray) events = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)opm_admission_event_free);
	OpmNominations *s;
	guint before;

	if (ended != NULL)
		*ended = 0;
	if ((s = opm_nominations_open(conf->state_dir, list->address,
	    error)) == NULL)
		return FALSE;
	before = s->noms->len;
	if (!opm_admission_settle(conf, list, s, FALSE, now, events, error) ||
	    (s->noms->len != before && !opm_nominations_save(s, error))) {
		opm_nominations_close(s);
		return FALSE;
	}
	if (ended != NULL)
		*ended = before - s->noms->len;
	opm_nominations_close(s);
	opm_admission_notify(list, events, inj, now);
	return TRUE;
}
