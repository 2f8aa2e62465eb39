/* zerospice — the org.qemu.Display1.Listener side: QEMU's display messages
 * become zs_frames. */
#include <drm_fourcc.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>

#include "qemu-private.h"

#define LISTENER_PATH "/org/qemu/Display1/Listener"

struct zs_qemu_frame {
	struct zs_frame frame;
	GMainContext *ctx;
	struct zs_qemu_source *src; /* NULL once the source is destroyed */
	struct zs_qemu_buffer *buf;
	GDBusMethodInvocation *ack; /* UpdateDMABUF waiting for the release */
	GSource *ack_timer;
	GList link;
};

/* ---- buffers */

static void buffer_unref(struct zs_qemu_buffer *buf)
{
	if (!buf || --buf->refs > 0)
		return;
	if (buf->pixels)
		munmap(buf->pixels, buf->map_len);
	for (int i = 0; i < ZS_FRAME_MAX_PLANES; i++) {
		if (buf->fds[i] >= 0)
			close(buf->fds[i]);
	}
	g_free(buf);
}

static struct zs_qemu_buffer *buffer_new(enum zs_qemu_buffer_kind kind)
{
	struct zs_qemu_buffer *buf = g_new0(struct zs_qemu_buffer, 1);

	buf->refs = 1;
	buf->kind = kind;
	buf->y0_top = true;
	for (int i = 0; i < ZS_FRAME_MAX_PLANES; i++)
		buf->fds[i] = -1;
	return buf;
}

/* A memfd framebuffer (zero-filled: black), rows aligned to 64 bytes. */
static struct zs_qemu_buffer *fb_new(uint32_t width, uint32_t height,
	uint32_t fourcc)
{
	struct zs_qemu_buffer *buf;
	uint32_t stride = (width * 4 + 63) & ~63u;
	size_t size = (size_t)stride * height;
	int fd;

	fd = memfd_create("zerospice-qemu-fb", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		g_warning("QEMU display: memfd_create: %s", strerror(errno));
		return NULL;
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		g_warning("QEMU display: ftruncate %zu: %s", size,
			strerror(errno));
		goto err_fd;
	}
	/* Consumers mmap it: make sure it can never shrink under them. */
	fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	void *pixels = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		fd, 0);
	if (pixels == MAP_FAILED) {
		g_warning("QEMU display: mmap %zu: %s", size, strerror(errno));
		goto err_fd;
	}
	buf = buffer_new(ZS_QEMU_BUFFER_FB);
	buf->width = width;
	buf->height = height;
	buf->fourcc = fourcc;
	buf->modifier = DRM_FORMAT_MOD_LINEAR;
	buf->n_planes = 1;
	buf->fds[0] = fd;
	buf->strides[0] = stride;
	buf->pixels = pixels;
	buf->map_len = size;
	buf->missing = (struct zs_rect){ 0, 0, (int32_t)width, (int32_t)height };
	return buf;

err_fd:
	close(fd);
	return NULL;
}

static struct zs_rect rect_union(struct zs_rect a, struct zs_rect b)
{
	if (a.width <= 0 || a.height <= 0)
		return b;
	if (b.width <= 0 || b.height <= 0)
		return a;
	int32_t x0 = MIN(a.x, b.x), y0 = MIN(a.y, b.y);
	int32_t x1 = MAX(a.x + a.width, b.x + b.width);
	int32_t y1 = MAX(a.y + a.height, b.y + b.height);
	return (struct zs_rect){ x0, y0, x1 - x0, y1 - y0 };
}

static void fb_copy_between(struct zs_qemu_buffer *dst,
	const struct zs_qemu_buffer *src, struct zs_rect r)
{
	uint32_t bytes = 4;

	r.width = MIN(r.width, (int32_t)MIN(dst->width, src->width) - r.x);
	r.height = MIN(r.height, (int32_t)MIN(dst->height, src->height) - r.y);
	if (r.width <= 0 || r.height <= 0)
		return;
	for (int32_t y = 0; y < r.height; y++) {
		memcpy(dst->pixels + (size_t)(r.y + y) * dst->strides[0] +
				(size_t)r.x * bytes,
			src->pixels + (size_t)(r.y + y) * src->strides[0] +
				(size_t)r.x * bytes,
			(size_t)r.width * bytes);
	}
}

static void disp_drop_buffers(struct zs_qemu_display *disp, bool keep_fb)
{
	if (!keep_fb) {
		for (int i = 0; i < ZS_QEMU_FB_POOL; i++) {
			buffer_unref(disp->pool[i]);
			disp->pool[i] = NULL;
		}
		disp->cur = -1;
	}
	buffer_unref(disp->map);
	disp->map = NULL;
	buffer_unref(disp->dmabuf);
	disp->dmabuf = NULL;
}

/* Replaces the framebuffer pool with one black buffer. */
static bool fb_reset(struct zs_qemu_display *disp, uint32_t width,
	uint32_t height, uint32_t fourcc)
{
	struct zs_qemu_buffer *buf = fb_new(width, height, fourcc);

	if (!buf)
		return false;
	buf->missing = (struct zs_rect){ 0 };
	for (int i = 0; i < ZS_QEMU_FB_POOL; i++) {
		buffer_unref(disp->pool[i]);
		disp->pool[i] = NULL;
	}
	disp->pool[0] = buf;
	disp->cur = 0;
	return true;
}

/* The framebuffer the current batch of updates goes to: the newest one if no
 * consumer holds it, else a free one brought up to date (double buffering);
 * when the consumer holds all of them, the newest one (it may tear). */
static struct zs_qemu_buffer *fb_target(struct zs_qemu_display *disp)
{
	struct zs_qemu_buffer *cur = disp->pool[disp->cur];

	if (disp->pending || cur->refs == 1)
		return cur;
	for (int i = 0; i < ZS_QEMU_FB_POOL; i++) {
		struct zs_qemu_buffer *b = disp->pool[i];
		if (i == disp->cur || (b && b->refs > 1))
			continue;
		if (!b) {
			b = fb_new(cur->width, cur->height, cur->fourcc);
			if (!b)
				break;
			disp->pool[i] = b;
		}
		fb_copy_between(b, cur, b->missing);
		b->missing = (struct zs_rect){ 0 };
		disp->cur = i;
		return b;
	}
	if (!disp->warned_tearing) {
		g_message("QEMU display: the consumer holds all %d "
			"framebuffers; updating the newest in place",
			ZS_QEMU_FB_POOL);
		disp->warned_tearing = true;
	}
	return cur;
}

static void fb_mark_written(struct zs_qemu_display *disp, struct zs_rect r)
{
	for (int i = 0; i < ZS_QEMU_FB_POOL; i++) {
		if (disp->pool[i] && i != disp->cur)
			disp->pool[i]->missing =
				rect_union(disp->pool[i]->missing, r);
	}
}

/* Copies QEMU pixels (pixman_format) into the framebuffer batch. */
static void fb_write(struct zs_qemu_display *disp, struct zs_rect r,
	const uint8_t *pixels, size_t stride, uint32_t pixman_format)
{
	struct zs_qemu_buffer *fb = fb_target(disp);

	zs_qemu_copy_rect(fb->pixels + (size_t)r.y * fb->strides[0] +
			(size_t)r.x * 4, fb->strides[0], fb->fourcc,
		pixels, stride, pixman_format, (uint32_t)r.width,
		(uint32_t)r.height);
	fb_mark_written(disp, r);
}

/* ---- frames */

static gboolean frame_release_idle(gpointer data)
{
	struct zs_qemu_frame *qf = data;

	if (qf->ack) {
		g_dbus_method_invocation_return_value(qf->ack, NULL);
		qf->ack = NULL;
	}
	if (qf->ack_timer) {
		g_source_destroy(qf->ack_timer);
		g_source_unref(qf->ack_timer);
	}
	if (qf->src)
		g_queue_unlink(&qf->src->frames, &qf->link);
	buffer_unref(qf->buf);
	g_main_context_unref(qf->ctx);
	g_free(qf);
	return G_SOURCE_REMOVE;
}

/* Any thread: hands the frame back to the source's context. */
static void frame_release(struct zs_frame *frame, void *data)
{
	struct zs_qemu_frame *qf = data;
	GSource *idle = g_idle_source_new();

	(void)frame;
	g_source_set_priority(idle, G_PRIORITY_DEFAULT);
	g_source_set_callback(idle, frame_release_idle, qf, NULL);
	g_source_set_name(idle, "zerospice qemu frame release");
	g_source_attach(idle, qf->ctx);
	g_source_unref(idle);
}

static gboolean ack_timeout(gpointer data)
{
	struct zs_qemu_frame *qf = data;

	g_message("QEMU display: frame %" G_GUINT64_FORMAT " still held after "
		"%d ms; acknowledging UpdateDMABUF anyway", qf->frame.id,
		ZS_QEMU_ACK_TIMEOUT_MS);
	g_dbus_method_invocation_return_value(qf->ack, NULL);
	qf->ack = NULL;
	return G_SOURCE_REMOVE;
}

/* Emits a frame showing buf; takes ownership of ack (may be NULL). */
static void emit_frame(struct zs_qemu_source *src, struct zs_qemu_buffer *buf,
	uint32_t width, uint32_t height, int n_damage,
	const struct zs_rect *damage, uint64_t capture_us,
	GDBusMethodInvocation *ack)
{
	struct zs_qemu_frame *qf = g_new0(struct zs_qemu_frame, 1);
	struct zs_frame *f = &qf->frame;

	qf->ctx = g_main_context_ref(src->ctx);
	qf->src = src;
	qf->buf = buf;
	buf->refs++;
	qf->link.data = qf;
	g_queue_push_tail_link(&src->frames, &qf->link);

	f->width = width;
	f->height = height;
	f->fourcc = buf->fourcc;
	f->modifier = buf->modifier;
	f->y0_top = buf->y0_top;
	f->n_planes = buf->n_planes;
	for (int i = 0; i < buf->n_planes; i++) {
		f->planes[i].fd = buf->fds[i];
		f->planes[i].offset = buf->offsets[i];
		f->planes[i].stride = buf->strides[i];
	}
	f->n_damage = n_damage;
	if (n_damage > 0)
		memcpy(f->damage, damage, sizeof(*damage) * (size_t)n_damage);
	f->capture_us = capture_us;
	f->id = ++src->next_frame_id;
	f->release = frame_release;
	f->release_data = qf;

	if (ack) {
		qf->ack = ack;
		qf->ack_timer = g_timeout_source_new(ZS_QEMU_ACK_TIMEOUT_MS);
		g_source_set_callback(qf->ack_timer, ack_timeout, qf, NULL);
		g_source_attach(qf->ack_timer, src->ctx);
	}
	if (src->base.events.frame)
		src->base.events.frame(src->base.events_data, f);
	else
		frame_release(f, qf);
}

static struct zs_qemu_buffer *current_buffer(struct zs_qemu_display *disp)
{
	if (disp->kind == ZS_QEMU_BUFFER_MAP && disp->map &&
	    zs_qemu_pixman_bytes(disp->map->pixman_format) == 4)
		return disp->map;
	if (disp->kind == ZS_QEMU_BUFFER_DMABUF)
		return disp->dmabuf;
	return disp->cur >= 0 ? disp->pool[disp->cur] : NULL;
}

#define SIZE_WAIT_MS 100
/* Growth from Updates alone stops here; larger pictures need a Scanout. */
#define GROW_MAX_DIM 8192

static void schedule_emit(struct zs_qemu_source *src, int delay_ms);

static gboolean emit_idle(gpointer data)
{
	struct zs_qemu_source *src = data;
	struct zs_qemu_display *disp = &src->disp;
	struct zs_qemu_buffer *buf = current_buffer(disp);
	int64_t now = g_get_monotonic_time();

	g_source_unref(disp->emit_idle);
	disp->emit_idle = NULL;
	if (!disp->pending || !buf)
		return G_SOURCE_REMOVE;
	if (disp->size_wait_until_us > now) {
		schedule_emit(src, (int)((disp->size_wait_until_us - now) /
			1000) + 1);
		return G_SOURCE_REMOVE;
	}
	disp->size_wait_until_us = 0;
	disp->pending = false;
	emit_frame(src, buf, buf->width, buf->height, disp->n_damage,
		disp->damage, disp->pending_capture_us, NULL);
	return G_SOURCE_REMOVE;
}

/* Emits the batch once the queued messages are handled (QEMU 7.2 marks no
 * end of a refresh), or after delay_ms. */
static void schedule_emit(struct zs_qemu_source *src, int delay_ms)
{
	struct zs_qemu_display *disp = &src->disp;

	if (disp->emit_idle)
		return;
	if (delay_ms > 0) {
		disp->emit_idle = g_timeout_source_new((guint)delay_ms);
	} else {
		disp->emit_idle = g_idle_source_new();
		g_source_set_priority(disp->emit_idle, G_PRIORITY_DEFAULT_IDLE);
	}
	g_source_set_callback(disp->emit_idle, emit_idle, src, NULL);
	g_source_set_name(disp->emit_idle, "zerospice qemu emit");
	g_source_attach(disp->emit_idle, src->ctx);
}

/* Adds damage to the batch. r NULL: the whole frame. */
static void damage_add(struct zs_qemu_source *src, const struct zs_rect *r)
{
	struct zs_qemu_display *disp = &src->disp;

	if (!disp->pending) {
		disp->pending = true;
		disp->n_damage = 0;
		disp->pending_capture_us = (uint64_t)g_get_monotonic_time();
		if (r)
			disp->damage[disp->n_damage++] = *r;
	} else if (!r || disp->n_damage == 0 ||
		   disp->n_damage == ZS_FRAME_MAX_DAMAGE) {
		disp->n_damage = 0; /* full frame */
	} else {
		disp->damage[disp->n_damage++] = *r;
	}
	schedule_emit(src, 0);
}

static bool fb_resize(struct zs_qemu_source *src, uint32_t width,
	uint32_t height);

/* ---- handlers */

static void note_path(struct zs_qemu_source *src, enum zs_qemu_path path)
{
	static const char *const what[] = {
		[ZS_QEMU_PATH_SCANOUT] = "Scanout path (pixels over the socket)",
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
	cur = disp->cur >= 0 ? disp->pool[disp->cur] : NULL;
	if (!cur || cur->width != width || cur->height != height ||
	    cur->fourcc != fourcc) {
		if (!fb_reset(disp, width, height, fourcc))
			return refuse(inv, "Scanout", "out of memory");
	}
	disp_drop_buffers(disp, true);
	disp->kind = ZS_QEMU_BUFFER_FB;
	disp->active = true;
	disp->fb_pixman = format;
	disp->width = width;
	disp->height = height;
	fb_write(disp, (struct zs_rect){ 0, 0, (int32_t)width, (int32_t)height },
		pixels, stride, format);
	damage_add(src, NULL);
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
	struct zs_qemu_buffer *cur;

	if (disp->kind != ZS_QEMU_BUFFER_FB || disp->cur < 0 || !disp->active)
		return refuse(inv, "Update", "no Scanout before it");
	cur = disp->pool[disp->cur];
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
		    fb_resize(src, gw, gh)) {
			g_debug("QEMU display: Update %dx%d+%d+%d outside "
				"%ux%u: grew to %ux%u", width, height, x, y,
				ow, oh, gw, gh);
			disp->size_wait_until_us = g_get_monotonic_time() +
				SIZE_WAIT_MS * 1000;
			cur = disp->pool[disp->cur];
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
	fb_write(disp, r, pixels, stride, format);
	damage_add(src, &r);
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

static uint64_t fd_size(int fd)
{
	off_t end = lseek(fd, 0, SEEK_END);

	if (end <= 0)
		return 0;
	lseek(fd, 0, SEEK_SET);
	return (uint64_t)end;
}

static gboolean on_scanout_map(ZsQemuDisplay1ListenerUnixMap *l,
	GDBusMethodInvocation *inv, GUnixFDList *fd_list, GVariant *handle,
	guint offset, guint width, guint height, guint stride, guint format,
	gpointer user_data)
{
	struct zs_qemu_source *src = user_data;
	struct zs_qemu_display *disp = &src->disp;
	struct zs_qemu_buffer *buf;
	struct stat st;
	char why[160];
	int fd;

	g_debug("QEMU ScanoutMap %ux%u offset %u stride %u pixman 0x%08x",
		width, height, offset, stride, format);
	fd = take_fd(fd_list, g_variant_get_handle(handle), why, sizeof(why));
	if (fd < 0)
		return refuse(inv, "ScanoutMap", why);
	if (fstat(fd, &st) < 0) {
		snprintf(why, sizeof(why), "fstat: %s", strerror(errno));
		goto err_fd;
	}
	if (!zs_qemu_check_map(offset, width, height, stride, format,
			st.st_size > 0 ? (uint64_t)st.st_size : 0, why,
			sizeof(why)))
		goto err_fd;
	size_t map_len = (size_t)offset + (size_t)stride * height;
	void *pixels = mmap(NULL, map_len, PROT_READ, MAP_SHARED, fd, 0);
	if (pixels == MAP_FAILED) {
		snprintf(why, sizeof(why), "mmap: %s", strerror(errno));
		goto err_fd;
	}

	buf = buffer_new(ZS_QEMU_BUFFER_MAP);
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
	buf->map_len = map_len;

	disp_drop_buffers(disp, false);
	disp->kind = ZS_QEMU_BUFFER_MAP;
	disp->map = buf;
	disp->active = true;
	disp->width = width;
	disp->height = height;
	if (zs_qemu_pixman_bytes(format) != 4) {
		/* Not a 32-bit layout: convert into our framebuffer. */
		if (!fb_reset(disp, width, height, DRM_FORMAT_XRGB8888))
			return refuse(inv, "ScanoutMap", "out of memory");
		fb_write(disp, (struct zs_rect){ 0, 0, (int32_t)width,
				(int32_t)height },
			pixels + offset, stride, format);
	}
	damage_add(src, NULL);
	note_path(src, ZS_QEMU_PATH_SCANOUT_MAP);
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
	if (zs_qemu_pixman_bytes(map->pixman_format) != 4) {
		uint32_t bytes = zs_qemu_pixman_bytes(map->pixman_format);
		fb_write(disp, r, map->pixels + map->offsets[0] +
				(size_t)y * map->strides[0] + (size_t)x * bytes,
			map->strides[0], map->pixman_format);
	}
	damage_add(src, &r);
	zs_qemu_display1_listener_unix_map_complete_update_map(l, inv);
	return TRUE;
}

static void set_dmabuf(struct zs_qemu_source *src, struct zs_qemu_buffer *buf)
{
	struct zs_qemu_display *disp = &src->disp;

	disp_drop_buffers(disp, false);
	disp->kind = ZS_QEMU_BUFFER_DMABUF;
	disp->dmabuf = buf;
	disp->active = true;
	disp->width = buf->width;
	disp->height = buf->height;
	disp->pending = false;
	/* "Resize and update the display content": show it now. */
	emit_frame(src, buf, buf->width, buf->height, 0, NULL,
		(uint64_t)g_get_monotonic_time(), NULL);
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
	size = fd_size(fd);
	if (!zs_qemu_check_dmabuf(width, height, fourcc, modifier, 1, &offset,
			&stride, &size, why, sizeof(why))) {
		close(fd);
		return refuse(inv, "ScanoutDMABUF", why);
	}
	buf = buffer_new(ZS_QEMU_BUFFER_DMABUF);
	buf->width = width;
	buf->height = height;
	buf->fourcc = fourcc;
	buf->modifier = modifier;
	buf->y0_top = y0_top;
	buf->n_planes = 1;
	buf->fds[0] = fd;
	buf->strides[0] = stride;
	set_dmabuf(src, buf);
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
	buf = buffer_new(ZS_QEMU_BUFFER_DMABUF);
	buf->n_planes = (int)num_planes;
	for (guint i = 0; i < num_planes; i++) {
		buf->fds[i] = take_fd(fd_list, h[i], why, sizeof(why));
		if (buf->fds[i] < 0)
			goto err_buf;
		offsets[i] = o[i];
		strides[i] = s[i];
		sizes[i] = fd_size(buf->fds[i]);
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
	set_dmabuf(src, buf);
	note_path(src, ZS_QEMU_PATH_DMABUF2);
	zs_qemu_display1_listener_unix_scanout_dmabuf2_complete_scanout_dmabuf2(
		l, inv, NULL);
	return TRUE;

err_buf:
	buffer_unref(buf);
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
	emit_frame(src, buf, buf->width, buf->height, full ? 0 : 1, &r,
		(uint64_t)g_get_monotonic_time(), inv);
	return TRUE;
}

/* Black at the last size rather than a stale picture; false when there is
 * no size yet (or no memory). */
static bool show_black(struct zs_qemu_source *src)
{
	struct zs_qemu_display *disp = &src->disp;

	disp_drop_buffers(disp, false);
	disp->active = false;
	disp->kind = ZS_QEMU_BUFFER_FB;
	return disp->width && disp->height &&
		fb_reset(disp, disp->width, disp->height, DRM_FORMAT_XRGB8888);
}

static gboolean on_disable(ZsQemuDisplay1Listener *l,
	GDBusMethodInvocation *inv, gpointer user_data)
{
	struct zs_qemu_source *src = user_data;

	if (show_black(src))
		damage_add(src, NULL);
	zs_qemu_display1_listener_complete_disable(l, inv);
	return TRUE;
}

void zs_qemu_display_blank(struct zs_qemu_source *src)
{
	struct zs_qemu_display *disp = &src->disp;
	struct zs_qemu_buffer *buf;

	buf = disp->cur >= 0 ? disp->pool[disp->cur] : NULL;
	/* Already black (Disable, or an earlier call): show it again. */
	bool black = !disp->active && disp->kind == ZS_QEMU_BUFFER_FB && buf &&
		buf->width == disp->width && buf->height == disp->height;
	if (!black && !show_black(src))
		return;
	if (disp->emit_idle) {
		g_source_destroy(disp->emit_idle);
		g_source_unref(disp->emit_idle);
		disp->emit_idle = NULL;
	}
	disp->pending = false;
	disp->size_wait_until_us = 0;
	buf = disp->pool[disp->cur];
	emit_frame(src, buf, buf->width, buf->height, 0, NULL,
		(uint64_t)g_get_monotonic_time(), NULL);
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

/* ---- export, resize, teardown */

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

/* Replaces the framebuffers with one of the new size keeping the overlap. */
static bool fb_resize(struct zs_qemu_source *src, uint32_t width,
	uint32_t height)
{
	struct zs_qemu_display *disp = &src->disp;
	struct zs_qemu_buffer *cur = disp->pool[disp->cur], *fb;

	fb = fb_new(width, height, cur->fourcc);
	if (!fb)
		return false;
	fb_copy_between(fb, cur, (struct zs_rect){ 0, 0, (int32_t)width,
		(int32_t)height });
	fb->missing = (struct zs_rect){ 0 };
	for (int i = 0; i < ZS_QEMU_FB_POOL; i++) {
		buffer_unref(disp->pool[i]);
		disp->pool[i] = NULL;
	}
	disp->pool[0] = fb;
	disp->cur = 0;
	disp->width = width;
	disp->height = height;
	damage_add(src, NULL);
	return true;
}

void zs_qemu_display_console_resized(struct zs_qemu_source *src,
	uint32_t width, uint32_t height)
{
	struct zs_qemu_display *disp = &src->disp;
	struct zs_qemu_buffer *cur;

	if (disp->kind != ZS_QEMU_BUFFER_FB || disp->cur < 0 || !disp->active)
		return;
	cur = disp->pool[disp->cur];
	disp->size_wait_until_us = 0;
	if (cur->width == width && cur->height == height) {
		if (disp->pending)
			schedule_emit(src, 0);
		return;
	}
	if (width == 0 || height == 0 || width > ZS_QEMU_MAX_DIM ||
	    height > ZS_QEMU_MAX_DIM) {
		g_warning("QEMU display: ignoring console size %ux%u", width,
			height);
		return;
	}
	fb_resize(src, width, height);
}

void zs_qemu_display_finish(struct zs_qemu_source *src)
{
	struct zs_qemu_display *disp = &src->disp;

	if (disp->emit_idle) {
		g_source_destroy(disp->emit_idle);
		g_source_unref(disp->emit_idle);
		disp->emit_idle = NULL;
	}
	disp->pending = false;
	disp->active = false;
	disp_drop_buffers(disp, false);
	for (GList *l = src->frames.head; l; l = l->next) {
		struct zs_qemu_frame *qf = l->data;
		if (qf->ack) {
			g_dbus_method_invocation_return_value(qf->ack, NULL);
			qf->ack = NULL;
		}
		if (qf->ack_timer) {
			g_source_destroy(qf->ack_timer);
			g_source_unref(qf->ack_timer);
			qf->ack_timer = NULL;
		}
	}
}

void zs_qemu_frames_detach(struct zs_qemu_source *src)
{
	GList *l;

	while ((l = g_queue_pop_head_link(&src->frames))) {
		struct zs_qemu_frame *qf = l->data;
		qf->src = NULL;
	}
}
