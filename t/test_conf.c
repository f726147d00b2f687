/*
 * NAME
 *	test_conf - unit tests of lib/conf.c
 * DESCRIPTION
 *	The option table against openpgp-milter.conf(5), the defaults a
 *	postmaster gets, every kind of configuration error (each must name
 *	the file and the line), the value parsers, ListDirectory and list
 *	lookup.  Configuration files are written into a temporary directory;
 *	no keys are needed.
 */
#include "config.h"

#include <string.h>

#include "tutil.h"

#include "conf.h"

#define LIST_ADDRESS "secir@lists.example.org"
#define FPR_A "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define FPR_B "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
#define FPR_L "0123456789ABCDEF0123456789ABCDEF01234567"

/* ------------------------------------------------------------------ */
/* the man page: every option in the table, and nothing else          */

typedef struct {
	char *name;
	char *section; /* the .SH heading it is documented under */
	char *dflt;    /* the value after "Default:", or NULL */
	guint line;
} ManEntry;

static void
man_entry_free(ManEntry *e)
{
	g_free(e->name);
	g_free(e->section);
	g_free(e->dflt);
	g_free(e);
}

/* Text of a troff line with its font requests, quotes and escapes taken
 * away: ".BR \"SHA256 SHA384\" ." gives "SHA256 SHA384 .".
 * (transfer full) */
static char *
man_text(const char *line)
{
	g_autofree char *s = NULL;
	char *t;

	if (line[0] == '.') {
		const char *sp = strchr(line, ' ');

		line = sp != NULL ? sp + 1 : "";
	}
	s = tu_replace(line, "\\-", "-");
	t = tu_replace(s, "\"", "");
	return g_strstrip(t);
}

/* Every ".TP" directly followed by ".B Name" in the page: an option. */
static GPtrArray *
man_options(void)
{
	g_autofree char *path = g_build_filename(tu_env("top_srcdir"), "man",
	    "openpgp-milter.conf.5", NULL);
	g_autofree char *text = tu_read(path);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	GPtrArray *out = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)man_entry_free);
	g_autofree char *section = g_strdup("");
	ManEntry *cur = NULL;

	for (guint i = 0; lines[i] != NULL; i++) {
		const char *l = lines[i];

		if (g_str_has_prefix(l, ".SH")) {
			g_free(section);
			section = man_text(l);
			cur = NULL;
		} else if (g_str_has_prefix(l, ".TP") && lines[i + 1] != NULL &&
		    g_str_has_prefix(lines[i + 1], ".B ")) {
			g_autofree char *name = man_text(lines[i + 1]);
			char *sp = strpbrk(name, " \t");

			if (sp != NULL)
				*sp = '\0';
			cur = g_new0(ManEntry, 1);
			cur->name = g_strdup(name);
			cur->section = g_strdup(section);
			cur->line = i + 2;
			g_ptr_array_add(out, cur);
			i++;
		} else if (g_str_has_prefix(l, ".TP")) {
			cur = NULL;
		} else if (cur != NULL && cur->dflt == NULL &&
		    g_str_has_prefix(l, "Default:")) {
			/* "Default:" alone, the value on the next line */
			g_autofree char *rest = man_text(l + 8);
			char *v;
			gsize n;

			if (*rest == '\0' && lines[i + 1] != NULL)
				v = man_text(lines[i + 1]);
			else
				v = g_steal_pointer(&rest);
			/* drop the sentence's full stop */
			n = strlen(v);
			if (n >= 1 && v[n - 1] == '.')
				v[n - 1] = '\0';
			cur->dflt = g_strstrip(v);
		}
	}
	return out;
}

static ManEntry *
man_find(GPtrArray *entries, const char *name)
{
	for (guint i = 0; i < entries->len; i++) {
		ManEntry *e = g_ptr_array_index(entries, i);

		if (strcmp(e->name, name) == 0)
			return e;
	}
	return NULL;
}

START_TEST(every_option_is_documented)
{
	g_autoptr(GPtrArray) man = man_options();
	g_autoptr(GString) bad = g_string_new(NULL);

	for (const OpmOption *o = opm_conf_options(); o->name != NULL; o++) {
		ManEntry *e = man_find(man, o->name);
		const char *want = o->scope == OPM_SCOPE_MAIN ?
		    "MAIN CONFIGURATION" : "LIST DEFINITION";

		if (e == NULL)
			g_string_append_printf(bad, "\n  %s: no \".TP\" \".B %s\" "
			    "entry", o->name, o->name);
		else if (strstr(e->section, want) == NULL)
			g_string_append_printf(bad, "\n  %s: under section "
			    "\"%s\", want the one on %s options", o->name,
			    e->section, want);
	}
	ck_assert_msg(bad->len == 0, "options of opm_conf_options() that "
	    "openpgp-milter.conf(5) does not document right: got%s\nwant none",
	    bad->str);
}
END_TEST

START_TEST(every_documented_option_exists)
{
	g_autoptr(GPtrArray) man = man_options();
	g_autoptr(GString) bad = g_string_new(NULL);

	for (guint i = 0; i < man->len; i++) {
		ManEntry *e = g_ptr_array_index(man, i);
		const OpmOption *o;

		for (o = opm_conf_options(); o->name != NULL; o++)
			if (strcmp(o->name, e->name) == 0)
				break;
		if (o->name == NULL)
			g_string_append_printf(bad, "\n  openpgp-milter.conf.5:%u: "
			    "%s", e->line, e->name);
	}
	ck_assert_msg(bad->len == 0, "options documented in "
	    "openpgp-milter.conf(5) that opm_conf_options() lacks: got%s\n"
	    "want none", bad->str);
}
END_TEST

START_TEST(documented_defaults_are_the_defaults)
{
	g_autoptr(GPtrArray) man = man_options();
	g_autoptr(GString) bad = g_string_new(NULL);

	for (const OpmOption *o = opm_conf_options(); o->name != NULL; o++) {
		ManEntry *e = man_find(man, o->name);

		if (o->dflt == NULL || e == NULL)
			continue;
		if (e->dflt == NULL || strcmp(e->dflt, o->dflt) != 0)
			g_string_append_printf(bad, "\n  %s: the page "
			    "(openpgp-milter.conf.5:%u) says \"%s\", the program "
			    "uses \"%s\"", o->name, e->line,
			    e->dflt != NULL ? e->dflt : "(no Default:)", o->dflt);
	}
	ck_assert_msg(bad->len == 0, "documented defaults: got%s\nwant the "
	    "page to state each default as the program applies it", bad->str);
}
END_TEST

START_TEST(option_table_is_well_formed)
{
	g_autoptr(GHashTable) names = g_hash_table_new_full(g_str_hash,
	    g_str_equal, g_free, NULL);

	for (const OpmOption *o = opm_conf_options(); o->name != NULL; o++) {
		g_autofree char *lower = g_ascii_strdown(o->name, -1);

		ck_assert_msg(!g_hash_table_contains(names, lower),
		    "option %s: got it twice in the table (names are not "
		    "case sensitive), want once", o->name);
		g_hash_table_add(names, g_steal_pointer(&lower));
		ck_assert_msg(o->doc != NULL && *o->doc != '\0',
		    "option %s: got no doc line, want one", o->name);
		ck_assert_msg(!(o->required && o->dflt != NULL),
		    "option %s: got required with a default, want one of them",
		    o->name);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* a configuration in a temporary directory                          */

typedef struct {
	char *dir;
	char *main;    /* DIR/openpgp-milter.conf */
	char *list;    /* DIR/list.conf */
	char *members; /* DIR/members */
} Files;

/* Lines of the default files; the error cases rely on the numbering:
 * main file extra lines start at 4, list file extra lines at 6. */
static const char main_head[] =
    "# openpgp-milter test configuration\n"
    "StateDirectory @DIR@/state\n"
    "List @DIR@/list.conf\n";
static const char *list_lines[] = {
	"# the test list",
	"Address " LIST_ADDRESS,
	"GnupgHome @DIR@/gnupg",
	"ListKey " FPR_L,
	"MembersFile @DIR@/members",
};
static const char members_default[] =
    "# address fingerprint name\n"
    "alice@example.org " FPR_A " Alice Example\n"
    "bob@example.org " FPR_B "\n";

/*
 * Write the three files.  main_extra and list_extra are appended (NULL:
 * nothing); a list option named in list_omit is left out, its line kept
 * as a comment; members NULL gives the default members.  @DIR@ stands
 * for the directory.
 */
static void
files_write(Files *f, const char *main_extra, const char *list_extra,
    const char *list_omit, const char *members)
{
	g_autoptr(GString) list = g_string_new(NULL);
	g_autofree char *main_text = NULL;
	g_autofree char *list_text = NULL;
	g_autofree char *members_text = NULL;

	f->dir = tu_tmpdir("opm-conf");
	f->main = g_build_filename(f->dir, "openpgp-milter.conf", NULL);
	f->list = g_build_filename(f->dir, "list.conf", NULL);
	f->members = g_build_filename(f->dir, "members", NULL);
	for (gsize i = 0; i < G_N_ELEMENTS(list_lines); i++) {
		if (list_omit != NULL &&
		    g_str_has_prefix(list_lines[i], list_omit) &&
		    list_lines[i][strlen(list_omit)] == ' ')
			g_string_append_printf(list, "# no %s\n", list_omit);
		else
			g_string_append_printf(list, "%s\n", list_lines[i]);
	}
	if (list_extra != NULL)
		g_string_append_printf(list, "%s\n", list_extra);
	{
		g_autofree char *m = g_strdup_printf("%s%s%s", main_head,
		    main_extra != NULL ? main_extra : "",
		    main_extra != NULL ? "\n" : "");

		main_text = tu_replace(m, "@DIR@", f->dir);
	}
	list_text = tu_replace(list->str, "@DIR@", f->dir);
	members_text = tu_replace(members != NULL ? members : members_default,
	    "@DIR@", f->dir);
	tu_write(f->main, "%s", main_text);
	tu_write(f->list, "%s", list_text);
	tu_write(f->members, "%s", members_text);
}

static void
files_clear(Files *f)
{
	tu_rmtree(f->dir);
	g_free(f->dir);
	g_free(f->main);
	g_free(f->list);
	g_free(f->members);
	memset(f, 0, sizeof(*f));
}

static OpmConfig *
load_ok(Files *f)
{
	g_autoptr(GError) error = NULL;
	OpmConfig *conf = opm_conf_load(f->main, &error);

	ck_assert_msg(conf != NULL, "loading %s: got error \"%s\", want none",
	    f->main, error != NULL ? error->message : "(none)");
	ck_assert_msg(error == NULL, "got error set with a result");
	return conf;
}

START_TEST(defaults_are_applied)
{
	Files f = {0};
	g_autoptr(OpmConfig) conf = NULL;
	OpmList *l;
	static const char *hashes_not[] = {"MD5", "SHA1", "RIPEMD160"};
	static const char *hashes_yes[] = {"SHA256", "SHA384", "SHA512"};
	struct {
		const char *what;
		gint64 got, want;
	} ints[16];
	gsize n = 0;

	files_write(&f, NULL, NULL, NULL, NULL);
	conf = load_ok(&f);
	ck_assert_msg(conf->lists->len == 1, "got %u lists, want 1",
	    conf->lists->len);
	l = g_ptr_array_index(conf->lists, 0);

#define INT(w, g, v) do { ints[n].what = (w); ints[n].got = (g); \
	ints[n].want = (v); n++; } while (0)
	INT("MaxMessageSize", conf->max_message_size, 6291456);
	INT("MaxMimeDepth", conf->max_mime_depth, 8);
	INT("MaxMimeParts", conf->max_mime_parts, 100);
	INT("MaxHeaders", conf->max_headers, 200);
	INT("MaxHeaderSize", conf->max_header_size, 16384);
	INT("UMask", conf->umask, 007);
	INT("MaxSignatureAge", l->max_signature_age, 7 * 86400);
	INT("MaxClockSkew", l->max_clock_skew, 600);
	INT("ReplayCacheLifetime", l->replay_lifetime, 30 * 86400);
	INT("MinRsaBits", l->min_rsa_bits, 2048);
	INT("AllowDsa", l->allow_dsa, FALSE);
	INT("KeyExpiryWarning", l->key_expiry_warning, 30 * 86400);
#undef INT
	for (gsize i = 0; i < n; i++)
		ck_assert_msg(ints[i].got == ints[i].want,
		    "default %s: got %" G_GINT64_FORMAT ", want %"
		    G_GINT64_FORMAT, ints[i].what, ints[i].got, ints[i].want);

	for (gsize i = 0; i < G_N_ELEMENTS(hashes_not); i++) {
		int algo = strcmp(hashes_not[i], "MD5") == 0 ? GPGME_MD_MD5 :
		    strcmp(hashes_not[i], "SHA1") == 0 ? GPGME_MD_SHA1 :
		    GPGME_MD_RMD160;

		ck_assert_msg(!(l->allowed_hashes & (1u << algo)),
		    "default AllowedHashes: got %s allowed, want it refused",
		    hashes_not[i]);
	}
	for (gsize i = 0; i < G_N_ELEMENTS(hashes_yes); i++) {
		int algo = i == 0 ? GPGME_MD_SHA256 : i == 1 ? GPGME_MD_SHA384 :
		    GPGME_MD_SHA512;

		ck_assert_msg(l->allowed_hashes & (1u << algo),
		    "default AllowedHashes: got %s refused, want it allowed",
		    hashes_yes[i]);
	}
	ck_assert_msg(strcmp(l->name, "secir") == 0,
	    "default Name: got \"%s\", want \"secir\"", l->name);
	ck_assert_msg(strcmp(l->bounce_address,
	    "secir-bounces@lists.example.org") == 0,
	    "default BounceAddress: got \"%s\", want "
	    "\"secir-bounces@lists.example.org\"", l->bounce_address);
	ck_assert_msg(strcmp(conf->log_level, "info") == 0,
	    "default LogLevel: got \"%s\", want \"info\"", conf->log_level);
	ck_assert_msg(strcmp(conf->syslog_facility, "mail") == 0,
	    "default SyslogFacility: got \"%s\", want \"mail\"",
	    conf->syslog_facility);
	files_clear(&f);
}
END_TEST

START_TEST(values_are_read)
{
	Files f = {0};
	g_autoptr(OpmConfig) conf = NULL;
	OpmList *l;
	OpmMember *m;

	files_write(&f,
	    "maxmessagesize 64k   # option names are not case sensitive\n"
	    "\n"
	    "   MaxMimeDepth\t4\n"
	    "LogLevel DEBUG",
	    "AllowedHashes SHA1, SHA512\n"
	    "MaxSignatureAge 0\n"
	    "Name Security Incidents\n"
	    "Admin admin@EXAMPLE.org\n"
	    "Admin second@example.org\n"
	    "AllowDsa on\n"
	    "ListKey 0x0123 4567 89ab cdef 0123 4567 89AB CDEF 0123 4567",
	    "ListKey",
	    "# comment\n"
	    "\n"
	    "  Alice@Example.ORG\t" FPR_A "   Alice  Example   # the name\n"
	    "bob@example.org " FPR_B "\n");
	conf = load_ok(&f);
	l = g_ptr_array_index(conf->lists, 0);
	ck_assert_msg(conf->max_message_size == 65536,
	    "MaxMessageSize 64k: got %" G_GINT64_FORMAT ", want 65536",
	    conf->max_message_size);
	ck_assert_msg(conf->max_mime_depth == 4,
	    "MaxMimeDepth 4: got %" G_GINT64_FORMAT, conf->max_mime_depth);
	ck_assert_msg(strcmp(conf->log_level, "debug") == 0,
	    "LogLevel DEBUG: got \"%s\", want \"debug\"", conf->log_level);
	ck_assert_msg(l->allowed_hashes ==
	    ((1u << GPGME_MD_SHA1) | (1u << GPGME_MD_SHA512)),
	    "AllowedHashes SHA1, SHA512: got set %#x, want %#x",
	    l->allowed_hashes,
	    (1u << GPGME_MD_SHA1) | (1u << GPGME_MD_SHA512));
	ck_assert_msg(l->max_signature_age == 0,
	    "MaxSignatureAge 0: got %" G_GINT64_FORMAT, l->max_signature_age);
	ck_assert_msg(strcmp(l->name, "Security Incidents") == 0,
	    "Name: got \"%s\", want \"Security Incidents\"", l->name);
	ck_assert_msg(l->admins != NULL && l->admins->len == 2,
	    "Admin twice: got %u admins, want 2",
	    l->admins != NULL ? l->admins->len : 0);
	ck_assert_msg(strcmp(g_ptr_array_index(l->admins, 0),
	    "admin@example.org") == 0, "Admin: got \"%s\", want "
	    "\"admin@example.org\"", (char *)g_ptr_array_index(l->admins, 0));
	ck_assert_msg(l->allow_dsa, "AllowDsa on: got FALSE, want TRUE");
	ck_assert_msg(strcmp(l->list_key, FPR_L) == 0,
	    "ListKey with 0x, spaces and lower case: got \"%s\", want \"%s\"",
	    l->list_key, FPR_L);

	ck_assert_msg(l->members->len == 2, "got %u members, want 2",
	    l->members->len);
	m = g_ptr_array_index(l->members, 0);
	ck_assert_msg(strcmp(m->address, "Alice@example.org") == 0,
	    "member address: got \"%s\", want \"Alice@example.org\" (domain "
	    "lower case, local part kept)", m->address);
	ck_assert_msg(strcmp(m->fpr, FPR_A) == 0, "member fpr: got %s, want %s",
	    m->fpr, FPR_A);
	ck_assert_msg(m->name != NULL && strcmp(m->name, "Alice  Example") == 0,
	    "member name: got \"%s\", want \"Alice  Example\"",
	    m->name != NULL ? m->name : "(null)");
	ck_assert_msg(m->line == 3, "member line: got %u, want 3", m->line);
	m = g_ptr_array_index(l->members, 1);
	ck_assert_msg(m->name == NULL, "member without a name: got \"%s\", "
	    "want none", m->name);
	ck_assert_msg(opm_list_find_member(l, FPR_B, NULL) == m,
	    "opm_list_find_member by fingerprint: got another member, want bob");
	ck_assert_msg(opm_list_find_member(l, NULL, "bob@EXAMPLE.org") == m,
	    "opm_list_find_member by address with upper-case domain: got "
	    "another member, want bob");
	ck_assert_msg(opm_list_find_member(l, FPR_A, "bob@example.org") == NULL,
	    "opm_list_find_member with alice's key and bob's address: got a "
	    "member, want none");
	files_clear(&f);
}
END_TEST

/* ------------------------------------------------------------------ */
/* errors                                                             */

typedef enum {
	IN_MAIN,
	IN_LIST,
	IN_MEMBERS,
} Where;

static const struct {
	const char *name;
	const char *main_extra, *list_extra, *list_omit, *members;
	Where in;
	guint line;       /* 0: the error names the file, no line */
	const char *want; /* a substring of the message */
} errors[] = {
	{"unknown option in the main file", "Frobnicate yes", NULL, NULL, NULL,
	    IN_MAIN, 4, "Frobnicate"},
	{"unknown option in a list file", NULL, "Colour blue", NULL, NULL,
	    IN_LIST, 6, "Colour"},
	{"list option in the main file", "MaxSignatureAge 7d", NULL, NULL,
	    NULL, IN_MAIN, 4, "list definition file"},
	{"main option in a list file", NULL, "MaxMessageSize 10M", NULL, NULL,
	    IN_LIST, 6, "main configuration file"},
	{"bad duration", NULL, "MaxSignatureAge 7x", NULL, NULL,
	    IN_LIST, 6, "7x"},
	{"duration with an upper-case unit", NULL, "MaxClockSkew 10M", NULL,
	    NULL, IN_LIST, 6, "10M"},
	{"duration out of range", NULL, "MaxSignatureAge 400d", NULL, NULL,
	    IN_LIST, 6, "range"},
	{"lifetime below its minimum", NULL, "ReplayCacheLifetime 59m", NULL,
	    NULL, IN_LIST, 6, "range"},
	{"integer out of range", "MaxMimeDepth 65", NULL, NULL, NULL,
	    IN_MAIN, 4, "range"},
	{"integer that is not a number", "MaxMimeParts many", NULL, NULL, NULL,
	    IN_MAIN, 4, "many"},
	{"size above its maximum", "MaxMessageSize 2G", NULL, NULL, NULL,
	    IN_MAIN, 4, "range"},
	{"size below its minimum", "MaxMessageSize 100", NULL, NULL, NULL,
	    IN_MAIN, 4, "range"},
	{"size with a bad unit", "MaxHeaderSize 16kb", NULL, NULL, NULL,
	    IN_MAIN, 4, "16kb"},
	{"bad mode", "UMask 089", NULL, NULL, NULL, IN_MAIN, 4, "089"},
	{"option given twice", "MaxMimeDepth 4\nMaxMimeDepth 5", NULL, NULL,
	    NULL, IN_MAIN, 5, "twice"},
	{"option given twice in another case", NULL,
	    "address other@lists.example.org", NULL, NULL, IN_LIST, 6, "twice"},
	{"empty value", "PidFile", NULL, NULL, NULL, IN_MAIN, 4, "PidFile"},
	{"bad boolean", NULL, "AllowDsa maybe", NULL, NULL, IN_LIST, 6,
	    "maybe"},
	{"bad enumeration word", "LogLevel loud", NULL, NULL, NULL, IN_MAIN, 4,
	    "loud"},
	{"relative LogFile", "LogFile milter.log", NULL, NULL, NULL, IN_MAIN,
	    0, "milter.log"},
	{"MD5 in AllowedHashes", NULL, "AllowedHashes SHA256 MD5", NULL, NULL,
	    IN_LIST, 6, "MD5"},
	{"empty AllowedHashes", NULL, "AllowedHashes ,", NULL, NULL, IN_LIST,
	    6, "AllowedHashes"},
	{"address without a domain", NULL, "Admin postmaster", NULL, NULL,
	    IN_LIST, 6, "postmaster"},
	{"AdminKey without a fingerprint", NULL, "AdminKey a@example.org",
	    NULL, NULL, IN_LIST, 0, "AdminKey: want"},
	{"AdminKey with a short fingerprint", NULL,
	    "AdminKey a@example.org 1234ABCD", NULL, NULL, IN_LIST, 0,
	    "AdminKey: want"},
	{"bad KeyExpiryReminders", NULL, "KeyExpiryReminders 30d soon", NULL,
	    NULL, IN_LIST, 0, "\"soon\" is not a duration"},
	{"address with angle brackets", NULL, "BounceAddress <b@example.org>",
	    NULL, NULL, IN_LIST, 6, "b@example.org"},
	{"short list key", NULL, "ListKey 0x1234ABCD", "ListKey", NULL,
	    IN_LIST, 6, "1234ABCD"},
	{"missing required Address", NULL, NULL, "Address", NULL, IN_LIST, 0,
	    "Address"},
	{"missing required GnupgHome", NULL, NULL, "GnupgHome", NULL, IN_LIST,
	    0, "GnupgHome"},
	{"missing required ListKey", NULL, NULL, "ListKey", NULL, IN_LIST, 0,
	    "ListKey"},
	{"missing required MembersFile", NULL, NULL, "MembersFile", NULL,
	    IN_LIST, 0, "MembersFile"},
	{"members file with a key ID", NULL, NULL, NULL,
	    "alice@example.org " FPR_A "\n"
	    "bob@example.org 89ABCDEF01234567 Bob\n", IN_MEMBERS, 2,
	    "89ABCDEF01234567"},
	{"members file with a 39-digit fingerprint", NULL, NULL, NULL,
	    "# members\n"
	    "alice@example.org AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
	    IN_MEMBERS, 2, "fingerprint"},
	{"members file without a fingerprint", NULL, NULL, NULL,
	    "alice@example.org\n", IN_MEMBERS, 1, "address fingerprint"},
	{"members file with a bad address", NULL, NULL, NULL,
	    "alice " FPR_A "\n", IN_MEMBERS, 1, "alice"},
	{"duplicate member address", NULL, NULL, NULL,
	    "alice@example.org " FPR_A "\n"
	    "# same address, domain in upper case\n"
	    "alice@EXAMPLE.ORG " FPR_B "\n", IN_MEMBERS, 3, "already a member"},
	{"list address as a member", NULL, NULL, NULL,
	    "alice@example.org " FPR_A "\n"
	    "secir@Lists.Example.ORG " FPR_B "\n", IN_MEMBERS, 2,
	    "list address"},
	{"list defined twice", "List @DIR@/list.conf", NULL, NULL, NULL,
	    IN_LIST, 0, "twice"},
};

START_TEST(errors_name_file_and_line)
{
	Files f = {0};
	g_autoptr(GError) error = NULL;
	g_autoptr(OpmConfig) conf = NULL;
	g_autofree char *prefix = NULL;
	const char *path;

	files_write(&f, errors[_i].main_extra, errors[_i].list_extra,
	    errors[_i].list_omit, errors[_i].members);
	conf = opm_conf_load(f.main, &error);
	ck_assert_msg(conf == NULL, "%s: got a configuration, want an error",
	    errors[_i].name);
	ck_assert_msg(error != NULL, "%s: got no error set", errors[_i].name);
	ck_assert_msg(error->domain == OPM_ERROR &&
	    error->code == OPM_ERROR_CONFIG,
	    "%s: got error domain %s code %d, want OPM_ERROR_CONFIG",
	    errors[_i].name, g_quark_to_string(error->domain), error->code);
	path = errors[_i].in == IN_MAIN ? f.main :
	    errors[_i].in == IN_LIST ? f.list : f.members;
	prefix = errors[_i].line > 0 ?
	    g_strdup_printf("%s:%u: ", path, errors[_i].line) :
	    g_strdup_printf("%s: ", path);
	ck_assert_msg(g_str_has_prefix(error->message, prefix),
	    "%s: got \"%s\", want it to start with \"%s\"", errors[_i].name,
	    error->message, prefix);
	ck_assert_msg(strstr(error->message, errors[_i].want) != NULL,
	    "%s: got \"%s\", want it to mention \"%s\"", errors[_i].name,
	    error->message, errors[_i].want);
	files_clear(&f);
}
END_TEST

START_TEST(unreadable_files_are_errors)
{
	Files f = {0};
	g_autoptr(GError) e1 = NULL;
	g_autoptr(GError) e2 = NULL;
	g_autoptr(GError) e3 = NULL;
	g_autoptr(OpmConfig) c1 = NULL;
	g_autoptr(OpmConfig) c2 = NULL;
	g_autoptr(OpmConfig) c3 = NULL;
	g_autofree char *missing = NULL;

	files_write(&f, "ListDirectory @DIR@/no-such-dir", NULL, NULL, NULL);
	missing = g_build_filename(f.dir, "no-such-file.conf", NULL);

	c1 = opm_conf_load(missing, &e1);
	ck_assert_msg(c1 == NULL && e1 != NULL &&
	    strstr(e1->message, missing) != NULL,
	    "missing main file: got \"%s\", want an error naming %s",
	    e1 != NULL ? e1->message : "(no error)", missing);

	c2 = opm_conf_load(f.main, &e2);
	ck_assert_msg(c2 == NULL && e2 != NULL &&
	    strstr(e2->message, "no-such-dir") != NULL,
	    "missing ListDirectory: got \"%s\", want an error naming it",
	    e2 != NULL ? e2->message : "(no error)");

	ck_assert_msg(g_unlink(f.members) == 0, "cannot remove %s", f.members);
	tu_write(f.main, "List %s\n", f.list);
	c3 = opm_conf_load(f.main, &e3);
	ck_assert_msg(c3 == NULL && e3 != NULL &&
	    strstr(e3->message, f.members) != NULL,
	    "missing members file: got \"%s\", want an error naming %s",
	    e3 != NULL ? e3->message : "(no error)", f.members);
	files_clear(&f);
}
END_TEST

START_TEST(no_list_is_valid)
{
	g_autofree char *dir = tu_tmpdir("opm-conf");
	g_autofree char *path = g_build_filename(dir, "main.conf", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(OpmConfig) conf = NULL;

	tu_write(path, "# nothing but comments\n\n");
	conf = opm_conf_load(path, &error);
	ck_assert_msg(conf != NULL, "a main file without lists: got \"%s\", "
	    "want a configuration", error != NULL ? error->message : "?");
	ck_assert_msg(conf->lists->len == 0, "got %u lists, want 0",
	    conf->lists->len);
	ck_assert_msg(opm_conf_find_list(conf, LIST_ADDRESS) == NULL,
	    "opm_conf_find_list without lists: got a list, want NULL");
	tu_rmtree(dir);
}
END_TEST

/* ------------------------------------------------------------------ */
/* ListDirectory and list lookup                                      */

static void
write_list(const char *dir, const char *file, const char *address,
    const char *members)
{
	g_autofree char *path = g_build_filename(dir, file, NULL);

	tu_write(path, "Address %s\nGnupgHome %s/gnupg\nListKey %s\n"
	    "MembersFile %s\n", address, dir, FPR_L, members);
}

START_TEST(list_directory_reads_conf_files_in_name_order)
{
	g_autofree char *dir = tu_tmpdir("opm-conf");
	g_autofree char *lists = g_build_filename(dir, "lists.d", NULL);
	g_autofree char *members = g_build_filename(dir, "members", NULL);
	g_autofree char *main_path = g_build_filename(dir, "main.conf", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(OpmConfig) conf = NULL;
	static const char *want[] = {
		"first@lists.example.org",  /* A.conf */
		"second@lists.example.org", /* a.conf */
		"third@lists.example.org",  /* b.conf */
	};

	ck_assert_msg(g_mkdir(lists, 0700) == 0, "cannot make %s", lists);
	tu_write(members, "alice@example.org %s\n", FPR_A);
	/* written out of order; byte order puts "A" before "a" */
	write_list(lists, "b.conf", want[2], members);
	write_list(lists, "A.conf", want[0], members);
	write_list(lists, "a.conf", want[1], members);
	write_list(lists, "c.conf.orig", "ignored1@lists.example.org", members);
	write_list(lists, "README", "ignored2@lists.example.org", members);
	write_list(lists, ".hidden.conf", "ignored3@lists.example.org", members);
	tu_write(main_path, "ListDirectory %s\n", lists);

	conf = opm_conf_load(main_path, &error);
	ck_assert_msg(conf != NULL, "got error \"%s\", want a configuration",
	    error != NULL ? error->message : "?");
	ck_assert_msg(conf->lists->len == G_N_ELEMENTS(want),
	    "got %u lists, want %zu (only *.conf, no dot files)",
	    conf->lists->len, G_N_ELEMENTS(want));
	for (gsize i = 0; i < G_N_ELEMENTS(want); i++) {
		OpmList *l = g_ptr_array_index(conf->lists, i);

		ck_assert_msg(strcmp(l->address, want[i]) == 0,
		    "list %zu: got %s, want %s", i, l->address, want[i]);
	}
	tu_rmtree(dir);
}
END_TEST

static const struct {
	const char *addr;
	const char *want; /* NULL: no list */
} lookups[] = {
	{"secir@lists.example.org", "secir@lists.example.org"},
	{"secir@LISTS.Example.ORG", "secir@lists.example.org"},
	{"SECIR@lists.example.org", "secir@lists.example.org"},
	{"ops@lists.example.org", "ops@lists.example.org"},
	{"secir@lists.example.com", NULL},
	/* no domain: the MTA completes it, perhaps with the list's */
	{"secir", "secir@lists.example.org"},
	{"secir-bounces@lists.example.org", NULL},
	{"", NULL},
};

START_TEST(find_list_ignores_case)
{
	g_autofree char *dir = tu_tmpdir("opm-conf");
	g_autofree char *members = g_build_filename(dir, "members", NULL);
	g_autofree char *main_path = g_build_filename(dir, "main.conf", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(OpmConfig) conf = NULL;
	OpmList *l;

	tu_write(members, "alice@example.org %s\n", FPR_A);
	write_list(dir, "secir.conf", "secir@Lists.Example.Org", members);
	write_list(dir, "ops.conf", "ops@lists.example.org", members);
	tu_write(main_path, "List %s/secir.conf\nList %s/ops.conf\n", dir, dir);
	conf = opm_conf_load(main_path, &error);
	ck_assert_msg(conf != NULL, "got error \"%s\", want a configuration",
	    error != NULL ? error->message : "?");
	l = opm_conf_find_list(conf, lookups[_i].addr);
	if (lookups[_i].want == NULL)
		ck_assert_msg(l == NULL, "opm_conf_find_list(\"%s\"): got %s, "
		    "want no list", lookups[_i].addr, l != NULL ? l->address : "");
	else
		ck_assert_msg(l != NULL && strcmp(l->address,
		    lookups[_i].want) == 0, "opm_conf_find_list(\"%s\"): got %s, "
		    "want %s", lookups[_i].addr, l != NULL ? l->address : "NULL",
		    lookups[_i].want);
	tu_rmtree(dir);
}
END_TEST

/* ------------------------------------------------------------------ */
/* value parsers                                                      */

static const struct {
	const char *in;
	gboolean ok;
	gint64 want;
} durations[] = {
	{"0", TRUE, 0},
	{"30", TRUE, 30},
	{"30s", TRUE, 30},
	{"10m", TRUE, 600},
	{"2h", TRUE, 7200},
	{"7d", TRUE, 604800},
	{"1w", TRUE, 604800},
	{"3650d", TRUE, G_GINT64_CONSTANT(3650) * 86400},
	{"", FALSE, 0},
	{"7x", FALSE, 0},
	{"d", FALSE, 0},
	{"-1", FALSE, 0},
	{"+1", FALSE, 0},
	{" 7d", FALSE, 0},
	{"7d ", FALSE, 0},
	{"7 d", FALSE, 0},
	{"7dd", FALSE, 0},
	{"1h30m", FALSE, 0},
	{"1.5h", FALSE, 0},
	{"10M", FALSE, 0},
	{"0x10", FALSE, 0},
	{"99999999999999999999", FALSE, 0},
	{"9223372036854775807w", FALSE, 0},
};

START_TEST(parse_duration)
{
	gint64 got = -42;
	gboolean ok = opm_parse_duration(durations[_i].in, &got);

	ck_assert_msg(ok == durations[_i].ok, "opm_parse_duration(\"%s\"): "
	    "got %s, want %s", durations[_i].in, ok ? "TRUE" : "FALSE",
	    durations[_i].ok ? "TRUE" : "FALSE");
	if (ok)
		ck_assert_msg(got == durations[_i].want,
		    "opm_parse_duration(\"%s\"): got %" G_GINT64_FORMAT
		    ", want %" G_GINT64_FORMAT, durations[_i].in, got,
		    durations[_i].want);
	else
		ck_assert_msg(got == -42, "opm_parse_duration(\"%s\") failed "
		    "but wrote %" G_GINT64_FORMAT, durations[_i].in, got);
}
END_TEST

static const struct {
	const char *in;
	gboolean ok;
	gint64 want;
} sizes[] = {
	{"0", TRUE, 0},
	{"4096", TRUE, 4096},
	{"64k", TRUE, 65536},
	{"64K", TRUE, 65536},
	{"10M", TRUE, 10485760},
	{"10m", TRUE, 10485760},
	{"1G", TRUE, G_GINT64_CONSTANT(1073741824)},
	{"1g", TRUE, G_GINT64_CONSTANT(1073741824)},
	{"", FALSE, 0},
	{"M", FALSE, 0},
	{"10MB", FALSE, 0},
	{"10 M", FALSE, 0},
	{"1.5M", FALSE, 0},
	{"-1", FALSE, 0},
	{"10T", FALSE, 0},
	{"10x", FALSE, 0},
	{" 10", FALSE, 0},
	{"99999999999999999999", FALSE, 0},
	{"9223372036854775807k", FALSE, 0},
};

START_TEST(parse_size)
{
	gint64 got = -42;
	gboolean ok = opm_parse_size(sizes[_i].in, &got);

	ck_assert_msg(ok == sizes[_i].ok, "opm_parse_size(\"%s\"): got %s, "
	    "want %s", sizes[_i].in, ok ? "TRUE" : "FALSE",
	    sizes[_i].ok ? "TRUE" : "FALSE");
	if (ok)
		ck_assert_msg(got == sizes[_i].want, "opm_parse_size(\"%s\"): got %"
		    G_GINT64_FORMAT ", want %" G_GINT64_FORMAT, sizes[_i].in, got,
		    sizes[_i].want);
}
END_TEST

#define V4 "0123456789ABCDEF0123456789ABCDEF01234567"
#define V5 "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"

static const struct {
	const char *in;
	const char *want; /* NULL: refused */
} fprs[] = {
	{V4, V4},
	{"0123456789abcdef0123456789abcdef01234567", V4},
	{"0x0123456789ABCDEF0123456789ABCDEF01234567", V4},
	{"0X0123456789abcdef0123456789ABCDEF01234567", V4},
	{"0123 4567 89AB CDEF 0123  4567 89AB CDEF 0123 4567", V4},
	{" 0123456789ABCDEF0123456789ABCDEF01234567 ", V4},
	{V5, V5},
	{"0123456789ABCDEF0123456789ABCDEF0123456", NULL},     /* 39 */
	{"0123456789ABCDEF0123456789ABCDEF012345678", NULL},   /* 41 */
	{"0123456789ABCDEF0123456789ABCDEF0123456G", NULL},    /* not hex */
	{"0123456789ABCDEF", NULL},                            /* key ID */
	{"89ABCDEF", NULL},                                    /* short ID */
	{"0x", NULL},
	{"", NULL},
	{"0x0x0123456789ABCDEF0123456789ABCDEF01234567", NULL},
	{"0123456789ABCDEF0123456789ABCDEF01234567:", NULL},
};

START_TEST(fpr_canon)
{
	g_autofree char *got = opm_fpr_canon(fprs[_i].in);

	if (fprs[_i].want == NULL)
		ck_assert_msg(got == NULL, "opm_fpr_canon(\"%s\"): got \"%s\", "
		    "want NULL", fprs[_i].in, got);
	else
		ck_assert_msg(got != NULL && strcmp(got, fprs[_i].want) == 0,
		    "opm_fpr_canon(\"%s\"): got \"%s\", want \"%s\"",
		    fprs[_i].in, got != NULL ? got : "NULL", fprs[_i].want);
}
END_TEST

static const struct {
	int algo;
	const char *want;
} hash_names[] = {
	{GPGME_MD_MD5, "MD5"},
	{GPGME_MD_SHA1, "SHA1"},
	{GPGME_MD_SHA256, "SHA256"},
	{GPGME_MD_SHA512, "SHA512"},
};

START_TEST(hash_name)
{
	const char *got = opm_hash_name(hash_names[_i].algo);

	ck_assert_msg(strcmp(got, hash_names[_i].want) == 0,
	    "opm_hash_name(%d): got \"%s\", want \"%s\"", hash_names[_i].algo,
	    got, hash_names[_i].want);
}
END_TEST

static Suite *
conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc;

	tc = tcase_create("man page");
	tcase_add_test(tc, every_option_is_documented);
	tcase_add_test(tc, every_documented_option_exists);
	tcase_add_test(tc, documented_defaults_are_the_defaults);
	tcase_add_test(tc, option_table_is_well_formed);
	suite_add_tcase(s, tc);

	tc = tcase_create("loading");
	tcase_add_test(tc, defaults_are_applied);
	tcase_add_test(tc, values_are_read);
	tcase_add_loop_test(tc, errors_name_file_and_line, 0,
	    G_N_ELEMENTS(errors));
	tcase_add_test(tc, unreadable_files_are_errors);
	tcase_add_test(tc, no_list_is_valid);
	tcase_add_test(tc, list_directory_reads_conf_files_in_name_order);
	tcase_add_loop_test(tc, find_list_ignores_case, 0,
	    G_N_ELEMENTS(lookups));
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_loop_test(tc, parse_duration, 0, G_N_ELEMENTS(durations));
	tcase_add_loop_test(tc, parse_size, 0, G_N_ELEMENTS(sizes));
	tcase_add_loop_test(tc, fpr_canon, 0, G_N_ELEMENTS(fprs));
	tcase_add_loop_test(tc, hash_name, 0, G_N_ELEMENTS(hash_names));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run(conf_suite());
}
