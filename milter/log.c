/*
 * NAME
 *	log - route lib/'s g_log messages to syslog, a file or stderr
 * SYNOPSIS
 *	opmf_log_init(), opmf_log_configure(), opmf_log_chown(),
 *	opmf_log_reopen(), opmf_log_summary(), opmf_log_queued()
 * DESCRIPTION
 *	lib/ logs with g_log(); this module sends those messages, filtered
 *	by LogLevel, to syslog at the matching priority, or, with LogFile,
 *	to a file or to standard error as lines in the form syslog daemons
 *	write ("Dec  6 23:59:01 host openpgp-milter[PID]: text"), for hosts
 *	without a syslog daemon.  In the foreground (-f, -n, -t) the plain
 *	text goes to standard error as well.  The file is opened in append
 *	mode, one write(2) per line, so that the supervisor's and the
 *	worker's lines never mix; opmf_log_reopen() opens it again after a
 *	log rotation (SIGHUP).  opmf_log_summary() writes the one line per
 *	examined message, prefixed by the MTA's queue ID.  Bodies, decrypted
 *	content and key material are never logged.
 * DIAGNOSTICS
 *	opmf_log_configure() fails when the LogFile cannot be opened; a
 *	failed reopen keeps the old file and logs a warning there.  The
 *	destination is chosen once, at start-up: a changed LogFile takes
 *	effect when the daemon is restarted.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "opmf.h"

static int log_threshold = LOG_INFO;
static gboolean log_stderr;      /* -f, -n, -t: plain copy on stderr */
static gboolean log_interactive; /* -n, -t: never the LogFile */
static char *log_path;           /* LogFile, or NULL: syslog */
static int log_fd = -1;          /* LogFile's descriptor, 2 for stderr */
static gboolean log_created;     /* the daemon created the file */
static gboolean log_placed;      /* the destination is chosen: a reload
				    reopens the file, never moves it */
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

/* "Dec  6 23:59:01 host openpgp-milter[PID]: message\n", in the C
 * locale whatever LC_TIME says.  (transfer full) */
static char *
syslog_line(const char *message)
{
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	char host[256] = "localhost";
	time_t now = time(NULL);
	struct tm tm;
	char *dot;

	(void)gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	if ((dot = strchr(host, '.')) != NULL)
		*dot = '\0';
	localtime_r(&now, &tm);
	return g_strdup_printf("%s %2d %02d:%02d:%02d %s openpgp-milter[%ld]: "
	    "%s\n", months[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, host, (long)getpid(), message);
}

static void
write_all(int fd, const char *p, gsize n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* nowhere left to complain */
		p += w;
		n -= (gsize)w;
	}
}

static void
handler(const char *domain, GLogLevelFlags level, const char *message,
    gpointer data)
{
	int pri = priority(level);

	if (pri > log_threshold)
		return;
	pthread_mutex_lock(&log_lock);
	if (log_fd >= 0) {
		g_autofree char *line = syslog_line(message);

		write_all(log_fd, line, strlen(line));
	} else {
		syslog(pri, "%s", message);
	}
	if (log_stderr && log_fd != STDERR_FILENO) {
		fprintf(stderr, "openpgp-milter: %s\n", message);
		fflush(stderr);
	}
	pthread_mutex_unlock(&log_lock);
}

void
opmf_log_init(const char *ident, gboolean to_stderr, gboolean interactive)
{
	log_stderr = to_stderr;
	log_interactive = interactive;
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	g_log_set_default_handler(handler, NULL);
}

/* Open path for appending.  -1 with errno set on failure. */
static int
open_log(const char *path, gboolean *created)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL |
	    O_CLOEXEC | O_NOCTTY, 0640);

	*created = fd >= 0;
	if (fd < 0 && errno == EEXIST)
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
	return fd;
}

gboolean
opmf_log_configure(const OpmConfig *conf, GError **error)
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
	const char *want = log_interactive ? NULL : conf->log_file;

	if (!log_placed) {
		int fd = -1, old;
		gboolean created = FALSE;

		if (want != NULL && strcmp(want, "stderr") == 0) {
			fd = STDERR_FILENO;
		} else if (want != NULL && (fd = open_log(want, &created)) < 0) {
			int e = errno;

			g_set_error(error, OPM_ERROR, OPM_ERROR_IO,
			    "LogFile %s: %s", want, g_strerror(e));
			return FALSE;
		}
		pthread_mutex_lock(&log_lock);
		old = log_fd;
		log_fd = fd;
		log_created = created;
		g_free(log_path);
		log_path = g_strdup(want);
		log_placed = TRUE;
		pthread_mutex_unlock(&log_lock);
		if (old > STDERR_FILENO)
			close(old);
	}
	for (gsize i = 0; i < G_N_ELEMENTS(facilities); i++)
		if (strcmp(conf->syslog_facility, facilities[i].name) == 0) {
			closelog();
			openlog("openpgp-milter", LOG_PID | LOG_NDELAY,
			    facilities[i].value);
		}
	for (gsize i = 0; i < G_N_ELEMENTS(levels); i++)
		if (strcmp(conf->log_level, levels[i].name) == 0)
			log_threshold = levels[i].value;
	return TRUE;
}

void
opmf_log_chown(uid_t uid, gid_t gid)
{
	pthread_mutex_lock(&log_lock);
	if (log_created && log_fd > STDERR_FILENO && fchown(log_fd, uid, gid) != 0)
		fprintf(stderr, "openpgp-milter: LogFile %s: chown: %s\n",
		    log_path, g_strerror(errno));
	pthread_mutex_unlock(&log_lock);
}

void
opmf_log_reopen(void)
{
	gboolean created;
	int fd, e = 0;

	pthread_mutex_lock(&log_lock);
	if (log_path == NULL || log_fd <= STDERR_FILENO) {
		pthread_mutex_unlock(&log_lock);
		return;
	}
	fd = open_log(log_path, &created);
	if (fd < 0)
		e = errno;
	else if (dup2(fd, log_fd) < 0)
		e = errno;
	if (fd >= 0)
		close(fd);
	pthread_mutex_unlock(&log_lock);
	if (e != 0)
		g_warning("LogFile %s: cannot open it again, writing on to the "
		    "old file: %s", log_path, g_strerror(e));
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
