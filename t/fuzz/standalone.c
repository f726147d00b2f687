/*
 * NAME
 *	standalone - run a fuzz harness over files, without libFuzzer
 * SYNOPSIS
 *	t/fuzz/run_mime FILE...
 *	t/fuzz/run_pgp FILE...
 * DESCRIPTION
 *	Linked with one harness (t/fuzz/fuzz_mime.c or t/fuzz/fuzz_pgp.c)
 *	and the normal build of lib/, this calls LLVMFuzzerInitialize() once
 *	and LLVMFuzzerTestOneInput() once per file, in order, as libFuzzer
 *	does when it is handed files instead of a corpus directory.
 *	t/fuzz-regress.test uses it to replay t/regress/ with the compiler
 *	and flags of the normal build.  It names each file on standard error
 *	before running it, so that a crash says which input did it.
 * DIAGNOSTICS
 *	Exit status 0 when every input ran, EX_USAGE without arguments,
 *	EX_NOINPUT when a file cannot be read; a harness that finds a broken
 *	promise aborts.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <sysexits.h>

#include <glib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE...\n", argv[0]);
		return EX_USAGE;
	}
	LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		g_autofree char *data = NULL;
		g_autoptr(GError) error = NULL;
		gsize n;

		if (!g_file_get_contents(argv[i], &data, &n, &error)) {
			fprintf(stderr, "%s: %s\n", argv[0], error->message);
			return EX_NOINPUT;
		}
		fprintf(stderr, "%s: %s\n", argv[0], argv[i]);
		LLVMFuzzerTestOneInput((const uint8_t *)data, n);
	}
	return 0;
}
