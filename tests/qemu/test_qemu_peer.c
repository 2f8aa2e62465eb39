/* zerospice tests — the QEMU source against a fake QEMU: a GDBus peer in the
 * test that serves Console/Keyboard/Mouse and drives the listener. Covers
 * what QEMU 7.2 does not send: Unix.Map (QEMU >= 9.2), ScanoutDMABUF and its
 * acknowledgement, ScanoutDMABUF2 (QEMU >= 10.1), and hostile values. */
#include <criterion/criterion.h>
#include <drm_fourcc.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>

#include "fake-peer.h"

TestSuite(qemu_peer, .init = peer_setup, .fini = peer_teardown,
	.timeout = 60);

Test(qemu_peer, listener_advertises_the_interfaces_it_implements)
{
	const char *const *ifaces = zs_qemu_display1_listener_get_interfaces(
		ZS_QEMU_DISPLAY1_LISTENER(P.listener));

	cr_assert_not_null(ifaces);
	cr_assert(g_strv_contains(ifaces, "org.qemu.Display1.Listener.Unix.Map"));
	cr_assert(g_strv_contains(ifaces,
		"org.qemu.Display1.Listener.Unix.ScanoutDMABUF2"));
	cr_assert_eq(g_strv_length((char **)ifaces), 2);
}

Test(qemu_peer, scanout_and_update_double_buffer_without_tearing)
{
	struct call c;
	const uint32_t w = 1366, h = 768;
	uint32_t *a = xrgb_pattern(w, h, 1), *b = xrgb_pattern(50, 20, 7);

	cr_assert(scanout_xrgb(w, h, a, &c), "%s", c.err);
	struct zs_frame *f1 = wait_frame(1);
	cr_assert_eq(f1->width, w);
	cr_assert_eq(f1->height, h);
	cr_assert_eq(f1->fourcc, DRM_FORMAT_XRGB8888);
	cr_assert_eq(f1->modifier, DRM_FORMAT_MOD_LINEAR);
	cr_assert_eq(f1->n_damage, 0);
	cr_assert(f1->planes[0].stride >= w * 4);
	cr_assert_eq(frame_pixel(f1, 0, 0), a[0]);
	cr_assert_eq(frame_pixel(f1, w - 1, h - 1), a[w * h - 1]);

	/* Frame 1 is held: the update must go elsewhere. */
	cr_assert(update_xrgb(100, 200, 50, 20, b, &c), "%s", c.err);
	struct zs_frame *f2 = wait_frame(2);
	cr_assert_neq(fd_inode(f2->planes[0].fd), fd_inode(f1->planes[0].fd));
	cr_assert_eq(f2->n_damage, 1);
	cr_assert_eq(f2->damage[0].x, 100);
	cr_assert_eq(f2->damage[0].y, 200);
	cr_assert_eq(f2->damage[0].width, 50);
	cr_assert_eq(f2->damage[0].height, 20);
	cr_assert_eq(frame_pixel(f2, 100, 200), b[0]);
	cr_assert_eq(frame_pixel(f2, 149, 219), b[50 * 20 - 1]);
	cr_assert_eq(frame_pixel(f2, 99, 200), a[200 * w + 99]);
	cr_assert_eq(frame_pixel(f1, 100, 200), a[200 * w + 100],
		"held frame changed under its consumer");

	/* Frame 1's buffer is free again once released, and brought up to
	 * date before reuse. */
	rec_release(&P.rec, f1);
	rec_release(&P.rec, f2);
	loop_for(20);
	cr_assert(update_xrgb(0, 0, 50, 20, b, &c), "%s", c.err);
	struct zs_frame *f3 = wait_frame(3);
	cr_assert_eq(frame_pixel(f3, 0, 0), b[0]);
	cr_assert_eq(frame_pixel(f3, 100, 200), b[0]);
	cr_assert_eq(frame_pixel(f3, 1365, 767), a[w * h - 1]);
	g_free(a);
	g_free(b);
}

/* A whole-picture update skips bringing the free buffer up to date (it is
 * all overwritten); the next partial one still brings it up to date. */
Test(qemu_peer, whole_update_into_free_buffer_then_partial_is_complete)
{
	struct call c;
	const uint32_t w = 640, h = 360;
	uint32_t *a = xrgb_pattern(w, h, 1), *n = xrgb_pattern(w, h, 3);
	uint32_t *b = xrgb_pattern(50, 20, 7);

	cr_assert(scanout_xrgb(w, h, a, &c), "%s", c.err);
	struct zs_frame *f1 = wait_frame(1);
	/* frame 1 held: the whole new picture goes to a free buffer */
	cr_assert(update_xrgb(0, 0, w, h, n, &c), "%s", c.err);
	struct zs_frame *f2 = wait_frame(2);
	for (uint32_t y = 0; y < h; y += 7)
		for (uint32_t x = 0; x < w; x += 13)
			cr_assert_eq(frame_pixel(f2, x, y), n[y * w + x],
				"(%u,%u)", x, y);
	cr_assert_eq(frame_pixel(f1, 5, 5), a[5 * w + 5]);

	/* frame 2 held, frame 1's buffer free but two pictures behind */
	rec_release(&P.rec, f1);
	loop_for(20);
	cr_assert(update_xrgb(0, 0, 50, 20, b, &c), "%s", c.err);
	struct zs_frame *f3 = wait_frame(3);
	cr_assert_neq(fd_inode(f3->planes[0].fd), fd_inode(f2->planes[0].fd));
	cr_assert_eq(frame_pixel(f3, 0, 0), b[0]);
	for (uint32_t y = 0; y < h; y += 7)
		for (uint32_t x = 50; x < w; x += 13)
			cr_assert_eq(frame_pixel(f3, x, y), n[y * w + x],
				"stale pixel at (%u,%u)", x, y);
	rec_release(&P.rec, f2);
	rec_release(&P.rec, f3);
	g_free(a);
	g_free(n);
	g_free(b);
}

static gpointer release_on_thread(gpointer data)
{
	struct zs_frame *f = data;

	f->release(f, f->release_data);
	return NULL;
}

Test(qemu_peer, frame_released_from_another_thread_frees_its_buffer)
{
	struct call c;
	uint32_t *a = xrgb_pattern(720, 400, 3);

	cr_assert(scanout_xrgb(720, 400, a, &c), "%s", c.err);
	struct zs_frame *f1 = wait_frame(1);
	uint64_t ino = fd_inode(f1->planes[0].fd);
	g_ptr_array_remove(P.rec.frames, f1);
	g_thread_join(g_thread_new("release", release_on_thread, f1));
	loop_for(20);
	/* The newest buffer is free again: the next update reuses it. */
	cr_assert(update_xrgb(0, 0, 1, 1, a, &c), "%s", c.err);
	struct zs_frame *f2 = wait_frame(2);
	cr_assert_eq(fd_inode(f2->planes[0].fd), ino);
	g_free(a);
}

Test(qemu_peer, pixman_formats_become_drm_fourccs)
{
	struct call c;
	/* r5g6b5: pure red, green, blue, white */
	uint16_t rgb565[4] = { 0xf800, 0x07e0, 0x001f, 0xffff };
	uint32_t abgr[2] = { 0x80112233, 0xff445566 };

	cr_assert(call(P.listener, "Scanout", g_variant_new("(uuuu@ay)", 4, 1,
		8, ZS_PIXMAN_r5g6b5, bytes_v(rgb565, sizeof(rgb565))), NULL, &c),
		"%s", c.err);
	struct zs_frame *f = wait_frame(1);
	cr_assert_eq(f->fourcc, DRM_FORMAT_XRGB8888);
	cr_assert_eq(frame_pixel(f, 0, 0) & 0xffffff, 0xff0000);
	cr_assert_eq(frame_pixel(f, 1, 0) & 0xffffff, 0x00ff00);
	cr_assert_eq(frame_pixel(f, 2, 0) & 0xffffff, 0x0000ff);
	cr_assert_eq(frame_pixel(f, 3, 0) & 0xffffff, 0xffffff);

	/* 32-bit layouts are kept as they are. */
	cr_assert(call(P.listener, "Scanout", g_variant_new("(uuuu@ay)", 2, 1,
		8, ZS_PIXMAN_a8b8g8r8, bytes_v(abgr, sizeof(abgr))), NULL, &c),
		"%s", c.err);
	f = wait_frame(2);
	cr_assert_eq(f->fourcc, DRM_FORMAT_ABGR8888);
	cr_assert_eq(frame_pixel(f, 1, 0), 0xff445566);
}

Test(qemu_peer, resize_seen_only_as_wider_updates_and_console_properties)
{
	struct call c;
	uint32_t *a = xrgb_pattern(640, 480, 5), *row = xrgb_pattern(720, 16, 9);

	cr_assert(scanout_xrgb(640, 480, a, &c), "%s", c.err);
	wait_frame(1);
	/* What QEMU 7.2 sends on a VGA mode switch to 720x400: strips of the
	 * new size, then the Width/Height change. */
	cr_assert(update_xrgb(0, 384, 720, 16, row, &c), "%s", c.err);
	zs_qemu_display1_console_set_width(P.console, 720);
	zs_qemu_display1_console_set_height(P.console, 400);
	struct zs_frame *f = wait_frame(2);
	cr_assert_eq(f->width, 720);
	cr_assert_eq(f->height, 400, "frame %ux%u", f->width, f->height);
	cr_assert_eq(frame_pixel(f, 719, 399), row[720 * 16 - 1]);
	cr_assert_eq(frame_pixel(f, 0, 0), a[0]);

	/* A resize that shows only as a property change. */
	zs_qemu_display1_console_set_width(P.console, 1366);
	zs_qemu_display1_console_set_height(P.console, 768);
	f = wait_frame(3);
	cr_assert_eq(f->width, 1366);
	cr_assert_eq(f->height, 768);
	g_free(a);
	g_free(row);
}

Test(qemu_peer, disable_shows_black)
{
	struct call c;
	uint32_t *a = xrgb_pattern(720, 400, 5);

	cr_assert(scanout_xrgb(720, 400, a, &c), "%s", c.err);
	wait_frame(1);
	cr_assert(call(P.listener, "Disable", NULL, NULL, &c), "%s", c.err);
	struct zs_frame *f = wait_frame(2);
	cr_assert_eq(f->width, 720);
	cr_assert_eq(frame_pixel(f, 10, 10) & 0xffffff, 0);
	g_free(a);
}

Test(qemu_peer, scanout_map_shares_the_memfd_without_copy)
{
	struct call c;
	const uint32_t w = 1366, h = 768, stride = 1366 * 4 + 8, off = 4096;
	size_t size = off + (size_t)stride * h;
	int fd = memfd_with(size, 0x40);

	GUnixFDList *fds = fds_of(1, &fd);
	cr_assert(call(P.map, "ScanoutMap", g_variant_new("(huuuuu)", 0, off, w,
		h, stride, ZS_PIXMAN_x8r8g8b8), fds, &c), "%s", c.err);
	g_object_unref(fds);
	struct zs_frame *f = wait_frame(1);
	cr_assert_eq(fd_inode(f->planes[0].fd), fd_inode(fd),
		"the frame is not QEMU's memfd");
	cr_assert_eq(f->planes[0].offset, off);
	cr_assert_eq(f->planes[0].stride, stride);
	cr_assert_eq(f->width, w);
	cr_assert_eq(f->fourcc, DRM_FORMAT_XRGB8888);

	/* QEMU draws in place, then says where. */
	uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert(p != MAP_FAILED);
	uint32_t px = 0xff123456;
	memcpy(p + off + 10 * stride + 20 * 4, &px, 4);
	munmap(p, size);
	cr_assert(call(P.map, "UpdateMap", g_variant_new("(iiii)", 20, 10, 1, 1),
		NULL, &c), "%s", c.err);
	f = wait_frame(2);
	cr_assert_eq(f->n_damage, 1);
	cr_assert_eq(f->damage[0].x, 20);
	cr_assert_eq(frame_pixel(f, 20, 10), px);
	close(fd);
}

static bool call_and_frame(void *data)
{
	struct call *c = data;

	return c->done || P.rec.frames->len > 0;
}

Test(qemu_peer, dmabuf_frame_keeps_layout_and_update_waits_for_release)
{
	struct call c, u;
	const uint32_t w = 1920, h = 1080, stride = 8192;
	int fd = memfd_with((size_t)stride * h, 0);
	uint64_t mod = I915_FORMAT_MOD_X_TILED;

	GUnixFDList *fds = fds_of(1, &fd);
	cr_assert(call(P.listener, "ScanoutDMABUF", g_variant_new("(huuuutb)",
		0, w, h, stride, DRM_FORMAT_XRGB8888, mod, FALSE), fds, &c),
		"%s", c.err);
	g_object_unref(fds);
	struct zs_frame *f = wait_frame(1);
	cr_assert_eq(fd_inode(f->planes[0].fd), fd_inode(fd));
	cr_assert_eq(f->width, w);
	cr_assert_eq(f->height, h);
	cr_assert_eq(f->planes[0].stride, stride);
	cr_assert_eq(f->fourcc, DRM_FORMAT_XRGB8888);
	cr_assert_eq(f->modifier, mod);
	cr_assert_eq(f->y0_top, false);
	rec_release_all(&P.rec);

	/* The UpdateDMABUF reply is QEMU's frame acknowledgement. */
	call_async(P.listener, "UpdateDMABUF", g_variant_new("(iiii)", 0, 0, 64,
		32), NULL, &u);
	cr_assert(loop_until(call_and_frame, &u, 3000));
	cr_assert(!u.done, "UpdateDMABUF answered before the frame came");
	f = rec_newest(&P.rec);
	cr_assert_eq(f->n_damage, 1);
	cr_assert_eq(f->damage[0].width, 64);
	loop_for(50);
	cr_assert(!u.done, "UpdateDMABUF answered while the frame is held");
	int64_t released_us = g_get_monotonic_time();
	rec_release_all(&P.rec);
	cr_assert(loop_until(call_is_done, &u, 3000));
	cr_assert(u.ok, "%s", u.err);
	cr_assert(u.done_us - released_us < 90 * 1000);

	/* A consumer that holds on: QEMU gets its answer after the bound. */
	int64_t t0 = g_get_monotonic_time();
	call_async(P.listener, "UpdateDMABUF", g_variant_new("(iiii)", 0, 0, w,
		h), NULL, &u);
	cr_assert(loop_until(call_is_done, &u, 3000));
	cr_assert(u.ok, "%s", u.err);
	int64_t waited_ms = (u.done_us - t0) / 1000;
	printf("held frame acknowledged after %" G_GINT64_FORMAT " ms\n",
		waited_ms);
	cr_assert(waited_ms >= ZS_QEMU_ACK_TIMEOUT_MS - 10);
	cr_assert(waited_ms < 1000);
	cr_assert_eq(rec_newest(&P.rec)->n_damage, 0);
	close(fd);
}

Test(qemu_peer, scanout_dmabuf2_keeps_every_plane)
{
	struct call c;
	int fds_raw[2] = { memfd_with(1280 * 720, 0), memfd_with(1280 * 360, 0) };
	uint32_t offsets[2] = { 0, 0 }, strides[2] = { 1280, 1280 };
	int32_t handles[2] = { 0, 1 };
	uint64_t mod = DRM_FORMAT_MOD_LINEAR;

	GUnixFDList *fds = fds_of(2, fds_raw);
	GVariant *args = g_variant_new("(@ahuuuu@au@auuuuutb)",
		g_variant_new_fixed_array(G_VARIANT_TYPE_HANDLE, handles, 2, 4),
		0, 0, 1280, 720,
		g_variant_new_fixed_array(G_VARIANT_TYPE_UINT32, offsets, 2, 4),
		g_variant_new_fixed_array(G_VARIANT_TYPE_UINT32, strides, 2, 4),
		2, DRM_FORMAT_NV12, 1280, 720, mod, TRUE);
	cr_assert(call(P.dmabuf2, "ScanoutDMABUF2", args, fds, &c), "%s", c.err);
	g_object_unref(fds);
	struct zs_frame *f = wait_frame(1);
	cr_assert_eq(f->n_planes, 2);
	cr_assert_eq(f->fourcc, DRM_FORMAT_NV12);
	cr_assert_eq(fd_inode(f->planes[0].fd), fd_inode(fds_raw[0]));
	cr_assert_eq(fd_inode(f->planes[1].fd), fd_inode(fds_raw[1]));
	cr_assert_eq(f->planes[1].stride, 1280);
	cr_assert_eq(f->width, 1280);
	cr_assert_eq(f->y0_top, true);
	close(fds_raw[0]);
	close(fds_raw[1]);
}

Test(qemu_peer, cursor_define_and_mouse_set)
{
	struct call c;
	uint32_t *argb = xrgb_pattern(32, 32, 11);

	cr_assert(call(P.listener, "CursorDefine", g_variant_new("(iiii@ay)", 32,
		32, 3, 4, bytes_v(argb, 32 * 32 * 4)), NULL, &c), "%s", c.err);
	cr_assert_eq(P.rec.n_cursor_define, 1);
	cr_assert_eq(P.rec.cursor_w, 32);
	cr_assert_eq(P.rec.cursor_hot_x, 3);
	cr_assert_eq(P.rec.cursor_hot_y, 4);
	cr_assert_eq(P.rec.cursor_px0, argb[0]);
	cr_assert(call(P.listener, "MouseSet", g_variant_new("(iii)", 10, 20, 1),
		NULL, &c), "%s", c.err);
	cr_assert_eq(P.rec.move_x, 10);
	cr_assert_eq(P.rec.move_y, 20);
	cr_assert(P.rec.move_visible);
	cr_assert(call(P.listener, "MouseSet", g_variant_new("(iii)", 0, 0, 0),
		NULL, &c), "%s", c.err);
	cr_assert(!P.rec.move_visible);
	g_free(argb);
}

struct want_calls {
	guint n;
};

static bool has_calls(void *data)
{
	return P.calls->len >= ((struct want_calls *)data)->n;
}

static void expect_calls(const char *const *want)
{
	struct want_calls w = { g_strv_length((char **)want) };

	loop_until(has_calls, &w, 3000);
	loop_for(20);
	GString *got = g_string_new("");
	for (guint i = 0; i < P.calls->len; i++)
		g_string_append_printf(got, "[%s]",
			(char *)g_ptr_array_index(P.calls, i));
	cr_assert_eq(P.calls->len, w.n, "got %s", got->str);
	for (guint i = 0; i < w.n; i++)
		cr_assert_str_eq(g_ptr_array_index(P.calls, i), want[i],
			"call %u: got %s", i, got->str);
	g_string_free(got, TRUE);
	g_ptr_array_set_size(P.calls, 0);
}

Test(qemu_peer, keys_become_qnums_and_release_all_lifts_them)
{
	zs_source_key(P.src, 0x1e, true);   /* a */
	zs_source_key(P.src, 0x1e, false);
	zs_source_key(P.src, 0xe048, true); /* up arrow */
	zs_source_key(P.src, 0x1d, true);   /* left ctrl */
	expect_calls((const char *const[]){ "Press 30", "Release 30",
		"Press 200", "Press 29", NULL });
	zs_qemu_source_release_keys(P.src);
	expect_calls((const char *const[]){ "Release 29", "Release 200", NULL });
	zs_qemu_source_release_keys(P.src);
	expect_calls((const char *const[]){ NULL });
}

static bool mouse_is(void *want)
{
	ZsQemuDisplay1Mouse *m = ((struct zs_qemu_source *)P.src)->mouse;

	return m && zs_qemu_display1_mouse_get_is_absolute(m) ==
		(gboolean)GPOINTER_TO_INT(want);
}

Test(qemu_peer, pointer_follows_the_vm_mouse_mode_and_buttons)
{
	struct call c;
	uint32_t *a = xrgb_pattern(640, 480, 5);

	cr_assert(scanout_xrgb(640, 480, a, &c), "%s", c.err);
	wait_frame(1);
	zs_qemu_display1_mouse_set_is_absolute(P.mouse, TRUE);
	cr_assert(loop_until(mouse_is, GINT_TO_POINTER(1), 3000));
	zs_source_pointer_abs(P.src, 10, 20, ZS_BUTTON_LEFT);
	zs_source_pointer_abs(P.src, 10, 20, 0);
	zs_source_pointer_abs(P.src, 5000, -3, ZS_BUTTON_WHEEL_UP);
	zs_source_pointer_abs(P.src, 5000, -3, 0);
	zs_source_pointer_rel(P.src, -10, 5, ZS_BUTTON_RIGHT | ZS_BUTTON_MIDDLE);
	zs_source_pointer_rel(P.src, 0, 0, ZS_BUTTON_WHEEL_DOWN);
	expect_calls((const char *const[]){ "SetAbsPosition 10 20",
		"ButtonPress 0", "SetAbsPosition 10 20", "ButtonRelease 0",
		"SetAbsPosition 639 0", "ButtonPress 3",
		"SetAbsPosition 639 0", "ButtonRelease 3",
		"SetAbsPosition 629 5", "ButtonPress 1", "ButtonPress 2",
		"SetAbsPosition 629 5", "ButtonRelease 1", "ButtonRelease 2",
		"ButtonPress 4", NULL });
	zs_qemu_source_release_keys(P.src);
	expect_calls((const char *const[]){ "ButtonRelease 4", NULL });

	zs_qemu_display1_mouse_set_is_absolute(P.mouse, FALSE);
	cr_assert(loop_until(mouse_is, GINT_TO_POINTER(0), 3000));
	zs_source_pointer_abs(P.src, 15, 25, 0);
	zs_source_pointer_abs(P.src, 20, 20, 0);
	zs_source_pointer_rel(P.src, 3, -2, 0);
	expect_calls((const char *const[]){ "RelMotion -614 20",
		"RelMotion 5 -5", "RelMotion 3 -2", NULL });
	g_free(a);
}

/* ---- hostile values: every row must get a D-Bus error, and the source must
 * go on working. */

enum bad_setup { NONE, SCANOUT, MAP, DMABUF };

struct bad_case {
	const char *name;
	enum bad_setup setup;
	const char *iface; /* "L" listener, "M" map, "D" dmabuf2 */
	const char *method;
	GVariant *(*args)(void);
	int n_fds;
	size_t fd_size;
};

#define ARGS(name, ...) \
	static GVariant *name(void) { return g_variant_new(__VA_ARGS__); }

static uint8_t junk[64 * 64 * 4];

static GVariant *junk_v(size_t n) { return bytes_v(junk, n); }

ARGS(scanout_zero_w, "(uuuu@ay)", 0, 16, 64, ZS_PIXMAN_x8r8g8b8, junk_v(1024))
ARGS(scanout_zero_h, "(uuuu@ay)", 16, 0, 64, ZS_PIXMAN_x8r8g8b8, junk_v(1024))
ARGS(scanout_huge, "(uuuu@ay)", 100000, 100000, 400000, ZS_PIXMAN_x8r8g8b8,
	junk_v(64))
ARGS(scanout_stride_small, "(uuuu@ay)", 16, 16, 60, ZS_PIXMAN_x8r8g8b8,
	junk_v(1024))
ARGS(scanout_data_short, "(uuuu@ay)", 16, 16, 64, ZS_PIXMAN_x8r8g8b8,
	junk_v(1023))
ARGS(scanout_bad_format, "(uuuu@ay)", 16, 16, 64, 0x12345678u, junk_v(1024))
/* Updates a little outside grow the picture (QEMU 7.2's resize); far
 * outside they are refused. */
ARGS(update_outside, "(iiiiuu@ay)", 8190, 60, 8, 8, 32, ZS_PIXMAN_x8r8g8b8,
	junk_v(256))
ARGS(update_negative, "(iiiiuu@ay)", -1, 0, 8, 8, 32, ZS_PIXMAN_x8r8g8b8,
	junk_v(256))
ARGS(update_overflow, "(iiiiuu@ay)", 0x7fffffff, 0, 8, 8, 32,
	ZS_PIXMAN_x8r8g8b8, junk_v(256))
ARGS(update_short, "(iiiiuu@ay)", 0, 0, 8, 8, 32, ZS_PIXMAN_x8r8g8b8,
	junk_v(255))
ARGS(update_other_format, "(iiiiuu@ay)", 0, 0, 8, 8, 32, ZS_PIXMAN_a8b8g8r8,
	junk_v(256))
ARGS(update_zero, "(iiiiuu@ay)", 0, 0, 0, 8, 32, ZS_PIXMAN_x8r8g8b8,
	junk_v(256))
ARGS(map_past_end, "(huuuuu)", 0, 4096, 64, 64, 256, ZS_PIXMAN_x8r8g8b8)
ARGS(map_stride_small, "(huuuuu)", 0, 0, 64, 64, 255, ZS_PIXMAN_x8r8g8b8)
ARGS(map_bad_handle, "(huuuuu)", 1, 0, 64, 64, 256, ZS_PIXMAN_x8r8g8b8)
ARGS(map_offset_overflow, "(huuuuu)", 0, 0xffffffffu, 64, 64, 256,
	ZS_PIXMAN_x8r8g8b8)
ARGS(update_map_outside, "(iiii)", 0, 0, 65, 1)
ARGS(dmabuf_stride_small, "(huuuutb)", 0, 64, 64, 100, DRM_FORMAT_XRGB8888,
	(guint64)DRM_FORMAT_MOD_LINEAR, TRUE)
ARGS(dmabuf_past_end, "(huuuutb)", 0, 64, 64, 256, DRM_FORMAT_XRGB8888,
	(guint64)DRM_FORMAT_MOD_LINEAR, TRUE)
ARGS(dmabuf_zero_size, "(huuuutb)", 0, 0, 64, 256, DRM_FORMAT_XRGB8888,
	(guint64)DRM_FORMAT_MOD_LINEAR, TRUE)
ARGS(update_dmabuf_outside, "(iiii)", 0, 0, 64, 65)
ARGS(cursor_zero, "(iiii@ay)", 0, 0, 0, 0, junk_v(0))
ARGS(cursor_huge, "(iiii@ay)", 4096, 4096, 0, 0, junk_v(64))
ARGS(cursor_short, "(iiii@ay)", 32, 32, 0, 0, junk_v(32 * 32 * 4 - 1))
ARGS(cursor_hot_outside, "(iiii@ay)", 8, 8, 8, 0, junk_v(8 * 8 * 4))

static GVariant *dmabuf2_args(uint32_t n_handles, uint32_t num_planes,
	uint32_t x, uint32_t w, uint32_t bw)
{
	int32_t handles[5] = { 0, 1, 2, 3, 4 };
	uint32_t zeros[5] = { 0 }, strides[5] = { 256, 256, 256, 256, 256 };

	return g_variant_new("(@ahuuuu@au@auuuuutb)",
		g_variant_new_fixed_array(G_VARIANT_TYPE_HANDLE, handles,
			n_handles, 4), x, 0, w, 64,
		g_variant_new_fixed_array(G_VARIANT_TYPE_UINT32, zeros,
			num_planes, 4),
		g_variant_new_fixed_array(G_VARIANT_TYPE_UINT32, strides,
			num_planes, 4),
		num_planes, DRM_FORMAT_XRGB8888, bw, 64,
		(guint64)DRM_FORMAT_MOD_LINEAR, TRUE);
}

static GVariant *dmabuf2_more_handles_than_fds(void)
{
	return dmabuf2_args(2, 2, 0, 64, 64);
}
static GVariant *dmabuf2_zero_planes(void)
{
	return dmabuf2_args(0, 0, 0, 64, 64);
}
static GVariant *dmabuf2_five_planes(void)
{
	return dmabuf2_args(5, 5, 0, 64, 64);
}
static GVariant *dmabuf2_outside_backing(void)
{
	return dmabuf2_args(1, 1, 10, 64, 64);
}
static GVariant *dmabuf2_two_planes_rgb(void)
{
	return dmabuf2_args(2, 2, 0, 64, 64);
}

static const struct bad_case bad_cases[] = {
	{ "scanout zero width", NONE, "L", "Scanout", scanout_zero_w, 0, 0 },
	{ "scanout zero height", NONE, "L", "Scanout", scanout_zero_h, 0, 0 },
	{ "scanout huge", NONE, "L", "Scanout", scanout_huge, 0, 0 },
	{ "scanout stride too small", NONE, "L", "Scanout",
		scanout_stride_small, 0, 0 },
	{ "scanout data too short", NONE, "L", "Scanout", scanout_data_short,
		0, 0 },
	{ "scanout unknown format", NONE, "L", "Scanout", scanout_bad_format,
		0, 0 },
	{ "update before scanout", NONE, "L", "Update", update_zero, 0, 0 },
	{ "update outside", SCANOUT, "L", "Update", update_outside, 0, 0 },
	{ "update negative x", SCANOUT, "L", "Update", update_negative, 0, 0 },
	{ "update x overflow", SCANOUT, "L", "Update", update_overflow, 0, 0 },
	{ "update data too short", SCANOUT, "L", "Update", update_short, 0, 0 },
	{ "update other format", SCANOUT, "L", "Update", update_other_format,
		0, 0 },
	{ "update zero width", SCANOUT, "L", "Update", update_zero, 0, 0 },
	{ "map offset past the end", NONE, "M", "ScanoutMap", map_past_end, 1,
		64 * 256 },
	{ "map stride too small", NONE, "M", "ScanoutMap", map_stride_small, 1,
		64 * 256 },
	{ "map handle without fd", NONE, "M", "ScanoutMap", map_bad_handle, 1,
		64 * 256 },
	{ "map no fds at all", NONE, "M", "ScanoutMap", map_past_end, 0, 0 },
	{ "map offset overflow", NONE, "M", "ScanoutMap", map_offset_overflow,
		1, 64 * 256 },
	{ "update map before scanout map", NONE, "M", "UpdateMap",
		update_map_outside, 0, 0 },
	{ "update map outside", MAP, "M", "UpdateMap", update_map_outside, 0,
		0 },
	{ "dmabuf stride too small", NONE, "L", "ScanoutDMABUF",
		dmabuf_stride_small, 1, 64 * 256 },
	{ "dmabuf past the end", NONE, "L", "ScanoutDMABUF", dmabuf_past_end, 1,
		64 * 100 },
	{ "dmabuf zero width", NONE, "L", "ScanoutDMABUF", dmabuf_zero_size, 1,
		64 * 256 },
	{ "dmabuf no fd", NONE, "L", "ScanoutDMABUF", dmabuf_past_end, 0, 0 },
	{ "update dmabuf before scanout", NONE, "L", "UpdateDMABUF",
		update_dmabuf_outside, 0, 0 },
	{ "update dmabuf outside", DMABUF, "L", "UpdateDMABUF",
		update_dmabuf_outside, 0, 0 },
	{ "dmabuf2 more handles than fds", NONE, "D", "ScanoutDMABUF2",
		dmabuf2_more_handles_than_fds, 1, 64 * 256 },
	{ "dmabuf2 zero planes", NONE, "D", "ScanoutDMABUF2",
		dmabuf2_zero_planes, 0, 0 },
	{ "dmabuf2 five planes", NONE, "D", "ScanoutDMABUF2",
		dmabuf2_five_planes, 5, 64 * 256 },
	{ "dmabuf2 outside its backing", NONE, "D", "ScanoutDMABUF2",
		dmabuf2_outside_backing, 1, 64 * 256 },
	{ "dmabuf2 two planes for packed RGB", NONE, "D", "ScanoutDMABUF2",
		dmabuf2_two_planes_rgb, 2, 64 * 256 },
	{ "cursor zero size", NONE, "L", "CursorDefine", cursor_zero, 0, 0 },
	{ "cursor huge", NONE, "L", "CursorDefine", cursor_huge, 0, 0 },
	{ "cursor data too short", NONE, "L", "CursorDefine", cursor_short, 0,
		0 },
	{ "cursor hot spot outside", NONE, "L", "CursorDefine",
		cursor_hot_outside, 0, 0 },
};

static void bad_setup_run(enum bad_setup setup)
{
	struct call c;
	int fd;
	GUnixFDList *fds;

	switch (setup) {
	case NONE:
		return;
	case SCANOUT:
		cr_assert(call(P.listener, "Scanout", g_variant_new("(uuuu@ay)",
			64, 64, 256, ZS_PIXMAN_x8r8g8b8, junk_v(64 * 256)), NULL,
			&c), "%s", c.err);
		return;
	case MAP:
	case DMABUF:
		fd = memfd_with(64 * 256, 0);
		fds = fds_of(1, &fd);
		if (setup == MAP)
			cr_assert(call(P.map, "ScanoutMap", g_variant_new(
				"(huuuuu)", 0, 0, 64, 64, 256,
				ZS_PIXMAN_x8r8g8b8), fds, &c), "%s", c.err);
		else
			cr_assert(call(P.listener, "ScanoutDMABUF",
				g_variant_new("(huuuutb)", 0, 64, 64, 256,
				DRM_FORMAT_XRGB8888,
				(guint64)DRM_FORMAT_MOD_LINEAR, TRUE), fds, &c),
				"%s", c.err);
		g_object_unref(fds);
		close(fd);
		return;
	}
}

static bool newest_is_720_wide(void *data)
{
	struct zs_frame *f = rec_newest(&P.rec);

	(void)data;
	return f && f->width == 720;
}

Test(qemu_peer, hostile_values_are_refused_with_a_dbus_error)
{
	struct call c;

	for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
		const struct bad_case *bc = &bad_cases[i];
		GDBusProxy *p = bc->iface[0] == 'M' ? P.map :
			bc->iface[0] == 'D' ? P.dmabuf2 : P.listener;
		GUnixFDList *fds = NULL;
		int raw[5];

		/* Each case from a fresh state: Disable drops the scanout. */
		cr_assert(call(P.listener, "Disable", NULL, NULL, &c));
		bad_setup_run(bc->setup);
		if (bc->n_fds) {
			for (int k = 0; k < bc->n_fds; k++)
				raw[k] = memfd_with(bc->fd_size, 0);
			fds = fds_of(bc->n_fds, raw);
		}
		bool ok = call(p, bc->method, bc->args(), fds, &c);
		printf("%-36s -> %s\n", bc->name, ok ? "ACCEPTED" : c.err);
		cr_assert(!ok, "%s: accepted", bc->name);
		cr_assert(strstr(c.err, "zerospice refused"), "%s: %s", bc->name,
			c.err);
		if (fds)
			g_object_unref(fds);
		for (int k = 0; k < bc->n_fds; k++)
			close(raw[k]);
		cr_assert(zs_qemu_source_is_running(P.src), "%s closed the source",
			bc->name);
		rec_release_all(&P.rec);
	}
	/* Still serving. The last case's black and set-up frames may still
	 * be on their way: wait for the new picture itself. */
	uint32_t *a = xrgb_pattern(720, 400, 1);
	cr_assert(scanout_xrgb(720, 400, a, &c), "%s", c.err);
	cr_assert(loop_until(newest_is_720_wide, NULL, 3000),
		"no 720x400 frame after the hostile values");
	struct zs_frame *f = rec_newest(&P.rec);
	cr_assert_eq(f->height, 400);
	g_free(a);
}

static bool is_rec_closed(void *data)
{
	return ((struct rec *)data)->closed;
}

Test(qemu_peer, qemu_going_away_shows_black_and_reports_closed)
{
	struct call c;
	uint32_t *a = xrgb_pattern(720, 400, 3);

	cr_assert(scanout_xrgb(720, 400, a, &c), "%s", c.err);
	wait_frame(1);
	cr_assert(!P.rec.closed);
	g_dbus_connection_close_sync(P.conn, NULL, NULL);
	cr_assert(loop_until(is_rec_closed, &P.rec, 3000));
	printf("closed: %s\n", P.rec.reason);
	cr_assert(!zs_qemu_source_is_running(P.src));
	/* Clients see the display stop: black at the last size. */
	cr_assert_eq(P.rec.n_frames, 2);
	struct zs_frame *f = rec_newest(&P.rec);
	cr_assert_eq(f->width, 720);
	cr_assert_eq(f->height, 400);
	cr_assert_eq(frame_pixel(f, 0, 0) & 0xffffff, 0);
	cr_assert_eq(frame_pixel(f, 719, 399) & 0xffffff, 0);
	g_free(a);
	/* Input after the end is dropped quietly. */
	zs_source_key(P.src, 0x1e, true);
	zs_qemu_source_release_keys(P.src);
}
