/*
 * NAME
 *	wkd.h - the OpenPGP Web Key Directory of the list addresses
 * DESCRIPTION
 *	A Web Key Directory (draft-koch-openpgp-webkey-service) lets mail
 *	clients find the key of an address over HTTPS.  A key is published
 *	under the z-base-32 encoded SHA-1 of the lower-cased local part, in
 *	two layouts: the direct method under https://DOMAIN/ and the
 *	advanced method under https://openpgpkey.DOMAIN/.
 */
#ifndef OPM_WKD_H
#define OPM_WKD_H

#include "opm.h"

/* The 32-character hash of the local part of address.  (transfer full) */
char *opm_wkd_hash(const char *address);

/* Write key (binary) for address into dir: DOMAIN/.well-known/openpgpkey/
 * {hu/HASH,policy} for the direct method, openpgpkey.DOMAIN/.well-known/
 * openpgpkey/DOMAIN/{hu/HASH,policy} for the advanced one; each top
 * directory is the document root of that web host.  Files are written
 * mode 0644 by a rename.  FALSE with an OPM_ERROR_IO error. */
gboolean opm_wkd_write(const char *dir, const char *address, GBytes *key,
    GError **error);

#endif
