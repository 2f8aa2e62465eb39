/* zerospice — what reading QEMU's ScanoutMap memory safely costs per frame.
 *
 * QEMU's memfds cannot be sealed, so zerospice copies what UpdateMap names
 * into its own framebuffer with pread() (qemu/memory.c) instead of handing
 * QEMU's memfd to the encoder. This compares, per update of a given size:
 *   mmap+memcpy  the same copy from a mapping (what a SIGBUS-guarded copy
 *                would cost, before its guard);
 *   pread        zs_qemu_pread_rect() from the memfd (what runs);
 *   pread 16bpp  the same from an r5g6b5 surface (converted);
 *   conv 16bpp   that conversion alone, from a mapping.
 *
 *   qemu-copy-bench [--iterations N]
 */
#include <drm_fourcc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "qemu-private.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int memfd_of(size_t size)
{
	int fd = memfd_create("bench", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		perror("memfd");
		exit(1);
	}
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	memset(p, 0x42, size);
	munmap(p, size);
	return fd;
}

static void run(uint32_t fw, uint32_t fh, uint32_t rw, uint32_t rh, int iters)
{
	size_t stride = (size_t)fw * 4, size = stride * fh;
	size_t stride16 = (size_t)fw * 2;
	size_t dst_stride = (stride + 63) & ~(size_t)63;
	int fd = memfd_of(size), fd16 = memfd_of(stride16 * fh);
	uint8_t *dst = aligned_alloc(64, dst_stride * fh);
	uint8_t *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	uint8_t *map16 = mmap(NULL, stride16 * fh, PROT_READ, MAP_SHARED, fd16,
		0);
	double t0, t_map, t_pread, t_pread16, t_conv16;

	memset(dst, 0, dst_stride * fh);
	t0 = now_ms();
	for (int i = 0; i < iters; i++)
		zs_qemu_copy_rect(dst, dst_stride, DRM_FORMAT_XRGB8888, map,
			stride, ZS_PIXMAN_x8r8g8b8, rw, rh);
	t_map = (now_ms() - t0) / iters;
	t0 = now_ms();
	for (int i = 0; i < iters; i++)
		if (!zs_qemu_pread_rect(dst, dst_stride, DRM_FORMAT_XRGB8888,
				fd, 0, stride, ZS_PIXMAN_x8r8g8b8, rw, rh))
			abort();
	t_pread = (now_ms() - t0) / iters;
	t0 = now_ms();
	for (int i = 0; i < iters; i++)
		if (!zs_qemu_pread_rect(dst, dst_stride, DRM_FORMAT_XRGB8888,
				fd16, 0, stride16, ZS_PIXMAN_r5g6b5, rw, rh))
			abort();
	t_pread16 = (now_ms() - t0) / iters;
	t0 = now_ms();
	for (int i = 0; i < iters; i++)
		zs_qemu_copy_rect(dst, dst_stride, DRM_FORMAT_XRGB8888, map16,
			stride16, ZS_PIXMAN_r5g6b5, rw, rh);
	t_conv16 = (now_ms() - t0) / iters;
	printf("%5ux%-5u update %5ux%-5u  mmap+memcpy %7.3f ms  pread %7.3f ms "
		"(%+5.0f%%)  pread 16bpp %7.3f ms  conv 16bpp %7.3f ms\n", fw,
		fh, rw, rh, t_map, t_pread, (t_pread / t_map - 1) * 100,
		t_pread16, t_conv16);
	munmap(map16, stride16 * fh);
	munmap(map, size);
	free(dst);
	close(fd);
	close(fd16);
}

int main(int argc, char **argv)
{
	int iters = 200;

	if (argc == 3 && strcmp(argv[1], "--iterations") == 0)
		iters = atoi(argv[2]);
	if (iters <= 0) {
		fprintf(stderr, "usage: qemu-copy-bench [--iterations N]\n");
		return 2;
	}
	run(1920, 1080, 1920, 1080, iters);
	run(1920, 1080, 1920, 64, iters * 10);
	run(1920, 1080, 256, 256, iters * 10);
	run(1920, 1080, 64, 64, iters * 50);
	run(1280, 720, 1280, 720, iters);
	run(3840, 2160, 3840, 2160, iters / 4 + 1);
	return 0;
}
