/*
 * NAME
 *	admission.h - nominations and vouches: who may join a vetted list
 * DESCRIPTION
 *	With "Admission vouch" a member nominates a candidate with the
 *	candidate's key; other members vouch by repeating the fingerprint
 *	they checked; an admin approves when the list says so.  This module
 *	keeps the open nominations of a list in the state directory and
 *	holds the policy arithmetic, as pure functions of a nomination, the
 *	list's policy and a time the caller passes in.  Adding the candidate
 *	is lib/member.c's business (opm_member_apply()).
 */
#ifndef OPM_ADMISSION_H
#define OPM_ADMISSION_H

#include "conf.h"
#include "inject.h"
#include "member.h"

/* The policy of a list, from its options. */
typedef struct {
	gboolean vouch;       /* Admission vouch */
	guint required;       /* VouchesRequired */
	gboolean approval;    /* AdminApproval */
	gint64 lifetime;      /* NominationLifetime, seconds */
	gboolean show_vouchers; /* VouchVisibility members */
} OpmAdmissionPolicy;

void opm_admission_policy(const OpmList *list, OpmAdmissionPolicy *p);

/* A vouch or an objection. */
typedef struct {
	char *who;      /* the member's address, normalized */
	gboolean admin; /* given by an admin of the list */
	char *reason;   /* objections: the reason as written; else NULL */
	gint64 when;
} OpmVoice;

typedef struct {
	char *address;      /* the candidate, normalized */
	char *fpr;          /* the candidate's primary fingerprint */
	char *name;         /* display name, or NULL */
	char *nominator;    /* the nominating member's address */
	gint64 created;
	GBytes *key;        /* the candidate's key block as attached; owned.
			       It stays here, out of the list's keyring,
			       until the candidate is admitted. */
	GPtrArray *vouches;    /* OpmVoice *, owned */
	GPtrArray *objections; /* OpmVoice *, owned */
	char *approved_by;  /* the admin who approved, or NULL */
	gint64 approved;
} OpmNomination;

/* (transfer full): opm_nomination_free() */
OpmNomination *opm_nomination_new(const char *address, const char *fpr,
    const char *name, const char *nominator, GBytes *key, gint64 now);
void opm_nomination_free(OpmNomination *n); /* accepts NULL */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OpmNomination, opm_nomination_free)

typedef enum {
	OPM_NOMINATION_OPEN,     /* waiting for vouches or approval */
	OPM_NOMINATION_READY,    /* the candidate may be added now */
	OPM_NOMINATION_EXPIRED,  /* NominationLifetime passed first */
	OPM_NOMINATION_REFUSED,  /* an admin objected */
} OpmNominationState;

/* Where n stands under p at now.  An admin's objection ends it whatever
 * the count; then expiry; then READY when the vouches by members other
 * than the nominator reach p->required and, if p->approval, an admin
 * approved. */
OpmNominationState opm_nomination_state(const OpmAdmissionPolicy *p,
    const OpmNomination *n, gint64 now);

/* When n expires under p. */
gint64 opm_nomination_expires(const OpmAdmissionPolicy *p,
    const OpmNomination *n);

/* The vouches that count: by members other than the nominator. */
guint opm_nomination_count(const OpmNomination *n);

/* A vouch for n by member who (normalized address) naming fpr.  Refused
 * (OPM_ERROR_CONFIG, the reason in plain words) when fpr is not the
 * candidate's fingerprint, who is the candidate or the nominator, who
 * vouched before, the candidate is_member already, or n is no longer
 * open at now. */
gboolean opm_nomination_vouch(const OpmAdmissionPolicy *p, OpmNomination *n,
    const char *who, const char *fpr, gboolean is_member, gint64 now,
    GError **error);

/* An objection to n by who, with reason.  An admin's ends the
 * nomination (opm_nomination_state() says REFUSED); a member's is kept
 * and shown to the admins.  Refused when who objected before or n is no
 * longer open. */
gboolean opm_nomination_object(const OpmAdmissionPolicy *p, OpmNomination *n,
    const char *who, gboolean admin, const char *reason, gint64 now,
    GError **error);

/* An admin's approval of n.  Refused when the list asks for no approval,
 * n was approved already or is no longer open. */
gboolean opm_nomination_approve(const OpmAdmissionPolicy *p,
    OpmNomination *n, const char *who, gint64 now, GError **error);

/* A plain text of n for people: candidate, fingerprint, nominator,
 * count, approval, time left; the names of those who vouched when
 * vouchers, the objections when objections.  (transfer full) */
char *opm_nomination_describe(const OpmAdmissionPolicy *p,
    const OpmNomination *n, gboolean vouchers, gboolean objections,
    gint64 now);

/* The open nominations of a list, read from
 * STATE/nominations/LISTADDRESS under an exclusive lock held until
 * opm_nominations_close(). */
typedef struct OpmNominations OpmNominations;

/* (transfer full): opm_nominations_close().  An unreadable or malformed
 * state file is an OPM_ERROR_IO error: nothing is guessed. */
OpmNominations *opm_nominations_open(const char *state_dir,
    const char *list_address, GError **error);

/* Write the nominations back: temporary file, fsync, rename, fsync of
 * the directory.  A crash leaves the old state or the new, whole. */
gboolean opm_nominations_save(OpmNominations *s, GError **error);

/* Unlock and free; what was not saved is forgotten.  Accepts NULL. */
void opm_nominations_close(OpmNominations *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OpmNominations, opm_nominations_close)

/* The nominations, OpmNomination *, oldest first.  (transfer none) */
GPtrArray *opm_nominations_list(OpmNominations *s);

/* The nomination of address (any spelling of its domain), or NULL.
 * (transfer none) */
OpmNomination *opm_nominations_find(OpmNominations *s, const char *address);

/* Most open nominations of one list: each holds a key block, and the
 * file is rewritten whole on every change. */
#define OPM_NOMINATIONS_MAX 50

/* Take n (transfer full).  Refused when address has an open nomination
 * already, or OPM_NOMINATIONS_MAX are open. */
gboolean opm_nominations_add(OpmNominations *s, OpmNomination *n,
    GError **error);

/* Take the nomination of address out.  (transfer full), or NULL. */
OpmNomination *opm_nominations_take(OpmNominations *s, const char *address);

/* What became of a nomination that left the store. */
typedef enum {
	OPM_ADMISSION_ADMITTED,  /* the candidate is a member now */
	OPM_ADMISSION_EXPIRED,
	OPM_ADMISSION_REFUSED,   /* an admin objected */
	OPM_ADMISSION_WITHDRAWN, /* by the nominator */
	OPM_ADMISSION_FAILED,    /* the candidate could not be added: why */
} OpmAdmissionOutcome;

typedef struct {
	OpmAdmissionOutcome outcome;
	OpmNomination *nom; /* owned */
	OpmChange *change;  /* ADMITTED: the change made; owned */
	char *why;          /* FAILED: the reason; owned */
} OpmAdmissionEvent;

/* (transfer full) n and change */
OpmAdmissionEvent *opm_admission_event_new(OpmAdmissionOutcome outcome,
    OpmNomination *n, OpmChange *change, const char *why);
void opm_admission_event_free(OpmAdmissionEvent *e); /* accepts NULL */

/* Drop the vouches of those who are no longer members of list, then
 * take out of s every nomination that is over at now: a ready one is
 * added through opm_member_apply() (unless dry_run), as one add-member
 * change with the key kept in the nomination; an expired or refused one
 * is dropped; one whose candidate became a member meanwhile is dropped
 * silently.  An OpmAdmissionEvent per nomination taken goes to events.
 * FALSE with error only for the host's trouble (then s may have lost
 * nominations in memory: do not save it). */
gboolean opm_admission_settle(OpmConfig *conf, OpmList *list,
    OpmNominations *s, gboolean dry_run, gint64 now, GPtrArray *events,
    GError **error);

/* Tell people of events, each message signed by the list key and
 * encrypted to its reader: an admitted candidate gets the welcome
 * (opm_member_greet()), every member one announcement, the admins the
 * change; an expired, refused, withdrawn or failed nomination is
 * announced to the nominator and the admins.  The candidate is never
 * told who objected.  Trouble is logged.  Returns the messages queued. */
gint opm_admission_notify(OpmList *list, GPtrArray *events,
    OpmInjector *inj, gint64 now);

/* One notice to every admin, each encrypted to the admin's key.
 * Returns the notices queued. */
gint opm_admission_tell_admins(OpmList *list, const char *subject,
    const char *body, OpmInjector *inj, gint64 now);

/* The daily check: settle the nominations of list at now (expired ones
 * end, ready ones are added), save, and tell people.  *ended (may be
 * NULL): how many nominations left the store. */
gboolean opm_admission_check(OpmConfig *conf, OpmList *list,
    OpmInjector *inj, gint64 now, guint *ended, GError **error);

/* The nomination notice to every member with a usable key but the
 * nominator: the candidate, the fingerprint, the nominator, how to vouch
 * or object.  Returns the notices queued. */
gint opm_admission_announce(OpmList *list, const OpmNomination *n,
    OpmInjector *inj, gint64 now);

#endif
