/* zerospice — QEMU pixel formats, key numbers and argument checks. */
#include <drm_fourcc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "qemu-private.h"

static const struct {
	uint32_t pixman, drm;
} format_table[] = {
	{ ZS_PIXMAN_x8r8g8b8, DRM_FORMAT_XRGB8888 },
	{ ZS_PIXMAN_a8r8g8b8, DRM_FORMAT_ARGB8888 },
	{ ZS_PIXMAN_x8b8g8r8, DRM_FORMAT_XBGR8888 },
	{ ZS_PIXMAN_a8b8g8r8, DRM_FORMAT_ABGR8888 },
	{ ZS_PIXMAN_b8g8r8x8, DRM_FORMAT_BGRX8888 },
	{ ZS_PIXMAN_b8g8r8a8, DRM_FORMAT_BGRA8888 },
	{ ZS_PIXMAN_r8g8b8x8, DRM_FORMAT_RGBX8888 },
	{ ZS_PIXMAN_r8g8b8a8, DRM_FORMAT_RGBA8888 },
	{ ZS_PIXMAN_x2r10g10b10, DRM_FORMAT_XRGB2101010 },
	{ ZS_PIXMAN_a2r10g10b10, DRM_FORMAT_ARGB2101010 },
	{ ZS_PIXMAN_x2b10g10r10, DRM_FORMAT_XBGR2101010 },
	{ ZS_PIXMAN_a2b10g10r10, DRM_FORMAT_ABGR2101010 },
	{ ZS_PIXMAN_r8g8b8, DRM_FORMAT_RGB888 },
	{ ZS_PIXMAN_b8g8r8, DRM_FORMAT_BGR888 },
	{ ZS_PIXMAN_r5g6b5, DRM_FORMAT_RGB565 },
	{ ZS_PIXMAN_b5g6r5, DRM_FORMAT_BGR565 },
	{ ZS_PIXMAN_x1r5g5b5, DRM_FORMAT_XRGB1555 },
	{ ZS_PIXMAN_a1r5g5b5, DRM_FORMAT_ARGB1555 },
};

uint32_t zs_qemu_pixman_to_drm(uint32_t pixman_format)
{
	for (size_t i = 0; i < G_N_ELEMENTS(format_table); i++) {
		if (format_table[i].pixman == pixman_format)
			return format_table[i].drm;
	}
	return 0;
}

uint32_t zs_qemu_pixman_bytes(uint32_t pixman_format)
{
	if (!zs_qemu_pixman_to_drm(pixman_format))
		return 0;
	return (pixman_format >> 24) / 8;
}

uint32_t zs_qemu_fb_fourcc(uint32_t pixman_format)
{
	uint32_t drm = zs_qemu_pixman_to_drm(pixman_format);

	if (drm && zs_qemu_pixman_bytes(pixman_format) == 4)
		return drm;
	return DRM_FORMAT_XRGB8888;
}

uint32_t zs_qemu_fourcc_bytes(uint32_t fourcc)
{
	for (size_t i = 0; i < G_N_ELEMENTS(format_table); i++) {
		if (format_table[i].drm == fourcc)
			return (format_table[i].pixman >> 24) / 8;
	}
	return 0;
}

static uint32_t expand_channel(uint32_t value, uint32_t bits)
{
	uint32_t max = (1u << bits) - 1;

	if (bits == 0)
		return 0;
	return (value * 255 + max / 2) / max;
}

/* How to turn pixels of a packed pixman format into XRGB8888: where each
 * channel sits and what its values become in 8 bits (tables, so that the
 * per-pixel work is shifts and lookups). The channel order follows pixman:
 * ARGB/ABGR pack from bit 0 up (b or r lowest), BGRA/RGBA from the top bit
 * down. */
struct pixel_decoder {
	uint32_t bytes;
	uint32_t rs, gs, bs, rm, gm, bm;
	uint8_t r[1 << 10], g[1 << 10], b[1 << 10];
};

static void fill_table(uint8_t *table, uint32_t bits)
{
	for (uint32_t v = 0; v < (1u << bits); v++)
		table[v] = (uint8_t)expand_channel(v, bits);
}

/* false for a layout we cannot decode (never for zs_qemu_pixman_to_drm's
 * formats). */
static bool decoder_init(struct pixel_decoder *d, uint32_t format)
{
	uint32_t bpp = format >> 24, type = (format >> 16) & 0xff;
	uint32_t r = (format >> 8) & 0xf, g = (format >> 4) & 0xf;
	uint32_t b = format & 0xf;

	if (bpp % 8 || bpp < 8 || bpp > 32 || r > 10 || g > 10 || b > 10 ||
	    r + g + b > bpp)
		return false;
	d->bytes = bpp / 8;
	switch (type) {
	case ZS_PIXMAN_TYPE_ARGB:
		d->bs = 0; d->gs = b; d->rs = b + g;
		break;
	case ZS_PIXMAN_TYPE_ABGR:
		d->rs = 0; d->gs = r; d->bs = r + g;
		break;
	case ZS_PIXMAN_TYPE_BGRA:
		d->bs = bpp - b; d->gs = d->bs - g; d->rs = d->gs - r;
		break;
	case ZS_PIXMAN_TYPE_RGBA:
		d->rs = bpp - r; d->gs = d->rs - g; d->bs = d->gs - b;
		break;
	default:
		return false;
	}
	if (d->rs > 31 || d->gs > 31 || d->bs > 31)
		return false;
	d->rm = (1u << r) - 1;
	d->gm = (1u << g) - 1;
	d->bm = (1u << b) - 1;
	fill_table(d->r, r);
	fill_table(d->g, g);
	fill_table(d->b, b);
	return true;
}

void zs_qemu_copy_rect(uint8_t *dst, size_t dst_stride, uint32_t dst_fourcc,
	const uint8_t *src, size_t src_stride, uint32_t pixman_format,
	uint32_t width, uint32_t height)
{
	uint32_t src_bytes = zs_qemu_pixman_bytes(pixman_format);
	struct pixel_decoder d;

	if (!src_bytes)
		return;
	if (zs_qemu_pixman_to_drm(pixman_format) == dst_fourcc) {
		size_t row = (size_t)width * src_bytes;
		for (uint32_t y = 0; y < height; y++)
			memcpy(dst + y * dst_stride, src + y * src_stride, row);
		return;
	}
	if (!decoder_init(&d, pixman_format))
		return;
	for (uint32_t y = 0; y < height; y++) {
		const uint8_t *s = src + y * src_stride;
		uint8_t *out = dst + y * dst_stride;
		for (uint32_t x = 0; x < width; x++, s += d.bytes) {
			uint32_t v = s[0];
			if (d.bytes > 1)
				v |= (uint32_t)s[1] << 8;
			if (d.bytes > 2)
				v |= (uint32_t)s[2] << 16;
			if (d.bytes > 3)
				v |= (uint32_t)s[3] << 24;
			uint32_t px = 0xff000000u |
				(uint32_t)d.r[(v >> d.rs) & d.rm] << 16 |
				(uint32_t)d.g[(v >> d.gs) & d.gm] << 8 |
				d.b[(v >> d.bs) & d.bm];
			memcpy(out + (size_t)x * 4, &px, 4);
		}
	}
}

uint32_t zs_qemu_scancode_to_qnum(uint32_t scancode)
{
	uint32_t prefix = scancode >> 8, code = scancode & 0x7f;

	if (code == 0)
		return 0;
	switch (prefix) {
	case 0:
		return code;
	case 0xe0:
		return 0x80 | code;
	case 0xe1:
		/* Pause (e1 1d 45): QEMU numbers it 0xc6. */
		return 0xc6;
	default:
		return 0;
	}
}

static bool fail(char *why, size_t why_len, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);

static bool fail(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (why && why_len) {
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return false;
}

static bool check_size(uint32_t width, uint32_t height, char *why,
	size_t why_len)
{
	if (width == 0 || height == 0 || width > ZS_QEMU_MAX_DIM ||
	    height > ZS_QEMU_MAX_DIM)
		return fail(why, why_len, "size %ux%u outside 1..%u", width,
			height, ZS_QEMU_MAX_DIM);
	return true;
}

/* Bytes a w x h picture with stride needs: the last row need not be padded. */
static uint64_t picture_bytes(uint32_t height, uint32_t stride,
	uint64_t row_bytes)
{
	return (uint64_t)stride * (height - 1) + row_bytes;
}

/* A known pixman format, and rows of stride bytes that hold width pixels
 * of it; *row gets the bytes one row of pixels takes. */
static bool check_row_layout(uint32_t width, uint32_t stride,
	uint32_t pixman_format, uint64_t *row, char *why, size_t why_len)
{
	uint32_t bytes = zs_qemu_pixman_bytes(pixman_format);

	if (!bytes)
		return fail(why, why_len, "unknown pixman format 0x%08x",
			pixman_format);
	*row = (uint64_t)width * bytes;
	if (stride < *row)
		return fail(why, why_len, "stride %u < %" G_GUINT64_FORMAT
			" bytes per row", stride, *row);
	return true;
}

bool zs_qemu_check_scanout(uint32_t width, uint32_t height, uint32_t stride,
	uint32_t pixman_format, uint64_t data_len, char *why, size_t why_len)
{
	uint64_t row = 0;

	if (!check_size(width, height, why, why_len))
		return false;
	if (!check_row_layout((uint32_t)width, stride, pixman_format, &row,
			why, why_len))
		return false;
	if ((uint64_t)width * height * 4 > ZS_QEMU_MAX_FRAME_BYTES)
		return fail(why, why_len, "picture %ux%u too large", width,
			height);
	if (data_len < picture_bytes(height, stride, row))
		return fail(why, why_len, "data %" G_GUINT64_FORMAT
			" bytes < %" G_GUINT64_FORMAT " needed", data_len,
			picture_bytes(height, stride, row));
	return true;
}

bool zs_qemu_check_rect(int32_t x, int32_t y, int32_t width, int32_t height,
	uint32_t fb_width, uint32_t fb_height, char *why, size_t why_len)
{
	if (x < 0 || y < 0 || width <= 0 || height <= 0 ||
	    (int64_t)x + width > fb_width || (int64_t)y + height > fb_height)
		return fail(why, why_len, "rectangle %dx%d+%d+%d outside the "
			"%ux%u picture", width, height, x, y, fb_width,
			fb_height);
	return true;
}

bool zs_qemu_check_update(int32_t x, int32_t y, int32_t width, int32_t height,
	uint32_t stride, uint32_t pixman_format, uint64_t data_len,
	uint32_t fb_width, uint32_t fb_height, char *why, size_t why_len)
{
	uint64_t row = 0;

	if (!zs_qemu_check_rect(x, y, width, height, fb_width, fb_height, why,
			why_len))
		return false;
	if (!check_row_layout((uint32_t)width, stride, pixman_format, &row,
			why, why_len))
		return false;
	if (data_len < picture_bytes((uint32_t)height, stride, row))
		return fail(why, why_len, "data %" G_GUINT64_FORMAT
			" bytes < %" G_GUINT64_FORMAT " needed", data_len,
			picture_bytes((uint32_t)height, stride, row));
	return true;
}

bool zs_qemu_check_map(uint32_t offset, uint32_t width, uint32_t height,
	uint32_t stride, uint32_t pixman_format, uint64_t file_size,
	char *why, size_t why_len)
{
	uint64_t row = 0;

	if (!check_size(width, height, why, why_len))
		return false;
	if (!check_row_layout((uint32_t)width, stride, pixman_format, &row,
			why, why_len))
		return false;
	if ((uint64_t)width * height * 4 > ZS_QEMU_MAX_FRAME_BYTES)
		return fail(why, why_len, "picture %ux%u too large", width,
			height);
	/* Whole rows, as consumers map offset + stride * height. */
	if ((uint64_t)offset + (uint64_t)stride * height > file_size)
		return fail(why, why_len, "offset %u + %u rows of %u bytes "
			"past the end of the %" G_GUINT64_FORMAT "-byte memfd",
			offset, height, stride, file_size);
	return true;
}

bool zs_qemu_check_dmabuf(uint32_t width, uint32_t height, uint32_t fourcc,
	uint64_t modifier, uint32_t n_planes, const uint32_t *offsets,
	const uint32_t *strides, const uint64_t *file_sizes,
	char *why, size_t why_len)
{
	uint32_t bytes = zs_qemu_fourcc_bytes(fourcc);

	if (!check_size(width, height, why, why_len))
		return false;
	if (n_planes < 1 || n_planes > ZS_FRAME_MAX_PLANES)
		return fail(why, why_len, "%u planes outside 1..%d", n_planes,
			ZS_FRAME_MAX_PLANES);
	if (fourcc == 0)
		return fail(why, why_len, "fourcc 0");
	if ((uint64_t)width * height * 4 > ZS_QEMU_MAX_FRAME_BYTES)
		return fail(why, why_len, "picture %ux%u too large", width,
			height);
	if (bytes && n_planes != 1)
		return fail(why, why_len, "%u planes for a single-plane "
			"format", n_planes);
	for (uint32_t i = 0; i < n_planes; i++) {
		uint64_t need;

		if (strides[i] == 0)
			return fail(why, why_len, "plane %u: stride 0", i);
		if (i == 0 && bytes && strides[i] < (uint64_t)width * bytes)
			return fail(why, why_len, "stride %u < %" G_GUINT64_FORMAT
				" bytes per row", strides[i],
				(uint64_t)width * bytes);
		/* Linear plane 0 of a known format: rows must fit. Other planes
		 * and tiled layouts: at least the offset must. */
		if (i == 0 && modifier == DRM_FORMAT_MOD_LINEAR && bytes)
			need = (uint64_t)offsets[i] + (uint64_t)strides[i] * height;
		else
			need = (uint64_t)offsets[i] + 1;
		if (file_sizes[i] && need > file_sizes[i])
			return fail(why, why_len, "plane %u: offset %u, stride %u "
				"past the end of the %" G_GUINT64_FORMAT
				"-byte buffer", i, offsets[i], strides[i],
				file_sizes[i]);
	}
	return true;
}

bool zs_qemu_check_cursor(int32_t width, int32_t height, int32_t hot_x,
	int32_t hot_y, uint64_t data_len, char *why, size_t why_len)
{
	if (width <= 0 || height <= 0 || width > ZS_QEMU_MAX_CURSOR_DIM ||
	    height > ZS_QEMU_MAX_CURSOR_DIM)
		return fail(why, why_len, "cursor size %dx%d outside 1..%d",
			width, height, ZS_QEMU_MAX_CURSOR_DIM);
	if (hot_x < 0 || hot_y < 0 || hot_x >= width || hot_y >= height)
		return fail(why, why_len, "hot spot %d,%d outside the %dx%d "
			"cursor", hot_x, hot_y, width, height);
	if (data_len != (uint64_t)width * height * 4)
		return fail(why, why_len, "cursor data %" G_GUINT64_FORMAT
			" bytes, expected %" G_GUINT64_FORMAT, data_len,
			(uint64_t)width * height * 4);
	return true;
}
