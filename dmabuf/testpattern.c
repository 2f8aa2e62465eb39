/* The test pattern: a pool of memfd XRGB8888 buffers drawn with a static
 * background, moving content, a frame stamp, an input stamp and a
 * human-readable view of the input.
 *
 * The first free buffer is reused. Each remembers the rectangles of moving
 * content drawn into it last time; a render redraws only those from the
 * static background and draws the new content, so a 1280x720 frame
 * touches a few hundred kilobytes instead of 3.5 MB. The background is
 * computed row by row from three per-column tables rather than kept as a
 * full picture (that copy cost 3.5 MB of heap per session at 720p).
 *
 * A buffer left free for ZS_TESTPATTERN_IDLE_RENDERS renders gives its
 * pages back: when the consumer keeps up only the first buffer is in use,
 * and the others cost memory only while load makes them needed. */
#include "zs-dmabuf.h"

#include <drm_fourcc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TP_MAX_RECTS 8
#define STAMP_X 16
#define STAMP_Y 16
#define INPUT_STAMP_Y (STAMP_Y + ZS_STAMP_HEIGHT_PX + 2 * ZS_STAMP_CELL_PX)
#define BAND_H 48
#define BOX_PX 64
#define CROSS_ARM 24
#define MARKER_HALF 10
#define FONT_SCALE 4
#define TEXT_CHARS 11
#define TEXT_PAD 8

struct tp_buffer {
	struct zs_testpattern *tp;
	struct zs_memfd_buffer mem;
	struct zs_frame frame;
	atomic_bool held;
	atomic_bool reading; /* the consumer mapped the frame it holds */
	bool has_static;
	uint64_t last_render; /* tp->renders when last handed out */
	int n_drawn;
	struct zs_rect drawn[TP_MAX_RECTS];
};

struct zs_testpattern {
	atomic_int refs; /* the owner + one per frame handed out */
	uint32_t width, height;
	/* per column: the background's red, colour bar and grey ramp */
	uint8_t *col_red, *col_bar, *col_grey;
	int n_buffers;
	struct tp_buffer *buffers;
	struct zs_input_state input;
	uint64_t renders;
	bool cold_deferred; /* the last render put off a given-back buffer */
	/* set by a render that found every buffer held; the next release
	 * clears it and calls on_free (under free_lock) */
	atomic_bool wake_on_free;
	pthread_mutex_t free_lock;
	void (*on_free)(void *data);
	void *on_free_data;
	/* rects of moving content in the last frame handed out: with this
	 * frame's they bound what changed for the consumer */
	int n_prev;
	struct zs_rect prev[TP_MAX_RECTS];
	int32_t band_y, bars_y;
	int32_t text_x, text_y;
};

/* 5x7 glyphs, one byte per row, bit 4 leftmost. */
static const struct {
	char c;
	uint8_t rows[7];
} glyphs[] = {
	{ '0', { 0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e } },
	{ '1', { 0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e } },
	{ '2', { 0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f } },
	{ '3', { 0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e } },
	{ '4', { 0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02 } },
	{ '5', { 0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e } },
	{ '6', { 0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e } },
	{ '7', { 0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08 } },
	{ '8', { 0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e } },
	{ '9', { 0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c } },
	{ 'A', { 0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11 } },
	{ 'B', { 0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e } },
	{ 'C', { 0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e } },
	{ 'D', { 0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c } },
	{ 'E', { 0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f } },
	{ 'F', { 0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10 } },
	{ 'K', { 0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11 } },
	{ 'N', { 0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11 } },
	{ 'P', { 0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10 } },
	{ 'U', { 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e } },
	{ 'Y', { 0x11, 0x11, 0x11, 0x0a, 0x04, 0x04, 0x04 } },
	{ '-', { 0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00 } },
};

static const uint8_t *glyph(char c)
{
	for (size_t i = 0; i < sizeof(glyphs) / sizeof(glyphs[0]); i++) {
		if (glyphs[i].c == c)
			return glyphs[i].rows;
	}
	return NULL;
}

/* ---- rectangles ---- */

static bool clip(const struct zs_testpattern *tp, struct zs_rect *r)
{
	int64_t x0 = r->x < 0 ? 0 : r->x, y0 = r->y < 0 ? 0 : r->y;
	int64_t x1 = (int64_t)r->x + r->width, y1 = (int64_t)r->y + r->height;
	if (x1 > tp->width)
		x1 = tp->width;
	if (y1 > tp->height)
		y1 = tp->height;
	if (x0 >= x1 || y0 >= y1)
		return false;
	*r = (struct zs_rect){ (int32_t)x0, (int32_t)y0, (int32_t)(x1 - x0),
		(int32_t)(y1 - y0) };
	return true;
}

static bool contains(const struct zs_rect *outer, const struct zs_rect *r)
{
	return r->x >= outer->x && r->y >= outer->y &&
	       r->x + r->width <= outer->x + outer->width &&
	       r->y + r->height <= outer->y + outer->height;
}

static uint32_t *pixel_row(const struct tp_buffer *b, int32_t y)
{
	return (uint32_t *)(b->mem.pixels + (size_t)y * b->mem.stride);
}

static void fill(struct tp_buffer *b, struct zs_rect r, uint32_t xrgb)
{
	if (!clip(b->tp, &r))
		return;
	for (int32_t y = r.y; y < r.y + r.height; y++) {
		uint32_t *p = pixel_row(b, y) + r.x;
		for (int32_t i = 0; i < r.width; i++)
			p[i] = xrgb;
	}
}

/* ---- static background ---- */

static const uint32_t bars[] = {
	0xffffff, 0xffff00, 0x00ffff, 0x00ff00,
	0xff00ff, 0xff0000, 0x0000ff, 0x000000,
};

/* Writes the background of row y, columns x0 .. x0 + n - 1, to out. */
static void static_row(const struct zs_testpattern *tp, uint32_t y,
	uint32_t x0, uint32_t n, uint32_t *out)
{
	uint32_t h = tp->height;
	int32_t ramp_y = tp->bars_y + (int32_t)(h - (uint32_t)tp->bars_y) * 2 / 3;
	if ((int32_t)y >= ramp_y) {
		for (uint32_t i = 0; i < n; i++) {
			uint32_t g = tp->col_grey[x0 + i];
			out[i] = g << 16 | g << 8 | g;
		}
	} else if ((int32_t)y >= tp->bars_y) {
		for (uint32_t i = 0; i < n; i++)
			out[i] = bars[tp->col_bar[x0 + i]];
	} else if (y % 64 == 0) {
		for (uint32_t i = 0; i < n; i++)
			out[i] = 0x404040;
	} else {
		uint32_t gb = (32 + y * 160 / h) << 8 | 0x70;
		for (uint32_t i = 0; i < n; i++) {
			uint32_t x = x0 + i;
			out[i] = x % 64 == 0 ? 0x404040 :
				(uint32_t)tp->col_red[x] << 16 | gb;
		}
	}
}

static void restore_static(struct tp_buffer *b, struct zs_rect r)
{
	const struct zs_testpattern *tp = b->tp;
	if (!clip(tp, &r))
		return;
	for (int32_t y = r.y; y < r.y + r.height; y++)
		static_row(tp, (uint32_t)y, (uint32_t)r.x, (uint32_t)r.width,
			pixel_row(b, y) + r.x);
}

static bool make_columns(struct zs_testpattern *tp)
{
	uint32_t w = tp->width;
	tp->col_red = malloc(w);
	tp->col_bar = malloc(w);
	tp->col_grey = malloc(w);
	if (!tp->col_red || !tp->col_bar || !tp->col_grey)
		return false;
	for (uint32_t x = 0; x < w; x++) {
		tp->col_red[x] = (uint8_t)(32 + x * 160 / w);
		tp->col_bar[x] = (uint8_t)(x * 8 / w);
		tp->col_grey[x] = (uint8_t)(x * 255 / (w - 1));
	}
	return true;
}

/* ---- moving content ---- */

static int32_t bounce(uint64_t t, int32_t range)
{
	if (range <= 0)
		return 0;
	uint64_t period = 2 * (uint64_t)range;
	uint64_t p = t % period;
	return (int32_t)(p < (uint64_t)range ? p : period - p);
}

static struct zs_rect band_rect(const struct zs_testpattern *tp)
{
	return (struct zs_rect){ 0, tp->band_y, (int32_t)tp->width, BAND_H };
}

static void draw_band(struct tp_buffer *b, uint64_t id)
{
	struct zs_rect r = band_rect(b->tp);
	if (!clip(b->tp, &r))
		return;
	uint32_t shift = (uint32_t)(id * 6);
	for (int32_t y = r.y; y < r.y + r.height; y++) {
		uint32_t *p = pixel_row(b, y);
		uint32_t ly = (uint32_t)(y - b->tp->band_y);
		for (int32_t x = 0; x < r.width; x++) {
			uint32_t u = (uint32_t)x + shift;
			uint32_t tile = (u / 24) % 6;
			uint32_t v;
			switch (tile) {
			case 0: v = ((u / 4 + ly / 4) & 1) ? 0xffffff : 0x101010; break;
			case 1: v = ((u + ly) & 8) ? 0xff4040 : 0x4040ff; break;
			case 2: v = (u % 24) * 10 << 8 | 0x200000; break;
			case 3: v = (ly & 4) ? 0xffff80 : 0x008000; break;
			case 4: v = ((u - ly) & 16) ? 0x00c0c0 : 0xc000c0; break;
			default: v = (u * 37 + ly * 11) & 0xff ? 0x303030 : 0xffffff; break;
			}
			p[x] = v;
		}
	}
}

static struct zs_rect box_rect(const struct zs_testpattern *tp, uint64_t id)
{
	int32_t x = bounce(id * 7, (int32_t)tp->width - BOX_PX);
	int32_t y = bounce(id * 5, tp->band_y - BOX_PX);
	return (struct zs_rect){ x, y, BOX_PX, BOX_PX };
}

static void draw_box(struct tp_buffer *b, uint64_t id)
{
	struct zs_rect r = box_rect(b->tp, id);
	uint32_t hue = (uint32_t)(id * 4) & 0xff;
	uint32_t colour = (hue << 16) | ((255 - hue) << 8) | 0x80;
	fill(b, r, 0x000000);
	fill(b, (struct zs_rect){ r.x + 4, r.y + 4, BOX_PX - 8, BOX_PX - 8 }, colour);
	fill(b, (struct zs_rect){ r.x + 24, r.y + 24, 16, 16 }, 0xffffff);
}

static struct zs_rect text_rect(const struct zs_testpattern *tp)
{
	return (struct zs_rect){ tp->text_x, tp->text_y,
		TEXT_CHARS * 6 * FONT_SCALE + 2 * TEXT_PAD,
		8 * FONT_SCALE + 2 * TEXT_PAD };
}

static void draw_text(struct tp_buffer *b, const struct zs_input_state *in)
{
	char text[32];
	if (in->key_events == 0)
		snprintf(text, sizeof(text), "KEY --");
	else
		snprintf(text, sizeof(text), "KEY %02X %s", in->last_key & 0xffff,
			in->last_key_down ? "DN" : "UP");
	struct zs_rect r = text_rect(b->tp);
	fill(b, r, 0x202060);
	int32_t x0 = r.x + TEXT_PAD, y0 = r.y + TEXT_PAD + FONT_SCALE / 2;
	for (size_t i = 0; text[i] && i < TEXT_CHARS; i++) {
		const uint8_t *g = glyph(text[i]);
		if (!g)
			continue;
		for (int gy = 0; gy < 7; gy++) {
			for (int gx = 0; gx < 5; gx++) {
				if (!(g[gy] & (0x10 >> gx)))
					continue;
				fill(b, (struct zs_rect){
					x0 + (int32_t)i * 6 * FONT_SCALE + gx * FONT_SCALE,
					y0 + gy * FONT_SCALE, FONT_SCALE, FONT_SCALE },
					0xffffff);
			}
		}
	}
}

static struct zs_rect cross_rect(const struct zs_input_state *in)
{
	return (struct zs_rect){ in->pointer_x - CROSS_ARM,
		in->pointer_y - CROSS_ARM, 2 * CROSS_ARM + 1, 2 * CROSS_ARM + 1 };
}

static void draw_cross(struct tp_buffer *b, const struct zs_input_state *in)
{
	int32_t x = in->pointer_x, y = in->pointer_y;
	if (in->buttons) {
		uint32_t colour = (in->buttons & ZS_BUTTON_LEFT) ? 0xffff00 :
				  (in->buttons & ZS_BUTTON_RIGHT) ? 0xff00ff :
								    0x00ffff;
		fill(b, (struct zs_rect){ x - MARKER_HALF, y - MARKER_HALF,
			2 * MARKER_HALF + 1, 2 * MARKER_HALF + 1 }, colour);
	}
	fill(b, (struct zs_rect){ x - CROSS_ARM, y - 1, 2 * CROSS_ARM + 1, 3 }, 0xff0000);
	fill(b, (struct zs_rect){ x - 1, y - CROSS_ARM, 3, 2 * CROSS_ARM + 1 }, 0xff0000);
}

static void draw_stamps(struct tp_buffer *b, uint64_t id, uint64_t capture_us)
{
	const struct zs_testpattern *tp = b->tp;
	const struct zs_input_state *in = &tp->input;
	uint8_t payload[ZS_STAMP_PAYLOAD_BYTES];

	zs_stamp_pack_frame(payload, (uint32_t)id, capture_us);
	zs_stamp_draw(b->mem.pixels, b->mem.stride, tp->width, tp->height,
		STAMP_X, STAMP_Y, payload);

	struct zs_stamp_input si = {
		.last_key = (uint16_t)in->last_key,
		.last_key_down = in->last_key_down,
		.key_events = (uint16_t)in->key_events,
		.pointer_x = (uint16_t)(in->pointer_x < 0 ? 0 : in->pointer_x),
		.pointer_y = (uint16_t)(in->pointer_y < 0 ? 0 : in->pointer_y),
		.buttons = (uint8_t)in->buttons,
		.button_events = (uint16_t)in->button_events,
	};
	zs_stamp_pack_input(payload, &si);
	zs_stamp_draw(b->mem.pixels, b->mem.stride, tp->width, tp->height,
		STAMP_X, INPUT_STAMP_Y, payload);
}

static struct zs_rect stamp_rect(int32_t y)
{
	return (struct zs_rect){ STAMP_X - ZS_STAMP_CELL_PX, y - ZS_STAMP_CELL_PX,
		ZS_STAMP_WIDTH_PX + 2 * ZS_STAMP_CELL_PX,
		ZS_STAMP_HEIGHT_PX + 2 * ZS_STAMP_CELL_PX };
}

/* ---- pool ---- */

static void tp_free(struct zs_testpattern *tp)
{
	for (int i = 0; i < tp->n_buffers; i++)
		zs_memfd_buffer_finish(&tp->buffers[i].mem);
	free(tp->buffers);
	free(tp->col_red);
	free(tp->col_bar);
	free(tp->col_grey);
	pthread_mutex_destroy(&tp->free_lock);
	free(tp);
}

static void tp_unref(struct zs_testpattern *tp)
{
	if (atomic_fetch_sub(&tp->refs, 1) == 1)
		tp_free(tp);
}

static void buffer_release(struct zs_frame *frame, void *data)
{
	struct tp_buffer *b = data;
	struct zs_testpattern *tp = b->tp;
	atomic_store(&b->held, false);
	if (atomic_exchange(&tp->wake_on_free, false)) {
		pthread_mutex_lock(&tp->free_lock);
		if (tp->on_free)
			tp->on_free(tp->on_free_data);
		pthread_mutex_unlock(&tp->free_lock);
	}
	tp_unref(tp);
}

struct zs_rect zs_testpattern_stamp_area(void)
{
	/* both stamps with their quiet zones, which touch */
	struct zs_rect top = stamp_rect(STAMP_Y), bottom = stamp_rect(INPUT_STAMP_Y);
	return (struct zs_rect){ top.x, top.y, top.width,
		bottom.y + bottom.height - top.y };
}

struct zs_testpattern *zs_testpattern_create(uint32_t width, uint32_t height,
	int n_buffers)
{
	if (width < ZS_TESTPATTERN_MIN_WIDTH || height < ZS_TESTPATTERN_MIN_HEIGHT ||
	    width > ZS_TESTPATTERN_MAX_DIM || height > ZS_TESTPATTERN_MAX_DIM ||
	    n_buffers < 1 || n_buffers > 64)
		return NULL;

	struct zs_testpattern *tp = calloc(1, sizeof(*tp));
	if (!tp)
		return NULL;
	atomic_init(&tp->refs, 1);
	atomic_init(&tp->wake_on_free, false);
	pthread_mutex_init(&tp->free_lock, NULL);
	tp->width = width;
	tp->height = height;
	tp->bars_y = (int32_t)(height - height / 6);
	tp->band_y = tp->bars_y - BAND_H - 8;
	tp->input.pointer_x = (int32_t)width / 2;
	tp->input.pointer_y = (int32_t)height / 2;
	/* The key readout sits right of the stamps when there is room. */
	struct zs_rect text = text_rect(tp);
	if ((int64_t)width >= stamp_rect(0).width + 16 + text.width) {
		tp->text_x = stamp_rect(0).width + 16;
		tp->text_y = STAMP_Y;
	} else {
		tp->text_x = STAMP_X;
		tp->text_y = INPUT_STAMP_Y + ZS_STAMP_HEIGHT_PX + ZS_STAMP_CELL_PX + 8;
	}

	tp->buffers = calloc((size_t)n_buffers, sizeof(*tp->buffers));
	if (!make_columns(tp) || !tp->buffers)
		goto err_free;
	for (int i = 0; i < n_buffers; i++) {
		struct tp_buffer *b = &tp->buffers[i];
		char name[32];
		snprintf(name, sizeof(name), "zs-testpattern-%d", i);
		b->tp = tp;
		atomic_init(&b->held, false);
		atomic_init(&b->reading, false);
		if (zs_memfd_buffer_init(&b->mem, name, width, height,
			    DRM_FORMAT_XRGB8888) < 0)
			goto err_free;
		tp->n_buffers = i + 1;
	}
	return tp;

err_free:
	tp_free(tp);
	return NULL;
}

void zs_testpattern_destroy(struct zs_testpattern *tp)
{
	if (tp)
		tp_unref(tp);
}

void zs_testpattern_set_free_notify(struct zs_testpattern *tp,
	void (*fn)(void *data), void *data)
{
	pthread_mutex_lock(&tp->free_lock);
	tp->on_free = fn;
	tp->on_free_data = data;
	pthread_mutex_unlock(&tp->free_lock);
}

/* Gives back the pages of buffers left free for a while. Only the render
 * thread hands buffers out, so a free buffer stays free meanwhile. */
static void discard_idle(struct zs_testpattern *tp)
{
	for (int i = 0; i < tp->n_buffers; i++) {
		struct tp_buffer *o = &tp->buffers[i];
		if (!o->has_static || atomic_load(&o->held) ||
		    tp->renders - o->last_render < ZS_TESTPATTERN_IDLE_RENDERS)
			continue;
		/* on failure the pixels stay, and so does has_static */
		if (zs_memfd_buffer_discard(&o->mem) == 0) {
			o->has_static = false;
			o->n_drawn = 0;
		}
	}
}

void zs_testpattern_set_input(struct zs_testpattern *tp,
	const struct zs_input_state *input)
{
	tp->input = *input;
	if (tp->input.pointer_x < 0)
		tp->input.pointer_x = 0;
	if (tp->input.pointer_y < 0)
		tp->input.pointer_y = 0;
	if (tp->input.pointer_x >= (int32_t)tp->width)
		tp->input.pointer_x = (int32_t)tp->width - 1;
	if (tp->input.pointer_y >= (int32_t)tp->height)
		tp->input.pointer_y = (int32_t)tp->height - 1;
}

static void add_rect(struct zs_rect *list, bool *opaque, int *n,
	struct zs_testpattern *tp, struct zs_rect r, bool is_opaque)
{
	if (*n < TP_MAX_RECTS && clip(tp, &r)) {
		opaque[*n] = is_opaque;
		list[(*n)++] = r;
	}
}

struct zs_frame *zs_testpattern_render(struct zs_testpattern *tp,
	uint64_t id, uint64_t capture_us)
{
	/* The first free buffer, not the next in turn: a memfd's pages
	 * become resident only once drawn, so when the consumer keeps up
	 * (it releases each frame before the next tick) one buffer is all
	 * that ever costs memory; the others fill only under load. */
	struct tp_buffer *b = NULL;
	bool being_read = false, waiting = false;
	/* Raised before looking, so that a release racing with the search
	 * either is seen here or sees the flag. */
	atomic_store(&tp->wake_on_free, true);
	for (int i = 0; i < tp->n_buffers; i++) {
		struct tp_buffer *o = &tp->buffers[i];
		if (!atomic_load(&o->held)) {
			if (!b)
				b = o;
		} else if (atomic_load(&o->reading)) {
			being_read = true;
		} else {
			waiting = true;
		}
	}
	/* A frame at the encoder: this one would wait behind it and be
	 * older when taken than one drawn at its release. The second buffer
	 * is then needed only to replace a frame still waiting (a busy
	 * output), and otherwise stays idle. A race with a consumer that
	 * starts reading right now only costs that choice. */
	if (!b || being_read)
		return NULL;
	/* A given-back buffer costs a whole redraw and 3.5 MB again (720p)
	 * to replace a waiting frame. A frame that waits one tick is mostly
	 * about to be taken (the encoder's thread not yet running); one
	 * that waits two is behind a busy output and is replaced. */
	if (!b->has_static && waiting && !tp->cold_deferred) {
		tp->cold_deferred = true;
		return NULL;
	}
	tp->cold_deferred = false;
	atomic_store(&tp->wake_on_free, false);
	b->last_render = ++tp->renders;
	discard_idle(tp);

	/* What this frame draws over the static image, in drawing order;
	 * opaque rects are entirely overwritten and need no restore. */
	struct zs_rect rects[TP_MAX_RECTS];
	bool opaque[TP_MAX_RECTS];
	int n = 0;
	add_rect(rects, opaque, &n, tp, band_rect(tp), true);
	add_rect(rects, opaque, &n, tp, box_rect(tp, id), true);
	add_rect(rects, opaque, &n, tp, text_rect(tp), true);
	add_rect(rects, opaque, &n, tp, cross_rect(&tp->input), false);
	add_rect(rects, opaque, &n, tp, stamp_rect(STAMP_Y), true);
	add_rect(rects, opaque, &n, tp, stamp_rect(INPUT_STAMP_Y), true);

	if (!b->has_static) {
		restore_static(b, (struct zs_rect){ 0, 0, (int32_t)tp->width,
			(int32_t)tp->height });
		b->has_static = true;
	} else {
		for (int i = 0; i < b->n_drawn; i++) {
			bool covered = false;
			for (int j = 0; j < n && !covered; j++)
				covered = opaque[j] && contains(&rects[j], &b->drawn[i]);
			if (!covered)
				restore_static(b, b->drawn[i]);
		}
	}

	draw_band(b, id);
	draw_box(b, id);
	draw_text(b, &tp->input);
	draw_cross(b, &tp->input);
	draw_stamps(b, id, capture_us);

	struct zs_frame *f = &b->frame;
	memset(f, 0, sizeof(*f));
	if (tp->n_prev > 0) {
		for (int i = 0; i < tp->n_prev; i++) {
			bool same = false;
			for (int j = 0; j < n && !same; j++)
				same = contains(&rects[j], &tp->prev[i]);
			if (!same)
				zs_frame_add_damage(f, tp->prev[i]);
		}
		for (int j = 0; j < n; j++)
			zs_frame_add_damage(f, rects[j]);
	} /* else the first frame: n_damage 0, all of it is new */
	memcpy(b->drawn, rects, sizeof(rects[0]) * (size_t)n);
	b->n_drawn = n;
	memcpy(tp->prev, rects, sizeof(rects[0]) * (size_t)n);
	tp->n_prev = n;

	f->width = tp->width;
	f->height = tp->height;
	f->fourcc = DRM_FORMAT_XRGB8888;
	f->modifier = DRM_FORMAT_MOD_LINEAR;
	f->y0_top = true;
	f->n_planes = 1;
	f->planes[0] = (struct zs_plane){ b->mem.fd, 0, b->mem.stride };
	f->cpu_pixels = b->mem.pixels;
	f->cpu_size = b->mem.size;
	f->capture_us = capture_us;
	f->id = id;
	f->release = buffer_release;
	f->release_data = b;
	f->reading = &b->reading;

	atomic_store(&b->reading, false);
	atomic_store(&b->held, true);
	atomic_fetch_add(&tp->refs, 1);
	return f;
}
