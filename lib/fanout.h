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
#include "mime.h"

typedef struct {
	guint sent;      /* copies queued now */
	guint already;   /* copies queued by an earlier attempt */
	guint withheld;  /* members whose key cannot be used */
	guint notices;   /* notices queued now (members and admins) */
} OpmFanoutStats;

/* Fan out the post v accepted for list.  inj NULL: a dry run that builds
 * nothing and writes no state (-t without -o).  write_state FALSE: build
 * and send through inj but keep the journal untouched (-t -o).
 * Returns FALSE with error: OPM_ERROR_REPLAY when the post was fanned
 * out already (a concurrent duplicate), any other code for trouble that
 * must tempfail the post (some copies may be queued and recorded). */
gboolean opm_fanout_run(OpmConfig *conf, OpmList *list, OpmMessage *msg,
    const OpmVerdict *v, OpmInjector *inj, gboolean write_state, gint64 now,
    OpmFanoutStats *stats, GError **error);

#endif
