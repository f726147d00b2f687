/*
 * NAME
 *	pgp - OpenPGP message splitting and ASCII armor
 * SYNOPSIS
 *	opm_pgp_split(), opm_pgp_split_message(), opm_pgp_split_free(),
 *	opm_pgp_armor(), opm_pgp_dearmor()
 * DESCRIPTION
 *	Reads packet headers only (RFC 4880 section 4.2, old and new
 *	formats, partial body lengths); never looks inside the encrypted
 *	data.  Every length is checked against what is left of the input.
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

static guint32
crc24(const guint8 *p, gsize n)
{
	guint32 crc = 0xB704CEu;

	for (gsize i = 0; i < n; i++) {
		crc ^= (guint32)p[i] << 16;
		for (int k = 0; k < 8; k++) {
			crc <<= 1;
			if (crc & 0x1000000u)
				crc ^= 0x1864CFBu;
		}
	}
	return crc & 0xFFFFFFu;
}

GBytes *
opm_pgp_armor(GBytes *binary, const char *type)
{
	gsize n;
	const guint8 *p = g_bytes_get_data(binary, &n);
	g_autofree char *b64 = g_base64_encode(p, n);
	guint32 crc = crc24(p, n);
	guint8 c[3] = {(guint8)(crc >> 16), (guint8)(crc >> 8), (guint8)crc};
	g_autofree char *cb64 = g_base64_encode(c, 3);
	gsize len = strlen(b64);
	GString *out = g_string_sized_new(len + len / 64 + 128);

	g_string_append_printf(out, "-----BEGIN PGP %s-----\n\n", type);
	for (gsize i = 0; i < len; i += 64) {
		g_string_append_len(out, b64 + i, (gssize)MIN(64, len - i));
		g_string_append_c(out, '\n');
	}
	g_string_append_printf(out, "=%s\n-----END PGP %s-----\n", cb64, type);
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

		if (*q == '=')
			crc_line = q + 1;
		else
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
