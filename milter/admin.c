/*
 * NAME
 *	openpgp-milter-admin - run openpgp-milter's lists from the host
 * SYNOPSIS
 *	openpgp-milter-admin [-c conf] [-u user[:group]] verb [arg...]
 * DESCRIPTION
 *	The host-side door to the membership module (lib/member.c): the
 *	same checks and the same atomic changes as a command mail.  The
 *	configuration is read with opm_conf_load() and its option table, as
 *	the daemon reads it.  Started as root, the program reads the key
 *	files it is given, then becomes the filter's user (UserID, or -u)
 *	before it touches a list's GnuPG home or members file; create-list
 *	and wkd do the user's part in a child process and write the list
 *	definition and the Web Key Directory as the caller.
 *
 *	Verbs: create-list, add-member, remove-member, set-key, members,
 *	export-key, wkd, nominations, approve, object; see
 *	openpgp-milter-admin(8).
 * DIAGNOSTICS
 *	Messages on standard error start with the program's name and say
 *	what to do.  Exit status from <sysexits.h>: EX_USAGE (bad command
 *	line), EX_CONFIG (the configuration does not load), EX_NOINPUT (no
 *	such list, or an unreadable key file), EX_DATAERR (a change that
 *	cannot be made: bad key, not a member, ...), EX_CANTCREAT (a file of
 *	a new list exists or cannot be made), EX_UNAVAILABLE (gpg or the MTA
 *	failed), EX_IOERR, EX_NOUSER, EX_NOPERM, EX_OSERR.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "admission.h"
#include "audit.h"
#include "inject.h"
#include "keys.h"
#include "member.h"
#include "opmf.h"
#include "wkd.h"

#define DEFAULT_CONF SYSCONFDIR "/openpgp-milter/openpgp-milter.conf"
#define PROG "openpgp-milter-admin"

static const char *conf_path = DEFAULT_CONF;
static const char *user_opt;

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: " PROG " [-c conf] [-u user[:group]] verb [arg...]\n"
	    "  create-list ADDRESS [--name NAME] [--expires DURATION]\n"
	    "              [--gnupg-home DIR] [--members-file FILE]\n"
	    "              [--admin ADDRESS FINGERPRINT KEYFILE]...\n"
	    "  add-member LIST ADDRESS KEYFILE [NAME]\n"
	    "  remove-member LIST ADDRESS\n"
	    "  set-key LIST ADDRESS KEYFILE\n"
	    "  members LIST\n"
	    "  nominations LIST\n"
	    "  approve LIST ADDRESS\n"
	    "  object LIST ADDRESS REASON...\n"
	    "  export-key LIST\n"
	    "  wkd DIR\n"
	    "  -c conf    configuration file (default %s)\n"
	    "  -u user    the filter's user[:group] (default: UserID)\n"
	    "A KEYFILE of \"-\" is standard input.\n", DEFAULT_CONF);
}

static int
fail(int code, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static int
fail(int code, const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

/* The exit status for a lib/ error. */
static int
status_of(const GError *e)
{
	if (e == NULL || e->domain != OPM_ERROR)
		return EX_SOFTWARE;
	switch (e->code) {
	case OPM_ERROR_CONFIG:
	case OPM_ERROR_KEY:
		return EX_DATAERR;
	case OPM_ERROR_IO:
		return EX_IOERR;
	case OPM_ERROR_CRYPTO:
	case OPM_ERROR_INJECT:
		return EX_UNAVAILABLE;
	default:
		return EX_SOFTWARE;
	}
}

static OpmConfig *
load_conf(int *rc)
{
	g_autoptr(GError) error = NULL;
	OpmConfig *conf = opm_conf_load(conf_path, &error);

	if (conf == NULL)
		*rc = fail(EX_CONFIG, "%s", error->message);
	return conf;
}

static OpmList *
find_list(OpmConfig *conf, const char *name, int *rc)
{
	OpmList *l = opm_conf_find_list(conf, name);

	if (l == NULL)
		*rc = fail(EX_NOINPUT, "%s defines no list %s (\"openpgp-milter "
		    "-n\" shows the lists)", conf->path, name);
	return l;
}

static const char *
user_of(OpmConfig *conf)
{
	return user_opt != NULL ? user_opt : conf->user;
}

/* Become the filter's user, as the daemon does. */
static int
become_user(OpmConfig *conf)
{
	const char *user = user_of(conf);

	if (user == NULL || geteuid() != 0)
		return EX_OK;
	return opmf_drop_privileges(user);
}

/* A key file, read as the caller ("-": standard input). */
static GBytes *
read_keyfile(const char *path, int *rc)
{
	g_autoptr(GError) error = NULL;
	char *text = NULL;
	gsize n = 0;

	if (strcmp(path, "-") == 0) {
		GByteArray *buf = g_byte_array_new();
		guint8 chunk[8192];
		size_t r;

		while ((r = fread(chunk, 1, sizeof(chunk), stdin)) > 0 &&
		    buf->len < 4 * 1024 * 1024)
			g_byte_array_append(buf, chunk, (guint)r);
		return g_byte_array_free_to_bytes(buf);
	}
	if (!g_file_get_contents(path, &text, &n, &error)) {
		*rc = fail(EX_NOINPUT, "key file: %s", error->message);
		return NULL;
	}
	return g_bytes_new_take(text, n);
}

static char *
date_of(gint64 t)
{
	g_autoptr(GDateTime) dt = NULL;

	if (t <= 0)
		return g_strdup("never");
	dt = g_date_time_new_from_unix_utc(t);
	return g_date_time_format(dt, "%Y-%m-%d");
}

static char *
who(void)
{
	const char *u = g_get_user_name();

	return g_strdup_printf("%s on %s (%s, user %s)", PROG,
	    g_get_host_name(), "host command", u != NULL ? u : "?");
}

/* Tell the admins, from a fresh load of the configuration. */
static void
announce(OpmConfig *conf, const char *address, GPtrArray *changes,
    gint64 now)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OpmConfig) fresh = opm_conf_load(conf->path, &error);
	g_autoptr(OpmInjector) inj = NULL;
	g_autofree char *by = who();
	OpmList *l;
	gint n;

	if (fresh == NULL || (l = opm_conf_find_list(fresh, address)) == NULL ||
	    !opm_keys_load(l, &error) ||
	    (inj = opm_injector_new(fresh->inject_method, &error)) == NULL) {
		fail(0, "warning: the admins were not told: %s",
		    error != NULL ? error->message : "list gone");
		return;
	}
	n = opm_member_greet(l, changes, inj, now);
	if (n > 0)
		printf("%s sent to the member\n", changes->len == 1 &&
		    ((OpmChange *)changes->pdata[0])->op == OPM_CHANGE_ADD ?
		    "welcome" : "goodbye");
	n = opm_member_announce(l, changes, by, inj, now, &error);
	if (n < 0)
		fail(0, "warning: a notice to the admins was not queued: %s",
		    error->message);
	else
		printf("notice sent to %d admin%s\n", n, n == 1 ? "" : "s");
}

/* add-member, remove-member, set-key */
static int
change(OpmChangeOp op, int argc, char **argv)
{
	g_autoptr(OpmConfig) conf = NULL;
	g_autoptr(GBytes) key = NULL;
	g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)opm_change_free);
	g_autoptr(GError) error = NULL;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	OpmChange *c;
	OpmList *list;
	int rc = EX_OK;
	int want = op == OPM_CHANGE_REMOVE ? 2 : 3;

	if (argc < want || argc > (op == OPM_CHANGE_ADD ? 4 : want)) {
		usage(stderr);
		return EX_USAGE;
	}
	if ((conf = load_conf(&rc)) == NULL ||
	    (list = find_list(conf, argv[0], &rc)) == NULL)
		return rc;
	if (op != OPM_CHANGE_REMOVE && (key = read_keyfile(argv[2], &rc)) == NULL)
		return rc;
	if ((rc = become_user(conf)) != EX_OK)
		return rc;
	c = opm_change_new(op, argv[1], NULL, argc > 3 ? argv[3] : NULL, key);
	g_ptr_array_add(changes, c);
	if (!opm_member_apply(conf, list, changes, FALSE, now, NULL, &error))
		return fail(status_of(error), "%s: %s %s: %s%s", list->address,
		    opm_change_op_name(op), argv[1],
		    g_error_matches(error, OPM_ERROR, OPM_ERROR_CONFIG) ?
		    "refused: " : "", error->message);
	switch (op) {
	case OPM_CHANGE_ADD:
	case OPM_CHANGE_SET_KEY: {
		g_autofree char *exp = date_of(c->expires);

		if (op == OPM_CHANGE_ADD)
			printf("%s: added %s\n", list->address, c->address);
		else
			printf("%s: %s: key %s replaced\n", list->address,
			    c->address, c->old_fpr);
		printf("  key %s, expires %s\n", c->new_fpr, exp);
		if (c->warnings != NULL)
			printf("  warning: %s\n", c->warnings);
		printf("Compare this fingerprint with the one the member reads "
		    "out to you by a\ntrusted channel; if it differs, remove "
		    "the member again.\n");
		break;
	}
	case OPM_CHANGE_REMOVE:
		printf("%s: removed %s (key %s)\n", list->address, c->address,
		    c->old_fpr);
		break;
	}
	announce(conf, list->address, changes, now);
	return EX_OK;
}

/* For the verbs whose one argument is a list: the configuration and the
 * list, as the filter's user. */
static int
one_list(int argc, char **argv, OpmConfig **conf, OpmList **list)
{
	int rc = EX_OK;

	if (argc != 1) {
		usage(stderr);
		return EX_USAGE;
	}
	if ((*conf = load_conf(&rc)) == NULL ||
	    (*list = find_list(*conf, argv[0], &rc)) == NULL)
		return rc;
	return become_user(*conf);
}

static int
members(int argc, char **argv)
{
	g_autoptr(OpmConfig) conf = NULL;
	g_autoptr(GError) error = NULL;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	OpmList *list;
	int rc = EX_OK;

	if ((rc = one_list(argc, argv, &conf, &list)) != EX_OK)
		return rc;
	if (!opm_keys_load(list, &error))
		return fail(EX_UNAVAILABLE, "%s", error->message);
	printf("# %s: %u member%s\n# address fingerprint expires state\n",
	    list->address, list->members->len,
	    list->members->len == 1 ? "" : "s");
	for (guint i = 0; i < list->members->len; i++) {
		OpmMember *m = g_ptr_array_index(list->members, i);
		g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(
		    (GDestroyNotify)opm_problem_free);
		g_autofree char *exp = m->key != NULL ?
		    date_of(opm_member_key_expires(m->key)) : g_strdup("-");
		g_autoptr(GString) state = g_string_new(NULL);

		opm_audit_key(problems, list, "", m->address, m->fpr, m->key, now);
		for (guint j = 0; j < problems->len; j++) {
			OpmProblem *p = g_ptr_array_index(problems, j);
			/* the texts repeat the address; keep what follows */
			const char *t = g_str_has_prefix(p->text, m->address) &&
			    p->text[strlen(m->address)] == ':' ?
			    p->text + strlen(m->address) + 2 : p->text;

			g_string_append_printf(state, "%s%s: %s",
			    state->len > 0 ? "; " : "",
			    p->severity == OPM_PROBLEM_ERROR ? "error" :
			    "warning", t);
		}
		if (opm_audit_inactive(m, now) != NULL)
			g_string_prepend(state, state->len > 0 ? "inactive; " :
			    "inactive");
		printf("%s %s %s %s\n", m->address, m->fpr, exp,
		    state->len > 0 ? state->str : "ok");
	}
	return EX_OK;
}

typedef enum {
	NOM_LIST,
	NOM_APPROVE,
	NOM_OBJECT,
} NomVerb;

/* nominations, approve, object: the nominations of a list, and an
 * admin's acts on them from the host; what ends goes the way of a
 * command mail (lib/admission.c). */
static int
nominations(NomVerb verb, int argc, char **argv)
{
	g_autoptr(OpmConfig) conf = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(OpmInjector) inj = NULL;
	g_autoptr(OpmNominations) s = NULL;
	g_autoptr(GPtrArray) events = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)opm_admission_event_free);
	g_autofree char *reason = NULL;
	g_autofree char *host = NULL;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	OpmAdmissionPolicy p;
	OpmNomination *n = NULL;
	OpmList *list;
	GPtrArray *all;
	int rc = EX_OK;

	if ((verb == NOM_LIST && argc != 1) ||
	    (verb == NOM_APPROVE && argc != 2) ||
	    (verb == NOM_OBJECT && argc < 3)) {
		usage(stderr);
		return EX_USAGE;
	}
	if ((conf = load_conf(&rc)) == NULL ||
	    (list = find_list(conf, argv[0], &rc)) == NULL)
		return rc;
	if ((rc = become_user(conf)) != EX_OK)
		return rc;
	if (!opm_keys_load(list, &error) ||
	    (inj = opm_injector_new(conf->inject_method, &error)) == NULL ||
	    (s = opm_nominations_open(conf->state_dir, list->address,
		&error)) == NULL ||
	    !opm_admission_settle(conf, list, s, FALSE, now, events, &error))
		return fail(status_of(error), "%s: %s", list->address,
		    error->message);
	opm_admission_policy(list, &p);
	/* one word: it is kept as the admin who acted */
	{
		const char *u = g_get_user_name();

		host = g_strdup_printf("host:%s", u != NULL ? u : "?");
		g_strdelimit(host, " \t", '_');
	}
	if (verb != NOM_LIST &&
	    (n = opm_nominations_find(s, argv[1])) == NULL) {
		rc = fail(EX_DATAERR, "%s: %s has no open nomination",
		    list->address, argv[1]);
		goto SAVE;
	}
	if (verb == NOM_OBJECT) {
		reason = g_strjoinv(" ", argv + 2);
		if (!opm_nomination_object(&p, n, host, TRUE, reason, now,
		    &error))
			rc = fail(EX_DATAERR, "%s: object %s: %s", list->address,
			    argv[1], error->message);
	} else if (verb == NOM_APPROVE &&
	    !opm_nomination_approve(&p, n, host, now, &error))
		rc = fail(EX_DATAERR, "%s: approve %s: %s", list->address,
		    argv[1], error->message);
	if (rc == EX_OK && verb != NOM_LIST &&
	    !opm_admission_settle(conf, list, s, FALSE, now, events, &error))
		return fail(status_of(error), "%s: %s", list->address,
		    error->message);
SAVE:
	if (!opm_nominations_save(s, &error))
		return fail(status_of(error), "%s: %s", list->address,
		    error->message);
	all = opm_nominations_list(s);
	if (verb == NOM_LIST) {
		printf("# %s: %u open nomination%s (Admission %s, %u vouches%s)"
		    "\n", list->address, all->len, all->len == 1 ? "" : "s",
		    list->admission, p.required, p.approval ?
		    " and an admin's approval" : "");
		for (guint i = 0; i < all->len; i++) {
			g_autofree char *d = opm_nomination_describe(&p,
			    g_ptr_array_index(all, i), TRUE, TRUE, now);

			fputs(d, stdout);
		}
	}
	for (guint i = 0; i < events->len; i++) {
		OpmAdmissionEvent *e = g_ptr_array_index(events, i);
		static const char *const what[] = {"admitted", "expired",
		    "refused by an admin", "withdrawn", "could not be added"};

		printf("%s: the nomination of %s: %s%s%s\n", list->address,
		    e->nom->address, what[e->outcome], e->why != NULL ? ": " :
		    "", e->why != NULL ? e->why : "");
	}
	if (rc == EX_OK && n != NULL && events->len == 0)
		printf("%s: %s: %u of %u vouches%s\n", list->address,
		    n->address, opm_nomination_count(n), p.required,
		    !p.approval ? "" : n->approved_by != NULL ? ", approved" :
		    ", not approved yet");
	opm_nominations_close(g_steal_pointer(&s));
	opm_admission_notify(list, events, inj, now);
	return rc;
}

static int
export_key(int argc, char **argv)
{
	g_autoptr(OpmConfig) conf = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) key = NULL;
	OpmList *list;
	int rc = EX_OK;
	gsize n;
	const void *p;

	if ((rc = one_list(argc, argv, &conf, &list)) != EX_OK)
		return rc;
	key = opm_member_export_key(list->gnupg_home, list->list_key, TRUE,
	    &error);
	if (key == NULL)
		return fail(EX_UNAVAILABLE, "%s: %s", list->address,
		    error->message);
	p = g_bytes_get_data(key, &n);
	if (fwrite(p, 1, n, stdout) != n || fflush(stdout) != 0)
		return fail(EX_IOERR, "standard output: %s", g_strerror(errno));
	return EX_OK;
}

/*
 * The user's part of a verb, in a child that became the filter's user
 * when the program runs as root, else in this process.  out collects
 * what it hands back.
 */
typedef int (*UserPart)(OpmConfig *conf, gpointer data, GByteArray *out);

static int
as_user(OpmConfig *conf, UserPart part, gpointer data, GByteArray *out)
{
	const char *user = user_of(conf);
	int fds[2], st = 0;
	pid_t pid;
	guint8 buf[4096];
	ssize_t r;

	if (user == NULL || geteuid() != 0)
		return part(conf, data, out);
	if (pipe(fds) != 0 || (pid = fork()) < 0)
		return fail(EX_OSERR, "fork: %s", g_strerror(errno));
	if (pid == 0) {
		gsize off = 0;
		int rc;

		close(fds[0]);
		rc = opmf_drop_privileges(user);
		if (rc == EX_OK)
			rc = part(conf, data, out);
		while (off < out->len && (r = write(fds[1], out->data + off,
		    out->len - off)) > 0)
			off += (gsize)r;
		fflush(stdout);
		fflush(stderr);
		_exit(rc);
	}
	close(fds[1]);
	while ((r = read(fds[0], buf, sizeof(buf))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		g_byte_array_append(out, buf, (guint)r);
	}
	close(fds[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : EX_SOFTWARE;
}

/* wkd: the user's part exports each list key: "ADDRESS\nLENGTH\n" and
 * the binary key, per list. */
static int
wkd_export(OpmConfig *conf, gpointer data, GByteArray *out)
{
	(void)data;
	for (guint i = 0; i < conf->lists->len; i++) {
		OpmList *l = g_ptr_array_index(conf->lists, i);
		g_autoptr(GError) error = NULL;
		g_autoptr(GBytes) key = opm_member_export_key(l->gnupg_home,
		    l->list_key, FALSE, &error);
		g_autofree char *head = NULL;
		gsize n;
		const guint8 *p;

		if (key == NULL)
			return fail(EX_UNAVAILABLE, "%s: %s", l->address,
			    error->message);
		p = g_bytes_get_data(key, &n);
		head = g_strdup_printf("%s\n%zu\n", l->address, n);
		g_byte_array_append(out, (const guint8 *)head,
		    (guint)strlen(head));
		g_byte_array_append(out, p, (guint)n);
	}
	return EX_OK;
}

static int
wkd(int argc, char **argv)
{
	g_autoptr(OpmConfig) conf = NULL;
	g_autoptr(GByteArray) keys = g_byte_array_new();
	gsize off = 0;
	int rc = EX_OK;

	if (argc != 1) {
		usage(stderr);
		return EX_USAGE;
	}
	if ((conf = load_conf(&rc)) == NULL)
		return rc;
	if (conf->lists->len == 0)
		return fail(EX_CONFIG, "%s defines no lists", conf->path);
	if ((rc = as_user(conf, wkd_export, NULL, keys)) != EX_OK)
		return rc;
	while (off < keys->len) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GBytes) key = NULL;
		g_autofree char *hash = NULL;
		const char *addr = (const char *)keys->data + off;
		const char *nl = memchr(addr, '\n', keys->len - off);
		const char *nl2 = nl != NULL ? memchr(nl + 1, '\n',
		    keys->len - off - (gsize)(nl + 1 - addr)) : NULL;
		g_autofree char *a = NULL;
		guint64 n;

		if (nl2 == NULL)
			return fail(EX_SOFTWARE, "garbled key export");
		a = g_strndup(addr, (gsize)(nl - addr));
		n = g_ascii_strtoull(nl + 1, NULL, 10);
		off += (gsize)(nl2 + 1 - addr);
		if (n > keys->len - off)
			return fail(EX_SOFTWARE, "garbled key export");
		key = g_bytes_new(keys->data + off, (gsize)n);
		off += (gsize)n;
		if (!opm_wkd_write(argv[0], a, key, &error))
			return fail(EX_CANTCREAT, "%s", error->message);
		hash = opm_wkd_hash(a);
		printf("%s: %s/%s/.well-known/openpgpkey/hu/%s\n", a, argv[0],
		    strrchr(a, '@') + 1, hash);
	}
	printf("Serve %s/DOMAIN as https://DOMAIN/ (direct method) and\n"
	    "%s/openpgpkey.DOMAIN as https://openpgpkey.DOMAIN/ (advanced "
	    "method).\n", argv[0], argv[0]);
	return EX_OK;
}

/* create-list */
typedef struct {
	char *address;
	char *name;
	char *gnupg_home;
	char *members_file;
	gint64 expires;
	GPtrArray *admins; /* OpmChange *, ADD */
} NewList;

static char *
definition(const NewList *nl, const char *fpr)
{
	GString *s = g_string_new(NULL);
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	g_autofree char *date = g_date_time_format(now, "%Y-%m-%d");

	g_string_append_printf(s, "# List %s, made by " PROG " create-list "
	    "on %s.\n# Every option: openpgp-milter.conf(5).\n", nl->address,
	    date);
	g_string_append_printf(s, "Address %s\n", nl->address);
	if (nl->name != NULL)
		g_string_append_printf(s, "Name %s\n", nl->name);
	g_string_append_printf(s, "GnupgHome %s\nListKey %s\nMembersFile %s\n",
	    nl->gnupg_home, fpr, nl->members_file);
	for (guint i = 0; i < nl->admins->len; i++) {
		OpmChange *c = g_ptr_array_index(nl->admins, i);

		g_string_append_printf(s, "Admin %s\n", c->address);
	}
	return g_string_free(s, FALSE);
}

static void
undo_new_list(const NewList *nl)
{
	(void)g_unlink(nl->members_file);
	{
		g_autofree char *lock = g_strconcat(nl->members_file, ".lock",
		    NULL);

		(void)g_unlink(lock);
	}
	/* no agent runs in it unless the key was made: then the agent
	 * leaves by itself once its socket is gone */
	{
		GDir *d = g_dir_open(nl->gnupg_home, 0, NULL);
		const char *n;

		while (d != NULL && (n = g_dir_read_name(d)) != NULL) {
			g_autofree char *p = g_build_filename(nl->gnupg_home, n,
			    NULL);

			if (g_file_test(p, G_FILE_TEST_IS_DIR)) {
				GDir *sd = g_dir_open(p, 0, NULL);
				const char *sn;

				while (sd != NULL && (sn = g_dir_read_name(sd)) !=
				    NULL) {
					g_autofree char *sp = g_build_filename(p,
					    sn, NULL);

					(void)g_unlink(sp);
				}
				if (sd != NULL)
					g_dir_close(sd);
				(void)g_rmdir(p);
			} else
				(void)g_unlink(p);
		}
		if (d != NULL)
			g_dir_close(d);
		(void)g_rmdir(nl->gnupg_home);
	}
}

static int
create_user_part(OpmConfig *conf, gpointer data, GByteArray *out)
{
	NewList *nl = data;
	g_autoptr(GError) error = NULL;
	g_autofree char *gdir = g_path_get_dirname(nl->gnupg_home);
	g_autofree char *mdir = g_path_get_dirname(nl->members_file);
	g_autofree char *tmpdef = NULL;
	g_autofree char *text = NULL;
	g_autofree char *fpr = NULL;
	g_autofree char *uid = NULL;
	OpmList *list = NULL;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	int fd, rc = EX_OK;
	guint failed = 0;
	const char *head = "# Members of the list: address fingerprint [name] "
	    "per line.\n# Change them with " PROG "(8) or by command mail.\n";

	if (g_file_test(nl->gnupg_home, G_FILE_TEST_EXISTS))
		return fail(EX_CANTCREAT, "%s exists already: remove it, or "
		    "choose another with --gnupg-home", nl->gnupg_home);
	if (g_mkdir_with_parents(gdir, 0750) != 0 ||
	    g_mkdir(nl->gnupg_home, 0700) != 0)
		return fail(EX_CANTCREAT, "cannot make %s: %s", nl->gnupg_home,
		    g_strerror(errno));
	if (g_mkdir_with_parents(mdir, 0750) != 0 ||
	    (fd = open(nl->members_file, O_WRONLY | O_CREAT | O_EXCL |
	    O_CLOEXEC, 0640)) < 0) {
		rc = fail(EX_CANTCREAT, "cannot make %s: %s%s", nl->members_file,
		    g_strerror(errno), errno == EEXIST ? " (choose another "
		    "with --members-file)" : "");
		(void)g_rmdir(nl->gnupg_home);
		return rc;
	}
	if (write(fd, head, strlen(head)) != (ssize_t)strlen(head) ||
	    fsync(fd) != 0) {
		close(fd);
		undo_new_list(nl);
		return fail(EX_IOERR, "%s: %s", nl->members_file,
		    g_strerror(errno));
	}
	close(fd);
	/* the list as the daemon will read it, for the admins' keys */
	tmpdef = g_build_filename(nl->gnupg_home, "list.conf.new", NULL);
	text = definition(nl, "0000000000000000000000000000000000000000");
	if (!g_file_set_contents(tmpdef, text, -1, &error) ||
	    (list = opm_list_load(tmpdef, &error)) == NULL) {
		(void)g_unlink(tmpdef);
		undo_new_list(nl);
		return fail(EX_SOFTWARE, "%s", error->message);
	}
	(void)g_unlink(tmpdef);
	if (nl->admins->len > 0 && !opm_member_apply(conf, list, nl->admins,
	    TRUE, now, &failed, &error)) {
		OpmChange *c = g_ptr_array_index(nl->admins, failed);

		rc = fail(status_of(error), "admin %s: %s%s", c->address,
		    g_error_matches(error, OPM_ERROR, OPM_ERROR_CONFIG) ?
		    "refused: " : "", error->message);
		goto FAIL;
	}
	uid = g_strdup_printf("%s <%s>", nl->name != NULL ? nl->name :
	    list->name, nl->address);
	if ((fpr = opm_member_create_key(nl->gnupg_home, uid, nl->expires,
	    &error)) == NULL) {
		rc = fail(EX_UNAVAILABLE, "%s", error->message);
		goto FAIL;
	}
	g_free(list->list_key);
	list->list_key = g_strdup(fpr);
	if (nl->admins->len > 0 && !opm_member_apply(conf, list, nl->admins,
	    FALSE, now, &failed, &error)) {
		rc = fail(status_of(error), "admin: %s", error->message);
		goto FAIL;
	}
	g_byte_array_append(out, (const guint8 *)fpr, (guint)strlen(fpr));
	opm_list_free(list);
	return EX_OK;
FAIL:
	opm_list_free(list);
	undo_new_list(nl);
	return rc;
}

static int
create_list(int argc, char **argv)
{
	g_autoptr(OpmConfig) conf = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autoptr(OpmConfig) check = NULL;
	g_autofree char *def = NULL;
	g_autofree char *defname = NULL;
	g_autofree char *text = NULL;
	g_autofree char *fpr = NULL;
	g_autofree char *raw_fpr = NULL;
	g_autofree char *dir = NULL;
	NewList nl = {0};
	int rc = EX_OK, fd;
	const char *expires = "730d";

	nl.admins = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)opm_change_free);
	if (argc < 1) {
		usage(stderr);
		rc = EX_USAGE;
		goto DONE;
	}
	if ((conf = load_conf(&rc)) == NULL)
		goto DONE;
	nl.address = opm_address_normalize(argv[0]);
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];

		if (strcmp(o, "--admin") == 0 && i + 3 < argc) {
			g_autoptr(GBytes) key = read_keyfile(argv[i + 3], &rc);

			if (key == NULL)
				goto DONE;
			g_ptr_array_add(nl.admins, opm_change_new(OPM_CHANGE_ADD,
			    argv[i + 1], argv[i + 2], NULL, key));
			i += 3;
		} else if (strcmp(o, "--name") == 0 && i + 1 < argc)
			nl.name = g_strdup(argv[++i]);
		else if (strcmp(o, "--gnupg-home") == 0 && i + 1 < argc)
			nl.gnupg_home = g_canonicalize_filename(argv[++i], NULL);
		else if (strcmp(o, "--members-file") == 0 && i + 1 < argc)
			nl.members_file = g_canonicalize_filename(argv[++i], NULL);
		else if (strcmp(o, "--expires") == 0 && i + 1 < argc)
			expires = argv[++i];
		else {
			rc = fail(EX_USAGE, "create-list: unknown or incomplete "
			    "option \"%s\"", o);
			goto DONE;
		}
	}
	if (!opm_address_valid(nl.address) || strchr(nl.address, '/') != NULL ||
	    strchr(nl.address, '#') != NULL) {
		rc = fail(EX_USAGE, "\"%s\" is not a list address "
		    "(local@domain)", argv[0]);
		goto DONE;
	}
	if (!opm_parse_duration(expires, &nl.expires)) {
		rc = fail(EX_USAGE, "--expires: \"%s\" is not a duration (730d, "
		    "104w, 0 for never)", expires);
		goto DONE;
	}
	if (nl.name != NULL && strpbrk(nl.name, "\n\r#<>") != NULL) {
		rc = fail(EX_USAGE, "--name: one line, without #, < or >");
		goto DONE;
	}
	if (opm_conf_find_list(conf, nl.address) != NULL) {
		rc = fail(EX_DATAERR, "%s is a list already (%s)", nl.address,
		    opm_conf_find_list(conf, nl.address)->file);
		goto DONE;
	}
	if (conf->list_dir == NULL) {
		rc = fail(EX_CONFIG, "%s sets no ListDirectory: create-list writes "
		    "the list definition there", conf->path);
		goto DONE;
	}
	dir = g_build_filename(conf->state_dir, "lists", nl.address, NULL);
	if (nl.gnupg_home == NULL)
		nl.gnupg_home = g_build_filename(dir, "gnupg", NULL);
	if (nl.members_file == NULL)
		nl.members_file = g_build_filename(dir, "members", NULL);
	defname = g_strconcat(nl.address, ".conf", NULL);
	def = g_build_filename(conf->list_dir, defname, NULL);
	if (g_file_test(def, G_FILE_TEST_EXISTS)) {
		rc = fail(EX_CANTCREAT, "%s exists already", def);
		goto DONE;
	}
	if ((rc = as_user(conf, create_user_part, &nl, out)) != EX_OK)
		goto DONE;
	raw_fpr = g_strndup((const char *)out->data, out->len);
	fpr = opm_fpr_canon(g_strstrip(raw_fpr));
	if (fpr == NULL) {
		rc = fail(EX_SOFTWARE, "the list key was made, but its "
		    "fingerprint did not come back");
		goto DONE;
	}
	/* the definition, as the caller (root may own ListDirectory) */
	text = definition(&nl, fpr);
	fd = open(def, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
	    fsync(fd) != 0) {
		rc = fail(EX_CANTCREAT, "cannot write %s: %s", def,
		    g_strerror(errno));
		if (fd >= 0) {
			close(fd);
			(void)g_unlink(def);
		}
		goto DONE;
	}
	close(fd);
	if ((check = opm_conf_load(conf_path, &error)) == NULL) {
		rc = fail(EX_CONFIG, "the new list does not load: %s",
		    error->message);
		goto DONE;
	}
	{
		g_autofree char *exp = NULL;
		gint64 t = nl.expires > 0 ? g_get_real_time() / G_USEC_PER_SEC +
		    nl.expires : 0;

		exp = date_of(t);
		printf("created list %s\n"
		    "  list key      %s (expires %s)\n"
		    "  definition    %s\n"
		    "  GnuPG home    %s\n"
		    "  members file  %s\n", nl.address, fpr, exp, def,
		    nl.gnupg_home, nl.members_file);
		for (guint i = 0; i < nl.admins->len; i++) {
			OpmChange *c = g_ptr_array_index(nl.admins, i);

			g_autofree char *f = opm_fpr_canon(c->fpr);

			printf("  admin         %s %s\n", c->address, f);
		}
		printf("Next: add members with \"" PROG " add-member %s ADDRESS "
		    "KEYFILE\",\ncheck with \"openpgp-milter -n\", let the MTA "
		    "accept mail for %s,\nand send the running daemon SIGHUP "
		    "so that it learns of the new list.\n", nl.address,
		    nl.address);
	}
DONE:
	g_free(nl.address);
	g_free(nl.name);
	g_free(nl.gnupg_home);
	g_free(nl.members_file);
	g_ptr_array_unref(nl.admins);
	return rc;
}

static GLogFunc to_syslog;

static void
log_handler(const char *domain, GLogLevelFlags level, const char *message,
    gpointer data)
{
	to_syslog(domain, level, message, data);
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL |
	    G_LOG_LEVEL_WARNING))
		fprintf(stderr, PROG ": warning: %s\n", message);
}

int
main(int argc, char **argv)
{
	const char *verb;
	int c;

	while ((c = getopt(argc, argv, "+c:u:hV")) != -1) {
		switch (c) {
		case 'c': conf_path = optarg; break;
		case 'u': user_opt = optarg; break;
		case 'V':
			printf(PROG " %s\n", PACKAGE_VERSION);
			return EX_OK;
		case 'h':
			usage(stdout);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EX_USAGE;
	}
	conf_path = g_canonicalize_filename(conf_path, NULL);
	setlocale(LC_ALL, "");
	if (gpgme_check_version("1.16.0") == NULL)
		return fail(EX_SOFTWARE, "gpgme is too old");
	g_mime_init();
	/* lib/ logs to syslog like the daemon; its warnings are shown too */
	opmf_log_init(PROG, FALSE, TRUE);
	to_syslog = g_log_set_default_handler(log_handler, NULL);
	verb = argv[optind];
	argc -= optind + 1;
	argv += optind + 1;
	if (strcmp(verb, "create-list") == 0)
		return create_list(argc, argv);
	if (strcmp(verb, "add-member") == 0)
		return change(OPM_CHANGE_ADD, argc, argv);
	if (strcmp(verb, "remove-member") == 0)
		return change(OPM_CHANGE_REMOVE, argc, argv);
	if (strcmp(verb, "set-key") == 0)
		return change(OPM_CHANGE_SET_KEY, argc, argv);
	if (strcmp(verb, "members") == 0)
		return members(argc, argv);
	if (strcmp(verb, "nominations") == 0)
		return nominations(NOM_LIST, argc, argv);
	if (strcmp(verb, "approve") == 0)
		return nominations(NOM_APPROVE, argc, argv);
	if (strcmp(verb, "object") == 0)
		return nominations(NOM_OBJECT, argc, argv);
	if (strcmp(verb, "export-key") == 0)
		return export_key(argc, argv);
	if (strcmp(verb, "wkd") == 0)
		return wkd(argc, argv);
	fail(EX_USAGE, "unknown verb \"%s\"", verb);
	usage(stderr);
	return EX_USAGE;
}
