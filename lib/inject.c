/*
 * NAME
 *	inject - hand copies back to the MTA
 * SYNOPSIS
 *	opm_injector_new(), opm_injector_send(), opm_injector_sendv(),
 *	opm_injector_queue_id(), opm_injector_another(),
 *	opm_injector_open(), opm_injector_free(), opm_inject_reply_queue_id()
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
 *	opm_injector_another() makes a second injector for the same
 *	listener, so that the caller can send copies over several
 *	connections at once, one thread each; one injector is never used by
 *	two threads at a time.
 *	dir: one file per recipient, for offline inspection.
 *	A copy may come in pieces (opm_injector_sendv()), which are written
 *	out one after the other, never joined: a copy of a large post is
 *	never held twice.
 *
 *	The MTA's queue ID of a copy is known only from an SMTP reply that
 *	names it (Postfix: "250 2.0.0 Ok: queued as ID"); sendmail(1) prints
 *	none, neither Postfix's nor Sendmail's.
 * DIAGNOSTICS
 *	OPM_ERROR_INJECT with the MTA's exit status or reply; callers turn
 *	that into a temporary failure of the post.  A refusal that a retry
 *	cannot change is told apart: OPM_ERROR_TOO_BIG for a copy over the
 *	MTA's size limit (a 5xx reply to the message with 552, 5.3.4 or
 *	5.2.3; Postfix's sendmail exits 75 and says "message file too big";
 *	Sendmail's says the message exceeds the maximum size),
 *	OPM_ERROR_REFUSED for any other 5xx reply to the message or
 *	sendmail's EX_DATAERR.  sendmail's error output is read back for the
 *	error text.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define EX_DATAERR_CODE 65 /* EX_DATAERR */
#define EX_OSERR_CODE 71  /* EX_OSERR */

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
	int code;            /* of the last reply read */
	char xcode[16];      /* its enhanced status code, or "" */
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

/* A copy as pieces to write one after the other. */
typedef struct {
	const char **p;
	gsize *len;
	guint n;
} Pieces;

static void
pieces_init(Pieces *v, GBytes *const *parts, guint n)
{
	v->p = g_new0(const char *, n + 1);
	v->len = g_new0(gsize, n + 1);
	v->n = 0;
	for (guint i = 0; i < n; i++)
		if (parts[i] != NULL) {
			v->p[v->n] = g_bytes_get_data(parts[i], &v->len[v->n]);
			v->n++;
		}
}

static void
pieces_clear(Pieces *v)
{
	g_free(v->p);
	g_free(v->len);
}

/*
 * The hand-over process, forked from the (threaded) milter: it runs
 * sendmail with its error output on errfd, feeds it the message, waits,
 * and on success carries out the commit itself, so that the copy is
 * recorded even when the milter is killed meanwhile.  It inherits the
 * journal's lock, which a retry of the post waits for.
 * Async-signal-safe calls only.
 */
G_GNUC_NORETURN static void
hand_over(char **argv, const Pieces *v, int errfd, const OpmCommit *commit)
{
	int fds[2], status = 0;
	gboolean short_write = FALSE;
	pid_t pid;

	if (pipe(fds) != 0)
		_exit(EX_OSERR_CODE);
	if ((pid = fork()) < 0)
		_exit(EX_OSERR_CODE);
	if (pid == 0) {
		if (dup2(fds[0], 0) < 0 || dup2(errfd, 2) < 0)
			_exit(127);
		close(fds[0]);
		close(fds[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[0]);
	close(errfd);
	for (guint i = 0; i < v->n && !short_write; i++) {
		gsize off = 0;

		while (off < v->len[i]) {
			ssize_t n = write(fds[1], v->p[i] + off,
			    v->len[i] - off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				short_write = TRUE; /* sendmail is gone: its */
				break;              /* status tells */
			}
			off += (gsize)n;
		}
	}
	close(fds[1]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			_exit(EX_OSERR_CODE);
	if (!WIFEXITED(status))
		_exit(126);
	if (WEXITSTATUS(status) != 0 || short_write)
		_exit(WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : 125);
	if (commit != NULL && !opm_commit_run(commit))
		_exit(COMMIT_FAILED);
	_exit(0);
}

/* Read what sendmail said on fd, the first max bytes, until the
 * hand-over process pid has exited (everything sendmail wrote is in the
 * pipe by then) or every writer closed the pipe.  Waiting for the end of
 * the pipe alone could take long: a hand-over process another thread
 * forked meanwhile holds the pipe open until its own copy is queued.
 * (transfer full) */
static char *
read_errors(int fd, pid_t pid, gsize max)
{
	GString *out = g_string_new(NULL);
	char buf[1024];
	int pidfd = -1;
	gboolean exited = FALSE;

#ifdef SYS_pidfd_open
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
	for (;;) {
		struct pollfd p[2] = {{fd, POLLIN, 0}, {pidfd, POLLIN, 0}};
		ssize_t n;

		if (!exited && pidfd >= 0) {
			if (poll(p, 2, -1) < 0 && errno != EINTR)
				break;
			if (p[1].revents != 0) {
				/* gone: take what is there, then stop */
				exited = TRUE;
				(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) |
				    O_NONBLOCK);
			}
			if (!exited && p[0].revents == 0)
				continue;
		}
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out->len < max)
			g_string_append_len(out, buf,
			    (gssize)MIN((gsize)n, max - out->len));
	}
	if (pidfd >= 0)
		close(pidfd);
	return g_string_free(out, FALSE);
}

/* Whether sendmail's words say the message was over the size limit. */
static gboolean
says_too_big(const char *text)
{
	g_autofree char *t = g_ascii_strdown(text, -1);

	return strstr(t, "message file too big") != NULL || /* Postfix */
	    strstr(t, "exceeds maximum") != NULL ||          /* Sendmail */
	    strstr(t, "size exceeds") != NULL;
}

static gboolean
send_sendmail(OpmInjector *inj, const char *sender, const char *rcpt,
    GBytes *const *parts, guint nparts, const OpmCommit *commit,
    GError **error)
{
	g_autofree char *f = g_strdup(sender);
	g_autofree char *r = g_strdup(rcpt);
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autofree char *said = NULL;
	g_autofree char *why = NULL;
	int status = 0, e = 0, errpipe[2];
	Pieces v;
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
	/* close-on-exec: no program another thread starts keeps it open */
	if (pipe2(errpipe, O_CLOEXEC) != 0) {
		e = errno;
		g_set_error(error, OPM_ERROR, OPM_ERROR_INJECT, "pipe: %s",
		    g_strerror(e));
		return FALSE;
	}
	pieces_init(&v, parts, nparts);
	pid = fork();
	if (pid < 0) {
		e = errno;
		close(errpipe[0]);
		close(errpipe[1]);
		pieces_clear(&v);
		g_set_error(error, OPM_ERROR, OPM_ERROR_INJECT, "fork: %s",
		    g_strerror(e));
		return FALSE;
	}
	if (pid == 0) {
		close(errpipe[0]);
		hand_over((char **)argv->pdata, &v, errpipe[1], commit);
	}
	close(errpipe[1]);
	pieces_clear(&v);
	said = read_errors(errpipe[0], pid, 512);
	close(errpipe[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			e = errno;
			break;
		}
	if (e == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return TRUE;
	why = opm_sanitize(g_strstrip(said), 300);
	if (e == 0 && WIFEXITED(status) && WEXITSTATUS(status) == COMMIT_FAILED)
		g_set_error(error, OPM_ERROR, OPM_ERROR_IO,
		    "the copy for <%s> was queued but cannot be recorded", rcpt);
	else if (e == 0 && WIFEXITED(status))
		g_set_error(error, OPM_ERROR, says_too_big(said) ?
		    OPM_ERROR_TOO_BIG : WEXITSTATUS(status) == EX_DATAERR_CODE ?
		    OPM_ERROR_REFUSED : OPM_ERROR_INJECT,
		    "%s exited with status %d for <%s>%s%s", inj->path,
		    WEXITSTATUS(status), rcpt, *why != '\0' ? ": " : "", why);
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
		inj->code = n >= 3 ? atoi(line) : 0;
		inj->xcode[0] = '\0';
		if (n >= 4)
			(void)sscanf(line + 4, "%15[0-9.]", inj->xcode);
		g_free(inj->last_reply);
		inj->last_reply = g_strdup(line);
		if (n < 3 || inj->code != want) {
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

/* Write the pieces as the message data: CRLF line ends and
 * dot-stuffing (RFC 5321 4.5.2) over the whole, a buffer at a time, then
 * the final dot. */
#define SMTP_BUF 65536

static gboolean
smtp_data(OpmInjector *inj, const Pieces *v, GError **error)
{
	g_autoptr(GString) buf = g_string_sized_new(SMTP_BUF + 1024);
	char prev = '\n';

	for (guint k = 0; k < v->n; k++) {
		const char *p = v->p[k];
		gsize n = v->len[k], i = 0;

		while (i < n) {
			const char *nl;
			gsize j;

			if (prev == '\n' && p[i] == '.')
				g_string_append_c(buf, '.');
			nl = memchr(p + i, '\n', MIN(n - i, SMTP_BUF));
			j = nl != NULL ? (gsize)(nl - p) : i + MIN(n - i,
			    SMTP_BUF);
			g_string_append_len(buf, p + i, (gssize)(j - i));
			if (nl != NULL) {
				if ((j > i ? p[j - 1] : prev) != '\r')
					g_string_append_c(buf, '\r');
				g_string_append_c(buf, '\n');
				prev = '\n';
				i = j + 1;
			} else {
				prev = p[j - 1];
				i = j;
			}
			if (buf->len >= SMTP_BUF) {
				if (!smtp_write(inj, buf->str, buf->len, error))
					return FALSE;
				g_string_truncate(buf, 0);
			}
		}
	}
	if (prev != '\n')
		g_string_append(buf, "\r\n");
	g_string_append(buf, ".\r\n");
	return smtp_write(inj, buf->str, buf->len, error);
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
    GBytes *const *parts, guint nparts, const OpmCommit *commit,
    GError **error)
{
	g_autoptr(GError) e = NULL;
	Pieces v;
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
	pieces_init(&v, parts, nparts);
	ok = smtp_data(inj, &v, error);
	pieces_clear(&v);
	if (ok && !smtp_reply(inj, 250, "end of data", &e)) {
		/* a 5xx reply to the message itself: the same copy gets the
		 * same answer on every retry */
		if (inj->code >= 500 && inj->code < 600)
			e->code = inj->code == 552 ||
			    strcmp(inj->xcode, "5.3.4") == 0 ||
			    strcmp(inj->xcode, "5.2.3") == 0 ?
			    OPM_ERROR_TOO_BIG : OPM_ERROR_REFUSED;
		g_propagate_error(error, g_steal_pointer(&e));
		ok = FALSE;
	}
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
send_dir(OpmInjector *inj, const char *rcpt, GBytes *const *parts,
    guint nparts, const OpmCommit *commit, GError **error)
{
	g_autofree char *name = g_strdup(rcpt);
	g_autofree char *path = NULL;
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
	for (guint i = 0; fd >= 0 && e == 0 && i < nparts; i++) {
		gsize len = 0, off = 0;
		const char *p = parts[i] != NULL ?
		    g_bytes_get_data(parts[i], &len) : NULL;

		while (off < len) {
			ssize_t w = write(fd, p + off, len - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				e = errno != 0 ? errno : ENOSPC;
				break;
			}
			off += (gsize)w;
		}
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
opm_injector_sendv(OpmInjector *inj, const char *sender, const char *rcpt,
    GBytes *const *parts, guint nparts, const OpmCommit *commit,
    GError **error)
{
	g_clear_pointer(&inj->queue_id, g_free);
	switch (inj->kind) {
	case INJECT_SENDMAIL:
		return send_sendmail(inj, sender, rcpt, parts, nparts, commit,
		    error);
	case INJECT_SMTP:
		return send_smtp(inj, sender, rcpt, parts, nparts, commit,
		    error);
	case INJECT_DIR:
		return send_dir(inj, rcpt, parts, nparts, commit, error);
	}
	return FALSE;
}

gboolean
opm_injector_send(OpmInjector *inj, const char *sender, const char *rcpt,
    GBytes *message, const OpmCommit *commit, GError **error)
{
	return opm_injector_sendv(inj, sender, rcpt, &message, 1, commit,
	    error);
}

OpmInjector *
opm_injector_another(const OpmInjector *inj)
{
	OpmInjector *o;

	if (inj->kind != INJECT_SMTP)
		return NULL;
	o = g_new0(OpmInjector, 1);
	o->kind = INJECT_SMTP;
	o->host = g_strdup(inj->host);
	o->port = inj->port;
	return o;
}

gboolean
opm_injector_open(OpmInjector *inj, GError **error)
{
	return inj->kind != INJECT_SMTP || inj->conn != NULL ||
	    smtp_open(inj, error);
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
