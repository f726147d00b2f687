/*
 * NAME
 *	expiry - reminders before member keys expire
 * SYNOPSIS
 *	opm_expiry_run(), opm_expiry_inactive()
 * DESCRIPTION
 *	For each member's key, and the list key, that expires (the first of
 *	its usable signing or encryption keys to expire, see
 *	opm_member_key_expires()) at E, the times of KeyExpiryReminders that
 *	now - E has crossed are looked up in
 *	STATE/reminders/LIST/FINGERPRINT.E, one line per time already
 *	reminded.  When the shortest time crossed is not there, one
 *	reminder goes out (to the member, encrypted to that still usable
 *	key; for the list key, to the admins in the summary) and every time
 *	crossed is recorded, written to a temporary file and renamed after
 *	the MTA took the reminder.  So a restart resends nothing, a member
 *	first seen a few days before expiry gets one reminder, not three,
 *	and a key whose expiry date is extended starts afresh (its file
 *	name changes).  A crash between the MTA taking a reminder and the
 *	rename sends it once more: a reminder may come twice, never not.
 *
 *	When anything was sent, each admin gets one summary of the keys
 *	that expire within the longest time or cannot be used.
 *
 *	Inactive members (key missing, revoked, expired): the time a member's
 *	pinned key was first seen so is STATE/inactive/LIST/FINGERPRINT,
 *	with "reminded" added once the admins were told; the file goes when
 *	the key works again or the member changes keys.
 * DIAGNOSTICS
 *	OPM_ERROR_IO for the state directory, OPM_ERROR_INJECT when the MTA
 *	refused a message.
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "audit.h"
#include "expiry.h"
#include "keys.h"
#include "member.h"

#define DAY (24 * 3600)

static char *
state_file(const char *state_dir, OpmList *list, const char *fpr,
    gint64 expires, GError **error)
{
	g_autofree char *dir = g_build_filename(state_dir, "reminders",
	    list->address, NULL);
	g_autofree char *name = g_strdup_printf("%s.%" G_GINT64_FORMAT, fpr,
	    expires);

	if (!opm_mkdir(dir, 0700, error))
		return NULL;
	return g_build_filename(dir, name, NULL);
}

static gboolean
was_sent(const char *text, gint64 t)
{
	g_autofree char *want = g_strdup_printf("%" G_GINT64_FORMAT, t);
	g_auto(GStrv) lines = g_strsplit(text != NULL ? text : "", "\n", -1);

	for (char **l = lines; *l != NULL; l++)
		if (strcmp(*l, want) == 0)
			return TRUE;
	return FALSE;
}

static gboolean
record(const char *path, OpmList *list, gint64 remaining, GError **error)
{
	GString *s = g_string_new(NULL);
	gboolean ok;

	for (guint i = 0; i < list->reminders->len; i++) {
		gint64 t = g_array_index(list->reminders, gint64, i);

		if (remaining <= t)
			g_string_append_printf(s, "%" G_GINT64_FORMAT "\n", t);
	}
	ok = g_file_set_contents(path, s->str, (gssize)s->len, error);
	g_string_free(s, TRUE);
	return ok;
}

/* Is a reminder due for a key expiring at expires?  *path gets the state
 * file.  FALSE with error for trouble. */
static gboolean
due(const char *state_dir, OpmList *list, const char *fpr, gint64 expires,
    gint64 now, gboolean *is_due, char **path, GError **error)
{
	g_autofree char *text = NULL;
	gint64 remaining = expires - now, shortest = -1;

	*is_due = FALSE;
	*path = NULL;
	if (expires <= 0 || remaining <= 0)
		return TRUE;
	for (guint i = 0; i < list->reminders->len; i++) {
		gint64 t = g_array_index(list->reminders, gint64, i);

		if (remaining <= t)
			shortest = t;
	}
	if (shortest < 0)
		return TRUE;
	if ((*path = state_file(state_dir, list, fpr, expires, error)) == NULL)
		return FALSE;
	(void)g_file_get_contents(*path, &text, NULL, NULL);
	*is_due = !was_sent(text, shortest);
	return TRUE;
}

static char *
when(gint64 t)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(t);

	return g_date_time_format(dt, "%Y-%m-%d %H:%M UTC");
}

static char *
reminder_text(OpmList *list, OpmMember *m, gint64 expires, gint64 now)
{
	g_autofree char *date = when(expires);
	gint64 days = (expires - now + DAY - 1) / DAY;

	return g_strdup_printf("Your OpenPGP key %s, registered for %s on the "
	    "list %s,\nexpires in %" G_GINT64_FORMAT " day%s, on %s.  After "
	    "that the list refuses your posts\nand sends you no more copies, "
	    "only notices without content.\n\n"
	    "Before then, either\n"
	    "  - extend the key's expiry date in your OpenPGP program, or\n"
	    "  - make a new key with a user ID for %s,\n"
	    "and send a mail signed with your current key to %s\n"
	    "with the one line\n"
	    "    update-key FINGERPRINT\n"
	    "(the fingerprint of the extended or new key) and the public key "
	    "attached.\nThe members' guide explains it step by step.\n",
	    m->fpr, m->address, list->address, days, days == 1 ? "" : "s",
	    date, m->address, list->request_address);
}

static char *
summary_text(OpmList *list, gint64 now)
{
	GString *s = g_string_new(NULL);
	gint64 horizon = list->reminders->len > 0 ?
	    g_array_index(list->reminders, gint64, 0) : 0;
	gint64 lk = opm_member_key_expires(list->list_keyinfo);

	g_string_append_printf(s, "Keys of the list %s that expire within %"
	    G_GINT64_FORMAT " days or cannot be used:\n\n", list->address,
	    horizon / DAY);
	if (lk > 0 && lk - now <= horizon) {
		g_autofree char *d = when(lk);

		g_string_append_printf(s, "  the list key %s expires on %s: "
		    "extend it (gpg --quick-set-expire)\n  in the list's GnuPG "
		    "home, then publish it again\n", list->list_key, d);
	}
	for (guint i = 0; i < list->members->len; i++) {
		OpmMember *m = g_ptr_array_index(list->members, i);
		gint64 e = opm_member_key_expires(m->key);

		if (m->key == NULL)
			g_string_append_printf(s, "  %s: key %s is missing\n",
			    m->address, m->fpr);
		else if (m->key->revoked || m->key->expired ||
		    m->key->invalid || m->key->disabled ||
		    !opm_key_can(m->key, FALSE, now))
			g_string_append_printf(s, "  %s: key %s cannot be used "
			    "(%s)\n", m->address, m->fpr, m->key->revoked ?
			    "revoked" : "expired or unusable");
		else if (e > 0 && e - now <= horizon) {
			g_autofree char *d = when(e);

			g_string_append_printf(s, "  %s: key %s expires on %s\n",
			    m->address, m->fpr, d);
		}
	}
	g_string_append(s, "\nMembers with a key near expiry were reminded "
	    "to send update-key.\n");
	return g_string_free(s, FALSE);
}

static gboolean
send_notice(OpmList *list, OpmInjector *inj, const char *to, const char *fpr,
    const char *subject, const char *body, gint64 now, GError **error)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(GBytes) mail = opm_member_notice(list, to, fpr, subject, body,
	    now, &err);

	if (mail == NULL) {
		/* this reader's key: logged, the others still get theirs */
		g_warning("%s: no expiry message to %s: %s", list->address, to,
		    err->message);
		return TRUE;
	}
	return inj == NULL || opm_injector_send(inj, list->bounce_address, to,
	    mail, NULL, error);
}

gboolean
opm_expiry_run(const char *state_dir, OpmList *list, OpmInjector *inj,
    gint64 now, OpmExpiryStats *stats, GError **error)
{
	g_autofree char *subject = g_strdup_printf("[%s] your key expires soon",
	    list->name);
	g_autofree char *lk_path = NULL;
	gint64 lk = 0;
	gboolean any = FALSE;

	memset(stats, 0, sizeof(*stats));
	if (list->reminders == NULL || list->reminders->len == 0)
		return TRUE;
	for (guint i = 0; i < list->members->len; i++) {
		OpmMember *m = g_ptr_array_index(list->members, i);
		g_autofree char *path = NULL;
		g_autofree char *body = NULL;
		gint64 e;
		gboolean is_due;

		if (m->key == NULL || !opm_key_can(m->key, FALSE, now))
			continue;
		e = opm_member_key_expires(m->key);
		if (!due(state_dir, list, m->fpr, e, now, &is_due, &path, error))
			return FALSE;
		if (!is_due)
			continue;
		body = reminder_text(list, m, e, now);
		if (!send_notice(list, inj, m->address, m->fpr, subject, body, now,
		    error) || !record(path, list, e - now, error))
			return FALSE;
		g_message("%s: reminded %s: key %s expires in %" G_GINT64_FORMAT
		    " days", list->address, m->address, m->fpr, (e - now) / DAY);
		stats->reminders++;
		any = TRUE;
	}
	if (list->list_keyinfo != NULL) {
		gboolean is_due;

		lk = opm_member_key_expires(list->list_keyinfo);
		if (!due(state_dir, list, list->list_key, lk, now, &is_due,
		    &lk_path, error))
			return FALSE;
		if (is_due) {
			stats->list_key = TRUE;
			any = TRUE;
			g_warning("%s: the list key %s expires in %" G_GINT64_FORMAT
			    " days", list->address, list->list_key,
			    (lk - now) / DAY);
		}
	}
	if (!any)
		return TRUE;
	{
		g_autofree char *body = summary_text(list, now);
		g_autofree char *subj = g_strdup_printf("[%s] keys near expiry",
		    list->name);

		for (guint i = 0; list->admins != NULL &&
		    i < list->admins->len; i++) {
			const char *a = g_ptr_array_index(list->admins, i);
			OpmMember *m = opm_list_find_member(list, NULL, a);

			if (m == NULL || m->key == NULL ||
			    !opm_key_can(m->key, FALSE, now)) {
				g_warning("%s: admin %s has no usable key: no "
				    "expiry summary sent", list->address, a);
				continue;
			}
			if (!send_notice(list, inj, a, m->fpr, subj, body, now,
			    error))
				return FALSE;
			stats->summaries++;
		}
	}
	/* the admins were told of the list key: not again for this time */
	return !stats->list_key || record(lk_path, list, lk - now, error);
}

gboolean
opm_expiry_inactive(const char *state_dir, OpmList *list, OpmInjector *inj,
    gint64 now, guint *reminded, GError **error)
{
	g_autofree char *dir = g_build_filename(state_dir, "inactive",
	    list->address, NULL);
	g_autoptr(GPtrArray) due_paths = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GString) body = g_string_new(NULL);
	guint n = 0;

	if (reminded != NULL)
		*reminded = 0;
	if (!opm_mkdir(dir, 0700, error))
		return FALSE;
	for (guint i = 0; i < list->members->len; i++) {
		OpmMember *m = g_ptr_array_index(list->members, i);
		const char *why = opm_audit_inactive(m, now);
		g_autofree char *path = g_build_filename(dir, m->fpr, NULL);
		g_autofree char *text = NULL;
		gint64 first;

		if (why == NULL) {
			(void)g_unlink(path);
			continue;
		}
		if (!g_file_get_contents(path, &text, NULL, NULL)) {
			g_autofree char *t = g_strdup_printf("%" G_GINT64_FORMAT
			    "\n", now);

			if (!g_file_set_contents(path, t, -1, error))
				return FALSE;
			text = g_steal_pointer(&t);
		}
		first = g_ascii_strtoll(text, NULL, 10);
		if (strstr(text, "reminded") != NULL ||
		    list->inactive_reminder <= 0 || first <= 0 ||
		    now - first < list->inactive_reminder)
			continue;
		g_string_append_printf(body, "  %s (key %s): %s, for %"
		    G_GINT64_FORMAT " days\n", m->address, m->fpr, why,
		    (now - first) / DAY);
		g_ptr_array_add(due_paths, g_steal_pointer(&path));
		n++;
	}
	if (n == 0)
		return TRUE;
	g_string_prepend(body, "These members of the list have been "
	    "inactive for a while:\nthey cannot post, and receive only "
	    "notices without content.\n\n");
	g_string_append_printf(body, "\nRemove each (remove-member ADDRESS) or "
	    "ask them for a new key\n(update-key, or set-key ADDRESS "
	    "FINGERPRINT with the key attached), in a\nsigned mail to %s.\n",
	    list->request_address);
	{
		g_autofree char *subj = g_strdup_printf("[%s] inactive members",
		    list->name);

		for (guint i = 0; list->admins != NULL &&
		    i < list->admins->len; i++) {
			const char *a = g_ptr_array_index(list->admins, i);
			OpmMember *m = opm_list_find_member(list, NULL, a);

			if (m == NULL || opm_audit_inactive(m, now) != NULL) {
				g_warning("%s: admin %s has no usable key: no "
				    "reminder of inactive members sent",
				    list->address, a);
				continue;
			}
			if (!send_notice(list, inj, a, m->fpr, subj, body->str,
			    now, error))
				return FALSE;
		}
	}
	for (guint i = 0; i < due_paths->len; i++) {
		const char *path = g_ptr_array_index(due_paths, i);
		g_autofree char *text = NULL;
		g_autofree char *t = NULL;

		(void)g_file_get_contents(path, &text, NULL, NULL);
		t = g_strdup_printf("%s reminded\n", text != NULL ?
		    g_strstrip(text) : "0");
		if (!g_file_set_contents(path, t, -1, error))
			return FALSE;
	}
	if (reminded != NULL)
		*reminded = n;
	g_message("%s: reminded the admins of %u inactive member%s",
	    list->address, n, n == 1 ? "" : "s");
	return TRUE;
}
