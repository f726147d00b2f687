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

/* Take n (transfer full).  Refused when address has an open nomination
 * already. */
gboolean opm_nominations_add(OpmNominations *s, OpmNomination *n,
    GError **error);

/* Take the nomination of address out.  (transfer full), or NULL. */
OpmNomination *opm_nominations_take(OpmNominations *s, const char *address);

#endif
