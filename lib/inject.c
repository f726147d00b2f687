/*
 * NAME
 *	inject - hand copies back to the MTA
 * SYNOPSIS
 *	opm_injector_new(), opm_injector_send(), opm_injector_queue_id(),
 *	opm_injector_free(), opm_inject_reply_queue_id()
 * DESCRIPTION
 *	sendmail: "sendmail:PATH [ARG...]" runs PATH ARG... -i -f SENDER --
 *	RCPT (the arguments, separated by white space, select for example
 *	Sendmail's submission configuration with -C FILE).
 *	A hand-over process feeds sendmail and, once it exited 0,
 *	records the copy itself (the commit), so that killing the milter at
 *	any moment never leaves a queued copy unrecorded; it runs only
 *	async-signal-safe calls, since the milter is threaded.
 *	smtp: a small client (EHLO, MAIL, RCPT, DATA with dot-stuffing) over
 *	one connection with TCP_NODELAY, opened at the first copy; MAIL, RCPT
 *	and DATA go in one write when the server offers PIPELINING.
 *	dir: one file per recipient, for offline inspection.
 *
 *	The MTA's queue ID of a copy is known only from an SMTP reply that
 *	names it (Postfix: "250 2.0.0 Ok: queued as ID"); sendmail(1) prints
 *	none, neither Postfix's nor Sendmail's.
 * DIAGNOSTICS
 *	OPM_ERROR_INJECT with the MTA's exit status or reply; callers turn
 *	that into a temporary failure of the post.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define EX_OSERR_CODE 71 /* EX_OSERR */

#include <gio/gio.h>

#include "inject.h"

typedef enum { INJECT_SENDMAIL, INJECT_SMTP, INJECT_DIR } InjectKind;

struct OpmInjector {
	InjectKind kind;
	char *path;  /* sendmail binary or directory */
	char **args; /* sendmail: arguments before -i, NULL-terminated */
	char *host;
	guint16 port;
	GSocketConnection *conn;
	GDataInputStream *in;
	GOutputStream *out;
	gboolean pipelining; /* the server offers RFC 2920 PIPELINING */
	char *last_reply;    /* the last SMTP reply line read, owned */
	char *queue_id;      /* the MTA's ID of the last copy, owned, or NULL */
};

OpmInjector *
opm_injector_new(const char *method, GError **error)
{
	OpmInjector *inj = g_new0(OpmInjector, 1);

	if (g_str_has_prefix(method, "sendmail:/")) {
		g_auto(GStrv) words = g_strsplit_set(method +
		    strlen("sendmail:"), " \t", -1);
		GPtrArray *args = g_ptr_array_new();

		for (char **w = words + 1; *w != NULL; w++)
			if (**w != '\0')
				g_ptr_array_add(args, g_strdup(*w));
		g_ptr_array_add(args, NULL);
		inj->kind = INJECT_SENDMAIL;
		inj->path = g_strdup(words[0]);
		inj->args = (char **)g_ptr_array_free(args, FALSE);
	} else if (g_str_has_prefix(method, "dir:/")) {
		inj->kind = INJECT_DIR;
		inj->path = g_strdup(method + strlen("dir:"));
	} else if (g_str_has_prefix(method, "smtp:")) {
		const char *hp = method + strlen("smtp:");
		const char *colon = strrchr(hp, ':');
		char *end;
		guint64 port = colon != NULL ?
		    g_ascii_strtoull(colon + 1, &end, 10) : 0;

		if (colon == NULL || colon == hp || *end != '\0' || port == 0 ||
		    port > 65535) {
			g_set_error(error, OPM_ERROR, OPM_ERROR_CONFIG,
			    "InjectMethod %s: want smtp:HOST:PORT", method);
			g_free(inj);
			return NULL;
		}
		inj->kind = INJECT_SMTP;
		inj->host = g_strndup(hp, (gsize)(colon - hp));
		inj->port = (guint16)port;
	} else {
		g_set_error(error, OPM_ERROR, OPM_ERROR_CONFIG,
		    "InjectMethod %s: unknown method", method);
		g_free(inj);
		return NULL;
	}
	return inj;
}

/* Exit status of the hand-over process when the copy was queued but the
 * commit failed. */
#define COMMIT_FAILED 124

/*
 * The hand-over process, forked from the (threaded) milter: it runs
 * sendmail, feeds it the message, waits, and on success carries out the
 * commit itself, so that the copy is recorded even when the milter is
 * killed meanwhile.  It inherits the journal's lock, which a retry of the
 * post waits for.  Async-signal-safe calls only.
 */
G_GNUC_NORETURN static void
hand_over(char **argv, const char *p, gsize len, const OpmCommit *commit)
{
	int fds[2], status = 0;
	gsize off = 0;
	pid_t pid;

	if (pipe(fds) != 0)
		_exit(EX_OSERR_CODE);
	if ((pid = fork()) < 0)
		_exit(EX_OSERR_CODE);
	if (pid == 0) {
		if (dup2(fds[0], 0) < 0)
			_exit(127);
		close(fds[0]);
		close(fds[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[0]);
	while (off < len) {
		ssize_t n = write(fds[1], p + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* sendmail is gone: its status tells */
		off += (gsize)n;
	}
	close(fds[1]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			_exit(EX_OSERR_CODE);
	if (!WIFEXITED(status))
		_exit(126);
	if (WEXITSTATUS(status) != 0 || off < len)
		_exit(WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : 125);
	if (commit != NULL && !opm_commit_run(commit))
		_exit(COMMIT_FAILED);
	_exit(0);
}

static gboolean
send_sendmail(OpmInjector *inj, const char *sender, const char *rcpt,
    GBytes *message, const OpmCommit *commit, GError **error)
{
	g_autofree char *f = g_strdup(sender);
	g_autofree char *r = g_strdup(rcpt);
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	int status = 0, e = 0;
	gsize len;
	const char *p = g_bytes_get_data(message, &len);
	pid_t pid;

	/* built before the fork: the hand-over process only calls execv */
	g_ptr_array_add(argv, inj->path);
	for (char **a = inj->args; *a != NULL; a++)
		g_ptr_array_add(argv, *a);
	g_ptr_array_add(argv, "-i");
	g_ptr_array_add(argv, "-f");
	g_ptr_array_add(argv, f);
	g_ptr_array_add(argv, "--");
	g_ptr_array_add(argv, r);
	g_ptr_array_add(argv, NULL);

	pid = fork();
	if (pid < 0) {
		e = errno;
		g_set_error(error, OPM_ERROR, OPM_ERROR_INJECT, "fork: %s",
		    g_strerror(e));
		return FALSE;
	}
	if (pid == 0)
		hand_over((char **)argv->pdata, p, len, commit);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			e = errno;
			break;
		}
	if (e == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return TRUE;
	if (e == 0 && WIFEXITED(status) && WEXITSTATUS(status) == COMMIT_FAILED)
		g_set_error(error, OPM_ERROR, OPM_ERROR_IO,
		    "the copy for <%s> was queued but cannot be recorded", rcpt);
	else if (e == 0 && WIFEXITED(status))
		g_set_error(error, OPM_ERROR, OPM_ERROR_INJECT,
		    "%s exited with status %d for <%s>", inj->path,
		    WEXITSTATUS(status), rcpt);
	else
		g_set_error(error, OPM_ERROR, OPM_ERROR_INJECT,
		    "%s failed for <%s>: %s", inj->path, rcpt,
		    e != 0 ? g_strerror(e) : "killed by a signal");
	return FALSE;
}

/* Read one SMTP reply (all its lines); TRUE when its code is want.
 * An EHLO reply offering PIPELINING sets inj->pipelining. */
static gboolean
smtp_reply(OpmInjector *inj, int want, const char *what, GError **error)
{
	for (;;) {
		g_autoptr(GError) e = NULL;
		gsize n;
		g_autofree char *line = g_data_input_stream_read_line(inj->in, &n,
		    NULL, &e);

		if (line == NULL) {
			g_set_error(error, OPM_ERROR, OPM_ERROR_INJECT,
			    "%s:%u: %s: %s", inj->host, inj->port, what,
			    e != NULL ? e->message : "connection closed");
			return FALSE;
		}
		g_strchomp(line);
		if (n >= 4 && g_ascii_strncasecmp(line + 4, "PIPELINING", 10) == 0)
			inj->pipelining = TRUE;
		if (n >= 4 && line[3] == '-')
			continue;
		g_free(inj->last_reply);
		inj->last_reply = g_strdup(line);
		if (n < 3 || atoi(line) != want) {
			g_autofree char *s = opm_sanitize(line, 200);

			g_set_error(error, OPM_ERROR, OPM_ERROR_INJECT,
			    "%s:%u: %s: %s", inj->host, inj->port, what, s);
			return FALSE;
		}
		return TRUE;
	}
}

static gboolean
smtp_write(OpmInjector *inj, const char *p, gsize n, GError **error)
{
	g_autoptr(GError) e = NULL;

	if (!g_output_stream_write_all(inj->out, p, n, NULL, NULL, &e)) {
		g_set_error(error, OPM_ERROR, OPM_ERROR_INJECT, "%s:%u: %s",
		    inj->host, inj->port, e->message);
		return FALSE;
	}
	return TRUE;
}

static gboolean
smtp_command(OpmInjector *inj, int want, GError **error,
    const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static gboolean
smtp_command(OpmInjector *inj, int want, GError **error, const char *fmt, ...)
{
	g_autofree char *cmd = NULL;
	va_list ap;

	g_autofree char *what = NULL;

	va_start(ap, fmt);
	cmd = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	what = g_strchomp(g_strdup(cmd)); /* no CRLF in error texts */
	return smtp_write(inj, cmd, strlen(cmd), error) &&
	    smtp_reply(inj, want, what, error);
}

static void
smtp_close(OpmInjector *inj)
{
	g_clear_object(&inj->in);
	inj->out = NULL;
	if (inj->conn != NULL)
		(void)g_io_stream_close(G_IO_STREAM(inj->conn), NULL, NULL);
	g_clear_object(&inj->conn);
}

static gboolean
smtp_open(OpmInjector *inj, GError **error)
{
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autoptr(GError) e = NULL;
	GSocket *sock;

	g_socket_client_set_timeout(client, 120);
	inj->conn = g_socket_client_connect_to_host(client, inj->host,
	    inj->port, NULL, &e);
	if (inj->conn == NULL) {
		g_set_error(error, OPM_ERROR, OPM_ERROR_INJECT, "%s:%u: %s",
		    inj->host, inj->port, e->message);
		return FALSE;
	}
	sock = g_socket_connection_get_socket(inj->conn);
	(void)g_socket_set_option(sock, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
	inj->in = g_data_input_stream_new(
	    g_io_stream_get_input_stream(G_IO_STREAM(inj->conn)));
	g_data_input_stream_set_newline_type(inj->in,
	    G_DATA_STREAM_NEWLINE_TYPE_ANY);
	inj->out = g_io_stream_get_output_stream(G_IO_STREAM(inj->conn));
	if (!smtp_reply(inj, 220, "greeting", error) ||
	    !smtp_command(inj, 250, error, "EHLO %s\r\n", g_get_host_name())) {
		smtp_close(inj);
		return FALSE;
	}
	return TRUE;
}

char *
opm_inject_reply_queue_id(const char *line)
{
	static const char id_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-._";
	const char *p = NULL, *q, *end = NULL;
	gsize n;

	if ((q = strstr(line, "queued as ")) != NULL) {
		p = q + strlen("queued as ");
	} else if ((q = strstr(line, " id=")) != NULL) {
		p = q + strlen(" id=");
	} else if ((end = strstr(line, " Message accepted")) != NULL) {
		/* the word before it */
		for (p = end; p > line && p[-1] != ' '; p--)
			;
	}
	if (p == NULL)
		return NULL;
	n = strspn(p, id_chars);
	if (n == 0 || n > 64 || (end != NULL && p + n != end))
		return NULL;
	/* the word before "Message accepted" may be the reply code or the
	 * enhanced status code, which is no ID */
	if (end != NULL && strspn(p, "0123456789.") >= n)
		return NULL;
	return g_strndup(p, n);
}

static gboolean
send_smtp(OpmInjector *inj, const char *sender, const char *rcpt,
    GBytes *message, const OpmCommit *commit, GError **error)
{
	gsize len;
	const char *p = g_bytes_get_data(message, &len);
	GString *data;
	gboolean ok;

	if (inj->conn == NULL && !smtp_open(inj, error))
		return FALSE;
	if (inj->pipelining) {
		/* one write, three replies (RFC 2920) */
		g_autofree char *cmds = g_strdup_printf("MAIL FROM:<%s>\r\n"
		    "RCPT TO:<%s>\r\nDATA\r\n", sender, rcpt);

		ok = smtp_write(inj, cmds, strlen(cmds), error) &&
		    smtp_reply(inj, 250, "MAIL FROM", error) &&
		    smtp_reply(inj, 250, "RCPT TO", error) &&
		    smtp_reply(inj, 354, "DATA", error);
	} else {
		ok = smtp_command(inj, 250, error, "MAIL FROM:<%s>\r\n",
		    sender) &&
		    smtp_command(inj, 250, error, "RCPT TO:<%s>\r\n", rcpt) &&
		    smtp_command(inj, 354, error, "DATA\r\n");
	}
	if (!ok) {
		smtp_close(inj);
		return FALSE;
	}
	/* CRLF line endings and dot-stuffing (RFC 5321 4.5.2) */
	data = g_string_sized_new(len + len / 40 + 8);
	for (gsize i = 0; i < len; i++) {
		if ((i == 0 || p[i - 1] == '\n') && p[i] == '.')
			g_string_append_c(data, '.');
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			g_string_append_c(data, '\r');
		g_string_append_c(data, p[i]);
	}
	if (len > 0 && p[len - 1] != '\n')
		g_string_append(data, "\r\n");
	g_string_append(data, ".\r\n");
	ok = smtp_write(inj, data->str, data->len, error) &&
	    smtp_reply(inj, 250, "end of data", error);
	g_string_free(data, TRUE);
	if (!ok) {
		smtp_close(inj);
		return FALSE;
	}
	inj->queue_id = inj->last_reply != NULL ?
	    opm_inject_reply_queue_id(inj->last_reply) : NULL;
	/* at once: the MTA has the copy */
	if (commit != NULL && !opm_commit_run(commit)) {
		g_set_error(error, OPM_ERROR, OPM_ERROR_IO,
		    "the copy for <%s> was queued but cannot be recorded", rcpt);
		return FALSE;
	}
	return TRUE;
}

static gboolean
send_dir(OpmInjector *inj, const char *rcpt, GBytes *message,
    const OpmCommit *commit, GError **error)
{
	g_autofree char *name = g_strdup(rcpt);
	g_autofree char *path = NULL;
	gsize len, off = 0;
	const char *p = g_bytes_get_data(message, &len);
	int fd = -1, e = 0;

	g_strdelimit(name, "/", '_');
	if (g_mkdir_with_parents(inj->path, 0700) != 0) {
		e = errno;
		g_set_error(error, OPM_ERROR, OPM_ERROR_INJECT, "%s: %s",
		    inj->path, g_strerror(e));
		return FALSE;
	}
	/* one file per message: a second one for the same recipient (an
	 * admin who is also a member, another post) gets ADDRESS.2, ... */
	for (int n = 1; fd < 0; n++) {
		g_free(path);
		path = n == 1 ? g_build_filename(inj->path, name, NULL) :
		    g_strdup_printf("%s/%s.%d", inj->path, name, n);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST) {
			e = errno;
			break;
		}
	}
	while (fd >= 0 && off < len) {
		ssize_t w = write(fd, p + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			e = errno != 0 ? errno : ENOSPC;
			break;
		}
		off += (gsize)w;
	}
	if (fd >= 0 && close(fd) != 0 && e == 0)
		e = errno;
	if (e != 0) {
		g_set_error(error, OPM_ERROR, OPM_ERROR_INJECT, "%s: %s", path,
		    g_strerror(e));
		return FALSE;
	}
	if (commit != NULL && !opm_commit_run(commit)) {
		g_set_error(error, OPM_ERROR, OPM_ERROR_IO,
		    "the copy for <%s> was written but cannot be recorded", rcpt);
		return FALSE;
	}
	return TRUE;
}

gboolean
opm_injector_send(OpmInjector *inj, const char *sender, const char *rcpt,
    GBytes *message, const OpmCommit *commit, GError **error)
{
	g_clear_pointer(&inj->queue_id, g_free);
	switch (inj->kind) {
	case INJECT_SENDMAIL:
		return send_sendmail(inj, sender, rcpt, message, commit, error);
	case INJECT_SMTP:
		return send_smtp(inj, sender, rcpt, message, commit, error);
	case INJECT_DIR:
		return send_dir(inj, rcpt, message, commit, error);
	}
	return FALSE;
}

const char *
opm_injector_queue_id(const OpmInjector *inj)
{
	return inj->queue_id;
}

void
opm_injector_free(OpmInjector *inj)
{
	if (inj == NULL)
		return;
	if (inj->conn != NULL) {
		GError *e = NULL;

		if (smtp_write(inj, "QUIT\r\n", 6, &e))
			(void)smtp_reply(inj, 221, "QUIT", NULL);
		g_clear_error(&e);
		smtp_close(inj);
	}
	g_free(inj->path);
	g_strfreev(inj->args);
	g_free(inj->host);
	g_free(inj->last_reply);
	g_free(inj->queue_id);
	g_free(inj);
}
