/*
 * NAME
 *	pgp - OpenPGP message splitting and ASCII armor
 * SYNOPSIS
 *	opm_pgp_armorer_pieces(), opm_pgp_armorer_variant(),
 *	opm_pgp_split(), opm_pgp_split_message(), opm_pgp_split_free(),
 *	opm_pgp_armor(), opm_pgp_armorer_new(), opm_pgp_armorer_message(),
 *	opm_pgp_armorer_free(), opm_pgp_dearmor(), opm_pgp_signatures(),
 *	opm_pgp_clearsigned()
 * DESCRIPTION
 *	Reads packet headers only (RFC 4880 section 4.2, old and new
 *	formats, partial body lengths); never looks inside the encrypted
 *	data.  Every length is checked against what is left of the input.
 *
 *	A signature that travels on in the copies is rebuilt from its
 *	packets (opm_pgp_signatures()), and a clear-signed text from its
 *	parts (opm_pgp_clearsigned()): whatever gpg would skip in the
 *	armor as sent (armor headers, lines after the checksum, text around
 *	the block, trailing white space, needless dash-escapes) is left
 *	out, so that the copy holds only what the signature covers.
 * DIAGNOSTICS
 *	OPM_ERROR_CRYPTO for input that is not exactly what it should be.
 */
#include "config.h"

#include <string.h>

#include "pgp.h"

enum {
	TAG_PKESK = 1,
	TAG_SED = 9,
	TAG_SEIPD = 18,
	TAG_AEAD = 20,
};

void
opm_pgp_split_free(OpmPgpSplit *s)
{
	if (s == NULL)
		return;
	g_clear_pointer(&s->message, g_bytes_unref);
	g_clear_pointer(&s->pkesks, g_array_unref);
	g_free(s);
}

/* A new-format body length at p[*i] (RFC 4880 4.2.2).  *partial: it is
 * the length of one chunk of a partial body. */
static gboolean
new_length(const guint8 *p, gsize n, gsize *i, gsize *len, gboolean *partial)
{
	gsize k = *i;

	*partial = FALSE;
	if (k >= n)
		return FALSE;
	if (p[k] < 192) {
		*len = p[k++];
	} else if (p[k] < 224) {
		if (k + 1 >= n)
			return FALSE;
		*len = ((gsize)(p[k] - 192) << 8) + p[k + 1] + 192;
		k += 2;
	} else if (p[k] == 255) {
		if (k + 4 >= n)
			return FALSE;
		*len = ((gsize)p[k + 1] << 24) | ((gsize)p[k + 2] << 16) |
		    ((gsize)p[k + 3] << 8) | p[k + 4];
		k += 5;
	} else {
		*len = (gsize)1 << (p[k++] & 0x1f);
		*partial = TRUE;
	}
	*i = k;
	return TRUE;
}

gboolean
opm_pgp_packet_header(const guint8 *p, gsize n, gsize *i, int *tag,
    gsize *len, gboolean *open_length)
{
	gsize k = *i;
	guint8 ctb;

	if (k >= n || !((ctb = p[k++]) & 0x80))
		return FALSE;
	*open_length = FALSE;
	if (ctb & 0x40) {
		*tag = ctb & 0x3f;
		if (!new_length(p, n, &k, len, open_length))
			return FALSE;
	} else {
		int lt = ctb & 3;
		gsize bytes = lt == 0 ? 1 : lt == 1 ? 2 : lt == 2 ? 4 : 0;

		*tag = (ctb >> 2) & 0x0f;
		*len = 0;
		if (k + bytes > n)
			return FALSE;
		for (gsize b = 0; b < bytes; b++)
			*len = (*len << 8) | p[k++];
		if (lt == 3) {
			*len = n - k;
			*open_length = TRUE;
		}
	}
	*i = k;
	return TRUE;
}

/*
 * Walk the whole packet at p[*off]: *off moves past it, *tag and
 * *body_len (all chunks of a partial body added up) are set.
 */
static gboolean
packet(const guint8 *p, gsize n, gsize *off, int *tag, gsize *body_len,
    gboolean *partial)
{
	gsize i = *off, len;
	gboolean open;

	if (!opm_pgp_packet_header(p, n, &i, tag, &len, &open))
		return FALSE;
	*partial = open && (p[*off] & 0x40);
	*body_len = 0;
	for (;;) {
		if (len > n - i)
			return FALSE;
		*body_len += len;
		i += len;
		if (!open || !*partial)
			break;
		/* the next chunk's length */
		if (!new_length(p, n, &i, &len, &open))
			return FALSE;
	}
	*off = i;
	return TRUE;
}

OpmPgpSplit *
opm_pgp_split(GBytes *message, GError **error)
{
	g_autoptr(OpmPgpSplit) s = g_new0(OpmPgpSplit, 1);
	gsize n, off = 0;
	const guint8 *p = g_bytes_get_data(message, &n);

	s->message = g_bytes_ref(message);
	s->pkesks = g_array_new(FALSE, TRUE, sizeof(OpmPkesk));
	while (off < n) {
		gsize start = off, blen, body;
		gboolean partial;
		int tag;

		if (!packet(p, n, &off, &tag, &blen, &partial)) {
			g_set_error(error, OPM_ERROR, OPM_ERROR_CRYPTO,
			    "malformed OpenPGP packet at offset %" G_GSIZE_FORMAT,
			    start);
			return NULL;
		}
		if (tag == TAG_PKESK) {
			OpmPkesk k = {0};

			body = off - blen;
			if (partial || blen < 10 || p[body] != 3) {
				g_set_error(error, OPM_ERROR, OPM_ERROR_CRYPTO,
				    "unsupported session key packet at offset %"
				    G_GSIZE_FORMAT, start);
				return NULL;
			}
			for (int i = 0; i < 8; i++)
				g_snprintf(k.keyid + 2 * i, 3, "%02X", p[body + 1 + i]);
			k.offset = start;
			k.length = off - start;
			g_array_append_val(s->pkesks, k);
			continue;
		}
		if ((tag == TAG_SEIPD || tag == TAG_AEAD) && off == n &&
		    s->pkesks->len > 0) {
			s->data_offset = start;
			return g_steal_pointer(&s);
		}
		g_set_error(error, OPM_ERROR, OPM_ERROR_CRYPTO,
		    "unexpected OpenPGP packet (tag %d) at offset %" G_GSIZE_FORMAT
		    "%s", tag, start, tag == TAG_SED ?
		    ": encrypted data without integrity protection" : "");
		return NULL;
	}
	g_set_error(error, OPM_ERROR, OPM_ERROR_CRYPTO,
	    "no encrypted data packet");
	return NULL;
}

GBytes *
opm_pgp_split_message(OpmPgpSplit *s, guint i)
{
	const OpmPkesk *k = &g_array_index(s->pkesks, OpmPkesk, i);
	gsize n;
	const guint8 *p = g_bytes_get_data(s->message, &n);
	GByteArray *out = g_byte_array_sized_new((guint)(k->length + n -
	    s->data_offset));

	g_byte_array_append(out, p + k->offset, (guint)k->length);
	g_byte_array_append(out, p + s->data_offset,
	    (guint)(n - s->data_offset));
	return g_byte_array_free_to_bytes(out);
}

/* RFC 4880 6.1's CRC-24 (generator 0x864CFB), one byte at a time: entry
 * b is the register after shifting b through it from zero. */
static const guint32 crc24_table[256] = {
	0x000000, 0x864cfb, 0x8ad50d, 0x0c99f6, 0x93e6e1, 0x15aa1a,
	0x1933ec, 0x9f7f17, 0xa18139, 0x27cdc2, 0x2b5434, 0xad18cf,
	0x3267d8, 0xb42b23, 0xb8b2d5, 0x3efe2e, 0xc54e89, 0x430272,
	0x4f9b84, 0xc9d77f, 0x56a868, 0xd0e493, 0xdc7d65, 0x5a319e,
	0x64cfb0, 0xe2834b, 0xee1abd, 0x685646, 0xf72951, 0x7165aa,
	0x7dfc5c, 0xfbb0a7, 0x0cd1e9, 0x8a9d12, 0x8604e4, 0x00481f,
	0x9f3708, 0x197bf3, 0x15e205, 0x93aefe, 0xad50d0, 0x2b1c2b,
	0x2785dd, 0xa1c926, 0x3eb631, 0xb8faca, 0xb4633c, 0x322fc7,
	0xc99f60, 0x4fd39b, 0x434a6d, 0xc50696, 0x5a7981, 0xdc357a,
	0xd0ac8c, 0x56e077, 0x681e59, 0xee52a2, 0xe2cb54, 0x6487af,
	0xfbf8b8, 0x7db443, 0x712db5, 0xf7614e, 0x19a3d2, 0x9fef29,
	0x9376df, 0x153a24, 0x8a4533, 0x0c09c8, 0x00903e, 0x86dcc5,
	0xb822eb, 0x3e6e10, 0x32f7e6, 0xb4bb1d, 0x2bc40a, 0xad88f1,
	0xa11107, 0x275dfc, 0xdced5b, 0x5aa1a0, 0x563856, 0xd074ad,
	0x4f0bba, 0xc94741, 0xc5deb7, 0x43924c, 0x7d6c62, 0xfb2099,
	0xf7b96f, 0x71f594, 0xee8a83, 0x68c678, 0x645f8e, 0xe21375,
	0x15723b, 0x933ec0, 0x9fa736, 0x19ebcd, 0x8694da, 0x00d821,
	0x0c41d7, 0x8a0d2c, 0xb4f302, 0x32bff9, 0x3e260f, 0xb86af4,
	0x2715e3, 0xa15918, 0xadc0ee, 0x2b8c15, 0xd03cb2, 0x567049,
	0x5ae9bf, 0xdca544, 0x43da53, 0xc596a8, 0xc90f5e, 0x4f43a5,
	0x71bd8b, 0xf7f170, 0xfb6886, 0x7d247d, 0xe25b6a, 0x641791,
	0x688e67, 0xeec29c, 0x3347a4, 0xb50b5f, 0xb992a9, 0x3fde52,
	0xa0a145, 0x26edbe, 0x2a7448, 0xac38b3, 0x92c69d, 0x148a66,
	0x181390, 0x9e5f6b, 0x01207c, 0x876c87, 0x8bf571, 0x0db98a,
	0xf6092d, 0x7045d6, 0x7cdc20, 0xfa90db, 0x65efcc, 0xe3a337,
	0xef3ac1, 0x69763a, 0x578814, 0xd1c4ef, 0xdd5d19, 0x5b11e2,
	0xc46ef5, 0x42220e, 0x4ebbf8, 0xc8f703, 0x3f964d, 0xb9dab6,
	0xb54340, 0x330fbb, 0xac70ac, 0x2a3c57, 0x26a5a1, 0xa0e95a,
	0x9e1774, 0x185b8f, 0x14c279, 0x928e82, 0x0df195, 0x8bbd6e,
	0x872498, 0x016863, 0xfad8c4, 0x7c943f, 0x700dc9, 0xf64132,
	0x693e25, 0xef72de, 0xe3eb28, 0x65a7d3, 0x5b59fd, 0xdd1506,
	0xd18cf0, 0x57c00b, 0xc8bf1c, 0x4ef3e7, 0x426a11, 0xc426ea,
	0x2ae476, 0xaca88d, 0xa0317b, 0x267d80, 0xb90297, 0x3f4e6c,
	0x33d79a, 0xb59b61, 0x8b654f, 0x0d29b4, 0x01b042, 0x87fcb9,
	0x1883ae, 0x9ecf55, 0x9256a3, 0x141a58, 0xefaaff, 0x69e604,
	0x657ff2, 0xe33309, 0x7c4c1e, 0xfa00e5, 0xf69913, 0x70d5e8,
	0x4e2bc6, 0xc8673d, 0xc4fecb, 0x42b230, 0xddcd27, 0x5b81dc,
	0x57182a, 0xd154d1, 0x26359f, 0xa07964, 0xace092, 0x2aac69,
	0xb5d37e, 0x339f85, 0x3f0673, 0xb94a88, 0x87b4a6, 0x01f85d,
	0x0d61ab, 0x8b2d50, 0x145247, 0x921ebc, 0x9e874a, 0x18cbb1,
	0xe37b16, 0x6537ed, 0x69ae1b, 0xefe2e0, 0x709df7, 0xf6d10c,
	0xfa48fa, 0x7c0401, 0x42fa2f, 0xc4b6d4, 0xc82f22, 0x4e63d9,
	0xd11cce, 0x575035, 0x5bc9c3, 0xdd8538,
};

#define CRC24_INIT 0xB704CEu
#define CRC24_POLY 0x1864CFBu

/* The CRC register after the n bytes at p, starting from crc. */
static guint32
crc24_update(guint32 crc, const guint8 *p, gsize n)
{
	for (gsize i = 0; i < n; i++)
		crc = ((crc << 8) ^ crc24_table[((crc >> 16) ^ p[i]) & 0xff]) &
		    0xFFFFFFu;
	return crc;
}

static guint32
crc24(const guint8 *p, gsize n)
{
	return crc24_update(CRC24_INIT, p, n);
}

/* a * b modulo the CRC-24 generator, as polynomials over GF(2). */
static guint32
crc24_mul(guint32 a, guint32 b)
{
	guint32 r = 0;

	for (int i = 23; i >= 0; i--) {
		r <<= 1;
		if (r & 0x1000000u)
			r ^= CRC24_POLY;
		if ((b >> i) & 1)
			r ^= a;
	}
	return r;
}

/* x^(8n) modulo the generator: what n zero bytes do to the register. */
static guint32
crc24_shift(gsize n)
{
	guint32 r = 1, base = 0x100; /* x^8 */

	for (; n > 0; n >>= 1) {
		if (n & 1)
			r = crc24_mul(r, base);
		base = crc24_mul(base, base);
	}
	return r;
}

/* Append the base64 of the n bytes at p in lines of 64 characters, each
 * ended by eol, a few lines at a time so that no second copy of a large
 * input is made. */
#define B64_CHUNK (48 * 1024) /* bytes: whole lines */

static void
append_base64_lines(GString *out, const guint8 *p, gsize n, const char *eol)
{
	char b64[B64_CHUNK / 3 * 4 + 8];
	gsize el = strlen(eol);

	for (gsize off = 0; off < n; off += B64_CHUNK) {
		gsize take = MIN(B64_CHUNK, n - off), len;
		int state = 0, save = 0;

		len = g_base64_encode_step(p + off, take, FALSE, b64, &state,
		    &save);
		len += g_base64_encode_close(FALSE, b64 + len, &state, &save);
		for (gsize i = 0; i < len; i += 64) {
			g_string_append_len(out, b64 + i,
			    (gssize)MIN(64, len - i));
			g_string_append_len(out, eol, (gssize)el);
		}
	}
}

static void
append_armor_tail(GString *out, guint32 crc, const char *type,
    const char *eol)
{
	guint8 c[3] = {(guint8)(crc >> 16), (guint8)(crc >> 8), (guint8)crc};
	g_autofree char *cb64 = g_base64_encode(c, 3);

	g_string_append_printf(out, "=%s%s-----END PGP %s-----%s", cb64, eol,
	    type, eol);
}

GBytes *
opm_pgp_armor(GBytes *binary, const char *type)
{
	gsize n;
	const guint8 *p = g_bytes_get_data(binary, &n);
	GString *out = g_string_sized_new(n / 3 * 4 + n / 48 + 128);

	g_string_append_printf(out, "-----BEGIN PGP %s-----\n\n", type);
	append_base64_lines(out, p, n, "\n");
	append_armor_tail(out, crc24(p, n), type, "\n");
	return g_string_free_to_bytes(out);
}

/*
 * Every message of a split is PKESK_i followed by the shared data packet
 * D.  An armor line holds 48 bytes, so once the bytes before some offset
 * s of D fill whole lines, the lines for D[s..] are the same for every
 * PKESK of that length modulo 48: they are made once per such length and
 * copied.  The checksum of PKESK_i || D is the register after PKESK_i
 * shifted through |D| zero bytes, plus the checksum of D from zero (the
 * CRC is linear), so D is read once per post.
 */
#define ARMOR_LINE 48 /* bytes */
/* Shared data larger than this keeps the lines of one offset only: the
 * members whose PKESK lengths differ modulo 48 (RSA keys: a byte more or
 * less) are best served in turn, grouped by opm_pgp_armorer_variant(). */
#define ARMOR_CACHE_ONE (1024 * 1024)

struct _OpmPgpArmorer {
	GBytes *message;    /* the split's message, referenced */
	GArray *pkesks;     /* OpmPkesk, copied */
	char *type;
	const char *eol;    /* "\n" or "\r\n" */
	const guint8 *data; /* D, inside message */
	gsize n;
	guint32 data_crc;   /* of D, from a zero register */
	guint32 shift;      /* x^(8|D|) */
	GBytes *lines[ARMOR_LINE]; /* [s]: the lines for D[s..], or NULL */
};

OpmPgpArmorer *
opm_pgp_armorer_new(OpmPgpSplit *s, const char *type, gboolean crlf)
{
	OpmPgpArmorer *a = g_new0(OpmPgpArmorer, 1);
	gsize total;
	const guint8 *p = g_bytes_get_data(s->message, &total);

	a->message = g_bytes_ref(s->message);
	a->pkesks = g_array_copy(s->pkesks);
	a->type = g_strdup(type);
	a->eol = crlf ? "\r\n" : "\n";
	a->data = p + s->data_offset;
	a->n = total - s->data_offset;
	a->data_crc = crc24_update(0, a->data, a->n);
	a->shift = crc24_shift(a->n);
	return a;
}

void
opm_pgp_armorer_free(OpmPgpArmorer *a)
{
	if (a == NULL)
		return;
	for (int i = 0; i < ARMOR_LINE; i++)
		g_clear_pointer(&a->lines[i], g_bytes_unref);
	g_bytes_unref(a->message);
	g_array_unref(a->pkesks);
	g_free(a->type);
	g_free(a);
}

guint
opm_pgp_armorer_variant(OpmPgpArmorer *a, guint i)
{
	const OpmPkesk *k = &g_array_index(a->pkesks, OpmPkesk, i);

	return (guint)((ARMOR_LINE - k->length % ARMOR_LINE) % ARMOR_LINE);
}

void
opm_pgp_armorer_pieces(OpmPgpArmorer *a, guint i, GBytes *piece[3])
{
	const OpmPkesk *k = &g_array_index(a->pkesks, OpmPkesk, i);
	const guint8 *pk = (const guint8 *)g_bytes_get_data(a->message,
	    NULL) + k->offset;
	gsize s = opm_pgp_armorer_variant(a, i);
	GString *out = g_string_new(NULL);
	guint32 crc = crc24_update(CRC24_INIT, pk, k->length);

	g_string_append_printf(out, "-----BEGIN PGP %s-----%s%s", a->type,
	    a->eol, a->eol);
	piece[1] = NULL;
	if (s > a->n) {
		/* too short to share a line: the whole message here */
		g_autofree guint8 *m = g_malloc(k->length + a->n);

		memcpy(m, pk, k->length);
		memcpy(m + k->length, a->data, a->n);
		append_base64_lines(out, m, k->length + a->n, a->eol);
	} else {
		g_autofree guint8 *head = g_malloc(k->length + s);

		memcpy(head, pk, k->length);
		memcpy(head + k->length, a->data, s);
		append_base64_lines(out, head, k->length + s, a->eol);
		if (a->lines[s] == NULL) {
			GString *l = g_string_sized_new((a->n - s) / 3 * 4 +
			    (a->n - s) / 48 * strlen(a->eol) + 8);

			if (a->n > ARMOR_CACHE_ONE)
				for (int v = 0; v < ARMOR_LINE; v++)
					g_clear_pointer(&a->lines[v],
					    g_bytes_unref);
			append_base64_lines(l, a->data + s, a->n - s, a->eol);
			a->lines[s] = g_string_free_to_bytes(l);
		}
		piece[1] = g_bytes_ref(a->lines[s]);
	}
	piece[0] = g_string_free_to_bytes(out);
	out = g_string_new(NULL);
	append_armor_tail(out, crc24_mul(crc, a->shift) ^ a->data_crc,
	    a->type, a->eol);
	piece[2] = g_string_free_to_bytes(out);
}

GBytes *
opm_pgp_armorer_message(OpmPgpArmorer *a, guint i)
{
	GBytes *piece[3];
	GString *out;
	gsize total = 0;

	opm_pgp_armorer_pieces(a, i, piece);
	for (int p = 0; p < 3; p++)
		total += piece[p] != NULL ? g_bytes_get_size(piece[p]) : 0;
	out = g_string_sized_new(total);
	for (int p = 0; p < 3; p++) {
		gsize n;
		const char *d;

		if (piece[p] == NULL)
			continue;
		d = g_bytes_get_data(piece[p], &n);
		g_string_append_len(out, d, (gssize)n);
		g_bytes_unref(piece[p]);
	}
	return g_string_free_to_bytes(out);
}

GBytes *
opm_pgp_dearmor(GBytes *text, const char *type, GError **error)
{
	gsize n;
	const char *t = g_bytes_get_data(text, &n);
	g_autofree char *marker = g_strdup_printf("-----BEGIN PGP %s",
	    type != NULL ? type : "");
	const char *begin = t != NULL ? g_strstr_len(t, (gssize)n, marker) :
	    NULL;
	const char *p, *end;
	GString *b64 = g_string_new(NULL);
	const char *crc_line = NULL;
	guchar *bin;
	gsize blen;

	if (begin == NULL)
		goto BAD;
	/* skip the BEGIN line and the armor headers up to an empty line */
	p = memchr(begin, '\n', n - (gsize)(begin - t));
	while (p != NULL) {
		const char *nl;

		p++;
		nl = memchr(p, '\n', n - (gsize)(p - t));
		if (nl == NULL)
			goto BAD;
		if (nl == p || (nl == p + 1 && *p == '\r')) {
			p = nl + 1;
			break;
		}
		if (memchr(p, ':', (gsize)(nl - p)) == NULL)
			break; /* no headers and no empty line: tolerate */
		p = nl;
	}
	if (p == NULL)
		goto BAD;
	end = g_strstr_len(p, (gssize)(n - (gsize)(p - t)), "-----END PGP ");
	if (end == NULL)
		goto BAD;
	for (const char *q = p; q < end;) {
		const char *nl = memchr(q, '\n', (gsize)(end - q));
		const char *le = nl != NULL ? nl : end;

		if (*q == '=') {
			/* the checksum ends the data: like gpg, ignore any
			 * line between it and the END line */
			crc_line = q + 1;
			break;
		}
		for (const char *c = q; c < le; c++)
			if (!g_ascii_isspace(*c))
				g_string_append_c(b64, *c);
		q = nl != NULL ? nl + 1 : end;
	}
	if (b64->len % 4 != 0)
		goto BAD;
	for (gsize i = 0; i < b64->len; i++)
		if (!g_ascii_isalnum(b64->str[i]) && b64->str[i] != '+' &&
		    b64->str[i] != '/' && b64->str[i] != '=')
			goto BAD;
	bin = g_base64_decode(b64->str, &blen);
	g_string_free(b64, TRUE);
	if (crc_line != NULL) {
		char cb[5] = {0};
		guchar *c;
		gsize clen;

		memcpy(cb, crc_line, MIN(4, (gsize)(end - crc_line)));
		c = g_base64_decode(cb, &clen);
		if (clen != 3 || (((guint32)c[0] << 16) | ((guint32)c[1] << 8) |
		    c[2]) != crc24(bin, blen)) {
			g_free(c);
			g_free(bin);
			g_set_error(error, OPM_ERROR, OPM_ERROR_CRYPTO,
			    "armor checksum mismatch");
			return NULL;
		}
		g_free(c);
	}
	return g_bytes_new_take(bin, blen);
BAD:
	g_string_free(b64, TRUE);
	g_set_error(error, OPM_ERROR, OPM_ERROR_CRYPTO, "malformed ASCII armor");
	return NULL;
}

GBytes *
opm_pgp_signatures(GBytes *sig, GError **error)
{
	g_autoptr(GBytes) bin = NULL;
	gsize n, i = 0, s = 0;
	const char *t = g_bytes_get_data(sig, &n);
	const guint8 *p;
	guint count = 0;

	while (t != NULL && s < n && g_ascii_isspace(t[s]))
		s++;
	if (t != NULL && s < n && ((guint8)t[s] & 0x80))
		bin = g_bytes_new_from_bytes(sig, s, n - s);
	else if ((bin = opm_pgp_dearmor(sig, "SIGNATURE", error)) == NULL)
		return NULL;
	p = g_bytes_get_data(bin, &n);
	while (i < n) {
		int tag;
		gsize len;
		gboolean open;

		if (!opm_pgp_packet_header(p, n, &i, &tag, &len, &open) ||
		    open || len > n - i || tag != 2) {
			g_set_error(error, OPM_ERROR, OPM_ERROR_CRYPTO,
			    "the signature holds more than signature packets");
			return NULL;
		}
		i += len;
		/* each is verified by gpg and carried in every copy */
		if (++count > OPM_PGP_MAX_SIGNATURES) {
			g_set_error(error, OPM_ERROR, OPM_ERROR_CRYPTO,
			    "the signature holds more than %d signature "
			    "packets, one for each key that signs",
			    OPM_PGP_MAX_SIGNATURES);
			return NULL;
		}
	}
	if (count == 0) {
		g_set_error(error, OPM_ERROR, OPM_ERROR_CRYPTO,
		    "the signature holds no signature packet");
		return NULL;
	}
	return g_steal_pointer(&bin);
}

/* The n bytes at line without line ending and trailing white space. */
static gsize
line_content(const char *line, gsize n)
{
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
	    line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	return n;
}

static gboolean
line_is(const char *line, gsize n, const char *marker)
{
	return line_content(line, n) == strlen(marker) &&
	    memcmp(line, marker, strlen(marker)) == 0;
}

GBytes *
opm_pgp_clearsigned(GBytes *text, GError **error)
{
	static const char begin[] = "-----BEGIN PGP SIGNED MESSAGE-----";
	static const char begin_sig[] = "-----BEGIN PGP SIGNATURE-----";
	gsize n, i = 0;
	const char *t = g_bytes_get_data(text, &n);
	GString *out = g_string_new(NULL);
	gboolean escaped = TRUE, header = TRUE, begun = FALSE;
	g_autoptr(GBytes) sig = NULL;
	g_autoptr(GBytes) bin = NULL;
	g_autoptr(GBytes) armor = NULL;
	const char *a;
	gsize an;

	while (t != NULL && i < n && g_ascii_isspace(t[i]))
		i++;
	/* back to the start of the line holding the first printable byte */
	while (i > 0 && t[i - 1] != '\n')
		i--;
	while (t != NULL && i < n) {
		const char *nl = memchr(t + i, '\n', n - i);
		gsize end = nl != NULL ? (gsize)(nl - t) + 1 : n;
		const char *l = t + i;
		gsize ll = line_content(l, end - i);

		if (!begun) {
			if (!line_is(l, end - i, begin))
				break;
			g_string_append_printf(out, "%s\n", begin);
			begun = TRUE;
		} else if (header) {
			if (ll == 0) {
				header = FALSE;
				g_string_append_c(out, '\n');
			} else if (ll > 5 && g_ascii_strncasecmp(l, "Hash:", 5) == 0) {
				gsize k = 5;

				while (k < ll && (l[k] == ' ' || l[k] == '\t'))
					k++;
				for (gsize c = k; c < ll; c++)
					if (!g_ascii_isalnum(l[c]) && l[c] != ',' &&
					    l[c] != '-' && l[c] != ' ')
						goto BAD;
				g_string_append(out, "Hash: ");
				g_string_append_len(out, l + k, (gssize)(ll - k));
				g_string_append_c(out, '\n');
			} else if (ll >= 15 && g_ascii_strncasecmp(l,
			    "NotDashEscaped:", 15) == 0) {
				escaped = FALSE;
			} else {
				goto BAD; /* gpg refuses other headers here */
			}
		} else if (line_is(l, end - i, begin_sig)) {
			sig = g_bytes_new_from_bytes(text, i, n - i);
			break;
		} else {
			/* one line of the signed text: undo the dash-escape,
			 * escape again exactly the lines that need it */
			if (escaped && ll >= 2 && l[0] == '-' && l[1] == ' ') {
				l += 2;
				ll -= 2;
			}
			if ((ll > 0 && l[0] == '-') ||
			    (ll >= 5 && memcmp(l, "From ", 5) == 0))
				g_string_append(out, "- ");
			g_string_append_len(out, l, (gssize)ll);
			g_string_append_c(out, '\n');
		}
		i = end;
	}
	if (sig == NULL)
		goto BAD;
	if ((bin = opm_pgp_signatures(sig, error)) == NULL) {
		g_string_free(out, TRUE);
		return NULL;
	}
	armor = opm_pgp_armor(bin, "SIGNATURE");
	a = g_bytes_get_data(armor, &an);
	g_string_append_len(out, a, (gssize)an);
	return g_string_free_to_bytes(out);
BAD:
	g_string_free(out, TRUE);
	g_set_error(error, OPM_ERROR, OPM_ERROR_CRYPTO,
	    "not a well-formed clear-signed block");
	return NULL;
}
