/* zerospice — bit writer, Exp-Golomb codes, emulation prevention. */
#include <stdlib.h>
#include <string.h>

#include "bitwriter.h"

void zs_bitwriter_init(struct zs_bitwriter *bw)
{
	memset(bw, 0, sizeof(*bw));
}

void zs_bitwriter_finish(struct zs_bitwriter *bw)
{
	free(bw->data);
	memset(bw, 0, sizeof(*bw));
}

void zs_bitwriter_reset(struct zs_bitwriter *bw)
{
	if (bw->data)
		memset(bw->data, 0, bw->capacity);
	bw->bits = 0;
	bw->failed = false;
}

bool zs_bitwriter_ok(const struct zs_bitwriter *bw)
{
	return !bw->failed;
}

/* Makes room for n more bits; false (and failed set) when out of memory. */
static bool reserve(struct zs_bitwriter *bw, size_t n)
{
	size_t need, cap;
	uint8_t *data;

	if (bw->failed)
		return false;
	if (n > SIZE_MAX - 7 - bw->bits) {
		bw->failed = true;
		return false;
	}
	need = (bw->bits + n + 7) / 8;
	if (need <= bw->capacity)
		return true;
	cap = bw->capacity ? bw->capacity : 64;
	while (cap < need) {
		if (cap > SIZE_MAX / 2) {
			bw->failed = true;
			return false;
		}
		cap *= 2;
	}
	data = realloc(bw->data, cap);
	if (!data) {
		bw->failed = true;
		return false;
	}
	/* Unwritten bits must read as zero: put() only ORs bits in. */
	memset(data + bw->capacity, 0, cap - bw->capacity);
	bw->data = data;
	bw->capacity = cap;
	return true;
}

void zs_bitwriter_put(struct zs_bitwriter *bw, uint32_t value, unsigned n)
{
	if (n == 0 || n > 32 || !reserve(bw, n))
		return;
	for (unsigned i = n; i-- > 0;) {
		if ((value >> i) & 1u)
			bw->data[bw->bits / 8] |= (uint8_t)(0x80u >> (bw->bits % 8));
		bw->bits++;
	}
}

void zs_bitwriter_put_flag(struct zs_bitwriter *bw, bool flag)
{
	zs_bitwriter_put(bw, flag ? 1u : 0u, 1);
}

void zs_bitwriter_put_ue(struct zs_bitwriter *bw, uint32_t value)
{
	/* value + 1 written in binary after as many zeros as it has bits
	 * minus one. */
	uint64_t v = (uint64_t)value + 1;
	unsigned len = 0;

	while ((v >> len) > 1)
		len++;
	if (len > 31) {
		/* 2^32-1 needs a 33-bit prefix: outside what we ever code. */
		bw->failed = true;
		return;
	}
	zs_bitwriter_put(bw, 0, len);
	zs_bitwriter_put(bw, (uint32_t)v, len + 1);
}

void zs_bitwriter_put_se(struct zs_bitwriter *bw, int32_t value)
{
	/* 1 → 1, -1 → 2, 2 → 3, … */
	uint32_t mapped = value > 0 ? 2u * (uint32_t)value - 1u :
		(uint32_t)(-(int64_t)value) * 2u;
	zs_bitwriter_put_ue(bw, mapped);
}

void zs_bitwriter_put_bytes(struct zs_bitwriter *bw, const uint8_t *bytes,
	size_t n)
{
	if (n == 0)
		return;
	if (n > SIZE_MAX / 8 || !reserve(bw, n * 8))
		return;
	if (zs_bitwriter_aligned(bw)) {
		memcpy(bw->data + bw->bits / 8, bytes, n);
		bw->bits += n * 8;
		return;
	}
	for (size_t i = 0; i < n; i++)
		zs_bitwriter_put(bw, bytes[i], 8);
}

void zs_bitwriter_align_zero(struct zs_bitwriter *bw)
{
	if (!zs_bitwriter_aligned(bw))
		zs_bitwriter_put(bw, 0, 8 - (unsigned)(bw->bits % 8));
}

void zs_bitwriter_trailing_bits(struct zs_bitwriter *bw)
{
	zs_bitwriter_put(bw, 1, 1);
	zs_bitwriter_align_zero(bw);
}

bool zs_bitwriter_aligned(const struct zs_bitwriter *bw)
{
	return bw->bits % 8 == 0;
}

size_t zs_bitwriter_bytes(const struct zs_bitwriter *bw)
{
	return (bw->bits + 7) / 8;
}

size_t zs_nal_escape(const uint8_t *rbsp, size_t rbsp_len, uint8_t *out)
{
	size_t o = 0;
	unsigned zeros = 0;

	for (size_t i = 0; i < rbsp_len; i++) {
		if (zeros == 2 && rbsp[i] <= 3) {
			out[o++] = 0x03;
			zeros = 0;
		}
		out[o++] = rbsp[i];
		zeros = rbsp[i] == 0 ? zeros + 1 : 0;
	}
	/* A NAL unit may not end in a zero byte (7.4.1). */
	if (rbsp_len > 0 && rbsp[rbsp_len - 1] == 0)
		out[o++] = 0x03;
	return o;
}

void zs_nal_put_vui_colour(struct zs_bitwriter *bw, bool full_range,
	uint8_t colour_primaries, uint8_t transfer_characteristics,
	uint8_t matrix_coefficients)
{
	zs_bitwriter_put_flag(bw, true);  /* aspect_ratio_info_present_flag */
	zs_bitwriter_put(bw, 1, 8);       /* aspect_ratio_idc: 1:1 */
	zs_bitwriter_put_flag(bw, false); /* overscan_info_present_flag */
	zs_bitwriter_put_flag(bw, true);  /* video_signal_type_present_flag */
	zs_bitwriter_put(bw, 5, 3);       /* video_format: unspecified */
	zs_bitwriter_put_flag(bw, full_range);
	zs_bitwriter_put_flag(bw, true);  /* colour_description_present_flag */
	zs_bitwriter_put(bw, colour_primaries, 8);
	zs_bitwriter_put(bw, transfer_characteristics, 8);
	zs_bitwriter_put(bw, matrix_coefficients, 8);
	zs_bitwriter_put_flag(bw, false); /* chroma_loc_info_present_flag */
}
