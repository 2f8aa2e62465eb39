/* zerospice — MSB-first bit writer with Exp-Golomb codes and H.264/HEVC
 * emulation prevention. Private to encoder/ (and linked into the fake VA
 * driver in tests/, which writes slice data after our packed headers). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct zs_bitwriter {
	uint8_t *data;
	size_t capacity;
	size_t bits; /* bits written so far */
	/* Set when a reallocation failed: later writes are ignored and the
	 * caller sees it once, in zs_bitwriter_ok(). */
	bool failed;
};

void zs_bitwriter_init(struct zs_bitwriter *bw);
/* Frees the buffer; the writer can be initialised again. */
void zs_bitwriter_finish(struct zs_bitwriter *bw);
/* Forgets what was written, keeps the allocation. */
void zs_bitwriter_reset(struct zs_bitwriter *bw);
bool zs_bitwriter_ok(const struct zs_bitwriter *bw);

/* The low n bits of value, most significant first; n <= 32. */
void zs_bitwriter_put(struct zs_bitwriter *bw, uint32_t value, unsigned n);
void zs_bitwriter_put_flag(struct zs_bitwriter *bw, bool flag);
/* ue(v) and se(v) Exp-Golomb codes. ue takes 0..2^32-2. */
void zs_bitwriter_put_ue(struct zs_bitwriter *bw, uint32_t value);
void zs_bitwriter_put_se(struct zs_bitwriter *bw, int32_t value);
/* Whole bytes; fast when the writer is byte-aligned. */
void zs_bitwriter_put_bytes(struct zs_bitwriter *bw, const uint8_t *bytes,
	size_t n);
/* Zero bits up to the next byte boundary (none when aligned). */
void zs_bitwriter_align_zero(struct zs_bitwriter *bw);
/* rbsp_trailing_bits(): a one bit, then zeros up to the byte boundary. */
void zs_bitwriter_trailing_bits(struct zs_bitwriter *bw);
bool zs_bitwriter_aligned(const struct zs_bitwriter *bw);
/* Bytes holding the bits written so far (the last one may be partial,
 * its unused low bits zero). */
size_t zs_bitwriter_bytes(const struct zs_bitwriter *bw);

/* Copies rbsp into out with emulation prevention: a 0x03 byte after every
 * two zero bytes that precede a byte <= 3, and after a final zero byte.
 * out must hold zs_nal_escaped_max(rbsp_len) bytes. Returns the bytes
 * written. */
size_t zs_nal_escape(const uint8_t *rbsp, size_t rbsp_len, uint8_t *out);

/* The start of an H.264 or H.265 VUI, the same syntax in both: square
 * pixels, no overscan info, video_format unspecified, the range and colour
 * description given, no chroma location. */
void zs_nal_put_vui_colour(struct zs_bitwriter *bw, bool full_range,
	uint8_t colour_primaries, uint8_t transfer_characteristics,
	uint8_t matrix_coefficients);
static inline size_t zs_nal_escaped_max(size_t rbsp_len)
{
	return rbsp_len + rbsp_len / 2 + 1;
}
