/*
 * NAME
 *	replay.h - the replay cache of accepted signatures
 * DESCRIPTION
 *	One small file per accepted signature under
 *	STATE/replay/LIST/xx/KEY, created with O_EXCL so that two concurrent
 *	copies of the same post cannot both be accepted.  The file holds the
 *	time of acceptance; entries older than the list's lifetime are
 *	ignored and removed as the cache is used.
 */
#ifndef OPM_REPLAY_H
#define OPM_REPLAY_H

#include "opm.h"

typedef enum {
	OPM_REPLAY_NEW,  /* claimed now: the signature was not seen before */
	OPM_REPLAY_SEEN, /* accepted before, at *first_seen */
	OPM_REPLAY_FAIL, /* the cache could not be used: error is set */
} OpmReplayStatus;

/* Key of a signature: hex SHA-256 over list, signer, time and the signed
 * data's digest.  (transfer full) */
char *opm_replay_key(const char *list_address, const char *fpr,
    gint64 sig_time, GBytes *signed_data);

/* Claim key for list.  An existing entry younger than lifetime is a replay.
 * Sweeps expired entries in the same bucket. */
OpmReplayStatus opm_replay_claim(const char *state_dir,
    const char *list_address, const char *key, gint64 now, gint64 lifetime,
    gint64 *first_seen, GError **error);

/* Forget a claim (the post was not accepted after all). */
void opm_replay_release(const char *state_dir, const char *list_address,
    const char *key);

#endif
