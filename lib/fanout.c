/*
 * NAME
 *	fanout - one encrypted copy per member, each queued exactly once
 * SYNOPSIS
 *	opm_fanout_run()
 * DESCRIPTION
 *	Order of work for a post:
 *	  1. the caller opened and locked its journal entry
 *	     (opm_fanout_journal()); a finished entry is a replay;
 *	  2. build the inner entity once;
 *	  3. per member, unless the journal says it is done: the inner entity
 *	     signed by the list key and encrypted to that member's key only;
 *	     each copy is recorded durably right after the MTA took it.  With
 *	     FanoutMode split (the default) one sign+encrypt operation to all
 *	     members serves them all: the result is split into one message
 *	     per member, its own session-key packet and the shared encrypted
 *	     data, whose armor is computed once and copied (lib/pgp.c);
 *	     from BATCH_PARALLEL_MIN members on, the list is dealt into two
 *	     halves encrypted side by side, one gpg each, so that both
 *	     cores work on a large list (dealt in keyring order: gpg's
 *	     look-up of a recipient reads the keyring up to its key, so two
 *	     halves cut in that order would not take equally long);
 *	     per-member mode runs one
 *	     operation per member and is the reference the tests compare
 *	     against;
 *	     a member whose key cannot be used gets a notice without content;
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
#include "pgp.h"

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

/* Claim id in j, hand msg to the MTA for rcpt, and have the claim turned
 * into a record the moment the MTA took it.  j NULL: no state. */
static gboolean
deliver(OpmInjector *inj, OpmJournal *j, const char *id, const char *sender,
    const char *rcpt, GBytes *msg, GError **error)
{
	OpmCommit commit = {-1, -1};
	gboolean ok;

	if (j == NULL)
		return opm_injector_send(inj, sender, rcpt, msg, NULL, error);
	if (!opm_journal_claim(j, id, error))
		return FALSE;
	opm_journal_commit_of(j, id, &commit);
	ok = opm_injector_send(inj, sender, rcpt, msg, &commit, error);
	opm_commit_clear(&commit);
	return ok;
}

/* The split encryption of one post: every member's ciphertext comes from
 * one sign+encrypt operation to all of them, or for a large list from one
 * operation per half, run side by side. */
#define BATCH_PARTS 2
#define BATCH_PARALLEL_MIN 4 /* members; fewer are not worth a thread */

typedef struct {
	OpmPgpSplit *split[BATCH_PARTS];
	OpmPgpArmorer *armor[BATCH_PARTS];
	GHashTable *by_keyid; /* key ID -> (part << 24 | index) + 1 */
} Batch;

static void
batch_clear(Batch *b)
{
	for (int p = 0; p < BATCH_PARTS; p++) {
		g_clear_pointer(&b->armor[p], opm_pgp_armorer_free);
		g_clear_pointer(&b->split[p], opm_pgp_split_free);
	}
	g_clear_pointer(&b->by_keyid, g_hash_table_unref);
}

/* Where m's session key packet is in b: (part << 24 | index), or -1. */
static gint
batch_index(Batch *b, const OpmMember *m)
{
	for (guint i = 0; m->key != NULL && i < m->key->subkeys->len; i++) {
		OpmSubkeyInfo *s = g_ptr_array_index(m->key->subkeys, i);
		gsize n = strlen(s->fpr);
		gpointer v;

		if (n >= 16 && (v = g_hash_table_lookup(b->by_keyid,
		    s->fpr + n - 16)) != NULL)
			return GPOINTER_TO_INT(v) - 1;
	}
	return -1;
}

/* m's armored message in b.  (transfer full) */
static GBytes *
batch_message(Batch *b, const OpmMember *m)
{
	gint at = batch_index(b, m);

	return opm_pgp_armorer_message(b->armor[at >> 24],
	    (guint)(at & 0xffffff));
}

/* One part: sign and encrypt to rcpts, then split. */
typedef struct {
	OpmList *list;
	GPtrArray *rcpts;     /* OpmMember *, not owned */
	GBytes *inner;
	gpgme_ctx_t ctx;      /* NULL: take one from the list's pool */
	OpmPgpSplit *split;   /* result */
	GError *error;
} Part;

static gpointer
part_encrypt(gpointer data)
{
	Part *p = data;
	g_autoptr(GPtrArray) fprs = g_ptr_array_new();
	g_autoptr(GBytes) armored = NULL;
	g_autoptr(GBytes) binary = NULL;
	gpgme_ctx_t ctx = p->ctx != NULL ? p->ctx :
	    opm_gpg_acquire(p->list, &p->error);

	if (ctx == NULL)
		return NULL;
	for (guint i = 0; i < p->rcpts->len; i++)
		g_ptr_array_add(fprs, ((OpmMember *)p->rcpts->pdata[i])->fpr);
	g_ptr_array_add(fprs, NULL);
	armored = opm_sign_encrypt(ctx, p->list->list_gpgkey,
	    (const char *const *)fprs->pdata, p->inner, &p->error);
	if (armored != NULL &&
	    (binary = opm_pgp_dearmor(armored, "MESSAGE", &p->error)) != NULL)
		p->split = opm_pgp_split(binary, &p->error);
	if (p->ctx == NULL)
		opm_gpg_release(p->list, ctx);
	return NULL;
}

static gint
by_position(gconstpointer a, gconstpointer b)
{
	const OpmMember *ma = *(OpmMember *const *)a;
	const OpmMember *mb = *(OpmMember *const *)b;

	return ma->key->position < mb->key->position ? -1 :
	    ma->key->position > mb->key->position;
}

/*
 * Sign once and encrypt to every member in rcpts (in two parts side by
 * side for a large list), then split.  FALSE with error: OPM_ERROR_KEY
 * when gpg refused a key (the caller then goes member by member),
 * anything else is trouble.
 */
static gboolean
batch_encrypt(Batch *b, gpgme_ctx_t ctx, OpmList *list, GPtrArray *rcpts,
    GBytes *inner, GError **error)
{
	Part parts[BATCH_PARTS];
	guint nparts = rcpts->len >= BATCH_PARALLEL_MIN &&
	    g_get_num_processors() > 1 ? BATCH_PARTS : 1;
	g_autoptr(GPtrArray) order = g_ptr_array_copy(rcpts, NULL, NULL);
	GPtrArray *share[BATCH_PARTS] = {NULL};
	GThread *helper = NULL;
	gboolean ok = TRUE;

	/* gpg finds each recipient by reading the keyring from its start:
	 * deal the members out in keyring order so that each part's gpg
	 * reads about as much as the other's */
	g_ptr_array_sort(order, by_position);
	for (guint p = 0; p < nparts; p++)
		share[p] = g_ptr_array_new();
	for (guint i = 0; i < order->len; i++)
		g_ptr_array_add(share[i % nparts], order->pdata[i]);
	for (guint p = 0; p < nparts; p++)
		parts[p] = (Part){list, share[p], inner, p == 0 ? ctx : NULL,
		    NULL, NULL};
	if (nparts > 1)
		helper = g_thread_new("encrypt", part_encrypt, &parts[1]);
	part_encrypt(&parts[0]);
	if (helper != NULL)
		g_thread_join(helper);
	for (guint p = 0; p < nparts; p++)
		g_ptr_array_unref(share[p]);
	for (guint p = 0; p < nparts; p++) {
		b->split[p] = parts[p].split;
		if (parts[p].error != NULL) {
			/* a refused key first: it sends the caller member by
			 * member */
			if (ok || g_error_matches(parts[p].error, OPM_ERROR,
			    OPM_ERROR_KEY)) {
				g_clear_error(error);
				g_propagate_error(error, parts[p].error);
			} else
				g_error_free(parts[p].error);
			ok = FALSE;
		}
	}
	if (!ok)
		return FALSE;
	b->by_keyid = g_hash_table_new(g_str_hash, g_str_equal);
	for (guint p = 0; p < nparts; p++)
		b->armor[p] = opm_pgp_armorer_new(b->split[p], "MESSAGE");
	for (guint p = 0; p < nparts; p++)
		for (guint i = 0; i < b->split[p]->pkesks->len; i++)
			g_hash_table_insert(b->by_keyid,
			    g_array_index(b->split[p]->pkesks, OpmPkesk, i).keyid,
			    GINT_TO_POINTER((gint)(p << 24 | i) + 1));
	for (guint i = 0; i < rcpts->len; i++)
		if (batch_index(b, rcpts->pdata[i]) < 0) {
			g_set_error(error, OPM_ERROR, OPM_ERROR_CRYPTO,
			    "no session key packet for %s",
			    ((OpmMember *)rcpts->pdata[i])->address);
			return FALSE;
		}
	return TRUE;
}

static gint64
done_lifetime(const OpmList *list)
{
	return MAX(list->replay_lifetime, list->max_signature_age);
}

OpmJournal *
opm_fanout_journal(OpmConfig *conf, OpmList *list, const OpmVerdict *v,
    gint64 now, GError **error)
{
	return opm_journal_open(conf->state_dir, list->address, v->replay_key,
	    now, done_lifetime(list), conf->journal_lifetime, error);
}

OpmPostState
opm_fanout_state(OpmConfig *conf, OpmList *list, const OpmVerdict *v,
    gint64 now)
{
	if (v->replay_key == NULL)
		return OPM_POST_NEW;
	return opm_journal_peek(conf->state_dir, list->address, v->replay_key,
	    now, done_lifetime(list), conf->journal_lifetime, NULL, NULL);
}

gboolean
opm_fanout_run(OpmConfig *conf, OpmList *list, OpmMessage *msg,
    const OpmVerdict *v, OpmInjector *inj, OpmJournal *j, gint64 now,
    OpmFanoutStats *stats, GError **error)
{
	g_autoptr(GPtrArray) withheld = g_ptr_array_new();
	g_autoptr(GPtrArray) reasons = g_ptr_array_new();
	g_autoptr(GPtrArray) rcpts = g_ptr_array_new();
	g_autoptr(GBytes) inner = NULL;
	g_autoptr(OpmCopyFrame) frame = NULL;
	gpgme_ctx_t ctx = NULL;
	Batch batch = {{NULL}, {NULL}, NULL};
	OpmMember *poster = v->member;
	gboolean ok = FALSE;

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
	if (j != NULL && opm_journal_state(j) == OPM_POST_DONE) {
		g_set_error(error, OPM_ERROR, OPM_ERROR_REPLAY,
		    "the post was fanned out already");
		return FALSE;
	}
	if ((ctx = opm_gpg_acquire(list, error)) == NULL)
		goto DONE;
	inner = opm_copy_inner(list, msg, poster);
	frame = opm_copy_frame_new(list, msg, poster, now);

	/* who still needs what */
	for (guint i = 0; i < list->members->len; i++) {
		OpmMember *m = g_ptr_array_index(list->members, i);
		g_autofree char *copy_id = g_strconcat("copy:", m->address, NULL);
		const char *why = unusable(m->key, now);

		if (j != NULL && opm_journal_has(j, copy_id))
			stats->already++;
		else if (why != NULL) {
			g_ptr_array_add(withheld, m);
			g_ptr_array_add(reasons, (gpointer)why);
		} else
			g_ptr_array_add(rcpts, m);
	}
	/* claim everything this attempt sends, before the first copy */
	if (j != NULL) {
		g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);

		for (guint i = 0; i < rcpts->len; i++)
			g_ptr_array_add(ids, g_strconcat("copy:",
			    ((OpmMember *)rcpts->pdata[i])->address, NULL));
		for (guint i = 0; i < withheld->len; i++)
			g_ptr_array_add(ids, g_strconcat("notice:",
			    ((OpmMember *)withheld->pdata[i])->address, NULL));
		for (guint i = 0; withheld->len > 0 && list->admins != NULL &&
		    i < list->admins->len; i++)
			g_ptr_array_add(ids, g_strconcat("admin:",
			    (char *)list->admins->pdata[i], NULL));
		g_ptr_array_add(ids, NULL);
		if (!opm_journal_claim_all(j, (const char *const *)ids->pdata,
		    error))
			goto DONE;
	}
	if (rcpts->len > 0 && strcmp(conf->fanout_mode, "split") == 0) {
		g_autoptr(GError) berr = NULL;

		if (!batch_encrypt(&batch, ctx, list, rcpts, inner, &berr)) {
			if (!g_error_matches(berr, OPM_ERROR, OPM_ERROR_KEY)) {
				g_propagate_error(error, g_steal_pointer(&berr));
				goto DONE;
			}
			/* gpg refused a key: find out whose, member by member */
			g_message("%s: %s; encrypting member by member",
			    list->address, berr->message);
			batch_clear(&batch);
		}
	}

	for (guint i = 0; i < rcpts->len; i++) {
		OpmMember *m = g_ptr_array_index(rcpts, i);
		g_autofree char *copy_id = g_strconcat("copy:", m->address, NULL);
		g_autofree char *mid = opm_copy_message_id(list, v->replay_key,
		    m->address);
		g_autoptr(GBytes) cipher = NULL;
		g_autoptr(GBytes) copy = NULL;
		g_autoptr(GError) kerr = NULL;

		if (batch.by_keyid != NULL) {
			cipher = batch_message(&batch, m);
		} else {
			const char *one[2] = {m->fpr, NULL};

			cipher = opm_sign_encrypt(ctx, list->list_gpgkey, one,
			    inner, &kerr);
			if (cipher == NULL) {
				if (!g_error_matches(kerr, OPM_ERROR, OPM_ERROR_KEY)) {
					g_propagate_error(error,
					    g_steal_pointer(&kerr));
					goto DONE;
				}
				g_message("%s: %s: %s", list->address, m->address,
				    kerr->message);
				g_ptr_array_add(withheld, m);
				g_ptr_array_add(reasons,
				    (gpointer)"gpg refuses to encrypt to the key");
				continue;
			}
		}
		copy = opm_copy_outer(frame, mid, cipher);
		if (!deliver(inj, j, copy_id, list->bounce_address, m->address,
		    copy, error))
			goto DONE;
		stats->sent++;
	}

	stats->withheld = withheld->len;
	for (guint i = 0; i < withheld->len; i++) {
		OpmMember *m = g_ptr_array_index(withheld, i);
		const char *why = g_ptr_array_index(reasons, i);
		g_autofree char *note_id = g_strconcat("notice:", m->address, NULL);
		g_autofree char *mid = opm_copy_message_id(list, v->replay_key,
		    note_id);
		g_autoptr(GBytes) notice = NULL;

		g_message("%s: withheld from %s: %s", list->address, m->address,
		    why);
		if (j != NULL && opm_journal_has(j, note_id))
			continue;
		notice = opm_copy_withheld_notice(list, poster, m, why, mid, now);
		if (!deliver(inj, j, note_id, list->bounce_address, m->address,
		    notice, error))
			goto DONE;
		stats->notices++;
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
		if (!deliver(inj, j, id, list->bounce_address, admin, notice,
		    error))
			goto DONE;
		stats->notices++;
	}
	if (j != NULL && !opm_journal_finish(j, now, error))
		goto DONE;
	ok = TRUE;
DONE:
	batch_clear(&batch);
	opm_gpg_release(list, ctx);
	return ok;
}
