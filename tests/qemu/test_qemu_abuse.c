/* zerospice tests — a hostile QEMU against the source, through the fake
 * QEMU peer: fds that are not what they claim, memory that shrinks under
 * us, allocations that fail between two messages, floods and absurd console
 * sizes. After each, the source must still be running and show a new
 * picture. */
#include <criterion/criterion.h>
#include <drm_fourcc.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake-peer.h"

TestSuite(qemu_abuse, .init = peer_setup, .fini = peer_teardown,
	.timeout = 120);

static bool newest_is(void *data)
{
	const uint32_t *wh = data;
	struct zs_frame *f = rec_newest(&P.rec);

	return f && f->width == wh[0] && f->height == wh[1];
}

/* The source still works: a new Scanout becomes a frame of that size. */
static void assert_frames_flow(uint32_t w, uint32_t h)
{
	struct call c;
	uint32_t wh[2] = { w, h };
	uint32_t *px = xrgb_pattern(w, h, 77);

	cr_assert(zs_qemu_source_is_running(P.src), "the source closed: %s",
		P.rec.reason);
	cr_assert(scanout_xrgb(w, h, px, &c), "Scanout after abuse: %s",
		c.err);
	cr_assert(loop_until(newest_is, wh, 3000), "no %ux%u frame after "
		"the abuse", w, h);
	cr_assert_eq(frame_pixel(rec_newest(&P.rec), w - 1, h - 1),
		px[(size_t)w * h - 1]);
	g_free(px);
}

static bool map_call(int fd, uint32_t w, uint32_t h, uint32_t stride,
	uint32_t format, struct call *c)
{
	GUnixFDList *fds = fds_of(1, &fd);
	bool ok = call(P.map, "ScanoutMap", g_variant_new("(huuuuu)", 0, 0, w,
		h, stride, format), fds, c);

	g_object_unref(fds);
	return ok;
}

static bool dmabuf_call(int fd, uint32_t w, uint32_t h, uint32_t stride,
	struct call *c)
{
	GUnixFDList *fds = fds_of(1, &fd);
	bool ok = call(P.listener, "ScanoutDMABUF", g_variant_new("(huuuutb)",
		0, w, h, stride, DRM_FORMAT_XRGB8888,
		(guint64)DRM_FORMAT_MOD_LINEAR, TRUE), fds, c);

	g_object_unref(fds);
	return ok;
}

static bool dmabuf2_call(int fd, uint32_t w, uint32_t h, uint32_t stride,
	struct call *c)
{
	int32_t handle = 0;
	uint32_t offset = 0;
	GUnixFDList *fds = fds_of(1, &fd);
	bool ok = call(P.dmabuf2, "ScanoutDMABUF2", g_variant_new(
		"(@ahuuuu@au@auuuuutb)",
		g_variant_new_fixed_array(G_VARIANT_TYPE_HANDLE, &handle, 1, 4),
		0, 0, w, h,
		g_variant_new_fixed_array(G_VARIANT_TYPE_UINT32, &offset, 1, 4),
		g_variant_new_fixed_array(G_VARIANT_TYPE_UINT32, &stride, 1, 4),
		1, DRM_FORMAT_XRGB8888, w, h, (guint64)DRM_FORMAT_MOD_LINEAR,
		TRUE), fds, c);

	g_object_unref(fds);
	return ok;
}

Test(qemu_abuse, unsealed_scanout_map_is_copied_and_truncation_costs_a_frame)
{
	struct call c;
	const uint32_t w = 256, h = 128, stride = 256 * 4;
	size_t size = (size_t)stride * h;
	int fd = memfd_unsealable(size, 0x20);

	cr_assert(map_call(fd, w, h, stride, ZS_PIXMAN_x8r8g8b8, &c), "%s",
		c.err);
	struct zs_frame *f = wait_frame(1);
	cr_assert_neq(fd_inode(f->planes[0].fd), fd_inode(fd),
		"an unsealed memfd went to the consumer as it is");
	cr_assert_eq(frame_pixel(f, 5, 5), 0x20202020);

	/* QEMU draws, says where: the copy follows. */
	uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert(p != MAP_FAILED);
	uint32_t px = 0xff654321;
	memcpy(p + 7 * stride + 9 * 4, &px, 4);
	munmap(p, size);
	cr_assert(call(P.map, "UpdateMap", g_variant_new("(iiii)", 9, 7, 1, 1),
		NULL, &c), "%s", c.err);
	struct zs_frame *f2 = wait_frame(2);
	cr_assert_eq(frame_pixel(f2, 9, 7), px);

	/* QEMU truncates its memfd while the consumer (the encoder) holds
	 * both frames: the frames stay readable, the next UpdateMap is
	 * refused instead of SIGBUS. */
	cr_assert(ftruncate(fd, 0) == 0);
	cr_assert_eq(frame_pixel(f, 5, 5), 0x20202020);
	cr_assert_eq(frame_pixel(f2, 9, 7), px);
	cr_assert(!call(P.map, "UpdateMap", g_variant_new("(iiii)", 0, 0, w,
		h), NULL, &c));
	cr_assert(strstr(c.err, "shrank"), "%s", c.err);
	close(fd);
	rec_release_all(&P.rec);
	assert_frames_flow(320, 200);
}

Test(qemu_abuse, sealed_scanout_map_is_shared_and_cannot_shrink)
{
	struct call c;
	const uint32_t w = 64, h = 64, stride = 256;
	int fd = memfd_with((size_t)stride * h, 0x11);

	cr_assert(map_call(fd, w, h, stride, ZS_PIXMAN_x8r8g8b8, &c), "%s",
		c.err);
	struct zs_frame *f = wait_frame(1);
	cr_assert_eq(fd_inode(f->planes[0].fd), fd_inode(fd));
	cr_assert(fcntl(fd, F_GET_SEALS) & F_SEAL_SHRINK,
		"zerospice did not seal the memfd it maps");
	cr_assert(ftruncate(fd, 0) < 0 && errno == EPERM,
		"a mapped memfd could shrink");
	close(fd);
}

enum bad_fd { BAD_PIPE, BAD_SOCKET, BAD_DIR, BAD_EMPTY, BAD_UNSEALED };

static int make_bad_fd(enum bad_fd kind, int *other)
{
	int sv[2];

	*other = -1;
	switch (kind) {
	case BAD_PIPE:
		cr_assert(pipe2(sv, O_CLOEXEC) == 0);
		*other = sv[1];
		return sv[0];
	case BAD_SOCKET:
		cr_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
			sv) == 0);
		*other = sv[1];
		return sv[0];
	case BAD_DIR:
		return open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	case BAD_EMPTY:
		return memfd_with(0, 0);
	case BAD_UNSEALED:
	default:
		return memfd_unsealable(256 * 64, 0);
	}
}

Test(qemu_abuse, pipes_sockets_directories_and_empty_fds_are_refused)
{
	static const char *const names[] = { "pipe", "socket", "directory",
		"size-0 memfd", "unsealed memfd" };
	struct call c;
	int n_refused = 0;

	for (int k = BAD_PIPE; k <= BAD_UNSEALED; k++) {
		for (int method = 0; method < 3; method++) {
			int other, fd = make_bad_fd(k, &other);
			bool ok;

			cr_assert(fd >= 0);
			/* An unsealed memfd is fine for ScanoutMap (copied). */
			if (method == 0 && k == BAD_UNSEALED) {
				close(fd);
				continue;
			}
			if (method == 0)
				ok = map_call(fd, 64, 64, 256,
					ZS_PIXMAN_x8r8g8b8, &c);
			else if (method == 1)
				ok = dmabuf_call(fd, 64, 64, 256, &c);
			else
				ok = dmabuf2_call(fd, 64, 64, 256, &c);
			printf("%-14s %-15s -> %s\n", names[k], method == 0 ?
				"ScanoutMap" : method == 1 ? "ScanoutDMABUF" :
				"ScanoutDMABUF2", ok ? "ACCEPTED" : c.err);
			cr_assert(!ok, "%s accepted by method %d", names[k],
				method);
			cr_assert(strstr(c.err, "zerospice refused"), "%s", c.err);
			n_refused++;
			close(fd);
			if (other >= 0)
				close(other);
			cr_assert(zs_qemu_source_is_running(P.src));
		}
	}
	cr_assert_eq(n_refused, 14);
	assert_frames_flow(640, 360);
}

Test(qemu_abuse, allocation_failure_between_scanout_map_and_update_map)
{
	struct call c;
	const uint32_t w = 128, h = 64;
	int fd32 = memfd_with((size_t)w * 4 * h, 0x33);
	int fd16 = memfd_unsealable((size_t)w * 2 * h, 0x44);

	/* A 32-bit ScanoutMap (no framebuffer of ours), then a 16-bit one
	 * whose framebuffer cannot be allocated. */
	cr_assert(map_call(fd32, w, h, w * 4, ZS_PIXMAN_x8r8g8b8, &c), "%s",
		c.err);
	wait_frame(1);
	zs_qemu_test_fail_allocs = 1;
	cr_assert(!map_call(fd16, w, h, w * 2, ZS_PIXMAN_r5g6b5, &c));
	cr_assert(strstr(c.err, "out of memory"), "%s", c.err);
	cr_assert_eq(zs_qemu_test_fail_allocs, 0);
	/* QEMU goes on as if it had worked. */
	for (int i = 0; i < 20; i++)
		call(P.map, "UpdateMap", g_variant_new("(iiii)", i, i, 8, 8),
			NULL, &c);
	cr_assert(zs_qemu_source_is_running(P.src));

	/* The same with nothing before it, on both paths. */
	cr_assert(call(P.listener, "Disable", NULL, NULL, &c), "%s", c.err);
	zs_qemu_test_fail_allocs = 1;
	cr_assert(!map_call(fd16, w, h, w * 2, ZS_PIXMAN_r5g6b5, &c));
	cr_assert(!call(P.map, "UpdateMap", g_variant_new("(iiii)", 0, 0, 8,
		8), NULL, &c));
	zs_qemu_test_fail_allocs = 1;
	uint16_t px16[64] = { 0 };
	cr_assert(!call(P.listener, "Scanout", g_variant_new("(uuuu@ay)", 8, 8,
		16, ZS_PIXMAN_r5g6b5, bytes_v(px16, sizeof(px16))), NULL, &c));
	call(P.listener, "Update", g_variant_new("(iiiiuu@ay)", 0, 0, 8, 8, 16,
		ZS_PIXMAN_r5g6b5, bytes_v(px16, sizeof(px16))), NULL, &c);
	zs_qemu_test_fail_allocs = 0;

	/* And it works once memory is back. */
	cr_assert(map_call(fd16, w, h, w * 2, ZS_PIXMAN_r5g6b5, &c), "%s",
		c.err);
	cr_assert(call(P.map, "UpdateMap", g_variant_new("(iiii)", 0, 0, 8, 8),
		NULL, &c), "%s", c.err);
	close(fd32);
	close(fd16);
	rec_release_all(&P.rec);
	assert_frames_flow(200, 100);
}

Test(qemu_abuse, console_size_zero_and_65535_are_ignored)
{
	struct call c;
	uint32_t *px = xrgb_pattern(320, 200, 3);
	uint32_t sizes[][2] = { { 0, 0 }, { 65535, 65535 }, { 0, 480 },
		{ 65535, 1 }, { 1, 65535 } };

	cr_assert(scanout_xrgb(320, 200, px, &c), "%s", c.err);
	wait_frame(1);
	for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
		zs_qemu_display1_console_set_width(P.console, sizes[i][0]);
		zs_qemu_display1_console_set_height(P.console, sizes[i][1]);
		loop_for(50);
		struct zs_frame *f = rec_newest(&P.rec);
		cr_assert(f->width <= ZS_QEMU_MAX_DIM &&
			f->height <= ZS_QEMU_MAX_DIM, "frame %ux%u", f->width,
			f->height);
		cr_assert(zs_qemu_source_is_running(P.src));
		/* Input is clamped to a sane picture meanwhile. */
		zs_source_pointer_abs(P.src, 70000, 70000, 0);
	}
	g_free(px);
	rec_release_all(&P.rec);
	assert_frames_flow(640, 480);
}

static bool all_moves_seen(void *want)
{
	return P.rec.n_cursor_move >= GPOINTER_TO_INT(want);
}

Test(qemu_abuse, floods_of_cursor_shapes_and_moves)
{
	struct call c;
	const int dim = ZS_QEMU_MAX_CURSOR_DIM, n_shapes = 40, n_moves = 5000;
	uint8_t *argb = g_malloc((size_t)dim * dim * 4);
	struct call *moves = g_new(struct call, n_moves);

	memset(argb, 0x7f, (size_t)dim * dim * 4);
	for (int i = 0; i < n_shapes; i++) {
		argb[0] = (uint8_t)i;
		cr_assert(call(P.listener, "CursorDefine", g_variant_new(
			"(iiii@ay)", dim, dim, i % dim, 0,
			bytes_v(argb, (size_t)dim * dim * 4)), NULL, &c),
			"%s", c.err);
	}
	cr_assert_eq(P.rec.n_cursor_define, n_shapes);
	cr_assert_eq(P.rec.cursor_w, (uint32_t)dim);
	/* Moves without waiting for the replies, as fast as D-Bus takes
	 * them. */
	for (int i = 0; i < n_moves; i++)
		call_async(P.listener, "MouseSet", g_variant_new("(iii)",
			i % 1000, i % 700, 1), NULL, &moves[i]);
	/* Under load a reply may time out before the source handled every
	 * move: wait for the moves themselves. */
	cr_assert(loop_until(all_moves_seen, GINT_TO_POINTER(n_moves), 60000),
		"%d of %d moves seen", P.rec.n_cursor_move, n_moves);
	for (int i = 0; i < 200 && !moves[n_moves - 1].done; i++)
		loop_for(50);
	cr_assert_eq(P.rec.n_cursor_move, n_moves);
	cr_assert_eq(P.rec.move_x, (n_moves - 1) % 1000);
	g_free(argb);
	g_free(moves);
	assert_frames_flow(320, 240);
}

static bool mouse_absolute(void *data)
{
	ZsQemuDisplay1Mouse *m = ((struct zs_qemu_source *)P.src)->mouse;

	(void)data;
	return m && zs_qemu_display1_mouse_get_is_absolute(m);
}

static unsigned count_calls(const char *prefix)
{
	unsigned n = 0;

	for (guint i = 0; i < P.calls->len; i++)
		n += g_str_has_prefix(g_ptr_array_index(P.calls, i), prefix);
	return n;
}

static bool last_call_is(void *want)
{
	return P.calls->len && strcmp(g_ptr_array_index(P.calls,
		P.calls->len - 1), want) == 0;
}

Test(qemu_abuse, pointer_moves_toward_a_stalled_qemu_are_coalesced)
{
	struct call c;
	uint32_t *px = xrgb_pattern(640, 480, 9);
	const int n_moves = 5000;

	cr_assert(scanout_xrgb(640, 480, px, &c), "%s", c.err);
	wait_frame(1);
	zs_qemu_display1_mouse_set_is_absolute(P.mouse, TRUE);
	cr_assert(loop_until(mouse_absolute, NULL, 3000));
	P.held = g_ptr_array_new();
	for (int i = 0; i < n_moves; i++)
		zs_source_pointer_abs(P.src, i % 640, i % 480, 0);
	loop_for(300);
	unsigned sent = count_calls("SetAbsPosition");
	printf("%d moves toward a QEMU that does not answer: %u calls "
		"reached it\n", n_moves, sent);
	cr_assert_leq(sent, ZS_QEMU_MAX_MOTION_CALLS,
		"motion piles up toward a stalled QEMU");
	cr_assert_gt(sent, 0);
	/* QEMU answers again: the newest position follows. */
	peer_release_held();
	char want[64];
	snprintf(want, sizeof(want), "SetAbsPosition %d %d",
		(n_moves - 1) % 640, (n_moves - 1) % 480);
	cr_assert(loop_until(last_call_is, want, 3000), "the newest position "
		"did not follow (last: %s)", P.calls->len ?
		(char *)g_ptr_array_index(P.calls, P.calls->len - 1) : "none");
	/* A click after held motion goes out after the motion. */
	zs_source_pointer_abs(P.src, 5, 6, ZS_BUTTON_LEFT);
	zs_source_pointer_abs(P.src, 5, 6, 0);
	cr_assert(loop_until(last_call_is, "ButtonRelease 0", 3000));
	g_free(px);
}

Test(qemu_abuse, key_presses_toward_a_stalled_qemu_are_bounded)
{
	const int n_keys = 3000;

	P.held = g_ptr_array_new();
	for (int i = 0; i < n_keys; i++) {
		zs_source_key(P.src, 0x10 + (uint32_t)(i % 26), true);
		zs_source_key(P.src, 0x10 + (uint32_t)(i % 26), false);
	}
	/* releases of keys that are not down go nowhere */
	for (int i = 0; i < n_keys; i++)
		zs_source_key(P.src, 0x1e, false);
	loop_for(500);
	unsigned presses = count_calls("Press"), releases = count_calls("Release");
	printf("%d key strokes toward a QEMU that does not answer presses: "
		"%u presses, %u releases reached it\n", n_keys, presses,
		releases);
	cr_assert_leq(presses, ZS_QEMU_MAX_PRESS_CALLS);
	cr_assert_eq(releases, presses, "a release without its press, or a "
		"press without its release");
	peer_release_held();
	loop_for(100);
	/* Answered again: keys go through. */
	g_ptr_array_set_size(P.calls, 0);
	zs_source_key(P.src, 0x1e, true);
	zs_source_key(P.src, 0x1e, false);
	cr_assert(loop_until(last_call_is, "Release 30", 3000));
	cr_assert_str_eq(g_ptr_array_index(P.calls, 0), "Press 30");
}
