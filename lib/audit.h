/*
 * NAME
 *	audit.h - the configuration check behind "openpgp-milter -n"
 */
#ifndef OPM_AUDIT_H
#define OPM_AUDIT_H

#include "conf.h"
#include "keys.h"

typedef enum {
	OPM_PROBLEM_WARNING,
	OPM_PROBLEM_ERROR,
} OpmSeverity;

typedef struct {
	OpmSeverity severity;
	char *where;  /* "file:line" or "file" */
	char *text;
} OpmProblem;

void opm_problem_free(OpmProblem *p); /* accepts NULL */

/* Check a list whose keys are loaded (opm_keys_load()): the list key,
 * every member key, the GnuPG home's gpg.conf.  now: current time.
 * (transfer full): a GPtrArray of OpmProblem, empty when all is well. */
GPtrArray *opm_audit_list(OpmList *list, gint64 now);

/* Add to out the problems of using list's key as the daemon does: sign
 * and decrypt, never with a passphrase, under the present user. */
void opm_audit_list_key(GPtrArray *out, OpmList *list);

/* An incident of list (its address) begins, or goes on, with cause.
 * TRUE when it begins now: the caller tells the admins.  State in
 * state_dir (see audit.c); an error there still returns TRUE. */
gboolean opm_incident_begin(const char *state_dir, const char *list,
    const char *cause, GError **error);

/* The list key works: end list's incident.  TRUE when one was open. */
gboolean opm_incident_end(const char *state_dir, const char *list);

/* The checks -n makes of one member's key k (NULL: missing), pinned as
 * fpr for address, with the list's key rules; problems are appended to
 * out (OpmProblem *) with where as their place. */
void opm_audit_key(GPtrArray *out, OpmList *list, const char *where,
    const char *address, const char *fpr, const OpmKeyInfo *k, gint64 now);

/* Why member m is inactive at now (its key missing, revoked, expired,
 * or able neither to sign nor to encrypt), or NULL when it is active.
 * An inactive member's posts are refused and gets no copies.
 * (transfer none): a constant text */
const char *opm_audit_inactive(const OpmMember *m, gint64 now);

#endif
