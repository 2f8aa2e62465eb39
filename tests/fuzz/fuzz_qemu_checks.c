/* Fuzz target: the checks on what QEMU's listener calls carry
 * (zs_qemu_check_*, qemu/format.c) together with the copies they guard
 * (zs_qemu_copy_rect): whatever a check accepts, the copy it allows stays
 * inside buffers of exactly the sizes the check was given (ASan sees any
 * byte outside).
 *
 * Input: a selector byte, then little-endian u32 arguments (missing ones
 * are 0). Buffers are only allocated up to MAX_BUF bytes. */
#include <drm_fourcc.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "qemu-private.h"

#define MAX_BUF (1u << 22)

static const uint32_t pixman_formats[] = {
	ZS_PIXMAN_x8r8g8b8, ZS_PIXMAN_a8r8g8b8, ZS_PIXMAN_x8b8g8r8,
	ZS_PIXMAN_a8b8g8r8, ZS_PIXMAN_b8g8r8x8, ZS_PIXMAN_b8g8r8a8,
	ZS_PIXMAN_r8g8b8x8, ZS_PIXMAN_r8g8b8a8, ZS_PIXMAN_x2r10g10b10,
	ZS_PIXMAN_a2r10g10b10, ZS_PIXMAN_x2b10g10r10, ZS_PIXMAN_a2b10g10r10,
	ZS_PIXMAN_r8g8b8, ZS_PIXMAN_b8g8r8, ZS_PIXMAN_r5g6b5, ZS_PIXMAN_b5g6r5,
	ZS_PIXMAN_a1r5g5b5, ZS_PIXMAN_x1r5g5b5,
};

static const uint32_t fourccs[] = {
	DRM_FORMAT_XRGB8888, DRM_FORMAT_ARGB8888, DRM_FORMAT_XBGR8888,
	DRM_FORMAT_NV12, DRM_FORMAT_RGB888, DRM_FORMAT_RGB565, 0,
};

struct args {
	const uint8_t *p;
	size_t left;
};

static uint32_t next(struct args *a)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		v |= (uint32_t)(a->left ? *a->p : 0) << (8 * i);
		if (a->left) {
			a->p++;
			a->left--;
		}
	}
	return v;
}

/* A known pixman format most of the time, any value otherwise. */
static uint32_t format(struct args *a)
{
	uint32_t v = next(a);

	if (v & 0x80000000u)
		return v & 0x7fffffffu;
	return pixman_formats[v % (sizeof(pixman_formats) /
		sizeof(pixman_formats[0]))];
}

static uint8_t *buffer(uint64_t size)
{
	if (size == 0 || size > MAX_BUF)
		return NULL;
	uint8_t *b = malloc((size_t)size);
	if (b)
		memset(b, 0x5a, (size_t)size);
	return b;
}

static void scanout(struct args *a)
{
	uint32_t w = next(a), h = next(a), stride = next(a), fmt = format(a);
	uint64_t len = next(a) % (MAX_BUF + 1);
	char why[160];

	if (!zs_qemu_check_scanout(w, h, stride, fmt, len, why, sizeof(why)))
		return;
	uint8_t *src = buffer(len), *dst = buffer((uint64_t)w * 4 * h);
	if (src && dst)
		zs_qemu_copy_rect(dst, (size_t)w * 4, zs_qemu_fb_fourcc(fmt),
			src, stride, fmt, w, h);
	free(src);
	free(dst);
}

static void update(struct args *a)
{
	int32_t x = (int32_t)next(a), y = (int32_t)next(a);
	int32_t w = (int32_t)next(a), h = (int32_t)next(a);
	uint32_t stride = next(a), fmt = format(a);
	uint64_t len = next(a) % (MAX_BUF + 1);
	uint32_t fbw = next(a) % (ZS_QEMU_MAX_DIM + 1);
	uint32_t fbh = next(a) % (ZS_QEMU_MAX_DIM + 1);
	char why[160];

	if (!zs_qemu_check_update(x, y, w, h, stride, fmt, len, fbw, fbh, why,
			sizeof(why)))
		return;
	uint8_t *src = buffer(len), *dst = buffer((uint64_t)fbw * 4 * fbh);
	if (src && dst)
		zs_qemu_copy_rect(dst + (size_t)y * fbw * 4 + (size_t)x * 4,
			(size_t)fbw * 4, zs_qemu_fb_fourcc(fmt), src, stride,
			fmt, (uint32_t)w, (uint32_t)h);
	free(src);
	free(dst);
}

static void map(struct args *a)
{
	uint32_t offset = next(a), w = next(a), h = next(a);
	uint32_t stride = next(a), fmt = format(a);
	uint64_t file_size = next(a) % (MAX_BUF + 1);
	char why[160];

	if (!zs_qemu_check_map(offset, w, h, stride, fmt, file_size, why,
			sizeof(why)))
		return;
	uint8_t *file = buffer(file_size), *dst = buffer((uint64_t)w * 4 * h);
	if (file && dst)
		zs_qemu_copy_rect(dst, (size_t)w * 4, zs_qemu_fb_fourcc(fmt),
			file + offset, stride, fmt, w, h);
	free(file);
	free(dst);
}

static void dmabuf(struct args *a)
{
	uint32_t w = next(a), h = next(a);
	uint32_t fourcc = fourccs[next(a) % (sizeof(fourccs) /
		sizeof(fourccs[0]))];
	uint64_t modifier = next(a) & 1 ? I915_FORMAT_MOD_X_TILED :
		DRM_FORMAT_MOD_LINEAR;
	uint32_t n = next(a) % 6;
	uint32_t offsets[ZS_FRAME_MAX_PLANES], strides[ZS_FRAME_MAX_PLANES];
	uint64_t sizes[ZS_FRAME_MAX_PLANES];
	char why[160];

	for (int i = 0; i < ZS_FRAME_MAX_PLANES; i++) {
		offsets[i] = next(a);
		strides[i] = next(a);
		sizes[i] = next(a) % (MAX_BUF + 1);
	}
	if (!zs_qemu_check_dmabuf(w, h, fourcc, modifier, n, offsets, strides,
			sizes, why, sizeof(why)))
		return;
	uint32_t bytes = zs_qemu_fourcc_bytes(fourcc);
	if (modifier != DRM_FORMAT_MOD_LINEAR || !bytes || !sizes[0])
		return;
	/* What a CPU consumer (the software encoder) reads of plane 0. */
	uint8_t *buf = buffer(sizes[0]);
	uint32_t sum = 0;
	if (buf) {
		for (uint32_t y = 0; y < h; y++)
			sum += buf[offsets[0] + (size_t)y * strides[0] +
				(size_t)w * bytes - 1];
	}
	(void)sum;
	free(buf);
}

static void cursor(struct args *a)
{
	int32_t w = (int32_t)next(a), h = (int32_t)next(a);
	int32_t hx = (int32_t)next(a), hy = (int32_t)next(a);
	uint64_t len = next(a) % (MAX_BUF + 1);
	char why[160];

	if (!zs_qemu_check_cursor(w, h, hx, hy, len, why, sizeof(why)))
		return;
	uint8_t *argb = buffer(len);
	if (argb && argb[(size_t)w * h * 4 - 1] == 0)
		abort(); /* never: buffer() fills with 0x5a */
	free(argb);
}

static void rect(struct args *a)
{
	int32_t x = (int32_t)next(a), y = (int32_t)next(a);
	int32_t w = (int32_t)next(a), h = (int32_t)next(a);
	uint32_t fbw = next(a), fbh = next(a);

	if (zs_qemu_check_rect(x, y, w, h, fbw, fbh, NULL, 0) &&
	    (x < 0 || y < 0 || w <= 0 || h <= 0 ||
	     (uint64_t)x + (uint64_t)w > fbw || (uint64_t)y + (uint64_t)h > fbh))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct args a = { data + (size ? 1 : 0), size ? size - 1 : 0 };

	switch (size ? data[0] % 6 : 0) {
	case 0: scanout(&a); break;
	case 1: update(&a); break;
	case 2: map(&a); break;
	case 3: dmabuf(&a); break;
	case 4: cursor(&a); break;
	default: rect(&a); break;
	}
	return 0;
}

#define U32(v) (char)((v) & 0xff), (char)(((v) >> 8) & 0xff), \
	(char)(((v) >> 16) & 0xff), (char)(((v) >> 24) & 0xff)

/* Accepted calls, for the mutations to start from. */
static const char seed_scanout[] = { 0, U32(16), U32(8), U32(64), U32(0),
	U32(512) };
static const char seed_scanout16[] = { 0, U32(16), U32(8), U32(32), U32(14),
	U32(256) };
static const char seed_update[] = { 1, U32(2), U32(3), U32(4), U32(5),
	U32(16), U32(12), U32(80), U32(32), U32(32) };
static const char seed_map[] = { 2, U32(64), U32(8), U32(8), U32(32),
	U32(0), U32(320) };
static const char seed_dmabuf[] = { 3, U32(16), U32(16), U32(0), U32(0),
	U32(1), U32(0), U32(64), U32(1024) };
static const char seed_cursor[] = { 4, U32(4), U32(4), U32(1), U32(1),
	U32(64) };
static const char seed_rect[] = { 5, U32(1), U32(1), U32(2), U32(2), U32(3),
	U32(3) };

const struct zs_fuzz_seed zs_fuzz_seeds[] = {
	{ (const uint8_t *)seed_scanout, sizeof(seed_scanout) },
	{ (const uint8_t *)seed_scanout16, sizeof(seed_scanout16) },
	{ (const uint8_t *)seed_update, sizeof(seed_update) },
	{ (const uint8_t *)seed_map, sizeof(seed_map) },
	{ (const uint8_t *)seed_dmabuf, sizeof(seed_dmabuf) },
	{ (const uint8_t *)seed_cursor, sizeof(seed_cursor) },
	{ (const uint8_t *)seed_rect, sizeof(seed_rect) },
};
const size_t zs_fuzz_seed_count = sizeof(zs_fuzz_seeds) /
	sizeof(zs_fuzz_seeds[0]);
