/*
 * NAME
 *	fuzz_pgp - libFuzzer harness for the OpenPGP packet splitter and
 *	ASCII armor (lib/pgp.c)
 * SYNOPSIS
 *	make fuzz                      # builds, seeds and runs both harnesses
 *	t/fuzz/fuzz_pgp [LIBFUZZER-OPTION...] CORPUS-DIR...
 * DESCRIPTION
 *	Every input is used four ways:
 *
 *	1. as a binary OpenPGP message: opm_pgp_split(), then
 *	   opm_pgp_split_message() for every PKESK, each of which must be
 *	   exactly that PKESK's bytes followed by the encrypted data packet's,
 *	   and whose armor from opm_pgp_armorer_message() must be exactly
 *	   opm_pgp_armor() of it;
 *	2. as a sequence of packets read with opm_pgp_packet_header(), which
 *	   must never move past the end of the input;
 *	3. opm_pgp_armor() then opm_pgp_dearmor(), which must give back the
 *	   same bytes;
 *	4. as text: opm_pgp_dearmor() of a PGP MESSAGE and of any type, and
 *	   what it decodes is split as in 1, the way the fan-out reads what
 *	   gpg wrote.
 *
 *	A broken promise calls abort(), so that libFuzzer keeps the input.
 *
 *	Built with clang -fsanitize=fuzzer,address,undefined; lib/pgp.c,
 *	lib/util.c and lib/mime.c are compiled into the harness with the same
 *	flags (see the fuzz block of Makefile.am).  A GLib critical or an
 *	invalid cast aborts.  Run with G_SLICE=always-malloc.  The seed corpus
 *	(binary messages encrypted to several recipients, signed or not, and
 *	armored ones) comes from t/fuzz/seeds.sh.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "pgp.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Split message and check every recipient's copy against it. */
static void
split(GBytes *message)
{
	GError *error = NULL;
	OpmPgpSplit *s = opm_pgp_split(message, &error);
	OpmPgpArmorer *armorer;
	gsize n;
	const guint8 *p = g_bytes_get_data(message, &n);

	if (s == NULL) {
		if (error == NULL || error->domain != OPM_ERROR)
			abort();
		g_error_free(error);
		return;
	}
	if (s->pkesks->len == 0 || s->data_offset >= n)
		abort();
	armorer = opm_pgp_armorer_new(s, "MESSAGE", FALSE);
	for (guint i = 0; i < s->pkesks->len; i++) {
		const OpmPkesk *k = &g_array_index(s->pkesks, OpmPkesk, i);
		GBytes *copy = opm_pgp_split_message(s, i);
		gsize cn;
		const guint8 *c = g_bytes_get_data(copy, &cn);
		GBytes *want = opm_pgp_armor(copy, "MESSAGE");
		GBytes *got = opm_pgp_armorer_message(armorer, i);

		/* the shared armor is the armor of the copy, byte for byte */
		if (!g_bytes_equal(got, want))
			abort();
		g_bytes_unref(got);
		g_bytes_unref(want);

		if (k->length == 0 || k->offset + k->length > s->data_offset ||
		    strlen(k->keyid) != 16 ||
		    cn != k->length + (n - s->data_offset) ||
		    memcmp(c, p + k->offset, k->length) != 0 ||
		    memcmp(c + k->length, p + s->data_offset,
			n - s->data_offset) != 0)
			abort();
		g_bytes_unref(copy);
	}
	opm_pgp_armorer_free(armorer);
	opm_pgp_split_free(s);
}

/* Walk the packet headers of p as far as they go. */
static void
walk(const guint8 *p, gsize n)
{
	gsize i = 0;

	while (i < n) {
		gsize at = i, len;
		gboolean open;
		int tag;

		if (!opm_pgp_packet_header(p, n, &i, &tag, &len, &open))
			return;
		if (i <= at || i > n || tag < 0 || tag > 63)
			abort();
		if (open || len > n - i)
			return;
		i += len;
	}
}

/* Dearmor text as a block of type, and split what comes out. */
static void
dearmor(GBytes *text, const char *type)
{
	GError *error = NULL;
	GBytes *bin = opm_pgp_dearmor(text, type, &error);

	if (bin == NULL) {
		if (error == NULL || error->domain != OPM_ERROR)
			abort();
		g_error_free(error);
		return;
	}
	split(bin);
	g_bytes_unref(bin);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	g_log_set_default_handler(fuzz_log_handler, NULL);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	GBytes *in = g_bytes_new(data, size);
	GBytes *armored, *back;
	GError *error = NULL;

	split(in);
	walk(data, size);

	armored = opm_pgp_armor(in, "MESSAGE");
	back = opm_pgp_dearmor(armored, "MESSAGE", &error);
	if (back == NULL || !g_bytes_equal(back, in))
		abort();
	g_bytes_unref(back);
	g_bytes_unref(armored);

	dearmor(in, "MESSAGE");
	dearmor(in, NULL);
	g_bytes_unref(in);
	return 0;
}
