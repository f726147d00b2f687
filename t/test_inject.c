/*
 * NAME
 *	test_inject - the queue ID an MTA gives a copy
 * DESCRIPTION
 *	The replies to the end of a message's data of Postfix, Sendmail and
 *	Exim, and replies that name no ID, through the parser; then copies
 *	sent with "smtp:" to a small loopback SMTP server that answers as
 *	each MTA does, and the ID opm_injector_queue_id() reports for each.
 *	(t/e2e-smtp.test checks the same against a real Postfix.)
 */
#include "config.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tutil.h"
#include "inject.h"

static const struct {
	const char *reply;
	const char *want; /* NULL: no ID */
} replies[] = {
	{"250 2.0.0 Ok: queued as 4B7D91C2A0", "4B7D91C2A0"},
	{"250 2.0.0 Ok: queued as 4Rk2Lq0V3Wz5mNc", "4Rk2Lq0V3Wz5mNc"},
	{"250 2.0.0 Ok: queued as 1234567890", "1234567890"},
	{"250 2.0.0 0B6NQ1Xo012345 Message accepted for delivery",
	    "0B6NQ1Xo012345"},
	{"250 OK id=1kqXyz-0001Ab-Cd", "1kqXyz-0001Ab-Cd"},
	{"250 2.0.0 Ok", NULL},
	{"250 Message accepted for delivery", NULL},
	{"250 2.0.0 Message accepted for delivery", NULL},
	{"250 2.0.0 Ok: queued as <script>", NULL},
	{"250 2.0.0 Ok: queued as ", NULL},
	{"250 2.0.0 Ok: queued as "
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    NULL},
};

START_TEST(queue_id_of_reply)
{
	g_autofree char *got = opm_inject_reply_queue_id(replies[_i].reply);

	ck_assert_msg(g_strcmp0(got, replies[_i].want) == 0,
	    "reply \"%s\": got %s, want %s", replies[_i].reply,
	    got != NULL ? got : "(none)",
	    replies[_i].want != NULL ? replies[_i].want : "(none)");
}
END_TEST

/* A one-connection SMTP server on 127.0.0.1 that ends each message's
 * data with the reply of one MTA. */
typedef struct {
	int listener;
	guint16 port;
	const char *end_reply;
	GThread *thread;
} Server;

static void
say(int fd, const char *line)
{
	g_autofree char *l = g_strconcat(line, "\r\n", NULL);

	ck_assert_int_eq(write(fd, l, strlen(l)), (ssize_t)strlen(l));
}

/* One line from fd, without its CRLF, or NULL at the end. */
static char *
hear(int fd)
{
	GString *s = g_string_new(NULL);
	char c;

	while (read(fd, &c, 1) == 1) {
		if (c == '\n')
			return g_strchomp(g_string_free(s, FALSE));
		g_string_append_c(s, c);
	}
	g_string_free(s, TRUE);
	return NULL;
}

static gpointer
serve(gpointer data)
{
	Server *sv = data;
	int fd = accept(sv->listener, NULL, NULL);
	gboolean in_data = FALSE;
	char *line;

	if (fd < 0)
		return NULL;
	say(fd, "220 fake.example ESMTP");
	while ((line = hear(fd)) != NULL) {
		if (in_data) {
			if (strcmp(line, ".") == 0) {
				say(fd, sv->end_reply);
				in_data = FALSE;
			}
		} else if (g_ascii_strncasecmp(line, "EHLO", 4) == 0) {
			say(fd, "250-fake.example");
			say(fd, "250 8BITMIME");
		} else if (g_ascii_strncasecmp(line, "DATA", 4) == 0) {
			say(fd, "354 go on");
			in_data = TRUE;
		} else if (g_ascii_strncasecmp(line, "QUIT", 4) == 0) {
			say(fd, "221 bye");
			g_free(line);
			break;
		} else {
			say(fd, "250 2.1.0 Ok");
		}
		g_free(line);
	}
	close(fd);
	return NULL;
}

static void
server_start(Server *sv, const char *end_reply)
{
	struct sockaddr_in a = {0};
	socklen_t len = sizeof(a);

	sv->end_reply = end_reply;
	sv->listener = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(sv->listener, 0);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(sv->listener, (struct sockaddr *)&a, sizeof(a)),
	    0);
	ck_assert_int_eq(listen(sv->listener, 1), 0);
	ck_assert_int_eq(getsockname(sv->listener, (struct sockaddr *)&a,
	    &len), 0);
	sv->port = ntohs(a.sin_port);
	sv->thread = g_thread_new("smtp", serve, sv);
}

static const struct {
	const char *mta;
	const char *end_reply;
	const char *want;
} servers[] = {
	{"Postfix", "250 2.0.0 Ok: queued as 4B7D91C2A0", "4B7D91C2A0"},
	{"Sendmail", "250 2.0.0 0B6NQ1Xo012345 Message accepted for delivery",
	    "0B6NQ1Xo012345"},
	{"Exim", "250 OK id=1kqXyz-0001Ab-Cd", "1kqXyz-0001Ab-Cd"},
	{"an MTA that names no ID", "250 2.0.0 Ok", NULL},
};

START_TEST(queue_id_over_smtp)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) msg = g_bytes_new_static("Subject: x\r\n\r\nhello\r\n",
	    22);
	g_autofree char *method = NULL;
	OpmInjector *inj;
	Server sv = {0};
	const char *got;

	server_start(&sv, servers[_i].end_reply);
	method = g_strdup_printf("smtp:127.0.0.1:%u", sv.port);
	inj = opm_injector_new(method, &error);
	ck_assert_msg(inj != NULL, "%s", error != NULL ? error->message : "");
	ck_assert_msg(opm_injector_send(inj, "list-bounces@example.org",
	    "bob@example.net", msg, NULL, &error), "%s: send: %s",
	    servers[_i].mta, error != NULL ? error->message : "");
	got = opm_injector_queue_id(inj);
	ck_assert_msg(g_strcmp0(got, servers[_i].want) == 0,
	    "%s: got queue ID %s, want %s", servers[_i].mta,
	    got != NULL ? got : "(none)",
	    servers[_i].want != NULL ? servers[_i].want : "(none)");
	opm_injector_free(inj);
	g_thread_join(sv.thread);
	close(sv.listener);
}
END_TEST

START_TEST(no_queue_id_from_dir)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) msg = g_bytes_new_static("Subject: x\r\n\r\nhi\r\n",
	    19);
	g_autofree char *dir = tu_tmpdir("inject");
	g_autofree char *method = g_strconcat("dir:", dir, NULL);
	OpmInjector *inj = opm_injector_new(method, &error);

	ck_assert_ptr_nonnull(inj);
	ck_assert(opm_injector_send(inj, "l@example.org", "bob@example.net",
	    msg, NULL, &error));
	ck_assert_msg(opm_injector_queue_id(inj) == NULL,
	    "dir: got queue ID %s, want none", opm_injector_queue_id(inj));
	opm_injector_free(inj);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("inject");
	TCase *tc = tcase_create("queue ID");

	tcase_add_loop_test(tc, queue_id_of_reply, 0, G_N_ELEMENTS(replies));
	tcase_add_loop_test(tc, queue_id_over_smtp, 0, G_N_ELEMENTS(servers));
	tcase_add_test(tc, no_queue_id_from_dir);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
