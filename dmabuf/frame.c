/* Frame helpers: release, damage, CPU mapping and fourcc tables. */
#include "zs-dmabuf.h"

#include <drm_fourcc.h>
#include <errno.h>
#include <linux/dma-buf.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void zs_frame_release(struct zs_frame *frame)
{
	if (!frame || !frame->release)
		return;
	zs_frame_release_fn release = frame->release;
	frame->release = NULL;
	release(frame, frame->release_data);
}

static void rect_union(struct zs_rect *a, const struct zs_rect *b)
{
	int64_t x0 = a->x < b->x ? a->x : b->x;
	int64_t y0 = a->y < b->y ? a->y : b->y;
	int64_t x1 = (int64_t)a->x + a->width > (int64_t)b->x + b->width ?
			     (int64_t)a->x + a->width : (int64_t)b->x + b->width;
	int64_t y1 = (int64_t)a->y + a->height > (int64_t)b->y + b->height ?
			     (int64_t)a->y + a->height : (int64_t)b->y + b->height;
	a->x = (int32_t)x0;
	a->y = (int32_t)y0;
	a->width = (int32_t)(x1 - x0);
	a->height = (int32_t)(y1 - y0);
}

void zs_frame_add_damage(struct zs_frame *frame, struct zs_rect rect)
{
	int64_t x0 = rect.x < 0 ? 0 : rect.x, y0 = rect.y < 0 ? 0 : rect.y;
	int64_t x1 = (int64_t)rect.x + rect.width, y1 = (int64_t)rect.y + rect.height;
	if (x1 > frame->width)
		x1 = frame->width;
	if (y1 > frame->height)
		y1 = frame->height;
	if (x0 >= x1 || y0 >= y1)
		return;
	struct zs_rect clipped = {
		(int32_t)x0, (int32_t)y0, (int32_t)(x1 - x0), (int32_t)(y1 - y0),
	};
	if (frame->n_damage < 0)
		frame->n_damage = 0;
	if (frame->n_damage < ZS_FRAME_MAX_DAMAGE) {
		frame->damage[frame->n_damage++] = clipped;
		return;
	}
	/* Full list: one bounding box keeps the damage correct and leaves
	 * room for later calls (n_damage = 0 would read as "no list yet"). */
	struct zs_rect box = frame->damage[0];
	for (int i = 1; i < frame->n_damage; i++)
		rect_union(&box, &frame->damage[i]);
	rect_union(&box, &clipped);
	frame->damage[0] = box;
	frame->n_damage = 1;
}

static int fd_size(int fd, uint64_t *size)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		return 0;
	}
	/* dma-bufs report their size through lseek, not fstat. */
	off_t end = lseek(fd, 0, SEEK_END);
	if (end < 0)
		return -errno;
	lseek(fd, 0, SEEK_SET);
	*size = (uint64_t)end;
	return 0;
}

int zs_frame_map(const struct zs_frame *frame, struct zs_frame_map *map)
{
	memset(map, 0, sizeof(*map));
	map->sync_fd = -1;
	if (!frame || frame->n_planes < 1 || frame->planes[0].fd < 0)
		return -EINVAL;
	if (frame->reading)
		atomic_store(frame->reading, true);

	const struct zs_plane *p = &frame->planes[0];
	uint32_t bpp = zs_fourcc_bpp(frame->fourcc);
	if (bpp == 0 || frame->width == 0 || frame->height == 0)
		return -EINVAL;
	if ((uint64_t)frame->width * bpp > p->stride)
		return -EINVAL;
	uint64_t need = (uint64_t)p->offset + (uint64_t)p->stride * frame->height;
	if (frame->cpu_pixels) {
		if (need > frame->cpu_size)
			return -ERANGE;
		map->pixels = frame->cpu_pixels + p->offset;
		map->stride = p->stride;
		return 0; /* base stays NULL: nothing to unmap */
	}
	uint64_t size = 0;
	int ret = fd_size(p->fd, &size);
	if (ret < 0)
		return ret;
	if (need > size || need > SIZE_MAX)
		return -ERANGE;

	void *base = mmap(NULL, (size_t)need, PROT_READ, MAP_SHARED, p->fd, 0);
	if (base == MAP_FAILED)
		return -errno;

	struct dma_buf_sync sync = { .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ };
	if (ioctl(p->fd, DMA_BUF_IOCTL_SYNC, &sync) == 0)
		map->sync_fd = p->fd;

	map->base = base;
	map->length = (size_t)need;
	map->pixels = (const uint8_t *)base + p->offset;
	map->stride = p->stride;
	return 0;
}

void zs_frame_unmap(struct zs_frame_map *map)
{
	if (!map || !map->base)
		return;
	if (map->sync_fd >= 0) {
		struct dma_buf_sync sync = { .flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ };
		ioctl(map->sync_fd, DMA_BUF_IOCTL_SYNC, &sync);
	}
	munmap(map->base, map->length);
	memset(map, 0, sizeof(*map));
	map->sync_fd = -1;
}

uint32_t zs_fourcc_bpp(uint32_t fourcc)
{
	switch (fourcc) {
	case DRM_FORMAT_XRGB8888:
	case DRM_FORMAT_ARGB8888:
	case DRM_FORMAT_XBGR8888:
	case DRM_FORMAT_ABGR8888:
	case DRM_FORMAT_RGBX8888:
	case DRM_FORMAT_RGBA8888:
	case DRM_FORMAT_BGRX8888:
	case DRM_FORMAT_BGRA8888:
	case DRM_FORMAT_XRGB2101010:
	case DRM_FORMAT_ARGB2101010:
	case DRM_FORMAT_XBGR2101010:
	case DRM_FORMAT_ABGR2101010:
		return 4;
	case DRM_FORMAT_RGB888:
	case DRM_FORMAT_BGR888:
		return 3;
	case DRM_FORMAT_RGB565:
	case DRM_FORMAT_BGR565:
	case DRM_FORMAT_XRGB1555:
	case DRM_FORMAT_ARGB1555:
		return 2;
	default:
		return 0;
	}
}

const char *zs_fourcc_str(uint32_t fourcc, char buf[5])
{
	for (int i = 0; i < 4; i++) {
		char c = (char)((fourcc >> (8 * i)) & 0xff);
		buf[i] = (c >= 0x20 && c < 0x7f) ? c : '?';
	}
	buf[4] = '\0';
	return buf;
}
