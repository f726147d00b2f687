/*
 * NAME
 *	opmf.h - the openpgp-milter daemon: shared declarations
 * DESCRIPTION
 *	milter/ is glue: options, sockets, privileges, signals, and thin
 *	libmilter callbacks over lib/.  Every smfi_* call goes through the
 *	opmf_smfi table so that -t can drive the very same callbacks without
 *	an MTA.
 */
#ifndef OPMF_H
#define OPMF_H

#include <pwd.h>

#include <libmilter/mfapi.h>

#include "conf.h"
#include "fanout.h"
#include "gate.h"

/* The seam around libmilter.  In the daemon these are the smfi_*
 * functions; in -t mode they act on an OpmfTestCtx. */
typedef struct {
	char *(*getsymval)(SMFICTX *ctx, char *name);
	int (*setpriv)(SMFICTX *ctx, void *priv);
	void *(*getpriv)(SMFICTX *ctx);
	/* lines: NULL-terminated, at most 32 */
	int (*setreply)(SMFICTX *ctx, const char *rcode, const char *xcode,
	    char **lines);
	int (*delrcpt)(SMFICTX *ctx, char *rcpt);
	/* "still working" during end of message; may be NULL (-t) */
	int (*progress)(SMFICTX *ctx);
} OpmfSmfi;

extern const OpmfSmfi *opmf_smfi;
extern const OpmfSmfi opmf_smfi_real;

/* callbacks.c */
extern struct smfiDesc opmf_desc;
sfsistat opmf_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr);
sfsistat opmf_envfrom(SMFICTX *ctx, char **argv);
sfsistat opmf_envrcpt(SMFICTX *ctx, char **argv);
sfsistat opmf_header(SMFICTX *ctx, char *name, char *value);
sfsistat opmf_eoh(SMFICTX *ctx);
sfsistat opmf_body(SMFICTX *ctx, unsigned char *chunk, size_t len);
sfsistat opmf_eom(SMFICTX *ctx);
sfsistat opmf_abort(SMFICTX *ctx);
sfsistat opmf_close(SMFICTX *ctx);

/* The configuration in force: a new reference, opm_conf_unref() it. */
OpmConfig *opmf_conf_get(void);
/* Install conf (takes over the caller's reference). */
void opmf_conf_set(OpmConfig *conf);
/* Load path and every list's keys.  (transfer full) or NULL. */
OpmConfig *opmf_conf_load(const char *path, GError **error);

/* Have malloc hand large blocks back to the system when they are freed,
 * so that a large post leaves no grown heap behind.  In main(), before
 * any thread starts. */
void opmf_memory_init(void);

/* reply.c: the one place a verdict becomes an SMTP reply. */
/* keep_original: the transaction has other recipients, so an accepted
 * post continues to them instead of being discarded. */
sfsistat opmf_reply(SMFICTX *ctx, const OpmVerdict *v,
    gboolean keep_original);

/* How copies are injected: method NULL means InjectMethod; dry_run builds
 * and sends nothing (-t); write_state FALSE keeps the journal as is. */
void opmf_set_injection(const char *method, gboolean dry_run,
    gboolean write_state);

/* log.c */
/* to_stderr: a plain copy of every line on stderr; interactive (-n, -t):
 * never write to the LogFile. */
void opmf_log_init(const char *ident, gboolean to_stderr,
    gboolean interactive);
/* LogLevel, SyslogFacility and, the first time only, LogFile; FALSE with
 * error when the LogFile cannot be opened. */
gboolean opmf_log_configure(const OpmConfig *conf, GError **error);
/* Give a LogFile the daemon created to the user it becomes. */
void opmf_log_chown(uid_t uid, gid_t gid);
/* Open the LogFile again, after a rotation. */
void opmf_log_reopen(void);
void opmf_log_summary(const char *qid, const char *sender,
    const OpmVerdict *v, gint64 elapsed_ms);
/* One line per message queued for the post qid: what, to whom, its
 * Message-ID and the MTA's queue ID. */
void opmf_log_queued(const char *qid, const char *list, const OpmQueued *q);

/* testmode.c: -t, and the same seam for the benchmark */
typedef struct {
	sfsistat rc;
	char *rcode, *xcode; /* as set with setreply, or NULL */
	char *text;          /* reply lines joined with spaces */
	guint deleted;       /* recipients removed */
	char **removed;      /* those recipients as the MTA gave them,
				NULL-terminated; freed by
				opmf_test_result_clear() */
} OpmfTestResult;

/* Point the seam at the test MTA; inject_method NULL: a dry run. */
void opmf_test_init(const char *inject_method, gboolean write_state);
/* Feed one message through the callbacks.  Thread-safe once
 * opmf_test_init() was called.  Free res with opmf_test_result_clear(). */
sfsistat opmf_test_message(GBytes *raw, char **rcpts, OpmfTestResult *res);
void opmf_test_result_clear(OpmfTestResult *res);
int opmf_test_run(const char *file, char **rcpts, const char *outdir);

/* priv.c: the passwd entry of user[:group] and the group's ID in *gid;
 * NULL (logged) if either is unknown.  (transfer none): getpwnam()'s. */
struct passwd *opmf_lookup_user(const char *spec, gid_t *gid);
/* Become user[:group] (as UserID); EX_OK or a sysexits code. */
int opmf_drop_privileges(const char *spec);

/* expiry.c: the daily key expiry check, in a thread of the worker */
void opmf_expiry_start(void);

/* check: -n */
int opmf_check_run(const char *conf_path);

/* The value of the Postfix parameter name, as "postconf -h name" prints
 * it (MAIL_CONFIG in the environment picks the instance), without the
 * final newline; NULL when Postfix is not installed or postconf fails.
 * (transfer full): g_free(). */
char *opmf_postconf_get(const char *name);

#endif
