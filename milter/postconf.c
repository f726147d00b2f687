/*
 * NAME
 *	postconf - read one Postfix parameter, where Postfix is installed
 * SYNOPSIS
 *	opmf_postconf_get()
 * DESCRIPTION
 *	Runs "postconf -h NAME" (from PATH, else /usr/sbin) and returns its
 *	output, so that -n can hold the configuration against the MTA's:
 *	the value in force, default or set in main.cf.  postconf itself
 *	honours MAIL_CONFIG, so a Postfix instance with its own configuration
 *	directory is read when that names it.
 * DIAGNOSTICS
 *	NULL when there is no postconf, or it fails (unknown parameter, no
 *	readable main.cf): the caller then checks nothing.
 */
#include "config.h"

#include <sys/wait.h>

#include "opmf.h"

char *
opmf_postconf_get(const char *name)
{
	g_autofree char *prog = g_find_program_in_path("postconf");
	g_autofree char *out = NULL;
	char *argv[4] = {NULL, "-h", (char *)name, NULL};
	int status = 0;

	if (prog == NULL && g_file_test("/usr/sbin/postconf",
	    G_FILE_TEST_IS_EXECUTABLE))
		prog = g_strdup("/usr/sbin/postconf");
	if (prog == NULL)
		return NULL;
	argv[0] = prog;
	if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL,
	    NULL, &out, NULL, &status, NULL) || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return NULL;
	return g_strdup(g_strstrip(out));
}
