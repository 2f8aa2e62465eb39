/* zerospice — the QEMU source's picture: buffers (our framebuffers, QEMU's
 * memfd surface and dma-bufs), damage batching and the frames in flight.
 * listener.c turns QEMU's messages into calls here. */
#include <drm_fourcc.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "qemu-private.h"


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

void zs_qemu_buffer_unref(struct zs_qemu_buffer *buf)
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

struct zs_qemu_buffer *zs_qemu_buffer_new(enum zs_qemu_buffer_kind kind)
{
	struct zs_qemu_buffer *buf = g_new0(struct zs_qemu_buffer, 1);

	buf->refs = 1;
	buf->kind = kind;
	buf->y0_top = true;
	for (int i = 0; i < ZS_FRAME_MAX_PLANES; i++)
		buf->fds[i] = -1;
	return buf;
}

unsigned zs_qemu_test_fail_allocs;

/* A memfd framebuffer (zero-filled: black), rows aligned to 64 bytes. */
struct zs_qemu_buffer *zs_qemu_fb_new(uint32_t width, uint32_t height,
	uint32_t fourcc)
{
	struct zs_qemu_buffer *buf;
	uint32_t stride = (width * 4 + 63) & ~63u;
	size_t size = (size_t)stride * height;
	int fd;

	if (zs_qemu_test_fail_allocs > 0) {
		zs_qemu_test_fail_allocs--;
		g_warning("QEMU display: framebuffer %ux%u: failing as the "
			"test asked", width, height);
		return NULL;
	}
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
	buf = zs_qemu_buffer_new(ZS_QEMU_BUFFER_FB);
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

/* a holds all of b (an empty b: yes) */
static bool rect_contains(struct zs_rect a, struct zs_rect b)
{
	if (b.width <= 0 || b.height <= 0)
		return true;
	return b.x >= a.x && b.y >= a.y && b.x + b.width <= a.x + a.width &&
	       b.y + b.height <= a.y + a.height;
}

/* r inside the framebuffer fb? (callers checked it against the picture,
 * which is the framebuffer's size; this guards the invariant.) */
static bool fb_has(const struct zs_qemu_buffer *fb, struct zs_rect r)
{
	return zs_qemu_check_rect(r.x, r.y, r.width, r.height, fb->width,
		fb->height, NULL, 0);
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

void zs_qemu_display_drop_buffers(struct zs_qemu_display *disp, bool keep_fb)
{
	if (!keep_fb) {
		for (int i = 0; i < ZS_QEMU_FB_POOL; i++) {
			zs_qemu_buffer_unref(disp->pool[i]);
			disp->pool[i] = NULL;
		}
		disp->cur = -1;
	}
	zs_qemu_buffer_unref(disp->map);
	disp->map = NULL;
	zs_qemu_buffer_unref(disp->dmabuf);
	disp->dmabuf = NULL;
}

void zs_qemu_fb_install(struct zs_qemu_display *disp,
	struct zs_qemu_buffer *fb)
{
	fb->missing = (struct zs_rect){ 0 };
	for (int i = 0; i < ZS_QEMU_FB_POOL; i++) {
		zs_qemu_buffer_unref(disp->pool[i]);
		disp->pool[i] = NULL;
	}
	disp->pool[0] = fb;
	disp->cur = 0;
}

bool zs_qemu_fb_reset(struct zs_qemu_display *disp, uint32_t width,
	uint32_t height, uint32_t fourcc)
{
	struct zs_qemu_buffer *buf = zs_qemu_fb_new(width, height, fourcc);

	if (!buf)
		return false;
	zs_qemu_fb_install(disp, buf);
	return true;
}

struct zs_qemu_buffer *zs_qemu_fb_current(struct zs_qemu_display *disp)
{
	if (disp->cur < 0 || disp->cur >= ZS_QEMU_FB_POOL)
		return NULL;
	return disp->pool[disp->cur];
}

/* The newest framebuffer if no consumer holds it, else a free one brought up
 * to date (double buffering) - except where `overwrite` is about to be
 * written whole; when the consumer holds all of them, the newest one (it
 * may tear). */
struct zs_qemu_buffer *zs_qemu_fb_target(struct zs_qemu_display *disp,
	struct zs_rect overwrite)
{
	struct zs_qemu_buffer *cur = zs_qemu_fb_current(disp);

	if (!cur)
		return NULL;
	if (disp->pending || cur->refs == 1)
		return cur;
	for (int i = 0; i < ZS_QEMU_FB_POOL; i++) {
		struct zs_qemu_buffer *b = disp->pool[i];
		if (i == disp->cur || (b && b->refs > 1))
			continue;
		if (!b) {
			b = zs_qemu_fb_new(cur->width, cur->height, cur->fourcc);
			if (!b)
				break;
			disp->pool[i] = b;
		}
		/* a whole-picture update (VGA's usual) copies only once */
		if (!rect_contains(overwrite, b->missing) ||
		    !fb_has(b, overwrite))
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

bool zs_qemu_fb_write(struct zs_qemu_display *disp, struct zs_rect r,
	const uint8_t *pixels, size_t stride, uint32_t pixman_format)
{
	struct zs_qemu_buffer *fb = zs_qemu_fb_target(disp, r);

	if (!fb || !fb_has(fb, r))
		return false;
	zs_qemu_copy_rect(fb->pixels + (size_t)r.y * fb->strides[0] +
			(size_t)r.x * 4, fb->strides[0], fb->fourcc,
		pixels, stride, pixman_format, (uint32_t)r.width,
		(uint32_t)r.height);
	fb_mark_written(disp, r);
	return true;
}

bool zs_qemu_fb_read(struct zs_qemu_display *disp, struct zs_rect r, int fd,
	uint64_t offset, size_t stride, uint32_t pixman_format)
{
	/* a read that fails half way leaves rows unread: all brought up to
	 * date first */
	struct zs_qemu_buffer *fb = zs_qemu_fb_target(disp,
		(struct zs_rect){ 0 });
	bool ok;

	if (!fb || !fb_has(fb, r))
		return false;
	ok = zs_qemu_pread_rect(fb->pixels + (size_t)r.y * fb->strides[0] +
			(size_t)r.x * 4, fb->strides[0], fb->fourcc, fd, offset,
		stride, pixman_format, (uint32_t)r.width, (uint32_t)r.height);
	/* Also on failure: some rows may have changed. */
	fb_mark_written(disp, r);
	return ok;
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
	zs_qemu_buffer_unref(qf->buf);
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
void zs_qemu_emit_frame(struct zs_qemu_source *src, struct zs_qemu_buffer *buf,
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
	/* Our own framebuffer is mapped already: the encoder reads it there
	 * instead of mapping the memfd again for every frame. */
	if (buf->kind == ZS_QEMU_BUFFER_FB && buf->pixels) {
		f->cpu_pixels = buf->pixels;
		f->cpu_size = buf->map_len;
	}
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
	if (src->n_key_wait)
		zs_qemu_input_trace_frame(src, buf, f);
	if (src->base.events.frame)
		src->base.events.frame(src->base.events_data, f);
	else
		frame_release(f, qf);
}

struct zs_qemu_buffer *zs_qemu_display_current(struct zs_qemu_display *disp)
{
	if (disp->kind == ZS_QEMU_BUFFER_MAP && disp->map &&
	    disp->map->pixels &&
	    zs_qemu_pixman_bytes(disp->map->pixman_format) == 4)
		return disp->map;
	if (disp->kind == ZS_QEMU_BUFFER_DMABUF)
		return disp->dmabuf;
	return zs_qemu_fb_current(disp);
}

static void schedule_emit(struct zs_qemu_source *src, int delay_ms);

static gboolean emit_idle(gpointer data)
{
	struct zs_qemu_source *src = data;
	struct zs_qemu_display *disp = &src->disp;
	struct zs_qemu_buffer *buf = zs_qemu_display_current(disp);
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
	if (disp->size_wait_until_us && src->console_proxy &&
	    disp->kind == ZS_QEMU_BUFFER_FB && disp->active) {
		/* The Console's Width/Height may have changed before the
		 * Updates that made us grow (they come on another
		 * connection): then no property change follows, and the
		 * console's size as last reported is the real one. */
		uint32_t w = zs_qemu_display1_console_get_width(
			src->console_proxy);
		uint32_t h = zs_qemu_display1_console_get_height(
			src->console_proxy);
		if (w && h && (w != buf->width || h != buf->height)) {
			/* resizes, and schedules the emit of the result */
			zs_qemu_display_console_resized(src, w, h);
			return G_SOURCE_REMOVE;
		}
	}
	disp->size_wait_until_us = 0;
	disp->pending = false;
	zs_qemu_emit_frame(src, buf, buf->width, buf->height, disp->n_damage,
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
void zs_qemu_damage_add(struct zs_qemu_source *src, const struct zs_rect *r)
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

/* ---- picture changes */

void zs_qemu_display_set_dmabuf(struct zs_qemu_source *src,
	struct zs_qemu_buffer *buf)
{
	struct zs_qemu_display *disp = &src->disp;

	zs_qemu_display_drop_buffers(disp, false);
	disp->kind = ZS_QEMU_BUFFER_DMABUF;
	disp->dmabuf = buf;
	disp->active = true;
	disp->width = buf->width;
	disp->height = buf->height;
	disp->pending = false;
	/* "Resize and update the display content": show it now. */
	zs_qemu_emit_frame(src, buf, buf->width, buf->height, 0, NULL,
		(uint64_t)g_get_monotonic_time(), NULL);
}

/* Black at the last size rather than a stale picture; false when there is
 * no size yet (or no memory). */
bool zs_qemu_display_show_black(struct zs_qemu_source *src)
{
	struct zs_qemu_display *disp = &src->disp;

	zs_qemu_display_drop_buffers(disp, false);
	disp->active = false;
	disp->kind = ZS_QEMU_BUFFER_FB;
	return disp->width && disp->height &&
		zs_qemu_fb_reset(disp, disp->width, disp->height,
			DRM_FORMAT_XRGB8888);
}

void zs_qemu_display_blank(struct zs_qemu_source *src)
{
	struct zs_qemu_display *disp = &src->disp;
	struct zs_qemu_buffer *buf;

	buf = zs_qemu_fb_current(disp);
	/* Already black (Disable, or an earlier call): show it again. */
	bool black = !disp->active && disp->kind == ZS_QEMU_BUFFER_FB && buf &&
		buf->width == disp->width && buf->height == disp->height;
	if (!black && !zs_qemu_display_show_black(src))
		return;
	if (disp->emit_idle) {
		g_source_destroy(disp->emit_idle);
		g_source_unref(disp->emit_idle);
		disp->emit_idle = NULL;
	}
	disp->pending = false;
	disp->size_wait_until_us = 0;
	buf = zs_qemu_fb_current(disp);
	if (!buf)
		return;
	zs_qemu_emit_frame(src, buf, buf->width, buf->height, 0, NULL,
		(uint64_t)g_get_monotonic_time(), NULL);
}

/* Replaces the framebuffers with one of the new size keeping the overlap. */
bool zs_qemu_fb_resize(struct zs_qemu_source *src, uint32_t width,
	uint32_t height)
{
	struct zs_qemu_display *disp = &src->disp;
	struct zs_qemu_buffer *cur = zs_qemu_fb_current(disp), *fb;

	if (!cur)
		return false;
	fb = zs_qemu_fb_new(width, height, cur->fourcc);
	if (!fb)
		return false;
	fb_copy_between(fb, cur, (struct zs_rect){ 0, 0, (int32_t)width,
		(int32_t)height });
	zs_qemu_fb_install(disp, fb);
	disp->width = width;
	disp->height = height;
	zs_qemu_damage_add(src, NULL);
	return true;
}

void zs_qemu_display_console_resized(struct zs_qemu_source *src,
	uint32_t width, uint32_t height)
{
	struct zs_qemu_display *disp = &src->disp;
	struct zs_qemu_buffer *cur;

	cur = zs_qemu_fb_current(disp);
	if (disp->kind != ZS_QEMU_BUFFER_FB || !cur || !disp->active)
		return;
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
	zs_qemu_fb_resize(src, width, height);
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
	zs_qemu_display_drop_buffers(disp, false);
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
