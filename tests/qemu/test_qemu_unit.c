/* zerospice tests — QEMU source units: pixman/DRM formats, qnum numbering,
 * argument checks. The QMP exchange: test_qemu_qmp.c. */
#include <criterion/criterion.h>
#include <drm_fourcc.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qemu-private.h"

Test(qemu_format, every_pixman_format_qemu_sends_has_a_fourcc)
{
	static const struct { uint32_t pixman, drm, bytes; } table[] = {
		{ ZS_PIXMAN_x8r8g8b8, DRM_FORMAT_XRGB8888, 4 },
		{ ZS_PIXMAN_a8r8g8b8, DRM_FORMAT_ARGB8888, 4 },
		{ ZS_PIXMAN_x8b8g8r8, DRM_FORMAT_XBGR8888, 4 },
		{ ZS_PIXMAN_a8b8g8r8, DRM_FORMAT_ABGR8888, 4 },
		{ ZS_PIXMAN_b8g8r8x8, DRM_FORMAT_BGRX8888, 4 },
		{ ZS_PIXMAN_b8g8r8a8, DRM_FORMAT_BGRA8888, 4 },
		{ ZS_PIXMAN_r8g8b8x8, DRM_FORMAT_RGBX8888, 4 },
		{ ZS_PIXMAN_r8g8b8a8, DRM_FORMAT_RGBA8888, 4 },
		{ ZS_PIXMAN_x2r10g10b10, DRM_FORMAT_XRGB2101010, 4 },
		{ ZS_PIXMAN_r8g8b8, DRM_FORMAT_RGB888, 3 },
		{ ZS_PIXMAN_b8g8r8, DRM_FORMAT_BGR888, 3 },
		{ ZS_PIXMAN_r5g6b5, DRM_FORMAT_RGB565, 2 },
		{ ZS_PIXMAN_x1r5g5b5, DRM_FORMAT_XRGB1555, 2 },
	};

	/* The value QEMU 7.2 sends for VGA, as seen on the wire. */
	cr_assert_eq(ZS_PIXMAN_x8r8g8b8, 0x20020888);
	for (size_t i = 0; i < G_N_ELEMENTS(table); i++) {
		cr_assert_eq(zs_qemu_pixman_to_drm(table[i].pixman), table[i].drm,
			"row %zu", i);
		cr_assert_eq(zs_qemu_pixman_bytes(table[i].pixman),
			table[i].bytes, "row %zu", i);
		cr_assert_eq(zs_qemu_fb_fourcc(table[i].pixman),
			table[i].bytes == 4 ? table[i].drm : DRM_FORMAT_XRGB8888);
	}
	cr_assert_eq(zs_qemu_pixman_to_drm(0), 0);
	cr_assert_eq(zs_qemu_pixman_to_drm(0x12345678), 0);
	cr_assert_eq(zs_qemu_pixman_bytes(0x12345678), 0);
}

Test(qemu_format, conversion_to_xrgb8888_keeps_colours)
{
	static const struct {
		uint32_t pixman;
		uint8_t px[4];
		uint32_t want;
	} table[] = {
		{ ZS_PIXMAN_r5g6b5, { 0x00, 0xf8 }, 0xffff0000 },
		{ ZS_PIXMAN_r5g6b5, { 0xe0, 0x07 }, 0xff00ff00 },
		{ ZS_PIXMAN_r5g6b5, { 0x1f, 0x00 }, 0xff0000ff },
		{ ZS_PIXMAN_b5g6r5, { 0x1f, 0x00 }, 0xffff0000 },
		{ ZS_PIXMAN_x1r5g5b5, { 0x00, 0x7c }, 0xffff0000 },
		{ ZS_PIXMAN_r8g8b8, { 0x33, 0x22, 0x11 }, 0xff112233 },
		{ ZS_PIXMAN_b8g8r8, { 0x33, 0x22, 0x11 }, 0xff332211 },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(table); i++) {
		uint32_t out = 0;
		zs_qemu_copy_rect((uint8_t *)&out, 4, DRM_FORMAT_XRGB8888,
			table[i].px, 4, table[i].pixman, 1, 1);
		cr_assert_eq(out, table[i].want, "row %zu: 0x%08x", i, out);
	}
}

Test(qemu_input, scancodes_become_qnums)
{
	static const struct { uint32_t scancode, qnum; } table[] = {
		{ 0x01, 0x01 },   /* Esc */
		{ 0x1e, 0x1e },   /* a */
		{ 0x9e, 0x1e },   /* a, given as its break code */
		{ 0x1d, 0x1d },   /* left ctrl */
		{ 0xe01d, 0x9d }, /* right ctrl */
		{ 0xe038, 0xb8 }, /* right alt */
		{ 0xe048, 0xc8 }, /* up */
		{ 0xe050, 0xd0 }, /* down */
		{ 0xe05b, 0xdb }, /* left super */
		{ 0xe01c, 0x9c }, /* keypad enter */
		{ 0xe11d, 0xc6 }, /* pause */
		{ 0x00, 0 },
		{ 0xe000, 0 },
		{ 0xff1e, 0 },
		{ 0x1e0000, 0 },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(table); i++)
		cr_assert_eq(zs_qemu_scancode_to_qnum(table[i].scancode),
			table[i].qnum, "scancode 0x%x", table[i].scancode);
}

struct scanout_case {
	uint32_t w, h, stride, fmt;
	uint64_t len;
	bool ok;
};

Test(qemu_check, scanout_arguments)
{
	const uint32_t X = ZS_PIXMAN_x8r8g8b8;
	static const struct scanout_case table[] = {
		{ 1366, 768, 1366 * 4, ZS_PIXMAN_x8r8g8b8, 1366 * 4 * 768, true },
		{ 720, 400, 2880, ZS_PIXMAN_x8r8g8b8, 2880 * 400, true },
		{ 720, 400, 1440, ZS_PIXMAN_r5g6b5, 1440 * 400, true },
		/* the last row needs no padding */
		{ 16, 16, 128, ZS_PIXMAN_x8r8g8b8, 128 * 15 + 64, true },
		{ 16, 16, 128, ZS_PIXMAN_x8r8g8b8, 128 * 15 + 63, false },
		{ 0, 768, 4096, ZS_PIXMAN_x8r8g8b8, 1 << 22, false },
		{ 1024, 0, 4096, ZS_PIXMAN_x8r8g8b8, 1 << 22, false },
		{ 16385, 1, 65540, ZS_PIXMAN_x8r8g8b8, 65540, false },
		{ 0xffffffff, 0xffffffff, 0xffffffff, ZS_PIXMAN_x8r8g8b8,
			UINT64_MAX, false },
		{ 16, 16, 63, ZS_PIXMAN_x8r8g8b8, 1 << 20, false },
		{ 16, 16, 64, 0, 1 << 20, false },
		{ 16384, 16384, 65536, ZS_PIXMAN_x8r8g8b8, UINT64_MAX, true },
	};
	char why[160];

	(void)X;
	for (size_t i = 0; i < G_N_ELEMENTS(table); i++) {
		const struct scanout_case *c = &table[i];
		why[0] = '\0';
		cr_assert_eq(zs_qemu_check_scanout(c->w, c->h, c->stride, c->fmt,
			c->len, why, sizeof(why)), c->ok, "row %zu: %s", i, why);
		if (!c->ok)
			cr_assert(why[0], "row %zu: no reason", i);
	}
}

Test(qemu_check, update_rect_and_map_and_dmabuf_and_cursor)
{
	char why[160];
	const uint32_t X = ZS_PIXMAN_x8r8g8b8;
	uint32_t off[4] = { 0 }, str[4] = { 256, 256 };
	uint64_t sz[4] = { 64 * 256, 64 * 256 }, unknown[4] = { 0 };

	cr_assert(zs_qemu_check_update(0, 0, 8, 8, 32, X, 256, 64, 64, why, 160));
	cr_assert(!zs_qemu_check_update(57, 0, 8, 8, 32, X, 256, 64, 64, why, 160));
	cr_assert(!zs_qemu_check_update(0, 0, 8, 8, 31, X, 256, 64, 64, why, 160));
	cr_assert(!zs_qemu_check_update(INT32_MAX, INT32_MAX, INT32_MAX,
		INT32_MAX, 32, X, 256, UINT32_MAX, UINT32_MAX, why, 160));
	cr_assert(!zs_qemu_check_rect(0, 0, -1, 8, 64, 64, why, 160));
	cr_assert(!zs_qemu_check_rect(0, -8, 8, 8, 64, 64, why, 160));
	cr_assert(zs_qemu_check_rect(63, 63, 1, 1, 64, 64, why, 160));

	cr_assert(zs_qemu_check_map(0, 64, 64, 256, X, 64 * 256, why, 160));
	cr_assert(!zs_qemu_check_map(1, 64, 64, 256, X, 64 * 256, why, 160));
	cr_assert(!zs_qemu_check_map(UINT32_MAX, 64, 64, 256, X, 64 * 256, why,
		160));
	cr_assert(!zs_qemu_check_map(0, 64, 64, 256, X, 0, why, 160));

	cr_assert(zs_qemu_check_dmabuf(64, 64, DRM_FORMAT_XRGB8888,
		DRM_FORMAT_MOD_LINEAR, 1, off, str, sz, why, 160), "%s", why);
	cr_assert(zs_qemu_check_dmabuf(64, 64, DRM_FORMAT_XRGB8888,
		I915_FORMAT_MOD_Y_TILED, 1, off, str, unknown, why, 160));
	cr_assert(!zs_qemu_check_dmabuf(64, 65, DRM_FORMAT_XRGB8888,
		DRM_FORMAT_MOD_LINEAR, 1, off, str, sz, why, 160));
	cr_assert(zs_qemu_check_dmabuf(64, 64, DRM_FORMAT_NV12,
		DRM_FORMAT_MOD_LINEAR, 2, off, str, sz, why, 160));
	cr_assert(!zs_qemu_check_dmabuf(64, 64, DRM_FORMAT_NV12,
		DRM_FORMAT_MOD_LINEAR, 5, off, str, sz, why, 160));
	cr_assert(!zs_qemu_check_dmabuf(64, 64, 0, DRM_FORMAT_MOD_LINEAR, 1,
		off, str, sz, why, 160));

	cr_assert(zs_qemu_check_cursor(64, 64, 63, 0, 64 * 64 * 4, why, 160));
	cr_assert(!zs_qemu_check_cursor(64, 64, 64, 0, 64 * 64 * 4, why, 160));
	cr_assert(!zs_qemu_check_cursor(64, 64, 0, -1, 64 * 64 * 4, why, 160));
	cr_assert(!zs_qemu_check_cursor(1025, 1, 0, 0, 1025 * 4, why, 160));
}

/* ---- QMP against a scripted peer */

Test(qemu_source, create_refuses_bad_options_and_closes_the_fd)
{
	char err[256] = "";
	int sv[2];

	cr_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	struct zs_qemu_options two = { .qmp_path = "/x", .dbus_fd = sv[0] };
	cr_assert_null(zs_qemu_source_create(&two, NULL, NULL, err, sizeof(err)));
	cr_assert(strlen(err) > 0);
	/* The fd was taken: its peer sees the end. */
	char c;
	cr_assert_eq(read(sv[1], &c, 1), 0);
	close(sv[1]);

	struct zs_qemu_options none = { .dbus_fd = -1 };
	cr_assert_null(zs_qemu_source_create(&none, NULL, NULL, err, sizeof(err)));
	struct zs_qemu_options bad_bus = { .dbus_fd = -1, .bus_address = "nope" };
	cr_assert_null(zs_qemu_source_create(&bad_bus, NULL, NULL, err,
		sizeof(err)));
	cr_assert(strstr(err, "nope"), "%s", err);
	/* Destroying NULL and sources of other kinds is harmless. */
	zs_qemu_source_release_keys(NULL);
	cr_assert(!zs_qemu_source_is_running(NULL));
}
