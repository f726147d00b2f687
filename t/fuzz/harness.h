/*
 * NAME
 *	harness.h - what both libFuzzer harnesses share
 * DESCRIPTION
 *	fuzz_log_handler(): GMime warns about broken input, which is the
 *	point: warnings are dropped, but for GObject's about a bad cast.
 *	That warning and a critical mean a GLib or GMime function was called
 *	wrongly: the message is printed and the harness aborts, so that
 *	libFuzzer keeps the input (GLib's own fatal path would stop at a
 *	breakpoint trap, which libFuzzer does not catch).  Install it with
 *	g_log_set_default_handler().
 */
#ifndef OPM_FUZZ_HARNESS_H
#define OPM_FUZZ_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

static inline void
fuzz_log_handler(const char *domain, GLogLevelFlags level,
    const char *message, gpointer data)
{
	(void)data;
	if ((level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR |
	    G_LOG_FLAG_FATAL)) || strstr(message, " cast ") != NULL) {
		fprintf(stderr, "%s: %s\n", domain != NULL ? domain : "GLib",
		    message);
		abort();
	}
}

#endif
