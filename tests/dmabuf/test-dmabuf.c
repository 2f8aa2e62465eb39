/* Tests for frames, memfd buffers, the test pattern and its source. */
#include <criterion/criterion.h>
#include <drm_fourcc.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zs-dmabuf.h"

Test(memfd, buffer_has_size_seals_and_cloexec)
{
	struct zs_memfd_buffer buf;
	cr_assert_eq(zs_memfd_buffer_init(&buf, "t", 33, 17, DRM_FORMAT_XRGB8888), 0);
	cr_assert_eq(buf.stride, 33 * 4);
	cr_assert_eq(buf.size, 33 * 4 * 17);
	struct stat st;
	cr_assert_eq(fstat(buf.fd, &st), 0);
	cr_assert_eq((size_t)st.st_size, buf.size);
	int seals = fcntl(buf.fd, F_GET_SEALS);
	cr_assert(seals & F_SEAL_SHRINK);
	cr_assert(seals & F_SEAL_GROW);
	cr_assert(fcntl(buf.fd, F_GETFD) & FD_CLOEXEC);
	cr_assert_lt(ftruncate(buf.fd, 10), 0);
	cr_assert_lt(ftruncate(buf.fd, (off_t)buf.size * 2), 0);
	buf.pixels[buf.size - 1] = 0x5a;
	zs_memfd_buffer_finish(&buf);
	cr_assert_eq(buf.fd, -1);
	cr_assert_null(buf.pixels);
	zs_memfd_buffer_finish(&buf);
}

Test(memfd, finish_is_safe_on_zeroed_buffer)
{
	struct zs_memfd_buffer buf;
	memset(&buf, 0, sizeof(buf));
	zs_memfd_buffer_finish(&buf);
	cr_assert_eq(buf.fd, -1);
	/* fd 0 was not closed by mistake */
	cr_assert_neq(fcntl(0, F_GETFD), -1);
}

Test(memfd, rejects_unknown_format_and_zero_size)
{
	struct zs_memfd_buffer buf;
	cr_assert_eq(zs_memfd_buffer_init(&buf, "t", 0, 10, DRM_FORMAT_XRGB8888), -EINVAL);
	cr_assert_eq(zs_memfd_buffer_init(&buf, "t", 10, 10, DRM_FORMAT_NV12), -EINVAL);
	cr_assert_eq(buf.fd, -1);
}

static struct zs_frame frame_for(const struct zs_memfd_buffer *buf)
{
	struct zs_frame f = {
		.width = buf->width, .height = buf->height,
		.fourcc = buf->fourcc, .modifier = DRM_FORMAT_MOD_LINEAR,
		.y0_top = true, .n_planes = 1,
		.planes = { { .fd = buf->fd, .offset = 0, .stride = buf->stride } },
	};
	return f;
}

Test(frame, map_reads_the_pixels)
{
	struct zs_memfd_buffer buf;
	cr_assert_eq(zs_memfd_buffer_init(&buf, "t", 64, 32, DRM_FORMAT_XRGB8888), 0);
	buf.pixels[5 * buf.stride + 7] = 0xab;
	struct zs_frame f = frame_for(&buf);
	struct zs_frame_map map;
	cr_assert_eq(zs_frame_map(&f, &map), 0);
	cr_assert_eq(map.pixels[5 * map.stride + 7], 0xab);
	cr_assert_eq(map.sync_fd, -1);
	zs_frame_unmap(&map);
	cr_assert_null(map.base);
	zs_frame_unmap(&map);
	zs_memfd_buffer_finish(&buf);
}

Test(frame, map_rejects_planes_past_the_end)
{
	struct zs_memfd_buffer buf;
	cr_assert_eq(zs_memfd_buffer_init(&buf, "t", 64, 32, DRM_FORMAT_XRGB8888), 0);
	struct zs_frame_map map;
	struct zs_frame f = frame_for(&buf);
	f.planes[0].offset = 4;
	cr_assert_eq(zs_frame_map(&f, &map), -ERANGE);
	f = frame_for(&buf);
	f.planes[0].stride += 4;
	cr_assert_eq(zs_frame_map(&f, &map), -ERANGE);
	f = frame_for(&buf);
	f.planes[0].stride = UINT32_MAX;
	f.planes[0].offset = UINT32_MAX;
	cr_assert_eq(zs_frame_map(&f, &map), -ERANGE);
	f = frame_for(&buf);
	f.planes[0].stride = 64 * 4 - 4; /* narrower than a row */
	cr_assert_eq(zs_frame_map(&f, &map), -EINVAL);
	f = frame_for(&buf);
	f.n_planes = 0;
	cr_assert_eq(zs_frame_map(&f, &map), -EINVAL);
	f = frame_for(&buf);
	f.height = 31;
	f.planes[0].offset = buf.stride; /* exactly fits */
	cr_assert_eq(zs_frame_map(&f, &map), 0);
	zs_frame_unmap(&map);
	zs_memfd_buffer_finish(&buf);
}

Test(frame, damage_is_clipped_and_collapses_when_full)
{
	struct zs_frame f = { .width = 100, .height = 50 };
	zs_frame_add_damage(&f, (struct zs_rect){ -10, -10, 20, 20 });
	cr_assert_eq(f.n_damage, 1);
	cr_assert_eq(f.damage[0].x, 0);
	cr_assert_eq(f.damage[0].width, 10);
	cr_assert_eq(f.damage[0].height, 10);
	zs_frame_add_damage(&f, (struct zs_rect){ 200, 0, 5, 5 });
	cr_assert_eq(f.n_damage, 1);
	for (int i = 0; i < ZS_FRAME_MAX_DAMAGE + 3; i++)
		zs_frame_add_damage(&f, (struct zs_rect){ i * 4, 40, 2, 2 });
	cr_assert_leq(f.n_damage, ZS_FRAME_MAX_DAMAGE);
	/* every added rect is still covered */
	for (int i = 0; i < ZS_FRAME_MAX_DAMAGE + 3; i++) {
		int32_t x = i * 4, y = 40;
		bool covered = false;
		for (int d = 0; d < f.n_damage; d++) {
			const struct zs_rect *r = &f.damage[d];
			covered |= x >= r->x && x + 2 <= r->x + r->width &&
				   y >= r->y && y + 2 <= r->y + r->height;
		}
		cr_assert(covered, "rect %d lost", i);
	}
}

static int released;
static void count_release(struct zs_frame *frame, void *data)
{
	released += *(int *)data;
}

Test(frame, release_calls_the_producer_once)
{
	int one = 1;
	struct zs_frame f = { .release = count_release, .release_data = &one };
	released = 0;
	zs_frame_release(&f);
	zs_frame_release(&f);
	zs_frame_release(NULL);
	cr_assert_eq(released, 1);
}

Test(frame, fourcc_helpers)
{
	char buf[5];
	cr_assert_str_eq(zs_fourcc_str(DRM_FORMAT_XRGB8888, buf), "XR24");
	cr_assert_eq(zs_fourcc_bpp(DRM_FORMAT_XRGB8888), 4);
	cr_assert_eq(zs_fourcc_bpp(DRM_FORMAT_BGR888), 3);
	cr_assert_eq(zs_fourcc_bpp(DRM_FORMAT_NV12), 0);
}
