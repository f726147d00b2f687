/*
 * NAME
 *	fanout.h - turn an accepted post into one encrypted copy per member
 * DESCRIPTION
 *	DESIGN.md section 3, steps 5 to 8.  Runs under the post's journal
 *	entry, so that a retried post sends only the copies not yet queued
 *	and a post already fanned out is a replay.
 */
#ifndef OPM_FANOUT_H
#define OPM_FANOUT_H

#include "conf.h"
#include "gate.h"
#include "inject.h"
#include "journal.h"
#include "mime.h"

/* One message this attempt handed to the MTA. */
typedef struct {
	char *what;       /* "copy", "notice" or "admin-notice" */
	char *rcpt;       /* its envelope recipient */
	char *message_id; /* its Message-ID, with the angle brackets */
	char *queue_id;   /* the MTA's queue ID, or NULL when the injection
			     method cannot know it */
} OpmQueued;

typedef struct {
	GPtrArray *queued; /* OpmQueued *, owned, in the order queued (also
			      when the post stops half-way):
			      opm_fanout_stats_clear() */
	guint sent;      /* copies queued now */
	guint already;   /* copies queued by an earlier attempt */
	guint withheld;  /* members whose key cannot be used */
	guint notices;   /* notices queued now (members and admins) */
} OpmFanoutStats;

/* Open and lock the journal entry of the post v accepted for list, with
 * the list's lifetimes.  (transfer full): opm_journal_close(). */
OpmJournal *opm_fanout_journal(OpmConfig *conf, OpmList *list,
    const OpmVerdict *v, gint64 now, GError **error);

/* The state of that entry, without opening it. */
OpmPostState opm_fanout_state(OpmConfig *conf, OpmList *list,
    const OpmVerdict *v, gint64 now);

/* Fan out the post v accepted for list.  inj NULL: a dry run that builds
 * nothing.  j: the post's journal entry from opm_fanout_journal(), or
 * NULL to keep no state (-t -o).  Returns FALSE with error: OPM_ERROR_REPLAY
 * when j says the post was fanned out already (a concurrent duplicate),
 * OPM_ERROR_TOO_BIG or OPM_ERROR_REFUSED when the MTA refused a copy for
 * good (the post must be refused, not retried), any other code for
 * trouble that must tempfail the post (in every case, copies queued
 * before it are recorded in j). */
/* Free what opm_fanout_run() left in stats.  Accepts a cleared one. */
void opm_fanout_stats_clear(OpmFanoutStats *stats);

gboolean opm_fanout_run(OpmConfig *conf, OpmList *list, OpmMessage *msg,
    const OpmVerdict *v, OpmInjector *inj, OpmJournal *j, gint64 now,
    OpmFanoutStats *stats, GError **error);

/* How FanoutMode split deals n recipients, whose keys are at position[i]
 * in the keyring, for an inner entity of inner_size bytes: returns the
 * number of parts (sign+encrypt operations, side by side); order[k] is
 * the index of the recipient that goes k-th, to part k % parts.  Every
 * part's recipients are in keyring order.  order: room for n. */
guint opm_fanout_deal(const guint *position, guint n, gsize inner_size,
    guint *order);

/* The largest copy a post of conf's MaxMessageSize can become, in bytes,
 * for content that does not compress: the armor's 4/3 and line ends
 * (11/8 in all), protected header fields taken from outside an
 * encrypted post, the header fields the milter writes and folds, the
 * list's signature and OpenPGP packet framing.  The MTA's size limit
 * must be at least this. */
gint64 opm_fanout_copy_bound(const OpmConfig *conf);

/* The largest MaxMessageSize whose copies stay within limit bytes (with
 * conf's other bounds), or 0 when none does. */
gint64 opm_fanout_max_post(const OpmConfig *conf, gint64 limit);

#endif
