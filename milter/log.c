/*
 * NAME
 *	log - route lib/'s g_log messages to syslog
 * SYNOPSIS
 *	opmf_log_init(), opmf_log_configure(), opmf_log_summary()
 * DESCRIPTION
 *	lib/ logs with g_log(); this module sends those messages to syslog
 *	at the matching priority, filtered by LogLevel, and in the foreground
 *	to standard error as well.  opmf_log_summary() writes the one line per
 *	examined message, prefixed by the MTA's queue ID.  Bodies, decrypted
 *	content and key material are never logged.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "opmf.h"

static int log_threshold = LOG_INFO;
static gboolean log_stderr;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static int
priority(GLogLevelFlags level)
{
	switch (level & G_LOG_LEVEL_MASK) {
	case G_LOG_LEVEL_ERROR:
	case G_LOG_LEVEL_CRITICAL:
		return LOG_ERR;
	case G_LOG_LEVEL_WARNING:
		return LOG_WARNING;
	case G_LOG_LEVEL_MESSAGE:
		return LOG_NOTICE;
	case G_LOG_LEVEL_INFO:
		return LOG_INFO;
	default:
		return LOG_DEBUG;
	}
}

static void
handler(const char *domain, GLogLevelFlags level, const char *message,
    gpointer data)
{
	int pri = priority(level);

	if (pri > log_threshold)
		return;
	syslog(pri, "%s", message);
	if (log_stderr) {
		pthread_mutex_lock(&log_lock);
		fprintf(stderr, "openpgp-milter: %s\n", message);
		fflush(stderr);
		pthread_mutex_unlock(&log_lock);
	}
}

void
opmf_log_init(const char *ident, gboolean to_stderr)
{
	log_stderr = to_stderr;
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	g_log_set_default_handler(handler, NULL);
}

void
opmf_log_configure(const OpmConfig *conf)
{
	static const struct {
		const char *name;
		int value;
	} facilities[] = {
		{"mail", LOG_MAIL}, {"daemon", LOG_DAEMON},
		{"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1},
		{"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3},
		{"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
		{"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
	}, levels[] = {
		{"error", LOG_ERR}, {"warning", LOG_WARNING},
		{"notice", LOG_NOTICE}, {"info", LOG_INFO},
		{"debug", LOG_DEBUG},
	};

	for (gsize i = 0; i < G_N_ELEMENTS(facilities); i++)
		if (strcmp(conf->syslog_facility, facilities[i].name) == 0) {
			closelog();
			openlog("openpgp-milter", LOG_PID | LOG_NDELAY,
			    facilities[i].value);
		}
	for (gsize i = 0; i < G_N_ELEMENTS(levels); i++)
		if (strcmp(conf->log_level, levels[i].name) == 0)
			log_threshold = levels[i].value;
}

void
opmf_log_summary(const char *qid, const char *sender, const OpmVerdict *v,
    gint64 elapsed_ms)
{
	static const char *actions[] = {"accept", "reject", "tempfail"};
	g_autofree char *s = opm_sanitize(sender, 254);
	g_autofree char *q = opm_sanitize(qid, 32);

	g_info("%s: list=%s sender=<%s> from=<%s> signer=%s verdict=%s "
	    "reason=\"%s\" reply=\"%s %s\" copies=%u withheld=%u elapsed=%"
	    G_GINT64_FORMAT "ms",
	    q, v->list, s, v->from != NULL ? v->from : "",
	    v->signer != NULL ? v->signer : "-", actions[v->action], v->reason,
	    v->rcode, v->xcode, v->copies, v->withheld, elapsed_ms);
}

void
opmf_log_queued(const char *qid, const char *list, const OpmQueued *q)
{
	g_autofree char *p = opm_sanitize(qid, 32);

	g_info("%s: list=%s %s to=<%s> queued_as=%s message-id=%s", p, list,
	    q->what, q->rcpt, q->queue_id != NULL ? q->queue_id : "-",
	    q->message_id);
}
