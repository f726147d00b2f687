/*
 * NAME
 *	expiry.h - reminders before member keys expire
 * DESCRIPTION
 *	The daemon's daily check: each member whose key expires within one
 *	of the list's KeyExpiryReminders gets one reminder per time, the
 *	admins one summary on a day something was sent.  What was sent is
 *	kept in the state directory.
 */
#ifndef OPM_EXPIRY_H
#define OPM_EXPIRY_H

#include "conf.h"
#include "inject.h"

typedef struct {
	guint reminders;  /* member reminders sent */
	guint summaries;  /* admin summaries sent */
	gboolean list_key; /* the list key came within a reminder time */
} OpmExpiryStats;

/* Check list (its keys loaded) at time now: send what is due through inj
 * and record it under state_dir.  FALSE with error when the state
 * directory cannot be used or the MTA refused a message; what was sent
 * before is recorded. */
gboolean opm_expiry_run(const char *state_dir, OpmList *list,
    OpmInjector *inj, gint64 now, OpmExpiryStats *stats, GError **error);

/* Inactive members of list (opm_audit_inactive()): the time each was
 * first seen inactive is kept in state_dir; once a member has been
 * inactive for the list's InactiveReminder, the admins get one reminder
 * to remove the member or get a new key, never twice for one key.
 * *reminded (may be NULL): the members named in it. */
gboolean opm_expiry_inactive(const char *state_dir, OpmList *list,
    OpmInjector *inj, gint64 now, guint *reminded, GError **error);

#endif
