/*
 * NAME
 *	testmode - run one message through the callbacks without an MTA (-t)
 * SYNOPSIS
 *	opmf_test_run()
 * DESCRIPTION
 *	Plays the part of the MTA: reads the message file, feeds the same
 *	callbacks the daemon registers with libmilter (connect, envelope,
 *	each header, end of headers, body in 64 KiB chunks with CRLF line
 *	endings, end of message), through a seam table that records what the
 *	callbacks ask of the MTA.  Then prints the verdict as the first line
 *	of standard output: "ACCEPT", "REJECT code xcode text" or
 *	"TEMPFAIL code xcode text", and returns 0, 1 or EX_TEMPFAIL.
 *	After ACCEPT, one line "removed recipient RCPT" names each list
 *	recipient the callbacks took out of a transaction that goes on to
 *	other recipients.
 *
 *	The envelope sender is the address in From:, the recipients are the
 *	-r arguments, or the single list's address when there is exactly one.
 * DIAGNOSTICS
 *	A file it cannot read is reported with the user it tried as: -t
 *	started as root has already become the filter's user.
 */
#include "config.h"

#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "mime.h"
#include "opmf.h"

typedef struct {
	void *priv;
	char *qid;
	char *rcode;
	char *xcode;
	GPtrArray *lines;
	GPtrArray *deleted;
} OpmfTestCtx;

#define TCTX(ctx) ((OpmfTestCtx *)(void *)(ctx))

static char *
t_getsymval(SMFICTX *ctx, char *name)
{
	if (strcmp(name, "i") == 0 || strcmp(name, "{i}") == 0)
		return TCTX(ctx)->qid;
	return NULL;
}

static int
t_setpriv(SMFICTX *ctx, void *priv)
{
	TCTX(ctx)->priv = priv;
	return MI_SUCCESS;
}

static void *
t_getpriv(SMFICTX *ctx)
{
	return TCTX(ctx)->priv;
}

static int
t_setreply(SMFICTX *ctx, const char *rcode, const char *xcode, char **lines)
{
	OpmfTestCtx *t = TCTX(ctx);

	g_free(t->rcode);
	g_free(t->xcode);
	t->rcode = g_strdup(rcode);
	t->xcode = g_strdup(xcode);
	g_ptr_array_set_size(t->lines, 0);
	for (; *lines != NULL; lines++) {
		/* undo libmilter's %% escaping for display */
		GString *s = g_string_new(NULL);

		for (const char *p = *lines; *p != '\0'; p++) {
			if (p[0] == '%' && p[1] == '%')
				p++;
			g_string_append_c(s, *p);
		}
		g_ptr_array_add(t->lines, g_string_free(s, FALSE));
	}
	return MI_SUCCESS;
}

static int
t_delrcpt(SMFICTX *ctx, char *rcpt)
{
	g_ptr_array_add(TCTX(ctx)->deleted, g_strdup(rcpt));
	return MI_SUCCESS;
}

static const OpmfSmfi test_smfi = {
	.getsymval = t_getsymval,
	.setpriv = t_setpriv,
	.getpriv = t_getpriv,
	.setreply = t_setreply,
	.delrcpt = t_delrcpt,
};

/* The envelope sender an MTA would have: the From: address, or <>.
 * Only the header block is parsed, within the configured bounds: the
 * body of a hostile file is left to the gate. */
static char *
guess_sender(GBytes *raw)
{
	g_autoptr(OpmConfig) conf = opmf_conf_get();
	gsize len;
	const char *p = g_bytes_get_data(raw, &len);
	g_autoptr(GBytes) head = g_bytes_new_from_bytes(raw, 0,
	    p != NULL ? opm_body_offset(p, len) : 0);
	g_autoptr(OpmMessage) m = NULL;
	g_autoptr(GPtrArray) from = NULL;
	OpmLimits lim;
	InternetAddressList *al;
	char *out = NULL;

	opm_gate_limits(conf, &lim);
	m = opm_message_parse(head, &lim);
	from = opm_message_headers(m, "From");
	if (from->len == 0)
		return g_strdup("<>");
	al = internet_address_list_parse(NULL, g_ptr_array_index(from, 0));
	if (al != NULL && internet_address_list_length(al) > 0 &&
	    INTERNET_ADDRESS_IS_MAILBOX(internet_address_list_get_address(al, 0)))
		out = g_strdup_printf("<%s>", internet_address_mailbox_get_addr(
		    INTERNET_ADDRESS_MAILBOX(
			internet_address_list_get_address(al, 0))));
	if (al != NULL)
		g_object_unref(al);
	return out != NULL ? out : g_strdup("<>");
}

/* Feed one header field (possibly folded) to the callback as an MTA
 * would: name, and the value without the space after the colon. */
static sfsistat
feed_header(SMFICTX *ctx, const char *field, gsize len)
{
	g_autofree char *f = g_strndup(field, len);
	char *colon = strchr(f, ':');
	char *value;

	if (colon == NULL)
		return SMFIS_CONTINUE; /* not a header field: an MTA drops it */
	*colon = '\0';
	value = colon + 1;
	if (*value == ' ' || *value == '\t')
		value++;
	/* strip the field's own final line ending */
	for (gsize n = strlen(value); n > 0 &&
	    (value[n - 1] == '\n' || value[n - 1] == '\r'); n--)
		value[n - 1] = '\0';
	return opmf_header(ctx, g_strstrip(f), value);
}

static sfsistat
feed(SMFICTX *ctx, GBytes *raw, char **rcpts)
{
	gsize len, i = 0, field = G_MAXSIZE;
	const char *p = g_bytes_get_data(raw, &len);
	g_autofree char *sender = guess_sender(raw);
	char *argv[2] = {sender, NULL};
	g_autoptr(GString) body = NULL;
	sfsistat rc;

	if ((rc = opmf_connect(ctx, "localhost", NULL)) != SMFIS_CONTINUE ||
	    (rc = opmf_envfrom(ctx, argv)) != SMFIS_CONTINUE)
		return rc;
	for (char **r = rcpts; *r != NULL; r++) {
		g_autofree char *a = g_strdup_printf("<%s>", *r);
		char *rargv[2] = {a, NULL};

		if ((rc = opmf_envrcpt(ctx, rargv)) != SMFIS_CONTINUE)
			return rc;
	}
	/* header fields up to the empty line */
	while (i < len) {
		const char *nl = memchr(p + i, '\n', len - i);
		gsize end = nl != NULL ? (gsize)(nl - p) + 1 : len;
		gboolean blank = end - i == 1 || (end - i == 2 && p[i] == '\r');

		if (blank || (p[i] != ' ' && p[i] != '\t')) {
			if (field != G_MAXSIZE &&
			    (rc = feed_header(ctx, p + field, i - field)) !=
			    SMFIS_CONTINUE)
				return rc;
			field = blank ? G_MAXSIZE : i;
		}
		i = end;
		if (blank)
			break;
	}
	if (field != G_MAXSIZE &&
	    (rc = feed_header(ctx, p + field, i - field)) != SMFIS_CONTINUE)
		return rc;
	if ((rc = opmf_eoh(ctx)) != SMFIS_CONTINUE)
		return rc;
	/* the body as an MTA hands it over: CRLF line ends, in chunks of
	 * about 64 kB that end at a line end, never converted whole */
	body = g_string_sized_new(65536 + 4096);
	while (i < len) {
		gsize j = MIN(len, i + 65536);
		const char *nl;

		if (j < len && (nl = memrchr(p + i, '\n', j - i)) != NULL)
			j = (gsize)(nl - p) + 1;
		else if (j < len)
			j = (nl = memchr(p + j, '\n', len - j)) != NULL ?
			    (gsize)(nl - p) + 1 : len;
		g_string_truncate(body, 0);
		opm_crlf_append(body, p + i, j - i);
		rc = opmf_body(ctx, (unsigned char *)body->str, body->len);
		if (rc != SMFIS_CONTINUE)
			return rc;
		i = j;
	}
	return opmf_eom(ctx);
}

void
opmf_test_init(const char *inject_method, gboolean write_state)
{
	opmf_smfi = &test_smfi;
	opmf_set_injection(inject_method, inject_method == NULL, write_state);
}

sfsistat
opmf_test_message(GBytes *raw, char **rcpts, OpmfTestResult *res)
{
	OpmfTestCtx t = {0};
	SMFICTX *ctx = (SMFICTX *)(void *)&t;
	GString *text = g_string_new(NULL);
	sfsistat rc;

	t.qid = g_strdup("TESTMODE");
	t.lines = g_ptr_array_new_with_free_func(g_free);
	t.deleted = g_ptr_array_new_with_free_func(g_free);
	rc = feed(ctx, raw, rcpts);
	(void)opmf_close(ctx);
	for (guint i = 0; i < t.lines->len; i++)
		g_string_append_printf(text, "%s%s", i > 0 ? " " : "",
		    (char *)g_ptr_array_index(t.lines, i));
	res->rc = rc;
	res->rcode = g_steal_pointer(&t.rcode);
	res->xcode = g_steal_pointer(&t.xcode);
	res->text = g_string_free(text, FALSE);
	res->deleted = t.deleted->len;
	g_ptr_array_add(t.deleted, NULL);
	res->removed = (char **)g_ptr_array_free(t.deleted, FALSE);
	g_free(t.qid);
	g_ptr_array_unref(t.lines);
	return rc;
}

void
opmf_test_result_clear(OpmfTestResult *res)
{
	g_clear_pointer(&res->rcode, g_free);
	g_clear_pointer(&res->xcode, g_free);
	g_clear_pointer(&res->text, g_free);
	g_clear_pointer(&res->removed, g_strfreev);
}

int
opmf_test_run(const char *file, char **rcpts, const char *outdir)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *text = NULL;
	g_autoptr(GBytes) raw = NULL;
	g_autoptr(OpmConfig) conf = opmf_conf_get();
	g_autoptr(GPtrArray) r = g_ptr_array_new_with_free_func(g_free);
	OpmfTestResult res = {0};
	gsize len;
	int status;

	if (!g_file_get_contents(file, &text, &len, &error)) {
		struct passwd *pw = getpwuid(geteuid());

		/* -t runs as the filter's user: say so, since root could
		 * have read the file */
		fprintf(stderr, "openpgp-milter: %s (tried as user %s, uid "
		    "%ld)\n", error->message, pw != NULL ? pw->pw_name : "?",
		    (long)geteuid());
		if (g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_ACCES))
			fprintf(stderr, "openpgp-milter: make the file readable "
			    "by that user, for example with a copy in /tmp, "
			    "mode 0644\n");
		return EX_NOINPUT;
	}
	raw = g_bytes_new_take(g_steal_pointer(&text), len);
	for (char **p = rcpts; p != NULL && *p != NULL; p++)
		g_ptr_array_add(r, g_strdup(*p));
	if (r->len == 0) {
		if (conf->lists->len != 1) {
			fprintf(stderr, "openpgp-milter: %u lists are configured: "
			    "name the recipient with -r\n", conf->lists->len);
			return EX_USAGE;
		}
		g_ptr_array_add(r, g_strdup(((OpmList *)
		    g_ptr_array_index(conf->lists, 0))->address));
	}
	g_ptr_array_add(r, NULL);

	if (outdir != NULL) {
		g_autofree char *abs = g_canonicalize_filename(outdir, NULL);
		g_autofree char *method = g_strconcat("dir:", abs, NULL);

		opmf_test_init(method, FALSE);
	} else {
		opmf_test_init(NULL, FALSE);
	}
	opmf_test_message(raw, (char **)r->pdata, &res);

	switch (res.rc) {
	case SMFIS_REJECT:
		printf("REJECT %s %s %s\n", res.rcode, res.xcode, res.text);
		status = 1;
		break;
	case SMFIS_DISCARD:
	case SMFIS_CONTINUE:
	case SMFIS_ACCEPT:
		printf("ACCEPT\n");
		/* the list recipients taken out of a transaction that goes on
		 * to its other recipients */
		for (char **d = res.removed; d != NULL && *d != NULL; d++)
			printf("removed recipient %s\n", *d);
		status = EX_OK;
		break;
	case SMFIS_TEMPFAIL:
		printf("TEMPFAIL %s %s %s\n", res.rcode != NULL ? res.rcode :
		    "451", res.xcode != NULL ? res.xcode : "4.7.0", res.text);
		status = EX_TEMPFAIL;
		break;
	default:
		printf("TEMPFAIL 451 4.7.0 unexpected milter result %d\n",
		    res.rc);
		status = EX_TEMPFAIL;
		break;
	}
	opmf_test_result_clear(&res);
	return status;
}
