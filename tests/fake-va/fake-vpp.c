/* zerospice — fake VA driver: video processing, RGB → NV12 in software.
 *
 * Y'CbCr from R'G'B' as BT.709 / BT.601 define it (no linearisation),
 * limited range by default (Y 16..235, C 16..240), chroma the mean of each
 * 2x2 block. Coefficients are 16-bit fixed point, rounded to nearest. */
#include <math.h>
#include <string.h>

#include "fake-va.h"
#include <drm_fourcc.h>
#include <va/va_vpp.h>


void fake_surface_rgb(const struct fake_surface *s, uint32_t x, uint32_t y,
	uint8_t rgb[3])
{
	const uint8_t *p;
	size_t at;

	if (s->modifier == I915_FORMAT_MOD_X_TILED) {
		/* 512-byte x 8-row tiles of 4 KiB, row-major */
		size_t byte_x = (size_t)x * 4;
		size_t tiles_per_row = s->pitch / 512;
		at = s->offset + ((size_t)(y / 8) * tiles_per_row +
			byte_x / 512) * 4096 + (y % 8) * 512 + byte_x % 512;
	} else {
		at = s->offset + (size_t)y * s->pitch + (size_t)x * 4;
	}
	p = s->map + at;
	switch (s->drm_format) {
	case DRM_FORMAT_XBGR8888:
	case DRM_FORMAT_ABGR8888:
		/* bytes R G B A */
		rgb[0] = p[0];
		rgb[1] = p[1];
		rgb[2] = p[2];
		break;
	default:
		/* XRGB/ARGB: bytes B G R A */
		rgb[0] = p[2];
		rgb[1] = p[1];
		rgb[2] = p[0];
		break;
	}
}

struct coeffs {
	int32_t y[3], cb[3], cr[3];
	int32_t y_off, c_off;
};

static void make_coeffs(struct coeffs *c, double kr, double kb, bool full)
{
	double kg = 1.0 - kr - kb;
	double ys = full ? 1.0 : 219.0 / 255.0;
	double cs = full ? 1.0 : 224.0 / 255.0;

	c->y[0] = (int32_t)lround(kr * ys * 65536);
	c->y[1] = (int32_t)lround(kg * ys * 65536);
	c->y[2] = (int32_t)lround(kb * ys * 65536);
	c->cb[0] = (int32_t)lround(-kr / (2 * (1 - kb)) * cs * 65536);
	c->cb[1] = (int32_t)lround(-kg / (2 * (1 - kb)) * cs * 65536);
	c->cb[2] = -c->cb[0] - c->cb[1]; /* grey stays neutral */
	c->cr[2] = (int32_t)lround(-kb / (2 * (1 - kr)) * cs * 65536);
	c->cr[1] = (int32_t)lround(-kg / (2 * (1 - kr)) * cs * 65536);
	c->cr[0] = -c->cr[1] - c->cr[2];
	c->y_off = full ? 0 : 16;
	c->c_off = 128;
}

static uint8_t clamp8(int32_t v)
{
	return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static void convert(const struct fake_surface *src, struct fake_surface *dst,
	const struct coeffs *k, bool flip)
{
	uint8_t *luma = dst->nv12;
	uint8_t *chroma = dst->nv12 + (size_t)dst->nv12_pitch * dst->nv12_height;

	for (uint32_t y = 0; y < dst->height; y += 2) {
		for (uint32_t x = 0; x < dst->width; x += 2) {
			int32_t sum[3] = { 0, 0, 0 };
			for (uint32_t dy = 0; dy < 2; dy++) {
				for (uint32_t dx = 0; dx < 2; dx++) {
					uint32_t sy = y + dy;
					uint8_t rgb[3];
					int32_t v;
					fake_surface_rgb(src, x + dx,
						flip ? src->height - 1 - sy : sy, rgb);
					v = k->y[0] * rgb[0] + k->y[1] * rgb[1] +
						k->y[2] * rgb[2];
					luma[(size_t)sy * dst->nv12_pitch + x + dx] =
						clamp8(k->y_off + ((v + 32768) >> 16));
					for (int i = 0; i < 3; i++)
						sum[i] += rgb[i];
				}
			}
			/* sums of four: shift by 18, offset before the shift
			 * so that it never sees a negative number */
			int32_t cb = k->cb[0] * sum[0] + k->cb[1] * sum[1] +
				k->cb[2] * sum[2];
			int32_t cr = k->cr[0] * sum[0] + k->cr[1] * sum[1] +
				k->cr[2] * sum[2];
			uint8_t *c = chroma + (size_t)(y / 2) * dst->nv12_pitch + x;
			c[0] = clamp8((int32_t)(((int64_t)cb + ((int64_t)k->c_off << 18) +
				(1 << 17)) >> 18));
			c[1] = clamp8((int32_t)(((int64_t)cr + ((int64_t)k->c_off << 18) +
				(1 << 17)) >> 18));
		}
	}
}

VAStatus fake_vpp_run(VADriverContextP ctx, struct fake_context *c)
{
	const VAProcPipelineParameterBuffer *pp = NULL;
	struct fake_surface *src, *dst;
	struct coeffs k;
	bool full;
	int n = 0;

	for (size_t i = 0; i < c->n_bufs; i++) {
		if (c->bufs[i].type != VAProcPipelineParameterBufferType)
			continue;
		if (c->bufs[i].size < sizeof(*pp)) {
			fake_fail("VPP pipeline buffer of %zu bytes",
				c->bufs[i].size);
			return VA_STATUS_ERROR_INVALID_BUFFER;
		}
		pp = (const void *)c->bufs[i].data;
		n++;
	}
	if (n != 1) {
		fake_fail("VPP picture with %d pipeline buffers", n);
		return VA_STATUS_ERROR_INVALID_PARAMETER;
	}
	src = fake_lookup(ctx, pp->surface, OBJ_SURFACE);
	dst = fake_lookup(ctx, c->target, OBJ_SURFACE);
	if (!src || !dst)
		return VA_STATUS_ERROR_INVALID_SURFACE;
	if (!src->imported || dst->imported || !dst->nv12) {
		fake_fail("VPP wants an imported RGB source and an NV12 target");
		return VA_STATUS_ERROR_INVALID_SURFACE;
	}
	if (src->width != dst->width || src->height != dst->height) {
		fake_fail("VPP scaling %ux%u -> %ux%u is not implemented",
			src->width, src->height, dst->width, dst->height);
		return VA_STATUS_ERROR_INVALID_PARAMETER;
	}
	if ((pp->surface_region && (pp->surface_region->x ||
	     pp->surface_region->y || pp->surface_region->width != src->width ||
	     pp->surface_region->height != src->height)) ||
	    (pp->output_region && (pp->output_region->x ||
	     pp->output_region->y || pp->output_region->width != dst->width ||
	     pp->output_region->height != dst->height))) {
		fake_fail("VPP regions other than the whole surface");
		return VA_STATUS_ERROR_INVALID_PARAMETER;
	}
	if (pp->num_filters != 0) {
		fake_fail("VPP filters requested");
		return VA_STATUS_ERROR_INVALID_PARAMETER;
	}
	full = pp->output_color_properties.color_range == VA_SOURCE_RANGE_FULL;
	switch (pp->output_color_standard) {
	case VAProcColorStandardBT709:
		make_coeffs(&k, 0.2126, 0.0722, full);
		break;
	case VAProcColorStandardBT601:
		make_coeffs(&k, 0.299, 0.114, full);
		break;
	default:
		fake_fail("VPP output colour standard %d",
			(int)pp->output_color_standard);
		return VA_STATUS_ERROR_INVALID_PARAMETER;
	}
	if (dst->width % 2 || dst->height % 2) {
		fake_fail("VPP to NV12 needs even sizes");
		return VA_STATUS_ERROR_INVALID_PARAMETER;
	}
	convert(src, dst, &k, pp->mirror_state & VA_MIRROR_VERTICAL);
	zs_fake_va_stats.vpp_frames++;
	return VA_STATUS_SUCCESS;
}
