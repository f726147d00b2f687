/*
 * NAME
 *	smfi - the seam around libmilter
 * SYNOPSIS
 *	opmf_smfi, opmf_smfi_real
 * DESCRIPTION
 *	The callbacks call libmilter only through opmf_smfi.  In the daemon it
 *	points at opmf_smfi_real, thin wrappers of the smfi_* functions; -t
 *	points it at its own table (testmode.c).
 */
#include "config.h"

#include "opmf.h"

static char *
real_getsymval(SMFICTX *ctx, char *name)
{
	return smfi_getsymval(ctx, name);
}

static int
real_setpriv(SMFICTX *ctx, void *priv)
{
	return smfi_setpriv(ctx, priv);
}

static void *
real_getpriv(SMFICTX *ctx)
{
	return smfi_getpriv(ctx);
}

static int
real_setreply(SMFICTX *ctx, const char *rcode, const char *xcode,
    char **lines)
{
	char *l[32] = {NULL};
	int n = 0;

	for (; lines[n] != NULL && n < 31; n++)
		l[n] = lines[n];
	if (n <= 1)
		return smfi_setreply(ctx, (char *)rcode, (char *)xcode,
		    n == 1 ? l[0] : NULL);
	/* smfi_setmlreply stops at the first NULL argument */
	return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3],
	    l[4], l[5], l[6], l[7], l[8], l[9], l[10], l[11], l[12], l[13],
	    l[14], l[15], l[16], l[17], l[18], l[19], l[20], l[21], l[22],
	    l[23], l[24], l[25], l[26], l[27], l[28], l[29], l[30], NULL);
}

static int
real_delrcpt(SMFICTX *ctx, char *rcpt)
{
	return smfi_delrcpt(ctx, rcpt);
}

static int
real_progress(SMFICTX *ctx)
{
	return smfi_progress(ctx);
}

const OpmfSmfi opmf_smfi_real = {
	.getsymval = real_getsymval,
	.setpriv = real_setpriv,
	.getpriv = real_getpriv,
	.setreply = real_setreply,
	.delrcpt = real_delrcpt,
	.progress = real_progress,
};

const OpmfSmfi *opmf_smfi = &opmf_smfi_real;
