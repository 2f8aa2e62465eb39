/* zerospice — RGB to I420 for the software encoders, in one pass.
 *
 * GStreamer's videoconvert takes ~4 ms of CPU per 1280x720 BGRx picture
 * here (unpack, matrix, chroma resampling, pack: several passes); this is
 * one fused loop the compiler vectorises (~1 ms). Limited range, the
 * matrix GStreamer picks for the size (BT.709 above 576 rows, else
 * BT.601), chroma the mean of each 2x2 block. */
#pragma once

#include <stddef.h>
#include <stdint.h>

enum zs_yuv_matrix {
	ZS_YUV_BT601,
	ZS_YUV_BT709,
};

/* Converts width x height pixels of 4 bytes each, B,G,R,X in memory
 * (DRM XRGB8888/ARGB8888), rows src_stride bytes apart (negative: rows go
 * upward, for a bottom-up picture pass its last row), into I420 planes.
 * width and height must be even. */
void zs_yuv_from_bgrx(const uint8_t *src, ptrdiff_t src_stride,
	uint32_t width, uint32_t height, enum zs_yuv_matrix matrix,
	uint8_t *y, size_t y_stride, uint8_t *u, uint8_t *v,
	size_t uv_stride);
