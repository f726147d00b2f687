/*
 * NAME
 *	wkd - the OpenPGP Web Key Directory of the list addresses
 * SYNOPSIS
 *	opm_wkd_hash(), opm_wkd_write()
 * DESCRIPTION
 *	The hash is SHA-1 over the local part mapped to lower case (ASCII
 *	only, as the draft asks), encoded in z-base-32 (RFC 6189 section
 *	5.1.6): 160 bits, 32 characters.  The policy files are empty, which
 *	says that the directory publishes keys and takes no submissions.
 * DIAGNOSTICS
 *	OPM_ERROR_IO with the path that could not be written.
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "wkd.h"

static const char zbase32[] = "ybndrfg8ejkmcpqxot1uwisza345h769";

char *
opm_wkd_hash(const char *address)
{
	const char *at = strrchr(address, '@');
	g_autofree char *local = g_ascii_strdown(address,
	    at != NULL ? at - address : -1);
	GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA1);
	guint8 digest[20];
	gsize len = sizeof(digest);
	GString *out = g_string_sized_new(33);
	guint32 acc = 0;
	int bits = 0;

	g_checksum_update(sum, (const guchar *)local, (gssize)strlen(local));
	g_checksum_get_digest(sum, digest, &len);
	g_checksum_free(sum);
	for (gsize i = 0; i < len; i++) {
		acc = (acc << 8) | digest[i];
		bits += 8;
		while (bits >= 5) {
			g_string_append_c(out, zbase32[(acc >> (bits - 5)) & 31]);
			bits -= 5;
		}
	}
	if (bits > 0)
		g_string_append_c(out, zbase32[(acc << (5 - bits)) & 31]);
	return g_string_free(out, FALSE);
}

static gboolean
put(const char *dir, const char *name, const void *data, gsize n,
    GError **error)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);
	g_autoptr(GError) err = NULL;

	if (!opm_mkdir(dir, 0755, error))
		return FALSE;
	if (!g_file_set_contents_full(path, data, (gssize)n,
	    G_FILE_SET_CONTENTS_CONSISTENT, 0644, &err)) {
		g_set_error(error, OPM_ERROR, OPM_ERROR_IO, "%s", err->message);
		return FALSE;
	}
	return TRUE;
}

gboolean
opm_wkd_write(const char *dir, const char *address, GBytes *key,
    GError **error)
{
	const char *at = strrchr(address, '@');
	g_autofree char *domain = NULL;
	g_autofree char *hash = opm_wkd_hash(address);
	g_autofree char *direct = NULL;
	g_autofree char *advanced = NULL;
	gsize n;
	const void *p = g_bytes_get_data(key, &n);

	if (at == NULL || at[1] == '\0' || strchr(at + 1, '/') != NULL ||
	    at[1] == '.') {
		g_set_error(error, OPM_ERROR, OPM_ERROR_IO,
		    "%s: not an address with a domain", address);
		return FALSE;
	}
	domain = g_ascii_strdown(at + 1, -1);
	direct = g_build_filename(dir, domain, ".well-known", "openpgpkey",
	    NULL);
	advanced = g_strdup_printf("%s/openpgpkey.%s/.well-known/openpgpkey/%s",
	    dir, domain, domain);
	for (int i = 0; i < 2; i++) {
		const char *base = i == 0 ? direct : advanced;
		g_autofree char *hu = g_build_filename(base, "hu", NULL);

		if (!put(base, "policy", "", 0, error) ||
		    !put(hu, hash, p, n, error))
			return FALSE;
	}
	return TRUE;
}
