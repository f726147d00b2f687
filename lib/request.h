/*
 * NAME
 *	request.h - mail to a list's request address: commands by mail
 * DESCRIPTION
 *	A mail to RequestAddress passes the posting gate of its list
 *	(signature, member, From:, freshness, replay), and then its commands
 *	(lib/command.c) are carried out through the membership module
 *	(lib/member.c), all or nothing.  It is never fanned out.  The
 *	sender gets a reply signed by the list key and encrypted to them;
 *	added members a welcome, removed ones a goodbye, the admins a
 *	notice.  Only "get-list-key" works without a signature: its reply
 *	is signed, not encrypted.  With "Admission vouch" the same door
 *	takes nominations, vouches, objections and approvals.
 */
#ifndef OPM_REQUEST_H
#define OPM_REQUEST_H

#include "conf.h"
#include "gate.h"
#include "inject.h"
#include "mime.h"

/* The list whose request address rcpt reaches, in any spelling the MTA
 * delivers to it (opm_conf_resolve()), or NULL.  (transfer none) */
OpmList *opm_request_list(OpmConfig *conf, const char *rcpt);

typedef struct {
	gboolean apply;        /* change the list and the replay state;
				  FALSE: what -t does, nothing changes */
	OpmInjector *inj;      /* where replies and notices go; NULL: none */
	const char *sender;    /* the envelope sender */
	const char *summary;   /* a file for a plain summary of the change
				  it makes or would make, or NULL */
} OpmRequestOptions;

/* Carry out the request mail msg to list at time now.  Returns the
 * verdict for the SMTP session: REJECT for a mail refused (unsigned,
 * bad signature, not a member, stale, replayed, an admin command from a
 * non-admin), TEMPFAIL for internal trouble, ACCEPT when the commands
 * were carried out or answered with a reply saying which line failed.
 * Never NULL.  (transfer full) */
OpmVerdict *opm_request_run(OpmConfig *conf, OpmList *list, OpmMessage *msg,
    const OpmRequestOptions *o, gint64 now);

#endif
