/*
 * NAME
 *	openpgp-milter - OpenPGP mailing-list gate, as a milter
 * SYNOPSIS
 *	openpgp-milter [-c conf] [-p socket] [-u user[:group]] [-P pidfile]
 *		[-f] [-n] [-t file [-r rcpt]... [-o dir]] [-V] [-h]
 * DESCRIPTION
 *	main() does the process-wide set-up (locale, gpgme, GMime) before any
 *	thread starts, loads and checks the configuration, and then either
 *	runs a one-off mode (-n, -t) or becomes the daemon.
 *
 *	The daemon is a small supervisor and one worker.  libmilter's own
 *	signal thread takes SIGHUP, SIGTERM and SIGINT to mean "stop", so the
 *	supervisor, which holds the PID file, owns those signals: SIGHUP is
 *	passed to the worker as SIGUSR1, which the worker's reload thread
 *	turns into a configuration reload while connections carry on;
 *	SIGTERM and SIGINT stop the worker and then the supervisor.  A worker
 *	that dies unexpectedly is logged and started again.
 * DIAGNOSTICS
 *	Exit status from <sysexits.h>: EX_USAGE, EX_CONFIG, EX_OSERR, ...
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "audit.h"
#include "fanout.h"
#include "inject.h"
#include "keys.h"
#include "opmf.h"

#define DEFAULT_CONF SYSCONFDIR "/openpgp-milter/openpgp-milter.conf"

static char *conf_path = DEFAULT_CONF;

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: openpgp-milter [-c conf] [-p socket] [-u user[:group]] "
	    "[-P pidfile] [-f]\n"
	    "       openpgp-milter [-c conf] -n\n"
	    "       openpgp-milter [-c conf] -t file [-r rcpt]... [-o dir]\n"
	    "       openpgp-milter -V\n"
	    "  -c conf    configuration file (default %s)\n"
	    "  -p socket  milter socket, local:PATH or inet:PORT@HOST\n"
	    "  -u user    run as user[:group] after start-up\n"
	    "  -P file    write the process ID to file\n"
	    "  -f         stay in the foreground, log to standard error too\n"
	    "  -n         check the configuration and every member key\n"
	    "  -t file    run one message through the filter and print the "
	    "verdict\n"
	    "  -r rcpt    envelope recipient for -t (repeatable)\n"
	    "  -o dir     with -t: write the copies it would send into dir\n"
	    "  -V         print the version\n", DEFAULT_CONF);
}

/* -n: every copy of the largest post must fit Postfix's
 * message_size_limit, or the MTA refuses them all (a permanent failure
 * of the post).  An error when even copies of a post that does not
 * carry the largest header fields cannot fit, a warning when only the
 * worst case cannot. */
static void
check_size_limit(const char *path, OpmConfig *conf, guint *errors,
    guint *warnings)
{
	g_autofree char *v = opmf_postconf_get("message_size_limit");
	gint64 limit, bound = opm_fanout_copy_bound(conf), fits;
	char *end = NULL;

	if (v == NULL)
		return; /* no Postfix here: nothing to hold it against */
	limit = g_ascii_strtoll(v, &end, 10);
	if (end == v || *end != '\0' || limit < 0) {
		printf("%s: warning: Postfix's message_size_limit \"%s\" is not "
		    "a number\n", path, v);
		(*warnings)++;
		return;
	}
	if (limit == 0 || bound <= limit) {
		printf("%s: MaxMessageSize %" G_GINT64_FORMAT ": copies of at "
		    "most %" G_GINT64_FORMAT " bytes, Postfix's "
		    "message_size_limit %s\n", path, conf->max_message_size,
		    bound, limit == 0 ? "unlimited" : v);
		return;
	}
	fits = opm_fanout_max_post(conf, limit);
	printf("%s: %s: MaxMessageSize %" G_GINT64_FORMAT ": a post that "
	    "large can become copies of up to %" G_GINT64_FORMAT " bytes, "
	    "over Postfix's message_size_limit %" G_GINT64_FORMAT ", which "
	    "would refuse them; set MaxMessageSize to at most %"
	    G_GINT64_FORMAT "\n", path,
	    conf->max_message_size / 8 * 11 > limit ? "error" : "warning",
	    conf->max_message_size, bound, limit, fits);
	if (conf->max_message_size / 8 * 11 > limit)
		(*errors)++;
	else
		(*warnings)++;
}

char *
opmf_postconf_get(const char *name)
{
	g_autofree char *postconf = g_find_program_in_path("postconf");
	g_autofree char *out = NULL;
	char *argv[] = {NULL, "-h", (char *)name, NULL};
	int status;

	if (postconf == NULL && g_file_test("/usr/sbin/postconf",
	    G_FILE_TEST_IS_EXECUTABLE))
		postconf = g_strdup("/usr/sbin/postconf");
	if (postconf == NULL)
		return NULL;
	argv[0] = postconf;
	/* MAIL_CONFIG in the environment picks the Postfix instance */
	if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL |
	    G_SPAWN_CHILD_INHERITS_STDIN, NULL, NULL, &out, NULL, &status,
	    NULL) || !g_spawn_check_wait_status(status, NULL))
		return NULL;
	g_strchomp(out);
	return g_steal_pointer(&out);
}

/* Characters of a that are not in b.  (transfer full) */
static char *
chars_missing(const char *a, const char *b)
{
	GString *out = g_string_new(NULL);

	for (; *a != '\0'; a++)
		if (strchr(b, *a) == NULL && strchr(out->str, *a) == NULL)
			g_string_append_c(out, *a);
	return g_string_free(out, FALSE);
}

/* -n: RecipientDelimiter against Postfix's recipient_delimiter, where
 * Postfix is installed.  A delimiter of Postfix's that the filter lacks
 * lets posts past the gate: an error; one only the filter has makes it
 * examine mail Postfix does not deliver to the list: a warning. */
static void
check_delimiter(const OpmConfig *conf, const char *path, guint *errors,
    guint *warnings)
{
	g_autofree char *pf = opmf_postconf_get("recipient_delimiter");
	g_autofree char *lacking = NULL, *extra = NULL;

	if (pf == NULL)
		return;
	lacking = chars_missing(pf, conf->recipient_delimiter);
	extra = chars_missing(conf->recipient_delimiter, pf);
	if (*lacking != '\0') {
		printf("%s: error: RecipientDelimiter \"%s\" lacks \"%s\" of "
		    "Postfix's recipient_delimiter \"%s\": posts to a list "
		    "address with such an extension would pass without the "
		    "gate\n", path, conf->recipient_delimiter, lacking, pf);
		(*errors)++;
	} else if (*extra != '\0') {
		printf("%s: warning: RecipientDelimiter \"%s\" has \"%s\", "
		    "which Postfix's recipient_delimiter \"%s\" has not: mail "
		    "that Postfix does not deliver to a list is examined as a "
		    "post\n", path, conf->recipient_delimiter, extra, pf);
		(*warnings)++;
	}
}

/* Where syslog(3) sends its lines on Linux. */
#define SYSLOG_SOCKET "/dev/log"

/* A syslog daemon listens: SYSLOG_SOCKET is a socket. */
static gboolean
syslog_listens(void)
{
	struct stat st;

	return stat(SYSLOG_SOCKET, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* -n */
int
opmf_check_run(const char *path)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OpmConfig) conf = opm_conf_load(path, &error);
	guint errors = 0, warnings = 0;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	if (conf == NULL) {
		printf("%s\n", error->message);
		printf("1 error, 0 warnings\n");
		return EX_CONFIG;
	}
	{
		g_autoptr(OpmInjector) inj = opm_injector_new(conf->inject_method,
		    &error);

		if (inj == NULL) {
			printf("%s: error: %s\n", path, error->message);
			g_clear_error(&error);
			errors++;
		}
	}
	check_size_limit(path, conf, &errors, &warnings);
	check_delimiter(conf, path, &errors, &warnings);
	for (guint i = 0; i < conf->lists->len; i++) {
		OpmList *l = g_ptr_array_index(conf->lists, i);
		g_autoptr(GPtrArray) problems = NULL;

		if (!opm_keys_load(l, &error)) {
			printf("%s: error: %s\n", l->file, error->message);
			g_clear_error(&error);
			errors++;
			continue;
		}
		problems = opm_audit_list(l, now);
		opm_audit_list_key(problems, l);
		for (guint j = 0; j < problems->len; j++) {
			OpmProblem *p = g_ptr_array_index(problems, j);

			printf("%s: %s: %s\n", p->where,
			    p->severity == OPM_PROBLEM_ERROR ? "error" : "warning",
			    p->text);
			if (p->severity == OPM_PROBLEM_ERROR)
				errors++;
			else
				warnings++;
		}
		printf("%s: list %s: %u members\n", l->file, l->address,
		    l->members->len);
	}
	if (conf->lists->len == 0) {
		printf("%s: warning: no lists are defined\n", path);
		warnings++;
	}
	if (conf->log_file == NULL && !syslog_listens()) {
		printf("%s: warning: the daemon logs to syslog, but %s is not a "
		    "socket: no syslog daemon runs, and every log line would "
		    "be lost; start one, or set LogFile (a file, or stderr)\n",
		    path, SYSLOG_SOCKET);
		warnings++;
	}
	printf("%u error%s, %u warning%s\n", errors, errors == 1 ? "" : "s",
	    warnings, warnings == 1 ? "" : "s");
	return errors > 0 ? EX_CONFIG : EX_OK;
}

/* The worker's reload thread: SIGUSR1 from the supervisor. */
static gpointer
reload_thread(gpointer data)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	for (;;) {
		g_autoptr(GError) error = NULL;
		OpmConfig *conf;

		if (sigwait(&set, &sig) != 0)
			continue;
		/* after a rotation, the LogFile is a new file */
		opmf_log_reopen();
		conf = opmf_conf_load(conf_path, &error);
		if (conf == NULL) {
			g_warning("reload failed, keeping the configuration in "
			    "force: %s", error->message);
			continue;
		}
		if (!opmf_log_configure(conf, &error))
			g_warning("%s; logging on as before", error->message);
		g_message("configuration reloaded: %u list%s", conf->lists->len,
		    conf->lists->len == 1 ? "" : "s");
		opmf_conf_set(conf);
	}
	return NULL;
}

static int
worker_main(const char *socket)
{
	g_autoptr(GError) error = NULL;
	OpmConfig *conf;
	sigset_t set;

	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if ((conf = opmf_conf_load(conf_path, &error)) == NULL) {
		g_critical("%s", error->message);
		return EX_CONFIG;
	}
	if (!opmf_log_configure(conf, &error)) {
		g_warning("%s; logging on as before", error->message);
		g_clear_error(&error);
	}
	opmf_conf_set(conf);
	g_thread_unref(g_thread_new("reload", reload_thread, NULL));
	opmf_expiry_start();

	if (smfi_register(opmf_desc) != MI_SUCCESS ||
	    smfi_setconn((char *)socket) != MI_SUCCESS ||
	    smfi_opensocket(1) != MI_SUCCESS) {
		g_critical("cannot open the milter socket %s", socket);
		return EX_UNAVAILABLE;
	}
	g_message("ready on %s", socket);
	return smfi_main() == MI_SUCCESS ? EX_OK : EX_SOFTWARE;
}

static int
supervise(const char *socket)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);

	for (;;) {
		gint64 started = g_get_monotonic_time();
		gboolean stopping = FALSE;
		pid_t pid = fork();
		int st = 0, sig;

		if (pid < 0) {
			g_critical("fork: %s", g_strerror(errno));
			return EX_OSERR;
		}
		if (pid == 0)
			_exit(worker_main(socket));
		for (;;) {
			if (sigwait(&set, &sig) != 0)
				continue;
			if (sig == SIGHUP) {
				opmf_log_reopen();
				g_message("SIGHUP: reloading the configuration");
				kill(pid, SIGUSR1);
				continue;
			}
			if (sig == SIGTERM || sig == SIGINT) {
				struct timespec ts = {10, 0};

				g_message("stopping");
				stopping = TRUE;
				kill(pid, SIGTERM);
				sigemptyset(&set);
				sigaddset(&set, SIGCHLD);
				while (waitpid(pid, &st, WNOHANG) == 0)
					if (sigtimedwait(&set, NULL, &ts) < 0 &&
					    errno == EAGAIN) {
						kill(pid, SIGKILL);
						(void)waitpid(pid, &st, 0);
						break;
					}
				return EX_OK;
			}
			/* SIGCHLD */
			if (waitpid(pid, &st, WNOHANG) == pid)
				break;
		}
		if (stopping)
			return EX_OK;
		if (WIFEXITED(st) && WEXITSTATUS(st) != EX_OK &&
		    g_get_monotonic_time() - started < 5 * G_USEC_PER_SEC) {
			g_critical("worker failed at start-up (exit %d); giving up",
			    WEXITSTATUS(st));
			return WEXITSTATUS(st);
		}
		if (WIFSIGNALED(st))
			g_warning("worker killed by signal %d; restarting",
			    WTERMSIG(st));
		else
			g_warning("worker exited with status %d; restarting",
			    WEXITSTATUS(st));
		g_usleep(G_USEC_PER_SEC);
	}
}

/* The PID file's directory, such as /run/openpgp-milter (a tmpfs, empty
 * after a boot): made if missing, mode 0750, owned by user (may be NULL)
 * so that the daemon can remove the file and make its socket there after
 * dropping privileges. */
static gboolean
make_pid_dir(const char *path, const char *user, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(path);
	struct passwd *pw;
	gid_t gid;
	int e;

	if (g_file_test(dir, G_FILE_TEST_IS_DIR))
		return TRUE;
	if (mkdir(dir, 0750) != 0) {
		e = errno;
		g_set_error(error, OPM_ERROR, OPM_ERROR_IO,
		    "PidFile %s: cannot make %s: %s (set PidFile, or -P)", path,
		    dir, g_strerror(e));
		return FALSE;
	}
	if (user == NULL || geteuid() != 0)
		return TRUE;
	if ((pw = opmf_lookup_user(user, &gid)) == NULL) {
		g_set_error(error, OPM_ERROR, OPM_ERROR_CONFIG,
		    "PidFile %s: unknown user or group %s", path, user);
		return FALSE;
	}
	if (chown(dir, pw->pw_uid, gid) != 0) {
		e = errno;
		g_set_error(error, OPM_ERROR, OPM_ERROR_IO,
		    "PidFile %s: chown %s: %s", path, dir, g_strerror(e));
		return FALSE;
	}
	return TRUE;
}

static gboolean
write_pid_file(const char *path)
{
	g_autofree char *text = g_strdup_printf("%ld\n", (long)getpid());
	g_autoptr(GError) error = NULL;

	/* 0644 whatever UMask says: start-stop-daemon refuses to trust a
	 * PID file that others may write */
	if (!g_file_set_contents_full(path, text, -1,
	    G_FILE_SET_CONTENTS_CONSISTENT, 0644, &error)) {
		g_critical("%s", error->message);
		return FALSE;
	}
	return TRUE;
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) rcpts = g_ptr_array_new();
	const char *socket = NULL, *user = NULL, *pid_file = NULL;
	const char *test_file = NULL, *outdir = NULL;
	gboolean foreground = FALSE, check = FALSE;
	g_autofree char *own_socket = NULL;
	g_autofree char *own_user = NULL;
	g_autofree char *own_pid_file = NULL;
	OpmConfig *conf;
	int c, rc;

	while ((c = getopt(argc, argv, "c:p:u:P:fnt:r:o:Vh")) != -1) {
		switch (c) {
		case 'c': conf_path = optarg; break;
		case 'p': socket = optarg; break;
		case 'u': user = optarg; break;
		case 'P': pid_file = optarg; break;
		case 'f': foreground = TRUE; break;
		case 'n': check = TRUE; break;
		case 't': test_file = optarg; break;
		case 'r': g_ptr_array_add(rcpts, optarg); break;
		case 'o': outdir = optarg; break;
		case 'V':
			printf("openpgp-milter %s\n", PACKAGE_VERSION);
			return EX_OK;
		case 'h':
			usage(stdout);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc || (rcpts->len > 0 && test_file == NULL) ||
	    (outdir != NULL && test_file == NULL)) {
		usage(stderr);
		return EX_USAGE;
	}

	/* reloads re-read it after the daemon changed to / */
	conf_path = g_canonicalize_filename(conf_path, NULL);
	/* a copy whose reader is gone must fail, not kill the milter */
	signal(SIGPIPE, SIG_IGN);
	setlocale(LC_ALL, "");
	opmf_memory_init();
	if (gpgme_check_version("1.16.0") == NULL) {
		fprintf(stderr, "openpgp-milter: gpgme is too old\n");
		return EX_SOFTWARE;
	}
	g_mime_init();

	opmf_log_init("openpgp-milter", foreground || test_file != NULL ||
	    check, test_file != NULL || check);
	if (check || test_file != NULL) {
		/* run as the milter user, so that nothing root-owned is left
		 * in a list's GnuPG home */
		g_autoptr(OpmConfig) peek = opm_conf_load(conf_path, NULL);

		if (user == NULL && peek != NULL)
			user = peek->user;
		if (user != NULL && geteuid() == 0 &&
		    (rc = opmf_drop_privileges(user)) != EX_OK)
			return rc;
	}
	if (check)
		return opmf_check_run(conf_path);

	if ((conf = opmf_conf_load(conf_path, &error)) == NULL) {
		fprintf(stderr, "openpgp-milter: %s\n", error->message);
		return EX_CONFIG;
	}
	if (!opmf_log_configure(conf, &error)) {
		fprintf(stderr, "openpgp-milter: %s\n", error->message);
		opm_conf_unref(conf);
		return EX_CANTCREAT;
	}

	if (test_file != NULL) {
		g_ptr_array_add(rcpts, NULL);
		opmf_conf_set(conf);
		rc = opmf_test_run(test_file, (char **)rcpts->pdata, outdir);
		opmf_conf_set(NULL);
		return rc;
	}

	/* copies: the configuration is released before the supervisor runs */
	socket = own_socket = g_strdup(socket != NULL ? socket : conf->socket);
	user = own_user = g_strdup(user != NULL ? user : conf->user);
	pid_file = own_pid_file = g_strdup(pid_file != NULL ? pid_file :
	    conf->pid_file);
	umask((mode_t)conf->umask);
	/* the PID file's directory now, while errors still reach the
	 * terminal; the file itself holds the PID of the daemon() child */
	if (pid_file != NULL && !make_pid_dir(pid_file, user, &error)) {
		fprintf(stderr, "openpgp-milter: %s\n", error->message);
		opm_conf_unref(conf);
		return EX_CANTCREAT;
	}
	/* LogFile stderr: standard error stays open in the background */
	if (!foreground && daemon(0, g_strcmp0(conf->log_file, "stderr") ==
	    0) != 0) {
		fprintf(stderr, "openpgp-milter: daemon: %s\n", g_strerror(errno));
		return EX_OSERR;
	}
	if (!foreground && g_strcmp0(conf->log_file, "stderr") == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null >= 0) {
			(void)dup2(null, STDIN_FILENO);
			(void)dup2(null, STDOUT_FILENO);
			if (null > STDERR_FILENO)
				close(null);
		}
	}
	if (pid_file != NULL && !write_pid_file(pid_file))
		return EX_CANTCREAT;
	if (user != NULL && (rc = opmf_drop_privileges(user)) != EX_OK)
		return rc;
	if (g_mkdir_with_parents(conf->state_dir, 0700) != 0) {
		g_critical("StateDirectory %s: %s", conf->state_dir,
		    g_strerror(errno));
		return EX_CANTCREAT;
	}
	g_message("openpgp-milter %s starting: %u list%s", PACKAGE_VERSION,
	    conf->lists->len, conf->lists->len == 1 ? "" : "s");
	opm_conf_unref(conf);
	rc = supervise(socket);
	if (pid_file != NULL)
		(void)g_unlink(pid_file);
	return rc;
}
