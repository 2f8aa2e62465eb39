/* pattern-compare: checks that a screenshot shows zerospice's test
 * pattern. Reads the frame stamp (frame id, capture time), renders that
 * very frame with zs_testpattern at the screenshot's size, and compares.
 * A lossless stream still loses chroma detail to 4:2:0 and rounding to
 * the YUV round trip, so the comparison is a PSNR floor, plus a tighter
 * bound on the mean error.
 *
 * Usage: pattern-compare SHOT.ppm MIN_PSNR_DB
 * Prints "frame_id=N psnr=X mean_abs=Y"; exit 0 when it matches, 1 when
 * not, 2 on bad input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <drm_fourcc.h>

#include "zs-dmabuf.h"
#include "zs-stamp.h"

int main(int argc, char **argv)
{
	struct zs_image img;
	struct zs_testpattern *tp;
	struct zs_frame *f;
	struct zs_frame_map map;
	uint8_t payload[ZS_STAMP_PAYLOAD_BYTES];
	uint32_t id;
	uint64_t capture_us;
	int32_t sx, sy;
	char err[256];
	double se = 0, sum_abs = 0, min_psnr, psnr;
	size_t n = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: pattern-compare SHOT.ppm MIN_PSNR_DB\n");
		return 2;
	}
	min_psnr = atof(argv[2]);
	if (zs_image_load_ppm(argv[1], &img, err, sizeof(err)) < 0) {
		fprintf(stderr, "pattern-compare: %s\n", err);
		return 2;
	}
	if (!zs_stamp_find(&img, ZS_STAMP_TYPE_FRAME, payload, &sx, &sy)) {
		fprintf(stderr, "pattern-compare: no frame stamp in %s\n", argv[1]);
		return 1;
	}
	zs_stamp_unpack_frame(payload, &id, &capture_us);
	tp = zs_testpattern_create(img.width, img.height, 1);
	if (!tp) {
		fprintf(stderr, "pattern-compare: cannot render %ux%u\n",
			img.width, img.height);
		return 2;
	}
	f = zs_testpattern_render(tp, id, capture_us);
	if (!f || zs_frame_map(f, &map) < 0 || f->fourcc != DRM_FORMAT_XRGB8888) {
		fprintf(stderr, "pattern-compare: cannot render frame %u\n", id);
		return 2;
	}
	for (uint32_t y = 0; y < img.height; y++) {
		const uint8_t *shot = img.pixels + (size_t)y * img.stride;
		const uint8_t *ref = map.pixels + (size_t)y * map.stride;
		for (uint32_t x = 0; x < img.width; x++) {
			/* PPM: R G B; XRGB8888 in memory: B G R X */
			for (int c = 0; c < 3; c++) {
				int d = (int)shot[x * img.bytes_per_pixel + c] -
					(int)ref[x * 4 + 2 - c];
				se += (double)d * d;
				sum_abs += abs(d);
				n++;
			}
		}
	}
	psnr = se == 0 ? 99.0 : 10 * log10(255.0 * 255.0 * (double)n / se);
	printf("frame_id=%u psnr=%.2f mean_abs=%.3f\n", id, psnr,
		sum_abs / (double)n);
	zs_frame_unmap(&map);
	zs_frame_release(f);
	zs_testpattern_destroy(tp);
	zs_image_free(&img);
	return psnr >= min_psnr ? 0 : 1;
}
