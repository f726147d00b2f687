/*
 * NAME
 *	opm.h - common definitions of the openpgp-milter library
 * DESCRIPTION
 *	The error domain shared by every lib/ module, the error codes that
 *	say which kind of trouble happened, and the cleanup declarations
 *	for the GMime and gpgme types the library holds with g_autoptr().
 *
 *	lib/ never includes <libmilter/mfapi.h>, never calls syslog(),
 *	getenv() or exit(), and logs through g_log() only.
 */
#ifndef OPM_H
#define OPM_H

#include <glib.h>
#include <gmime/gmime.h>
#include <gpgme.h>

#define OPM_LOG_DOMAIN "openpgp-milter"

#define OPM_ERROR (opm_error_quark())
GQuark opm_error_quark(void);

/* Kinds of error a lib/ function reports through GError. */
typedef enum {
	OPM_ERROR_CONFIG,   /* a configuration or members file is wrong */
	OPM_ERROR_IO,       /* a file or directory could not be used */
	OPM_ERROR_CRYPTO,   /* gpgme or gpg failed (not a bad signature) */
	OPM_ERROR_INTERNAL, /* anything else that is our fault */
	OPM_ERROR_KEY,      /* a recipient's key cannot be used */
	OPM_ERROR_INJECT,   /* the MTA did not take a copy */
	OPM_ERROR_REPLAY,   /* the post was fanned out already */
	OPM_ERROR_TOO_BIG,  /* the MTA refused a copy for good: too large */
	OPM_ERROR_REFUSED,  /* the MTA refused a copy's content for good */
	OPM_ERROR_LIST_KEY, /* the list's own key cannot be used now (needs
			       a passphrase, secret part missing or
			       unreadable, gpg-agent cannot start) */
} OpmErrorCode;

G_DEFINE_AUTO_CLEANUP_FREE_FUNC(gpgme_ctx_t, gpgme_release, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(gpgme_data_t, gpgme_data_release, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(gpgme_key_t, gpgme_key_unref, NULL)

/* What makes a queued copy count as sent: the byte at offset in the
 * journal's copies file fd becomes "d" (the file is synced later with the
 * post's state).  Carried out by whichever process learns first that the
 * MTA took the copy, so that a worker killed meanwhile cannot leave a
 * sent copy unrecorded. */
typedef struct {
	int fd;        /* not owned; -1: nothing to do */
	gint64 offset;
} OpmCommit;

/* Carry it out: only async-signal-safe calls, so a child forked by a
 * threaded process may run it.  TRUE on success. */
gboolean opm_commit_run(const OpmCommit *c);
void opm_commit_clear(OpmCommit *c); /* forgets it */

/* Set *error (when error is not NULL) to an OPM_ERROR_CONFIG error with
 * the printf-style message: a request the caller refuses.  Returns FALSE,
 * so that "return opm_refuse(error, ...);" reads as it means. */
gboolean opm_refuse(GError **error, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

/* Make dir and its missing parents with mode.  FALSE with an
 * OPM_ERROR_IO error "DIR: why" when it cannot. */
gboolean opm_mkdir(const char *dir, int mode, GError **error);

/* Return a copy of s fit to stand in a log line or an SMTP reply: printable
 * ASCII only, everything else replaced by '?', at most max bytes.
 * (transfer full): caller frees with g_free(). */
char *opm_sanitize(const char *s, gsize max);

/* Lower-case copy of the domain part, local part kept as is.
 * (transfer full) */
char *opm_address_normalize(const char *addr);

/* Strip <> and surrounding white space from an envelope address.
 * (transfer full) */
char *opm_envelope_address(const char *arg);

/* How an envelope address relates to an address the filter owns. */
typedef enum {
	OPM_ADDR_NONE,      /* another mailbox */
	OPM_ADDR_EXTENSION, /* the owned one with an address extension */
	OPM_ADDR_SAME,      /* the owned one, however spelt */
} OpmAddrMatch;

/* The envelope address addr (with or without <>, a source route,
 * quotes, comments) in the internal form the MTA resolves:
 * "local@domain" with the local part unquoted and the domain in lower
 * case without a trailing dot, or "local" when it has no domain; NULL
 * when addr is not an address.  For logs and tests; compare addresses
 * with opm_address_match().  (transfer full) */
char *opm_address_canon(const char *addr);

/* Does the envelope address rcpt reach owned ("local@domain" as
 * configured) the way an MTA with the recipient delimiter characters
 * delimiters (NULL or "": none) resolves it?  See util.c for the rule.
 * Compare one recipient with several owned addresses in two rounds, all
 * for OPM_ADDR_SAME first, then for OPM_ADDR_EXTENSION, as Postfix
 * looks up the full address before the one without extension:
 * opm_conf_resolve() does that for the addresses of every list. */
OpmAddrMatch opm_address_match(const char *rcpt, const char *owned,
    const char *delimiters);

#endif
