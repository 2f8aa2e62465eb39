/* Fuzz target: the PPM loader (dmabuf/ppm.c), reading from a memfd so that
 * the size checks against the file run as they do on disk. A loaded image
 * has the size its header gives and every byte of it is readable. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "zs-stamp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zs_image img;
	char err[256];
	int fd = memfd_create("fuzz-ppm", MFD_CLOEXEC);
	FILE *f;

	if (fd < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	lseek(fd, 0, SEEK_SET);
	f = fdopen(fd, "rb");
	if (!f)
		abort();
	err[0] = '\0';
	if (zs_image_read_ppm(f, "fuzz", &img, err, sizeof(err)) == 0) {
		uint32_t sum = 0;
		if (!img.pixels || img.width == 0 || img.height == 0 ||
		    img.stride != img.width * 3 || img.bytes_per_pixel != 3)
			abort();
		for (size_t i = 0; i < (size_t)img.stride * img.height; i++)
			sum += img.pixels[i];
		(void)sum;
		zs_image_free(&img);
	} else if (err[0] == '\0' || img.pixels) {
		abort();
	}
	fclose(f);
	return 0;
}

const struct zs_fuzz_seed zs_fuzz_seeds[] = {
	ZS_FUZZ_SEED("P6\n2 1\n255\n\x01\x02\x03\x04\x05\x06"),
	ZS_FUZZ_SEED("P6 # comment\n1 1 65535\n\x01\x02\x03\x04\x05\x06"),
	ZS_FUZZ_SEED("P6\n16384 16384\n255\n\x00"),
	ZS_FUZZ_SEED("P6\n1 1\n1\n\x01\x00\x01"),
};
const size_t zs_fuzz_seed_count = sizeof(zs_fuzz_seeds) /
	sizeof(zs_fuzz_seeds[0]);
