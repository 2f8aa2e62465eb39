/* zerospice — QEMU's shared memory: what an fd QEMU passes really is, its
 * seals, and reading it in a way that survives the file shrinking.
 *
 * A mapping of a memfd that someone truncates raises SIGBUS on the next read
 * of a page past the new end, in whichever thread reads it (the encoder,
 * or our own copy). QEMU creates its ScanoutMap memfds without
 * MFD_ALLOW_SEALING, so they can neither be sealed by QEMU nor by us; a
 * hostile QEMU may truncate them. So: a memfd that cannot shrink
 * (F_SEAL_SHRINK, present or added by us) is mapped; any other regular file
 * is read with pread(), which returns short instead of faulting. Real
 * dma-bufs are anonymous inodes of a fixed size and are mapped. */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "qemu-private.h"

#ifndef DMA_BUF_MAGIC
#define DMA_BUF_MAGIC 0x444d4142
#endif

bool zs_qemu_fd_cannot_shrink(int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);

	if (seals < 0)
		return false;
	if (seals & F_SEAL_SHRINK)
		return true;
	if (seals & F_SEAL_SEAL)
		return false;
	/* Sealing is allowed but nobody sealed it: QEMU never shrinks a
	 * surface in place, so sealing costs it nothing. */
	return fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0;
}

static const char *file_type(mode_t mode)
{
	if (S_ISFIFO(mode))
		return "a pipe";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	return "not a file";
}

enum zs_qemu_fd_kind zs_qemu_fd_classify(int fd, uint64_t *size,
	char *why, size_t why_len)
{
	struct statfs sfs;
	struct stat st;
	off_t end;

	*size = 0;
	if (fstat(fd, &st) < 0) {
		snprintf(why, why_len, "fstat: %s", strerror(errno));
		return ZS_QEMU_FD_BAD;
	}
	if (fstatfs(fd, &sfs) == 0 && sfs.f_type == DMA_BUF_MAGIC) {
		/* dma-bufs give their size through lseek, not fstat. */
		end = lseek(fd, 0, SEEK_END);
		if (end <= 0) {
			snprintf(why, why_len, "dma-buf of size 0");
			return ZS_QEMU_FD_BAD;
		}
		*size = (uint64_t)end;
		return ZS_QEMU_FD_DMABUF;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, why_len, "fd is %s, not a dma-buf or memfd",
			file_type(st.st_mode));
		return ZS_QEMU_FD_BAD;
	}
	if (st.st_size <= 0) {
		snprintf(why, why_len, "memfd of size 0");
		return ZS_QEMU_FD_BAD;
	}
	*size = (uint64_t)st.st_size;
	return zs_qemu_fd_cannot_shrink(fd) ? ZS_QEMU_FD_SEALED :
		ZS_QEMU_FD_UNSEALED;
}

/* pread() of exactly len bytes at off; false when the file ended first (it
 * shrank) or on an error. */
static bool pread_all(int fd, uint8_t *dst, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pread(fd, dst, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		dst += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return true;
}

bool zs_qemu_pread_rect(uint8_t *dst, size_t dst_stride, uint32_t dst_fourcc,
	int fd, uint64_t src_offset, size_t src_stride, uint32_t pixman_format,
	uint32_t width, uint32_t height)
{
	uint32_t bytes = zs_qemu_pixman_bytes(pixman_format);
	size_t row = (size_t)width * bytes;
	bool same = zs_qemu_pixman_to_drm(pixman_format) == dst_fourcc;
	uint8_t *row_buf = NULL;
	bool ok = true;

	if (!bytes || !width || !height)
		return false;
	if (same && src_stride == dst_stride && row == src_stride) {
		/* Whole rows laid out alike: one read for the block. */
		return pread_all(fd, dst, row * height, src_offset);
	}
	if (!same)
		row_buf = g_malloc(row);
	for (uint32_t y = 0; y < height; y++) {
		uint64_t off = src_offset + (uint64_t)y * src_stride;
		uint8_t *d = dst + (size_t)y * dst_stride;

		if (same) {
			ok = pread_all(fd, d, row, off);
		} else {
			ok = pread_all(fd, row_buf, row, off);
			if (ok)
				zs_qemu_copy_rect(d, dst_stride, dst_fourcc,
					row_buf, row, pixman_format, width, 1);
		}
		if (!ok)
			break;
	}
	g_free(row_buf);
	return ok;
}
