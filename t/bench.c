/*
 * NAME
 *	bench - make bench: what a post costs on the milter's real code path
 * SYNOPSIS
 *	t/bench --keys DIR --tmp DIR --state DIR --results FILE
 *	    --series NAME:N[,N]... [--series ...] [--gpg PATH]
 *	    [--sizes BYTES[,BYTES]...] [--modes split,per-member]
 *	    [--only GLOB] [--budget SECONDS] [--max-post-seconds S]
 *	    [--quick] [--keep]
 *	t/bench --keys DIR --series NAME --sizes BYTES --make-posts DIR
 *	(t/bench.sh prepares the keys and runs it; see there.)
 * DESCRIPTION
 *	For every series of member keys (ed25519, RSA-3072), list size N,
 *	post size (a signed 10 KB text post, a signed 1 MB post with an
 *	attachment) and FanoutMode (split, per-member), the parent process
 *	writes a configuration and starts a fresh copy of itself per
 *	measurement, so that each figure comes from a process of its own:
 *
 *	  lat	posts one after the other on one connection, with the
 *		journal (a fresh StateDirectory, as in production): per-post
 *		latency, median and p95, posts per second, and the peak
 *		resident set size of the process (getrusage ru_maxrss);
 *	  nojournal  the same with the state left alone (write_state FALSE),
 *		to show what the journal's fsyncs cost;
 *	  conc	four connections (threads) at once: posts per second and
 *		peak RSS;
 *	  count	gpg processes per post: gpgme runs a wrapper instead of gpg
 *		(this program, called as "gpg" through a symlink), which
 *		runs the real gpg, then logs its wall time, peak RSS and
 *		operation.  gpgme starts gpg through an intermediate
 *		process, so gpg is never the milter's child and
 *		getrusage(RUSAGE_CHILDREN) cannot see it: the wrapper, gpg's
 *		parent, reports it;
 *	  floor	what gpgme alone needs, timed directly on one context: one
 *		verification of the post and one encryption of it per
 *		member to that member's key ("floor/member"); and one
 *		verification plus one sign+encrypt to all members at once
 *		("floor/1op", the least split mode can do); and one
 *		verification plus two sign+encrypts, each to every other
 *		member, side by side on two contexts ("floor/2op", the
 *		least split mode's two halves can do on two cores).
 *
 *	Each post goes through opmf_test_message(): the libmilter
 *	callbacks the daemon registers (connect, envelope, headers, body,
 *	end of message), the gate, the fan-out, copies injected with the
 *	dir: method into a tmpfs directory (emptied between posts, outside
 *	the timed region).  Every post is signed afresh before the
 *	measurements, so the journal never sees a replay; latency is the
 *	time opmf_test_message() takes, the MTA's queueing excluded.
 *
 *	The figures are printed as a table, with the targets beside them,
 *	and written to the results file as tab-separated values.  A timing
 *	never makes the run fail.
 *
 *	With --keep the signed posts and the configurations stay in --tmp,
 *	so that one measurement can be run again by hand, e.g. under perf:
 *	  t/bench --child lat --conf TMP/conf/ed-1000-10KB-split-lat.conf
 *	      --posts TMP/posts-ed-10KB --out TMP/copies
 *	      --list bench-ed@lists.example.org --expect 1000 --max 3
 *	--make-posts only signs posts (for the end-to-end part of
 *	t/bench.sh).
 * DIAGNOSTICS
 *	Exit status 0 when every measurement ran, 1 when one failed (a post
 *	refused, a copy missing, a child that died), 2 for usage errors.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "../milter/opmf.h"
#include "fanout.h"

#define TMPFS_MAGIC_NUMBER 0x01021994
#define POOL 22 /* signed posts per series and size */

/* Targets from the issue, printed beside the figures, never asserted. */
#define TARGET_LAT_100_MS 60.0
#define TARGET_LAT_1000_MS 400.0
#define TARGET_GPG_PER_POST 3.0
#define TARGET_RSS_MB 64.0
#define TARGET_MEM_CONST_MB 4.0 /* peak per post <= 4 x post + this */

/* ------------------------------------------------------------ options */

static char *opt_keys, *opt_tmp, *opt_state, *opt_results, *opt_gpg;
static char **opt_series;
static char *opt_sizes = "10240,1048576";
static char *opt_mem_sizes = "1048576,10485760";
static int pool = POOL; /* posts make_posts() signs */
static char *opt_modes = "split,per-member";
static char *opt_only;
static double opt_budget = 8.0;
static double opt_max_post = 40.0;
static gboolean opt_quick, opt_keep;
static char *opt_make_posts;
/* internal: the measurement processes */
static char *opt_child, *opt_conf, *opt_posts, *opt_out, *opt_home;
static char *opt_members, *opt_list_fpr, *opt_list;
static int opt_min = 3, opt_max = 20, opt_threads = 4, opt_count = 4;
static int opt_expect, opt_warmup = 1;
static gboolean opt_write_state = TRUE, opt_count_gpg;

static GOptionEntry entries[] = {
	{"keys", 0, 0, G_OPTION_ARG_FILENAME, &opt_keys,
	    "keys and lists made by t/bench.sh", "DIR"},
	{"tmp", 0, 0, G_OPTION_ARG_FILENAME, &opt_tmp,
	    "scratch directory for posts and copies (a tmpfs)", "DIR"},
	{"state", 0, 0, G_OPTION_ARG_FILENAME, &opt_state,
	    "where the state directories are made", "DIR"},
	{"results", 0, 0, G_OPTION_ARG_FILENAME, &opt_results,
	    "tab-separated results file", "FILE"},
	{"gpg", 0, 0, G_OPTION_ARG_FILENAME, &opt_gpg,
	    "the gpg program gpgme runs (for counting)", "PATH"},
	{"series", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_series,
	    "a key series and its list sizes, e.g. ed:10,100,1000",
	    "NAME:N,..."},
	{"sizes", 0, 0, G_OPTION_ARG_STRING, &opt_sizes,
	    "post sizes in bytes (default 10240,1048576)", "N,..."},
	{"mem-sizes", 0, 0, G_OPTION_ARG_STRING, &opt_mem_sizes,
	    "post sizes for the memory rows (default 1048576,10485760; "
	    "'' for none)", "N,..."},
	{"modes", 0, 0, G_OPTION_ARG_STRING, &opt_modes,
	    "fan-out modes (default split,per-member)", "MODE,..."},
	{"only", 0, 0, G_OPTION_ARG_STRING, &opt_only,
	    "only scenarios whose name matches, e.g. 'ed-100-*'", "GLOB"},
	{"budget", 0, 0, G_OPTION_ARG_DOUBLE, &opt_budget,
	    "seconds per measurement before it stops repeating (default 8)",
	    "S"},
	{"quick", 0, 0, G_OPTION_ARG_NONE, &opt_quick,
	    "fewer repetitions", NULL},
	{"max-post-seconds", 0, 0, G_OPTION_ARG_DOUBLE, &opt_max_post,
	    "leave out a scenario whose gpg work alone (the floor) takes "
	    "longer than S seconds a post (default 40; 0: run everything)",
	    "S"},
	{"make-posts", 0, 0, G_OPTION_ARG_FILENAME, &opt_make_posts,
	    "only sign posts of the first series and size into DIR, as "
	    "NNN.eml, and print the list and poster addresses", "DIR"},
	{"keep", 0, 0, G_OPTION_ARG_NONE, &opt_keep,
	    "keep the posts and configurations in --tmp (to run one "
	    "measurement again, under a profiler)", NULL},
	{"child", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &opt_child,
	    NULL, NULL},
	{"conf", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &opt_conf,
	    NULL, NULL},
	{"posts", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &opt_posts,
	    NULL, NULL},
	{"out", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &opt_out,
	    NULL, NULL},
	{"home", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &opt_home,
	    NULL, NULL},
	{"members", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME,
	    &opt_members, NULL, NULL},
	{"list-fpr", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING,
	    &opt_list_fpr, NULL, NULL},
	{"list", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &opt_list,
	    NULL, NULL},
	{"min", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &opt_min, NULL,
	    NULL},
	{"max", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &opt_max, NULL,
	    NULL},
	{"threads", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &opt_threads,
	    NULL, NULL},
	{"count", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &opt_count,
	    NULL, NULL},
	{"expect", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &opt_expect,
	    NULL, NULL},
	{"warmup", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &opt_warmup,
	    NULL, NULL},
	{"no-write-state", 0, G_OPTION_FLAG_HIDDEN | G_OPTION_FLAG_REVERSE,
	    G_OPTION_ARG_NONE, &opt_write_state, NULL, NULL},
	{"count-gpg", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE,
	    &opt_count_gpg, NULL, NULL},
	{NULL, 0, 0, 0, NULL, NULL, NULL},
};

/* ------------------------------------------------------------ helpers */

static double
now_ms(void)
{
	return (double)g_get_monotonic_time() / 1000.0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median and nearest-rank 95th percentile of the n values at v (sorted
 * in place); 0 when there are none.  med and p95 may be NULL. */
static void
stats(double *v, guint n, double *med, double *p95)
{
	guint k = (95 * n + 99) / 100; /* ceil(0.95 n) */

	if (n > 0)
		qsort(v, n, sizeof(*v), cmp_double);
	if (med != NULL)
		*med = n == 0 ? 0 : n % 2 ? v[n / 2] :
		    (v[n / 2 - 1] + v[n / 2]) / 2;
	if (p95 != NULL)
		*p95 = n == 0 ? 0 : v[k > 0 ? k - 1 : 0];
}

static long
maxrss_kb(int who)
{
	struct rusage ru;

	return getrusage(who, &ru) == 0 ? ru.ru_maxrss : -1;
}

/* A field of /proc/self/status in kB, or -1. */
static long
proc_status_kb(const char *field)
{
	g_autofree char *text = NULL;
	const char *p;

	if (!g_file_get_contents("/proc/self/status", &text, NULL, NULL) ||
	    (p = strstr(text, field)) == NULL)
		return -1;
	return strtol(p + strlen(field) + 1, NULL, 10);
}

static GBytes *
read_bytes(const char *path)
{
	g_autoptr(GError) error = NULL;
	char *text = NULL;
	gsize len;

	if (!g_file_get_contents(path, &text, &len, &error)) {
		fprintf(stderr, "bench: %s\n", error->message);
		return NULL;
	}
	return g_bytes_new_take(text, len);
}

static gboolean
write_text(const char *path, const char *text)
{
	g_autoptr(GError) error = NULL;

	if (!g_file_set_contents(path, text, -1, &error)) {
		fprintf(stderr, "bench: %s\n", error->message);
		return FALSE;
	}
	return TRUE;
}

static char *
post_path(const char *dir, int i, const char *ext)
{
	return g_strdup_printf("%s/%03d.%s", dir, i, ext);
}

/* Remove dir and everything under it (no symlinks are followed). */
static void
rm_rf(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *name;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree char *p = g_build_filename(dir, name, NULL);

		if (g_file_test(p, G_FILE_TEST_IS_DIR) &&
		    !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
			rm_rf(p);
		else
			(void)g_unlink(p);
	}
	(void)g_rmdir(dir);
}

/*
 * Remove the copies the dir: injector finished writing in dir, and
 * return how many there were.  Copies are named after the member's
 * address ("m0001@ed.example.org", a second one "...org.2"); files still
 * being written have GLib's temporary suffix of six random characters
 * and are left alone.
 */
static guint
drain(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *name;
	guint n = 0;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		const char *dot = strrchr(name, '.');
		gsize sl = dot != NULL ? strlen(dot + 1) : 0;
		gboolean digits = sl > 0 && sl < 6;
		g_autofree char *p = NULL;

		for (gsize i = 0; digits && i < sl; i++)
			digits = g_ascii_isdigit(dot[1 + i]);
		if (dot == NULL || (strcmp(dot, ".org") != 0 && !digits))
			continue;
		p = g_build_filename(dir, name, NULL);
		if (g_unlink(p) == 0)
			n++;
	}
	return n;
}

/* ------------------------------------------------------------ gpg wrapper */

/* What gpgme asked gpg to do, from its arguments. */
static const char *
gpg_operation(int argc, char **argv)
{
	gboolean enc = FALSE, sign = FALSE;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0)
			break;
		if (strcmp(a, "--version") == 0)
			return "version";
		if (strcmp(a, "--verify") == 0)
			return "verify";
		if (strcmp(a, "--decrypt") == 0)
			return "decrypt";
		if (strcmp(a, "--import") == 0)
			return "import";
		if (strcmp(a, "--list-keys") == 0 ||
		    strcmp(a, "--list-secret-keys") == 0)
			return "keylist";
		if (strcmp(a, "--encrypt") == 0)
			enc = TRUE;
		if (strcmp(a, "--sign") == 0 || strcmp(a, "--detach-sign") == 0)
			sign = TRUE;
	}
	return enc && sign ? "sign+encrypt" : enc ? "encrypt" :
	    sign ? "sign" : "other";
}

/*
 * Called as "gpg" (gpgme finds the symlink first in PATH): run the real
 * gpg named by BENCH_REAL_GPG with the same arguments and descriptors,
 * then append "ms<TAB>maxrss_kb<TAB>operation" to BENCH_GPG_LOG with one
 * write(2).  libc only: this runs between gpgme and gpg.
 */
static int
gpg_wrapper(int argc, char **argv)
{
	const char *real = getenv("BENCH_REAL_GPG");
	const char *log = getenv("BENCH_GPG_LOG");
	struct timespec t0, t1;
	struct rusage ru;
	char line[256];
	int status = 0, fd, n;
	pid_t pid;

	if (real == NULL || log == NULL) {
		fprintf(stderr, "bench: called as gpg without BENCH_REAL_GPG\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		execv(real, argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 2;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (getrusage(RUSAGE_CHILDREN, &ru) != 0)
		ru.ru_maxrss = -1;
	n = snprintf(line, sizeof(line), "%.3f\t%ld\t%s\n",
	    (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6, ru.ru_maxrss,
	    gpg_operation(argc, argv));
	fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (write(fd, line, (size_t)n) != n)
			status = 2 << 8;
		close(fd);
	}
	if (WIFSIGNALED(status)) {
		signal(WTERMSIG(status), SIG_DFL);
		raise(WTERMSIG(status));
		return 128 + WTERMSIG(status);
	}
	return WEXITSTATUS(status);
}

/* ------------------------------------------------------------ children */

/* The verdict of one post; FALSE with *why when it was not accepted. */
static gboolean
post_once(GBytes *raw, char **rcpts, double *ms, char **why)
{
	OpmfTestResult res = {0};
	double t0 = now_ms();
	gboolean ok;

	(void)opmf_test_message(raw, rcpts, &res);
	*ms = now_ms() - t0;
	ok = res.rc == SMFIS_DISCARD;
	if (!ok && why != NULL && *why == NULL)
		*why = g_strdup_printf("milter result %d: %s %s %s", res.rc,
		    res.rcode != NULL ? res.rcode : "-",
		    res.xcode != NULL ? res.xcode : "-",
		    res.text != NULL ? res.text : "");
	opmf_test_result_clear(&res);
	return ok;
}

static void
print_list(const char *key, const double *v, guint n)
{
	printf("%s=", key);
	for (guint i = 0; i < n; i++)
		printf("%s%.3f", i > 0 ? "," : "", v[i]);
	printf("\n");
}

static OpmConfig *
child_load(double *ms)
{
	g_autoptr(GError) error = NULL;
	double t0 = now_ms();
	OpmConfig *conf = opmf_conf_load(opt_conf, &error);

	*ms = now_ms() - t0;
	if (conf == NULL)
		fprintf(stderr, "bench: %s\n", error->message);
	return conf;
}

/* lat, nojournal: posts one after the other on one connection. */
static int
child_sequential(void)
{
	g_autoptr(GArray) lat = g_array_new(FALSE, FALSE, sizeof(double));
	g_autofree char *method = g_strconcat("dir:", opt_out, NULL);
	g_autofree char *why = NULL;
	char *rcpts[] = {opt_list, NULL};
	double conf_ms, total = 0, started;
	long base_kb;
	OpmConfig *conf = child_load(&conf_ms);

	if (conf == NULL)
		return 1;
	opmf_conf_set(conf);
	opmf_test_init(method, opt_write_state);
	base_kb = proc_status_kb("VmRSS:");
	started = now_ms();
	/* with opt_warmup, post 0 warms up (gpg-agent, page cache) and is
	 * not timed; the posts are used once each */
	for (int i = opt_warmup ? 0 : 1; i <= opt_max; i++) {
		g_autofree char *path = post_path(opt_posts, i, "eml");
		g_autoptr(GBytes) raw = read_bytes(path);
		double ms;
		guint got;

		if (raw == NULL)
			return 1;
		if (!post_once(raw, rcpts, &ms, &why)) {
			fprintf(stderr, "bench: post %d: %s\n", i, why);
			printf("error=%s\n", why);
			return 1;
		}
		if ((got = drain(opt_out)) != (guint)opt_expect) {
			fprintf(stderr, "bench: post %d: %u copies, want %d\n",
			    i, got, opt_expect);
			printf("error=%u copies, want %d\n", got, opt_expect);
			return 1;
		}
		if (i == 0) {
			/* a post of more than 5 s: two timed ones will do */
			if (ms > 5000)
				opt_min = MIN(opt_min, 2);
			started = now_ms();
			continue;
		}
		if (i == 1 && !opt_warmup)
			started = now_ms() - ms;
		g_array_append_val(lat, ms);
		total += ms;
		if ((int)lat->len >= opt_min &&
		    now_ms() - started > opt_budget * 1000)
			break;
	}
	print_list("lat", (double *)(void *)lat->data, lat->len);
	printf("busy_ms=%.3f\n", total);
	printf("conf_ms=%.3f\n", conf_ms);
	printf("rss_base_kb=%ld\n", base_kb);
	printf("rss_kb=%ld\n", maxrss_kb(RUSAGE_SELF));
	return 0;
}

/* Start VmHWM afresh (Linux 4.0 and later). */
static gboolean
reset_peak_rss(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	gboolean ok = fd >= 0 && write(fd, "5", 1) == 1;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* mem: posts one after the other, each with the peak resident set reset
 * before it (/proc/self/clear_refs), so that each post's peak is its
 * own: the peak over the resident set just before the post (which holds
 * the post as read from its file, as an MTA's milter connection never
 * does: that copy is not the milter's), and the resident set after the
 * post, its copies written and the post freed, over the one before the
 * first post (what a post leaves behind). */
static int
child_memory(void)
{
	g_autofree char *method = g_strconcat("dir:", opt_out, NULL);
	g_autofree char *why = NULL;
	g_autoptr(GArray) peak = g_array_new(FALSE, FALSE, sizeof(double));
	g_autoptr(GArray) after = g_array_new(FALSE, FALSE, sizeof(double));
	char *rcpts[] = {opt_list, NULL};
	double conf_ms;
	long base0;
	OpmConfig *conf = child_load(&conf_ms);

	if (conf == NULL)
		return 1;
	opmf_conf_set(conf);
	opmf_test_init(method, opt_write_state);
	base0 = proc_status_kb("VmRSS:");
	for (int i = 0; i <= opt_max; i++) {
		g_autofree char *path = post_path(opt_posts, i, "eml");
		GBytes *raw = read_bytes(path);
		double ms, v;
		long base;

		if (raw == NULL)
			return 1;
		base = proc_status_kb("VmRSS:");
		if (!reset_peak_rss()) {
			printf("error=cannot reset the peak resident set\n");
			return 1;
		}
		if (!post_once(raw, rcpts, &ms, &why)) {
			fprintf(stderr, "bench: post %d: %s\n", i, why);
			printf("error=%s\n", why);
			return 1;
		}
		v = (double)(proc_status_kb("VmHWM:") - base);
		g_array_append_val(peak, v);
		(void)drain(opt_out);
		g_bytes_unref(raw);
		v = (double)(proc_status_kb("VmRSS:") - base0);
		g_array_append_val(after, v);
	}
	print_list("mem_peak_kb", (double *)(void *)peak->data, peak->len);
	print_list("mem_after_kb", (double *)(void *)after->data, after->len);
	printf("rss_base_kb=%ld\n", base0);
	return 0;
}

typedef struct {
	char **rcpts;
	gint next, last;        /* posts next..last, taken atomically */
	GMutex lock;
	GCond cond;
	gboolean go, done;
	GArray *lat;            /* double, under lock */
	char *why;              /* first failure, under lock */
} Conc;

static gpointer
conc_worker(gpointer data)
{
	Conc *c = data;

	g_mutex_lock(&c->lock);
	while (!c->go)
		g_cond_wait(&c->cond, &c->lock);
	g_mutex_unlock(&c->lock);
	for (;;) {
		gint i = g_atomic_int_add(&c->next, 1);
		g_autofree char *path = NULL;
		g_autoptr(GBytes) raw = NULL;
		char *why = NULL;
		double ms;
		gboolean ok;

		if (i > c->last)
			break;
		path = post_path(opt_posts, i, "eml");
		if ((raw = read_bytes(path)) == NULL)
			why = g_strdup_printf("post %d unreadable", i);
		ok = raw != NULL && post_once(raw, c->rcpts, &ms, &why);
		g_mutex_lock(&c->lock);
		if (ok)
			g_array_append_val(c->lat, ms);
		else if (c->why == NULL)
			c->why = g_steal_pointer(&why);
		g_mutex_unlock(&c->lock);
		g_free(why);
	}
	return NULL;
}

/* Empties the copies directory while the workers run. */
static gpointer
conc_cleaner(gpointer data)
{
	Conc *c = data;
	guint n = 0;

	for (;;) {
		gboolean done;

		g_mutex_lock(&c->lock);
		done = c->done;
		g_mutex_unlock(&c->lock);
		n += drain(opt_out);
		if (done)
			break;
		g_usleep(20000);
	}
	return GUINT_TO_POINTER(n);
}

/* conc: opt_threads connections at once, opt_count posts in all. */
static int
child_concurrent(void)
{
	g_autofree char *method = g_strconcat("dir:", opt_out, NULL);
	g_autofree char *why = NULL;
	g_autoptr(GPtrArray) threads = g_ptr_array_new();
	char *rcpts[] = {opt_list, NULL};
	Conc c = {0};
	GThread *cleaner;
	double conf_ms, t0, wall, ms;
	guint copies;
	OpmConfig *conf = child_load(&conf_ms);

	if (conf == NULL)
		return 1;
	opmf_conf_set(conf);
	opmf_test_init(method, opt_write_state);
	if (opt_warmup) {
		/* one post first, as the daemon would have had */
		g_autofree char *path = post_path(opt_posts, 0, "eml");
		g_autoptr(GBytes) raw = read_bytes(path);

		if (raw == NULL)
			return 1;
		if (!post_once(raw, rcpts, &ms, &why)) {
			fprintf(stderr, "bench: warm-up post: %s\n", why);
			printf("error=%s\n", why);
			return 1;
		}
		(void)drain(opt_out);
	}
	c.rcpts = rcpts;
	c.next = 1;
	c.last = opt_count;
	c.lat = g_array_new(FALSE, FALSE, sizeof(double));
	g_mutex_init(&c.lock);
	g_cond_init(&c.cond);
	for (int i = 0; i < opt_threads; i++)
		g_ptr_array_add(threads, g_thread_new("conn", conc_worker, &c));
	cleaner = g_thread_new("cleaner", conc_cleaner, &c);
	g_mutex_lock(&c.lock);
	c.go = TRUE;
	t0 = now_ms();
	g_cond_broadcast(&c.cond);
	g_mutex_unlock(&c.lock);
	for (guint i = 0; i < threads->len; i++)
		g_thread_join(threads->pdata[i]);
	wall = now_ms() - t0;
	g_mutex_lock(&c.lock);
	c.done = TRUE;
	g_mutex_unlock(&c.lock);
	copies = GPOINTER_TO_UINT(g_thread_join(cleaner));
	if (c.why != NULL) {
		fprintf(stderr, "bench: %s\n", c.why);
		printf("error=%s\n", c.why);
		return 1;
	}
	/* Every post was accepted, so the milter queued every copy; the
	 * files are counted as a check of the harness, not of the milter. */
	if (copies != (guint)(opt_count * opt_expect))
		fprintf(stderr, "bench: note: %u copies in the directory, %d "
		    "queued\n", copies, opt_count * opt_expect);
	printf("copies_seen=%u\n", copies);
	print_list("lat", (double *)(void *)c.lat->data, c.lat->len);
	printf("wall_ms=%.3f\n", wall);
	printf("posts=%u\n", c.lat->len);
	printf("rss_kb=%ld\n", maxrss_kb(RUSAGE_SELF));
	g_array_unref(c.lat);
	return 0;
}

/* The lines the gpg wrapper logged so far. */
static GPtrArray *
gpg_log_lines(const char *log)
{
	g_autofree char *text = NULL;
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	g_auto(GStrv) lines = NULL;

	if (!g_file_get_contents(log, &text, NULL, NULL))
		return out;
	lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l != NULL; l++)
		if (**l != '\0')
			g_ptr_array_add(out, g_strdup(*l));
	return out;
}

/* count: gpg processes per post, through the wrapper.  Post 0 comes
 * first, as the first post after a (re)load of the daemon: its figures
 * are printed with the suffix _cold; opt_count posts follow (the figures
 * of the last one are the steady state). */
static int
child_count(void)
{
	g_autofree char *method = g_strconcat("dir:", opt_out, NULL);
	g_autofree char *why = NULL;
	const char *log = g_getenv("BENCH_GPG_LOG");
	char *rcpts[] = {opt_list, NULL};
	double conf_ms, ms;
	guint seen;
	OpmConfig *conf = child_load(&conf_ms);
	g_autoptr(GPtrArray) before = NULL;

	if (conf == NULL || log == NULL)
		return 1;
	opmf_conf_set(conf);
	opmf_test_init(method, opt_write_state);
	before = gpg_log_lines(log);
	seen = before->len;
	printf("gpg_load=%u\n", seen);
	for (int i = 0; i <= opt_count; i++) {
		g_autofree char *path = post_path(opt_posts, i, "eml");
		g_autoptr(GBytes) raw = read_bytes(path);
		const char *sfx = i == 0 ? "_cold" : "";
		g_autoptr(GPtrArray) lines = NULL;
		g_autoptr(GHashTable) ops = g_hash_table_new_full(g_str_hash,
		    g_str_equal, g_free, NULL);
		g_autoptr(GString) opstr = g_string_new(NULL);
		g_autoptr(GList) keys = NULL;
		long rss = 0;
		double gms = 0;

		if (raw == NULL)
			return 1;
		if (!post_once(raw, rcpts, &ms, &why)) {
			fprintf(stderr, "bench: post %d: %s\n", i, why);
			printf("error=%s\n", why);
			return 1;
		}
		(void)drain(opt_out);
		lines = gpg_log_lines(log);
		for (guint k = seen; k < lines->len; k++) {
			g_auto(GStrv) f = g_strsplit(lines->pdata[k], "\t", 3);

			if (g_strv_length(f) != 3)
				continue;
			gms += g_ascii_strtod(f[0], NULL);
			rss = MAX(rss, strtol(f[1], NULL, 10));
			g_hash_table_replace(ops, g_strdup(f[2]),
			    GUINT_TO_POINTER(GPOINTER_TO_UINT(
				g_hash_table_lookup(ops, f[2])) + 1));
		}
		keys = g_list_sort(g_hash_table_get_keys(ops),
		    (GCompareFunc)strcmp);
		for (GList *l = keys; l != NULL; l = l->next)
			g_string_append_printf(opstr, "%s%s:%u",
			    opstr->len > 0 ? "," : "", (char *)l->data,
			    GPOINTER_TO_UINT(g_hash_table_lookup(ops, l->data)));
		printf("gpg%s=%u\n", sfx, lines->len - seen);
		printf("gpg_ops%s=%s\n", sfx, opstr->str);
		printf("gpg_rss_kb%s=%ld\n", sfx, rss);
		printf("gpg_ms%s=%.3f\n", sfx, gms);
		seen = lines->len;
	}
	return 0;
}

static gpgme_ctx_t
floor_context(const char *home)
{
	gpgme_ctx_t ctx = NULL;

	if (gpgme_new(&ctx) != 0 ||
	    gpgme_set_protocol(ctx, GPGME_PROTOCOL_OpenPGP) != 0 ||
	    gpgme_ctx_set_engine_info(ctx, GPGME_PROTOCOL_OpenPGP, NULL,
		home) != 0) {
		fprintf(stderr, "bench: cannot set up gpgme for %s\n", home);
		return NULL;
	}
	gpgme_set_offline(ctx, 1);
	gpgme_set_armor(ctx, 1);
	gpgme_set_pinentry_mode(ctx, GPGME_PINENTRY_MODE_LOOPBACK);
	return ctx;
}

static gpgme_error_t
floor_verify(gpgme_ctx_t ctx, GBytes *signed_data, GBytes *sig)
{
	g_auto(gpgme_data_t) d = NULL;
	g_auto(gpgme_data_t) s = NULL;
	gpgme_verify_result_t r;
	gpgme_error_t err;
	gsize dl, sl;
	const char *dp = g_bytes_get_data(signed_data, &dl);
	const char *sp = g_bytes_get_data(sig, &sl);

	if ((err = gpgme_data_new_from_mem(&d, dp, dl, 0)) != 0 ||
	    (err = gpgme_data_new_from_mem(&s, sp, sl, 0)) != 0 ||
	    (err = gpgme_op_verify(ctx, s, d, NULL)) != 0)
		return err;
	r = gpgme_op_verify_result(ctx);
	if (r == NULL || r->signatures == NULL || r->signatures->status != 0)
		return gpg_error(GPG_ERR_BAD_SIGNATURE);
	return 0;
}

static gpgme_error_t
floor_encrypt(gpgme_ctx_t ctx, gpgme_key_t *to, gboolean sign, GBytes *plain)
{
	g_auto(gpgme_data_t) in = NULL;
	g_auto(gpgme_data_t) out = NULL;
	gpgme_encrypt_result_t r;
	gpgme_error_t err;
	gsize len;
	const char *p = g_bytes_get_data(plain, &len);

	if ((err = gpgme_data_new_from_mem(&in, p, len, 0)) != 0 ||
	    (err = gpgme_data_new(&out)) != 0)
		return err;
	/* split mode's sign+encrypt asks gpg for binary output */
	gpgme_set_armor(ctx, !sign);
	err = sign ? gpgme_op_encrypt_sign(ctx, to, GPGME_ENCRYPT_ALWAYS_TRUST,
	    in, out) : gpgme_op_encrypt(ctx, to, GPGME_ENCRYPT_ALWAYS_TRUST,
	    in, out);
	gpgme_set_armor(ctx, 1);
	r = gpgme_op_encrypt_result(ctx);
	if (err == 0 && r != NULL && r->invalid_recipients != NULL)
		err = gpg_error(GPG_ERR_UNUSABLE_PUBKEY);
	return err;
}

typedef struct {
	gpgme_ctx_t ctx;
	gpgme_key_t *to;
	GBytes *plain;
	gpgme_error_t err;
} FloorHalf;

static gpointer
floor_half(gpointer data)
{
	FloorHalf *h = data;

	h->err = floor_encrypt(h->ctx, h->to, TRUE, h->plain);
	return NULL;
}

/* A context for home with the list key as signer (used by the
 * sign+encrypt floors only), or NULL. */
static gpgme_ctx_t
floor_signer(const char *home)
{
	gpgme_ctx_t ctx = floor_context(home);
	gpgme_key_t list_key = NULL;
	gpgme_error_t err;

	if (ctx == NULL)
		return NULL;
	if ((err = gpgme_get_key(ctx, opt_list_fpr, &list_key, 1)) != 0 ||
	    (err = gpgme_signers_add(ctx, list_key)) != 0) {
		fprintf(stderr, "bench: list key: %s\n", gpgme_strerror(err));
		gpgme_key_unref(list_key);
		gpgme_release(ctx);
		return NULL;
	}
	gpgme_key_unref(list_key);
	return ctx;
}

/* floor/2op: verify, then the members dealt as the milter's split mode
 * deals them (opm_fanout_deal(): keyring order, alternately, two parts
 * from four members on and up to 4 MiB, else one), each part signed and
 * encrypted on its own context, side by side.  keys are in keyring order
 * already (see child_floor()). */
static gpgme_error_t
floor_two(gpgme_ctx_t ctx, gpgme_ctx_t ctx2, GPtrArray *keys, GBytes *sd,
    GBytes *sig, GBytes *raw)
{
	guint n = keys->len - 1, nparts;
	g_autofree guint *position = g_new(guint, n + 1);
	g_autofree guint *order = g_new(guint, n + 1);
	g_autoptr(GPtrArray) even = g_ptr_array_new();
	g_autoptr(GPtrArray) odd = g_ptr_array_new();
	GPtrArray *half[2] = {even, odd};
	FloorHalf h[2];
	GThread *t;
	gpgme_error_t err;

	for (guint k = 0; k < n; k++)
		position[k] = k;
	nparts = opm_fanout_deal(position, n, g_bytes_get_size(raw), order);
	for (guint k = 0; k < n; k++)
		g_ptr_array_add(half[k % nparts], keys->pdata[order[k]]);
	g_ptr_array_add(half[0], NULL);
	g_ptr_array_add(half[1], NULL);
	if ((err = floor_verify(ctx, sd, sig)) != 0)
		return err;
	h[0] = (FloorHalf){ctx, (gpgme_key_t *)half[0]->pdata, raw, 0};
	h[1] = (FloorHalf){ctx2, (gpgme_key_t *)half[1]->pdata, raw, 0};
	if (nparts == 1) {
		(void)floor_half(&h[0]);
		return h[0].err;
	}
	t = g_thread_new("floor", floor_half, &h[1]);
	(void)floor_half(&h[0]);
	g_thread_join(t);
	return h[0].err != 0 ? h[0].err : h[1].err;
}

/* Where each key of the GnuPG home is in its keyring, by fingerprint:
 * the order the milter reads them in (opm_keys_load()). */
static GHashTable *
floor_positions(gpgme_ctx_t ctx)
{
	GHashTable *pos = g_hash_table_new_full(g_str_hash, g_str_equal,
	    g_free, NULL);
	gpgme_key_t k;
	guint n = 0;

	gpgme_set_keylist_mode(ctx, GPGME_KEYLIST_MODE_LOCAL);
	if (gpgme_op_keylist_start(ctx, NULL, 0) != 0)
		return pos;
	while (gpgme_op_keylist_next(ctx, &k) == 0) {
		if (k->fpr != NULL)
			g_hash_table_insert(pos, g_ascii_strup(k->fpr, -1),
			    GUINT_TO_POINTER(n + 1));
		n++;
		gpgme_key_unref(k);
	}
	(void)gpgme_op_keylist_end(ctx);
	return pos;
}

static gint
by_keyring(gconstpointer a, gconstpointer b, gpointer pos)
{
	gpgme_key_t ka = *(gpgme_key_t const *)a, kb = *(gpgme_key_t const *)b;
	g_autofree char *fa = g_ascii_strup(ka->fpr, -1);
	g_autofree char *fb = g_ascii_strup(kb->fpr, -1);
	guint pa = GPOINTER_TO_UINT(g_hash_table_lookup(pos, fa));
	guint pb = GPOINTER_TO_UINT(g_hash_table_lookup(pos, fb));

	return pa < pb ? -1 : pa > pb;
}

/* floor: gpgme alone, on one context (two for floor/2op). */
static int
child_floor(void)
{
	g_auto(gpgme_ctx_t) ctx = floor_signer(opt_home);
	g_auto(gpgme_ctx_t) ctx2 = floor_signer(opt_home);
	g_autoptr(GArray) pm = g_array_new(FALSE, FALSE, sizeof(double));
	g_autoptr(GArray) one = g_array_new(FALSE, FALSE, sizeof(double));
	g_autoptr(GArray) two = g_array_new(FALSE, FALSE, sizeof(double));
	g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)gpgme_key_unref);
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;
	gpgme_error_t err;
	double started = 0;

	if (ctx == NULL || ctx2 == NULL ||
	    !g_file_get_contents(opt_members, &text, NULL, NULL))
		return 1;
	lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l != NULL; l++) {
		g_auto(GStrv) f = g_strsplit(*l, " ", 3);
		gpgme_key_t k;

		if (g_strv_length(f) < 2)
			continue;
		if ((err = gpgme_get_key(ctx, f[1], &k, 0)) != 0) {
			fprintf(stderr, "bench: key %s: %s\n", f[1],
			    gpgme_strerror(err));
			return 1;
		}
		g_ptr_array_add(keys, k);
	}
	/* the milter hands gpg its members in keyring order */
	{
		g_autoptr(GHashTable) pos = floor_positions(ctx);

		g_ptr_array_sort_with_data(keys, by_keyring, pos);
	}
	g_ptr_array_add(keys, NULL);
	/* post 0 warms up (one of each operation); the rest are timed.  The
	 * encryptions to one member after another stop after opt_budget
	 * seconds (and at least 10 members): the rest is extrapolated, and
	 * floor_pm_members says from how many. */
	for (int i = 0; i <= opt_max; i++) {
		g_autofree char *pe = post_path(opt_posts, i, "eml");
		g_autofree char *ps = post_path(opt_posts, i, "signed");
		g_autofree char *pg = post_path(opt_posts, i, "sig");
		g_autoptr(GBytes) raw = read_bytes(pe);
		g_autoptr(GBytes) sd = read_bytes(ps);
		g_autoptr(GBytes) sig = read_bytes(pg);
		guint n = keys->len - 1, k;
		double t0, tv, te, ts, pm_ms, one_ms, two_ms;

		if (raw == NULL || sd == NULL || sig == NULL)
			return 1;
		t0 = now_ms();
		if ((err = floor_verify(ctx, sd, sig)) != 0)
			goto FAIL;
		tv = now_ms();
		for (k = 0; k < n && (i > 0 || k == 0); k++) {
			gpgme_key_t to[2] = {keys->pdata[k], NULL};

			if ((err = floor_encrypt(ctx, to, FALSE, raw)) != 0)
				goto FAIL;
			if (k >= 9 && k + 1 < n &&
			    now_ms() - tv > opt_budget * 1000) {
				k++;
				break;
			}
		}
		te = now_ms();
		pm_ms = tv - t0 + (te - tv) * (i > 0 ? (double)n / k : 1);
		ts = now_ms();
		if ((err = floor_verify(ctx, sd, sig)) != 0 ||
		    (err = floor_encrypt(ctx, (gpgme_key_t *)keys->pdata, TRUE,
		    raw)) != 0)
			goto FAIL;
		one_ms = now_ms() - ts;
		ts = now_ms();
		if ((err = floor_two(ctx, ctx2, keys, sd, sig, raw)) != 0)
			goto FAIL;
		two_ms = now_ms() - ts;
		if (i == 0) {
			started = now_ms();
			continue;
		}
		if (i == 1)
			started = t0;
		g_array_append_val(pm, pm_ms);
		g_array_append_val(one, one_ms);
		g_array_append_val(two, two_ms);
		if (k < n) {
			/* one extrapolated repetition is all there is time for */
			printf("floor_pm_members=%u\n", k);
			break;
		}
		if ((int)pm->len >= opt_min &&
		    now_ms() - started > opt_budget * 1000)
			break;
	}
	print_list("floor_pm", (double *)(void *)pm->data, pm->len);
	print_list("floor_1op", (double *)(void *)one->data, one->len);
	print_list("floor_2op", (double *)(void *)two->data, two->len);
	return 0;
FAIL:
	fprintf(stderr, "bench: floor: %s\n", gpgme_strerror(err));
	printf("error=%s\n", gpgme_strerror(err));
	return 1;
}

static int
child_main(void)
{
	if (opt_conf == NULL && strcmp(opt_child, "floor") != 0)
		return 2;
	if (strcmp(opt_child, "mem") == 0)
		return child_memory();
	if (strcmp(opt_child, "lat") == 0)
		return child_sequential();
	if (strcmp(opt_child, "conc") == 0)
		return child_concurrent();
	if (strcmp(opt_child, "count") == 0)
		return child_count();
	if (strcmp(opt_child, "floor") == 0)
		return child_floor();
	fprintf(stderr, "bench: unknown measurement %s\n", opt_child);
	return 2;
}

/* ------------------------------------------------------------ posts */

typedef struct {
	int n;
	char *addr, *fpr, *name;
} BenchKey;

static void
bench_key_free(BenchKey *k)
{
	if (k == NULL)
		return;
	g_free(k->addr);
	g_free(k->fpr);
	g_free(k->name);
	g_free(k);
}

/* SERIES/index as written by t/bench.sh: key i at index i. */
static GPtrArray *
read_index(const char *series)
{
	g_autofree char *path = g_strdup_printf("%s/%s/index", opt_keys,
	    series);
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;
	GPtrArray *keys = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)bench_key_free);

	if (!g_file_get_contents(path, &text, NULL, NULL)) {
		fprintf(stderr, "bench: no key index %s: run t/bench.sh\n", path);
		return keys;
	}
	lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l != NULL; l++) {
		g_auto(GStrv) f = g_strsplit(*l, "\t", 4);
		BenchKey *k;

		if (g_strv_length(f) != 4)
			continue;
		k = g_new0(BenchKey, 1);
		k->n = atoi(f[0]);
		k->addr = g_strdup(f[1]);
		k->fpr = g_strdup(f[2]);
		k->name = g_strdup(f[3]);
		if (k->n != (int)keys->len) {
			fprintf(stderr, "bench: %s: key %d out of order\n", path,
			    k->n);
			bench_key_free(k);
			break;
		}
		g_ptr_array_add(keys, k);
	}
	return keys;
}

static const char *const words[] = {
	"incident", "report", "indicator", "phishing", "domain", "sinkhole",
	"botnet", "takedown", "registrar", "abuse", "contact", "please",
	"share", "within", "the", "group", "only", "traffic", "observed",
	"from", "address", "range", "since", "yesterday", "we", "see",
	"scanning", "of", "port", "and", "a", "new", "campaign", "against",
	"our", "constituency", "malware", "sample", "hash", "attached",
	"vulnerability", "advisory", "patch", "vendor", "coordinated",
	"disclosure", "timeline", "ticket", "reference", "thanks", "regards",
	"is", "to", "in", "on", "for", "with", "by", "at", "this", "that",
	"not", "all", "any",
};

/* Lines of words, CRLF-terminated, until about n bytes. */
static void
append_words(GString *s, GRand *rnd, gsize n)
{
	gsize goal = s->len + n, col = 0;

	while (s->len < goal) {
		const char *w = words[g_rand_int_range(rnd, 0,
		    (gint32)G_N_ELEMENTS(words))];

		if (col > 0 && col + strlen(w) + 1 > 72) {
			g_string_append(s, "\r\n");
			col = 0;
		} else if (col > 0) {
			g_string_append_c(s, ' ');
			col++;
		}
		g_string_append(s, w);
		col += strlen(w);
	}
	g_string_append(s, "\r\n");
}

/*
 * The signed entity of a post of about n bytes: text/plain of words up
 * to 64 KiB; above, multipart/mixed with a short text and an attachment
 * of random bytes in base64 (as a PDF or an archive would be: gpg cannot
 * compress it away).  No CRLF after its last line: RFC 3156 signs the
 * entity without the line break before the boundary.
 */
static GString *
signed_entity(GRand *rnd, int serial, gsize n)
{
	GString *s = g_string_new(NULL);
	g_autofree char *nonce = g_strdup_printf("%d-%08x%08x", serial,
	    g_rand_int(rnd), g_rand_int(rnd));

	if (n <= 65536) {
		g_string_append(s, "Content-Type: text/plain; charset=us-ascii\r\n"
		    "Content-Transfer-Encoding: 7bit\r\n\r\n");
		g_string_append_printf(s, "Hello list,\r\n\r\nbench post %s.\r\n"
		    "\r\n", nonce);
		append_words(s, rnd, n > s->len + 64 ? n - s->len - 64 : 16);
		g_string_append(s, "\r\n-- \r\nSent by the openpgp-milter "
		    "benchmark.");
	} else {
		gsize bin, b64len;
		g_autofree guchar *data = NULL;
		g_autofree char *b64 = NULL;

		g_string_append_printf(s, "Content-Type: multipart/mixed; "
		    "boundary=\"=-mixed-%s\"\r\n\r\n", nonce);
		g_string_append_printf(s, "--=-mixed-%s\r\n"
		    "Content-Type: text/plain; charset=us-ascii\r\n"
		    "Content-Transfer-Encoding: 7bit\r\n\r\n"
		    "Hello list,\r\n\r\nbench post %s, the report attached."
		    "\r\n\r\n", nonce, nonce);
		append_words(s, rnd, 1500);
		g_string_append_printf(s, "\r\n--=-mixed-%s\r\n"
		    "Content-Type: application/octet-stream; name=\"report.bin\""
		    "\r\nContent-Disposition: attachment; filename=\"report.bin\""
		    "\r\nContent-Transfer-Encoding: base64\r\n\r\n", nonce);
		/* 76 characters and CRLF per 57 bytes */
		b64len = n > s->len + 200 ? n - s->len - 200 : 78;
		bin = b64len / 78 * 57;
		data = g_malloc(bin);
		for (gsize i = 0; i < bin; i += 4) {
			guint32 r = g_rand_int(rnd);

			memcpy(data + i, &r, MIN(4, bin - i));
		}
		b64 = g_base64_encode(data, bin);
		for (gsize i = 0, l = strlen(b64); i < l; i += 76) {
			g_string_append_len(s, b64 + i, (gssize)MIN(76, l - i));
			g_string_append(s, "\r\n");
		}
		g_string_append_printf(s, "--=-mixed-%s--", nonce);
	}
	return s;
}

/* LF to CRLF (gpg's armor has bare LF). */
static char *
crlf(const char *s, gsize len)
{
	GString *out = g_string_sized_new(len + len / 32);

	for (gsize i = 0; i < len; i++) {
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			g_string_append_c(out, '\r');
		g_string_append_c(out, s[i]);
	}
	return g_string_free(out, FALSE);
}

/* Write POOL distinct posts of about size bytes by poster to the list,
 * each a fresh signature, as NNN.eml (the message), NNN.signed (the
 * signed entity) and NNN.sig (the signature) in dir. */
static gboolean
make_posts(const char *dir, const char *home, const BenchKey *poster,
    const char *list, gsize size, guint32 seed, gsize *actual)
{
	g_auto(gpgme_ctx_t) ctx = floor_context(home);
	g_autoptr(GRand) rnd = g_rand_new_with_seed(seed);
	gpgme_key_t key = NULL;
	gpgme_error_t err;
	gsize sig_guess = 0, total = 0;

	if (ctx == NULL)
		return FALSE;
	if ((err = gpgme_get_key(ctx, poster->fpr, &key, 1)) != 0 ||
	    (err = gpgme_signers_add(ctx, key)) != 0) {
		fprintf(stderr, "bench: poster's key: %s\n", gpgme_strerror(err));
		return FALSE;
	}
	gpgme_key_unref(key);
	(void)g_mkdir_with_parents(dir, 0700);
	for (int i = 0; i < pool; i++) {
		g_autoptr(GDateTime) dt = g_date_time_new_now_local();
		g_autofree char *date = g_date_time_format(dt,
		    "%a, %d %b %Y %H:%M:%S %z");
		g_autofree char *b = g_strdup_printf("=-signed-%d-%08x", i,
		    g_rand_int(rnd));
		g_autoptr(GString) head = g_string_new(NULL);
		g_autoptr(GString) ent = NULL;
		g_autoptr(GString) msg = NULL;
		g_auto(gpgme_data_t) in = NULL;
		g_auto(gpgme_data_t) out = NULL;
		gpgme_sign_result_t sr;
		g_autofree char *micalg = NULL;
		g_autofree char *sig = NULL;
		g_autofree char *sig_crlf = NULL;
		g_autofree char *p = NULL;
		size_t siglen;
		char *buf;
		gsize over;

		g_string_append_printf(head, "From: %s <%s>\r\n"
		    "To: <%s>\r\nSubject: Bench post %d\r\nDate: %s\r\n"
		    "Message-ID: <bench-%d-%08x%08x@%s>\r\nMIME-Version: 1.0\r\n",
		    poster->name, poster->addr, list, i, date, i,
		    g_rand_int(rnd), g_rand_int(rnd), strchr(poster->addr, '@') + 1);
		/* what surrounds the signed entity, the signature guessed from
		 * the previous post */
		over = head->len + 2 * strlen(b) + 300 + sig_guess;
		ent = signed_entity(rnd, i, size > over + 512 ? size - over : 512);
		if ((err = gpgme_data_new_from_mem(&in, ent->str, ent->len, 0))
		    != 0 || (err = gpgme_data_new(&out)) != 0 ||
		    (err = gpgme_op_sign(ctx, in, out, GPGME_SIG_MODE_DETACH))
		    != 0) {
			fprintf(stderr, "bench: signing: %s\n", gpgme_strerror(err));
			return FALSE;
		}
		sr = gpgme_op_sign_result(ctx);
		if (sr == NULL || sr->signatures == NULL) {
			fprintf(stderr, "bench: no signature made\n");
			return FALSE;
		}
		micalg = g_ascii_strdown(gpgme_hash_algo_name(
		    sr->signatures->hash_algo), -1);
		buf = gpgme_data_release_and_get_mem(out, &siglen);
		out = NULL;
		sig = g_strndup(buf, siglen);
		gpgme_free(buf);
		sig_crlf = crlf(sig, strlen(sig));
		sig_guess = strlen(sig_crlf);
		msg = g_string_new(head->str);
		g_string_append_printf(msg, "Content-Type: multipart/signed; "
		    "micalg=pgp-%s;\r\n protocol=\"application/pgp-signature\"; "
		    "boundary=\"%s\"\r\n\r\n"
		    "This is an OpenPGP/MIME signed message (RFC 3156).\r\n"
		    "--%s\r\n", micalg, b, b);
		g_string_append_len(msg, ent->str, (gssize)ent->len);
		g_string_append_printf(msg, "\r\n--%s\r\n"
		    "Content-Type: application/pgp-signature; "
		    "name=\"signature.asc\"\r\n"
		    "Content-Description: OpenPGP digital signature\r\n"
		    "Content-Disposition: attachment; filename=\"signature.asc\""
		    "\r\n\r\n%s\r\n--%s--\r\n", b, sig_crlf, b);
		total += msg->len;
		p = post_path(dir, i, "eml");
		if (!g_file_set_contents(p, msg->str, (gssize)msg->len, NULL))
			return FALSE;
		g_free(p);
		p = post_path(dir, i, "signed");
		if (!g_file_set_contents(p, ent->str, (gssize)ent->len, NULL))
			return FALSE;
		g_free(p);
		p = post_path(dir, i, "sig");
		if (!write_text(p, sig))
			return FALSE;
	}
	*actual = total / (gsize)pool;
	return TRUE;
}

/* ------------------------------------------------------------ the parent */

typedef struct {
	char *name;           /* ed-100-10KB-split */
	char *series;
	const char *key_type;
	int members;
	gsize size, size_actual;
	char *mode;
	/* lat */
	int runs;
	double lat_med, lat_p95, lat_min, lat_max, pps1, conf_ms;
	long rss_kb, rss_base_kb;
	/* nojournal */
	int nj_runs;
	double nj_med, nj_p95;
	/* conc */
	int conc_posts;
	double pps4, conc_med;
	long rss4_kb;
	/* count */
	int gpg, gpg_load, gpg_cold;
	char *gpg_ops, *gpg_ops_cold;
	long gpg_rss_kb;
	double gpg_ms;
	/* floor, per series, size and N */
	int floor_runs, floor_pm_members;
	double floor_pm, floor_1op, floor_2op;
	/* mem, per series and size */
	int mem_runs;
	double mem_peak_kb, mem_after_kb; /* medians */
	double mem_after_max_kb;
	char *skipped;        /* why the scenario was left out, or NULL */
	char *error;
} Row;

static void
row_free(Row *r)
{
	if (r == NULL)
		return;
	g_free(r->name);
	g_free(r->series);
	g_free(r->mode);
	g_free(r->gpg_ops);
	g_free(r->gpg_ops_cold);
	g_free(r->skipped);
	g_free(r->error);
	g_free(r);
}

static char *self_exe;
static char *wrap_dir;

/* Run a measurement process; its "key=value" lines, or NULL. */
static GHashTable *
run_child(const char *what, GPtrArray *args, char **envp)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *out = NULL;
	g_auto(GStrv) lines = NULL;
	GHashTable *kv;
	int status = 0;

	g_ptr_array_insert(args, 0, g_strdup(self_exe));
	g_ptr_array_add(args, NULL);
	if (!g_spawn_sync(NULL, (char **)args->pdata, envp, G_SPAWN_DEFAULT,
	    NULL, NULL, &out, NULL, &status, &error)) {
		fprintf(stderr, "bench: %s: %s\n", what, error->message);
		return NULL;
	}
	kv = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	lines = g_strsplit(out, "\n", -1);
	for (char **l = lines; *l != NULL; l++) {
		char *eq = strchr(*l, '=');

		if (eq != NULL)
			g_hash_table_insert(kv, g_strndup(*l, (gsize)(eq - *l)),
			    g_strdup(eq + 1));
	}
	if (!g_spawn_check_wait_status(status, &error)) {
		if (!g_hash_table_contains(kv, "error"))
			g_hash_table_insert(kv, g_strdup("error"),
			    g_strdup(error->message));
	}
	return kv;
}

static double
kv_double(GHashTable *kv, const char *key)
{
	const char *v = kv != NULL ? g_hash_table_lookup(kv, key) : NULL;

	return v != NULL ? g_ascii_strtod(v, NULL) : 0;
}

/* A "lat=1.0,2.0" list: count, median, p95, min, max, sum. */
static guint
kv_list(GHashTable *kv, const char *key, double *med, double *p95,
    double *min, double *max, double *sum)
{
	const char *v = kv != NULL ? g_hash_table_lookup(kv, key) : NULL;
	g_auto(GStrv) f = v != NULL && *v != '\0' ? g_strsplit(v, ",", -1) :
	    NULL;
	guint n = f != NULL ? g_strv_length(f) : 0;
	g_autofree double *a = g_new0(double, n + 1);
	double s = 0;

	for (guint i = 0; i < n; i++)
		s += a[i] = g_ascii_strtod(f[i], NULL);
	stats(a, n, med, p95);
	if (min != NULL)
		*min = n > 0 ? a[0] : 0;
	if (max != NULL)
		*max = n > 0 ? a[n - 1] : 0;
	if (sum != NULL)
		*sum = s;
	return n;
}

static void
note_error(Row *r, const char *what, GHashTable *kv)
{
	const char *e = kv == NULL ? "did not run" :
	    g_hash_table_lookup(kv, "error");

	if (e != NULL && r->error == NULL)
		r->error = g_strdup_printf("%s: %s", what, e);
}

static GPtrArray *
child_args(const char *phase, const char *conf, const char *posts,
    const char *out, const char *list, int expect)
{
	GPtrArray *a = g_ptr_array_new_with_free_func(g_free);

	g_ptr_array_add(a, g_strdup("--child"));
	g_ptr_array_add(a, g_strdup(phase));
	if (conf != NULL) {
		g_ptr_array_add(a, g_strdup("--conf"));
		g_ptr_array_add(a, g_strdup(conf));
	}
	g_ptr_array_add(a, g_strdup("--posts"));
	g_ptr_array_add(a, g_strdup(posts));
	if (out != NULL) {
		g_ptr_array_add(a, g_strdup("--out"));
		g_ptr_array_add(a, g_strdup(out));
	}
	if (list != NULL) {
		g_ptr_array_add(a, g_strdup("--list"));
		g_ptr_array_add(a, g_strdup(list));
	}
	g_ptr_array_add(a, g_strdup_printf("--expect=%d", expect));
	return a;
}

/* path (taken) once text is written to it, or NULL.  (transfer full) */
static char *
written(char *path, const char *text)
{
	if (!write_text(path, text)) {
		g_free(path);
		return NULL;
	}
	return path;
}

/* A main configuration for one measurement, with a fresh state
 * directory; returns its path.  (transfer full) */
static char *
write_conf(const char *name, const char *phase, const char *list_conf,
    const char *mode, const char *out)
{
	g_autofree char *state = g_strdup_printf("%s/%s-%s", opt_state, name,
	    phase);
	char *path = g_strdup_printf("%s/conf/%s-%s.conf", opt_tmp, name,
	    phase);
	g_autofree char *text = NULL;

	rm_rf(state);
	(void)g_mkdir_with_parents(state, 0700);
	text = g_strdup_printf("# openpgp-milter benchmark: %s, %s\n"
	    "Socket local:%s/unused.sock\n"
	    "StateDirectory %s\n"
	    "List %s\n"
	    "UMask 077\n"
	    "# the largest posts measured, whatever the MTA would take\n"
	    "MaxMessageSize 64M\n"
	    "# copies go to dir:%s (opmf_test_init)\n"
	    "FanoutMode %s\n", name, phase, opt_tmp, state, list_conf, out,
	    mode);
	return written(path, text);
}

static void
drop_state(const char *name, const char *phase)
{
	g_autofree char *state = g_strdup_printf("%s/%s-%s", opt_state, name,
	    phase);

	rm_rf(state);
}

static char *
size_label(gsize n)
{
	if (n >= 1048576 && n % 1048576 == 0)
		return g_strdup_printf("%zuMB", n / 1048576);
	if (n >= 1024 && n % 1024 == 0)
		return g_strdup_printf("%zuKB", n / 1024);
	return g_strdup_printf("%zuB", n);
}

/* Floor figures for one series, N and size: floor_pm, floor_1op and
 * floor_2op. */
static void
measure_floor(Row *floor, const char *home, const char *members,
    const char *list_fpr, const char *posts, double budget)
{
	g_autoptr(GPtrArray) a = child_args("floor", NULL, posts, NULL, NULL,
	    0);
	g_autoptr(GHashTable) kv = NULL;

	g_ptr_array_add(a, g_strdup("--home"));
	g_ptr_array_add(a, g_strdup(home));
	g_ptr_array_add(a, g_strdup("--members"));
	g_ptr_array_add(a, g_strdup(members));
	g_ptr_array_add(a, g_strdup("--list-fpr"));
	g_ptr_array_add(a, g_strdup(list_fpr));
	g_ptr_array_add(a, g_strdup_printf("--min=%d", 1));
	g_ptr_array_add(a, g_strdup_printf("--max=%d", opt_quick ? 3 : 10));
	g_ptr_array_add(a, g_strdup_printf("--budget=%.1f", budget));
	kv = run_child("floor", a, NULL);
	note_error(floor, "floor", kv);
	floor->floor_runs = (int)kv_list(kv, "floor_pm", &floor->floor_pm,
	    NULL, NULL, NULL, NULL);
	(void)kv_list(kv, "floor_1op", &floor->floor_1op, NULL, NULL, NULL,
	    NULL);
	(void)kv_list(kv, "floor_2op", &floor->floor_2op, NULL, NULL, NULL,
	    NULL);
	floor->floor_pm_members = (int)kv_double(kv, "floor_pm_members");
}

/*
 * All measurements of one scenario.  prior: what gpgme alone needs per
 * post (the floor), in seconds; when that is long, warm-ups are left out
 * and repetitions kept to the minimum, so that the slowest scenarios
 * (per-member fan-out to 1,000) stay within minutes.
 */
static void
measure(Row *r, const char *list_conf, const char *list, const char *posts,
    double prior)
{
	g_autofree char *out = g_strdup_printf("%s/copies", opt_tmp);
	double budget = opt_quick ? opt_budget / 3 : opt_budget;
	gboolean slow = prior > 3.0;
	double sum = 0, est;

	/* lat: one connection, journal on */
	{
		g_autofree char *conf = write_conf(r->name, "lat", list_conf,
		    r->mode, out);
		g_autoptr(GPtrArray) a = child_args("lat", conf, posts, out,
		    list, r->members);
		g_autoptr(GHashTable) kv = NULL;

		g_ptr_array_add(a, g_strdup_printf("--min=%d", slow ? 2 : 3));
		g_ptr_array_add(a, g_strdup_printf("--max=%d", opt_quick ? 8 :
		    POOL - 2));
		g_ptr_array_add(a, g_strdup_printf("--budget=%.1f", budget));
		g_ptr_array_add(a, g_strdup_printf("--warmup=%d", !slow));
		kv = run_child("lat", a, NULL);
		note_error(r, "lat", kv);
		r->runs = (int)kv_list(kv, "lat", &r->lat_med, &r->lat_p95,
		    &r->lat_min, &r->lat_max, &sum);
		r->pps1 = sum > 0 ? r->runs * 1000.0 / sum : 0;
		r->rss_kb = (long)kv_double(kv, "rss_kb");
		r->rss_base_kb = (long)kv_double(kv, "rss_base_kb");
		r->conf_ms = kv_double(kv, "conf_ms");
		drop_state(r->name, "lat");
		fprintf(stderr, "  %-26s lat %8.1f ms (p95 %.1f, %d runs), "
		    "RSS %.1f MB\n", r->name, r->lat_med, r->lat_p95, r->runs,
		    r->rss_kb / 1024.0);
	}
	if (r->error != NULL)
		return;
	est = MAX(r->lat_med, 1.0) / 1000.0;
	slow = slow || est > 3.0;
	/* nojournal: the same, state untouched; left out when a post takes
	 * more than 10 s in gpg or 20 s in all (the journal's cost per copy
	 * is the same at every size: the smaller scenarios show it) */
	if (prior <= 10.0 && est <= 20.0) {
		g_autofree char *conf = write_conf(r->name, "nojournal",
		    list_conf, r->mode, out);
		g_autoptr(GPtrArray) a = child_args("lat", conf, posts, out,
		    list, r->members);
		g_autoptr(GHashTable) kv = NULL;

		g_ptr_array_add(a, g_strdup("--no-write-state"));
		g_ptr_array_add(a, g_strdup_printf("--min=%d", slow ? 1 : 3));
		g_ptr_array_add(a, g_strdup_printf("--max=%d", slow ? 1 : 10));
		g_ptr_array_add(a, g_strdup_printf("--budget=%.1f", budget / 2));
		g_ptr_array_add(a, g_strdup_printf("--warmup=%d", !slow));
		kv = run_child("nojournal", a, NULL);
		note_error(r, "nojournal", kv);
		r->nj_runs = (int)kv_list(kv, "lat", &r->nj_med, &r->nj_p95,
		    NULL, NULL, NULL);
		drop_state(r->name, "nojournal");
	}
	/* conc: four connections */
	{
		g_autofree char *conf = write_conf(r->name, "conc", list_conf,
		    r->mode, out);
		g_autoptr(GPtrArray) a = child_args("conc", conf, posts, out,
		    list, r->members);
		g_autoptr(GHashTable) kv = NULL;
		double cores = MIN(4, (double)g_get_num_processors());
		int n = (int)(budget * cores / est);
		double wall;

		n = CLAMP(n / 4 * 4, 4, (opt_quick ? 8 : POOL - 2) / 4 * 4);
		g_ptr_array_add(a, g_strdup_printf("--threads=%d", 4));
		g_ptr_array_add(a, g_strdup_printf("--count=%d", n));
		g_ptr_array_add(a, g_strdup_printf("--warmup=%d", !slow));
		kv = run_child("conc", a, NULL);
		note_error(r, "conc", kv);
		r->conc_posts = (int)kv_list(kv, "lat", &r->conc_med, NULL, NULL,
		    NULL, NULL);
		wall = kv_double(kv, "wall_ms");
		r->pps4 = wall > 0 ? r->conc_posts * 1000.0 / wall : 0;
		r->rss4_kb = (long)kv_double(kv, "rss_kb");
		drop_state(r->name, "conc");
	}
	/* count: gpg processes per post, in a run of its own */
	{
		g_autofree char *conf = write_conf(r->name, "count", list_conf,
		    r->mode, out);
		g_autofree char *log = g_strdup_printf("%s/gpg-%s.log", opt_tmp,
		    r->name);
		g_autoptr(GPtrArray) a = child_args("count", conf, posts, out,
		    list, r->members);
		g_autoptr(GHashTable) kv = NULL;
		g_auto(GStrv) env = g_get_environ();
		g_autofree char *path = NULL;

		(void)g_unlink(log);
		path = g_strdup_printf("%s:%s", wrap_dir,
		    g_environ_getenv(env, "PATH") != NULL ?
		    g_environ_getenv(env, "PATH") : "/usr/bin:/bin");
		env = g_environ_setenv(env, "PATH", path, TRUE);
		env = g_environ_setenv(env, "BENCH_GPG_LOG", log, TRUE);
		env = g_environ_setenv(env, "BENCH_REAL_GPG", opt_gpg, TRUE);
		g_ptr_array_add(a, g_strdup("--count-gpg"));
		g_ptr_array_add(a, g_strdup_printf("--count=%d",
		    est > 2 ? 1 : 2));
		kv = run_child("count", a, env);
		note_error(r, "count", kv);
		r->gpg = (int)kv_double(kv, "gpg");
		r->gpg_load = (int)kv_double(kv, "gpg_load");
		r->gpg_ops = g_strdup(kv != NULL && g_hash_table_lookup(kv,
		    "gpg_ops") != NULL ? (char *)g_hash_table_lookup(kv,
		    "gpg_ops") : "");
		r->gpg_rss_kb = (long)kv_double(kv, "gpg_rss_kb");
		r->gpg_ms = kv_double(kv, "gpg_ms");
		r->gpg_cold = (int)kv_double(kv, "gpg_cold");
		r->gpg_ops_cold = g_strdup(kv != NULL &&
		    g_hash_table_lookup(kv, "gpg_ops_cold") != NULL ?
		    (char *)g_hash_table_lookup(kv, "gpg_ops_cold") : "");
		(void)g_unlink(log);
		drop_state(r->name, "count");
	}
	fprintf(stderr, "  %-26s no journal %.1f ms, %.2f posts/s (1), "
	    "%.2f posts/s (4), %d gpg/post (%s)\n", r->name, r->nj_med,
	    r->pps1, r->pps4, r->gpg, r->gpg_ops != NULL ? r->gpg_ops : "");
}

/* The target a row is held against, as text, or "". */
static char *
targets(const Row *r)
{
	GString *s = g_string_new(NULL);
	double mb = r->rss_kb / 1024.0;

	if (strcmp(r->series, "ed") == 0 && r->size == 10240 &&
	    (r->members == 100 || r->members == 1000)) {
		double t = r->members == 100 ? TARGET_LAT_100_MS :
		    TARGET_LAT_1000_MS;

		g_string_append_printf(s, "lat<=%.0f:%s ", t,
		    r->lat_med <= t ? "yes" : "NO");
	}
	g_string_append_printf(s, "gpg<=3:%s", r->gpg <= TARGET_GPG_PER_POST ?
	    "yes" : "NO");
	if (r->members == 1000 && r->size == 1048576)
		g_string_append_printf(s, " RSS<64MB:%s",
		    mb < TARGET_RSS_MB ? "yes" : "NO");
	return g_string_free(s, FALSE);
}

static void
print_tables(FILE *f, GPtrArray *rows)
{
	fprintf(f, "Time per post (ms) and throughput (posts/s):\n"
	    "%-7s %5s %4s %-10s %9s %9s %4s %9s %9s %8s %8s %10s %10s %10s\n",
	    "keys", "N", "post", "mode", "lat-med", "lat-p95", "runs",
	    "no-jrnl", "in-gpg", "post/s1", "post/s4", "floor/mbr",
	    "floor/1op", "floor/2op");
	for (guint i = 0; i < rows->len; i++) {
		const Row *r = rows->pdata[i];
		g_autofree char *sz = size_label(r->size);
		char nj[32] = "-", fl[32];

		if (r->nj_runs > 0)
			g_snprintf(nj, sizeof(nj), "%.1f", r->nj_med);
		g_snprintf(fl, sizeof(fl), "%s%.1f", r->floor_pm_members > 0 ?
		    "~" : "", r->floor_pm);
		if (r->error != NULL) {
			fprintf(f, "%-7s %5d %4s %-10s FAILED: %s\n", r->key_type,
			    r->members, sz, r->mode, r->error);
			continue;
		}
		if (r->skipped != NULL) {
			fprintf(f, "%-7s %5d %4s %-10s %-74s %10s %10.1f %10.1f\n",
			    r->key_type, r->members, sz, r->mode, r->skipped, fl,
			    r->floor_1op, r->floor_2op);
			continue;
		}
		fprintf(f, "%-7s %5d %4s %-10s %9.1f %9.1f %4d %9s %9.1f %8.2f "
		    "%8.2f %10s %10.1f %10.1f\n", r->key_type, r->members, sz,
		    r->mode, r->lat_med, r->lat_p95, r->runs, nj, r->gpg_ms,
		    r->pps1, r->pps4, fl, r->floor_1op, r->floor_2op);
	}
	fprintf(f, "\nMemory (MB), gpg processes per post, targets:\n"
	    "%-7s %5s %4s %-10s %7s %7s %7s %5s %5s %7s  %-36s %s\n",
	    "keys", "N", "post", "mode", "RSS", "RSS-4c", "loaded", "gpg",
	    "1st", "gpg-RSS", "gpg operations", "targets");
	for (guint i = 0; i < rows->len; i++) {
		const Row *r = rows->pdata[i];
		g_autofree char *sz = size_label(r->size);
		g_autofree char *t = targets(r);

		if (r->error != NULL || r->skipped != NULL)
			continue;
		fprintf(f, "%-7s %5d %4s %-10s %7.1f %7.1f %7.1f %5d %5d %7.1f  "
		    "%-36s %s\n", r->key_type, r->members, sz, r->mode,
		    r->rss_kb / 1024.0, r->rss4_kb / 1024.0,
		    r->rss_base_kb / 1024.0, r->gpg, r->gpg_cold,
		    r->gpg_rss_kb / 1024.0,
		    r->gpg_ops != NULL ? r->gpg_ops : "", t);
	}
}

static GPtrArray *machine;

static void
machine_add(const char *key, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
machine_add(const char *key, const char *fmt, ...)
{
	va_list ap;
	char *v;

	va_start(ap, fmt);
	v = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_ptr_array_add(machine, g_strdup(key));
	g_ptr_array_add(machine, v);
}

/* The 1-minute load average.  (transfer none) */
static const char *
loadavg(void)
{
	static char buf[32];
	g_autofree char *la = NULL;

	if (!g_file_get_contents("/proc/loadavg", &la, NULL, NULL))
		return "unknown";
	g_snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(la, " "), la);
	return buf;
}

/* A machine_info() value.  (transfer none) */
static const char *
machine_get(const char *key)
{
	for (guint i = 0; i < machine->len; i += 2)
		if (strcmp(machine->pdata[i], key) == 0)
			return machine->pdata[i + 1];
	return "";
}

static void
machine_info(void)
{
	g_autofree char *cpuinfo = NULL;
	g_autofree char *model = NULL;
	gpgme_engine_info_t e = NULL;
	struct utsname u;
	struct statfs sf;
	long mem = -1;

	machine = g_ptr_array_new_with_free_func(g_free);
	if (g_file_get_contents("/proc/cpuinfo", &cpuinfo, NULL, NULL)) {
		const char *p = strstr(cpuinfo, "model name");

		if (p != NULL && (p = strchr(p, ':')) != NULL)
			model = g_strstrip(g_strndup(p + 1, strcspn(p + 1, "\n")));
	}
	{
		g_autofree char *mi = NULL;
		const char *p;

		if (g_file_get_contents("/proc/meminfo", &mi, NULL, NULL) &&
		    (p = strstr(mi, "MemTotal:")) != NULL)
			mem = strtol(p + 9, NULL, 10);
	}
	{
		g_autoptr(GDateTime) dt = g_date_time_new_now_utc();
		g_autofree char *d = g_date_time_format_iso8601(dt);

		machine_add("date", "%s", d);
	}
	machine_add("milter", "%s %s", PACKAGE_NAME, PACKAGE_VERSION);
	machine_add("nproc", "%u", g_get_num_processors());
	machine_add("cpu", "%s", model != NULL ? model : "unknown");
	machine_add("memory_mb", "%ld", mem / 1024);
	if (uname(&u) == 0)
		machine_add("kernel", "%s %s %s", u.sysname, u.release,
		    u.machine);
	(void)gpgme_get_engine_info(&e);
	for (; e != NULL; e = e->next)
		if (e->protocol == GPGME_PROTOCOL_OpenPGP)
			machine_add("gpg", "%s %s", e->file_name, e->version);
	machine_add("gpgme", "%s", gpgme_check_version(NULL));
	machine_add("gmime", "%u.%u.%u", gmime_major_version,
	    gmime_minor_version, gmime_micro_version);
	machine_add("glib", "%u.%u.%u", glib_major_version, glib_minor_version,
	    glib_micro_version);
	machine_add("load_start", "%s", loadavg());
	machine_add("copies_dir", "%s",
	    statfs(opt_tmp, &sf) == 0 && sf.f_type == TMPFS_MAGIC_NUMBER ?
	    "tmpfs" : "not tmpfs");
	machine_add("state_dir", "%s",
	    statfs(opt_state, &sf) == 0 && sf.f_type == TMPFS_MAGIC_NUMBER ?
	    "tmpfs" : "disk (not tmpfs)");
}

static gboolean
write_results(GPtrArray *rows)
{
	g_autoptr(GString) s = g_string_new(NULL);
	g_autofree char *tmp = g_strconcat(opt_results, ".tmp", NULL);

	for (guint i = 0; i < machine->len; i += 2)
		g_string_append_printf(s, "# %s\t%s\n",
		    (char *)machine->pdata[i], (char *)machine->pdata[i + 1]);
	g_string_append(s, "series\tkey_type\tmembers\tpost_bytes\t"
	    "post_bytes_actual\tmode\truns\tlat_med_ms\tlat_p95_ms\tlat_min_ms\t"
	    "lat_max_ms\tposts_per_s_1conn\tnojournal_runs\tnojournal_med_ms\t"
	    "nojournal_p95_ms\tconc_posts\tconc_med_ms\tposts_per_s_4conn\t"
	    "rss_peak_kb\trss_after_load_kb\trss_peak_4conn_kb\tconf_load_ms\t"
	    "gpg_per_post\tgpg_ops\tgpg_first_post\tgpg_ops_first_post\t"
	    "gpg_at_load\tgpg_peak_rss_kb\t"
	    "gpg_ms_per_post\tfloor_runs\tfloor_member_ms\t"
	    "floor_member_extrapolated_from\tfloor_1op_ms\tfloor_2op_ms\t"
	    "note\terror\n");
	for (guint i = 0; i < rows->len; i++) {
		const Row *r = rows->pdata[i];

		g_string_append_printf(s, "%s\t%s\t%d\t%zu\t%zu\t%s\t%d\t%.3f\t"
		    "%.3f\t%.3f\t%.3f\t%.3f\t%d\t%.3f\t%.3f\t%d\t%.3f\t%.3f\t"
		    "%ld\t%ld\t%ld\t%.1f\t%d\t%s\t%d\t%s\t%d\t%ld\t%.3f\t%d\t"
		    "%.3f\t%d\t%.3f\t%.3f\t%s\t%s\n", r->series, r->key_type, r->members, r->size,
		    r->size_actual, r->mode, r->runs, r->lat_med, r->lat_p95,
		    r->lat_min, r->lat_max, r->pps1, r->nj_runs, r->nj_med,
		    r->nj_p95, r->conc_posts, r->conc_med, r->pps4, r->rss_kb,
		    r->rss_base_kb, r->rss4_kb, r->conf_ms, r->gpg,
		    r->gpg_ops != NULL ? r->gpg_ops : "", r->gpg_cold,
		    r->gpg_ops_cold != NULL ? r->gpg_ops_cold : "", r->gpg_load,
		    r->gpg_rss_kb, r->gpg_ms, r->floor_runs, r->floor_pm,
		    r->floor_pm_members, r->floor_1op, r->floor_2op,
		    r->skipped != NULL ? r->skipped : "",
		    r->error != NULL ? r->error : "");
	}
	return write_text(tmp, s->str) && g_rename(tmp, opt_results) == 0;
}

/* --make-posts: the posts for the end-to-end part of t/bench.sh. */
static int
posts_main(void)
{
	g_auto(GStrv) sn = opt_series != NULL ?
	    g_strsplit(opt_series[0], ":", 2) : NULL;
	g_autoptr(GPtrArray) keys = NULL;
	g_autofree char *gen = NULL;
	gsize size = (gsize)g_ascii_strtoull(opt_sizes, NULL, 10), actual;

	if (opt_keys == NULL || sn == NULL || sn[0] == NULL) {
		fprintf(stderr, "bench: --make-posts needs --keys and --series\n");
		return 2;
	}
	keys = read_index(sn[0]);
	if (keys->len < 2)
		return 1;
	gen = g_strdup_printf("%s/%s/gen", opt_keys, sn[0]);
	if (!make_posts(opt_make_posts, gen, keys->pdata[1],
	    ((BenchKey *)keys->pdata[0])->addr, size, (guint32)size, &actual))
		return 1;
	printf("list=%s\nposter=%s\nposts=%d\nbytes=%zu\n",
	    ((BenchKey *)keys->pdata[0])->addr,
	    ((BenchKey *)keys->pdata[1])->addr, POOL, actual);
	return 0;
}

/* The list definition for series' list of members members, with key lk
 * as the list key; its path, or NULL.  (transfer full) */
static char *
write_list_conf(const char *series, int members, const BenchKey *lk)
{
	g_autofree char *ldir = g_strdup_printf("%s/%s-%d", opt_keys, series,
	    members);
	g_autofree char *text = g_strdup_printf("# benchmark list\n"
	    "Address %s\nGnupgHome %s/home\nListKey %s\n"
	    "MembersFile %s/members\nAdmin admin@lists.example.org\n",
	    lk->addr, ldir, lk->fpr, ldir);

	return written(g_strdup_printf("%s/conf/%s-%d.list", opt_tmp, series,
	    members), text);
}

/* The memory rows of one series: for each of --mem-sizes, posts to its
 * smallest list in split mode, each post's own peak resident set and
 * what it leaves behind (child_memory()). */
static int
measure_memory(GPtrArray *memrows, const char *series, const char *key_type,
    GPtrArray *keys, int members)
{
	g_auto(GStrv) sizes = g_strsplit(opt_mem_sizes, ",", -1);
	g_autofree char *gen = g_strdup_printf("%s/%s/gen", opt_keys, series);
	g_autofree char *out = g_strdup_printf("%s/copies", opt_tmp);
	const BenchKey *lk = keys->pdata[0];
	g_autofree char *lconf = write_list_conf(series, members, lk);
	int failed = 0;

	if (lconf == NULL)
		return 1;
	for (char **sz = sizes; *sz != NULL && **sz != '\0'; sz++) {
		gsize size = (gsize)g_ascii_strtoull(*sz, NULL, 10);
		g_autofree char *label = size_label(size);
		g_autofree char *posts = g_strdup_printf("%s/mem-%s-%s", opt_tmp,
		    series, label);
		Row *r = g_new0(Row, 1);
		g_autofree char *conf = NULL;
		g_autoptr(GPtrArray) a = NULL;
		g_autoptr(GHashTable) kv = NULL;

		r->name = g_strdup_printf("%s-%d-%s-mem", series, members, label);
		r->series = g_strdup(series);
		r->key_type = key_type;
		r->members = members;
		r->size = size;
		r->mode = g_strdup("split");
		g_ptr_array_add(memrows, r);
		if (opt_only != NULL && !g_pattern_match_simple(opt_only, r->name))
			continue;
		pool = 3;
		if (!make_posts(posts, gen, keys->pdata[1], lk->addr, size,
		    (guint32)(size ^ 0x6d656d), &r->size_actual)) {
			pool = POOL;
			return 1;
		}
		pool = POOL;
		conf = write_conf(r->name, "mem", lconf, "split", out);
		a = child_args("mem", conf, posts, out, lk->addr, members);
		g_ptr_array_add(a, g_strdup_printf("--max=%d", 2));
		kv = run_child("mem", a, NULL);
		note_error(r, "mem", kv);
		r->mem_runs = (int)kv_list(kv, "mem_peak_kb", &r->mem_peak_kb,
		    NULL, NULL, NULL, NULL);
		(void)kv_list(kv, "mem_after_kb", &r->mem_after_kb, NULL, NULL,
		    &r->mem_after_max_kb, NULL);
		r->rss_base_kb = (long)kv_double(kv, "rss_base_kb");
		drop_state(r->name, "mem");
		if (!opt_keep)
			rm_rf(posts);
		if (r->error != NULL) {
			fprintf(stderr, "bench: %s: %s\n", r->name, r->error);
			failed = 1;
			continue;
		}
		fprintf(stderr, "  %-26s peak %.1f MB over %.1f MB for a %.1f MB "
		    "post, %.1f MB left after it\n", r->name,
		    r->mem_peak_kb / 1024.0, r->rss_base_kb / 1024.0,
		    r->size_actual / 1048576.0, r->mem_after_max_kb / 1024.0);
	}
	return failed;
}

static void
print_memory(FILE *f, GPtrArray *memrows)
{
	if (memrows->len == 0)
		return;
	fprintf(f, "\nMemory per post (split mode, one connection, MB):\n"
	    "%-7s %5s %6s %7s %7s %6s %7s %7s  %s\n", "keys", "N", "post",
	    "size", "peak", "x post", "left", "loaded", "target");
	for (guint i = 0; i < memrows->len; i++) {
		const Row *r = memrows->pdata[i];
		g_autofree char *sz = size_label(r->size);
		double mb = r->size_actual / 1048576.0;
		double peak = r->mem_peak_kb / 1024.0;

		if (r->error != NULL) {
			fprintf(f, "%-7s %5d %6s FAILED: %s\n", r->key_type,
			    r->members, sz, r->error);
			continue;
		}
		if (r->mem_runs == 0)
			continue;
		fprintf(f, "%-7s %5d %6s %7.2f %7.1f %6.2f %7.1f %7.1f  "
		    "peak<=4x+%.0f:%s\n", r->key_type, r->members, sz, mb, peak,
		    mb > 0 ? peak / mb : 0, r->mem_after_max_kb / 1024.0,
		    r->rss_base_kb / 1024.0, TARGET_MEM_CONST_MB,
		    peak <= 4 * mb + TARGET_MEM_CONST_MB ? "yes" : "NO");
	}
}

static int
parent_main(void)
{
	g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)row_free);
	g_autoptr(GPtrArray) memrows = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)row_free);
	g_auto(GStrv) sizes = g_strsplit(opt_sizes, ",", -1);
	g_auto(GStrv) modes = g_strsplit(opt_modes, ",", -1);
	g_autofree char *confdir = g_strdup_printf("%s/conf", opt_tmp);
	g_autofree char *link = NULL;
	double budget = opt_quick ? opt_budget / 3 : opt_budget;
	int failed = 0;

	if (opt_keys == NULL || opt_tmp == NULL || opt_state == NULL ||
	    opt_results == NULL || opt_series == NULL) {
		fprintf(stderr, "bench: --keys, --tmp, --state, --results and "
		    "--series are required (t/bench.sh passes them)\n");
		return 2;
	}
	if (opt_gpg == NULL || !g_path_is_absolute(opt_gpg)) {
		char *p = g_find_program_in_path(opt_gpg != NULL ? opt_gpg : "gpg");

		if (p == NULL) {
			fprintf(stderr, "bench: no gpg program found\n");
			return 2;
		}
		opt_gpg = p;
	}
	self_exe = g_file_read_link("/proc/self/exe", NULL);
	if (self_exe == NULL) {
		fprintf(stderr, "bench: cannot find my own program\n");
		return 2;
	}
	/* gpgme finds this "gpg" first in PATH in the count runs */
	wrap_dir = g_strdup_printf("%s/wrap", opt_tmp);
	link = g_strdup_printf("%s/gpg", wrap_dir);
	(void)g_mkdir_with_parents(wrap_dir, 0700);
	(void)g_mkdir_with_parents(confdir, 0700);
	(void)g_unlink(link);
	if (symlink(self_exe, link) != 0) {
		fprintf(stderr, "bench: symlink %s: %s\n", link, g_strerror(errno));
		return 2;
	}

	machine_info();
	printf("openpgp-milter benchmark\n");
	for (guint i = 0; i < machine->len; i += 2)
		printf("  %-11s %s\n", (char *)machine->pdata[i],
		    (char *)machine->pdata[i + 1]);
	fflush(stdout);

	for (char **s = opt_series; *s != NULL; s++) {
		g_auto(GStrv) sn = g_strsplit(*s, ":", 2);
		g_auto(GStrv) ns = NULL;
		g_autoptr(GPtrArray) keys = NULL;
		g_autofree char *gen = NULL;
		const char *key_type;
		const BenchKey *lk;

		if (g_strv_length(sn) != 2) {
			fprintf(stderr, "bench: --series %s: want NAME:N,...\n", *s);
			return 2;
		}
		key_type = strcmp(sn[0], "rsa") == 0 ? "rsa3072" :
		    strcmp(sn[0], "ed") == 0 ? "ed25519" : sn[0];
		keys = read_index(sn[0]);
		if (keys->len < 2)
			return 1;
		lk = keys->pdata[0];
		gen = g_strdup_printf("%s/%s/gen", opt_keys, sn[0]);
		ns = g_strsplit(sn[1], ",", -1);
		for (char **sz = sizes; *sz != NULL; sz++) {
			gsize size = (gsize)g_ascii_strtoull(*sz, NULL, 10);
			g_autofree char *label = size_label(size);
			g_autofree char *posts = g_strdup_printf("%s/posts-%s-%s",
			    opt_tmp, sn[0], label);
			gsize actual = 0;
			double t0 = now_ms();
			gboolean any = FALSE;

			/* anything to do for this size? */
			for (char **n = ns; *n != NULL; n++)
				for (char **m = modes; *m != NULL; m++) {
					g_autofree char *name = g_strdup_printf(
					    "%s-%s-%s-%s", sn[0], *n, label, *m);

					any = any || opt_only == NULL ||
					    g_pattern_match_simple(opt_only, name);
				}
			if (!any)
				continue;
			fprintf(stderr, "bench: %s, %s posts: signing %d posts\n",
			    key_type, label, POOL);
			if (!make_posts(posts, gen, keys->pdata[1], lk->addr, size,
			    (guint32)(size ^ (gsize)keys->len), &actual))
				return 1;
			fprintf(stderr, "bench: signed in %.1f s, %zu bytes each\n",
			    (now_ms() - t0) / 1000, actual);
			for (char **n = ns; *n != NULL; n++) {
				int members = atoi(*n);
				g_autofree char *ldir = g_strdup_printf("%s/%s-%d",
				    opt_keys, sn[0], members);
				g_autofree char *home = g_strdup_printf("%s/home",
				    ldir);
				g_autofree char *mfile = g_strdup_printf(
				    "%s/members", ldir);
				g_autofree char *lconf = NULL;
				Row floor = {0};
				gboolean floored = FALSE;
				double prior;

				if (members < 1 || members >= (int)keys->len ||
				    !g_file_test(mfile, G_FILE_TEST_EXISTS)) {
					fprintf(stderr, "bench: no list of %s members "
					    "in %s: run t/bench.sh\n", *n, ldir);
					return 1;
				}
				if ((lconf = write_list_conf(sn[0], members,
				    lk)) == NULL)
					return 1;
				for (char **m = modes; *m != NULL; m++) {
					Row *r = g_new0(Row, 1);

					r->name = g_strdup_printf("%s-%d-%s-%s", sn[0],
					    members, label, *m);
					if (opt_only != NULL &&
					    !g_pattern_match_simple(opt_only, r->name)) {
						row_free(r);
						continue;
					}
					if (!floored) {
						measure_floor(&floor, home, mfile, lk->fpr,
						    posts, budget);
						floored = TRUE;
						fprintf(stderr, "  %s-%d-%s floor: %.1f ms "
						    "(verify + %d encryptions%s), %.1f ms "
						    "(verify + 1 sign+encrypt), %.1f ms "
						    "(verify + 2 side by side)\n", sn[0],
						    members, label, floor.floor_pm, members,
						    floor.floor_pm_members > 0 ?
						    ", extrapolated" : "", floor.floor_1op,
						    floor.floor_2op);
					}
					r->series = g_strdup(sn[0]);
					r->key_type = key_type;
					r->members = members;
					r->size = size;
					r->size_actual = actual;
					r->mode = g_strdup(*m);
					r->floor_runs = floor.floor_runs;
					r->floor_pm = floor.floor_pm;
					r->floor_pm_members = floor.floor_pm_members;
					r->floor_1op = floor.floor_1op;
					r->floor_2op = floor.floor_2op;
					prior = (strcmp(*m, "split") == 0 ?
					    floor.floor_1op : floor.floor_pm) / 1000;
					if (floor.error != NULL)
						r->error = g_strdup(floor.error);
					else if (opt_max_post > 0 &&
					    prior > opt_max_post) {
						r->skipped = g_strdup_printf("left out: "
						    "gpg alone takes %.0f s a post "
						    "(--max-post-seconds %.0f)", prior,
						    opt_max_post);
						fprintf(stderr, "  %-26s %s\n", r->name,
						    r->skipped);
					} else
						measure(r, lconf, lk->addr, posts,
						    prior);
					if (r->error != NULL) {
						fprintf(stderr, "bench: %s: %s\n", r->name,
						    r->error);
						failed = 1;
					}
					g_ptr_array_add(rows, r);
					(void)write_results(rows);
				}
				g_free(floor.error);
			}
			if (!opt_keep)
				rm_rf(posts);
		}
		if (opt_mem_sizes != NULL && *opt_mem_sizes != '\0') {
			int members = atoi(ns[0]);

			if (members < 1 || members >= (int)keys->len)
				return 1;
			failed |= measure_memory(memrows, sn[0], key_type, keys,
			    members);
		}
	}

	machine_add("load_end", "%s", loadavg());
	printf("  %-11s %s\n", "load_end", machine_get("load_end"));
	printf("\n");
	print_tables(stdout, rows);
	print_memory(stdout, memrows);
	printf("\n"
	    "lat: opmf_test_message() wall time, one connection, journal on\n"
	    "  (state directory on %s), the MTA's queueing excluded;\n"
	    "no-jrnl: the same, journal off; in-gpg: wall time of the gpg\n"
	    "  processes of one post (count run); post/s1, post/s4: posts per\n"
	    "  second with 1 and 4 connections; floor/mbr: gpgme alone, verify\n"
	    "  + one encryption per member (~: extrapolated from the first\n"
	    "  members); floor/1op: verify + one sign+encrypt to all members;\n"
	    "  floor/2op: verify + the sign+encrypts split mode asks for, the\n"
	    "  members dealt exactly as the milter deals them (two parts in\n"
	    "  keyring order, side by side, binary output): the least split\n"
	    "  mode can take; the gap above it is the milter's own cost.\n"
	    "RSS: peak resident set of the milter process, 1 and 4\n"
	    "  connections, and after loading the configuration; gpg: gpg\n"
	    "  processes per post once warm, 1st: for the first post after\n"
	    "  loading; gpg-RSS: the largest one's peak.\n"
	    "Memory per post: peak: the milter process's peak resident set\n"
	    "  during the post over the one just before it (the post as the\n"
	    "  bench read it excluded); x post: that over the post's size;\n"
	    "  left: resident set after the post over the one before the\n"
	    "  first post (the largest of three posts); loaded: the resident\n"
	    "  set before the first post.\n"
	    "Targets (ed25519, not asserted): 10 KB post <= %.0f ms for 100\n"
	    "  members, <= %.0f ms for 1,000; <= %.0f gpg processes per post;\n"
	    "  peak RSS < %.0f MB for 1,000 members and a 1 MB post.\n",
	    machine_get("state_dir"), TARGET_LAT_100_MS, TARGET_LAT_1000_MS,
	    TARGET_GPG_PER_POST, TARGET_RSS_MB);
	if (!write_results(rows)) {
		fprintf(stderr, "bench: cannot write %s\n", opt_results);
		return 1;
	}
	printf("\nResults written to %s\n", opt_results);
	return failed;
}

int
main(int argc, char **argv)
{
	g_autoptr(GOptionContext) oc = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *base = g_path_get_basename(argv[0]);

	if (strcmp(base, "gpg") == 0)
		return gpg_wrapper(argc, argv);
	setlocale(LC_ALL, "");
	opmf_memory_init();
	oc = g_option_context_new("- openpgp-milter benchmark (make bench)");
	g_option_context_add_main_entries(oc, entries, NULL);
	if (!g_option_context_parse(oc, &argc, &argv, &error)) {
		fprintf(stderr, "bench: %s\n", error->message);
		return 2;
	}
	if (opt_child != NULL && opt_count_gpg) {
		/* gpg is looked up in PATH, where the wrapper comes first */
		(void)gpgme_set_global_flag("disable-gpgconf", "1");
		(void)gpgme_set_global_flag("gpg-name", "gpg");
	}
	gpgme_check_version(NULL);
	g_mime_init();
	if (opt_child != NULL) {
		/* the milter's logging, to syslog as in production */
		opmf_log_init("openpgp-milter-bench", FALSE, TRUE);
		return child_main();
	}
	if (opt_make_posts != NULL)
		return posts_main();
	return parent_main();
}
