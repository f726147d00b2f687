/*
 * NAME
 *	fanout - one encrypted copy per member, each queued exactly once
 * SYNOPSIS
 *	opm_fanout_run(), opm_fanout_stats_clear(), opm_fanout_journal(),
 *	opm_fanout_state(), opm_fanout_copy_bound(), opm_fanout_max_post(),
 *	opm_fanout_deal()
 * DESCRIPTION
 *	Order of work for a post:
 *	  1. the caller opened and locked its journal entry
 *	     (opm_fanout_journal()); a finished entry is a replay;
 *	  2. build the inner entity once;
 *	  3. per member, unless the journal says it is done: the inner entity
 *	     signed by the list key and encrypted to that member's key only;
 *	     every copy, notice and admin notice this attempt sends is
 *	     claimed in the journal in one write before the first is
 *	     queued, and each is recorded right after the MTA took it.  With
 *	     FanoutMode split (the default) one sign+encrypt operation to all
 *	     members serves them all: the result is split into one message
 *	     per member, its own session-key packet and the shared encrypted
 *	     data, whose armor is computed once (lib/pgp.c); each copy goes
 *	     to the MTA in pieces, the shared armor referenced, never
 *	     joined, so that a large post's copies are not held whole;
 *	     from BATCH_PARALLEL_MIN members on and for an inner entity of
 *	     up to BATCH_PARALLEL_MAX_BYTES, the list is dealt into two
 *	     halves encrypted side by side, one gpg each, so that both
 *	     cores work on a large list (opm_fanout_deal(), in keyring
 *	     order: gpg's
 *	     look-up of a recipient reads the keyring up to its key, so two
 *	     halves cut in that order would not take equally long); gpg
 *	     starts before the claims are written, and the copies of the
 *	     half that is ready first are queued while the other half's gpg
 *	     still runs; with InjectConnections above 1 (smtp: only) the
 *	     parts' copies go to the MTA over that many connections at once,
 *	     opened while gpg works, each copy recorded by the thread that
 *	     sent it (the senders, below); per-member mode runs one
 *	     operation per member and
 *	     is the reference the tests compare against;
 *	     a member whose key cannot be used gets a notice without content;
 *	  4. one notice per admin naming the members who got a notice;
 *	  5. mark the entry done.
 *	Each message handed to the MTA is listed in the stats with its
 *	Message-ID and, when the injection method learns it, the MTA's queue
 *	ID, so that the caller can log where every copy went.
 *	A failure at any step leaves the entry pending with the copies queued
 *	so far recorded; the MTA's retry of the post resumes at step 3.
 * DIAGNOSTICS
 *	Errors are returned; the caller tempfails the post, but for the MTA
 *	refusing a copy for good (OPM_ERROR_TOO_BIG, OPM_ERROR_REFUSED),
 *	which it refuses, the entry kept pending all the same.
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

static void
queued_free(gpointer data)
{
	OpmQueued *q = data;

	g_free(q->what);
	g_free(q->rcpt);
	g_free(q->message_id);
	g_free(q->queue_id);
	g_free(q);
}

void
opm_fanout_stats_clear(OpmFanoutStats *stats)
{
	g_clear_pointer(&stats->queued, g_ptr_array_unref);
}

/* Claim id ("copy:", "notice:" or "admin:" and the address) in j, hand
 * the message (in n pieces, size bytes) to the MTA for rcpt, and have the
 * claim turned into a record the moment the MTA took it; list it in
 * stats.  j NULL: no state.  A refusal for good names the size. */
static gboolean
deliver(OpmInjector *inj, OpmJournal *j, GMutex *lock, const char *id,
    const char *sender, const char *rcpt, const char *message_id,
    GBytes *const *msg, guint n, gsize size, OpmFanoutStats *stats,
    GError **error)
{
	OpmCommit commit = {-1, -1};
	GError *e = NULL;
	OpmQueued *q;
	gboolean ok = TRUE;

	g_mutex_lock(lock);
	if (j != NULL)
		ok = opm_journal_claim(j, id, error);
	if (j != NULL && ok)
		opm_journal_commit_of(j, id, &commit);
	g_mutex_unlock(lock);
	if (!ok)
		return FALSE;
	/* the commit is one write of its own at the copy's offset: the
	 * senders of a post need no lock for it */
	ok = opm_injector_sendv(inj, sender, rcpt, msg, n,
	    j != NULL ? &commit : NULL, &e);
	opm_commit_clear(&commit);
	if (!ok) {
		if (g_error_matches(e, OPM_ERROR, OPM_ERROR_TOO_BIG) ||
		    g_error_matches(e, OPM_ERROR, OPM_ERROR_REFUSED))
			g_prefix_error(&e, "the MTA refused the copy of %zu "
			    "bytes for <%s> for good: ", size, rcpt);
		g_propagate_error(error, e);
		return FALSE;
	}
	q = g_new0(OpmQueued, 1);
	q->what = g_str_has_prefix(id, "copy:") ? g_strdup("copy") :
	    g_str_has_prefix(id, "admin:") ? g_strdup("admin-notice") :
	    g_strdup("notice");
	q->rcpt = g_strdup(rcpt);
	q->message_id = g_strdup(message_id);
	q->queue_id = g_strdup(opm_injector_queue_id(inj));
	g_mutex_lock(lock);
	g_ptr_array_add(stats->queued, q);
	if (g_str_has_prefix(id, "copy:"))
		stats->sent++;
	else
		stats->notices++;
	g_mutex_unlock(lock);
	return TRUE;
}

/* The split encryption of one post: every member's ciphertext comes from
 * one sign+encrypt operation to all of them, or for a large list from one
 * operation per half, run side by side.  Each part runs in a thread of
 * its own, so that the journal's claim is written while gpg works, and
 * the copies of the part that finishes first are handed to the MTA while
 * the other part's gpg still runs. */
#define BATCH_PARTS 2
#define BATCH_PARALLEL_MIN 4 /* members; fewer are not worth a second gpg */
/* Above this the inner entity is encrypted once, not per half: each half
 * holds its own ciphertext and armor, and a large post costs gpg its
 * symmetric encryption more than the session keys. */
#define BATCH_PARALLEL_MAX_BYTES (4 * 1024 * 1024)

typedef struct {
	OpmList *list;
	GPtrArray *rcpts;     /* OpmMember *, not owned */
	GBytes *inner;
	gpgme_ctx_t ctx;      /* NULL: take one from the list's pool */
	GAsyncQueue *done;    /* the part is pushed here when it ends */
	GThread *thread;
	OpmPgpSplit *split;   /* result */
	OpmPgpArmorer *armor;
	GHashTable *by_keyid; /* key ID -> index + 1 */
	GError *error;
} Part;

typedef struct {
	Part part[BATCH_PARTS];
	guint nparts, running;
	GAsyncQueue *done;
} Batch;

/* Where m's session key packet is in p, or -1. */
static gint
part_index(Part *p, const OpmMember *m)
{
	for (guint i = 0; m->key != NULL && i < m->key->subkeys->len; i++) {
		OpmSubkeyInfo *s = g_ptr_array_index(m->key->subkeys, i);
		gsize n = strlen(s->fpr);
		gpointer v;

		if (n >= 16 && (v = g_hash_table_lookup(p->by_keyid,
		    s->fpr + n - 16)) != NULL)
			return GPOINTER_TO_INT(v) - 1;
	}
	return -1;
}

static gint
by_variant(gconstpointer a, gconstpointer b, gpointer part)
{
	Part *p = part;
	guint va = opm_pgp_armorer_variant(p->armor,
	    (guint)part_index(p, *(OpmMember *const *)a));
	guint vb = opm_pgp_armorer_variant(p->armor,
	    (guint)part_index(p, *(OpmMember *const *)b));

	return va < vb ? -1 : va > vb;
}

/* One part, in its own thread: sign and encrypt to rcpts, split, index
 * the session key packets and make the armor. */
static gpointer
part_encrypt(gpointer data)
{
	Part *p = data;
	g_autoptr(GPtrArray) fprs = g_ptr_array_new();
	g_autoptr(GBytes) binary = NULL;
	gpgme_ctx_t ctx = p->ctx != NULL ? p->ctx :
	    opm_gpg_acquire(p->list, &p->error);

	if (ctx != NULL) {
		for (guint i = 0; i < p->rcpts->len; i++)
			g_ptr_array_add(fprs,
			    ((OpmMember *)p->rcpts->pdata[i])->fpr);
		g_ptr_array_add(fprs, NULL);
		/* binary: no armored copy to hold and decode */
		binary = opm_sign_encrypt_to(ctx, p->list->list_gpgkey,
		    (const char *const *)fprs->pdata, p->inner, FALSE,
		    &p->error);
		if (binary != NULL)
			p->split = opm_pgp_split(binary, &p->error);
		if (p->ctx == NULL)
			opm_gpg_release(p->list, ctx);
	}
	if (p->split != NULL) {
		p->by_keyid = g_hash_table_new(g_str_hash, g_str_equal);
		for (guint i = 0; i < p->split->pkesks->len; i++)
			g_hash_table_insert(p->by_keyid,
			    g_array_index(p->split->pkesks, OpmPkesk, i).keyid,
			    GINT_TO_POINTER((gint)i + 1));
		for (guint i = 0; i < p->rcpts->len && p->error == NULL; i++)
			if (part_index(p, p->rcpts->pdata[i]) < 0)
				g_set_error(&p->error, OPM_ERROR,
				    OPM_ERROR_CRYPTO,
				    "no session key packet for %s",
				    ((OpmMember *)p->rcpts->pdata[i])->address);
		if (p->error == NULL) {
			p->armor = opm_pgp_armorer_new(p->split, "MESSAGE", TRUE);
			/* members who share armor lines one after the other */
			g_ptr_array_sort_with_data(p->rcpts, by_variant, p);
		}
	}
	g_async_queue_push(p->done, p);
	return NULL;
}

typedef struct {
	const guint *position;
} DealCtx;

static gint
by_position(gconstpointer a, gconstpointer b, gpointer data)
{
	const guint *pos = ((DealCtx *)data)->position;
	guint pa = pos[*(const guint *)a], pb = pos[*(const guint *)b];

	return pa < pb ? -1 : pa > pb;
}

guint
opm_fanout_deal(const guint *position, guint n, gsize inner_size,
    guint *order)
{
	DealCtx d = {position};
	g_autoptr(GArray) idx = g_array_sized_new(FALSE, FALSE, sizeof(guint),
	    n);

	for (guint i = 0; i < n; i++)
		g_array_append_val(idx, i);
	/* gpg finds each recipient by reading the keyring from its start:
	 * dealt out in keyring order, each part's gpg reads about as much
	 * as the other's */
	g_array_sort_with_data(idx, by_position, &d);
	memcpy(order, idx->data, n * sizeof(guint));
	return n >= BATCH_PARALLEL_MIN &&
	    inner_size <= BATCH_PARALLEL_MAX_BYTES &&
	    g_get_num_processors() > 1 ? BATCH_PARTS : 1;
}

/*
 * Start signing once and encrypting to every member in rcpts, in two
 * parts for a large list.  ctx serves the first part; the caller must
 * not use it until batch_next() has returned every part.
 */
static void
batch_start(Batch *b, gpgme_ctx_t ctx, OpmList *list, GPtrArray *rcpts,
    GBytes *inner)
{
	g_autofree guint *position = g_new(guint, rcpts->len + 1);
	g_autofree guint *order = g_new(guint, rcpts->len + 1);

	for (guint i = 0; i < rcpts->len; i++)
		position[i] = ((OpmMember *)rcpts->pdata[i])->key->position;
	b->nparts = opm_fanout_deal(position, rcpts->len,
	    g_bytes_get_size(inner), order);
	b->done = g_async_queue_new();
	for (guint p = 0; p < b->nparts; p++)
		b->part[p] = (Part){list, g_ptr_array_new(), inner,
		    p == 0 ? ctx : NULL, b->done, NULL, NULL, NULL, NULL, NULL};
	for (guint i = 0; i < rcpts->len; i++)
		g_ptr_array_add(b->part[i % b->nparts].rcpts,
		    rcpts->pdata[order[i]]);
	for (guint p = 0; p < b->nparts; p++)
		b->part[p].thread = g_thread_new("encrypt", part_encrypt,
		    &b->part[p]);
	b->running = b->nparts;
}

/* The next part to end, in the order they end; NULL when all have, or
 * when none was started. */
static Part *
batch_next(Batch *b)
{
	Part *p;

	if (b->running == 0)
		return NULL;
	p = g_async_queue_pop(b->done);
	g_thread_join(p->thread);
	p->thread = NULL;
	b->running--;
	return p;
}

/* Wait for the parts still running, then free everything. */
static void
batch_clear(Batch *b)
{
	while (batch_next(b) != NULL)
		;
	for (guint p = 0; p < b->nparts; p++) {
		Part *part = &b->part[p];

		g_clear_pointer(&part->armor, opm_pgp_armorer_free);
		g_clear_pointer(&part->by_keyid, g_hash_table_unref);
		g_clear_pointer(&part->split, opm_pgp_split_free);
		g_clear_pointer(&part->rcpts, g_ptr_array_unref);
		g_clear_error(&part->error);
	}
	g_clear_pointer(&b->done, g_async_queue_unref);
	b->nparts = 0;
}

/* What queuing one member's copy needs. */
typedef struct {
	OpmList *list;
	const char *replay_key;
	const OpmCopyFrame *frame;
	GBytes *inner;
	gpgme_ctx_t ctx;
	OpmInjector *inj;
	OpmJournal *j;
	GMutex lock; /* the journal's look-ups and stats, for the senders */
	OpmFanoutStats *stats;
	GPtrArray *withheld, *reasons;
} Run;

/* One member's copy from a part, ready to be handed over: written out
 * in pieces, the armor lines all members share referenced, not copied. */
typedef struct {
	char *copy_id, *mid; /* owned */
	const char *rcpt;    /* the member's address, not owned */
	GBytes *piece[5];    /* owned; NULL ones skipped */
	gsize size;
} Job;

static Job *
job_new(Run *r, OpmMember *m, Part *p)
{
	Job *job = g_new0(Job, 1);

	job->copy_id = g_strconcat("copy:", m->address, NULL);
	job->mid = opm_copy_message_id(r->list, r->replay_key, m->address);
	job->rcpt = m->address;
	opm_copy_outer_pieces(r->frame, job->mid, &job->piece[0],
	    &job->piece[4]);
	opm_pgp_armorer_pieces(p->armor, (guint)part_index(p, m),
	    &job->piece[1]);
	for (int i = 0; i < 5; i++)
		job->size += job->piece[i] != NULL ?
		    g_bytes_get_size(job->piece[i]) : 0;
	return job;
}

static void
job_free(Job *job)
{
	g_free(job->copy_id);
	g_free(job->mid);
	for (int i = 0; i < 5; i++)
		g_clear_pointer(&job->piece[i], g_bytes_unref);
	g_free(job);
}

static gboolean
job_send(Run *r, OpmInjector *inj, const Job *job, GError **error)
{
	return deliver(inj, r->j, &r->lock, job->copy_id,
	    r->list->bounce_address, job->rcpt, job->mid, job->piece, 5,
	    job->size, r->stats, error);
}

/* Queue m's copy: its ciphertext from part p, or with p NULL from an
 * operation of its own; a key gpg refuses there puts m among the
 * withheld.  FALSE with error: the post stops. */
static gboolean
send_copy(Run *r, OpmMember *m, Part *p, GError **error)
{
	g_autofree char *copy_id = g_strconcat("copy:", m->address, NULL);
	g_autofree char *mid = NULL;
	g_autoptr(GBytes) cipher = NULL;
	g_autoptr(GBytes) copy = NULL;
	g_autoptr(GError) kerr = NULL;
	const char *one[2] = {m->fpr, NULL};

	if (p != NULL) {
		Job *job = job_new(r, m, p);
		gboolean ok = job_send(r, r->inj, job, error);

		job_free(job);
		return ok;
	}
	cipher = opm_sign_encrypt(r->ctx, r->list->list_gpgkey, one, r->inner,
	    &kerr);
	if (cipher == NULL) {
		if (!g_error_matches(kerr, OPM_ERROR, OPM_ERROR_KEY)) {
			g_propagate_error(error, g_steal_pointer(&kerr));
			return FALSE;
		}
		g_message("%s: %s: %s", r->list->address, m->address,
		    kerr->message);
		g_ptr_array_add(r->withheld, m);
		g_ptr_array_add(r->reasons,
		    (gpointer)"gpg refuses to encrypt to the key");
		return TRUE;
	}
	mid = opm_copy_message_id(r->list, r->replay_key, m->address);
	copy = opm_copy_outer(r->frame, mid, cipher);
	return deliver(r->inj, r->j, &r->lock, copy_id,
	    r->list->bounce_address, m->address, mid, &copy, 1,
	    g_bytes_get_size(copy), r->stats, error);
}

/*
 * The senders: with InjectConnections above 1 and a method that can, the
 * copies of the parts are handed to the MTA over that many connections
 * at once, one thread each, the run's own injector among them.  Each
 * copy is still claimed before and recorded right after the MTA took it,
 * by the thread that sent it.  The connections are opened while gpg
 * works.  The copies are made ready one at a time by the fan-out's
 * thread (a part's armor is not shared between threads) and wait in a
 * short queue: at most SENDERS_AHEAD per connection, so that a large
 * post's copies are not all held at once.  On the first failure every
 * sender stops after the copy it is sending: the copies the MTA took are
 * recorded, the others are sent by the retry.  A refusal for good is
 * reported over any other failure, as it would have stopped the serial
 * fan-out too.
 */
#define SENDERS_MAX 32
#define SENDERS_AHEAD 2

typedef struct Senders Senders;

typedef struct {
	Senders *s;
	OpmInjector *inj; /* the run's, or owned */
	GThread *thread;
} Sender;

struct Senders {
	Run *run;
	Sender sender[SENDERS_MAX];
	guint n;
	GAsyncQueue *jobs;  /* Job *, or the senders' own address to stop */
	GAsyncQueue *slots; /* one token per job that may wait */
	gint failed;        /* atomic: stop sending */
	GError *error;      /* the failure reported, under run->lock */
};

static void
senders_fail(Senders *s, GError *e)
{
	gboolean for_good = g_error_matches(e, OPM_ERROR, OPM_ERROR_TOO_BIG) ||
	    g_error_matches(e, OPM_ERROR, OPM_ERROR_REFUSED);

	g_mutex_lock(&s->run->lock);
	if (s->error == NULL || (for_good &&
	    !g_error_matches(s->error, OPM_ERROR, OPM_ERROR_TOO_BIG) &&
	    !g_error_matches(s->error, OPM_ERROR, OPM_ERROR_REFUSED))) {
		g_clear_error(&s->error);
		s->error = e;
		e = NULL;
	}
	g_mutex_unlock(&s->run->lock);
	g_clear_error(&e);
	g_atomic_int_set(&s->failed, 1);
}

static gpointer
sender_run(gpointer data)
{
	Sender *me = data;
	Senders *s = me->s;
	GError *e = NULL;
	gpointer item;

	if (!opm_injector_open(me->inj, &e))
		senders_fail(s, e);
	while ((item = g_async_queue_pop(s->jobs)) != s) {
		Job *job = item;

		if (!g_atomic_int_get(&s->failed) &&
		    !job_send(s->run, me->inj, job, &e))
			senders_fail(s, g_steal_pointer(&e));
		job_free(job);
		g_async_queue_push(s->slots, s);
	}
	/* the connections of their own end side by side (QUIT) */
	if (me->inj != s->run->inj)
		g_clear_pointer(&me->inj, opm_injector_free);
	return NULL;
}

/* Start n senders for r's copies, or none when n < 2 or r's method
 * sends one copy at a time. */
static void
senders_start(Senders *s, Run *r, guint n)
{
	OpmInjector *another;

	memset(s, 0, sizeof(*s));
	s->run = r;
	if (n < 2 || (another = opm_injector_another(r->inj)) == NULL)
		return;
	opm_injector_free(another);
	s->n = MIN(n, SENDERS_MAX);
	s->jobs = g_async_queue_new();
	s->slots = g_async_queue_new();
	for (guint i = 0; i < s->n * SENDERS_AHEAD; i++)
		g_async_queue_push(s->slots, s);
	for (guint i = 0; i < s->n; i++) {
		s->sender[i].s = s;
		s->sender[i].inj = i == 0 ? r->inj :
		    opm_injector_another(r->inj);
		s->sender[i].thread = g_thread_new("inject", sender_run,
		    &s->sender[i]);
	}
}

/* Queue m's copy from part p for the senders; FALSE when they stopped. */
static gboolean
senders_push(Senders *s, OpmMember *m, Part *p)
{
	(void)g_async_queue_pop(s->slots);
	if (g_atomic_int_get(&s->failed)) {
		g_async_queue_push(s->slots, s);
		return FALSE;
	}
	g_async_queue_push(s->jobs, job_new(s->run, m, p));
	return TRUE;
}

/* Wait until every queued copy was sent, stop the senders, close their
 * connections.  FALSE with the failure if any. */
static gboolean
senders_finish(Senders *s, GError **error)
{
	if (s->n == 0)
		return TRUE;
	for (guint i = 0; i < s->n; i++)
		g_async_queue_push(s->jobs, s);
	for (guint i = 0; i < s->n; i++)
		g_thread_join(s->sender[i].thread);
	s->n = 0;
	g_clear_pointer(&s->jobs, g_async_queue_unref);
	g_clear_pointer(&s->slots, g_async_queue_unref);
	if (s->error != NULL) {
		g_propagate_error(error, g_steal_pointer(&s->error));
		return FALSE;
	}
	return TRUE;
}

/* Queue the copies of part p, over the senders when there are. */
static gboolean
send_part(Run *r, Senders *s, Part *p, GError **error)
{
	for (guint i = 0; i < p->rcpts->len; i++) {
		if (s->n == 0 && !send_copy(r, p->rcpts->pdata[i], p, error))
			return FALSE;
		if (s->n > 0 && !senders_push(s, p->rcpts->pdata[i], p))
			return senders_finish(s, error);
	}
	return TRUE;
}

/*
 * The size of a copy, from the inside out, for a post of at most M bytes
 * whose header fields are at most H bytes each:
 *   inner entity: the signed entity (within M; for an encrypted post,
 *     what is decrypted, held to M) and up to 12 protected header fields
 *     taken from outside it, at most 13 H with folding, plus what the
 *     milter writes (Authentication-Results, MIME framing): 8 KiB;
 *   OpenPGP: compression that cannot compress adds a little per block,
 *     plus the list's signature, one-pass signature, literal data and
 *     encrypted data framing, one session key packet: 1/1024 and 8 KiB;
 *   armor: 64 characters and CRLF per 48 bytes, 11/8;
 *   outer header: From with the poster's name, Subject (shown when the
 *     list says so), MIME framing: 3 H and 8 KiB.
 */
#define BOUND_SLACK (8 * 1024)

gint64
opm_fanout_copy_bound(const OpmConfig *conf)
{
	gint64 h = conf->max_header_size;
	gint64 inner = conf->max_message_size + 13 * h + BOUND_SLACK;
	gint64 binary = inner + inner / 1024 + BOUND_SLACK;

	return binary / 8 * 11 + 11 + 3 * h + BOUND_SLACK;
}

gint64
opm_fanout_max_post(const OpmConfig *conf, gint64 limit)
{
	gint64 h = conf->max_header_size;
	gint64 binary = (limit - 3 * h - BOUND_SLACK - 11) / 11 * 8;
	gint64 inner = (binary - BOUND_SLACK) / 1025 * 1024;

	return MAX(0, inner - 13 * h - BOUND_SLACK);
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
	g_autoptr(GPtrArray) one_by_one = g_ptr_array_new();
	Batch batch = {0};
	Senders senders = {0};
	Run run = {list, v->replay_key, NULL, NULL, NULL, inj, j, {0}, stats,
	    withheld, reasons};
	OpmMember *poster = v->member;
	Part *p;
	gboolean ok = FALSE;

	memset(stats, 0, sizeof(*stats));
	stats->queued = g_ptr_array_new_with_free_func(queued_free);
	if (inj == NULL)
		return TRUE; /* dry run: the verdict is all that is asked */
	g_return_val_if_fail(poster != NULL && v->replay_key != NULL, FALSE);
	/* before any claim: the list key signs without a passphrase */
	if (!opm_list_key_check(list, error))
		return FALSE;
	if (j != NULL && opm_journal_state(j) == OPM_POST_DONE) {
		g_set_error(error, OPM_ERROR, OPM_ERROR_REPLAY,
		    "the post was fanned out already");
		return FALSE;
	}
	g_mutex_init(&run.lock);
	if ((ctx = opm_gpg_acquire(list, error)) == NULL)
		goto DONE;
	inner = opm_copy_inner(list, msg, poster);
	frame = opm_copy_frame_new(list, msg, poster, now);
	run.frame = frame;
	run.inner = inner;
	run.ctx = ctx;

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
	/* split mode: gpg starts on the copies while the claim is written */
	if (rcpts->len > 0 && strcmp(conf->fanout_mode, "split") == 0) {
		batch_start(&batch, ctx, list, rcpts, inner);
		/* their connections open while gpg works */
		senders_start(&senders, &run, (guint)MIN(conf->inject_connections,
		    (gint64)rcpts->len));
	} else
		g_ptr_array_extend(one_by_one, rcpts, NULL, NULL);
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
	/* each part's copies as soon as the part is ready; a part whose
	 * operation gpg refused for a key goes member by member, once every
	 * part is done with ctx */
	while ((p = batch_next(&batch)) != NULL) {
		if (batch.running == 0 && p->error == NULL &&
		    one_by_one->len == 0) {
			/* gpg is done with the post: only the ciphertext
			 * is needed from here on */
			g_clear_pointer(&inner, g_bytes_unref);
			run.inner = NULL;
		}
		if (p->error != NULL) {
			if (!g_error_matches(p->error, OPM_ERROR, OPM_ERROR_KEY)) {
				g_propagate_error(error, g_steal_pointer(&p->error));
				goto DONE;
			}
			g_message("%s: %s; encrypting member by member",
			    list->address, p->error->message);
			g_ptr_array_extend(one_by_one, p->rcpts, NULL, NULL);
			continue;
		}
		if (!send_part(&run, &senders, p, error))
			goto DONE;
	}
	/* every copy of the parts is queued before what follows */
	if (!senders_finish(&senders, error))
		goto DONE;
	for (guint i = 0; i < one_by_one->len; i++)
		if (!send_copy(&run, one_by_one->pdata[i], NULL, error))
			goto DONE;

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
		if (!deliver(inj, j, &run.lock, note_id, list->bounce_address,
		    m->address, mid, &notice, 1, g_bytes_get_size(notice), stats,
		    error))
			goto DONE;
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
		if (!deliver(inj, j, &run.lock, id, list->bounce_address, admin,
		    mid, &notice, 1, g_bytes_get_size(notice), stats, error))
			goto DONE;
	}
	if (j != NULL && !opm_journal_finish(j, now, error))
		goto DONE;
	ok = TRUE;
DONE:
	/* the copies that are with the MTA are recorded before the error
	 * goes back; the first error is the one reported */
	if (senders.n > 0)
		(void)senders_finish(&senders, ok || (error != NULL &&
		    *error != NULL) ? NULL : error);
	batch_clear(&batch);
	opm_gpg_release(list, ctx);
	g_mutex_clear(&run.lock);
	return ok;
}
