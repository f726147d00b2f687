/*
 * NAME
 *	fuzz_mime - libFuzzer harness for the MIME classifier (lib/mime.c)
 * SYNOPSIS
 *	make fuzz                      # builds, seeds and runs both harnesses
 *	t/fuzz/fuzz_mime [LIBFUZZER-OPTION...] CORPUS-DIR...
 * DESCRIPTION
 *	Every input is taken as one post, as the MTA hands it over, and
 *	goes through opm_message_parse() with the daemon's default bounds
 *	(10 MiB, 8 levels of nesting, 100 parts, 200 header fields, 16 KiB
 *	per field).  Then whatever the gate reads next is read here too: the
 *	From: fields, the top-level Content-* fields, the protected header
 *	fields, the top-level entity as received, and the bytes a
 *	classification hands on (the signed part and its signature, the
 *	ciphertext, the inline text), so that AddressSanitizer sees every
 *	byte the classifier claims is there.  The offsets of the signed
 *	entity must lie within the message: abort() if not.
 *
 *	Built with clang -fsanitize=fuzzer,address,undefined; lib/mime.c,
 *	lib/util.c and lib/pgp.c are compiled into the harness with the same
 *	flags (see the fuzz block of Makefile.am).  g_mime_init() runs once,
 *	in LLVMFuzzerInitialize().  GLib warnings are dropped (GMime warns
 *	about broken input, which is the point); a critical or an invalid
 *	cast, which mean a GLib or GMime function was called wrongly,
 *	aborts.
 *
 *	Run with G_SLICE=always-malloc so that AddressSanitizer sees every
 *	allocation.  The seed corpus comes from t/fuzz/seeds.sh.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mime.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const OpmLimits limits = {
	.max_size = 10 * 1024 * 1024,
	.max_depth = 8,
	.max_parts = 100,
	.max_headers = 200,
	.max_header_size = 16 * 1024,
};

/* Where the reads end up, so that the compiler keeps them. */
static volatile guint8 sink;

/* Read every byte of b. */
static void
touch(GBytes *b)
{
	gsize n;
	const guint8 *p;
	guint8 x = 0;

	if (b == NULL)
		return;
	p = g_bytes_get_data(b, &n);
	for (gsize i = 0; i < n; i++)
		x ^= p[i];
	sink ^= x;
}

static void
touch_strings(GPtrArray *a)
{
	for (guint i = 0; a != NULL && i < a->len; i++) {
		const char *s = g_ptr_array_index(a, i);

		sink ^= (guint8)strlen(s != NULL ? s : "");
	}
}

static void
touch_fields(GPtrArray *a)
{
	for (guint i = 0; a != NULL && i < a->len; i++) {
		OpmField *f = g_ptr_array_index(a, i);

		sink ^= (guint8)(strlen(f->name) + strlen(f->value));
	}
	sink ^= (guint8)opm_fields_count(a, "From");
	(void)opm_fields_get(a, "Subject");
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	g_log_set_default_handler(fuzz_log_handler, NULL);
	g_mime_init();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	GBytes *raw, *b;
	OpmMessage *m;
	GPtrArray *a;

	raw = g_bytes_new(data, size);
	m = opm_message_parse(raw, &limits);
	g_bytes_unref(raw);
	if (m->limit == OPM_LIMIT_OK && m->message == NULL)
		abort();
	if (m->limit_detail != NULL)
		sink ^= (guint8)strlen(m->limit_detail);
	if (m->form_detail != NULL)
		sink ^= (guint8)strlen(m->form_detail);

	a = opm_message_headers(m, "From");
	touch_strings(a);
	g_ptr_array_unref(a);
	a = opm_message_part_headers(m, "Content-Type");
	touch_strings(a);
	g_ptr_array_unref(a);
	a = opm_message_protected_headers(m);
	touch_fields(a);
	if (a != NULL)
		g_ptr_array_unref(a);
	b = opm_message_top_entity(m);
	touch(b);
	g_bytes_unref(b);

	if (m->form == OPM_FORM_PGPMIME_SIGNED) {
		if (m->signed_data == NULL || m->signature == NULL ||
		    m->entity_start > m->entity_end || m->entity_end > size)
			abort();
		touch(m->signed_data);
		touch(m->signature);
	}
	touch(m->ciphertext);
	touch(m->inline_text);
	if (m->charset != NULL)
		sink ^= (guint8)strlen(m->charset);
	opm_message_free(m);
	return 0;
}
