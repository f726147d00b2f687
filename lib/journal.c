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
 *	system operation (create, rename over, append, a one-byte write in
 *	place), synced, so a crash at any point leaves either the old or
 *	the new state and never needs recovery code.
 *	Every copy of a post is claimed before the first is sent: one line
 *	"c COPY-ID" each in the entry's "copies" file, all appended in one
 *	write and synced once.  A copy is recorded the moment the MTA took
 *	it by overwriting the "c" of its line with "d": a full disk stops the
 *	fan-out before anything goes out, and recording needs no space.  A
 *	file per copy would cost a file creation each, which on a journaling
 *	file system costs more than the copy's encryption.  The marks are
 *	made durable with the state file at the end of the post; a process
 *	killed meanwhile loses none of them (they are in the kernel), only a
 *	machine failing before that sync can.  A line cut short by a crash
 *	was never synced and is dropped when the entry is next opened.
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
	int fd;           /* lock file, locked */
	int copies_fd;    /* the copies file */
	gboolean copies_synced; /* its directory entry is durable */
	GHashTable *slots; /* copy ID -> offset of its line + 1 */
	gsize end;        /* length of the copies file */
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

/* Read the copies file into j->slots; a line cut short by a crash (it
 * was never synced, so nothing depends on it) is cut off. */
static gboolean
load_copies(OpmJournal *j, GError **error)
{
	g_autofree char *path = g_build_filename(j->dir, "copies", NULL);
	g_autofree char *text = NULL;
	g_autoptr(GError) rerr = NULL;
	gsize len = 0, i = 0;
	int e;

	j->copies_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (j->copies_fd < 0)
		goto FAIL;
	if (!g_file_get_contents(path, &text, &len, &rerr)) {
		g_set_error(error, OPM_ERROR, OPM_ERROR_IO, "%s", rerr->message);
		return FALSE;
	}
	j->copies_synced = len > 0;
	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);

		if (nl == NULL || nl - (text + i) < 3 || text[i + 1] != ' ' ||
		    (text[i] != 'c' && text[i] != 'd'))
			break;
		g_hash_table_insert(j->slots, g_strndup(text + i + 2,
		    (gsize)(nl - (text + i) - 2)), GSIZE_TO_POINTER(i + 1));
		i = (gsize)(nl - text) + 1;
	}
	if (i < len && ftruncate(j->copies_fd, (off_t)i) != 0)
		goto FAIL;
	j->end = i;
	return TRUE;
FAIL:
	e = errno;
	g_set_error(error, OPM_ERROR, OPM_ERROR_IO, "%s: %s", path,
	    g_strerror(e));
	return FALSE;
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

	if (!opm_mkdir(bucket, 0700, error))
		return NULL;
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
	j->copies_fd = -1;
	j->slots = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
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
	if (!load_copies(j, error)) {
		opm_journal_close(j);
		return NULL;
	}
	if (j->state == OPM_POST_NEW) {
		g_autofree char *t = g_strdup_printf("pending %" G_GINT64_FORMAT
		    "\n", now);

		if (!write_file(j->dir, "state", t, error)) {
			opm_journal_forget(j);
			opm_journal_close(j);
			return NULL;
		}
		/* that synced the directory with the new copies file in it */
		j->copies_synced = TRUE;
	}
	return j;
}

OpmPostState
opm_journal_state(OpmJournal *j)
{
	return j->state;
}

/* Offset of copy_id's line in the copies file, or -1. */
static gint64
slot_of(OpmJournal *j, const char *copy_id)
{
	gpointer v = g_hash_table_lookup(j->slots, copy_id);

	return v != NULL ? (gint64)GPOINTER_TO_SIZE(v) - 1 : -1;
}

gboolean
opm_journal_has(OpmJournal *j, const char *copy_id)
{
	gint64 at = slot_of(j, copy_id);
	char mark = 0;

	/* read from the file: the hand-over process marks it */
	return at >= 0 && pread(j->copies_fd, &mark, 1, (off_t)at) == 1 &&
	    mark == 'd';
}

/* Append lines for ids (mark 'c' or 'd') to the copies file durably, in
 * one write: a full disk refuses them all, and leaves nothing behind. */
static gboolean
append_slots(OpmJournal *j, GPtrArray *ids, char mark, GError **error)
{
	g_autoptr(GString) text = g_string_new(NULL);
	g_autofree char *path = NULL;
	gsize off = 0;
	int e = 0;

	if (ids->len == 0)
		return TRUE;
	for (guint i = 0; i < ids->len; i++)
		g_string_append_printf(text, "%c %s\n", mark,
		    (char *)ids->pdata[i]);
	while (off < text->len && e == 0) {
		ssize_t n = pwrite(j->copies_fd, text->str + off,
		    text->len - off, (off_t)(j->end + off));

		if (n < 0 && errno != EINTR)
			e = errno;
		else if (n == 0)
			e = ENOSPC;
		else if (n > 0)
			off += (gsize)n;
	}
	if (e == 0 && fdatasync(j->copies_fd) != 0)
		e = errno;
	if (e != 0) {
		(void)ftruncate(j->copies_fd, (off_t)j->end);
		path = g_build_filename(j->dir, "copies", NULL);
		g_set_error(error, OPM_ERROR, OPM_ERROR_IO, "%s: %s", path,
		    g_strerror(e));
		return FALSE;
	}
	/* a new file needs its directory entry synced too, once */
	if (!j->copies_synced && !sync_dir(j->dir, error))
		return FALSE;
	j->copies_synced = TRUE;
	off = j->end;
	for (guint i = 0; i < ids->len; i++) {
		g_hash_table_insert(j->slots, g_strdup(ids->pdata[i]),
		    GSIZE_TO_POINTER(off + 1));
		off += strlen(ids->pdata[i]) + 3;
	}
	j->end = off;
	return TRUE;
}

gboolean
opm_journal_claim(OpmJournal *j, const char *copy_id, GError **error)
{
	const char *one[2] = {copy_id, NULL};

	return opm_journal_claim_all(j, one, error);
}

gboolean
opm_journal_claim_all(OpmJournal *j, const char *const *ids, GError **error)
{
	g_autoptr(GPtrArray) fresh = g_ptr_array_new();
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

	for (const char *const *id = ids; *id != NULL; id++)
		if (slot_of(j, *id) < 0 && g_hash_table_add(seen, (gpointer)*id))
			g_ptr_array_add(fresh, (gpointer)*id);
	return append_slots(j, fresh, 'c', error);
}

void
opm_journal_commit_of(OpmJournal *j, const char *copy_id, OpmCommit *out)
{
	out->fd = j->copies_fd;
	out->offset = slot_of(j, copy_id);
	g_warn_if_fail(out->offset >= 0);
}

gboolean
opm_journal_record(OpmJournal *j, const char *copy_id, GError **error)
{
	OpmCommit c = {j->copies_fd, slot_of(j, copy_id)};
	g_autoptr(GPtrArray) one = g_ptr_array_new();

	if (c.offset >= 0 && opm_commit_run(&c))
		return TRUE; /* synced with the state at the end of the post */
	if (c.offset < 0) {
		g_ptr_array_add(one, (gpointer)copy_id);
		return append_slots(j, one, 'd', error);
	}
	g_set_error(error, OPM_ERROR, OPM_ERROR_IO, "%s/copies: %s", j->dir,
	    g_strerror(errno));
	return FALSE;
}

gboolean
opm_journal_finish(OpmJournal *j, gint64 now, GError **error)
{
	g_autofree char *t = g_strdup_printf("done %" G_GINT64_FORMAT "\n", now);

	/* the records the hand-over processes made, before the state */
	if (fdatasync(j->copies_fd) != 0) {
		int e = errno;

		g_set_error(error, OPM_ERROR, OPM_ERROR_IO, "%s/copies: %s",
		    j->dir, g_strerror(e));
		return FALSE;
	}
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
	if (j->copies_fd >= 0)
		close(j->copies_fd);
	g_clear_pointer(&j->slots, g_hash_table_unref);
	if (j->fd >= 0)
		close(j->fd); /* releases the lock */
	g_free(j->dir);
	g_free(j);
}
