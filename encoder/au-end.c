/* zerospice — marks the end of each H.264/H.265 access unit inside it, so
 * a client's parser can hand the picture to its decoder at once.
 *
 * spice-gtk 0.42 feeds its h264parse/h265parse caps with no alignment
 * ("video/x-h264"), so the parser takes the stream as a byte stream cut
 * anywhere: it knows an access unit ended only when it has parsed a whole
 * NAL unit of the next one, and every picture waited for the next picture
 * to arrive (one frame interval, 16.7 ms at 60 fps, and a last change
 * before a still screen waited for the next change). After the picture's
 * own NAL units we append what legally opens the next access unit: an
 * access unit delimiter (complete once the next start code follows) and a
 * repeat of the current picture parameter set. A PPS may be repeated at
 * the start of any access unit; the next picture's data then follows as
 * usual. Measured with spice-gtk's caps (tools/bench/codec-cost's decode
 * pipeline): pictures out after 6 pushes went from 5 to 6 with this tail,
 * as with alignment=au caps; an AUD alone was not enough. */
#include <stdlib.h>
#include <string.h>

#include "encoder-private.h"

static const uint8_t aud_h264[] = { 0, 0, 0, 1, 0x09, 0xf0 };
/* nal_unit_type 35, layer 0, temporal id 0; pic_type 2 (I, P, B) */
static const uint8_t aud_h265[] = { 0, 0, 0, 1, 0x46, 0x01, 0x50 };

static unsigned nal_type(enum zs_codec codec, uint8_t first_byte)
{
	return codec == ZS_CODEC_H265 ? (first_byte >> 1) & 0x3f :
		first_byte & 0x1f;
}

/* Offset of the next 00 00 01 at or after from, or len. */
static size_t next_start(const uint8_t *p, size_t from, size_t len)
{
	for (size_t i = from; i + 3 <= len; i++)
		if (p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1)
			return i;
	return len;
}

/* Remembers the last PPS in the access unit (4-byte start code + NAL). */
static void remember_pps(struct zs_au_end *e, enum zs_codec codec,
	const uint8_t *p, size_t len)
{
	unsigned pps = codec == ZS_CODEC_H265 ? 34 : 8;
	for (size_t s = next_start(p, 0, len); s < len;) {
		size_t body = s + 3;
		size_t end = next_start(p, body, len);
		size_t next = end;
		while (end > body && p[end - 1] == 0) /* trailing zeros, or the */
			end--;                        /* next 4-byte start code */
		if (body < end && nal_type(codec, p[body]) == pps &&
			end - body + 4 <= sizeof(e->pps)) {
			static const uint8_t sc[] = { 0, 0, 0, 1 };
			memcpy(e->pps, sc, 4);
			memcpy(e->pps + 4, p + body, end - body);
			e->pps_len = end - body + 4;
		}
		s = next;
	}
}

int zs_au_end_mark(struct zs_au_end *e, struct zs_access_unit *au)
{
	if (au->codec != ZS_CODEC_H264 && au->codec != ZS_CODEC_H265)
		return 0;
	remember_pps(e, au->codec, au->data, au->size);
	if (!e->pps_len || !au->size)
		return 0; /* nothing to repeat yet: the old way */
	const uint8_t *aud = au->codec == ZS_CODEC_H265 ? aud_h265 : aud_h264;
	size_t aud_len = au->codec == ZS_CODEC_H265 ? sizeof(aud_h265) :
		sizeof(aud_h264);
	uint8_t *grown = realloc(au->data, au->size + aud_len + e->pps_len);
	if (!grown)
		return -1;
	memcpy(grown + au->size, aud, aud_len);
	memcpy(grown + au->size + aud_len, e->pps, e->pps_len);
	au->data = grown;
	au->size += aud_len + e->pps_len;
	return 0;
}
