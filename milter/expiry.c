/*
 * NAME
 *	expiry - the daemon's daily key expiry check
 * SYNOPSIS
 *	opmf_expiry_start()
 * DESCRIPTION
 *	A thread of the worker: a minute after start and then once a day it
 *	runs opm_expiry_run() for every list of the configuration in force,
 *	sending through its InjectMethod.  No cron job is needed; what was
 *	sent is kept in the state directory, so the check after a restart
 *	sends nothing twice.  It reminds the admins of members inactive for
 *	InactiveReminder (opm_expiry_inactive()).  For a list with "Admission vouch" it also ends
 *	the nominations that expired (opm_admission_check()), telling the
 *	nominators and the admins.
 */
#include "config.h"

#include "admission.h"
#include "expiry.h"
#include "inject.h"
#include "opmf.h"

#define FIRST_DELAY 60
#define PERIOD (24 * 3600)

static void
check_all(void)
{
	g_autoptr(OpmConfig) conf = opmf_conf_get();
	g_autoptr(GError) error = NULL;
	g_autoptr(OpmInjector) inj = NULL;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	if (conf == NULL)
		return;
	if ((inj = opm_injector_new(conf->inject_method, &error)) == NULL) {
		g_warning("key expiry check: %s", error->message);
		return;
	}
	for (guint i = 0; i < conf->lists->len; i++) {
		OpmList *l = g_ptr_array_index(conf->lists, i);
		OpmExpiryStats st;

		if (!opm_expiry_run(conf->state_dir, l, inj, now, &st, &error)) {
			g_warning("%s: key expiry check: %s", l->address,
			    error->message);
			g_clear_error(&error);
		} else if (st.reminders > 0 || st.list_key)
			g_message("%s: key expiry check: %u reminder%s, %u "
			    "admin summar%s", l->address, st.reminders,
			    st.reminders == 1 ? "" : "s", st.summaries,
			    st.summaries == 1 ? "y" : "ies");
		if (!opm_expiry_inactive(conf->state_dir, l, inj, now, NULL,
		    &error)) {
			g_warning("%s: inactive member check: %s", l->address,
			    error->message);
			g_clear_error(&error);
		}
		if (g_strcmp0(l->admission, "vouch") == 0) {
			guint ended = 0;

			if (!opm_admission_check(conf, l, inj, now, &ended,
			    &error)) {
				g_warning("%s: nomination check: %s", l->address,
				    error->message);
				g_clear_error(&error);
			} else if (ended > 0)
				g_message("%s: nomination check: %u ended",
				    l->address, ended);
		}
	}
}

static gpointer
expiry_thread(gpointer data)
{
	(void)data;
	g_usleep((gulong)FIRST_DELAY * G_USEC_PER_SEC);
	for (;;) {
		check_all();
		g_usleep((gulong)PERIOD * G_USEC_PER_SEC);
	}
	return NULL;
}

void
opmf_expiry_start(void)
{
	g_thread_unref(g_thread_new("expiry", expiry_thread, NULL));
}
