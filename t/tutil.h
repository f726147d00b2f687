/*
 * NAME
 *	tutil.h - helpers shared by the Check unit tests
 * DESCRIPTION
 *	Environment lookup (top_srcdir, FIXTURES), temporary directories
 *	that are removed again, file helpers, private copies of a fixture
 *	GnuPG home and the stopping of any gpg-agent started in one.
 *
 *	Everything is static inline so that each test program uses only
 *	what it needs without unused-function warnings.  Failures abort
 *	the current test with a message that says what was wanted.
 */
#ifndef TUTIL_H
#define TUTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

/*
 * lib/check.h (the "-n" configuration check) has the same name as the
 * Check framework's header, and -I lib comes before the system include
 * directories, so <check.h> may find lib's.  Then reach the framework's
 * header through its own include directory.
 */
#include <check.h>
#ifndef CHECK_H
#include <../include/check.h>
#endif
#include <glib.h>
#include <glib/gstdio.h>
#include <gpgme.h>

/* Per-test time limit for tests that run gpg (Check's default is 4 s). */
#define TU_GPG_TIMEOUT 120

/* The value of an environment variable that make check sets.
 * (transfer none) */
static inline const char *
tu_env(const char *name)
{
	const char *v = g_getenv(name);

	ck_assert_msg(v != NULL && *v != '\0',
	    "environment variable %s is not set; run the tests with make check",
	    name);
	return v;
}

/* FIXTURES/rel.  (transfer full) */
static inline char *
tu_fixture(const char *rel)
{
	return g_build_filename(tu_env("FIXTURES"), rel, NULL);
}

/* The whole content of a file; the test fails if it cannot be read.
 * (transfer full) */
static inline char *
tu_read(const char *path)
{
	g_autoptr(GError) error = NULL;
	char *text = NULL;

	ck_assert_msg(g_file_get_contents(path, &text, NULL, &error),
	    "cannot read %s: %s", path, error != NULL ? error->message : "?");
	return text;
}

/* Write a file from a printf format.  (transfer none) */
static inline void tu_write(const char *path, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

static inline void
tu_write(const char *path, const char *fmt, ...)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	ck_assert_msg(g_file_set_contents(path, text, -1, &error),
	    "cannot write %s: %s", path, error != NULL ? error->message : "?");
}

/* The primary fingerprint of a fixture person (FIXTURES/fpr/NAME), 40
 * upper-case hex digits.  (transfer full) */
static inline char *
tu_fpr(const char *name)
{
	g_autofree char *path = NULL;
	g_autofree char *rel = g_build_filename("fpr", name, NULL);
	char *text;

	path = tu_fixture(rel);
	text = g_strstrip(tu_read(path));
	ck_assert_msg(strlen(text) == 40, "%s: got \"%s\", want 40 hex digits",
	    path, text);
	return text;
}

/* The directory every tu_tmpdir() of this program is made in; set by
 * tu_run() so that what a failed or timed-out test leaves behind (Check
 * runs no teardown then) is still removed at the end. */
static char *tu_root;

/* A fresh, empty temporary directory.  (transfer full): remove it with
 * tu_rmtree(). */
static inline char *
tu_tmpdir(const char *prefix)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *tmpl = g_strdup_printf("%s-XXXXXX", prefix);
	char *dir;

	if (tu_root != NULL) {
		dir = g_build_filename(tu_root, tmpl, NULL);
		ck_assert_msg(g_mkdtemp(dir) != NULL, "cannot make %s: %s", dir,
		    g_strerror(errno));
		return dir;
	}
	dir = g_dir_make_tmp(tmpl, &error);
	ck_assert_msg(dir != NULL, "cannot make a temporary directory: %s",
	    error != NULL ? error->message : "?");
	return dir;
}

/* Remove path and everything under it; symbolic links are not followed.
 * Accepts NULL and paths that do not exist. */
static inline void
tu_rmtree(const char *path)
{
	GStatBuf st;

	if (path == NULL || g_lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		GDir *d = g_dir_open(path, 0, NULL);
		const char *name;

		/* a directory made read-only by a test must still go */
		(void)g_chmod(path, 0700);
		if (d != NULL) {
			while ((name = g_dir_read_name(d)) != NULL) {
				g_autofree char *p = g_build_filename(path, name,
				    NULL);

				tu_rmtree(p);
			}
			g_dir_close(d);
		}
		(void)g_rmdir(path);
	} else {
		(void)g_unlink(path);
	}
}

/* Stop every GnuPG daemon (gpg-agent, dirmngr) of the GnuPG home dir.
 * Harmless when none runs or dir does not exist. */
static inline void
tu_gpg_kill(const char *dir)
{
	const char *gpgconf = g_getenv("GPGCONF");
	char *argv[] = {
		(char *)(gpgconf != NULL && *gpgconf != '\0' ? gpgconf : "gpgconf"),
		(char *)"--homedir", (char *)dir, (char *)"--kill", (char *)"all",
		NULL,
	};
	g_auto(GStrv) envp = NULL;

	if (dir == NULL || !g_file_test(dir, G_FILE_TEST_IS_DIR))
		return;
	envp = g_environ_setenv(g_get_environ(), "GNUPGHOME", dir, TRUE);
	(void)g_spawn_sync(NULL, argv, envp,
	    G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
	    G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, NULL, NULL);
}

/* Copy the GnuPG home src to the new directory dst (mode 0700): every
 * regular file and directory, but no sockets and no lock files, so that
 * the copy is private to the test and the fixtures are only read. */
static inline void
tu_copy_home(const char *src, const char *dst)
{
	GDir *d;
	const char *name;

	ck_assert_msg(g_mkdir_with_parents(dst, 0700) == 0,
	    "cannot make %s: %s", dst, g_strerror(errno));
	d = g_dir_open(src, 0, NULL);
	ck_assert_msg(d != NULL, "cannot open the GnuPG home %s", src);
	while ((name = g_dir_read_name(d)) != NULL) {
		g_autofree char *s = g_build_filename(src, name, NULL);
		g_autofree char *t = g_build_filename(dst, name, NULL);
		GStatBuf st;

		if (g_str_has_prefix(name, "S.") || g_str_has_suffix(name, ".lock") ||
		    g_lstat(s, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			tu_copy_home(s, t);
		} else if (S_ISREG(st.st_mode)) {
			g_autoptr(GError) error = NULL;
			g_autofree char *data = NULL;
			gsize len;

			ck_assert_msg(g_file_get_contents(s, &data, &len, &error),
			    "cannot read %s: %s", s, error->message);
			ck_assert_msg(g_file_set_contents(t, data, (gssize)len,
			    &error), "cannot write %s: %s", t, error->message);
			(void)g_chmod(t, 0600);
		}
	}
	g_dir_close(d);
}

/* A gpgme context of the test's own on the GnuPG home dir, OpenPGP,
 * passphrases by loopback.  (transfer full): gpgme_release() */
static inline gpgme_ctx_t
tu_gpg_context(const char *dir)
{
	gpgme_ctx_t ctx = NULL;

	ck_assert_msg(gpgme_new(&ctx) == 0 &&
	    gpgme_set_protocol(ctx, GPGME_PROTOCOL_OpenPGP) == 0 &&
	    gpgme_ctx_set_engine_info(ctx, GPGME_PROTOCOL_OpenPGP, NULL, dir) ==
	    0, "cannot make a gpgme context for %s", dir);
	gpgme_set_pinentry_mode(ctx, GPGME_PINENTRY_MODE_LOOPBACK);
	return ctx;
}

/* A GBytes holding the bytes of a string, without the NUL.
 * (transfer full) */
static inline GBytes *
tu_bytes(const char *s)
{
	return g_bytes_new(s, strlen(s));
}

/* Replace every occurrence of from in s by to.  (transfer full) */
static inline char *
tu_replace(const char *s, const char *from, const char *to)
{
	g_auto(GStrv) parts = g_strsplit(s, from, -1);

	return g_strjoinv(to, parts);
}

/* Stop the GnuPG daemons of every GnuPG home under dir (a directory
 * holding a keyring or an agent socket). */
static inline void
tu_gpg_kill_all(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;
	gboolean is_home = FALSE;

	if (d == NULL)
		return;
	while ((name = g_dir_read_name(d)) != NULL) {
		g_autofree char *p = g_build_filename(dir, name, NULL);
		GStatBuf st;

		if (strcmp(name, "pubring.kbx") == 0 ||
		    strcmp(name, "pubring.gpg") == 0 ||
		    g_str_has_prefix(name, "S.gpg-agent"))
			is_home = TRUE;
		else if (g_lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			tu_gpg_kill_all(p);
	}
	g_dir_close(d);
	if (is_home)
		tu_gpg_kill(dir);
}

/* A post crafted by t/mkpost.sh with the given options (NULL-terminated),
 * its temporary files in tmp.  The test fails if mkpost.sh does.
 * (transfer full) */
static inline GBytes *
tu_mkpost(const char *tmp, const char *const *opts)
{
	g_autofree char *script = g_build_filename(tu_env("top_srcdir"), "t",
	    "mkpost.sh", NULL);
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_auto(GStrv) envp = g_get_environ();
	g_autoptr(GError) error = NULL;
	g_autofree char *out = NULL;
	g_autofree char *err = NULL;
	g_autofree char *cmd = NULL;
	int status = 0;

	envp = g_environ_setenv(envp, "FIXTURES", tu_env("FIXTURES"), TRUE);
	envp = g_environ_setenv(envp, "TMPDIR", tmp, TRUE);
	g_ptr_array_add(argv, (gpointer) "sh");
	g_ptr_array_add(argv, script);
	for (const char *const *o = opts; *o != NULL; o++)
		g_ptr_array_add(argv, (gpointer)*o);
	g_ptr_array_add(argv, NULL);
	cmd = g_strjoinv(" ", (char **)argv->pdata);
	ck_assert_msg(g_spawn_sync(NULL, (char **)argv->pdata, envp,
	    G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &error),
	    "%s: %s", cmd, error != NULL ? error->message : "?");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "%s: got exit status %d, want 0: %s", cmd, status, err);
	ck_assert_msg(out != NULL && *out != '\0', "%s: wrote nothing", cmd);
	return g_bytes_new(out, strlen(out));
}

/* Run a Check suite the way every test program does: TAP on stdout when
 * CK_TAP_LOG_FILE_NAME=- (make check sets it).  Every tu_tmpdir() is
 * made under one directory that is removed at the end, with the daemons
 * of any GnuPG home in it stopped, whatever became of the tests.
 * Returns the exit status. */
static inline int
tu_run(Suite *s)
{
	g_autoptr(GError) error = NULL;
	SRunner *sr = srunner_create(s);
	int failed;

	tu_root = g_dir_make_tmp("opm-test-XXXXXX", &error);
	if (tu_root == NULL) {
		g_printerr("cannot make a temporary directory: %s\n",
		    error->message);
		srunner_free(sr);
		return 1;
	}
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	tu_gpg_kill_all(tu_root);
	tu_rmtree(tu_root);
	g_clear_pointer(&tu_root, g_free);
	return failed == 0 ? 0 : 1;
}

#endif
