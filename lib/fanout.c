/*
 * NAME
 *	fanout - one encrypted copy per member, each queued exactly once
 * SYNOPSIS
 *	opm_fanout_run()
 * DESCRIPTION
 *	Order of work for a post:
 *	  1. open and lock its journal entry; a finished entry is a replay;
 *	  2. build the inner entity once;
 *	  3. per member, unless the journal says it is done: a member whose
 *	     key cannot be used gets a notice without content; the others get
 *	     the inner entity signed by the list key and encrypted to their key
 *	     only; each copy is recorded durably right after the MTA took it;
 *	  4. one notice per admin naming the members who got a notice;
 *	  5. mark the entry done.
 *	A failure at any step leaves the entry pending with the copies queued
 *	so far recorded; the MTA's retry of the post resumes at step 3.
 * DIAGNOSTICS
 *	Errors are returned; the caller tempfails the post.
 */
#include "config.h"

#include <string.h>

#include "copy.h"
#include "fanout.h"
#include "journal.h"
#include "keys.h"

/* Why k cannot receive, or NULL when it can. */
static const char *
unusable(const OpmKeyInfo *k, gint64 now)
{
	if (k == NULL)
		return "the key is missing from the list's keyring";
	if (k->revoked)
		return "the key is revoked";
	if (k->expired || !opm_key_can(k, FALSE, now)) {
		OpmSubkeyInfo *p = g_ptr_array_index(k->subkeys, 0);

		if (k->expired || (p->expires != 0 && p->expires <= now))
			return "the key has expired";
		return "the key has no usable encryption subkey";
	}
	return NULL;
}

gboolean
opm_fanout_run(OpmConfig *conf, OpmList *list, OpmMessage *msg,
    const OpmVerdict *v, OpmInjector *inj, gboolean write_state, gint64 now,
    OpmFanoutStats *stats, GError **error)
{
	g_autoptr(GPtrArray) withheld = g_ptr_array_new();
	g_autoptr(GPtrArray) reasons = g_ptr_array_new();
	g_autoptr(GBytes) inner = NULL;
	g_auto(gpgme_ctx_t) ctx = NULL;
	OpmJournal *j = NULL;
	OpmMember *poster = v->member;
	gboolean ok = FALSE;
	gint64 done_life = MAX(list->replay_lifetime, list->max_signature_age);

	memset(stats, 0, sizeof(*stats));
	if (inj == NULL)
		return TRUE; /* dry run: the verdict is all that is asked */
	g_return_val_if_fail(poster != NULL && v->replay_key != NULL, FALSE);
	if (list->list_gpgkey == NULL) {
		g_set_error(error, OPM_ERROR, OPM_ERROR_CRYPTO,
		    "the secret list key %s is not in %s", list->list_key,
		    list->gnupg_home);
		return FALSE;
	}
	if (write_state) {
		j = opm_journal_open(conf->state_dir, list->address,
		    v->replay_key, now, done_life, conf->journal_lifetime, error);
		if (j == NULL)
			return FALSE;
		if (opm_journal_state(j) == OPM_POST_DONE) {
			g_set_error(error, OPM_ERROR, OPM_ERROR_REPLAY,
			    "the post was fanned out already");
			goto DONE;
		}
	}
	if ((ctx = opm_gpg_context(list->gnupg_home, error)) == NULL)
		goto DONE;
	inner = opm_copy_inner(list, msg, poster);

	for (guint i = 0; i < list->members->len; i++) {
		OpmMember *m = g_ptr_array_index(list->members, i);
		g_autofree char *copy_id = g_strconcat("copy:", m->address, NULL);
		g_autofree char *note_id = g_strconcat("notice:", m->address, NULL);
		g_autofree char *mid = opm_copy_message_id(list, v->replay_key,
		    m->address);
		g_autoptr(GBytes) cipher = NULL;
		g_autoptr(GBytes) copy = NULL;
		g_autoptr(GError) kerr = NULL;
		const char *why = unusable(m->key, now);
		const char *rcpt[2] = {m->fpr, NULL};

		if (j != NULL && opm_journal_has(j, copy_id)) {
			stats->already++;
			continue;
		}
		if (why == NULL) {
			cipher = opm_sign_encrypt(ctx, list->list_gpgkey, rcpt,
			    inner, &kerr);
			if (cipher == NULL && !g_error_matches(kerr, OPM_ERROR,
			    OPM_ERROR_KEY)) {
				g_propagate_error(error, g_steal_pointer(&kerr));
				goto DONE;
			}
			if (cipher == NULL)
				why = "gpg refuses to encrypt to the key";
		}
		if (why != NULL) {
			g_ptr_array_add(withheld, m);
			g_ptr_array_add(reasons, (gpointer)why);
			stats->withheld++;
			g_message("%s: withheld from %s: %s%s%s", list->address,
			    m->address, why, kerr != NULL ? ": " : "",
			    kerr != NULL ? kerr->message : "");
			if (j != NULL && opm_journal_has(j, note_id))
				continue;
			copy = opm_copy_withheld_notice(list, poster, m, why, mid,
			    now);
			if (!opm_injector_send(inj, list->bounce_address,
			    m->address, copy, error) ||
			    (j != NULL && !opm_journal_record(j, note_id, error)))
				goto DONE;
			stats->notices++;
			continue;
		}
		copy = opm_copy_outer(list, msg, poster, m->address, mid, cipher,
		    now);
		if (!opm_injector_send(inj, list->bounce_address, m->address,
		    copy, error) ||
		    (j != NULL && !opm_journal_record(j, copy_id, error)))
			goto DONE;
		stats->sent++;
	}
	for (guint i = 0; withheld->len > 0 && list->admins != NULL &&
	    i < list->admins->len; i++) {
		const char *admin = g_ptr_array_index(list->admins, i);
		g_autofree char *id = g_strconcat("admin:", admin, NULL);
		g_autofree char *mid = opm_copy_message_id(list, v->replay_key, id);
		g_autoptr(GBytes) notice = NULL;

		if (j != NULL && opm_journal_has(j, id))
			continue;
		notice = opm_copy_admin_notice(list, poster, admin, withheld,
		    reasons, mid, now);
		if (!opm_injector_send(inj, list->bounce_address, admin, notice,
		    error) || (j != NULL && !opm_journal_record(j, id, error)))
			goto DONE;
		stats->notices++;
	}
	if (j != NULL && !opm_journal_finish(j, now, error))
		goto DONE;
	ok = TRUE;
DONE:
	opm_journal_close(j);
	return ok;
}
