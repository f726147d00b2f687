/*
 * NAME
 *	priv - become the filter's user
 * SYNOPSIS
 *	opmf_lookup_user(), opmf_drop_privileges()
 * DESCRIPTION
 *	Shared by the daemon and openpgp-milter-admin, so that both leave
 *	files in a list's GnuPG home and state owned by the same user:
 *	initgroups, setgid, setuid, and a check that root cannot be got
 *	back.  Nothing to do when the process already runs as that user.
 * DIAGNOSTICS
 *	Exit codes from <sysexits.h>, the reason logged as critical.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sysexits.h>
#include <unistd.h>

#include "opmf.h"

struct passwd *
opmf_lookup_user(const char *spec, gid_t *gid)
{
	g_auto(GStrv) ug = g_strsplit(spec, ":", 2);
	struct passwd *pw = getpwnam(ug[0]);

	if (pw == NULL) {
		g_critical("unknown user %s", ug[0]);
		return NULL;
	}
	*gid = pw->pw_gid;
	if (ug[1] != NULL) {
		struct group *gr = getgrnam(ug[1]);

		if (gr == NULL) {
			g_critical("unknown group %s", ug[1]);
			return NULL;
		}
		*gid = gr->gr_gid;
	}
	return pw;
}

int
opmf_drop_privileges(const char *spec)
{
	gid_t gid;
	struct passwd *pw = opmf_lookup_user(spec, &gid);

	if (pw == NULL)
		return EX_NOUSER;
	if (geteuid() == pw->pw_uid)
		return EX_OK;
	if (geteuid() != 0) {
		g_critical("only root can become user %s", pw->pw_name);
		return EX_NOPERM;
	}
	/* a LogFile the daemon created as root stays writable after */
	opmf_log_chown(pw->pw_uid, gid);
	if (initgroups(pw->pw_name, gid) != 0 || setgid(gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		g_critical("cannot become user %s: %s", spec, g_strerror(errno));
		return EX_OSERR;
	}
	if (setuid(0) == 0) {
		g_critical("privileges could not be dropped");
		return EX_SOFTWARE;
	}
	return EX_OK;
}
