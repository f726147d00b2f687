/*
 * NAME
 *	conf - configuration, list definitions and members files
 * SYNOPSIS
 *	opm_conf_options(), opm_conf_load(), opm_conf_ref(),
 *	opm_conf_unref(), opm_conf_resolve(), opm_conf_find_list(),
 *	opm_list_find_member(),
 *	opm_parse_duration(), opm_parse_size(), opm_fpr_canon(),
 *	opm_hash_name(), opm_address_valid(), opm_members_parse(),
 *	opm_member_free(), opm_members_stamp(), opm_conf_members_changed(),
 *	opm_list_load(), opm_list_free()
 * DESCRIPTION
 *	One table row per option: name, scope (main file or list file), type,
 *	default, bounds and where the value goes.  The parser, the defaults
 *	and the man page check read only this table.
 * DIAGNOSTICS
 *	Every problem is an OPM_ERROR_CONFIG error whose message starts with
 *	"file:line:"; unknown options, bad values, repeated single options,
 *	missing required options and unreadable files are all errors.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <glib/gstdio.h>

#include "conf.h"
#include "keys.h"

#define M(f) offsetof(OpmConfig, f)
#define L(f) offsetof(OpmList, f)
#define DAY (24 * 3600)

static const OpmOption options[] = {
	/* main configuration file */
	{"Socket", OPM_SCOPE_MAIN, OPM_OPT_STRING,
	    "local:/run/openpgp-milter/openpgp-milter.sock", 0, 0,
	    M(socket), FALSE, FALSE, NULL,
	    "milter socket: local:PATH or inet:PORT@HOST"},
	{"UserID", OPM_SCOPE_MAIN, OPM_OPT_STRING, NULL, 0, 0, M(user),
	    FALSE, FALSE, NULL, "user[:group] to run as after start-up"},
	{"PidFile", OPM_SCOPE_MAIN, OPM_OPT_PATH,
	    "/run/openpgp-milter/openpgp-milter.pid", 0, 0, M(pid_file),
	    FALSE, FALSE, NULL, "where to write the process ID"},
	{"UMask", OPM_SCOPE_MAIN, OPM_OPT_MODE, "007", 0, 0777, M(umask),
	    FALSE, FALSE, NULL, "umask for the socket and state files"},
	{"StateDirectory", OPM_SCOPE_MAIN, OPM_OPT_PATH,
	    "/var/lib/openpgp-milter", 0, 0, M(state_dir), FALSE, FALSE,
	    NULL, "replay cache and journal"},
	{"SyslogFacility", OPM_SCOPE_MAIN, OPM_OPT_ENUM, "mail", 0, 0,
	    M(syslog_facility), FALSE, FALSE,
	    "mail|daemon|local0|local1|local2|local3|local4|local5|local6|local7",
	    "syslog facility"},
	{"LogLevel", OPM_SCOPE_MAIN, OPM_OPT_ENUM, "info", 0, 0,
	    M(log_level), FALSE, FALSE, "error|warning|notice|info|debug",
	    "least important messages logged"},
	{"LogFile", OPM_SCOPE_MAIN, OPM_OPT_PATH, NULL, 0, 0, M(log_file),
	    FALSE, FALSE, NULL,
	    "log to this file, or to stderr, instead of syslog"},
	{"List", OPM_SCOPE_MAIN, OPM_OPT_PATH, NULL, 0, 0, M(list_files),
	    TRUE, FALSE, NULL, "a list definition file (repeatable)"},
	{"ListDirectory", OPM_SCOPE_MAIN, OPM_OPT_PATH, NULL, 0, 0,
	    M(list_dir), FALSE, FALSE, NULL,
	    "every *.conf file in it is a list definition"},
	{"MaxMessageSize", OPM_SCOPE_MAIN, OPM_OPT_SIZE, "6M", 1024,
	    G_GINT64_CONSTANT(1) << 30, M(max_message_size), FALSE, FALSE,
	    NULL, "largest post accepted, in bytes"},
	{"MaxMimeDepth", OPM_SCOPE_MAIN, OPM_OPT_INT, "8", 1, 64,
	    M(max_mime_depth), FALSE, FALSE, NULL, "deepest MIME nesting"},
	{"MaxMimeParts", OPM_SCOPE_MAIN, OPM_OPT_INT, "100", 1, 10000,
	    M(max_mime_parts), FALSE, FALSE, NULL, "most MIME parts"},
	{"MaxHeaders", OPM_SCOPE_MAIN, OPM_OPT_INT, "200", 10, 10000,
	    M(max_headers), FALSE, FALSE, NULL,
	    "most header fields in the message or in one part"},
	{"MaxHeaderSize", OPM_SCOPE_MAIN, OPM_OPT_SIZE, "16k", 998,
	    1024 * 1024, M(max_header_size), FALSE, FALSE, NULL,
	    "largest single header field, in bytes"},
	{"InjectMethod", OPM_SCOPE_MAIN, OPM_OPT_STRING,
	    "sendmail:/usr/sbin/sendmail", 0, 0, M(inject_method), FALSE,
	    FALSE, NULL,
	    "how copies reach the MTA: sendmail:PATH or smtp:HOST:PORT"},
	{"InjectConnections", OPM_SCOPE_MAIN, OPM_OPT_INT, "4", 1, 32,
	    M(inject_connections), FALSE, FALSE, NULL,
	    "SMTP connections a post's copies are sent over at once "
	    "(InjectMethod smtp:)"},
	{"JournalLifetime", OPM_SCOPE_MAIN, OPM_OPT_DURATION, "10d", 3600,
	    365 * DAY, M(journal_lifetime), FALSE, FALSE, NULL,
	    "how long an unfinished fan-out is remembered for retries"},
	{"FanoutMode", OPM_SCOPE_MAIN, OPM_OPT_ENUM, "split", 0, 0,
	    M(fanout_mode), FALSE, FALSE, "split|per-member",
	    "one encryption for all members, or one per member"},
	{"RecipientDelimiter", OPM_SCOPE_MAIN, OPM_OPT_CHARS, "+", 0, 0,
	    M(recipient_delimiter), FALSE, FALSE, NULL,
	    "characters that start an address extension, as Postfix's "
	    "recipient_delimiter; empty for none"},

	/* list definition files */
	{"Address", OPM_SCOPE_LIST, OPM_OPT_ADDRESS, NULL, 0, 0, L(address),
	    FALSE, TRUE, NULL, "the list's posting address"},
	{"Name", OPM_SCOPE_LIST, OPM_OPT_STRING, NULL, 0, 0, L(name), FALSE,
	    FALSE, NULL, "short name used in texts (default: local part)"},
	{"GnupgHome", OPM_SCOPE_LIST, OPM_OPT_PATH, NULL, 0, 0,
	    L(gnupg_home), FALSE, TRUE, NULL, "the list's GnuPG home"},
	{"ListKey", OPM_SCOPE_LIST, OPM_OPT_FPR, NULL, 0, 0, L(list_key),
	    FALSE, TRUE, NULL, "fingerprint of the list key"},
	{"MembersFile", OPM_SCOPE_LIST, OPM_OPT_PATH, NULL, 0, 0,
	    L(members_file), FALSE, TRUE, NULL,
	    "address fingerprint [name] per line"},
	{"Admin", OPM_SCOPE_LIST, OPM_OPT_ADDRESS, NULL, 0, 0, L(admins),
	    TRUE, FALSE, NULL, "a list administrator (repeatable)"},
	{"AdminKey", OPM_SCOPE_LIST, OPM_OPT_STRING, NULL, 0, 0, L(admin_keys),
	    TRUE, FALSE, NULL,
	    "ADDRESS FINGERPRINT: an admin whose commands must be signed by "
	    "this key (repeatable)"},
	{"BounceAddress", OPM_SCOPE_LIST, OPM_OPT_ADDRESS, NULL, 0, 0,
	    L(bounce_address), FALSE, FALSE, NULL,
	    "envelope sender of copies (default: local-bounces@domain)"},
	{"AllowedHashes", OPM_SCOPE_LIST, OPM_OPT_WORDS,
	    "SHA256 SHA384 SHA512", 0, 0, L(hashes_words), FALSE, FALSE,
	    "SHA1|RIPEMD160|SHA224|SHA256|SHA384|SHA512",
	    "hash algorithms accepted in post signatures"},
	{"MaxSignatureAge", OPM_SCOPE_LIST, OPM_OPT_DURATION, "7d", 0,
	    365 * DAY, L(max_signature_age), FALSE, FALSE, NULL,
	    "oldest signature accepted; 0 disables"},
	{"MaxClockSkew", OPM_SCOPE_LIST, OPM_OPT_DURATION, "10m", 0, DAY,
	    L(max_clock_skew), FALSE, FALSE, NULL,
	    "how far in the future a signature may be"},
	{"ReplayCacheLifetime", OPM_SCOPE_LIST, OPM_OPT_DURATION, "30d",
	    3600, 3650 * DAY, L(replay_lifetime), FALSE, FALSE, NULL,
	    "how long accepted signatures are remembered"},
	{"MinRsaBits", OPM_SCOPE_LIST, OPM_OPT_INT, "2048", 1024, 16384,
	    L(min_rsa_bits), FALSE, FALSE, NULL,
	    "smallest RSA member key accepted by -n"},
	{"AllowDsa", OPM_SCOPE_LIST, OPM_OPT_BOOL, "no", 0, 0, L(allow_dsa),
	    FALSE, FALSE, NULL, "accept DSA/ElGamal member keys in -n"},
	{"KeyExpiryWarning", OPM_SCOPE_LIST, OPM_OPT_DURATION, "30d", 0,
	    3650 * DAY, L(key_expiry_warning), FALSE, FALSE, NULL,
	    "-n warns about keys expiring this soon"},
	{"RewriteFrom", OPM_SCOPE_LIST, OPM_OPT_BOOL, "yes", 0, 0,
	    L(rewrite_from), FALSE, FALSE, NULL,
	    "outer From: is the list address with the poster's name"},
	{"ShowSubject", OPM_SCOPE_LIST, OPM_OPT_BOOL, "no", 0, 0,
	    L(show_subject), FALSE, FALSE, NULL,
	    "outer Subject: is the real subject instead of \"...\""},
	{"ListHelp", OPM_SCOPE_LIST, OPM_OPT_STRING, NULL, 0, 0, L(list_help),
	    FALSE, FALSE, NULL,
	    "List-Help URL (default: mailto: the first Admin)"},
	{"PostPolicy", OPM_SCOPE_LIST, OPM_OPT_ENUM, "signed", 0, 0,
	    L(post_policy), FALSE, FALSE, "signed|encrypted",
	    "signed: signed posts, encrypted or not; encrypted: only posts "
	    "encrypted to the list key"},
	{"InlinePgp", OPM_SCOPE_LIST, OPM_OPT_BOOL, "yes", 0, 0,
	    L(inline_pgp), FALSE, FALSE, NULL,
	    "accept inline PGP (one clear-signed or encrypted block)"},
	{"RequestAddress", OPM_SCOPE_LIST, OPM_OPT_ADDRESS, NULL, 0, 0,
	    L(request_address), FALSE, FALSE, NULL,
	    "where commands go (default: local-request@domain)"},
	{"MembersMayList", OPM_SCOPE_LIST, OPM_OPT_BOOL, "no", 0, 0,
	    L(members_may_list), FALSE, FALSE, NULL,
	    "members may ask for the list of members by command mail"},
	{"KeyExpiryReminders", OPM_SCOPE_LIST, OPM_OPT_STRING, "30d 7d 1d", 0,
	    0, L(reminders_words), FALSE, FALSE, NULL,
	    "before a key expires, remind its owner this long before"},
	{"Autocrypt", OPM_SCOPE_LIST, OPM_OPT_BOOL, "yes", 0, 0,
	    L(autocrypt), FALSE, FALSE, NULL,
	    "copies carry an Autocrypt: header with the list key"},
	{"Admission", OPM_SCOPE_LIST, OPM_OPT_ENUM, "admin", 0, 0,
	    L(admission), FALSE, FALSE, "admin|vouch",
	    "admin: admins add members; vouch: members nominate and vouch"},
	{"VouchesRequired", OPM_SCOPE_LIST, OPM_OPT_INT, "2", 1, 100,
	    L(vouches_required), FALSE, FALSE, NULL,
	    "vouches a candidate needs, by members other than the nominator"},
	{"AdminApproval", OPM_SCOPE_LIST, OPM_OPT_BOOL, "yes", 0, 0,
	    L(admin_approval), FALSE, FALSE, NULL,
	    "a vouched candidate joins only once an admin approves"},
	{"NominationLifetime", OPM_SCOPE_LIST, OPM_OPT_DURATION, "30d", 60,
	    365 * DAY, L(nomination_lifetime), FALSE, FALSE, NULL,
	    "how long a nomination stays open"},
	{"VouchVisibility", OPM_SCOPE_LIST, OPM_OPT_ENUM, "members", 0, 0,
	    L(vouch_visibility), FALSE, FALSE, "members|admins",
	    "who sees the names of those who vouched"},
	{"InactiveReminder", OPM_SCOPE_LIST, OPM_OPT_DURATION, "30d", 0,
	    3650 * DAY, L(inactive_reminder), FALSE, FALSE, NULL,
	    "remind the admins of a member inactive this long; 0 never"},
	{NULL, 0, 0, NULL, 0, 0, 0, FALSE, FALSE, NULL, NULL},
};

static const struct {
	const char *name;
	int algo;
} hash_names[] = {
	{"MD5", GPGME_MD_MD5},
	{"SHA1", GPGME_MD_SHA1},
	{"RIPEMD160", GPGME_MD_RMD160},
	{"SHA224", GPGME_MD_SHA224},
	{"SHA256", GPGME_MD_SHA256},
	{"SHA384", GPGME_MD_SHA384},
	{"SHA512", GPGME_MD_SHA512},
};

const OpmOption *
opm_conf_options(void)
{
	return options;
}

const char *
opm_hash_name(int algo)
{
	for (gsize i = 0; i < G_N_ELEMENTS(hash_names); i++)
		if (hash_names[i].algo == algo)
			return hash_names[i].name;
	return "unknown";
}

typedef struct {
	char suffix;
	gint64 mul;
} Unit;

static const Unit duration_units[] = {
	{'s', 1}, {'m', 60}, {'h', 3600}, {'d', DAY}, {'w', 7 * DAY}, {0, 0},
};

static const Unit size_units[] = {
	{'k', 1024}, {'K', 1024}, {'m', 1024 * 1024}, {'M', 1024 * 1024},
	{'g', 1024 * 1024 * 1024}, {'G', 1024 * 1024 * 1024}, {0, 0},
};

/* A decimal number, optionally followed by one of the units' suffixes,
 * times that unit; FALSE when malformed or too large. */
static gboolean
parse_scaled(const char *s, const Unit *units, gint64 *out)
{
	char *end;
	gint64 v, mul = 1;

	if (s == NULL || !g_ascii_isdigit(*s))
		return FALSE;
	errno = 0;
	v = g_ascii_strtoll(s, &end, 10);
	if (errno != 0)
		return FALSE;
	if (*end != '\0') {
		const Unit *u = units;

		while (u->suffix != '\0' && u->suffix != *end)
			u++;
		if (u->suffix == '\0')
			return FALSE;
		mul = u->mul;
		end++;
	}
	if (*end != '\0' || v > G_MAXINT64 / mul)
		return FALSE;
	*out = v * mul;
	return TRUE;
}

gboolean
opm_parse_duration(const char *s, gint64 *out)
{
	return parse_scaled(s, duration_units, out);
}

gboolean
opm_parse_size(const char *s, gint64 *out)
{
	return parse_scaled(s, size_units, out);
}

char *
opm_fpr_canon(const char *s)
{
	GString *out = g_string_new(NULL);

	if (g_str_has_prefix(s, "0x") || g_str_has_prefix(s, "0X"))
		s += 2;
	for (; *s != '\0'; s++) {
		if (*s == ' ')
			continue;
		if (!g_ascii_isxdigit(*s)) {
			g_string_free(out, TRUE);
			return NULL;
		}
		g_string_append_c(out, g_ascii_toupper(*s));
	}
	if (out->len != 40 && out->len != 64) {
		g_string_free(out, TRUE);
		return NULL;
	}
	return g_string_free(out, FALSE);
}

gboolean
opm_address_valid(const char *s)
{
	const char *at = strrchr(s, '@');

	if (at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '.') == NULL)
		return FALSE;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || *s == '<' || *s == '>' ||
		    *s == ',' || *s == '"' || (unsigned char)*s >= 0x7f)
			return FALSE;
	return TRUE;
}

static gboolean
parse_bool(const char *s, gboolean *out)
{
	static const char *yes[] = {"yes", "true", "on", "1"};
	static const char *no[] = {"no", "false", "off", "0"};

	for (gsize i = 0; i < G_N_ELEMENTS(yes); i++) {
		if (g_ascii_strcasecmp(s, yes[i]) == 0) {
			*out = TRUE;
			return TRUE;
		}
		if (g_ascii_strcasecmp(s, no[i]) == 0) {
			*out = FALSE;
			return TRUE;
		}
	}
	return FALSE;
}

static gboolean
word_in(const char *word, const char *values)
{
	g_auto(GStrv) v = g_strsplit(values, "|", -1);

	for (char **p = v; *p != NULL; p++)
		if (g_ascii_strcasecmp(*p, word) == 0)
			return TRUE;
	return FALSE;
}

static OpmHashSet
hashes_from_words(const char *words)
{
	g_auto(GStrv) v = g_strsplit_set(words, ", \t", -1);
	OpmHashSet set = 0;

	for (char **p = v; *p != NULL; p++)
		for (gsize i = 0; i < G_N_ELEMENTS(hash_names); i++)
			if (g_ascii_strcasecmp(*p, hash_names[i].name) == 0)
				set |= 1u << hash_names[i].algo;
	return set;
}

/*
 * Store one value.  target is the struct the option's offset is into.
 * Returns FALSE with error set if the value does not fit the type.
 */
static gboolean
set_value(const OpmOption *o, void *target, const char *value,
    const char *where, GError **error)
{
	char *p = (char *)target + o->offset;
	gint64 v = 0;
	gboolean b;

#define BAD(fmt, ...) do { \
	g_set_error(error, OPM_ERROR, OPM_ERROR_CONFIG, "%s: %s: " fmt, \
	    where, o->name, __VA_ARGS__); \
	return FALSE; } while (0)

	switch (o->type) {
	case OPM_OPT_CHARS:
		/* graphic ASCII that may stand in an unquoted local part */
		for (const char *c = value; *c != '\0'; c++)
			if (!g_ascii_isgraph(*c) || strchr("@\"\\()<>,;:[]",
			    *c) != NULL)
				BAD("\"%s\": '%c' cannot separate an address "
				    "extension", value, *c);
		g_free(*(char **)p);
		*(char **)p = g_strdup(value);
		return TRUE;
	case OPM_OPT_STRING:
	case OPM_OPT_PATH:
	case OPM_OPT_ADDRESS:
		if (*value == '\0')
			BAD("%s", "empty value");
		if (o->type == OPM_OPT_ADDRESS && !opm_address_valid(value))
			BAD("\"%s\" is not a mail address", value);
		if (o->repeat) {
			GPtrArray **a = (GPtrArray **)p;

			if (*a == NULL)
				*a = g_ptr_array_new_with_free_func(g_free);
			g_ptr_array_add(*a, o->type == OPM_OPT_ADDRESS ?
			    opm_address_normalize(value) : g_strdup(value));
		} else {
			g_free(*(char **)p);
			*(char **)p = o->type == OPM_OPT_ADDRESS ?
			    opm_address_normalize(value) : g_strdup(value);
		}
		return TRUE;
	case OPM_OPT_FPR: {
		char *fpr = opm_fpr_canon(value);

		if (fpr == NULL)
			BAD("\"%s\" is not a full fingerprint (40 or 64 hex digits)",
			    value);
		g_free(*(char **)p);
		*(char **)p = fpr;
		return TRUE;
	}
	case OPM_OPT_ENUM:
		if (!word_in(value, o->values))
			BAD("\"%s\" is not one of %s", value, o->values);
		g_free(*(char **)p);
		*(char **)p = g_ascii_strdown(value, -1);
		return TRUE;
	case OPM_OPT_WORDS: {
		g_auto(GStrv) w = g_strsplit_set(value, ", \t", -1);
		int n = 0;

		for (char **q = w; *q != NULL; q++) {
			if (**q == '\0')
				continue;
			if (!word_in(*q, o->values))
				BAD("\"%s\" is not one of %s", *q, o->values);
			n++;
		}
		if (n == 0)
			BAD("%s", "empty value");
		g_free(*(char **)p);
		*(char **)p = g_strdup(value);
		return TRUE;
	}
	case OPM_OPT_BOOL:
		if (!parse_bool(value, &b))
			BAD("\"%s\" is not yes or no", value);
		*(gboolean *)p = b;
		return TRUE;
	case OPM_OPT_INT: {
		char *end;

		errno = 0;
		v = g_ascii_strtoll(value, &end, 10);
		if (errno != 0 || *end != '\0' || end == value)
			BAD("\"%s\" is not a number", value);
		break;
	}
	case OPM_OPT_MODE: {
		char *end;

		errno = 0;
		v = g_ascii_strtoll(value, &end, 8);
		if (errno != 0 || *end != '\0' || end == value)
			BAD("\"%s\" is not an octal mode", value);
		break;
	}
	case OPM_OPT_DURATION:
		if (!opm_parse_duration(value, &v))
			BAD("\"%s\" is not a duration (like 30, 10m, 7d)", value);
		break;
	case OPM_OPT_SIZE:
		if (!opm_parse_size(value, &v))
			BAD("\"%s\" is not a size (like 4096, 64k, 10M)", value);
		break;
	}
	if (v < o->min || v > o->max)
		BAD("%s is out of range (%" G_GINT64_FORMAT " to %" G_GINT64_FORMAT ")",
		    value, o->min, o->max);
	*(gint64 *)p = v;
	return TRUE;
#undef BAD
}

/*
 * Parse one file of Name value lines into target, for options of scope.
 */
static gboolean
parse_file(const char *path, OpmScope scope, void *target, GError **error)
{
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;
	g_autoptr(GHashTable) seen =
	    g_hash_table_new(g_direct_hash, g_direct_equal);
	g_autoptr(GError) ioerr = NULL;
	guint lineno = 0;

	if (!g_file_get_contents(path, &text, NULL, &ioerr)) {
		g_set_error(error, OPM_ERROR, OPM_ERROR_CONFIG, "%s: %s", path,
		    ioerr->message);
		return FALSE;
	}
	lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l != NULL; l++) {
		g_autofree char *where = NULL;
		char *line = *l, *hash, *name, *value;
		const OpmOption *o;

		lineno++;
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		g_strstrip(line);
		if (*line == '\0')
			continue;
		where = g_strdup_printf("%s:%u", path, lineno);
		name = line;
		value = name + strcspn(name, " \t");
		if (*value != '\0')
			*value++ = '\0';
		g_strstrip(value);
		for (o = options; o->name != NULL; o++)
			if (g_ascii_strcasecmp(o->name, name) == 0)
				break;
		if (o->name == NULL || o->scope != scope) {
			g_set_error(error, OPM_ERROR, OPM_ERROR_CONFIG,
			    "%s: unknown option \"%s\"%s", where, name,
			    o->name != NULL ? (scope == OPM_SCOPE_MAIN ?
				" (it belongs in a list definition file)" :
				" (it belongs in the main configuration file)") :
			    "");
			return FALSE;
		}
		if (!o->repeat && g_hash_table_contains(seen, o)) {
			g_set_error(error, OPM_ERROR, OPM_ERROR_CONFIG,
			    "%s: %s given twice", where, o->name);
			return FALSE;
		}
		g_hash_table_add(seen, (gpointer)o);
		if (!set_value(o, target, value, where, error))
			return FALSE;
	}
	for (const OpmOption *o = options; o->name != NULL; o++) {
		if (o->scope != scope || g_hash_table_contains(seen, o))
			continue;
		if (o->required) {
			g_set_error(error, OPM_ERROR, OPM_ERROR_CONFIG,
			    "%s: required option %s is missing", path, o->name);
			return FALSE;
		}
		if (o->dflt != NULL && !set_value(o, target, o->dflt,
		    "built-in default", error))
			return FALSE;
	}
	return TRUE;
}

void
opm_member_free(OpmMember *m)
{
	if (m == NULL)
		return;
	g_free(m->address);
	g_free(m->fpr);
	g_free(m->name);
	g_free(m);
}

void
opm_list_free(OpmList *l)
{
	if (l == NULL)
		return;
	for (const OpmOption *o = options; o->name != NULL; o++) {
		char *p = (char *)l + o->offset;

		if (o->scope != OPM_SCOPE_LIST)
			continue;
		if (o->repeat)
			g_clear_pointer((GPtrArray **)p, g_ptr_array_unref);
		else if (o->type != OPM_OPT_BOOL && o->type != OPM_OPT_INT &&
		    o->type != OPM_OPT_DURATION && o->type != OPM_OPT_SIZE &&
		    o->type != OPM_OPT_MODE)
			g_clear_pointer((char **)p, g_free);
	}
	g_free(l->file);
	g_free(l->members_stamp);
	g_free(l->autocrypt_keydata);
	g_clear_pointer(&l->reminders, g_array_unref);
	g_clear_pointer(&l->admin_pins, g_hash_table_unref);
	g_clear_pointer(&l->keys_by_fpr, g_hash_table_unref);
	g_clear_pointer(&l->members, g_ptr_array_unref);
	g_clear_pointer(&l->keys, g_ptr_array_unref);
	opm_key_info_free(l->list_keyinfo);
	if (l->gpg_pool != NULL) {
		for (guint i = 0; i < l->gpg_pool->len; i++)
			gpgme_release(g_ptr_array_index(l->gpg_pool, i));
		g_ptr_array_unref(l->gpg_pool);
	}
	pthread_mutex_destroy(&l->gpg_pool_lock);
	if (l->list_gpgkey != NULL)
		gpgme_key_unref(l->list_gpgkey);
	g_strfreev(l->list_keygrips);
	g_free(l->agent_socket);
	g_free(l);
}

/*
 * Members file: "address fingerprint [display name]" per line.
 */
GPtrArray *
opm_members_parse(const char *path, const char *text, GError **error)
{
	g_autoptr(GPtrArray) members =
	    g_ptr_array_new_with_free_func((GDestroyNotify)opm_member_free);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	guint lineno = 0;

	for (char **l = lines; *l != NULL; l++) {
		char *line = *l, *hash;
		g_auto(GStrv) f = NULL;
		OpmMember *m;
		char *fpr;

		lineno++;
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		g_strstrip(line);
		if (*line == '\0')
			continue;
		f = g_regex_split_simple("[ \t]+", line, 0, 0);
		if (g_strv_length(f) < 2) {
			g_set_error(error, OPM_ERROR, OPM_ERROR_CONFIG,
			    "%s:%u: want \"address fingerprint [name]\"",
			    path, lineno);
			return NULL;
		}
		if (!opm_address_valid(f[0])) {
			g_set_error(error, OPM_ERROR, OPM_ERROR_CONFIG,
			    "%s:%u: \"%s\" is not a mail address",
			    path, lineno, f[0]);
			return NULL;
		}
		if ((fpr = opm_fpr_canon(f[1])) == NULL) {
			g_set_error(error, OPM_ERROR, OPM_ERROR_CONFIG,
			    "%s:%u: \"%s\" is not a full key fingerprint "
			    "(40 or 64 hex digits, no spaces)",
			    path, lineno, f[1]);
			return NULL;
		}
		m = g_new0(OpmMember, 1);
		m->address = opm_address_normalize(f[0]);
		m->fpr = fpr;
		m->line = lineno;
		if (f[2] != NULL) {
			/* the name is the rest of the line, spaces kept */
			const char *rest = strstr(line, f[1]) + strlen(f[1]);

			m->name = g_strstrip(g_strdup(rest));
		}
		for (guint i = 0; i < members->len; i++) {
			OpmMember *o = g_ptr_array_index(members, i);

			if (strcmp(o->address, m->address) == 0) {
				g_set_error(error, OPM_ERROR, OPM_ERROR_CONFIG,
				    "%s:%u: %s is already a member (line %u)",
				    path, lineno, m->address, o->line);
				opm_member_free(m);
				return NULL;
			}
		}
		g_ptr_array_add(members, m);
	}
	return g_steal_pointer(&members);
}

char *
opm_members_stamp(const char *path)
{
	GStatBuf st;

	if (g_stat(path, &st) != 0)
		return g_strdup("missing");
	return g_strdup_printf("%ju:%ju:%jd:%jd.%09ld", (uintmax_t)st.st_dev,
	    (uintmax_t)st.st_ino, (intmax_t)st.st_size,
	    (intmax_t)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
}

static gboolean
load_members(OpmList *list, GError **error)
{
	g_autofree char *text = NULL;
	g_autoptr(GError) ioerr = NULL;

	/* taken before the file is read: a change in between only makes
	 * the daemon read it once more */
	list->members_stamp = opm_members_stamp(list->members_file);
	if (!g_file_get_contents(list->members_file, &text, NULL, &ioerr)) {
		g_set_error(error, OPM_ERROR, OPM_ERROR_CONFIG, "%s: %s",
		    list->members_file, ioerr->message);
		return FALSE;
	}
	list->members = opm_members_parse(list->members_file, text, error);
	return list->members != NULL;
}

/* longest first */
static gint
compare_durations(gconstpointer a, gconstpointer b)
{
	gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

OpmList *
opm_list_load(const char *path, GError **error)
{
	OpmList *l = g_new0(OpmList, 1);
	const char *at;

	pthread_mutex_init(&l->gpg_pool_lock, NULL);
	l->file = g_strdup(path);
	if (!parse_file(path, OPM_SCOPE_LIST, l, error))
		goto FAIL;
	at = strrchr(l->address, '@');
	if (l->name == NULL)
		l->name = g_strndup(l->address, at - l->address);
	/* the name goes into headers and texts: printable, one line */
	for (const char *p = l->name; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			g_set_error(error, OPM_ERROR, OPM_ERROR_CONFIG,
			    "%s: Name must be printable text on one line", path);
			goto FAIL;
		}
	if (l->bounce_address == NULL)
		l->bounce_address = g_strdup_printf("%.*s-bounces%s",
		    (int)(at - l->address), l->address, at);
	l->admin_pins = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	    g_free);
	for (guint i = 0; l->admin_keys != NULL && i < l->admin_keys->len; i++) {
		g_auto(GStrv) f = g_regex_split_simple("[ \t]+",
		    g_ptr_array_index(l->admin_keys, i), 0, 0);
		char *fpr = g_strv_length(f) == 2 ? opm_fpr_canon(f[1]) : NULL;
		char *addr;

		if (fpr == NULL || !opm_address_valid(f[0])) {
			g_free(fpr);
			g_set_error(error, OPM_ERROR, OPM_ERROR_CONFIG,
			    "%s: AdminKey: want \"ADDRESS FINGERPRINT\" (the "
			    "full fingerprint, without spaces), got \"%s\"", path,
			    (char *)g_ptr_array_index(l->admin_keys, i));
			goto FAIL;
		}
		addr = opm_address_normalize(f[0]);
		if (g_hash_table_contains(l->admin_pins, addr)) {
			g_set_error(error, OPM_ERROR, OPM_ERROR_CONFIG,
			    "%s: AdminKey: %s is pinned twice", path, addr);
			g_free(addr);
			g_free(fpr);
			goto FAIL;
		}
		/* an AdminKey is an Admin */
		if (l->admins == NULL)
			l->admins = g_ptr_array_new_with_free_func(g_free);
		if (!g_ptr_array_find_with_equal_func(l->admins, addr,
		    g_str_equal, NULL))
			g_ptr_array_add(l->admins, g_strdup(addr));
		g_hash_table_insert(l->admin_pins, addr, fpr);
	}
	if (l->request_address == NULL)
		l->request_address = g_strdup_printf("%.*s-request%s",
		    (int)(at - l->address), l->address, at);
	else {
		char *n = opm_address_normalize(l->request_address);

		g_free(l->request_address);
		l->request_address = n;
	}
	l->reminders = g_array_new(FALSE, FALSE, sizeof(gint64));
	{
		g_auto(GStrv) w = g_regex_split_simple("[ ,\t]+",
		    l->reminders_words, 0, 0);

		for (char **p = w; *p != NULL; p++) {
			gint64 d;

			if (**p == '\0')
				continue;
			if (!opm_parse_duration(*p, &d) || d <= 0 ||
			    d > 3650 * DAY) {
				g_set_error(error, OPM_ERROR, OPM_ERROR_CONFIG,
				    "%s: KeyExpiryReminders: \"%s\" is not a "
				    "duration between 1s and 3650d", path, *p);
				goto FAIL;
			}
			g_array_append_val(l->reminders, d);
		}
		g_array_sort(l->reminders, compare_durations);
	}
	l->allowed_hashes = hashes_from_words(l->hashes_words);
	l->encrypted_only = g_strcmp0(l->post_policy, "encrypted") == 0;
	if (!load_members(l, error))
		goto FAIL;
	return l;
FAIL:
	opm_list_free(l);
	return NULL;
}

static gint
compare_strings(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char **)a, *(const char **)b);
}

OpmConfig *
opm_conf_load(const char *path, GError **error)
{
	g_autoptr(OpmConfig) conf = g_new0(OpmConfig, 1);
	g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);

	conf->refcount = 1;
	conf->path = g_strdup(path);
	conf->lists = g_ptr_array_new_with_free_func((GDestroyNotify)opm_list_free);
	if (!parse_file(path, OPM_SCOPE_MAIN, conf, error))
		return NULL;
	if (!g_str_has_prefix(conf->inject_method, "sendmail:/") &&
	    !g_str_has_prefix(conf->inject_method, "smtp:")) {
		g_set_error(error, OPM_ERROR, OPM_ERROR_CONFIG,
		    "%s: InjectMethod: \"%s\" is neither sendmail:/PATH nor "
		    "smtp:HOST:PORT", path, conf->inject_method);
		return NULL;
	}
	if (conf->log_file != NULL && strcmp(conf->log_file, "stderr") != 0 &&
	    !g_path_is_absolute(conf->log_file)) {
		g_set_error(error, OPM_ERROR, OPM_ERROR_CONFIG,
		    "%s: LogFile: \"%s\" is neither an absolute path nor "
		    "stderr", path, conf->log_file);
		return NULL;
	}

	if (conf->list_files != NULL)
		for (guint i = 0; i < conf->list_files->len; i++)
			g_ptr_array_add(files,
			    g_strdup(g_ptr_array_index(conf->list_files, i)));
	if (conf->list_dir != NULL) {
		g_autoptr(GError) ioerr = NULL;
		g_autoptr(GDir) dir = g_dir_open(conf->list_dir, 0, &ioerr);
		g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func(g_free);
		const char *name;

		if (dir == NULL) {
			g_set_error(error, OPM_ERROR, OPM_ERROR_CONFIG,
			    "%s: ListDirectory: %s", path, ioerr->message);
			return NULL;
		}
		while ((name = g_dir_read_name(dir)) != NULL)
			if (g_str_has_suffix(name, ".conf") && name[0] != '.')
				g_ptr_array_add(found,
				    g_build_filename(conf->list_dir, name, NULL));
		g_ptr_array_sort(found, compare_strings);
		for (guint i = 0; i < found->len; i++)
			g_ptr_array_add(files, g_strdup(found->pdata[i]));
	}
	for (guint i = 0; i < files->len; i++) {
		const char *f = g_ptr_array_index(files, i);
		OpmList *l = opm_list_load(f, error);

		if (l == NULL)
			return NULL;
		if (opm_conf_find_list(conf, l->address) != NULL) {
			g_set_error(error, OPM_ERROR, OPM_ERROR_CONFIG,
			    "%s: list %s is defined twice", f, l->address);
			opm_list_free(l);
			return NULL;
		}
		g_ptr_array_add(conf->lists, l);
	}
	/* a list address must never be a member of a list on this host */
	for (guint i = 0; i < conf->lists->len; i++) {
		OpmList *l = g_ptr_array_index(conf->lists, i);

		for (guint j = 0; j < l->members->len; j++) {
			OpmMember *m = g_ptr_array_index(l->members, j);

			if (opm_conf_find_list(conf, m->address) != NULL) {
				g_set_error(error, OPM_ERROR, OPM_ERROR_CONFIG,
				    "%s:%u: %s is a list address on this host "
				    "and cannot be a member", l->members_file,
				    m->line, m->address);
				return NULL;
			}
		}
	}
	return g_steal_pointer(&conf);
}

OpmConfig *
opm_conf_ref(OpmConfig *conf)
{
	g_atomic_int_inc(&conf->refcount);
	return conf;
}

void
opm_conf_unref(OpmConfig *conf)
{
	if (conf == NULL || !g_atomic_int_dec_and_test(&conf->refcount))
		return;
	for (const OpmOption *o = options; o->name != NULL; o++) {
		char *p = (char *)conf + o->offset;

		if (o->scope != OPM_SCOPE_MAIN)
			continue;
		if (o->repeat)
			g_clear_pointer((GPtrArray **)p, g_ptr_array_unref);
		else if (o->type == OPM_OPT_STRING || o->type == OPM_OPT_PATH ||
		    o->type == OPM_OPT_ENUM || o->type == OPM_OPT_CHARS)
			g_clear_pointer((char **)p, g_free);
	}
	g_free(conf->path);
	g_clear_pointer(&conf->lists, g_ptr_array_unref);
	g_free(conf);
}

/* The addresses of a list the filter owns, and what each is for. */
static const struct {
	OpmAddrRole role;
	gsize offset; /* of a char * in OpmList */
} owned_addresses[] = {
	{OPM_ROLE_LIST, L(address)},
	{OPM_ROLE_BOUNCE, L(bounce_address)},
	{OPM_ROLE_REQUEST, L(request_address)},
};

OpmList *
opm_conf_resolve(OpmConfig *conf, const char *addr, OpmAddrRole *role)
{
	/* Postfix looks up the full address before the one without its
	 * extension: with '-' a delimiter, secir-bounces is the bounce
	 * address, not secir with extension "bounces" */
	static const OpmAddrMatch rounds[] = {OPM_ADDR_SAME, OPM_ADDR_EXTENSION};

	for (gsize k = 0; k < G_N_ELEMENTS(rounds); k++)
		for (guint i = 0; i < conf->lists->len; i++) {
			OpmList *l = g_ptr_array_index(conf->lists, i);

			for (gsize j = 0; j < G_N_ELEMENTS(owned_addresses); j++) {
				const char *own = *(char **)(void *)((char *)l +
				    owned_addresses[j].offset);

				if (own == NULL || opm_address_match(addr, own,
				    conf->recipient_delimiter) != rounds[k])
					continue;
				if (role != NULL)
					*role = owned_addresses[j].role;
				return l;
			}
		}
	if (role != NULL)
		*role = OPM_ROLE_NONE;
	return NULL;
}

OpmList *
opm_conf_find_list(OpmConfig *conf, const char *addr)
{
	OpmAddrRole role;
	OpmList *l = opm_conf_resolve(conf, addr, &role);

	return role == OPM_ROLE_LIST ? l : NULL;
}

gboolean
opm_conf_members_changed(const OpmConfig *conf)
{
	for (guint i = 0; i < conf->lists->len; i++) {
		OpmList *l = g_ptr_array_index(conf->lists, i);
		g_autofree char *now = opm_members_stamp(l->members_file);

		if (g_strcmp0(now, l->members_stamp) != 0)
			return TRUE;
	}
	return FALSE;
}

OpmMember *
opm_list_find_member(OpmList *list, const char *fpr, const char *address)
{
	g_autofree char *norm = address != NULL ?
	    opm_address_normalize(address) : NULL;

	for (guint i = 0; i < list->members->len; i++) {
		OpmMember *m = g_ptr_array_index(list->members, i);

		if (fpr != NULL && g_ascii_strcasecmp(m->fpr, fpr) != 0)
			continue;
		if (norm != NULL && strcmp(m->address, norm) != 0)
			continue;
		return m;
	}
	return NULL;
}
