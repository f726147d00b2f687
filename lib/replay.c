/*
 * NAME
 *	replay - the replay cache of accepted signatures
 * SYNOPSIS
 *	opm_replay_key(), opm_replay_claim(), opm_replay_release()
 * DESCRIPTION
 *	Plain files, chosen over a database because each operation is one
 *	atomic create (O_CREAT|O_EXCL) in a directory the milter owns, which
 *	survives restarts and crashes without recovery code.  Entries are
 *	spread over 256 buckets by the first two hex digits of the key; each
 *	claim sweeps the expired entries of its own bucket, so the cache stays
 *	bounded without a separate cleaner.
 * DIAGNOSTICS
 *	OPM_ERROR_IO when the state directory cannot be used (full disk,
 *	permissions): callers turn that into a temporary failure.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "replay.h"

char *
opm_replay_key(const char *list_address, const char *fpr, gint64 sig_time,
    GBytes *signed_data)
{
	g_autoptr(GChecksum) c = g_checksum_new(G_CHECKSUM_SHA256);
	g_autofree char *inner = g_compute_checksum_for_bytes(
	    G_CHECKSUM_SHA256, signed_data);
	char t[32];

	g_snprintf(t, sizeof(t), "%" G_GINT64_FORMAT, sig_time);
	g_checksum_update(c, (const guchar *)list_address, -1);
	g_checksum_update(c, (const guchar *)"\n", 1);
	g_checksum_update(c, (const guchar *)fpr, -1);
	g_checksum_update(c, (const guchar *)"\n", 1);
	g_checksum_update(c, (const guchar *)t, -1);
	g_checksum_update(c, (const guchar *)"\n", 1);
	g_checksum_update(c, (const guchar *)inner, -1);
	return g_strdup(g_checksum_get_string(c));
}

/* STATE/replay/LIST/xx  (transfer full) */
static char *
bucket_dir(const char *state_dir, const char *list_address, const char *key)
{
	char bucket[3] = {key[0], key[1], '\0'};
	g_autofree char *list = g_ascii_strdown(list_address, -1);

	/* the address is validated at load; keep '/' out all the same */
	g_strdelimit(list, "/", '_');
	return g_build_filename(state_dir, "replay", list, bucket, NULL);
}

static gint64
read_time(const char *path)
{
	g_autofree char *text = NULL;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return -1;
	return g_ascii_strtoll(text, NULL, 10);
}

static void
sweep(const char *dir, gint64 now, gint64 lifetime)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *name;

	if (d == NULL)
		return;
	while ((name = g_dir_read_name(d)) != NULL) {
		g_autofree char *path = g_build_filename(dir, name, NULL);
		gint64 t = read_time(path);

		if (t >= 0 && now - t > lifetime)
			(void)g_unlink(path);
	}
}

OpmReplayStatus
opm_replay_claim(const char *state_dir, const char *list_address,
    const char *key, gint64 now, gint64 lifetime, gint64 *first_seen,
    GError **error)
{
	g_autofree char *dir = bucket_dir(state_dir, list_address, key);
	g_autofree char *path = g_build_filename(dir, key, NULL);
	char buf[32];
	int fd, len;

	if (g_mkdir_with_parents(dir, 0700) != 0) {
		int e = errno;

		g_set_error(error, OPM_ERROR, OPM_ERROR_IO,
		    "replay cache %s: %s", dir, g_strerror(e));
		return OPM_REPLAY_FAIL;
	}
	sweep(dir, now, lifetime);
	for (int attempt = 0; attempt < 2; attempt++) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0)
			break;
		if (errno == EEXIST) {
			gint64 t = read_time(path);

			if (t >= 0 && now - t <= lifetime) {
				if (first_seen != NULL)
					*first_seen = t;
				return OPM_REPLAY_SEEN;
			}
			/* expired or unreadable leftover: take it over */
			(void)g_unlink(path);
			continue;
		}
		break;
	}
	if (fd < 0) {
		int e = errno;

		g_set_error(error, OPM_ERROR, OPM_ERROR_IO,
		    "replay cache %s: %s", path, g_strerror(e));
		return OPM_REPLAY_FAIL;
	}
	len = g_snprintf(buf, sizeof(buf), "%" G_GINT64_FORMAT "\n", now);
	if (write(fd, buf, (size_t)len) != len || fsync(fd) != 0) {
		int e = errno;

		close(fd);
		(void)g_unlink(path);
		g_set_error(error, OPM_ERROR, OPM_ERROR_IO,
		    "replay cache %s: %s", path, g_strerror(e != 0 ? e : ENOSPC));
		return OPM_REPLAY_FAIL;
	}
	if (close(fd) != 0) {
		int e = errno;

		(void)g_unlink(path);
		g_set_error(error, OPM_ERROR, OPM_ERROR_IO,
		    "replay cache %s: %s", path, g_strerror(e));
		return OPM_REPLAY_FAIL;
	}
	return OPM_REPLAY_NEW;
}

void
opm_replay_release(const char *state_dir, const char *list_address,
    const char *key)
{
	g_autofree char *dir = bucket_dir(state_dir, list_address, key);
	g_autofree char *path = g_build_filename(dir, key, NULL);

	(void)g_unlink(path);
}
