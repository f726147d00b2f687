/*
 * NAME
 *	test_pgp - the OpenPGP packet splitter and ASCII armor
 * DESCRIPTION
 *	Hand-built packet sequences in every length encoding of RFC 4880
 *	4.2: what is split and how, and what is refused.  The armor round
 *	trip and its checksum.  (t/fanout.test checks the splitter on real
 *	gpg output.)
 */
#include "config.h"

#include "tutil.h"
#include "pgp.h"

/* A v3 PKESK body: version, key ID, algorithm, some MPI bytes. */
static void
pkesk_body(GByteArray *b, guint8 id)
{
	guint8 v[14] = {3, 0xAA, 0xBB, 0xCC, 0xDD, 0, 0, 0, id, 18, 1, 2, 3, 4};

	g_byte_array_append(b, v, sizeof(v));
}

/* new-format header with a one-octet length */
static void
new_header(GByteArray *b, int tag, guint8 len)
{
	guint8 h[2] = {(guint8)(0xC0 | tag), len};

	g_byte_array_append(b, h, 2);
}

static GBytes *
message(gboolean old_format, gboolean partial_data, int data_tag,
    int recipients)
{
	GByteArray *b = g_byte_array_new();

	for (int r = 0; r < recipients; r++) {
		if (old_format) {
			guint8 h[2] = {0x80 | (1 << 2) | 0, 14};

			g_byte_array_append(b, h, 2);
		} else {
			new_header(b, 1, 14);
		}
		pkesk_body(b, (guint8)(r + 1));
	}
	if (partial_data) {
		/* a 512-octet chunk (0xE9 = 2^9), then a final 3-octet one */
		guint8 h[2] = {(guint8)(0xC0 | data_tag), 0xE9};
		guint8 z[512] = {1};
		guint8 last[4] = {3, 7, 7, 7};

		g_byte_array_append(b, h, 2);
		g_byte_array_append(b, z, sizeof(z));
		g_byte_array_append(b, last, sizeof(last));
	} else {
		guint8 d[5] = {1, 9, 9, 9, 9};

		new_header(b, data_tag, 5);
		g_byte_array_append(b, d, sizeof(d));
	}
	return g_byte_array_free_to_bytes(b);
}

static const struct {
	const char *name;
	gboolean old_format, partial;
	int data_tag, recipients;
	gboolean ok;
} split_cases[] = {
	{"one recipient, new format", FALSE, FALSE, 18, 1, TRUE},
	{"three recipients, old-format PKESKs", TRUE, FALSE, 18, 3, TRUE},
	{"partial body lengths in the data packet", FALSE, TRUE, 18, 2, TRUE},
	{"AEAD data packet", FALSE, FALSE, 20, 2, TRUE},
	{"no integrity protection (tag 9) is refused", FALSE, FALSE, 9, 2, FALSE},
	{"no session key packet is refused", FALSE, FALSE, 18, 0, FALSE},
	{"literal data instead of encrypted data is refused", FALSE, FALSE, 11,
	    1, FALSE},
};

START_TEST(split_shapes)
{
	g_autoptr(GBytes) m = message(split_cases[_i].old_format,
	    split_cases[_i].partial, split_cases[_i].data_tag,
	    split_cases[_i].recipients);
	g_autoptr(GError) error = NULL;
	g_autoptr(OpmPgpSplit) s = opm_pgp_split(m, &error);
	gsize n;
	const guint8 *p = g_bytes_get_data(m, &n);

	if (!split_cases[_i].ok) {
		ck_assert_msg(s == NULL, "%s: got a split, want a refusal",
		    split_cases[_i].name);
		ck_assert(g_error_matches(error, OPM_ERROR, OPM_ERROR_CRYPTO));
		return;
	}
	ck_assert_msg(s != NULL, "%s: got %s, want a split",
	    split_cases[_i].name, error != NULL ? error->message : "NULL");
	ck_assert_uint_eq(s->pkesks->len, (guint)split_cases[_i].recipients);
	for (guint r = 0; r < s->pkesks->len; r++) {
		const OpmPkesk *k = &g_array_index(s->pkesks, OpmPkesk, r);
		g_autofree char *want = g_strdup_printf("AABBCCDD000000%02X", r + 1);
		g_autoptr(GBytes) one = opm_pgp_split_message(s, r);
		gsize on;
		const guint8 *op = g_bytes_get_data(one, &on);

		ck_assert_str_eq(k->keyid, want);
		/* its own PKESK, then the data packet byte for byte */
		ck_assert_uint_eq(on, k->length + (n - s->data_offset));
		ck_assert(memcmp(op, p + k->offset, k->length) == 0);
		ck_assert(memcmp(op + k->length, p + s->data_offset,
		    n - s->data_offset) == 0);
		/* and it splits again into exactly one recipient */
		{
			g_autoptr(OpmPgpSplit) again = opm_pgp_split(one, NULL);

			ck_assert(again != NULL);
			ck_assert_uint_eq(again->pkesks->len, 1);
		}
	}
}
END_TEST

START_TEST(truncated_and_trailing_input_is_refused)
{
	g_autoptr(GBytes) m = message(FALSE, TRUE, 18, 2);
	gsize n;
	const guint8 *p = g_bytes_get_data(m, &n);

	/* every proper prefix: truncated somewhere */
	for (gsize cut = 0; cut < n; cut++) {
		g_autoptr(GBytes) t = g_bytes_new(p, cut);
		g_autoptr(OpmPgpSplit) s = opm_pgp_split(t, NULL);

		ck_assert_msg(s == NULL, "prefix of %zu bytes: got a split", cut);
	}
	/* a byte after the data packet */
	{
		GByteArray *b = g_byte_array_new();
		g_autoptr(GBytes) t = NULL;
		g_autoptr(OpmPgpSplit) s = NULL;

		g_byte_array_append(b, p, (guint)n);
		g_byte_array_append(b, (const guint8 *)"\\xC8", 1);
		t = g_byte_array_free_to_bytes(b);
		s = opm_pgp_split(t, NULL);
		ck_assert_msg(s == NULL, "trailing byte: got a split");
	}
}
END_TEST

START_TEST(armor_round_trip_and_checksum)
{
	g_autoptr(GBytes) m = message(FALSE, TRUE, 18, 3);
	g_autoptr(GBytes) a = opm_pgp_armor(m, "MESSAGE");
	g_autoptr(GBytes) back = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *text = g_strndup(g_bytes_get_data(a, NULL),
	    g_bytes_get_size(a));
	char *crc;

	ck_assert(g_str_has_prefix(text, "-----BEGIN PGP MESSAGE-----\n\n"));
	ck_assert(g_str_has_suffix(text, "-----END PGP MESSAGE-----\n"));
	back = opm_pgp_dearmor(a, "MESSAGE", &error);
	ck_assert_msg(back != NULL, "%s", error != NULL ? error->message : "");
	ck_assert(g_bytes_equal(back, m));
	/* another type is not what was asked for */
	ck_assert(opm_pgp_dearmor(a, "SIGNATURE", NULL) == NULL);
	/* a wrong checksum is refused */
	crc = strstr(text, "\n=") + 2;
	crc[0] = crc[0] == 'A' ? 'B' : 'A';
	{
		g_autoptr(GBytes) bad = g_bytes_new(text, strlen(text));

		ck_assert(opm_pgp_dearmor(bad, "MESSAGE", NULL) == NULL);
	}
}
END_TEST

/* A new-format packet with the shortest length encoding for len. */
static void
packet(GByteArray *b, int tag, const guint8 *body, gsize len)
{
	guint8 h[6] = {(guint8)(0xC0 | tag)};
	guint hl;

	if (len < 192) {
		h[1] = (guint8)len;
		hl = 2;
	} else if (len < 8384) {
		h[1] = (guint8)(((len - 192) >> 8) + 192);
		h[2] = (guint8)((len - 192) & 0xff);
		hl = 3;
	} else {
		h[1] = 0xFF;
		h[2] = (guint8)(len >> 24);
		h[3] = (guint8)(len >> 16);
		h[4] = (guint8)(len >> 8);
		h[5] = (guint8)len;
		hl = 6;
	}
	g_byte_array_append(b, h, hl);
	g_byte_array_append(b, body, (guint)len);
}

/* Each recipient's armored message from the armorer is byte for byte
 * the armor of that recipient's message, whatever the lengths of the
 * session key packets (every remainder modulo an armor line's 48 bytes)
 * and of the shared data packet (over 1 MiB the armorer keeps one
 * variant of the shared lines at a time); with CRLF line ends it is the
 * same text with CRLF; its three pieces make the same message. */
START_TEST(armorer_matches_the_armor_of_each_message)
{
	static const gsize data_lens[] = {1, 2, 5, 30, 47, 48, 49, 100, 191,
	    192, 1000, 8384, 1100000};
	gsize dlen = data_lens[_i];
	GByteArray *b = g_byte_array_new();
	g_autofree guint8 *data = g_malloc(dlen);
	g_autoptr(GBytes) m = NULL;
	g_autoptr(OpmPgpSplit) s = NULL;
	g_autoptr(OpmPgpArmorer) a = NULL;
	g_autoptr(OpmPgpArmorer) crlf = NULL;
	g_autoptr(GError) error = NULL;

	for (int r = 0; r < 60; r++) {
		/* version, key ID, ECDH, then r + 5 bytes of "MPI" */
		guint8 body[80] = {3, 0x11, 0x22, 0x33, 0x44, 0, 0,
		    (guint8)(r >> 8), (guint8)r, 18};

		for (int k = 10; k < 10 + r + 5; k++)
			body[k] = (guint8)(k * 7 + r);
		packet(b, 1, body, 10 + (gsize)r + 5);
	}
	data[0] = 1; /* SEIPD version */
	for (gsize k = 1; k < dlen; k++)
		data[k] = (guint8)(k * 31 + (k >> 8));
	packet(b, 18, data, dlen);
	m = g_byte_array_free_to_bytes(b);
	s = opm_pgp_split(m, &error);
	ck_assert_msg(s != NULL, "split: %s", error != NULL ? error->message :
	    "");
	ck_assert_uint_eq(s->pkesks->len, 60);
	a = opm_pgp_armorer_new(s, "MESSAGE", FALSE);
	crlf = opm_pgp_armorer_new(s, "MESSAGE", TRUE);
	g_clear_pointer(&s, opm_pgp_split_free); /* the armorers need m only */
	s = opm_pgp_split(m, &error);
	/* twice: the second round uses the lines made in the first */
	for (int round = 0; round < 2; round++)
		for (guint i = 0; i < s->pkesks->len; i++) {
			g_autoptr(GBytes) one = opm_pgp_split_message(s, i);
			g_autoptr(GBytes) want = opm_pgp_armor(one, "MESSAGE");
			g_autoptr(GBytes) got = opm_pgp_armorer_message(a, i);
			g_autoptr(GBytes) got_crlf = opm_pgp_armorer_message(crlf,
			    i);
			gsize wl;
			const char *w = g_bytes_get_data(want, &wl);
			g_autoptr(GString) wc = g_string_sized_new(wl + wl / 32);
			g_autoptr(GBytes) want_crlf = NULL;
			GBytes *piece[3];
			gsize off = 0;

			ck_assert_msg(g_bytes_equal(got, want), "data packet of "
			    "%zu bytes, recipient %u (round %d): got armor that "
			    "differs from the message's own", dlen, i, round);
			for (gsize j = 0; j < wl; j++) {
				if (w[j] == '\n')
					g_string_append_c(wc, '\r');
				g_string_append_c(wc, w[j]);
			}
			want_crlf = g_bytes_new(wc->str, wc->len);
			ck_assert_msg(g_bytes_equal(got_crlf, want_crlf), "data "
			    "packet of %zu bytes, recipient %u: got CRLF armor "
			    "that is not the LF armor with CRLF", dlen, i);
			opm_pgp_armorer_pieces(a, i, piece);
			for (int p = 0; p < 3; p++) {
				gsize pl;
				const char *pd;

				if (piece[p] == NULL)
					continue;
				pd = g_bytes_get_data(piece[p], &pl);
				ck_assert_msg(off + pl <= wl &&
				    memcmp(w + off, pd, pl) == 0, "data packet "
				    "of %zu bytes, recipient %u: piece %d differs",
				    dlen, i, p);
				off += pl;
				g_bytes_unref(piece[p]);
			}
			ck_assert_msg(off == wl, "pieces of %zu bytes, want %zu",
			    off, wl);
		}
}
END_TEST

/* Two made-up signature packets, as the signature part carries them. */
static GBytes *
two_signatures(void)
{
	GByteArray *b = g_byte_array_new();
	guint8 body[40];

	for (gsize k = 0; k < sizeof(body); k++)
		body[k] = (guint8)(k * 13 + 4);
	packet(b, 2, body, sizeof(body));
	packet(b, 2, body, 20);
	return g_byte_array_free_to_bytes(b);
}

/* Insert add after the first line of text starting with after.
 * (transfer full) */
static char *
insert_after(const char *text, const char *after, const char *add)
{
	const char *p = strstr(text, after);
	const char *nl = p != NULL ? strchr(p + 1, '\n') : NULL;

	ck_assert(nl != NULL);
	return g_strdup_printf("%.*s%s%s", (int)(nl + 1 - text), text, add,
	    nl + 1);
}

/* A signature holds at most OPM_PGP_MAX_SIGNATURES packets: each one is
 * verified and carried in every copy, so one signature repeated
 * thousands of times is refused before gpg runs. */
START_TEST(signature_packets_are_bounded)
{
	static const guint counts[] = {1, OPM_PGP_MAX_SIGNATURES,
	    OPM_PGP_MAX_SIGNATURES + 1, 20000};

	for (gsize c = 0; c < G_N_ELEMENTS(counts); c++) {
		GByteArray *b = g_byte_array_new();
		guint8 body[40];
		g_autoptr(GBytes) sigs = NULL;
		g_autoptr(GBytes) am = NULL;
		g_autoptr(GBytes) got = NULL;
		g_autoptr(GError) error = NULL;
		gboolean want = counts[c] <= OPM_PGP_MAX_SIGNATURES;

		for (gsize k = 0; k < sizeof(body); k++)
			body[k] = (guint8)(k * 13 + 4);
		for (guint k = 0; k < counts[c]; k++)
			packet(b, 2, body, sizeof(body));
		sigs = g_byte_array_free_to_bytes(b);
		am = opm_pgp_armor(sigs, "SIGNATURE");
		got = opm_pgp_signatures(am, &error);
		ck_assert_msg((got != NULL) == want, "%u signature packets: "
		    "got %s, want %s", counts[c], got != NULL ? "them" :
		    error->message, want ? "them" : "a refusal");
		if (!want)
			ck_assert_msg(strstr(error->message, "more than") != NULL,
			    "%u signature packets: got \"%s\", want the bound "
			    "in words", counts[c], error->message);
	}
}
END_TEST

/* What gpg skips in a signature's armor is not read: armor headers,
 * text before and after, lines between the checksum and END; another
 * packet than a signature, or none, is refused. */
START_TEST(signature_packets_alone)
{
	g_autoptr(GBytes) sigs = two_signatures();
	g_autoptr(GBytes) a = opm_pgp_armor(sigs, "SIGNATURE");
	g_autofree char *text = g_strndup(g_bytes_get_data(a, NULL),
	    g_bytes_get_size(a));
	g_autofree char *h = insert_after(text, "-----BEGIN",
	    "Comment: nobody signed this\n");
	g_autofree char *c = insert_after(h, "\n=", "nor this\n");
	g_autofree char *all = g_strdup_printf("before\n%safter\n", c);
	g_autoptr(GBytes) in = g_bytes_new(all, strlen(all));
	g_autoptr(GBytes) got = NULL;
	g_autoptr(GError) error = NULL;
	GByteArray *b = g_byte_array_new();
	g_autoptr(GBytes) mixed = NULL;
	static const guint8 lit[] = {'b', 0, 0, 0, 0, 0, 'x'};

	got = opm_pgp_signatures(in, &error);
	ck_assert_msg(got != NULL, "%s", error != NULL ? error->message : "");
	ck_assert_msg(g_bytes_equal(got, sigs), "got %zu bytes, want the %zu "
	    "of the two signature packets", g_bytes_get_size(got),
	    g_bytes_get_size(sigs));
	/* binary as well */
	g_clear_pointer(&got, g_bytes_unref);
	ck_assert((got = opm_pgp_signatures(sigs, NULL)) != NULL);
	ck_assert(g_bytes_equal(got, sigs));
	/* a literal data packet after the signatures is refused */
	g_byte_array_append(b, g_bytes_get_data(sigs, NULL),
	    (guint)g_bytes_get_size(sigs));
	packet(b, 11, lit, sizeof(lit));
	mixed = g_byte_array_free_to_bytes(b);
	ck_assert(opm_pgp_signatures(mixed, NULL) == NULL);
	{
		g_autoptr(GBytes) am = opm_pgp_armor(mixed, "SIGNATURE");

		ck_assert(opm_pgp_signatures(am, NULL) == NULL);
	}
}
END_TEST

static const struct {
	const char *name;
	const char *text;  /* before the signature's armor */
	const char *want;  /* NULL: refused */
} clearsigned[] = {
	{"as gpg writes it",
	    "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n"
	    "Hello\n- -dash\n",
	    "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n"
	    "Hello\n- -dash\n"},
	{"white space around, CRLF, trailing blanks",
	    "\r\n  \r\n-----BEGIN PGP SIGNED MESSAGE-----  \r\n"
	    "Hash:  SHA512\r\n\r\nHello  \r\nworld\t\r\n\r\n",
	    "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n"
	    "Hello\nworld\n\n"},
	{"needless dash-escapes undone, needed ones made",
	    "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n"
	    "- Hello\n- From me\nFrom you\n",
	    "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n"
	    "Hello\n- From me\n- From you\n"},
	{"not dash-escaped",
	    "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n"
	    "NotDashEscaped: yes\n\n- item\n",
	    "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n"
	    "- - item\n"},
	{"another armor header",
	    "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n"
	    "Comment: nobody signed this\n\nHello\n", NULL},
	{"text before the block",
	    "Hi\n-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n"
	    "Hello\n", NULL},
};

/* A clear-signed block is rebuilt from what its signature covers. */
START_TEST(clearsigned_rebuilt)
{
	g_autoptr(GBytes) sigs = two_signatures();
	g_autoptr(GBytes) a = opm_pgp_armor(sigs, "SIGNATURE");
	g_autofree char *armor = g_strndup(g_bytes_get_data(a, NULL),
	    g_bytes_get_size(a));
	g_autofree char *sent_armor = insert_after(armor, "\n=",
	    "nobody signed this\n");
	g_autofree char *sent = g_strdup_printf("%s%s\n\n",
	    clearsigned[_i].text, sent_armor);
	g_autoptr(GBytes) in = g_bytes_new(sent, strlen(sent));
	g_autoptr(GBytes) got = opm_pgp_clearsigned(in, NULL);
	g_autofree char *want = clearsigned[_i].want != NULL ?
	    g_strconcat(clearsigned[_i].want, armor, NULL) : NULL;
	g_autofree char *got_s = got != NULL ? g_strndup(
	    g_bytes_get_data(got, NULL), g_bytes_get_size(got)) : NULL;

	if (want == NULL)
		ck_assert_msg(got == NULL, "%s: got \"%s\", want a refusal",
		    clearsigned[_i].name, got_s);
	else
		ck_assert_msg(got != NULL && strcmp(got_s, want) == 0,
		    "%s: got \"%s\", want \"%s\"", clearsigned[_i].name,
		    got_s != NULL ? got_s : "(refused)", want);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("pgp");
	TCase *tc = tcase_create("pgp");

	/* the 1.1 MB case armors 60 copies: seconds under AddressSanitizer
	 * on a loaded machine, past Check's default of four */
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, split_shapes, 0, G_N_ELEMENTS(split_cases));
	tcase_add_test(tc, truncated_and_trailing_input_is_refused);
	tcase_add_test(tc, armor_round_trip_and_checksum);
	tcase_add_loop_test(tc, armorer_matches_the_armor_of_each_message, 0,
	    13);
	tcase_add_test(tc, signature_packets_alone);
	tcase_add_test(tc, signature_packets_are_bounded);
	tcase_add_loop_test(tc, clearsigned_rebuilt, 0,
	    G_N_ELEMENTS(clearsigned));
	suite_add_tcase(s, tc);
	return tu_run(s);
}
