/* zerospice — input toward the VM: keys, pointer and buttons through QEMU's
 * Keyboard and Mouse interfaces.
 *
 * Motion is coalesced while ZS_QEMU_MAX_MOTION_CALLS are unanswered: a QEMU
 * that stops reading (or a guest that stalls it) must not make every
 * pointer move of a client pile up in our D-Bus queue. Keys and buttons
 * are never dropped. */
#include <stdint.h>

#include "qemu-private.h"
#include "zs-stamp.h"

static void send_motion(struct zs_qemu_source *src);

/* Finishes a call toward QEMU, logging a failure as what. False when the
 * call was cancelled: the source may be gone. */
static bool call_finish(GObject *obj, GAsyncResult *res, const char *what)
{
	GError *error = NULL;
	GVariant *ret = g_dbus_proxy_call_finish(G_DBUS_PROXY(obj), res,
		&error);

	if (ret) {
		g_variant_unref(ret);
		return true;
	}
	bool cancelled = zs_qemu_is_cancelled(error);
	if (!cancelled)
		g_debug("QEMU %s: %s", what, error->message);
	g_error_free(error);
	return !cancelled;
}

static void call_done(GObject *obj, GAsyncResult *res, gpointer what)
{
	call_finish(obj, res, what);
}

/* A motion call came back: send the newest held position, if any. */
static void motion_done(GObject *obj, GAsyncResult *res, gpointer data)
{
	struct zs_qemu_source *src = data;

	if (!call_finish(obj, res, "mouse motion"))
		return;
	src->motion_inflight--;
	if (src->motion_held && !src->closed && src->mouse)
		send_motion(src);
}

/* One call with the motion gathered so far. */
static void call_motion(struct zs_qemu_source *src)
{
	src->motion_held = false;
	src->motion_inflight++;
	if (src->motion_abs) {
		zs_qemu_display1_mouse_call_set_abs_position(src->mouse,
			(uint32_t)src->pointer_x, (uint32_t)src->pointer_y,
			src->cancel, motion_done, src);
	} else {
		int32_t dx = src->motion_dx, dy = src->motion_dy;
		src->motion_dx = src->motion_dy = 0;
		zs_qemu_display1_mouse_call_rel_motion(src->mouse, dx, dy,
			src->cancel, motion_done, src);
	}
}

static void send_motion(struct zs_qemu_source *src)
{
	if (src->motion_inflight >= ZS_QEMU_MAX_MOTION_CALLS) {
		src->motion_held = true;
		return;
	}
	call_motion(src);
}

/* Buttons go out after the motion before them: send what is held now,
 * even past the bound (one call per button change at most). */
static void flush_motion(struct zs_qemu_source *src)
{
	if (src->motion_held)
		call_motion(src);
}

static void send_rel(struct zs_qemu_source *src, int32_t dx, int32_t dy)
{
	if (src->motion_held && src->motion_abs)
		flush_motion(src);
	src->motion_abs = false;
	src->motion_dx = (int32_t)CLAMP((int64_t)src->motion_dx + dx,
		-65536, 65536);
	src->motion_dy = (int32_t)CLAMP((int64_t)src->motion_dy + dy,
		-65536, 65536);
	send_motion(src);
}

/* ---- --trace-stages: which frame answers a key press ---- */

/* Where the bench guest draws its input stamp, and the slack searched
 * around it (its quiet zone and a little more). */
#define KEY_STAMP_X 16
#define KEY_STAMP_Y 128
#define KEY_STAMP_SLACK 20

/* The key event count of the input stamp in buf; false when buf shows no
 * stamp there (not the bench guest) or has no mapping to read. */
static bool read_key_events(const struct zs_qemu_buffer *buf,
	uint16_t *events)
{
	if (!buf || !buf->pixels || buf->n_planes != 1 ||
	    buf->strides[0] < (uint64_t)buf->width * 4 ||
	    (uint64_t)buf->strides[0] * buf->height + buf->offsets[0] >
		    buf->map_len)
		return false;
	uint32_t x0 = KEY_STAMP_X - KEY_STAMP_SLACK > 0 ?
		KEY_STAMP_X - KEY_STAMP_SLACK : 0;
	uint32_t y0 = KEY_STAMP_Y - KEY_STAMP_SLACK;
	uint32_t x1 = MIN(buf->width, KEY_STAMP_X + ZS_STAMP_WIDTH_PX +
		KEY_STAMP_SLACK);
	uint32_t y1 = MIN(buf->height, KEY_STAMP_Y + ZS_STAMP_HEIGHT_PX +
		KEY_STAMP_SLACK);
	if (x1 <= x0 || y1 <= y0)
		return false;
	/* 32-bit pixels of any channel order: the cells are black or white */
	struct zs_image img = {
		.pixels = buf->pixels + buf->offsets[0] +
			(size_t)y0 * buf->strides[0] + (size_t)x0 * 4,
		.width = x1 - x0,
		.height = y1 - y0,
		.stride = buf->strides[0],
		.bytes_per_pixel = 4,
	};
	uint8_t payload[ZS_STAMP_PAYLOAD_BYTES];
	if (!zs_stamp_find(&img, ZS_STAMP_TYPE_INPUT, payload, NULL, NULL))
		return false;
	struct zs_stamp_input in;
	zs_stamp_unpack_input(payload, &in);
	*events = in.key_events;
	return true;
}

/* Reports the presses that are complete (answered and replied) or waited
 * too long, and drops them. */
static void key_trace_flush(struct zs_qemu_source *src, int64_t now)
{
	int kept = 0;

	for (int i = 0; i < src->n_key_wait; i++) {
		struct zs_qemu_key_wait *w = &src->key_wait[i];
		bool done = w->k.frame_id && w->k.reply_us;
		if (done || now - w->k.recv_us > ZS_QEMU_KEY_TRACE_WAIT_US) {
			if (src->key_trace_fn)
				src->key_trace_fn(src->key_trace_data, &w->k);
		} else {
			src->key_wait[kept++] = *w;
		}
	}
	src->n_key_wait = kept;
}

static bool key_trace_awaits_frame(const struct zs_qemu_source *src)
{
	for (int i = 0; i < src->n_key_wait; i++) {
		if (!src->key_wait[i].k.frame_id)
			return true;
	}
	return false;
}

/* A press just went to QEMU as call number seq: wait for its picture when
 * the current one carries a stamp to compare with. */
static void key_trace_press(struct zs_qemu_source *src, uint32_t scancode,
	int64_t recv_us, uint64_t seq)
{
	int64_t call_us = g_get_monotonic_time();

	key_trace_flush(src, call_us);
	if (src->n_key_wait == ZS_QEMU_KEY_TRACE_MAX)
		return;
	int64_t t = g_get_monotonic_time();
	/* with a press still unanswered, the count before it stays the base */
	if (!key_trace_awaits_frame(src) &&
	    !read_key_events(zs_qemu_display_current(&src->disp),
		    &src->key_base_events))
		return;
	struct zs_qemu_key_wait *w = &src->key_wait[src->n_key_wait++];
	*w = (struct zs_qemu_key_wait){
		.k = { .scancode = scancode, .recv_us = recv_us,
		       .call_us = call_us },
		.seq = seq,
	};
	w->k.stamp_us = (uint32_t)(g_get_monotonic_time() - t);
}

static void key_trace_reply(struct zs_qemu_source *src)
{
	uint64_t seq = src->presses_replied++;

	for (int i = 0; i < src->n_key_wait; i++) {
		if (src->key_wait[i].seq == seq)
			src->key_wait[i].k.reply_us = g_get_monotonic_time();
	}
	key_trace_flush(src, g_get_monotonic_time());
}

void zs_qemu_input_trace_frame(struct zs_qemu_source *src,
	const struct zs_qemu_buffer *buf, const struct zs_frame *f)
{
	int64_t t = g_get_monotonic_time();

	if (key_trace_awaits_frame(src)) {
		uint16_t events;
		bool read = read_key_events(buf, &events);
		int64_t now = g_get_monotonic_time();
		bool answered = read && events != src->key_base_events;
		for (int i = 0; i < src->n_key_wait; i++) {
			struct zs_qemu_key_trace *k = &src->key_wait[i].k;
			if (k->frame_id)
				continue;
			k->stamp_us += (uint32_t)(now - t);
			if (answered) {
				k->frame_id = f->id;
				k->capture_us = (int64_t)f->capture_us;
				k->emit_us = t;
			}
		}
		if (answered)
			src->key_base_events = events;
	}
	key_trace_flush(src, t);
}

void zs_qemu_source_trace_keys(struct zs_source *base, zs_qemu_key_trace_fn fn,
	void *data)
{
	struct zs_qemu_source *src = zs_qemu_source_from(base);

	if (!src)
		return;
	src->key_trace_fn = fn;
	src->key_trace_data = data;
	if (!fn)
		src->n_key_wait = 0;
}

static void press_done(GObject *obj, GAsyncResult *res, gpointer data)
{
	struct zs_qemu_source *src = data;

	if (!call_finish(obj, res, "Keyboard.Press"))
		return;
	src->presses_inflight--;
	if (src->key_trace_fn)
		key_trace_reply(src);
}

/* Presses past ZS_QEMU_MAX_PRESS_CALLS unanswered ones are dropped (a QEMU
 * that stopped reading); a release goes out only for a key pressed, so
 * neither piles up and no key stays down. */
static void send_key(struct zs_qemu_source *src, uint32_t qnum, bool down,
	uint32_t scancode, int64_t recv_us)
{
	uint8_t bit = (uint8_t)(1u << (qnum % 8));

	if (down) {
		if (src->presses_inflight >= ZS_QEMU_MAX_PRESS_CALLS) {
			if (!src->warned_presses)
				g_warning("QEMU display: QEMU does not answer "
					"%d key presses; dropping new ones",
					ZS_QEMU_MAX_PRESS_CALLS);
			src->warned_presses = true;
			return;
		}
		src->keys_down[qnum / 8] |= bit;
		src->presses_inflight++;
		zs_qemu_display1_keyboard_call_press(src->kbd, qnum,
			src->cancel, press_done, src);
		if (src->key_trace_fn)
			key_trace_press(src, scancode, recv_us,
				src->presses_called);
		src->presses_called++;
	} else {
		if (!(src->keys_down[qnum / 8] & bit))
			return;
		src->keys_down[qnum / 8] &= (uint8_t)~bit;
		zs_qemu_display1_keyboard_call_release(src->kbd, qnum,
			src->cancel, call_done, "Keyboard.Release");
	}
}

void zs_qemu_input_key(struct zs_qemu_source *src, uint32_t scancode,
	bool down)
{
	int64_t recv_us = src->key_trace_fn ? g_get_monotonic_time() : 0;
	uint32_t qnum = zs_qemu_scancode_to_qnum(scancode);

	if (!src->kbd || src->closed)
		return;
	if (!qnum) {
		g_debug("QEMU display: no qnum for scancode 0x%x", scancode);
		return;
	}
	send_key(src, qnum, down, scancode, recv_us);
}

static void send_buttons(struct zs_qemu_source *src, uint32_t buttons)
{
	uint32_t changed = (buttons ^ src->buttons) & 0x1f;

	if (changed)
		flush_motion(src);
	/* ZS_BUTTON_* bit i is QEMU's button i: left 0, middle 1, right 2,
	 * wheel-up 3, wheel-down 4. */
	for (uint32_t i = 0; i < 5; i++) {
		if (!(changed & (1u << i)))
			continue;
		if (buttons & (1u << i))
			zs_qemu_display1_mouse_call_press(src->mouse, i,
				src->cancel, call_done, "Mouse.Press");
		else
			zs_qemu_display1_mouse_call_release(src->mouse, i,
				src->cancel, call_done, "Mouse.Release");
	}
	src->buttons = buttons & 0x1f;
}

static void display_size(struct zs_qemu_source *src, uint32_t *w, uint32_t *h)
{
	*w = src->console_proxy ?
		zs_qemu_display1_console_get_width(src->console_proxy) : 0;
	*h = src->console_proxy ?
		zs_qemu_display1_console_get_height(src->console_proxy) : 0;
	if (!*w || !*h) {
		*w = src->disp.width;
		*h = src->disp.height;
	}
}

static int32_t clamp_coord(int64_t v, uint32_t size)
{
	if (v < 0)
		return 0;
	if (size && v >= size)
		return (int32_t)size - 1;
	return v > INT32_MAX ? INT32_MAX : (int32_t)v;
}

static void move_abs(struct zs_qemu_source *src, int64_t x, int64_t y)
{
	uint32_t w, h;

	display_size(src, &w, &h);
	src->pointer_x = clamp_coord(x, w);
	src->pointer_y = clamp_coord(y, h);
	src->pointer_known = true;
	if (src->motion_held && !src->motion_abs)
		flush_motion(src);
	src->motion_abs = true;
	send_motion(src);
}

void zs_qemu_input_pointer_abs(struct zs_qemu_source *src, int32_t x,
	int32_t y, uint32_t buttons)
{
	if (!src->mouse || src->closed)
		return;
	if (zs_qemu_display1_mouse_get_is_absolute(src->mouse)) {
		move_abs(src, x, y);
	} else {
		/* Relative pointer in the VM: move by the difference (the
		 * guest's acceleration may make it drift). */
		if (src->pointer_known && (x != src->pointer_x ||
				y != src->pointer_y))
			send_rel(src, x - src->pointer_x, y - src->pointer_y);
		src->pointer_x = x;
		src->pointer_y = y;
		src->pointer_known = true;
	}
	send_buttons(src, buttons);
}

void zs_qemu_input_pointer_rel(struct zs_qemu_source *src, int32_t dx,
	int32_t dy, uint32_t buttons)
{
	if (!src->mouse || src->closed)
		return;
	if (zs_qemu_display1_mouse_get_is_absolute(src->mouse)) {
		move_abs(src, (int64_t)src->pointer_x + dx,
			(int64_t)src->pointer_y + dy);
	} else if (dx || dy) {
		send_rel(src, dx, dy);
	}
	send_buttons(src, buttons);
}

void zs_qemu_input_release_all(struct zs_qemu_source *src)
{
	if (src->closed)
		return;
	if (src->kbd) {
		for (uint32_t q = 0; q < 256; q++) {
			if (src->keys_down[q / 8] & (1u << (q % 8)))
				send_key(src, q, false, 0, 0);
		}
	}
	if (src->mouse)
		send_buttons(src, 0);
}

static void ui_info_done(GObject *obj, GAsyncResult *res, gpointer data)
{
	GError *error = NULL;
	struct zs_qemu_source *src = data;

	if (zs_qemu_display1_console_call_set_uiinfo_finish(
			ZS_QEMU_DISPLAY1_CONSOLE(obj), res, &error))
		return;
	/* src is valid unless the call was cancelled (destroy cancels). */
	if (!zs_qemu_is_cancelled(error) && !src->ui_info_refused) {
		g_message("QEMU display: Console.SetUIInfo refused (%s): the "
			"VM's display device cannot follow the client's window "
			"(virtio-gpu can)", error->message);
		src->ui_info_refused = true;
	}
	g_error_free(error);
}

bool zs_qemu_input_ui_info(struct zs_qemu_source *src, uint32_t width,
	uint32_t height, uint16_t width_mm, uint16_t height_mm)
{
	if (!width || !height || width > ZS_QEMU_MAX_UI_DIM ||
	    height > ZS_QEMU_MAX_UI_DIM) {
		g_warning("QEMU display: no UI size %ux%u asked (1..%u)", width,
			height, ZS_QEMU_MAX_UI_DIM);
		return false;
	}
	if (src->ui_info_refused) {
		/* the display device will not change its mind */
		g_debug("QEMU display: UI size %ux%u not asked (refused before)",
			width, height);
		return false;
	}
	if (!src->console_proxy || src->closed) {
		g_message("QEMU display: not connected; UI size %ux%u not "
			"passed on", width, height);
		return false;
	}
	g_debug("QEMU display: SetUIInfo %ux%u (%ux%u mm)", width, height,
		width_mm, height_mm);
	zs_qemu_display1_console_call_set_uiinfo(src->console_proxy, width_mm,
		height_mm, 0, 0, width, height, src->cancel, ui_info_done, src);
	return true;
}
