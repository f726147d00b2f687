/*
 * NAME
 *	journal.h - per-post state: replay cache and fan-out journal in one
 * DESCRIPTION
 *	A post is identified by its replay key (list, signer, signature time,
 *	digest of the signed data), which is the same on every retry of the
 *	sending MTA whatever headers the MTA adds.  Its entry is a directory
 *	STATE/posts/LIST/xx/KEY holding a "state" file ("pending TIME" while
 *	copies are being queued, "done TIME" once all are) and a "copies"
 *	file with one line per copy claimed, marked when it was queued.  A
 *	done entry makes the post a replay; a pending entry whose lock is
 *	free makes it a retry, which sends only the copies not yet recorded.
 *	A "lock" file beside it, never replaced, is flock()ed while a fan-out
 *	runs, so that a crash releases the lock and two copies of one post
 *	never fan out at once.
 */
#ifndef OPM_JOURNAL_H
#define OPM_JOURNAL_H

#include "opm.h"

typedef enum {
	OPM_POST_NEW,     /* never seen (or expired) */
	OPM_POST_PENDING, /* accepted, fan-out not finished: a retry */
	OPM_POST_BUSY,    /* pending and being fanned out right now */
	OPM_POST_DONE,    /* fanned out: a replay */
	OPM_POST_ERROR,   /* the state directory cannot be used */
} OpmPostState;

typedef struct OpmJournal OpmJournal;

/* Replay key: hex SHA-256 over list, signer, signature time and the
 * signed data's digest.  (transfer full) */
char *opm_journal_key(const char *list_address, const char *fpr,
    gint64 sig_time, GBytes *signed_data);

/* Look at a post's state without changing anything.  done_lifetime: how
 * long a done entry counts; pending_lifetime: how long a pending one does.
 * *when: when the entry was last written. */
OpmPostState opm_journal_peek(const char *state_dir, const char *list,
    const char *key, gint64 now, gint64 done_lifetime,
    gint64 pending_lifetime, gint64 *when, GError **error);

/* Open and lock the entry, creating it "pending".  Blocks while another
 * process holds it.  NULL with error (OPM_ERROR_IO) on trouble.
 * (transfer full): opm_journal_close(). */
OpmJournal *opm_journal_open(const char *state_dir, const char *list,
    const char *key, gint64 now, gint64 done_lifetime,
    gint64 pending_lifetime, GError **error);

/* State found when the entry was opened: NEW, PENDING or DONE. */
OpmPostState opm_journal_state(OpmJournal *j);

/* Whether copy_id (e.g. "copy:alice@example.org") was recorded. */
gboolean opm_journal_has(OpmJournal *j, const char *copy_id);

/* Before sending copy_id: write a claim durably.  Fails early, before
 * anything is sent, when the state directory is full. */
gboolean opm_journal_claim(OpmJournal *j, const char *copy_id,
    GError **error);

/* Claim every id of the NULL-terminated ids not yet recorded, with one
 * directory sync for them all.  Before the first copy goes out. */
gboolean opm_journal_claim_all(OpmJournal *j, const char *const *ids,
    GError **error);

/* The commit that turns copy_id's claim into its record, for the
 * injector to carry out the moment the MTA took the copy.  Clear it with
 * opm_commit_clear(). */
void opm_journal_commit_of(OpmJournal *j, const char *copy_id,
    OpmCommit *out);

/* After the MTA took copy_id: mark its claim as the record (one byte
 * written in place, which needs no new space, synced with the state at
 * the end of the post), or append the record durably when there is no
 * claim. */
gboolean opm_journal_record(OpmJournal *j, const char *copy_id,
    GError **error);

/* Mark the post done (durably). */
gboolean opm_journal_finish(OpmJournal *j, gint64 now, GError **error);

/* Forget the post entirely: nothing was sent. */
void opm_journal_forget(OpmJournal *j);

void opm_journal_close(OpmJournal *j); /* unlocks; accepts NULL */

#endif
