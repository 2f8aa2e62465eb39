/* zerospice — the org.qemu.Display1.Listener side: QEMU's display messages,
 * checked, become picture changes (display.c) and cursor events. */
#include <drm_fourcc.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>

#include "qemu-private.h"

#define LISTENER_PATH "/org/qemu/Display1/Listener"

/* Updates outside the picture grew it: frames wait this long for the
 * Console Width/Height change that gives the real size. */
#define SIZE_WAIT_MS 100

/* Growth from Updates alone stops here; larger pictures need a Scanout. */
#define GROW_MAX_DIM 8192

/* ---- handlers */

static void note_path(struct zs_qemu_source *src, enum zs_qemu_path path)
{
	static const char *const what[] = {
		[ZS_QEMU_PATH_SCANOUT] =
			"Scanout path (pixels over the socket)",
		[ZS_QEMU_PATH_SCANOUT_MAP] = "ScanoutMap path (shared memory)",
		[ZS_QEMU_PATH_DMABUF] = "ScanoutDMABUF path (dma-buf)",
		[ZS_QEMU_PATH_DMABUF2] =
			"ScanoutDMABUF2 path (multi-plane dma-buf)",
	};

	if (src->disp.paths_logged & (1u << path))
		return;
	src->disp.paths_logged |= 1u << path;
	g_message("QEMU display: %s", what[path]);
}

static gboolean refuse(GDBusMethodInvocation *inv, const char *method,
	const char *why)
{
	g_warning("QEMU display: refused %s: %s", method, why);
	g_dbus_method_invocation_return_error(inv, G_DBUS_ERROR,
		G_DBUS_ERROR_INVALID_ARGS, "zerospice refused %s: %s", method,
		why);
	return TRUE;
}

static gboolean on_scanout(ZsQemuDisplay1Listener *l,
	GDBusMethodInvocation *inv, guint width, guint height, guint stride,
	guint format, GVariant *data, gpointer user_data)
{
	struct zs_qemu_source *src = user_data;
	struct zs_qemu_display *disp = &src->disp;
	gsize len = 0;
	const uint8_t *pixels = g_variant_get_fixed_array(data, &len, 1);
	char why[160];
	uint32_t fourcc;
	struct zs_qemu_buffer *cur;

	g_debug("QEMU Scanout %ux%u stride %u pixman 0x%08x, %zu bytes",
		width, height, stride, format, (size_t)len);
	if (!zs_qemu_check_scanout(width, height, stride, format, len, why,
			sizeof(why)))
		return refuse(inv, "Scanout", why);
	fourcc = zs_qemu_fb_fourcc(format);
	cur = zs_qemu_fb_current(disp);
	if (!cur || cur->width != width || cur->height != height ||
	    cur->fourcc != fourcc) {
		/* Leaves everything as it was when it fails. */
		if (!zs_qemu_fb_reset(disp, width, height, fourcc))
			return refuse(inv, "Scanout", "out of memory");
	}
	zs_qemu_display_drop_buffers(disp, true);
	disp->kind = ZS_QEMU_BUFFER_FB;
	disp->active = true;
	disp->fb_pixman = format;
	disp->width = width;
	disp->height = height;
	zs_qemu_fb_write(disp, (struct zs_rect){ 0, 0, (int32_t)width,
			(int32_t)height }, pixels, stride, format);
	zs_qemu_damage_add(src, NULL);
	note_path(src, ZS_QEMU_PATH_SCANOUT);
	zs_qemu_display1_listener_complete_scanout(l, inv);
	return TRUE;
}

static gboolean on_update(ZsQemuDisplay1Listener *l,
	GDBusMethodInvocation *inv, gint x, gint y, gint width, gint height,
	guint stride, guint format, GVariant *data, gpointer user_data)
{
	struct zs_qemu_source *src = user_data;
	struct zs_qemu_display *disp = &src->disp;
	gsize len = 0;
	const uint8_t *pixels = g_variant_get_fixed_array(data, &len, 1);
	char why[160];
	struct zs_qemu_buffer *cur = zs_qemu_fb_current(disp);

	if (disp->kind != ZS_QEMU_BUFFER_FB || !cur || !disp->active)
		return refuse(inv, "Update", "no Scanout before it");
	/* A resize may show only as Updates outside the picture, with the
	 * Console Width/Height change arriving after them (QEMU 7.2 sends
	 * nothing else on a switch): grow to cover them and hold frames until
	 * the properties give the real size. */
	if (!zs_qemu_check_rect(x, y, width, height, cur->width, cur->height,
			NULL, 0) &&
	    zs_qemu_check_rect(x, y, width, height, GROW_MAX_DIM, GROW_MAX_DIM,
			NULL, 0)) {
		uint32_t ow = cur->width, oh = cur->height;
		uint32_t gw = MAX(ow, (uint32_t)x + (uint32_t)width);
		uint32_t gh = MAX(oh, (uint32_t)y + (uint32_t)height);
		if ((uint64_t)gw * gh * 4 <= ZS_QEMU_MAX_FRAME_BYTES &&
		    zs_qemu_fb_resize(src, gw, gh)) {
			g_debug("QEMU display: Update %dx%d+%d+%d outside "
				"%ux%u: grew to %ux%u", width, height, x, y,
				ow, oh, gw, gh);
			disp->size_wait_until_us = g_get_monotonic_time() +
				SIZE_WAIT_MS * 1000;
			cur = zs_qemu_fb_current(disp);
		}
	}
	if (!zs_qemu_check_update(x, y, width, height, stride, format, len,
			cur->width, cur->height, why, sizeof(why)))
		return refuse(inv, "Update", why);
	if (zs_qemu_fb_fourcc(format) != cur->fourcc) {
		snprintf(why, sizeof(why), "format 0x%08x differs from the "
			"Scanout's 0x%08x", format, disp->fb_pixman);
		return refuse(inv, "Update", why);
	}
	struct zs_rect r = { x, y, width, height };
	if (!zs_qemu_fb_write(disp, r, pixels, stride, format))
		return refuse(inv, "Update", "no framebuffer");
	zs_qemu_damage_add(src, &r);
	zs_qemu_display1_listener_complete_update(l, inv);
	return TRUE;
}

/* Takes the fd at handle index `handle` of fd_list (a new CLOEXEC copy). */
static int take_fd(GUnixFDList *fd_list, gint32 handle, char *why,
	size_t why_len)
{
	GError *error = NULL;
	int fd;

	if (!fd_list || handle < 0 ||
	    handle >= g_unix_fd_list_get_length(fd_list)) {
		snprintf(why, why_len, "fd handle %d but %d fds passed", handle,
			fd_list ? g_unix_fd_list_get_length(fd_list) : 0);
		return -1;
	}
	fd = g_unix_fd_list_get(fd_list, handle, &error);
	if (fd < 0) {
		snprintf(why, why_len, "fd %d: %s", handle, error->message);
		g_error_free(error);
	}
	return fd;
}

/* ScanoutMap: a memfd that cannot shrink is mapped and, in a 32-bit layout,
 * handed to the consumer as it is; any other is copied into our
 * framebuffer (converted from 16/24 bits) — with pread() when it may shrink,
 * so that a truncation costs a frame, not the process. */
static gboolean on_scanout_map(ZsQemuDisplay1ListenerUnixMap *l,
	GDBusMethodInvocation *inv, GUnixFDList *fd_list, GVariant *handle,
	guint offset, guint width, guint height, guint stride, guint format,
	gpointer user_data)
{
	struct zs_qemu_source *src = user_data;
	struct zs_qemu_display *disp = &src->disp;
	struct zs_qemu_buffer *buf, *fb = NULL;
	enum zs_qemu_fd_kind kind;
	uint64_t size;
	void *pixels = NULL;
	char why[160];
	int fd;

	g_debug("QEMU ScanoutMap %ux%u offset %u stride %u pixman 0x%08x",
		width, height, offset, stride, format);
	fd = take_fd(fd_list, g_variant_get_handle(handle), why, sizeof(why));
	if (fd < 0)
		return refuse(inv, "ScanoutMap", why);
	kind = zs_qemu_fd_classify(fd, &size, why, sizeof(why));
	if (kind == ZS_QEMU_FD_BAD)
		goto err_fd;
	if (kind == ZS_QEMU_FD_DMABUF) {
		snprintf(why, sizeof(why), "a dma-buf is for ScanoutDMABUF");
		goto err_fd;
	}
	if (!zs_qemu_check_map(offset, width, height, stride, format, size,
			why, sizeof(why)))
		goto err_fd;
	size_t map_len = (size_t)offset + (size_t)stride * height;
	bool sealed = kind == ZS_QEMU_FD_SEALED;
	if (sealed) {
		pixels = mmap(NULL, map_len, PROT_READ, MAP_SHARED, fd, 0);
		if (pixels == MAP_FAILED) {
			snprintf(why, sizeof(why), "mmap: %s", strerror(errno));
			goto err_fd;
		}
	}
	buf = zs_qemu_buffer_new(ZS_QEMU_BUFFER_MAP);
	buf->width = width;
	buf->height = height;
	buf->fourcc = zs_qemu_pixman_to_drm(format);
	buf->modifier = DRM_FORMAT_MOD_LINEAR;
	buf->pixman_format = format;
	buf->n_planes = 1;
	buf->fds[0] = fd;
	buf->offsets[0] = offset;
	buf->strides[0] = stride;
	buf->pixels = pixels;
	buf->map_len = pixels ? map_len : 0;

	/* Everything that can fail before anything changes: a refused
	 * ScanoutMap leaves the picture as it was. */
	if (!sealed || zs_qemu_pixman_bytes(format) != 4) {
		fb = zs_qemu_fb_new(width, height, zs_qemu_fb_fourcc(format));
		if (!fb) {
			zs_qemu_buffer_unref(buf);
			return refuse(inv, "ScanoutMap", "out of memory");
		}
		bool ok = true;
		if (sealed)
			zs_qemu_copy_rect(fb->pixels, fb->strides[0],
				fb->fourcc, buf->pixels + offset, stride,
				format, width, height);
		else
			ok = zs_qemu_pread_rect(fb->pixels, fb->strides[0],
				fb->fourcc, fd, offset, stride, format, width,
				height);
		if (!ok) {
			zs_qemu_buffer_unref(fb);
			zs_qemu_buffer_unref(buf);
			return refuse(inv, "ScanoutMap", "the memfd shrank "
				"while it was read");
		}
	}

	zs_qemu_display_drop_buffers(disp, false);
	if (fb)
		zs_qemu_fb_install(disp, fb);
	disp->kind = ZS_QEMU_BUFFER_MAP;
	disp->map = buf;
	disp->active = true;
	disp->width = width;
	disp->height = height;
	zs_qemu_damage_add(src, NULL);
	note_path(src, ZS_QEMU_PATH_SCANOUT_MAP);
	if (!sealed && !disp->warned_copy) {
		g_message("QEMU display: ScanoutMap memfd cannot be sealed "
			"against shrinking; copying updates with pread()");
		disp->warned_copy = true;
	}
	zs_qemu_display1_listener_unix_map_complete_scanout_map(l, inv, NULL);
	return TRUE;

err_fd:
	close(fd);
	return refuse(inv, "ScanoutMap", why);
}

static gboolean on_update_map(ZsQemuDisplay1ListenerUnixMap *l,
	GDBusMethodInvocation *inv, gint x, gint y, gint width, gint height,
	gpointer user_data)
{
	struct zs_qemu_source *src = user_data;
	struct zs_qemu_display *disp = &src->disp;
	struct zs_qemu_buffer *map = disp->map;
	char why[160];

	if (disp->kind != ZS_QEMU_BUFFER_MAP || !map || !disp->active)
		return refuse(inv, "UpdateMap", "no ScanoutMap before it");
	if (!zs_qemu_check_rect(x, y, width, height, map->width, map->height,
			why, sizeof(why)))
		return refuse(inv, "UpdateMap", why);
	struct zs_rect r = { x, y, width, height };
	uint32_t bytes = zs_qemu_pixman_bytes(map->pixman_format);
	uint64_t start = map->offsets[0] + (uint64_t)y * map->strides[0] +
		(uint64_t)x * bytes;
	if (!map->pixels) {
		if (!zs_qemu_fb_read(disp, r, map->fds[0], start,
				map->strides[0], map->pixman_format))
			return refuse(inv, "UpdateMap", "the memfd shrank (or "
				"no framebuffer)");
	} else if (bytes != 4) {
		if (!zs_qemu_fb_write(disp, r, map->pixels + start,
				map->strides[0], map->pixman_format))
			return refuse(inv, "UpdateMap", "no framebuffer");
	}
	zs_qemu_damage_add(src, &r);
	zs_qemu_display1_listener_unix_map_complete_update_map(l, inv);
	return TRUE;
}

/* A dma-buf, or a memfd that cannot shrink (the stand-in for one in tests);
 * *size gets its size. Pipes, sockets, directories, files that may shrink
 * and empty buffers are refused. */
static bool check_dmabuf_fd(int fd, uint64_t *size, char *why, size_t why_len)
{
	switch (zs_qemu_fd_classify(fd, size, why, why_len)) {
	case ZS_QEMU_FD_DMABUF:
	case ZS_QEMU_FD_SEALED:
		return true;
	case ZS_QEMU_FD_UNSEALED:
		snprintf(why, why_len, "a file that may shrink (no "
			"F_SEAL_SHRINK), not a dma-buf");
		return false;
	case ZS_QEMU_FD_BAD:
	default:
		return false;
	}
}

static gboolean on_scanout_dmabuf(ZsQemuDisplay1Listener *l,
	GDBusMethodInvocation *inv, GUnixFDList *fd_list, GVariant *handle,
	guint width, guint height, guint stride, guint fourcc,
	guint64 modifier, gboolean y0_top, gpointer user_data)
{
	struct zs_qemu_source *src = user_data;
	struct zs_qemu_buffer *buf;
	uint32_t offset = 0;
	uint64_t size;
	char why[160];
	int fd;

	g_debug("QEMU ScanoutDMABUF %ux%u stride %u fourcc 0x%08x modifier "
		"0x%" G_GINT64_MODIFIER "x y0_top %d", width, height, stride,
		fourcc, modifier, y0_top);
	fd = take_fd(fd_list, g_variant_get_handle(handle), why, sizeof(why));
	if (fd < 0)
		return refuse(inv, "ScanoutDMABUF", why);
	if (!check_dmabuf_fd(fd, &size, why, sizeof(why)) ||
	    !zs_qemu_check_dmabuf(width, height, fourcc, modifier, 1, &offset,
			&stride, &size, why, sizeof(why))) {
		close(fd);
		return refuse(inv, "ScanoutDMABUF", why);
	}
	buf = zs_qemu_buffer_new(ZS_QEMU_BUFFER_DMABUF);
	buf->width = width;
	buf->height = height;
	buf->fourcc = fourcc;
	buf->modifier = modifier;
	buf->y0_top = y0_top;
	buf->n_planes = 1;
	buf->fds[0] = fd;
	buf->strides[0] = stride;
	zs_qemu_display_set_dmabuf(src, buf);
	note_path(src, ZS_QEMU_PATH_DMABUF);
	zs_qemu_display1_listener_complete_scanout_dmabuf(l, inv, NULL);
	return TRUE;
}

static gboolean on_scanout_dmabuf2(ZsQemuDisplay1ListenerUnixScanoutDMABUF2 *l,
	GDBusMethodInvocation *inv, GUnixFDList *fd_list, GVariant *handles,
	guint x, guint y, guint width, guint height, GVariant *offsets_v,
	GVariant *strides_v, guint num_planes, guint fourcc,
	guint backing_width, guint backing_height, guint64 modifier,
	gboolean y0_top, gpointer user_data)
{
	struct zs_qemu_source *src = user_data;
	struct zs_qemu_buffer *buf;
	uint32_t offsets[ZS_FRAME_MAX_PLANES], strides[ZS_FRAME_MAX_PLANES];
	uint64_t sizes[ZS_FRAME_MAX_PLANES];
	gsize n_handles = 0, n_offsets = 0, n_strides = 0;
	const gint32 *h = g_variant_get_fixed_array(handles, &n_handles,
		sizeof(gint32));
	const guint32 *o = g_variant_get_fixed_array(offsets_v, &n_offsets,
		sizeof(guint32));
	const guint32 *s = g_variant_get_fixed_array(strides_v, &n_strides,
		sizeof(guint32));
	char why[160];

	if (num_planes < 1 || num_planes > ZS_FRAME_MAX_PLANES ||
	    n_handles != num_planes || n_offsets != num_planes ||
	    n_strides != num_planes) {
		snprintf(why, sizeof(why), "num_planes %u with %zu fds, %zu "
			"offsets, %zu strides", num_planes, (size_t)n_handles,
			(size_t)n_offsets, (size_t)n_strides);
		return refuse(inv, "ScanoutDMABUF2", why);
	}
	if ((uint64_t)x + width > backing_width ||
	    (uint64_t)y + height > backing_height) {
		snprintf(why, sizeof(why), "%ux%u+%u+%u outside the %ux%u "
			"backing", width, height, x, y, backing_width,
			backing_height);
		return refuse(inv, "ScanoutDMABUF2", why);
	}
	buf = zs_qemu_buffer_new(ZS_QEMU_BUFFER_DMABUF);
	buf->n_planes = (int)num_planes;
	for (guint i = 0; i < num_planes; i++) {
		buf->fds[i] = take_fd(fd_list, h[i], why, sizeof(why));
		if (buf->fds[i] < 0)
			goto err_buf;
		offsets[i] = o[i];
		strides[i] = s[i];
		if (!check_dmabuf_fd(buf->fds[i], &sizes[i], why, sizeof(why)))
			goto err_buf;
	}
	if (x || y) {
		/* zs_frame has no crop: only a linear single-plane picture can
		 * start inside its buffer. */
		uint32_t bytes = zs_qemu_fourcc_bytes(fourcc);
		uint64_t off = offsets[0] + (uint64_t)y * strides[0] +
			(uint64_t)x * bytes;
		if (num_planes != 1 || !bytes ||
		    modifier != DRM_FORMAT_MOD_LINEAR || off > UINT32_MAX) {
			snprintf(why, sizeof(why), "picture at %u,%u in a "
				"tiled or multi-plane buffer", x, y);
			goto err_buf;
		}
		offsets[0] = (uint32_t)off;
	}
	if (!zs_qemu_check_dmabuf(width, height, fourcc, modifier, num_planes,
			offsets, strides, sizes, why, sizeof(why)))
		goto err_buf;
	buf->width = width;
	buf->height = height;
	buf->fourcc = fourcc;
	buf->modifier = modifier;
	buf->y0_top = y0_top;
	memcpy(buf->offsets, offsets, sizeof(uint32_t) * num_planes);
	memcpy(buf->strides, strides, sizeof(uint32_t) * num_planes);
	zs_qemu_display_set_dmabuf(src, buf);
	note_path(src, ZS_QEMU_PATH_DMABUF2);
	zs_qemu_display1_listener_unix_scanout_dmabuf2_complete_scanout_dmabuf2(
		l, inv, NULL);
	return TRUE;

err_buf:
	zs_qemu_buffer_unref(buf);
	return refuse(inv, "ScanoutDMABUF2", why);
}

static gboolean on_update_dmabuf(ZsQemuDisplay1Listener *l,
	GDBusMethodInvocation *inv, gint x, gint y, gint width, gint height,
	gpointer user_data)
{
	struct zs_qemu_source *src = user_data;
	struct zs_qemu_display *disp = &src->disp;
	struct zs_qemu_buffer *buf = disp->dmabuf;
	char why[160];

	(void)l;
	if (disp->kind != ZS_QEMU_BUFFER_DMABUF || !buf || !disp->active)
		return refuse(inv, "UpdateDMABUF", "no ScanoutDMABUF before it");
	if (!zs_qemu_check_rect(x, y, width, height, buf->width, buf->height,
			why, sizeof(why)))
		return refuse(inv, "UpdateDMABUF", why);
	struct zs_rect r = { x, y, width, height };
	bool full = x == 0 && y == 0 && (uint32_t)width == buf->width &&
		(uint32_t)height == buf->height;
	/* The reply is QEMU's frame acknowledgement: it goes out when the
	 * consumer releases the frame, or after ZS_QEMU_ACK_TIMEOUT_MS. */
	zs_qemu_emit_frame(src, buf, buf->width, buf->height, full ? 0 : 1, &r,
		(uint64_t)g_get_monotonic_time(), inv);
	return TRUE;
}

static gboolean on_disable(ZsQemuDisplay1Listener *l,
	GDBusMethodInvocation *inv, gpointer user_data)
{
	struct zs_qemu_source *src = user_data;

	if (zs_qemu_display_show_black(src))
		zs_qemu_damage_add(src, NULL);
	zs_qemu_display1_listener_complete_disable(l, inv);
	return TRUE;
}

static gboolean on_mouse_set(ZsQemuDisplay1Listener *l,
	GDBusMethodInvocation *inv, gint x, gint y, gint on,
	gpointer user_data)
{
	struct zs_qemu_source *src = user_data;

	if (src->base.events.cursor_move)
		src->base.events.cursor_move(src->base.events_data, x, y,
			on != 0);
	zs_qemu_display1_listener_complete_mouse_set(l, inv);
	return TRUE;
}

static gboolean on_cursor_define(ZsQemuDisplay1Listener *l,
	GDBusMethodInvocation *inv, gint width, gint height, gint hot_x,
	gint hot_y, GVariant *data, gpointer user_data)
{
	struct zs_qemu_source *src = user_data;
	gsize len = 0;
	const uint8_t *argb = g_variant_get_fixed_array(data, &len, 1);
	char why[160];

	if (!zs_qemu_check_cursor(width, height, hot_x, hot_y, len, why,
			sizeof(why)))
		return refuse(inv, "CursorDefine", why);
	if (src->base.events.cursor_define) {
		/* The message bytes need not be 4-byte aligned. */
		uint32_t *copy = g_memdup2(argb, len);
		src->base.events.cursor_define(src->base.events_data,
			(uint32_t)width, (uint32_t)height, hot_x, hot_y, copy);
		g_free(copy);
	}
	zs_qemu_display1_listener_complete_cursor_define(l, inv);
	return TRUE;
}

/* ---- export */

bool zs_qemu_listener_export(struct zs_qemu_source *src, GDBusConnection *conn,
	GError **error)
{
	static const char *const extra[] = {
		"org.qemu.Display1.Listener.Unix.Map",
		"org.qemu.Display1.Listener.Unix.ScanoutDMABUF2",
		NULL,
	};

	src->listener = zs_qemu_display1_listener_skeleton_new();
	zs_qemu_display1_listener_set_interfaces(src->listener, extra);
	g_object_connect(src->listener,
		"signal::handle-scanout", on_scanout, src,
		"signal::handle-update", on_update, src,
		"signal::handle-scanout-dmabuf", on_scanout_dmabuf, src,
		"signal::handle-update-dmabuf", on_update_dmabuf, src,
		"signal::handle-disable", on_disable, src,
		"signal::handle-mouse-set", on_mouse_set, src,
		"signal::handle-cursor-define", on_cursor_define, src,
		NULL);
	src->listener_map = zs_qemu_display1_listener_unix_map_skeleton_new();
	g_object_connect(src->listener_map,
		"signal::handle-scanout-map", on_scanout_map, src,
		"signal::handle-update-map", on_update_map, src,
		NULL);
	src->listener_dmabuf2 =
		zs_qemu_display1_listener_unix_scanout_dmabuf2_skeleton_new();
	g_object_connect(src->listener_dmabuf2,
		"signal::handle-scanout-dmabuf2", on_scanout_dmabuf2, src,
		NULL);

	if (!g_dbus_interface_skeleton_export(
			G_DBUS_INTERFACE_SKELETON(src->listener), conn,
			LISTENER_PATH, error) ||
	    !g_dbus_interface_skeleton_export(
			G_DBUS_INTERFACE_SKELETON(src->listener_map), conn,
			LISTENER_PATH, error) ||
	    !g_dbus_interface_skeleton_export(
			G_DBUS_INTERFACE_SKELETON(src->listener_dmabuf2), conn,
			LISTENER_PATH, error)) {
		zs_qemu_listener_unexport(src);
		return false;
	}
	return true;
}

static void unexport_one(gpointer *skel)
{
	if (!*skel)
		return;
	g_signal_handlers_disconnect_matched(*skel, G_SIGNAL_MATCH_DATA, 0, 0,
		NULL, NULL, NULL);
	g_dbus_interface_skeleton_unexport(G_DBUS_INTERFACE_SKELETON(*skel));
	g_clear_object(skel);
}

void zs_qemu_listener_unexport(struct zs_qemu_source *src)
{
	unexport_one((gpointer *)&src->listener);
	unexport_one((gpointer *)&src->listener_map);
	unexport_one((gpointer *)&src->listener_dmabuf2);
}
