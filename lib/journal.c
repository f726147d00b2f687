/*
 * NAME
 *	journal - per-post state: replay cache and fan-out journal in one
 * SYNOPSIS
 *	opm_journal_key(), opm_journal_peek(), opm_journal_open(),
 *	opm_journal_state(), opm_journal_has(), opm_journal_claim(),
 *	opm_journal_commit_of(), opm_journal_record(),
 *	opm_journal_finish(), opm_journal_forget(), opm_journal_close()
 * DESCRIPTION
 *	Plain files rather than a database: every step is one atomic file
 *	system operation (create, rename over), each followed by
 *	fsync of the file and of its directory, so a crash at any point
 *	leaves either the old or the new state and never needs recovery code.
 *	Every copy of a post is claimed (a small file written) before the
 *	first is sent, with one directory sync for them all, and recorded
 *	(its claim renamed) the moment the MTA took it: a full disk stops the
 *	fan-out before anything goes out, and recording needs no space.  The
 *	renames are made durable with the state file at the end of the post;
 *	a process killed meanwhile loses none of them (they are in the
 *	kernel), only a machine failing before that sync can.
 *	flock() on the lock file serialises fan-outs of one post and is
 *	released by the kernel when a process dies.  Entries are spread over
 *	256 buckets; opening an entry sweeps the expired ones of its bucket,
 *	so the store stays bounded without a separate cleaner.
 * DIAGNOSTICS
 *	OPM_ERROR_IO when the state directory cannot be used (disk full,
 *	permissions): callers turn that into a temporary failure.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "journal.h"

struct OpmJournal {
	char *dir;
	int fd;     /* lock file, locked */
	int dir_fd; /* the entry directory, for commits */
	OpmPostState state;
};

char *
opm_journal_key(const char *list_address, const char *fpr, gint64 sig_time,
    GBytes *signed_data)
{
	g_autoptr(GChecksum) c = g_checksum_new(G_CHECKSUM_SHA256);
	g_autofree char *inner = g_compute_checksum_for_bytes(
	    G_CHECKSUM_SHA256, signed_data);
	g_autofree char *text = g_strdup_printf("%s\n%s\n%" G_GINT64_FORMAT
	    "\n%s", list_address, fpr, sig_time, inner);

	g_checksum_update(c, (const guchar *)text, -1);
	return g_strdup(g_checksum_get_string(c));
}

static char *
bucket_dir(const char *state_dir, const char *list, const char *key)
{
	char bucket[3] = {key[0], key[1], '\0'};
	g_autofree char *l = g_ascii_strdown(list, -1);

	g_strdelimit(l, "/", '_');
	return g_build_filename(state_dir, "posts", l, bucket, NULL);
}

/* Parse "pending TIME" / "done TIME". */
static OpmPostState
parse_state(const char *text, gint64 *when)
{
	char word[16] = "";
	long long t = 0;

	if (text == NULL || sscanf(text, "%15s %lld", word, &t) != 2)
		return OPM_POST_NEW;
	*when = t;
	if (strcmp(word, "done") == 0)
		return OPM_POST_DONE;
	if (strcmp(word, "pending") == 0)
		return OPM_POST_PENDING;
	return OPM_POST_NEW;
}

static gboolean
expired(OpmPostState s, gint64 when, gint64 now, gint64 done_lifetime,
    gint64 pending_lifetime)
{
	if (s == OPM_POST_DONE)
		return now - when > done_lifetime;
	if (s == OPM_POST_PENDING)
		return now - when > pending_lifetime;
	return TRUE;
}

static void
remove_entry(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *name;

	if (d != NULL)
		while ((name = g_dir_read_name(d)) != NULL) {
			g_autofree char *p = g_build_filename(dir, name, NULL);

			(void)g_unlink(p);
		}
	(void)g_rmdir(dir);
}

/* Remove expired entries of a bucket; skip entries that are locked. */
static void
sweep(const char *bucket, gint64 now, gint64 done_lifetime,
    gint64 pending_lifetime)
{
	g_autoptr(GDir) d = g_dir_open(bucket, 0, NULL);
	const char *name;

	if (d == NULL)
		return;
	while ((name = g_dir_read_name(d)) != NULL) {
		g_autofree char *dir = g_build_filename(bucket, name, NULL);
		g_autofree char *sf = g_build_filename(dir, "state", NULL);
		g_autofree char *lf = g_build_filename(dir, "lock", NULL);
		g_autofree char *text = NULL;
		gint64 when = 0;
		OpmPostState s;
		int fd;

		if (!g_file_get_contents(sf, &text, NULL, NULL))
			continue;
		s = parse_state(text, &when);
		if (!expired(s, when, now, done_lifetime, pending_lifetime))
			continue;
		fd = open(lf, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			remove_entry(dir);
		close(fd);
	}
}

OpmPostState
opm_journal_peek(const char *state_dir, const char *list, const char *key,
    gint64 now, gint64 done_lifetime, gint64 pending_lifetime, gint64 *when,
    GError **error)
{
	g_autofree char *bucket = bucket_dir(state_dir, list, key);
	g_autofree char *sf = g_build_filename(bucket, key, "state", NULL);
	g_autofree char *lf = g_build_filename(bucket, key, "lock", NULL);
	g_autofree char *text = NULL;
	gint64 t = 0;
	OpmPostState s;
	int fd;

	fd = open(lf, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		if (e == ENOENT || e == ENOTDIR)
			return OPM_POST_NEW;
		g_set_error(error, OPM_ERROR, OPM_ERROR_IO, "%s: %s", sf,
		    g_strerror(e));
		return OPM_POST_ERROR;
	}
	if (!g_file_get_contents(sf, &text, NULL, NULL)) {
		/* opened but never written: a fan-out starting, or one that
		 * died before its first write */
		s = flock(fd, LOCK_SH | LOCK_NB) != 0 ? OPM_POST_BUSY :
		    OPM_POST_NEW;
		close(fd);
		return s;
	}
	s = parse_state(text, &t);
	if (expired(s, t, now, done_lifetime, pending_lifetime))
		s = OPM_POST_NEW;
	else if (s == OPM_POST_PENDING && flock(fd, LOCK_SH | LOCK_NB) != 0)
		s = OPM_POST_BUSY;
	close(fd);
	if (when != NULL)
		*when = t;
	return s;
}

static gboolean
sync_dir(const char *dir, GError **error)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) != 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		g_set_error(error, OPM_ERROR, OPM_ERROR_IO, "%s: %s", dir,
		    g_strerror(e));
		return FALSE;
	}
	close(fd);
	return TRUE;
}

/* Write path atomically: temp file, fsync, rename, fsync directory. */
static gboolean
write_file(const char *dir, const char *name, const char *text,
    GError **error)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);
	g_autofree char *tmp = g_strdup_printf("%s.tmp.%ld", path,
	    (long)getpid());
	gsize len = strlen(text);
	int fd, e = 0;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		e = errno;
	else if (write(fd, text, len) != (ssize_t)len)
		e = errno != 0 ? errno : ENOSPC;
	else if (fsync(fd) != 0)
		e = errno;
	if (fd >= 0 && close(fd) != 0 && e == 0)
		e = errno;
	if (e == 0 && rename(tmp, path) != 0)
		e = errno;
	if (e != 0) {
		(void)g_unlink(tmp);
		g_set_error(error, OPM_ERROR, OPM_ERROR_IO, "%s: %s", path,
		    g_strerror(e));
		return FALSE;
	}
	return sync_dir(dir, error);
}

OpmJournal *
opm_journal_open(const char *state_dir, const char *list, const char *key,
    gint64 now, gint64 done_lifetime, gint64 pending_lifetime,
    GError **error)
{
	g_autofree char *bucket = bucket_dir(state_dir, list, key);
	g_autofree char *dir = g_build_filename(bucket, key, NULL);
	g_autofree char *sf = g_build_filename(dir, "state", NULL);
	g_autofree char *lf = g_build_filename(dir, "lock", NULL);
	g_autofree char *text = NULL;
	OpmJournal *j;
	gint64 when = 0;
	int fd, e;

	if (g_mkdir_with_parents(bucket, 0700) != 0) {
		e = errno;
		g_set_error(error, OPM_ERROR, OPM_ERROR_IO, "%s: %s", bucket,
		    g_strerror(e));
		return NULL;
	}
	sweep(bucket, now, done_lifetime, pending_lifetime);
	for (;;) {
		struct stat st1, st2;

		if (g_mkdir(dir, 0700) != 0 && errno != EEXIST) {
			e = errno;
			g_set_error(error, OPM_ERROR, OPM_ERROR_IO, "%s: %s", dir,
			    g_strerror(e));
			return NULL;
		}
		fd = open(lf, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0) {
			e = errno;
			if (e == ENOENT)
				continue; /* swept under us: again */
			g_set_error(error, OPM_ERROR, OPM_ERROR_IO, "%s: %s", lf,
			    g_strerror(e));
			return NULL;
		}
		if (flock(fd, LOCK_EX) != 0) {
			e = errno;
			close(fd);
			g_set_error(error, OPM_ERROR, OPM_ERROR_IO, "%s: %s", lf,
			    g_strerror(e));
			return NULL;
		}
		/* still the file at that name, not one swept and recreated? */
		if (fstat(fd, &st1) == 0 && stat(lf, &st2) == 0 &&
		    st1.st_ino == st2.st_ino && st1.st_dev == st2.st_dev)
			break;
		close(fd);
	}
	j = g_new0(OpmJournal, 1);
	j->dir = g_steal_pointer(&dir);
	j->fd = fd;
	j->dir_fd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dir_fd < 0) {
		e = errno;
		g_set_error(error, OPM_ERROR, OPM_ERROR_IO, "%s: %s", j->dir,
		    g_strerror(e));
		opm_journal_close(j);
		return NULL;
	}
	(void)g_file_get_contents(sf, &text, NULL, NULL);
	j->state = parse_state(text, &when);
	if (j->state != OPM_POST_NEW &&
	    expired(j->state, when, now, done_lifetime, pending_lifetime)) {
		/* an expired entry: start afresh */
		g_autoptr(GDir) d = g_dir_open(j->dir, 0, NULL);
		const char *name;

		while (d != NULL && (name = g_dir_read_name(d)) != NULL)
			if (strcmp(name, "lock") != 0) {
				g_autofree char *p = g_build_filename(j->dir,
				    name, NULL);

				(void)g_unlink(p);
			}
		j->state = OPM_POST_NEW;
	}
	if (j->state == OPM_POST_NEW) {
		g_autofree char *t = g_strdup_printf("pending %" G_GINT64_FORMAT
		    "\n", now);

		if (!write_file(j->dir, "state", t, error)) {
			opm_journal_forget(j);
			opm_journal_close(j);
			return NULL;
		}
	}
	return j;
}

OpmPostState
opm_journal_state(OpmJournal *j)
{
	return j->state;
}

static char *
copy_file(const char *copy_id)
{
	g_autofree char *h = g_compute_checksum_for_string(G_CHECKSUM_SHA256,
	    copy_id, -1);

	return g_strdup_printf("c-%.32s", h);
}

gboolean
opm_journal_has(OpmJournal *j, const char *copy_id)
{
	g_autofree char *name = copy_file(copy_id);
	g_autofree char *path = g_build_filename(j->dir, name, NULL);

	return g_file_test(path, G_FILE_TEST_EXISTS);
}

/* Create the claim file of copy_id, unsynced; TRUE when it exists.
 * *made: it was created now. */
static gboolean
make_claim(OpmJournal *j, const char *copy_id, gboolean *made,
    GError **error)
{
	g_autofree char *name = copy_file(copy_id);
	g_autofree char *path = g_strdup_printf("%s/%s.claim", j->dir, name);
	g_autofree char *text = g_strdup_printf("%s\n", copy_id);
	gsize len = strlen(text);
	int fd, e = 0;

	*made = FALSE;
	if (g_file_test(path, G_FILE_TEST_EXISTS))
		return TRUE;
	*made = TRUE;
	/* with content, so that a full disk refuses the claim */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		e = errno;
	else if (write(fd, text, len) != (ssize_t)len)
		e = errno != 0 ? errno : ENOSPC;
	if (fd >= 0 && close(fd) != 0 && e == 0)
		e = errno;
	if (e != 0) {
		(void)g_unlink(path);
		g_set_error(error, OPM_ERROR, OPM_ERROR_IO, "%s: %s", path,
		    g_strerror(e));
		return FALSE;
	}
	return TRUE;
}

gboolean
opm_journal_claim(OpmJournal *j, const char *copy_id, GError **error)
{
	gboolean made;

	if (!make_claim(j, copy_id, &made, error))
		return FALSE;
	return !made || sync_dir(j->dir, error);
}

gboolean
opm_journal_claim_all(OpmJournal *j, const char *const *ids, GError **error)
{
	gboolean made, any = FALSE;

	for (const char *const *id = ids; *id != NULL; id++) {
		if (opm_journal_has(j, *id))
			continue;
		if (!make_claim(j, *id, &made, error))
			return FALSE;
		any = any || made;
	}
	return !any || sync_dir(j->dir, error);
}

void
opm_journal_commit_of(OpmJournal *j, const char *copy_id, OpmCommit *out)
{
	g_autofree char *name = copy_file(copy_id);

	out->record = g_build_filename(j->dir, name, NULL);
	out->claim = g_strconcat(out->record, ".claim", NULL);
	out->dir_fd = j->dir_fd;
}

gboolean
opm_journal_record(OpmJournal *j, const char *copy_id, GError **error)
{
	g_autofree char *name = copy_file(copy_id);
	g_autofree char *text = g_strdup_printf("%s\n", copy_id);
	g_autofree char *claim = g_build_filename(j->dir, name, NULL);
	g_autofree char *path = g_strdup(claim);
	char *tmp = claim;

	claim = g_strconcat(tmp, ".claim", NULL);
	g_free(tmp);
	if (rename(claim, path) == 0)
		return TRUE; /* synced with the state at the end of the post */
	return write_file(j->dir, name, text, error);
}

gboolean
opm_journal_finish(OpmJournal *j, gint64 now, GError **error)
{
	g_autofree char *t = g_strdup_printf("done %" G_GINT64_FORMAT "\n", now);

	if (!write_file(j->dir, "state", t, error))
		return FALSE;
	j->state = OPM_POST_DONE;
	return TRUE;
}

void
opm_journal_forget(OpmJournal *j)
{
	if (j != NULL && j->dir != NULL)
		remove_entry(j->dir);
}

void
opm_journal_close(OpmJournal *j)
{
	if (j == NULL)
		return;
	if (j->dir_fd > 0)
		close(j->dir_fd);
	if (j->fd >= 0)
		close(j->fd); /* releases the lock */
	g_free(j->dir);
	g_free(j);
}
