/*
 * NAME
 *	callbacks - the libmilter callbacks
 * SYNOPSIS
 *	opmf_desc, opmf_connect() ... opmf_close(), opmf_conf_get(),
 *	opmf_conf_set(), opmf_conf_load()
 * DESCRIPTION
 *	Per-connection state lives in an OpmfConn set with setpriv and freed
 *	in the close callback.  A transaction is examined only when one of
 *	its envelope recipients is a list address; then the message is
 *	buffered (headers as "Name: value" lines, body as received) up to
 *	MaxMessageSize, and at end of message the gate runs once per list.
 *	A rejection for any list rejects the whole transaction, so that the
 *	poster learns of it in the SMTP session.
 *
 *	The configuration is reference counted: a transaction holds the one
 *	in force when it began, so a reload never changes a post half-way.
 *
 *	An accepted post is answered only once every copy is queued.  Until
 *	then a ticker thread tells the MTA every PROGRESS_SECONDS that the
 *	filter still works (smfi_progress), because Sendmail waits for each
 *	reply at most its T=R timeout, 10 seconds by default (Postfix its
 *	milter_content_timeout), and a large list takes longer; Sendmail's
 *	T=E still bounds the whole.  The ticker runs only while nothing else
 *	writes to the MTA (not during smfi_delrcpt).
 *
 *	Copies handed to sendmail(1) come back through the filter when the
 *	MTA runs it for local submissions too (Postfix's non_smtpd_milters).
 *	Before a post's copies are queued, the post is noted with its queue
 *	ID; when a copy passes again, untouched, its Message-ID tells which
 *	post it belongs to, and it is logged once more under the post's
 *	queue ID with the queue ID the MTA gave it, which sendmail(1)
 *	itself never tells.
 *
 *	When a transaction begins and a list's members file is no longer
 *	the one the configuration in force was read from (a membership
 *	change replaced it), the configuration is loaded again first, so the
 *	change applies from the next post on without SIGHUP.
 * DIAGNOSTICS
 *	Allocation failures abort (GLib); everything else becomes a verdict.
 */
#include "config.h"

#include <malloc.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "copy.h"
#include "fanout.h"
#include "inject.h"
#include "keys.h"
#include "mime.h"
#include "opmf.h"
#include "request.h"

typedef struct {
	OpmConfig *conf;      /* the configuration of this transaction */
	char *sender;
	GPtrArray *lists;     /* OpmList *, (transfer none), no duplicates */
	GPtrArray *list_rcpts; /* char *, list recipients as given */
	gboolean other_rcpts; /* a recipient that is not a list */
	gboolean loop;        /* sent by one of our lists: hands off */
	char *loop_rcpt;      /* its first recipient, for the log */
	OpmList *request;     /* a list whose request address is a
				 recipient, (transfer none), or NULL */
	char *request_rcpt;   /* that recipient as given */
	gboolean requests_mixed; /* with a second request address or a list */
	GByteArray *buf;      /* header block, then body */
	gboolean in_body;
	gboolean oversize;
	gint64 size;          /* bytes seen, buffered or not */
	gint64 start_us;
} OpmfMsg;

typedef struct {
	char *client;
	OpmfMsg *msg;
} OpmfConn;

/* A pthread mutex rather than a GMutex: ThreadSanitizer, which CI runs
 * over the concurrency test, sees pthread locks but not GLib's futexes. */
static pthread_mutex_t conf_lock = PTHREAD_MUTEX_INITIALIZER;
static OpmConfig *conf_current;

static OpmConfig *
conf_current_ref(void)
{
	OpmConfig *c;

	pthread_mutex_lock(&conf_lock);
	c = conf_current != NULL ? opm_conf_ref(conf_current) : NULL;
	pthread_mutex_unlock(&conf_lock);
	return c;
}

/* The stamps of every members file of c as they are now.  (transfer full) */
static char *
members_stamps(OpmConfig *c)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < c->lists->len; i++) {
		OpmList *l = g_ptr_array_index(c->lists, i);
		g_autofree char *st = opm_members_stamp(l->members_file);

		g_string_append_printf(s, "%s\n", st);
	}
	return g_string_free(s, FALSE);
}

/* One reload at a time; the members files as they were when the last one
 * failed, so that a broken file is not read again for every mail. */
static pthread_mutex_t members_lock = PTHREAD_MUTEX_INITIALIZER;
static char *members_failed;

/* A members file changed (a membership change, or an edit): load the
 * configuration again and install it, as SIGHUP would.  Transactions
 * that began before keep the configuration they hold.  Takes over the
 * reference c and returns one to the configuration to use. */
static OpmConfig *
members_reload(OpmConfig *c)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *stamps = NULL;
	OpmConfig *fresh;

	pthread_mutex_lock(&members_lock);
	/* another transaction may have reloaded meanwhile */
	opm_conf_unref(c);
	c = conf_current_ref();
	if (c == NULL || !opm_conf_members_changed(c))
		goto DONE;
	stamps = members_stamps(c);
	if (g_strcmp0(stamps, members_failed) == 0)
		goto DONE;
	fresh = opmf_conf_load(c->path, &error);
	if (fresh == NULL) {
		g_warning("a members file changed, but the configuration "
		    "cannot be loaded; keeping the one in force: %s",
		    error->message);
		g_free(members_failed);
		members_failed = g_steal_pointer(&stamps);
		goto DONE;
	}
	g_message("a members file changed: configuration reloaded");
	opmf_conf_set(opm_conf_ref(fresh));
	opm_conf_unref(c);
	c = fresh;
DONE:
	pthread_mutex_unlock(&members_lock);
	return c;
}

OpmConfig *
opmf_conf_get(void)
{
	OpmConfig *c = conf_current_ref();

	if (c != NULL && opm_conf_members_changed(c))
		c = members_reload(c);
	return c;
}

void
opmf_conf_set(OpmConfig *conf)
{
	OpmConfig *old;

	pthread_mutex_lock(&conf_lock);
	old = conf_current;
	conf_current = conf;
	pthread_mutex_unlock(&conf_lock);
	opm_conf_unref(old);
}

OpmConfig *
opmf_conf_load(const char *path, GError **error)
{
	g_autoptr(OpmConfig) conf = opm_conf_load(path, error);

	g_autoptr(OpmInjector) inj = NULL;

	if (conf == NULL)
		return NULL;
	/* a method that cannot work must stop the load, not each post */
	if ((inj = opm_injector_new(conf->inject_method, error)) == NULL)
		return NULL;
	for (guint i = 0; i < conf->lists->len; i++)
		if (!opm_keys_load(g_ptr_array_index(conf->lists, i), error))
			return NULL;
	return g_steal_pointer(&conf);
}

/* Blocks from this size on get pages of their own (mmap), returned to
 * the system on free.  glibc would otherwise raise the threshold to the
 * largest block freed so far (up to 32 MB), after which a large post's
 * buffers come from the heap and the arenas stay grown. */
#define MMAP_THRESHOLD (256 * 1024)
/* After a post of at least this size, give back what malloc keeps. */
#define TRIM_AFTER (1024 * 1024)

void
opmf_memory_init(void)
{
	(void)mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
	(void)mallopt(M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD);
}

static void
msg_free(OpmfMsg *m)
{
	if (m == NULL)
		return;
	opm_conf_unref(m->conf);
	g_free(m->sender);
	g_free(m->loop_rcpt);
	g_free(m->request_rcpt);
	g_clear_pointer(&m->lists, g_ptr_array_unref);
	g_clear_pointer(&m->list_rcpts, g_ptr_array_unref);
	g_clear_pointer(&m->buf, g_byte_array_unref);
	g_free(m);
}

static OpmfConn *
conn(SMFICTX *ctx)
{
	return opmf_smfi->getpriv(ctx);
}

sfsistat
opmf_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	OpmfConn *c = g_new0(OpmfConn, 1);

	c->client = g_strdup(host != NULL ? host : "unknown");
	if (opmf_smfi->setpriv(ctx, c) != MI_SUCCESS) {
		g_free(c->client);
		g_free(c);
		return SMFIS_TEMPFAIL;
	}
	return SMFIS_CONTINUE;
}

sfsistat
opmf_envfrom(SMFICTX *ctx, char **argv)
{
	OpmfConn *c = conn(ctx);
	OpmAddrRole role;
	OpmfMsg *m;

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	msg_free(c->msg);
	m = c->msg = g_new0(OpmfMsg, 1);
	m->conf = opmf_conf_get();
	if (m->conf == NULL)
		return SMFIS_TEMPFAIL;
	m->sender = opm_envelope_address(argv[0]);
	m->lists = g_ptr_array_new();
	m->list_rcpts = g_ptr_array_new_with_free_func(g_free);
	m->start_us = g_get_monotonic_time();
	/* copies and notices come back through the MTA with a list's bounce
	 * address as sender: never examine them again */
	(void)opm_conf_resolve(m->conf, m->sender, &role);
	m->loop = role == OPM_ROLE_BOUNCE;
	return SMFIS_CONTINUE;
}

sfsistat
opmf_envrcpt(SMFICTX *ctx, char **argv)
{
	OpmfConn *c = conn(ctx);
	g_autofree char *rcpt = NULL;
	OpmList *l;

	if (c == NULL || c->msg == NULL)
		return SMFIS_TEMPFAIL;
	rcpt = opm_envelope_address(argv[0]);
	l = opm_conf_find_list(c->msg->conf, rcpt);
	if (l == NULL && (l = opm_request_list(c->msg->conf, rcpt)) != NULL &&
	    !c->msg->loop) {
		/* a command mail: never delivered, never fanned out */
		if (c->msg->request != NULL)
			c->msg->requests_mixed = TRUE;
		c->msg->request = l;
		g_free(c->msg->request_rcpt);
		c->msg->request_rcpt = g_strdup(argv[0]);
		return SMFIS_CONTINUE;
	}
	if (l == NULL) {
		c->msg->other_rcpts = TRUE;
		if (c->msg->loop && c->msg->loop_rcpt == NULL)
			c->msg->loop_rcpt = g_strdup(rcpt);
		return SMFIS_CONTINUE;
	}
	if (c->msg->loop) {
		/* copies only ever go to members, never to a list: this is a
		 * loop, or a forged sender trying to skip the gate */
		g_autoptr(OpmVerdict) v = opm_verdict_tempfail(l->address,
		    "5.7.1", "loop");

		v->action = OPM_ACTION_REJECT;
		g_strlcpy(v->rcode, "550", sizeof(v->rcode));
		g_free(v->text);
		v->text = g_strdup_printf("list %s: mail from a list's bounce "
		    "address is never posted to a list (a mail loop, or a "
		    "forged sender).", l->address);
		g_message("%s: refused from <%s>: a list's bounce address as "
		    "sender", l->address, c->msg->sender);
		return opmf_reply(ctx, v, FALSE);
	}
	g_ptr_array_add(c->msg->list_rcpts, g_strdup(argv[0]));
	if (!g_ptr_array_find(c->msg->lists, l, NULL))
		g_ptr_array_add(c->msg->lists, l);
	return SMFIS_CONTINUE;
}

static void
append(OpmfMsg *m, const void *p, gsize n)
{
	m->size += n;
	if (m->oversize)
		return;
	if (m->size > m->conf->max_message_size) {
		/* keep counting, stop buffering: the post will be refused */
		m->oversize = TRUE;
		g_clear_pointer(&m->buf, g_byte_array_unref);
		return;
	}
	if (m->buf == NULL)
		m->buf = g_byte_array_sized_new(16384);
	g_byte_array_append(m->buf, p, (guint)n);
}

/* The posts whose copies were queued lately through sendmail(1), so that
 * a copy that comes back through the filter can be logged under its
 * post's queue ID.  A copy's Message-ID is a digest of its post and its
 * recipient (opm_copy_message_id()), so one note per post is enough. */
typedef struct {
	char *post_qid;
	char *list;        /* the list's address */
	char *key;         /* the post's replay key */
	gint64 noted;      /* monotonic, microseconds */
} PostNote;

/* Copies pass again within seconds, unless the MTA's queue is stuck. */
#define POST_NOTE_LIFETIME (G_GINT64_CONSTANT(600) * G_USEC_PER_SEC)

static pthread_mutex_t post_notes_lock = PTHREAD_MUTEX_INITIALIZER;
static GQueue post_notes = G_QUEUE_INIT; /* PostNote *, owned, oldest first */

static const char *queue_id(SMFICTX *ctx);

static void
post_note_free(gpointer data)
{
	PostNote *n = data;

	g_free(n->post_qid);
	g_free(n->list);
	g_free(n->key);
	g_free(n);
}

/* Forget notes older than POST_NOTE_LIFETIME.  Under post_notes_lock. */
static void
post_notes_prune(gint64 now)
{
	PostNote *n;

	while ((n = g_queue_peek_head(&post_notes)) != NULL &&
	    now - n->noted > POST_NOTE_LIFETIME)
		post_note_free(g_queue_pop_head(&post_notes));
}

/* Note that the copies of the post v accepted for l are being queued. */
static void
post_note_add(const char *qid, OpmList *l, const OpmVerdict *v)
{
	PostNote *n;

	if (v->replay_key == NULL)
		return;
	n = g_new0(PostNote, 1);
	n->post_qid = g_strdup(qid);
	n->list = g_strdup(l->address);
	n->key = g_strdup(v->replay_key);
	n->noted = g_get_monotonic_time();
	pthread_mutex_lock(&post_notes_lock);
	post_notes_prune(n->noted);
	g_queue_push_tail(&post_notes, n);
	pthread_mutex_unlock(&post_notes_lock);
}

/* A message from a list's bounce address to m->loop_rcpt is back with
 * Message-ID mid: if it is a copy or notice of a noted post, log it with
 * the queue ID the MTA gave it. */
static void
copy_returned(SMFICTX *ctx, OpmfMsg *m, const char *mid)
{
	g_autofree char *got = g_strstrip(g_strdup(mid));
	g_autofree char *notice = NULL;
	g_autofree char *admin = NULL;
	g_autofree char *post_qid = NULL;
	g_autofree char *list = NULL;
	const char *what = NULL;

	if (m->loop_rcpt == NULL)
		return;
	notice = g_strconcat("notice:", m->loop_rcpt, NULL);
	admin = g_strconcat("admin:", m->loop_rcpt, NULL);
	pthread_mutex_lock(&post_notes_lock);
	post_notes_prune(g_get_monotonic_time());
	for (GList *e = post_notes.tail; e != NULL && what == NULL;
	    e = e->prev) {
		PostNote *n = e->data;
		OpmList *l = opm_conf_find_list(m->conf, n->list);
		const struct {
			const char *id, *what;
		} kinds[] = {{m->loop_rcpt, "copy"}, {notice, "notice"},
		    {admin, "admin-notice"}};

		for (gsize k = 0; l != NULL && what == NULL &&
		    k < G_N_ELEMENTS(kinds); k++) {
			g_autofree char *want = opm_copy_message_id(l, n->key,
			    kinds[k].id);

			if (strcmp(want, got) == 0) {
				what = kinds[k].what;
				post_qid = g_strdup(n->post_qid);
				list = g_strdup(n->list);
			}
		}
	}
	pthread_mutex_unlock(&post_notes_lock);
	if (what != NULL) {
		OpmQueued q = {(char *)what, m->loop_rcpt, got,
		    (char *)queue_id(ctx)};

		opmf_log_queued(post_qid, list, &q);
	}
}

sfsistat
opmf_header(SMFICTX *ctx, char *name, char *value)
{
	OpmfConn *c = conn(ctx);
	OpmfMsg *m = c != NULL ? c->msg : NULL;

	if (m == NULL)
		return SMFIS_TEMPFAIL;
	if (m->lists->len == 0 && m->loop) {
		/* one of our copies, back: log it, let it go untouched */
		if (g_ascii_strcasecmp(name, "Message-ID") != 0)
			return SMFIS_CONTINUE;
		copy_returned(ctx, m, value);
		return SMFIS_ACCEPT;
	}
	if (m->lists->len == 0 && m->request == NULL)
		return SMFIS_ACCEPT; /* no list recipient: not our business */
	append(m, name, strlen(name));
	append(m, ": ", 2);
	/* MTAs hand folded values with bare LF or CRLF between lines */
	for (const char *v = value; *v != '\0'; v++) {
		if (*v == '\r' && v[1] == '\n')
			continue;
		if (*v == '\n')
			append(m, "\r\n", 2);
		else
			append(m, v, 1);
	}
	append(m, "\r\n", 2);
	return SMFIS_CONTINUE;
}

sfsistat
opmf_eoh(SMFICTX *ctx)
{
	OpmfConn *c = conn(ctx);
	OpmfMsg *m = c != NULL ? c->msg : NULL;

	if (m == NULL)
		return SMFIS_TEMPFAIL;
	if (m->lists->len == 0 && m->request == NULL)
		return SMFIS_ACCEPT;
	append(m, "\r\n", 2);
	m->in_body = TRUE;
	return SMFIS_CONTINUE;
}

sfsistat
opmf_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	OpmfConn *c = conn(ctx);
	OpmfMsg *m = c != NULL ? c->msg : NULL;

	if (m == NULL)
		return SMFIS_TEMPFAIL;
	append(m, chunk, len);
	return SMFIS_CONTINUE;
}

static const char *
queue_id(SMFICTX *ctx)
{
	const char *q = opmf_smfi->getsymval(ctx, "i");

	if (q == NULL)
		q = opmf_smfi->getsymval(ctx, "{i}");
	return q != NULL ? q : "NOQUEUE";
}

/* Parse the buffered message.  (transfer full) */
static OpmMessage *
parse(OpmfMsg *m)
{
	g_autoptr(GBytes) raw = NULL;
	OpmLimits limits;
	OpmMessage *msg;

	opm_gate_limits(m->conf, &limits);
	if (m->oversize) {
		/* a stand-in of one byte too many: parse reports the size */
		limits.max_size = 0;
		raw = g_bytes_new_static("x", 1);
	} else {
		raw = g_byte_array_free_to_bytes(g_steal_pointer(&m->buf));
	}
	msg = opm_message_parse(raw, &limits);
	if (m->oversize) {
		g_free(msg->limit_detail);
		msg->limit_detail = g_strdup_printf("%" G_GINT64_FORMAT
		    " bytes or more, at most %" G_GINT64_FORMAT, m->size,
		    m->conf->max_message_size);
	}
	return msg;
}

/* The gate for every list of the transaction.  Returns every verdict when
 * all accept, else only the one that decides: the first rejection, or
 * else the first temporary failure.  (transfer full) */
static GPtrArray *
judge(OpmfMsg *m, OpmMessage *msg, gint64 now)
{
	GPtrArray *verdicts =
	    g_ptr_array_new_with_free_func((GDestroyNotify)opm_verdict_free);
	OpmVerdict *decisive = NULL;

	for (guint i = 0; i < m->lists->len; i++) {
		OpmVerdict *v = opm_gate_check(m->conf,
		    g_ptr_array_index(m->lists, i), msg, now);

		g_ptr_array_add(verdicts, v);
		if (decisive == NULL && v->action == OPM_ACTION_REJECT)
			decisive = v;
	}
	for (guint i = 0; decisive == NULL && i < verdicts->len; i++) {
		OpmVerdict *v = g_ptr_array_index(verdicts, i);

		if (v->action != OPM_ACTION_ACCEPT)
			decisive = v;
	}
	if (decisive != NULL && g_strcmp0(decisive->reason, "replayed") == 0 &&
	    decisive->replay_key != NULL) {
		/* Distributed to this list already; if another list of the
		 * transaction is still pending, this is the retry of a post
		 * whose fan-out stopped between two lists, not a replay. */
		gboolean retry = FALSE;

		for (guint i = 0; i < verdicts->len; i++) {
			OpmVerdict *v = g_ptr_array_index(verdicts, i);

			if (v->action == OPM_ACTION_ACCEPT &&
			    opm_fanout_state(m->conf, g_ptr_array_index(m->lists,
				i), v, now) == OPM_POST_PENDING)
				retry = TRUE;
		}
		for (guint i = 0; retry && i < verdicts->len; i++) {
			OpmVerdict *v = g_ptr_array_index(verdicts, i);

			if (v->action == OPM_ACTION_REJECT &&
			    g_strcmp0(v->reason, "replayed") == 0) {
				v->action = OPM_ACTION_ACCEPT;
				g_strlcpy(v->rcode, "250", sizeof(v->rcode));
				g_strlcpy(v->xcode, "2.0.0", sizeof(v->xcode));
				g_free(v->reason);
				v->reason = g_strdup("distributed before");
			} else if (v->action != OPM_ACTION_ACCEPT)
				retry = FALSE;
		}
		if (retry)
			decisive = NULL;
	}
	if (decisive != NULL) {
		guint idx = 0;
		GPtrArray *one = g_ptr_array_new_with_free_func(
		    (GDestroyNotify)opm_verdict_free);

		(void)g_ptr_array_find(verdicts, decisive, &idx);
		g_ptr_array_add(one, g_ptr_array_steal_index(verdicts, idx));
		g_ptr_array_unref(verdicts);
		return one;
	}
	return verdicts;
}

/* The ticker: smfi_progress every PROGRESS_SECONDS until stopped.  It
 * writes to the MTA only while the end-of-message callback waits for the
 * distribution, so the two never write at once. */
#define PROGRESS_SECONDS 2

typedef struct {
	SMFICTX *ctx;
	const char *qid;      /* (transfer none) for the log */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	gboolean stop;
	pthread_t thread;
	gboolean running;
} Ticker;

static void *
ticker_run(void *data)
{
	Ticker *t = data;
	struct timespec next;

	clock_gettime(CLOCK_REALTIME, &next);
	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		next.tv_sec += PROGRESS_SECONDS;
		while (!t->stop &&
		    pthread_cond_timedwait(&t->cond, &t->lock, &next) == 0)
			;
		if (!t->stop && opmf_smfi->progress(t->ctx) != MI_SUCCESS) {
			/* the MTA is gone: the distribution goes on, and
			 * the retry of the post finds it done */
			g_warning("%s: cannot tell the MTA that the "
			    "distribution goes on", t->qid);
			break;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static void
ticker_start(Ticker *t, SMFICTX *ctx, const char *qid)
{
	memset(t, 0, sizeof(*t));
	t->ctx = ctx;
	t->qid = qid;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	/* without it (-t mode), or without a thread, the MTA just waits */
	t->running = opmf_smfi->progress != NULL &&
	    pthread_create(&t->thread, NULL, ticker_run, t) == 0;
}

static void
ticker_stop(Ticker *t)
{
	pthread_mutex_lock(&t->lock);
	t->stop = TRUE;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	if (t->running)
		pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
}

/* How the milter injects copies: NULL method means a dry run. */
static char *inject_override;
static gboolean inject_dry_run;
static gboolean inject_write_state = TRUE;

void
opmf_set_injection(const char *method, gboolean dry_run,
    gboolean write_state)
{
	g_free(inject_override);
	inject_override = g_strdup(method);
	inject_dry_run = dry_run;
	inject_write_state = write_state;
}

/* A temporary failure of the distribution of v, keeping what the log
 * line needs.  (transfer full) */
static OpmVerdict *
distribution_failed(const OpmVerdict *v, const char *why)
{
	OpmVerdict *t = opm_verdict_tempfail(v->list, "4.3.0", why);

	g_free(t->text);
	t->text = g_strdup_printf("list %s: temporary local problem while "
	    "distributing your post (%s).\n"
	    "Your mail server will try again; no member will get the post "
	    "twice.", v->list, why);
	t->from = g_strdup(v->from);
	t->signer = g_strdup(v->signer);
	t->copies = v->copies;
	return t;
}

/* The permanent refusal of v when the MTA refused a copy for good (error
 * OPM_ERROR_TOO_BIG or OPM_ERROR_REFUSED): a retry would build the same
 * copies and get the same answer.  (transfer full) */
static OpmVerdict *
distribution_refused(const OpmVerdict *v, const GError *error)
{
	gboolean big = error->code == OPM_ERROR_TOO_BIG;
	OpmVerdict *t = opm_verdict_tempfail(v->list, big ? "5.3.4" : "5.3.0",
	    big ? "copies too large for the MTA" : "copies refused by the MTA");
	g_autofree char *got = v->copies == 0 ? g_strdup("No member got it.") :
	    g_strdup_printf("%u members got it already; they will not get it "
	    "again if you send the same message again.", v->copies);

	t->action = OPM_ACTION_REJECT;
	g_strlcpy(t->rcode, big ? "552" : "554", sizeof(t->rcode));
	g_free(t->text);
	if (big)
		t->text = g_strdup_printf("list %s: your post cannot be "
		    "distributed: each member gets it as an encrypted copy, "
		    "which is larger than the post, and the mail system here "
		    "refuses copies that large.\n"
		    "Send it again smaller, e.g. without large attachments.\n%s",
		    v->list, got);
	else
		t->text = g_strdup_printf("list %s: your post cannot be "
		    "distributed: the mail system here refuses its encrypted "
		    "copies for good.\n"
		    "Ask the list admins what the list cannot carry.\n%s",
		    v->list, got);
	t->from = g_strdup(v->from);
	t->signer = g_strdup(v->signer);
	t->copies = v->copies;
	return t;
}

static gint
by_address(gconstpointer a, gconstpointer b, gpointer lists)
{
	OpmList *la = g_ptr_array_index((GPtrArray *)lists, *(const guint *)a);
	OpmList *lb = g_ptr_array_index((GPtrArray *)lists, *(const guint *)b);

	return strcmp(la->address, lb->address);
}

/* Distribute a post every list accepted.  On failure, verdicts[i] becomes
 * the refusal or temporary failure the poster gets; returns its index. */
static gint
distribute(OpmfMsg *m, const char *qid, OpmMessage *msg, GPtrArray *verdicts,
    gint64 now)
{
	g_autoptr(OpmInjector) inj = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree OpmJournal **journals = NULL;
	g_autoptr(GArray) order = g_array_new(FALSE, FALSE, sizeof(guint));
	gint failed = -1;
	const char *why = NULL;
	gboolean refused = FALSE;

	if (inject_dry_run)
		return -1;
	inj = opm_injector_new(inject_override != NULL ? inject_override :
	    m->conf->inject_method, &error);
	if (inj == NULL) {
		g_warning("%s", error->message);
		failed = 0;
		why = "copies cannot be queued";
		goto DONE;
	}
	/* Mark the post pending for every list before the first copy, so
	 * that a retry after a stop between two lists is known as one.
	 * Locks are taken in address order: no two posts deadlock. */
	journals = g_new0(OpmJournal *, verdicts->len);
	for (guint i = 0; i < verdicts->len; i++)
		g_array_append_val(order, i);
	g_array_sort_with_data(order, by_address, m->lists);
	for (guint k = 0; inject_write_state && k < order->len; k++) {
		guint i = g_array_index(order, guint, k);

		journals[i] = opm_fanout_journal(m->conf,
		    g_ptr_array_index(m->lists, i),
		    g_ptr_array_index(verdicts, i), now, &error);
		if (journals[i] == NULL) {
			g_warning("%s", error->message);
			failed = (gint)i;
			why = "state directory unavailable";
			goto DONE;
		}
	}
	for (guint i = 0; i < verdicts->len; i++) {
		OpmVerdict *v = g_ptr_array_index(verdicts, i);
		OpmList *l = g_ptr_array_index(m->lists, i);
		OpmFanoutStats st = {0};
		gboolean ok;

		if (g_strcmp0(v->reason, "distributed before") == 0)
			continue;
		if (g_str_has_prefix(inject_override != NULL ? inject_override :
		    m->conf->inject_method, "sendmail:"))
			post_note_add(qid, l, v);
		ok = opm_fanout_run(m->conf, l, msg, v, inj, journals[i], now,
		    &st, &error);
		/* where each copy went, also when the post stops half-way */
		for (guint k = 0; st.queued != NULL && k < st.queued->len; k++)
			opmf_log_queued(qid, l->address,
			    g_ptr_array_index(st.queued, k));
		opm_fanout_stats_clear(&st);
		if (ok) {
			v->copies = st.sent + st.already;
			v->withheld = st.withheld;
			continue;
		}
		v->copies = st.sent + st.already;
		failed = (gint)i;
		if (g_error_matches(error, OPM_ERROR, OPM_ERROR_REPLAY)) {
			opm_gate_replayed(v, now);
		} else if (g_error_matches(error, OPM_ERROR, OPM_ERROR_TOO_BIG) ||
		    g_error_matches(error, OPM_ERROR, OPM_ERROR_REFUSED)) {
			/* the journal keeps the copies queued so far: the same
			 * post sent again does not send them twice */
			g_warning("%s: distribution refused for good after %u "
			    "copies: %s", l->address, v->copies, error->message);
			refused = TRUE;
		} else if (g_error_matches(error, OPM_ERROR,
		    OPM_ERROR_LIST_KEY)) {
			/* nothing was sent: the key is checked first */
			g_autofree char *cause = g_str_has_prefix(error->message,
			    "list ") ? g_strdup(error->message) :
			    g_strdup_printf("list %s: %s", l->address,
			    error->message);
			OpmVerdict *t = opm_verdict_list_key(l->address, cause);

			g_warning("%s", cause);
			t->from = g_strdup(v->from);
			t->signer = g_strdup(v->signer);
			t->copies = v->copies;
			g_ptr_array_index(verdicts, i) = t;
			opm_verdict_free(v);
		} else {
			g_warning("%s: distribution stopped after %u copies: %s",
			    l->address, v->copies, error->message);
			why = "not every copy could be queued";
		}
		break;
	}
DONE:
	for (guint i = 0; journals != NULL && i < verdicts->len; i++)
		opm_journal_close(journals[i]);
	if (why != NULL || refused) {
		OpmVerdict *v = g_ptr_array_index(verdicts, failed);

		g_ptr_array_index(verdicts, failed) = refused ?
		    distribution_refused(v, error) : distribution_failed(v, why);
		opm_verdict_free(v);
	}
	return failed;
}

/*
 * The list key of the list of v cannot be used: tell the list's admins,
 * once per incident (the state directory keeps it; -t, which writes no
 * state, shows the notice every time).
 */
static void
list_key_incident(OpmfMsg *m, const OpmVerdict *v, gint64 now)
{
	g_autoptr(OpmInjector) inj = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *key = NULL;
	OpmList *l = NULL;

	for (guint i = 0; i < m->lists->len && l == NULL; i++)
		if (strcmp(((OpmList *)m->lists->pdata[i])->address,
		    v->list) == 0)
			l = m->lists->pdata[i];
	if (l == NULL || inject_dry_run)
		return;
	if (inject_write_state && !opm_incident_begin(m->conf->state_dir,
	    l->address, v->incident, &error))
		return;
	if (error != NULL) {
		g_warning("%s", error->message);
		g_clear_error(&error);
	}
	if (l->admins == NULL || l->admins->len == 0) {
		g_warning("%s: the list key cannot be used, and the list has no "
		    "Admin to tell", l->address);
		return;
	}
	inj = opm_injector_new(inject_override != NULL ? inject_override :
	    m->conf->inject_method, &error);
	key = g_strdup_printf("incident %" G_GINT64_FORMAT, now);
	for (guint i = 0; inj != NULL && i < l->admins->len; i++) {
		const char *admin = g_ptr_array_index(l->admins, i);
		g_autofree char *mid = opm_copy_message_id(l, key, admin);
		g_autoptr(GBytes) notice = opm_copy_list_key_notice(l, admin,
		    v->incident, mid, now);

		if (!opm_injector_send(inj, l->bounce_address, admin, notice,
		    NULL, &error))
			break;
	}
	if (error != NULL)
		g_warning("%s: the admins could not be told that the list key "
		    "cannot be used: %s", l->address, error->message);
	else
		g_message("%s: the admins were told that the list key cannot be "
		    "used", l->address);
}

/* A mail to a request address (lib/request.c). */
static sfsistat
request_eom(SMFICTX *ctx, OpmfConn *c, OpmfMsg *m)
{
	g_autoptr(OpmMessage) msg = NULL;
	g_autoptr(OpmVerdict) v = NULL;
	g_autoptr(OpmInjector) inj = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *summary = NULL;
	OpmRequestOptions o = {0};
	const char *qid = queue_id(ctx);
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	sfsistat rc;

	if (m->requests_mixed || m->lists->len > 0) {
		v = opm_verdict_tempfail(m->request->address, "5.5.3", "mixed");
		v->action = OPM_ACTION_REJECT;
		g_strlcpy(v->rcode, "550", sizeof(v->rcode));
		g_free(v->text);
		v->text = g_strdup_printf("list %s: send commands in a mail of "
		    "their own, to %s alone, not together with a post or "
		    "another list's commands.", m->request->address,
		    m->request->request_address);
	} else {
		msg = parse(m);
		if (!inject_dry_run)
			inj = opm_injector_new(inject_override != NULL ?
			    inject_override : m->conf->inject_method, &error);
		if (!inject_dry_run && inj == NULL) {
			g_warning("%s", error->message);
			v = opm_verdict_tempfail(m->request->address, "4.3.0",
			    "replies cannot be queued");
		} else {
			o.apply = inject_write_state;
			o.inj = inj;
			o.sender = m->sender;
			if (!inject_write_state && inject_override != NULL &&
			    g_str_has_prefix(inject_override, "dir:"))
				summary = g_build_filename(inject_override + 4,
				    "summary", NULL);
			o.summary = summary;
			v = opm_request_run(m->conf, m->request, msg, &o, now);
		}
	}
	if (v->action == OPM_ACTION_ACCEPT && m->other_rcpts &&
	    opmf_smfi->delrcpt(ctx, m->request_rcpt) != MI_SUCCESS) {
		g_warning("%s: cannot remove recipient %s", qid, m->request_rcpt);
		opm_verdict_free(v);
		v = opm_verdict_tempfail(m->request->address, "4.3.0",
		    "recipient removal failed");
	}
	rc = opmf_reply(ctx, v, m->other_rcpts);
	opmf_log_summary(qid, m->sender, v,
	    (g_get_monotonic_time() - m->start_us) / 1000);
	msg_free(m);
	c->msg = NULL;
	return rc;
}

sfsistat
opmf_eom(SMFICTX *ctx)
{
	OpmfConn *c = conn(ctx);
	OpmfMsg *m = c != NULL ? c->msg : NULL;
	g_autoptr(OpmMessage) msg = NULL;
	g_autoptr(GPtrArray) verdicts = NULL;
	const char *qid;
	OpmVerdict *v;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	gint failed = -1;
	gint64 elapsed;
	gboolean big;
	sfsistat rc;

	if (m == NULL)
		return SMFIS_TEMPFAIL;
	if (m->request != NULL)
		return request_eom(ctx, c, m);
	if (m->lists->len == 0)
		return SMFIS_ACCEPT;
	qid = queue_id(ctx);
	msg = parse(m);
	verdicts = judge(m, msg, now);
	v = g_ptr_array_index(verdicts, 0);
	if (v->action == OPM_ACTION_ACCEPT && m->other_rcpts) {
		/* the original goes on to the others, never to a list */
		for (guint i = 0; i < m->list_rcpts->len; i++) {
			char *r = g_ptr_array_index(m->list_rcpts, i);

			if (opmf_smfi->delrcpt(ctx, r) != MI_SUCCESS) {
				g_warning("%s: cannot remove recipient %s", qid, r);
				v = opm_verdict_tempfail(v->list, "4.3.0",
				    "recipient removal failed");
				g_ptr_array_add(verdicts, v);
				break;
			}
		}
	}
	if (v->action == OPM_ACTION_ACCEPT) {
		Ticker ticker;

		ticker_start(&ticker, ctx, qid);
		failed = distribute(m, qid, msg, verdicts, now);
		ticker_stop(&ticker);
		if (failed >= 0)
			v = g_ptr_array_index(verdicts, failed);
	}
	if (v->incident != NULL)
		list_key_incident(m, v, now);
	else if (v->action == OPM_ACTION_ACCEPT && inject_write_state &&
	    !inject_dry_run)
		for (guint i = 0; i < m->lists->len; i++) {
			OpmList *l = g_ptr_array_index(m->lists, i);

			if (opm_incident_end(m->conf->state_dir, l->address))
				g_message("%s: the list key %s works again; its "
				    "incident is over", l->address, l->list_key);
		}
	rc = opmf_reply(ctx, v, m->other_rcpts);
	elapsed = (g_get_monotonic_time() - m->start_us) / 1000;
	if (v->action != OPM_ACTION_ACCEPT)
		opmf_log_summary(qid, m->sender, v, elapsed);
	else
		for (guint i = 0; i < verdicts->len; i++)
			opmf_log_summary(qid, m->sender,
			    g_ptr_array_index(verdicts, i), elapsed);
	big = m->size >= TRIM_AFTER;
	msg_free(m);
	c->msg = NULL;
	g_clear_pointer(&msg, opm_message_free);
	if (big)
		(void)malloc_trim(0); /* every arena, not only this thread's */
	return rc;
}

sfsistat
opmf_abort(SMFICTX *ctx)
{
	OpmfConn *c = conn(ctx);

	if (c != NULL) {
		msg_free(c->msg);
		c->msg = NULL;
	}
	return SMFIS_CONTINUE;
}

sfsistat
opmf_close(SMFICTX *ctx)
{
	OpmfConn *c = conn(ctx);

	if (c == NULL)
		return SMFIS_CONTINUE;
	msg_free(c->msg);
	g_free(c->client);
	g_free(c);
	(void)opmf_smfi->setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

struct smfiDesc opmf_desc = {
	.xxfi_name = "openpgp-milter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_DELRCPT |
	    SMFIF_ADDRCPT,
	.xxfi_connect = opmf_connect,
	.xxfi_envfrom = opmf_envfrom,
	.xxfi_envrcpt = opmf_envrcpt,
	.xxfi_header = opmf_header,
	.xxfi_eoh = opmf_eoh,
	.xxfi_body = opmf_body,
	.xxfi_eom = opmf_eom,
	.xxfi_abort = opmf_abort,
	.xxfi_close = opmf_close,
};
