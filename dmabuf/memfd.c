/* memfd-backed buffers: the dma-buf stand-in on machines without DRM. */
#include "zs-dmabuf.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int zs_memfd_buffer_init(struct zs_memfd_buffer *buf, const char *name,
	uint32_t width, uint32_t height, uint32_t fourcc)
{
	memset(buf, 0, sizeof(*buf));
	buf->fd = -1;
	if (zs_fourcc_bpp(fourcc) != 4 || width == 0 || height == 0 ||
	    width > 65536 || height > 65536)
		return -EINVAL;

	uint32_t stride = width * 4;
	size_t size = (size_t)stride * height;
	int ret;
	int fd = memfd_create(name ? name : "zs-buffer",
		MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		ret = -errno;
		goto err_close;
	}
	/* Consumers map the fd and trust its size: forbid resizing. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		ret = -errno;
		goto err_close;
	}
	void *pixels = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (pixels == MAP_FAILED) {
		ret = -errno;
		goto err_close;
	}

	buf->fd = fd;
	buf->pixels = pixels;
	buf->size = size;
	buf->width = width;
	buf->height = height;
	buf->stride = stride;
	buf->fourcc = fourcc;
	return 0;

err_close:
	close(fd);
	return ret;
}

void zs_memfd_buffer_finish(struct zs_memfd_buffer *buf)
{
	if (!buf)
		return;
	if (buf->pixels && buf->size)
		munmap(buf->pixels, buf->size);
	buf->pixels = NULL;
	buf->size = 0;
	/* A zeroed struct has fd 0, which this buffer never owns unless
	 * memfd_create returned it; size tells the two apart. */
	if (buf->fd > 0 || (buf->fd == 0 && buf->width))
		close(buf->fd);
	buf->fd = -1;
}

int zs_memfd_buffer_discard(struct zs_memfd_buffer *buf)
{
	if (!buf || buf->fd < 0 || !buf->size)
		return -EINVAL;
	/* The seals forbid growing and shrinking, not punching a hole that
	 * keeps the size; the shared mapping stays valid and reads zeros. */
	if (fallocate(buf->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
		    (off_t)buf->size) < 0)
		return -errno;
	return 0;
}
