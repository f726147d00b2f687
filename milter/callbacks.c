/*
 * NAME
 *	callbacks - the libmilter callbacks
 * SYNOPSIS
 *	opmf_desc, opmf_connect() ... opmf_close(), opmf_conf_get(),
 *	opmf_conf_set(), opmf_conf_load()
 * DESCRIPTION
 *	Per-connection state lives in an OpmfConn set with setpriv and freed
 *	in the close callback.  A transaction is examined only when one of
 *	its envelope recipients is a list address; then the message is
 *	buffered (headers as "Name: value" lines, body as received) up to
 *	MaxMessageSize, and at end of message the gate runs once per list.
 *	A rejection for any list rejects the whole transaction, so that the
 *	poster learns of it in the SMTP session.
 *
 *	The configuration is reference counted: a transaction holds the one
 *	in force when it began, so a reload never changes a post half-way.
 * DIAGNOSTICS
 *	Allocation failures abort (GLib); everything else becomes a verdict.
 */
#include "config.h"

#include <string.h>

#include "mime.h"
#include "keys.h"
#include "opmf.h"

typedef struct {
	OpmConfig *conf;      /* the configuration of this transaction */
	char *sender;
	GPtrArray *lists;     /* OpmList *, (transfer none), no duplicates */
	GByteArray *buf;      /* header block, then body */
	gboolean in_body;
	gboolean oversize;
	gint64 size;          /* bytes seen, buffered or not */
	gint64 start_us;
} OpmfMsg;

typedef struct {
	char *client;
	OpmfMsg *msg;
} OpmfConn;

static GMutex conf_lock;
static OpmConfig *conf_current;

OpmConfig *
opmf_conf_get(void)
{
	OpmConfig *c;

	g_mutex_lock(&conf_lock);
	c = conf_current != NULL ? opm_conf_ref(conf_current) : NULL;
	g_mutex_unlock(&conf_lock);
	return c;
}

void
opmf_conf_set(OpmConfig *conf)
{
	OpmConfig *old;

	g_mutex_lock(&conf_lock);
	old = conf_current;
	conf_current = conf;
	g_mutex_unlock(&conf_lock);
	opm_conf_unref(old);
}

OpmConfig *
opmf_conf_load(const char *path, GError **error)
{
	g_autoptr(OpmConfig) conf = opm_conf_load(path, error);

	if (conf == NULL)
		return NULL;
	for (guint i = 0; i < conf->lists->len; i++)
		if (!opm_keys_load(g_ptr_array_index(conf->lists, i), error))
			return NULL;
	return g_steal_pointer(&conf);
}

static void
msg_free(OpmfMsg *m)
{
	if (m == NULL)
		return;
	opm_conf_unref(m->conf);
	g_free(m->sender);
	g_clear_pointer(&m->lists, g_ptr_array_unref);
	g_clear_pointer(&m->buf, g_byte_array_unref);
	g_free(m);
}

static OpmfConn *
conn(SMFICTX *ctx)
{
	return opmf_smfi->getpriv(ctx);
}

sfsistat
opmf_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	OpmfConn *c = g_new0(OpmfConn, 1);

	c->client = g_strdup(host != NULL ? host : "unknown");
	if (opmf_smfi->setpriv(ctx, c) != MI_SUCCESS) {
		g_free(c->client);
		g_free(c);
		return SMFIS_TEMPFAIL;
	}
	return SMFIS_CONTINUE;
}

sfsistat
opmf_envfrom(SMFICTX *ctx, char **argv)
{
	OpmfConn *c = conn(ctx);
	OpmfMsg *m;

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	msg_free(c->msg);
	m = c->msg = g_new0(OpmfMsg, 1);
	m->conf = opmf_conf_get();
	if (m->conf == NULL)
		return SMFIS_TEMPFAIL;
	m->sender = opm_envelope_address(argv[0]);
	m->lists = g_ptr_array_new();
	m->start_us = g_get_monotonic_time();
	return SMFIS_CONTINUE;
}

sfsistat
opmf_envrcpt(SMFICTX *ctx, char **argv)
{
	OpmfConn *c = conn(ctx);
	g_autofree char *rcpt = NULL;
	OpmList *l;

	if (c == NULL || c->msg == NULL)
		return SMFIS_TEMPFAIL;
	rcpt = opm_envelope_address(argv[0]);
	l = opm_conf_find_list(c->msg->conf, rcpt);
	if (l != NULL && !g_ptr_array_find(c->msg->lists, l, NULL))
		g_ptr_array_add(c->msg->lists, l);
	return SMFIS_CONTINUE;
}

static void
append(OpmfMsg *m, const void *p, gsize n)
{
	m->size += n;
	if (m->oversize)
		return;
	if (m->size > m->conf->max_message_size) {
		/* keep counting, stop buffering: the post will be refused */
		m->oversize = TRUE;
		g_clear_pointer(&m->buf, g_byte_array_unref);
		return;
	}
	if (m->buf == NULL)
		m->buf = g_byte_array_sized_new(16384);
	g_byte_array_append(m->buf, p, (guint)n);
}

sfsistat
opmf_header(SMFICTX *ctx, char *name, char *value)
{
	OpmfConn *c = conn(ctx);
	OpmfMsg *m = c != NULL ? c->msg : NULL;

	if (m == NULL)
		return SMFIS_TEMPFAIL;
	if (m->lists->len == 0)
		return SMFIS_ACCEPT; /* no list recipient: not our business */
	append(m, name, strlen(name));
	append(m, ": ", 2);
	/* MTAs hand folded values with bare LF or CRLF between lines */
	for (const char *v = value; *v != '\0'; v++) {
		if (*v == '\r' && v[1] == '\n')
			continue;
		if (*v == '\n')
			append(m, "\r\n", 2);
		else
			append(m, v, 1);
	}
	append(m, "\r\n", 2);
	return SMFIS_CONTINUE;
}

sfsistat
opmf_eoh(SMFICTX *ctx)
{
	OpmfConn *c = conn(ctx);
	OpmfMsg *m = c != NULL ? c->msg : NULL;

	if (m == NULL)
		return SMFIS_TEMPFAIL;
	if (m->lists->len == 0)
		return SMFIS_ACCEPT;
	append(m, "\r\n", 2);
	m->in_body = TRUE;
	return SMFIS_CONTINUE;
}

sfsistat
opmf_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	OpmfConn *c = conn(ctx);
	OpmfMsg *m = c != NULL ? c->msg : NULL;

	if (m == NULL)
		return SMFIS_TEMPFAIL;
	append(m, chunk, len);
	return SMFIS_CONTINUE;
}

static const char *
queue_id(SMFICTX *ctx)
{
	const char *q = opmf_smfi->getsymval(ctx, "i");

	if (q == NULL)
		q = opmf_smfi->getsymval(ctx, "{i}");
	return q != NULL ? q : "NOQUEUE";
}

/* Run the gate for every list of the transaction; the first refusal
 * decides, and claims made for other lists are released. */
static OpmVerdict *
judge(OpmfMsg *m)
{
	g_autoptr(GPtrArray) verdicts =
	    g_ptr_array_new_with_free_func((GDestroyNotify)opm_verdict_free);
	g_autoptr(OpmMessage) msg = NULL;
	g_autoptr(GBytes) raw = NULL;
	OpmLimits limits;
	OpmVerdict *decisive = NULL;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	opm_gate_limits(m->conf, &limits);
	if (m->oversize) {
		/* a stand-in of one byte too many: parse reports the size */
		limits.max_size = 0;
		raw = g_bytes_new_static("x", 1);
	} else {
		raw = g_byte_array_free_to_bytes(g_steal_pointer(&m->buf));
	}
	msg = opm_message_parse(raw, &limits);
	if (m->oversize) {
		g_free(msg->limit_detail);
		msg->limit_detail = g_strdup_printf("%" G_GINT64_FORMAT
		    " bytes or more, at most %" G_GINT64_FORMAT, m->size,
		    m->conf->max_message_size);
	}
	for (guint i = 0; i < m->lists->len; i++) {
		OpmVerdict *v = opm_gate_check(m->conf,
		    g_ptr_array_index(m->lists, i), msg, now);

		g_ptr_array_add(verdicts, v);
		if (decisive == NULL && v->action == OPM_ACTION_REJECT)
			decisive = v;
	}
	for (guint i = 0; decisive == NULL && i < verdicts->len; i++) {
		OpmVerdict *v = g_ptr_array_index(verdicts, i);

		if (v->action != OPM_ACTION_ACCEPT)
			decisive = v;
	}
	if (decisive == NULL)
		decisive = g_ptr_array_index(verdicts, 0);
	for (guint i = 0; i < verdicts->len; i++) {
		OpmVerdict *v = g_ptr_array_index(verdicts, i);

		if (decisive->action != OPM_ACTION_ACCEPT)
			opm_gate_release(m->conf, v);
	}
	{
		guint idx = 0;

		(void)g_ptr_array_find(verdicts, decisive, &idx);
		return g_ptr_array_steal_index(verdicts, idx);
	}
}

sfsistat
opmf_eom(SMFICTX *ctx)
{
	OpmfConn *c = conn(ctx);
	OpmfMsg *m = c != NULL ? c->msg : NULL;
	g_autoptr(OpmVerdict) v = NULL;
	sfsistat rc;

	if (m == NULL)
		return SMFIS_TEMPFAIL;
	if (m->lists->len == 0)
		return SMFIS_ACCEPT;
	v = judge(m);
	rc = opmf_reply(ctx, v);
	opmf_log_summary(queue_id(ctx), m->sender, v,
	    (g_get_monotonic_time() - m->start_us) / 1000);
	msg_free(m);
	c->msg = NULL;
	return rc;
}

sfsistat
opmf_abort(SMFICTX *ctx)
{
	OpmfConn *c = conn(ctx);

	if (c != NULL) {
		msg_free(c->msg);
		c->msg = NULL;
	}
	return SMFIS_CONTINUE;
}

sfsistat
opmf_close(SMFICTX *ctx)
{
	OpmfConn *c = conn(ctx);

	if (c == NULL)
		return SMFIS_CONTINUE;
	msg_free(c->msg);
	g_free(c->client);
	g_free(c);
	(void)opmf_smfi->setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

struct smfiDesc opmf_desc = {
	.xxfi_name = "openpgp-milter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_DELRCPT |
	    SMFIF_ADDRCPT,
	.xxfi_connect = opmf_connect,
	.xxfi_envfrom = opmf_envfrom,
	.xxfi_envrcpt = opmf_envrcpt,
	.xxfi_header = opmf_header,
	.xxfi_eoh = opmf_eoh,
	.xxfi_body = opmf_body,
	.xxfi_eom = opmf_eom,
	.xxfi_abort = opmf_abort,
	.xxfi_close = opmf_close,
};
