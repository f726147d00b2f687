/*
 * NAME
 *	conf.h - configuration, list definitions and members
 * DESCRIPTION
 *	The main configuration file and the list definition files share one
 *	syntax: "Name value" lines, '#' starts a comment.  Every option is
 *	declared once, in the table returned by opm_conf_options(); parsing,
 *	defaults, bounds and the check that the man page lists exactly these
 *	options all read that table.
 */
#ifndef OPM_CONF_H
#define OPM_CONF_H

#include <pthread.h>

#include "opm.h"

typedef struct OpmKeyInfo OpmKeyInfo; /* keys.h */

typedef enum {
	OPM_OPT_STRING,
	OPM_OPT_PATH,     /* a file or directory name */
	OPM_OPT_BOOL,     /* yes/no, true/false, on/off, 1/0 */
	OPM_OPT_INT,      /* decimal integer within [min, max] */
	OPM_OPT_DURATION, /* seconds, or a number with s, m, h, d, w */
	OPM_OPT_SIZE,     /* bytes, or a number with k, M, G */
	OPM_OPT_ADDRESS,  /* local@domain */
	OPM_OPT_FPR,      /* 40 or 64 hex digits, spaces allowed */
	OPM_OPT_ENUM,     /* one of the words in values */
	OPM_OPT_WORDS,    /* a list of words from values, separated by , or space */
	OPM_OPT_MODE,     /* an octal file mode */
	OPM_OPT_CHARS,    /* a set of characters, may be empty */
} OpmOptType;

typedef enum {
	OPM_SCOPE_MAIN, /* main configuration file */
	OPM_SCOPE_LIST, /* a list definition file */
} OpmScope;

typedef struct {
	const char *name;
	OpmScope scope;
	OpmOptType type;
	const char *dflt;   /* NULL: no default (required where required) */
	gint64 min, max;    /* bounds for INT, DURATION and SIZE */
	gsize offset;       /* into OpmConfig or OpmList */
	gboolean repeat;    /* may be given more than once (strings only) */
	gboolean required;
	const char *values; /* ENUM and WORDS: the accepted words, '|' separated */
	const char *doc;    /* one line, for --help style listings */
} OpmOption;

/* Hash algorithms, as a bit set of (1 << gpgme_hash_algo_t). */
typedef guint32 OpmHashSet;

typedef struct {
	char *address;     /* normalized: domain lower case */
	char *fpr;         /* upper-case hex primary-key fingerprint */
	char *name;        /* display name, or NULL */
	guint line;        /* line in the members file */
	OpmKeyInfo *key;   /* filled by opm_keys_load(); NULL if missing;
			      (transfer none): owned by the list's keys */
} OpmMember;

typedef struct {
	char *file;             /* the list definition file */
	char *address;          /* list address, normalized */
	char *name;             /* short name used in texts */
	char *gnupg_home;
	char *list_key;         /* fingerprint of the list key */
	char *members_file;
	GPtrArray *admins;      /* char *, addresses */
	char *bounce_address;
	char *hashes_words;     /* as written; see allowed_hashes */
	OpmHashSet allowed_hashes;
	gint64 max_signature_age;   /* seconds; 0 disables freshness */
	gint64 max_clock_skew;      /* seconds a signature may be in the future */
	gint64 replay_lifetime;     /* seconds a replay-cache entry is kept */
	gint64 min_rsa_bits;
	gboolean allow_dsa;
	gint64 key_expiry_warning;  /* seconds; -n warns within this */

	GPtrArray *members;         /* OpmMember *, owned */
	GPtrArray *keys;            /* OpmKeyInfo *, owned: member keys */
	OpmKeyInfo *list_keyinfo;   /* owned; NULL if the list key is missing */
	gpgme_key_t list_gpgkey;    /* owned ref; the list's secret key, NULL
				       if missing */
	GStrv list_keygrips;        /* owned; keygrips of the list key's
				       usable secret (sub)keys */
	char *agent_socket;         /* owned; gpg-agent's socket for
				       gnupg_home, or NULL */
	GPtrArray *gpg_pool;        /* idle gpgme contexts for gnupg_home,
				       owned; see opm_gpg_acquire() */
	/* a pthread mutex, not a GMutex: ThreadSanitizer sees only the
	 * former, and CI runs the concurrency test under it */
	pthread_mutex_t gpg_pool_lock;
	gboolean rewrite_from;
	gboolean show_subject;
	char *list_help;            /* URL for List-Help, or NULL */
	char *post_policy;          /* "signed" or "encrypted" */
	gboolean encrypted_only;    /* post_policy is "encrypted" */
	gboolean inline_pgp;        /* inline PGP posts are accepted */
	GHashTable *keys_by_fpr;    /* fpr of primary or subkey -> OpmKeyInfo *
				       (not owned; owned by the members) */
	char *request_address;      /* commands go here, normalized */
	gboolean members_may_list;  /* list-members for members */
	GPtrArray *admin_keys;      /* char *, "AdminKey" lines as written */
	GHashTable *admin_pins;     /* normalized address -> fingerprint of
				       each AdminKey; its addresses are in
				       admins too; owned */
	char *reminders_words;      /* KeyExpiryReminders as written */
	GArray *reminders;          /* gint64 seconds, longest first */
	gboolean autocrypt;         /* copies carry an Autocrypt: header */
	char *autocrypt_keydata;    /* the list key, minimal, base64; filled
				       by opm_keys_load(); owned */
	char *members_stamp;        /* opm_members_stamp() of members_file
				       taken when it was read; owned */
	char *admission;            /* "admin" or "vouch" */
	gint64 vouches_required;    /* vouches by members other than the
				       nominator */
	gboolean admin_approval;    /* an admin approves each admission */
	gint64 nomination_lifetime; /* seconds a nomination stays open */
	char *vouch_visibility;     /* "members" or "admins": who sees who
				       vouched */
	gint64 inactive_reminder;   /* seconds a member may be inactive
				       before the admins are reminded; 0 never */
} OpmList;

typedef struct {
	gint refcount;
	char *path;
	char *socket;
	char *user;
	char *pid_file;
	char *state_dir;
	char *syslog_facility;
	char *log_level;
	char *log_file;             /* NULL: syslog; "stderr", or a path */
	gint64 umask;
	GPtrArray *list_files; /* char *, "List" lines */
	char *list_dir;
	gint64 max_message_size;
	gint64 max_mime_depth;
	gint64 max_mime_parts;
	gint64 max_headers;
	gint64 max_header_size;
	char *inject_method;
	gint64 inject_connections; /* smtp: connections per post */
	gint64 journal_lifetime;
	char *fanout_mode;          /* "split" or "per-member" */
	char *recipient_delimiter;  /* characters; "" for none */

	GPtrArray *lists; /* OpmList *, owned */
} OpmConfig;

/* The option table, terminated by an entry whose name is NULL.
 * (transfer none) */
const OpmOption *opm_conf_options(void);

/* Read the main configuration file at path, every list file it names and
 * every members file.  Does not touch keys: call opm_keys_load() per list.
 * Errors name the file and line.  (transfer full): opm_conf_unref(). */
OpmConfig *opm_conf_load(const char *path, GError **error);

/* Read one list definition file and its members file, as
 * opm_conf_load() does for each list.  (transfer full): opm_list_free() */
OpmList *opm_list_load(const char *path, GError **error);
void opm_list_free(OpmList *list); /* accepts NULL */

OpmConfig *opm_conf_ref(OpmConfig *conf);
void opm_conf_unref(OpmConfig *conf); /* accepts NULL */

/* What an address the filter owns is for. */
typedef enum {
	OPM_ROLE_NONE,   /* not an address of any list */
	OPM_ROLE_LIST,   /* a list's posting address */
	OPM_ROLE_BOUNCE, /* a list's bounce address */
	OPM_ROLE_REQUEST, /* a list's request address (command mails) */
} OpmAddrRole;

/* The list that owns the envelope address addr, in any spelling the MTA
 * delivers to it (opm_address_match() with RecipientDelimiter): first
 * an address of some list that addr is, however spelt, then one that
 * addr is with an address extension.  *role (may be NULL) says which of
 * the list's addresses; *role OPM_ROLE_NONE and NULL when none.
 * (transfer none): owned by conf. */
OpmList *opm_conf_resolve(OpmConfig *conf, const char *addr,
    OpmAddrRole *role);

/* The list whose posting address addr reaches (opm_conf_resolve() with
 * the role OPM_ROLE_LIST), or NULL.  (transfer none): owned by conf. */
OpmList *opm_conf_find_list(OpmConfig *conf, const char *addr);

/* The members whose pinned fingerprint is fpr.  (transfer none) */
OpmMember *opm_list_find_member(OpmList *list, const char *fpr,
    const char *address);

/* TRUE when s is an address a list or members file accepts:
 * local@domain.tld, no white space, controls, <>, "" or commas. */
gboolean opm_address_valid(const char *s);

/* Parse the text of a members file (named path in errors): one
 * OpmMember per member line, key NULL.  NULL with an OPM_ERROR_CONFIG
 * error naming path and line.  (transfer full) */
GPtrArray *opm_members_parse(const char *path, const char *text,
    GError **error);
void opm_member_free(OpmMember *m); /* accepts NULL */

/* What identifies the present version of a members file (device, inode,
 * size, modification time); "missing" when it cannot be examined.
 * (transfer full) */
char *opm_members_stamp(const char *path);

/* TRUE when some list's members file is no longer the one conf read:
 * replaced (as the membership changes do) or edited in place. */
gboolean opm_conf_members_changed(const OpmConfig *conf);

/* Parse "7d", "10m", "3600"; returns FALSE on junk. */
gboolean opm_parse_duration(const char *s, gint64 *out);
gboolean opm_parse_size(const char *s, gint64 *out);

/* Canonical fingerprint: upper-case hex without spaces, or NULL if s is
 * not 40 or 64 hex digits.  (transfer full) */
char *opm_fpr_canon(const char *s);

/* Name of a hash algorithm as the configuration spells it. */
const char *opm_hash_name(int algo);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(OpmConfig, opm_conf_unref)

#endif
