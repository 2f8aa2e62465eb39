/* zs-psnr: the quality of a test-pattern screenshot against the picture the
 * test pattern drew, for integration tests and the bench harness. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "zs-dmabuf.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: zs-psnr FILE.ppm...\n"
		"For each binary PPM (P6) screenshot of zerospice's test pattern,\n"
		"draws the frame its stamps name again and prints\n"
		"  FILE frame_id=N psnr_text_db=X.XX psnr_y_db=X.XX psnr_rgb_db=X.XX\n"
		"(PSNR of 8-bit R, G, B over the black-and-white stamps: sharpness of\n"
		"text; of BT.709 luma and of R, G, B over every pixel, both capped\n"
		"near 39 and 32 dB by 4:2:0 chroma on the coloured edges; 100 for\n"
		"identical pictures).\n"
		"Exit status: 0 all measured, 1 a file had no frame stamp,\n"
		"2 unreadable file or bad usage.\n");
}

int main(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	int status = 0;
	for (int i = 1; i < argc; i++) {
		struct zs_image img;
		char err[512];
		if (zs_image_load_ppm(argv[i], &img, err, sizeof(err)) < 0) {
			fprintf(stderr, "zs-psnr: %s\n", err);
			return 2;
		}
		struct zs_psnr psnr;
		uint32_t id;
		int ret = zs_testpattern_psnr(&img, &psnr, &id);
		zs_image_free(&img);
		if (ret == -ENOENT) {
			fprintf(stderr, "zs-psnr: %s: no frame stamp found\n",
				argv[i]);
			status = status ? status : 1;
			continue;
		}
		if (ret < 0) {
			fprintf(stderr, "zs-psnr: %s: %s\n", argv[i],
				strerror(-ret));
			return 2;
		}
		printf("%s frame_id=%u psnr_text_db=%.2f psnr_y_db=%.2f "
			"psnr_rgb_db=%.2f\n", argv[i], id, psnr.text_db,
			psnr.y_db, psnr.rgb_db);
	}
	return fflush(stdout) == 0 ? status : 2;
}
