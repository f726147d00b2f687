/*
 * NAME
 *	request - mail to a list's request address: commands by mail
 * SYNOPSIS
 *	opm_request_list(), opm_request_run()
 * DESCRIPTION
 *	The order, so that nothing changes unless everything may:
 *
 *	1. A mail that is not signed counts only when all its commands
 *	   are "get-list-key": the reply, the list key, goes signed (not
 *	   encrypted) to the envelope sender, at most once a day to the same
 *	   address (KEY_SENT_INTERVAL; the times are kept in the state
 *	   directory, keysent/LIST/, one file per address named by its
 *	   SHA-256), so that nobody can have the list mail one address over
 *	   and over by forging it as the sender; a second request within the
 *	   day is refused with 550 5.7.1.  Anything else unsigned is refused
 *	   with 550 5.7.1.
 *	2. The posting gate of the list (opm_gate_check()): a refusal there
 *	   is the refusal of the mail, with the gate's text.
 *	3. The signed entity gives the text (its first text/plain part) and
 *	   the keys (every application/pgp-keys part, de-armored and put
 *	   together); the text gives the commands (lib/command.c).
 *	4. A command for admins from a member who is not an Admin of the
 *	   list is refused with 550 5.7.1, naming the line.
 *	5. The journal entry of the mail is opened (a replay that raced the
 *	   gate is refused now), the changes are made with
 *	   opm_member_apply() as one batch, and the entry is marked done.  A
 *	   change that cannot be made leaves everything as it was; the mail
 *	   is accepted and the reply says which line failed and why.
 *	6. Replies: to the sender, the outcome of each line and what was
 *	   asked for; a welcome to each added member, a goodbye to each
 *	   removed one, a notice to the admins.  Each is signed by the list
 *	   key and encrypted to its reader's key alone.
 *
 *	Admission commands (nominate, vouch, object, approve, withdraw,
 *	nominations) come in a mail without membership changes; they are
 *	made on the list's nominations (lib/admission.c) in memory, a
 *	candidate who is ready is added with opm_member_apply(), and only
 *	then are the nominations saved; the notices go out after the reply.
 *
 *	Without apply (openpgp-milter -t), steps 5 and 6 check everything
 *	and change nothing; replies and notices that can be made go to the
 *	injector (-o DIR), and a plain summary to o->summary.
 * DIAGNOSTICS
 *	Internal trouble is a TEMPFAIL verdict, logged.
 */
#include "config.h"

#include <string.h>

#include "admission.h"
#include "audit.h"
#include "command.h"
#include "copy.h"
#include "fanout.h"
#include "journal.h"
#include "keys.h"
#include "member.h"
#include "pgp.h"
#include "request.h"

OpmList *
opm_request_list(OpmConfig *conf, const char *rcpt)
{
	OpmAddrRole role;
	OpmList *l = opm_conf_resolve(conf, rcpt, &role);

	/* the one rule for every address the filter owns: quoted local
	 * parts, a trailing dot and extensions reach it as they reach the
	 * list (lib/util.c, opm_address_match()) */
	return role == OPM_ROLE_REQUEST ? l : NULL;
}

static OpmVerdict *
verdict(const char *list, OpmAction action, const char *rcode,
    const char *xcode, const char *reason, const char *fmt, ...)
    G_GNUC_PRINTF(6, 7);

static OpmVerdict *
verdict(const char *list, OpmAction action, const char *rcode,
    const char *xcode, const char *reason, const char *fmt, ...)
{
	OpmVerdict *v = opm_verdict_tempfail(list, xcode, reason);
	va_list ap;

	v->action = action;
	g_strlcpy(v->rcode, rcode, sizeof(v->rcode));
	g_strlcpy(v->xcode, xcode, sizeof(v->xcode));
	g_free(v->text);
	va_start(ap, fmt);
	v->text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	return v;
}

/* What the signed entity holds for us. */
typedef struct {
	GString *text;     /* the first text/plain part, decoded */
	GByteArray *keys;  /* every application/pgp-keys part, binary */
	char *bad_keys;    /* why an attached key part is unusable, or NULL */
} Content;

static void
content_clear(Content *c)
{
	if (c->text != NULL)
		g_string_free(c->text, TRUE);
	if (c->keys != NULL)
		g_byte_array_unref(c->keys);
	g_free(c->bad_keys);
}

static GBytes *
part_bytes(GMimePart *part)
{
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	GMimeStream *mem = g_mime_stream_mem_new();
	GByteArray *ba;
	GBytes *b;

	if (w != NULL)
		(void)g_mime_data_wrapper_write_to_stream(w, mem);
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	b = g_bytes_new(ba->data, ba->len);
	g_object_unref(mem);
	return b;
}

static void
collect(GMimeObject *parent, GMimeObject *part, gpointer data)
{
	Content *c = data;
	GMimeContentType *ct = g_mime_object_get_content_type(part);
	g_autoptr(GBytes) b = NULL;
	g_autoptr(GBytes) bin = NULL;
	g_autoptr(GError) error = NULL;
	gsize n;
	const char *p;

	(void)parent;
	if (!GMIME_IS_PART(part))
		return;
	if (g_mime_content_type_is_type(ct, "text", "plain") &&
	    c->text == NULL) {
		b = part_bytes(GMIME_PART(part));
		p = g_bytes_get_data(b, &n);
		c->text = g_string_new_len(p, (gssize)n);
	} else if (g_mime_content_type_is_type(ct, "application", "pgp-keys")) {
		b = part_bytes(GMIME_PART(part));
		p = g_bytes_get_data(b, &n);
		if (g_strstr_len(p, (gssize)n, "-----BEGIN PGP") != NULL)
			bin = opm_pgp_dearmor(b, "PUBLIC KEY BLOCK", &error);
		else
			bin = g_bytes_ref(b);
		if (bin == NULL) {
			if (c->bad_keys == NULL)
				c->bad_keys = g_strdup_printf("an attached "
				    "application/pgp-keys part is not an "
				    "OpenPGP public key block (%s)",
				    error->message);
			return;
		}
		p = g_bytes_get_data(bin, &n);
		g_byte_array_append(c->keys, (const guint8 *)p, (guint)n);
	}
}

/* The text and keys of a MIME entity (header and body, CRLF). */
static void
read_entity(GBytes *entity, Content *c)
{
	gsize n;
	const char *p = g_bytes_get_data(entity, &n);
	GMimeStream *s = g_mime_stream_mem_new_with_buffer(p, n);
	GMimeParser *parser = g_mime_parser_new_with_stream(s);
	GMimeObject *obj;

	c->keys = g_byte_array_new();
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	obj = g_mime_parser_construct_part(parser, NULL);
	if (obj != NULL) {
		if (GMIME_IS_MULTIPART(obj))
			g_mime_multipart_foreach(GMIME_MULTIPART(obj), collect, c);
		else
			collect(NULL, obj, c);
		g_object_unref(obj);
	}
	g_object_unref(parser);
	g_object_unref(s);
}

static const char help_text[] =
    "Commands, one per line of a signed mail to %s:\n"
    "  help                      this text\n"
    "  get-list-key              the list's public key (works unsigned)\n"
    "  list-members              the members%s\n"
    "  update-key FINGERPRINT    your new key, attached as\n"
    "                            application/pgp-keys; sign with your\n"
    "                            current key\n"
    "  unsubscribe               leave the list\n"
    "With \"Admission vouch\" (in a mail of their own):\n"
    "  nominate ADDRESS FINGERPRINT [NAME]     the candidate's key attached\n"
    "  vouch ADDRESS FINGERPRINT               the fingerprint you checked\n"
    "                                          with the candidate\n"
    "  object ADDRESS REASON\n"
    "  withdraw ADDRESS                        your own nomination\n"
    "  nominations                             the open nominations\n"
    "For the list's admins:\n"
    "  add-member ADDRESS FINGERPRINT [NAME]   key attached\n"
    "  remove-member ADDRESS\n"
    "  set-key ADDRESS FINGERPRINT             key attached\n"
    "  approve ADDRESS                         a vouched candidate joins\n"
    "A mail is carried out whole or not at all.\n";

static char *
armored_list_key(OpmList *list)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) k = opm_member_export_key(list->gnupg_home,
	    list->list_key, TRUE, &error);

	if (k == NULL) {
		g_warning("%s: %s", list->address, error->message);
		return g_strdup("(the list key cannot be exported right now)\n");
	}
	return g_strndup(g_bytes_get_data(k, NULL), g_bytes_get_size(k));
}

static char *
members_text(OpmList *list, gint64 now)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < list->members->len; i++) {
		OpmMember *m = g_ptr_array_index(list->members, i);
		g_autofree char *name = opm_sanitize(m->name, 100);

		const char *inactive = opm_audit_inactive(m, now);

		g_string_append_printf(s, "  %s %s%s%s%s%s%s\n", m->address,
		    m->fpr, m->name != NULL ? " " : "", m->name != NULL ? name :
		    "", inactive != NULL ? " (inactive: " : "",
		    inactive != NULL ? inactive : "", inactive != NULL ? ")" : "");
	}
	return g_string_free(s, FALSE);
}

/* Queue mail for to; FALSE (logged) when the MTA did not take it. */
static gboolean
send_one(const OpmRequestOptions *o, OpmList *list, const char *to,
    GBytes *mail)
{
	g_autoptr(GError) error = NULL;

	if (o->inj == NULL || mail == NULL)
		return TRUE;
	if (!opm_injector_send(o->inj, list->bounce_address, to, mail, NULL,
	    &error)) {
		g_warning("%s: a reply to %s was not queued: %s", list->address,
		    to, error->message);
		return FALSE;
	}
	return TRUE;
}

static void
send_encrypted(const OpmRequestOptions *o, OpmList *list, const char *to,
    const char *fpr, const char *subject, const char *body, gint64 now)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) mail = NULL;

	if (o->inj == NULL)
		return;
	mail = opm_member_notice(list, to, fpr, subject, body, now, &error);
	if (mail == NULL) {
		g_warning("%s: no reply to %s: %s", list->address, to,
		    error->message);
		return;
	}
	(void)send_one(o, list, to, mail);
}

/* The unsigned get-list-key reply: text and key, signed. */
static GBytes *
signed_key_reply(OpmList *list, const char *to, gint64 now, GError **error)
{
	g_autofree char *key = armored_list_key(list);
	g_autofree char *b = g_strdup_printf("=-opm-key-%08x%08x",
	    g_random_int(), g_random_int());
	g_autofree char *mid = NULL;
	g_autofree char *subject = g_strdup_printf("[%s] the list key",
	    list->name);
	g_autoptr(OpmCopyFrame) frame = NULL;
	GString *e = g_string_new(NULL);
	g_autoptr(GBytes) entity = NULL;
	g_auto(gpgme_data_t) din = NULL;
	g_auto(gpgme_data_t) dsig = NULL;
	gpgme_ctx_t ctx = NULL;
	gpgme_sign_result_t sr;
	gpgme_error_t err;
	g_autofree char *micalg = NULL;
	g_autoptr(GBytes) sig = NULL;
	size_t n = 0;
	char *p;

	g_string_append_printf(e, "Content-Type: multipart/mixed; "
	    "boundary=\"%s\"\r\n\r\n--%s\r\nContent-Type: text/plain; "
	    "charset=us-ascii\r\n\r\nThe public key of the list %s is "
	    "attached:\r\n%s.\r\nCompare this fingerprint with the one your "
	    "admins published.\r\nPost to the list signed with your own key; "
	    "send \"help\" to\r\n%s for the commands.\r\n\r\n--%s\r\n"
	    "Content-Type: application/pgp-keys; name=\"list-key.asc\"\r\n"
	    "Content-Disposition: attachment; filename=\"list-key.asc\"\r\n\r\n",
	    b, b, list->address, list->list_key, list->request_address, b);
	opm_crlf_append(e, key, strlen(key));
	g_string_append_printf(e, "\r\n--%s--\r\n", b);
	entity = g_string_free_to_bytes(e);
	if (list->list_gpgkey == NULL) {
		g_set_error(error, OPM_ERROR, OPM_ERROR_KEY,
		    "the secret list key is missing");
		return NULL;
	}
	if ((ctx = opm_gpg_acquire(list, error)) == NULL)
		return NULL;
	gpgme_set_armor(ctx, 1);
	gpgme_signers_clear(ctx);
	if ((err = gpgme_signers_add(ctx, list->list_gpgkey)) != 0 ||
	    (err = gpgme_data_new_from_mem(&din, g_bytes_get_data(entity, NULL),
		g_bytes_get_size(entity), 0)) != 0 ||
	    (err = gpgme_data_new(&dsig)) != 0 ||
	    (err = gpgme_op_sign(ctx, din, dsig, GPGME_SIG_MODE_DETACH)) != 0) {
		g_autofree char *msg = opm_gpg_strerror(err);

		opm_gpg_release(list, ctx);
		g_set_error(error, OPM_ERROR, OPM_ERROR_CRYPTO, "gpg --sign: %s",
		    msg);
		return NULL;
	}
	sr = gpgme_op_sign_result(ctx);
	micalg = g_ascii_strdown(sr != NULL && sr->signatures != NULL ?
	    gpgme_hash_algo_name(sr->signatures->hash_algo) : "SHA256", -1);
	opm_gpg_release(list, ctx);
	p = gpgme_data_release_and_get_mem(dsig, &n);
	dsig = NULL;
	sig = g_bytes_new(p, n);
	gpgme_free(p);
	{
		g_autofree char *m = g_strconcat("pgp-", micalg, NULL);

		mid = opm_copy_message_id(list, "get-list-key", to);
		frame = opm_copy_frame_notice(list, to, subject, now);
		return opm_copy_signed_outer(frame, mid, entity, sig, m);
	}
}

/* At most one unsigned get-list-key reply a day to one address. */
#define KEY_SENT_INTERVAL (24 * 3600)

/* The file that holds when the list key last went to address, in the
 * state directory.  (transfer full) */
static char *
key_sent_path(const OpmConfig *conf, const OpmList *list,
    const char *address)
{
	g_autofree char *norm = opm_address_normalize(address);
	g_autofree char *name = g_compute_checksum_for_string(G_CHECKSUM_SHA256,
	    norm, -1);

	return g_build_filename(conf->state_dir, "keysent", list->address,
	    name, NULL);
}

/* When the list key last went to the file's address, or 0. */
static gint64
key_sent_at(const char *path)
{
	g_autofree char *text = NULL;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return 0;
	return g_ascii_strtoll(text, NULL, 10);
}

/* Keep now in path, making its directory. */
static gboolean
key_sent_record(const char *path, gint64 now, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(path);
	g_autofree char *t = g_strdup_printf("%" G_GINT64_FORMAT "\n", now);

	return opm_mkdir(dir, 0700, error) &&
	    g_file_set_contents(path, t, -1, error);
}

/* 1: a mail that is not signed. */
static OpmVerdict *
unsigned_request(OpmConfig *conf, OpmList *list, OpmMessage *msg,
    const OpmRequestOptions *o, gint64 now)
{
	g_autoptr(GPtrArray) cmds = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) reply = NULL;
	g_autoptr(GBytes) entity = NULL;
	g_autofree char *sent = NULL;
	Content c = {0};
	gboolean only_key = FALSE;
	gint64 last;

	entity = opm_message_top_entity(msg);
	read_entity(entity, &c);
	if (c.text != NULL)
		cmds = opm_command_parse(c.text->str, c.text->len, NULL, &error);
	content_clear(&c);
	for (guint i = 0; cmds != NULL && i < cmds->len; i++) {
		OpmCommand *cmd = g_ptr_array_index(cmds, i);

		only_key = cmd->verb == OPM_CMD_GET_LIST_KEY;
		if (!only_key)
			break;
	}
	if (!only_key)
		return verdict(list->address, OPM_ACTION_REJECT, "550", "5.7.1",
		    "unsigned command", "list %s: commands to %s must be signed "
		    "(PGP/MIME) with the key registered for you; only "
		    "\"get-list-key\" works unsigned.\nNothing was changed.",
		    list->address, list->request_address);
	if (o->sender == NULL || *o->sender == '\0')
		return verdict(list->address, OPM_ACTION_REJECT, "550", "5.7.1",
		    "no sender", "list %s: get-list-key needs a return address "
		    "to send the key to.", list->address);
	sent = key_sent_path(conf, list, o->sender);
	last = key_sent_at(sent);
	if (last > 0 && now >= last && now - last < KEY_SENT_INTERVAL)
		return verdict(list->address, OPM_ACTION_REJECT, "550", "5.7.1",
		    "key sent already", "list %s: the list key went to this "
		    "return address less than a day ago; look for that "
		    "message, or ask again tomorrow.", list->address);
	reply = signed_key_reply(list, o->sender, now, &error);
	if (reply == NULL) {
		g_warning("%s: get-list-key: %s", list->address, error->message);
		return opm_verdict_tempfail(list->address, "4.3.0",
		    "the list key cannot be sent");
	}
	if (!send_one(o, list, o->sender, reply))
		return opm_verdict_tempfail(list->address, "4.3.0",
		    "the list key cannot be sent");
	/* after the sending: a reply that did not go is not counted; a
	 * time that cannot be kept costs at most one more reply */
	if (o->apply && !key_sent_record(sent, now, &error))
		g_warning("%s: get-list-key: %s", list->address, error->message);
	return verdict(list->address, OPM_ACTION_ACCEPT, "250", "2.0.0",
	    "get-list-key", "list key sent");
}

/* The signer's standing as an admin: an Admin of the list, and, when an
 * AdminKey pins that address, signing with that key. */
typedef enum {
	ADMIN_NO,
	ADMIN_YES,
	ADMIN_WRONG_KEY,
} AdminStanding;

static AdminStanding
admin_standing(OpmList *list, OpmMember *who, const char **pin)
{
	*pin = NULL;
	for (guint i = 0; list->admins != NULL && i < list->admins->len; i++)
		if (g_ascii_strcasecmp(g_ptr_array_index(list->admins, i),
		    who->address) == 0) {
			*pin = list->admin_pins != NULL ?
			    g_hash_table_lookup(list->admin_pins, who->address) :
			    NULL;
			return *pin == NULL || g_ascii_strcasecmp(*pin,
			    who->fpr) == 0 ? ADMIN_YES : ADMIN_WRONG_KEY;
		}
	return ADMIN_NO;
}

static void
write_summary(const OpmRequestOptions *o, const char *text)
{
	g_autoptr(GError) error = NULL;

	if (o->summary != NULL &&
	    !g_file_set_contents(o->summary, text, -1, &error))
		g_warning("%s", error->message);
}


/* A mail not answered: its journal entry is forgotten, so that the
 * retry or a corrected resend is not a replay. */
static void
journal_drop(OpmJournal *j)
{
	if (j == NULL)
		return;
	opm_journal_forget(j);
	opm_journal_close(j);
}

/* A mail answered: a replay of it is refused from now on. */
static void
journal_done(OpmList *list, OpmJournal *j, gint64 now)
{
	g_autoptr(GError) error = NULL;

	if (j == NULL)
		return;
	if (!opm_journal_finish(j, now, &error))
		g_warning("%s: %s", list->address, error->message);
	opm_journal_close(j);
}

/* What the admission commands of a mail leave to do once it is answered. */
typedef struct {
	GPtrArray *events;    /* OpmAdmissionEvent *, owned */
	GPtrArray *announce;  /* OpmNomination *, owned: copies of the new
				 nominations, for the nomination notice */
	GString *to_admins;   /* members' objections, for the admins */
	GPtrArray *notes;     /* char * per command (index), or NULL: text
				 for the reply */
	guint settled;        /* the first events: nominations that had
				 ended before the mail, saved at once */
} Admission;

static void
admission_clear(Admission *a)
{
	g_clear_pointer(&a->events, g_ptr_array_unref);
	g_clear_pointer(&a->announce, g_ptr_array_unref);
	if (a->to_admins != NULL)
		g_string_free(a->to_admins, TRUE);
	a->to_admins = NULL;
	g_clear_pointer(&a->notes, g_ptr_array_unref);
}

static gboolean
line_refused(GError **error, OpmCommand *cmd, GError *why)
{
	g_set_error(error, OPM_ERROR, OPM_ERROR_CONFIG, "line %u: %s: %s",
	    cmd->line, opm_command_name(cmd->verb), why->message);
	g_error_free(why);
	return FALSE;
}

/* One admission command on the nominations s.  FALSE with an
 * OPM_ERROR_CONFIG error "line N: verb: why" for a refusal, another code
 * for the host's trouble. */
static gboolean
admission_command(OpmConfig *conf, OpmList *list, OpmNominations *s,
    OpmCommand *cmd, OpmMember *who, gboolean admin, GBytes *keys,
    Admission *a, guint index, gint64 now, GError **error)
{
	OpmAdmissionPolicy p;
	OpmNomination *n = NULL;
	GError *why = NULL;

	opm_admission_policy(list, &p);
	if (cmd->verb == OPM_CMD_NOMINATIONS) {
		GString *t = g_string_new(NULL);
		GPtrArray *all = opm_nominations_list(s);

		for (guint i = 0; i < all->len; i++) {
			g_autofree char *d = opm_nomination_describe(&p,
			    g_ptr_array_index(all, i), admin || p.show_vouchers,
			    admin, now);

			g_string_append(t, d);
		}
		if (all->len == 0)
			g_string_append(t, "  no open nominations\n");
		g_ptr_array_index(a->notes, index) = g_string_free(t, FALSE);
		return TRUE;
	}
	if (!p.vouch) {
		g_set_error(&why, OPM_ERROR, OPM_ERROR_CONFIG, "the admins of "
		    "this list add its members (Admission admin); there are no "
		    "nominations");
		return line_refused(error, cmd, why);
	}
	if (cmd->verb != OPM_CMD_NOMINATE &&
	    (n = opm_nominations_find(s, cmd->address)) == NULL) {
		g_set_error(&why, OPM_ERROR, OPM_ERROR_CONFIG, "%s has no open "
		    "nomination", cmd->address);
		return line_refused(error, cmd, why);
	}
	switch (cmd->verb) {
	case OPM_CMD_NOMINATE: {
		g_autoptr(GPtrArray) one = g_ptr_array_new_with_free_func(
		    (GDestroyNotify)opm_change_free);
		OpmChange *c;

		if (g_bytes_get_size(keys) == 0) {
			g_set_error(&why, OPM_ERROR, OPM_ERROR_CONFIG, "attach "
			    "the candidate's public key (application/pgp-keys)");
			return line_refused(error, cmd, why);
		}
		/* the checks of add-member, keyring untouched */
		c = opm_change_new(OPM_CHANGE_ADD, cmd->address, cmd->fpr,
		    cmd->name, keys);
		g_ptr_array_add(one, c);
		if (!opm_member_apply(conf, list, one, TRUE, now, NULL, &why)) {
			if (!g_error_matches(why, OPM_ERROR, OPM_ERROR_CONFIG)) {
				g_propagate_error(error, why);
				return FALSE;
			}
			return line_refused(error, cmd, why);
		}
		n = opm_nomination_new(c->address, c->new_fpr, c->name,
		    who->address, keys, now);
		if (!opm_nominations_add(s, n, &why))
			return line_refused(error, cmd, why);
		g_ptr_array_add(a->announce, opm_nomination_new(n->address,
		    n->fpr, n->name, n->nominator, n->key, n->created));
		{
			g_autofree char *d = opm_nomination_describe(&p, n,
			    FALSE, FALSE, now);

			g_ptr_array_index(a->notes, index) = g_strdup_printf(
			    "  every member is asked to vouch or object:\n%s", d);
		}
		return TRUE;
	}
	case OPM_CMD_VOUCH:
		if (!opm_nomination_vouch(&p, n, who->address, cmd->fpr,
		    opm_list_find_member(list, NULL, n->address) != NULL, now,
		    &why))
			return line_refused(error, cmd, why);
		break;
	case OPM_CMD_OBJECT:
		if (!opm_nomination_object(&p, n, who->address, admin,
		    cmd->name, now, &why))
			return line_refused(error, cmd, why);
		if (!admin) {
			g_autofree char *r = opm_sanitize(cmd->name, 300);

			g_string_append_printf(a->to_admins, "%s objects to the "
			    "nomination of %s (key %s, nominated by %s):\n  %s\n",
			    who->address, n->address, n->fpr, n->nominator, r);
		}
		break;
	case OPM_CMD_APPROVE:
		if (!opm_nomination_approve(&p, n, who->address, now, &why))
			return line_refused(error, cmd, why);
		break;
	case OPM_CMD_WITHDRAW:
		if (g_ascii_strcasecmp(n->nominator, who->address) != 0) {
			g_set_error(&why, OPM_ERROR, OPM_ERROR_CONFIG, "only the "
			    "nominator of %s can withdraw the nomination",
			    n->address);
			return line_refused(error, cmd, why);
		}
		n = opm_nominations_take(s, n->address);
		g_ptr_array_add(a->events, opm_admission_event_new(
		    OPM_ADMISSION_WITHDRAWN, n, NULL, NULL));
		g_ptr_array_index(a->notes, index) = g_strdup_printf("  the "
		    "nomination of %s is withdrawn\n", n->address);
		return TRUE;
	default:
		return TRUE;
	}
	g_ptr_array_index(a->notes, index) = g_strdup_printf("  %s: %u of %u "
	    "vouches%s%s\n", n->address, opm_nomination_count(n), p.required,
	    !p.approval ? "" : n->approved_by != NULL ? ", approved" :
	    ", not approved yet", cmd->verb == OPM_CMD_OBJECT && admin ?
	    "; your objection as an admin ends the nomination" : "");
	return TRUE;
}

/* Every admission command of the mail, all or nothing: the nominations
 * are changed in memory, a candidate who is ready now is added, and
 * only then the nominations are saved. */
static gboolean
admission_run(OpmConfig *conf, OpmList *list, GPtrArray *cmds,
    OpmMember *who, gboolean admin, GBytes *keys, gboolean apply,
    Admission *a, gint64 now, GError **error)
{
	g_autoptr(OpmNominations) s = opm_nominations_open(conf->state_dir,
	    list->address, error);

	if (s == NULL)
		return FALSE;
	/* what ended before this mail ends first, whatever becomes of it */
	if (!opm_admission_settle(conf, list, s, !apply, now, a->events,
	    error))
		return FALSE;
	a->settled = a->events->len;
	if (apply && a->settled > 0 && !opm_nominations_save(s, error)) {
		a->settled = 0;
		return FALSE;
	}
	for (guint i = 0; i < cmds->len; i++) {
		OpmCommand *cmd = g_ptr_array_index(cmds, i);

		if (opm_command_is_admission(cmd->verb) &&
		    !admission_command(conf, list, s, cmd, who, admin, keys, a,
		    i, now, error))
			return FALSE;
	}
	if (!opm_admission_settle(conf, list, s, !apply, now, a->events,
	    error))
		return FALSE;
	return !apply || opm_nominations_save(s, error);
}

/* After the reply: the notices the admission commands call for. */
static void
admission_tell(OpmList *list, Admission *a, OpmMember *who,
    OpmInjector *inj, gint64 now)
{
	g_autofree char *subject = g_strdup_printf("[%s] objection to a "
	    "nomination", list->name);

	if (inj == NULL)
		return;
	for (guint i = 0; i < a->announce->len; i++)
		opm_admission_announce(list, g_ptr_array_index(a->announce, i),
		    inj, now);
	opm_admission_notify(list, a->events, inj, now);
	if (a->to_admins->len > 0)
		opm_admission_tell_admins(list, subject, a->to_admins->str, inj,
		    now);
	(void)who;
}

OpmVerdict *
opm_request_run(OpmConfig *conf, OpmList *list, OpmMessage *msg,
    const OpmRequestOptions *o, gint64 now)
{
	g_autoptr(OpmVerdict) v = NULL;
	g_autoptr(GPtrArray) cmds = NULL;
	g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)opm_change_free);
	/* the index in cmds of each change */
	g_autoptr(GArray) lines = g_array_new(FALSE, FALSE, sizeof(guint));
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) keys = NULL;
	g_autoptr(GString) reply = g_string_new(NULL);
	g_autofree char *subject = NULL;
	OpmJournal *j = NULL;
	OpmMember *who;
	Content c = {0};
	const char *reply_fpr;
	guint bad_line = 0, failed = 0;
	AdminStanding standing;
	const char *pin = NULL;
	gboolean admin;
	Admission adm = {0};
	gboolean admission = FALSE;

	if (msg->limit == OPM_LIMIT_OK && msg->form == OPM_FORM_UNSIGNED)
		return unsigned_request(conf, list, msg, o, now);
	v = opm_gate_check(conf, list, msg, now);
	if (v->action != OPM_ACTION_ACCEPT)
		return g_steal_pointer(&v);
	/* 5, first half: the mail counts as seen once it is answered */
	if (o->apply) {
		j = opm_fanout_journal(conf, list, v, now, &error);
		if (j == NULL) {
			g_warning("%s: %s", list->address, error->message);
			return opm_verdict_tempfail(list->address, "4.3.0",
			    "state directory unavailable");
		}
		if (opm_journal_state(j) == OPM_POST_DONE) {
			opm_journal_close(j);
			return opm_gate_replayed(g_steal_pointer(&v), now);
		}
	}
	who = v->member;
	reply_fpr = who->fpr;
	standing = admin_standing(list, who, &pin);
	admin = standing == ADMIN_YES;
	g_free(v->reason);
	v->reason = g_strdup("commands carried out");
	subject = g_strdup_printf("[%s] your commands", list->name);

	read_entity(msg->payload, &c);
	if (c.text != NULL)
		cmds = opm_command_parse(c.text->str, c.text->len, &bad_line,
		    &error);
	else
		g_set_error(&error, OPM_ERROR, OPM_ERROR_CONFIG,
		    "the signed mail has no text/plain part with commands");
	keys = g_byte_array_free_to_bytes(g_steal_pointer(&c.keys));
	if (cmds == NULL) {
		g_string_append_printf(reply, "Your mail to %s was signed by "
		    "you, but nothing was done:\n%s.\n", list->request_address,
		    error->message);
		goto REFUSED;
	}
	/* 4: admin commands from someone who is not an admin */
	for (guint i = 0; i < cmds->len; i++) {
		OpmCommand *cmd = g_ptr_array_index(cmds, i);

		if (opm_command_authority(cmd->verb) == OPM_AUTH_ADMIN &&
		    !admin) {
			OpmVerdict *r = standing == ADMIN_WRONG_KEY ?
			    verdict(list->address, OPM_ACTION_REJECT, "550",
			    "5.7.1", "admin command with a key not pinned",
			    "list %s: line %u: \"%s\" is a command for the "
			    "list's admins; %s is one, but the list definition "
			    "pins the admin key 0x%s, not 0x%s.\n"
			    "Nothing of this mail was carried out.",
			    list->address, cmd->line,
			    opm_command_name(cmd->verb), who->address, pin,
			    who->fpr) :
			    verdict(list->address, OPM_ACTION_REJECT,
			    "550", "5.7.1", "admin command from a non-admin",
			    "list %s: line %u: \"%s\" is a command for the "
			    "list's admins, and %s is not one of them.\n"
			    "Nothing of this mail was carried out.",
			    list->address, cmd->line,
			    opm_command_name(cmd->verb), who->address);

			r->signer = g_strdup(v->signer);
			r->from = g_strdup(v->from);
			content_clear(&c);
			journal_drop(j);
			return r;
		}
	}
	if (c.bad_keys != NULL) {
		g_string_append_printf(reply, "Nothing was done: %s.\n",
		    c.bad_keys);
		goto REFUSED;
	}
	/* the changes, in the order of the lines */
	for (guint i = 0; i < cmds->len; i++) {
		OpmCommand *cmd = g_ptr_array_index(cmds, i);
		OpmChange *ch = NULL;

		admission |= opm_command_is_admission(cmd->verb);

		switch (cmd->verb) {
		case OPM_CMD_ADD_MEMBER:
			ch = opm_change_new(OPM_CHANGE_ADD, cmd->address,
			    cmd->fpr, cmd->name, g_bytes_get_size(keys) > 0 ?
			    keys : NULL);
			break;
		case OPM_CMD_REMOVE_MEMBER:
			ch = opm_change_new(OPM_CHANGE_REMOVE, cmd->address,
			    NULL, NULL, NULL);
			break;
		case OPM_CMD_SET_KEY:
			ch = opm_change_new(OPM_CHANGE_SET_KEY, cmd->address,
			    cmd->fpr, NULL, g_bytes_get_size(keys) > 0 ?
			    keys : NULL);
			break;
		case OPM_CMD_UPDATE_KEY:
			ch = opm_change_new(OPM_CHANGE_SET_KEY, who->address,
			    cmd->fpr, NULL, g_bytes_get_size(keys) > 0 ?
			    keys : NULL);
			break;
		case OPM_CMD_UNSUBSCRIBE:
			ch = opm_change_new(OPM_CHANGE_REMOVE, who->address, NULL,
			    NULL, NULL);
			break;
		case OPM_CMD_LIST_MEMBERS:
			if (!admin && !list->members_may_list) {
				bad_line = cmd->line;
				g_set_error(&error, OPM_ERROR, OPM_ERROR_CONFIG,
				    "line %u: this list shows its members to its "
				    "admins only", cmd->line);
				g_string_append_printf(reply, "Nothing was done: "
				    "%s.\n", error->message);
				goto REFUSED;
			}
			break;
		default:
			break;
		}
		if (ch != NULL) {
			g_ptr_array_add(changes, ch);
			g_array_append_val(lines, i);
		}
	}
	/* nominations in a mail of their own: each side is all or nothing */
	if (admission && changes->len > 0) {
		OpmCommand *first = g_ptr_array_index(cmds,
		    g_array_index(lines, guint, 0));

		g_set_error(&error, OPM_ERROR, OPM_ERROR_CONFIG, "line %u: "
		    "send nominations, vouches, objections and approvals in a "
		    "mail without membership changes like \"%s\"", first->line,
		    opm_command_name(first->verb));
		g_string_append_printf(reply, "Nothing was done: %s.\n",
		    error->message);
		goto REFUSED;
	}
	if (admission) {
		adm.events = g_ptr_array_new_with_free_func(
		    (GDestroyNotify)opm_admission_event_free);
		adm.announce = g_ptr_array_new_with_free_func(
		    (GDestroyNotify)opm_nomination_free);
		adm.to_admins = g_string_new(NULL);
		adm.notes = g_ptr_array_new_with_free_func(g_free);
		g_ptr_array_set_size(adm.notes, cmds->len);
		if (!admission_run(conf, list, cmds, who, admin, keys, o->apply,
		    &adm, now, &error)) {
			/* the mail changes nothing, but what had ended did */
			g_ptr_array_set_size(adm.events, adm.settled);
			opm_admission_notify(list, adm.events, o->inj, now);
			admission_clear(&adm);
			if (!g_error_matches(error, OPM_ERROR, OPM_ERROR_CONFIG)) {
				journal_drop(j);
				g_warning("%s: command mail: %s", list->address,
				    error->message);
				content_clear(&c);
				return opm_verdict_tempfail(list->address, "4.3.0",
				    "the nominations cannot be changed right now");
			}
			g_string_append_printf(reply, "Nothing of your mail was "
			    "carried out: %s.\n", error->message);
			goto REFUSED;
		}
	}
	/* 5 */
	if (changes->len > 0 && !opm_member_apply(conf, list, changes,
	    !o->apply, now, &failed, &error)) {
		if (!g_error_matches(error, OPM_ERROR, OPM_ERROR_CONFIG)) {
			journal_drop(j);
			g_warning("%s: command mail: %s", list->address,
			    error->message);
			content_clear(&c);
			return opm_verdict_tempfail(list->address, "4.3.0",
			    "the membership cannot be changed right now");
		}
		{
			OpmCommand *bad = g_ptr_array_index(cmds,
			    g_array_index(lines, guint, MIN(failed,
			    lines->len - 1)));

			g_string_append_printf(reply, "Nothing of your mail was "
			    "carried out: line %u: %s: %s.\n", bad->line,
			    opm_command_name(bad->verb), error->message);
		}
		goto REFUSED;
	}
	journal_done(list, j, now);
	/* 6 */
	g_string_append_printf(reply, "Your mail to %s was carried out%s:\n\n",
	    list->request_address, o->apply ? "" : " (a test: nothing was "
	    "changed)");
	for (guint i = 0; i < cmds->len; i++) {
		OpmCommand *cmd = g_ptr_array_index(cmds, i);

		g_string_append_printf(reply, "line %u: %s: ok\n", cmd->line,
		    opm_command_name(cmd->verb));
		if (adm.notes != NULL && g_ptr_array_index(adm.notes, i) != NULL)
			g_string_append(reply, g_ptr_array_index(adm.notes, i));
		if (cmd->verb == OPM_CMD_HELP)
			g_string_append_printf(reply, help_text,
			    list->request_address, list->members_may_list ? "" :
			    " (admins only)");
		else if (cmd->verb == OPM_CMD_LIST_MEMBERS) {
			g_autofree char *t = members_text(list, now);

			g_string_append(reply, t);
		} else if (cmd->verb == OPM_CMD_GET_LIST_KEY) {
			g_autofree char *k = armored_list_key(list);

			g_string_append_printf(reply, "The list key %s:\n%s",
			    list->list_key, k);
		} else if (cmd->verb == OPM_CMD_UPDATE_KEY && o->apply)
			reply_fpr = cmd->fpr;
	}
	if (changes->len > 0) {
		g_autofree char *sum = opm_member_summary(changes, who->address);

		g_string_append_printf(reply, "\nThe membership changed:\n%s",
		    sum);
		write_summary(o, sum);
		if (o->apply)
			opm_member_greet(list, changes, o->inj, now);
		if (o->inj != NULL && opm_member_announce(list, changes,
		    who->address, o->inj, now, &error) < 0)
			g_warning("%s: %s", list->address, error->message);
	} else
		write_summary(o, "No change to the membership.\n");
	send_encrypted(o, list, who->address, reply_fpr, subject, reply->str,
	    now);
	if (admission)
		admission_tell(list, &adm, who, o->inj, now);
	admission_clear(&adm);
	content_clear(&c);
	return g_steal_pointer(&v);
REFUSED:
	g_warning("%s: command mail from %s refused: %s", list->address,
	    who->address, error != NULL ? error->message : reply->str);
	admission_clear(&adm);
	g_free(v->reason);
	v->reason = g_strdup("commands refused");
	journal_done(list, j, now);
	write_summary(o, reply->str);
	send_encrypted(o, list, who->address, who->fpr, subject, reply->str,
	    now);
	content_clear(&c);
	(void)bad_line;
	return g_steal_pointer(&v);
}
