/*
 * NAME
 *	gate.h - the posting gate: is this post validly signed by a member?
 * DESCRIPTION
 *	DESIGN.md section 3, steps 1 to 4, for one list.  The result is an
 *	OpmVerdict: an action, the SMTP reply code, enhanced status code and
 *	text the poster sees, and what the summary log line needs.
 */
#ifndef OPM_GATE_H
#define OPM_GATE_H

#include "conf.h"
#include "mime.h"

typedef enum {
	OPM_ACTION_ACCEPT,
	OPM_ACTION_REJECT,
	OPM_ACTION_TEMPFAIL,
} OpmAction;

typedef struct {
	OpmAction action;
	char rcode[4];       /* "550" */
	char xcode[8];       /* "5.7.1" */
	char *text;          /* reply text, lines separated by '\n',
				printable ASCII without '%' expansion */
	char *reason;        /* short tag for the log: "unsigned", ... */
	char *list;          /* list address */
	char *from;          /* From: address (sanitized) or NULL */
	char *signer;        /* signer's primary fingerprint or NULL */
	OpmMember *member;   /* (transfer none): owned by the configuration */
	char *replay_key;    /* journal key of an accepted post */
	char *incident;      /* the list key's trouble (list, key, cause)
				for the admins' notice, or NULL */
	guint copies;        /* filled by the fan-out, for the log */
	guint withheld;
} OpmVerdict;

void opm_verdict_free(OpmVerdict *v); /* accepts NULL */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OpmVerdict, opm_verdict_free)

/* The parse bounds of the configuration. */
void opm_gate_limits(const OpmConfig *conf, OpmLimits *out);

/* Run the gate for one list.  now is the current time (seconds since the
 * epoch).  Never NULL: internal trouble is a TEMPFAIL verdict.  The gate
 * only reads the state directory: a post already distributed is a
 * replay, one whose distribution was interrupted is a retry and passes
 * (its replay_key names the journal entry opm_fanout_run() resumes).
 * An encrypted post is decrypted with the list key; for the list it
 * accepts the post for, the gate leaves in msg what the copies carry
 * (payload, protected_headers, encrypted, combined) and the signed bytes
 * the journal key is made of (signed_data); each call starts afresh.
 * (transfer full) */
OpmVerdict *opm_gate_check(OpmConfig *conf, OpmList *list, OpmMessage *msg,
    gint64 now);

/* Turn v into the replay refusal for a post distributed at time seen.
 * Returns v. */
OpmVerdict *opm_gate_replayed(OpmVerdict *v, gint64 seen);

/* The TEMPFAIL verdict (451 4.7.0) for a post the list cannot decrypt or
 * sign because its own key cannot be used; cause (list, key and what is
 * wrong) goes into its incident.  (transfer full) */
OpmVerdict *opm_verdict_list_key(const char *list, const char *cause);

/* A TEMPFAIL verdict for internal trouble.  (transfer full) */
OpmVerdict *opm_verdict_tempfail(const char *list, const char *xcode,
    const char *reason);

#endif
