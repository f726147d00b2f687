/*
 * NAME
 *	command.h - the commands of a mail to a list's request address
 * DESCRIPTION
 *	One command per line of the signed text, case-insensitive, words
 *	separated by white space.  Blank lines and quoted lines ("> ...")
 *	are skipped; a signature delimiter ("-- ") ends the commands.  Any
 *	other line is an error: one bad line makes the whole mail fail.
 */
#ifndef OPM_COMMAND_H
#define OPM_COMMAND_H

#include "opm.h"

/* Longest command line, and most commands in one mail. */
#define OPM_COMMAND_MAX_LINE 1000
#define OPM_COMMAND_MAX 100

typedef enum {
	OPM_CMD_GET_LIST_KEY,  /* anyone, even unsigned */
	OPM_CMD_HELP,          /* members */
	OPM_CMD_LIST_MEMBERS,
	OPM_CMD_UPDATE_KEY,    /* FINGERPRINT, key attached */
	OPM_CMD_UNSUBSCRIBE,
	OPM_CMD_ADD_MEMBER,    /* admins: ADDRESS FINGERPRINT [NAME...] */
	OPM_CMD_REMOVE_MEMBER, /* ADDRESS */
	OPM_CMD_SET_KEY,       /* ADDRESS FINGERPRINT, key attached */
	OPM_CMD_NOMINATE,      /* members: ADDRESS FINGERPRINT [NAME...],
				  the candidate's key attached */
	OPM_CMD_VOUCH,         /* ADDRESS FINGERPRINT */
	OPM_CMD_OBJECT,        /* ADDRESS REASON... */
	OPM_CMD_APPROVE,       /* admins: ADDRESS */
	OPM_CMD_NOMINATIONS,   /* members */
	OPM_CMD_WITHDRAW,      /* the nominator: ADDRESS */
} OpmCommandVerb;

typedef enum {
	OPM_AUTH_ANYONE,
	OPM_AUTH_MEMBER,
	OPM_AUTH_ADMIN,
} OpmAuthority;

typedef struct {
	OpmCommandVerb verb;
	guint line;      /* in the text, from 1 */
	char *address;   /* ADD_MEMBER, REMOVE_MEMBER, SET_KEY, and the
			    candidate of NOMINATE, VOUCH, OBJECT, APPROVE,
			    WITHDRAW */
	char *fpr;       /* UPDATE_KEY, ADD_MEMBER, SET_KEY, NOMINATE,
			    VOUCH: canonical */
	char *name;      /* ADD_MEMBER, NOMINATE: the rest of the line, or
			    NULL; OBJECT: the reason */
} OpmCommand;

void opm_command_free(OpmCommand *c); /* accepts NULL */

/* The command's name as written in mail, "add-member".  (transfer none) */
const char *opm_command_name(OpmCommandVerb verb);

/* Whether it concerns nominations (lib/admission.c). */
gboolean opm_command_is_admission(OpmCommandVerb verb);

/* Who may give it. */
OpmAuthority opm_command_authority(OpmCommandVerb verb);

/* Parse text (n bytes, any line ends).  A bad line is an OPM_ERROR_CONFIG
 * error "line N: why", with *bad_line (may be NULL) set to N; an empty
 * command list is an error too.  (transfer full): OpmCommand * */
GPtrArray *opm_command_parse(const char *text, gsize n, guint *bad_line,
    GError **error);

#endif
