/*
 * NAME
 *	inject.h - hand copies back to the MTA
 * DESCRIPTION
 *	Methods: "sendmail:PATH [ARG...]" runs PATH ARG... -i -f SENDER --
 *	RCPT per copy;
 *	"smtp:HOST:PORT" speaks SMTP to a listener without milters, one
 *	connection per injector (opm_injector_another() for more); "dir:PATH" (for -t -o) writes
 *	each copy to PATH/RCPT.  A copy counts as queued only when the MTA
 *	said so (exit status 0, or 250 after DATA).
 */
#ifndef OPM_INJECT_H
#define OPM_INJECT_H

#include "opm.h"

typedef struct OpmInjector OpmInjector;

/* (transfer full) or NULL with an OPM_ERROR_CONFIG error for a bad method */
OpmInjector *opm_injector_new(const char *method, GError **error);

/* Queue one copy with one envelope recipient.  commit (may be NULL) is
 * carried out as soon as the MTA took the copy, by the process that knows
 * it first.  FALSE with an OPM_ERROR_INJECT error if the MTA did not take
 * it, OPM_ERROR_IO if it did but the commit failed. */
gboolean opm_injector_send(OpmInjector *inj, const char *sender,
    const char *rcpt, GBytes *message, const OpmCommit *commit,
    GError **error);

/* The same for a copy in nparts pieces (NULL ones skipped), written out
 * one after the other as if joined.  A refusal a retry cannot change is
 * OPM_ERROR_TOO_BIG (over the MTA's size limit) or OPM_ERROR_REFUSED
 * (any other permanent refusal of the message). */
gboolean opm_injector_sendv(OpmInjector *inj, const char *sender,
    const char *rcpt, GBytes *const *parts, guint nparts,
    const OpmCommit *commit, GError **error);

/* The MTA's queue ID of the copy the last successful opm_injector_send()
 * or opm_injector_sendv() queued, or NULL when the method cannot know it
 * (sendmail:, dir:, or an SMTP reply that names none).  (transfer none):
 * valid until the next send. */
const char *opm_injector_queue_id(const OpmInjector *inj);

/* The queue ID named by an MTA's reply to the end of a message's data:
 * Postfix's "250 2.0.0 Ok: queued as ID", Sendmail's "250 2.0.0 ID
 * Message accepted for delivery", Exim's "250 OK id=ID".  (transfer
 * full) or NULL when the reply names none. */
char *opm_inject_reply_queue_id(const char *line);

/* Another injector for the same method, to send copies side by side
 * with inj (one more SMTP connection), or NULL when the method hands
 * over one copy at a time only (sendmail:, dir:).  (transfer full) */
OpmInjector *opm_injector_another(const OpmInjector *inj);

/* Open the SMTP session now (greeting and EHLO), so that the first copy
 * does not wait for it; TRUE at once for the other methods or an open
 * session, FALSE with an OPM_ERROR_INJECT error. */
gboolean opm_injector_open(OpmInjector *inj, GError **error);

/* Close the session (SMTP QUIT); copies already sent stay queued. */
void opm_injector_free(OpmInjector *inj); /* accepts NULL */

G_DEFINE_AUTOPTR_CLEANUP_FUNC(OpmInjector, opm_injector_free)

#endif
