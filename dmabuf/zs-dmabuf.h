/* zerospice — frames, memfd/dma-buf buffers and frame sources. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zs-stamp.h"

#define ZS_FRAME_MAX_PLANES 4
#define ZS_FRAME_MAX_DAMAGE 16

struct zs_rect {
	int32_t x, y;
	int32_t width, height;
};

struct zs_plane {
	int fd; /* borrowed from the frame's producer, see struct zs_frame */
	uint32_t offset;
	uint32_t stride;
};

struct zs_frame;
typedef void (*zs_frame_release_fn)(struct zs_frame *frame, void *data);

/* One picture from a source. The plane fds belong to the producer's buffer and
 * stay open until the consumer calls zs_frame_release() exactly once; a
 * consumer that needs them longer duplicates them (F_DUPFD_CLOEXEC).
 * n_damage == 0 means the whole frame changed. */
struct zs_frame {
	uint32_t width, height;
	uint32_t fourcc;    /* DRM_FORMAT_* */
	uint64_t modifier;  /* DRM_FORMAT_MOD_* */
	bool y0_top;        /* true when row 0 is the top row (the usual case) */
	int n_planes;
	struct zs_plane planes[ZS_FRAME_MAX_PLANES];
	int n_damage;
	struct zs_rect damage[ZS_FRAME_MAX_DAMAGE];
	uint64_t capture_us; /* CLOCK_MONOTONIC */
	uint64_t id;
	/* Optional: the producer's own CPU mapping of plane 0's fd (from
	 * byte 0, cpu_size bytes), valid until release. zs_frame_map uses it
	 * instead of mapping the fd again: a second mapping costs page
	 * faults on every frame and counts the picture twice in RSS. Only
	 * for memory that needs no dma-buf sync (memfds). */
	const uint8_t *cpu_pixels;
	size_t cpu_size;
	/* Optional: raised by zs_frame_map (on the consumer's thread), so the
	 * producer can tell a frame the consumer has begun to read (at the
	 * encoder) from one still waiting to be taken. */
	atomic_bool *reading;

	zs_frame_release_fn release;
	void *release_data;
};

/* Hands the frame back to its producer. Accepts NULL. */
void zs_frame_release(struct zs_frame *frame);

/* Adds a damage rectangle, clipped to the frame (empty results are dropped).
 * When the list is full the rectangles merge into their bounding box, so
 * later calls still add to a valid list. */
void zs_frame_add_damage(struct zs_frame *frame, struct zs_rect rect);

/* CPU mapping of plane 0 of a frame (mmap of the fd, DMA_BUF_IOCTL_SYNC
 * bracketing on real dma-bufs; memfds need none). */
struct zs_frame_map {
	const uint8_t *pixels; /* first byte of plane 0 (offset applied) */
	uint32_t stride;
	void *base;
	size_t length;
	int sync_fd; /* borrowed; -1 when no dma-buf sync is needed */
};

/* Maps plane 0 read-only. Checks that offset + stride * height fits the
 * file; returns a negative errno on failure. Raises frame->reading. */
int zs_frame_map(const struct zs_frame *frame, struct zs_frame_map *map);
void zs_frame_unmap(struct zs_frame_map *map);

/* Bytes per pixel of a packed single-plane RGB DRM fourcc, 0 if unknown. */
uint32_t zs_fourcc_bpp(uint32_t fourcc);
/* Human-readable fourcc ("XR24"); returns buf. */
const char *zs_fourcc_str(uint32_t fourcc, char buf[5]);

/* A CPU-writable buffer backed by a memfd: the stand-in for a dma-buf on
 * machines without DRM. Owns fd and the mapping. */
struct zs_memfd_buffer {
	int fd;
	uint8_t *pixels;
	size_t size;
	uint32_t width, height, stride, fourcc;
};

/* Creates a sealed-size memfd buffer of width x height in fourcc (packed
 * 32-bit RGB). Returns a negative errno on failure. */
int zs_memfd_buffer_init(struct zs_memfd_buffer *buf, const char *name,
	uint32_t width, uint32_t height, uint32_t fourcc);
/* Unmaps and closes; sets fd to -1. Safe on a zeroed or finished buffer. */
void zs_memfd_buffer_finish(struct zs_memfd_buffer *buf);
/* Gives the buffer's pages back to the kernel (a hole punched over the
 * whole file): it reads as zeros and costs no memory until written again.
 * Only for a buffer no consumer holds. Returns a negative errno on
 * failure, the contents then unchanged. */
int zs_memfd_buffer_discard(struct zs_memfd_buffer *buf);

/* Input state a source may render (the test pattern shows it). Key codes are
 * PC set-1 scancodes, extended keys as 0xe0xx. Pointer in frame pixels.
 * Buttons: bit 0 left, bit 1 middle, bit 2 right. */
struct zs_input_state {
	uint32_t last_key;
	bool last_key_down;
	uint32_t key_events;
	int32_t pointer_x, pointer_y;
	uint32_t buttons;
	uint32_t button_events;
};

#define ZS_BUTTON_LEFT   (1u << 0)
#define ZS_BUTTON_MIDDLE (1u << 1)
#define ZS_BUTTON_RIGHT  (1u << 2)
#define ZS_BUTTON_WHEEL_UP   (1u << 3)
#define ZS_BUTTON_WHEEL_DOWN (1u << 4)

/* The test-pattern renderer: a pool of memfd buffers drawn with a static
 * area, moving content, a frame stamp (frame id + capture time) and an input
 * stamp (struct zs_input_state), both readable with zs_stamp_find(). */
struct zs_testpattern;

#define ZS_TESTPATTERN_MIN_WIDTH 480
#define ZS_TESTPATTERN_MIN_HEIGHT 272
#define ZS_TESTPATTERN_MAX_DIM 8192

/* A free buffer not used for this many renders (2 s at 30 fps) gives its
 * pages back (zs_memfd_buffer_discard) and is redrawn whole when next
 * needed: about 6 ms and 3.5 MB at 720p each time it comes back. */
#define ZS_TESTPATTERN_IDLE_RENDERS 60

struct zs_testpattern *zs_testpattern_create(uint32_t width, uint32_t height,
	int n_buffers);
void zs_testpattern_destroy(struct zs_testpattern *tp);
/* Renders frame `id` captured at `capture_us` into the first free buffer.
 * Returns NULL when every buffer is still held by a consumer; when a
 * consumer is reading one (zs_frame_map): a frame drawn now would only
 * wait behind it, and one drawn at its release is fresher; and, once,
 * when the only free buffer has given its pages back and another frame
 * is held (it is drawn on the next call if that frame still waits). The
 * caller skips the tick; see zs_testpattern_set_free_notify. The frame is
 * released with zs_frame_release(); release may happen on any thread. */
struct zs_frame *zs_testpattern_render(struct zs_testpattern *tp,
	uint64_t id, uint64_t capture_us);
/* fn(data) runs once on the releasing thread when a buffer is released
 * after a render found none free, so the caller can draw the frame it
 * skipped as soon as it can rather than at its next tick. NULL stops it;
 * once that returns, fn is not running and will not run. */
void zs_testpattern_set_free_notify(struct zs_testpattern *tp,
	void (*fn)(void *data), void *data);
void zs_testpattern_set_input(struct zs_testpattern *tp,
	const struct zs_input_state *input);

/* Frame stamp and input stamp payloads: ZS_STAMP_TYPE_FRAME/INPUT and the
 * barcode are in zs-stamp.h. */

/* ---- frame sources ----
 * A source runs on the GLib main loop of the thread that created it and
 * reports through zs_source_events on that thread. */
struct zs_source;

struct zs_source_events {
	/* A new frame; the callee owns it and calls zs_frame_release() (from any
	 * thread) when done. */
	void (*frame)(void *data, struct zs_frame *frame);
	/* Pointer image, 32-bit ARGB (non-premultiplied), width*height pixels. */
	void (*cursor_define)(void *data, uint32_t width, uint32_t height,
		int32_t hot_x, int32_t hot_y, const uint32_t *argb);
	/* Pointer position in frame pixels; visible false hides it. */
	void (*cursor_move)(void *data, int32_t x, int32_t y, bool visible);
	/* The source ended for good (QEMU exited, socket dropped); reason is a
	 * one-line message. */
	void (*closed)(void *data, const char *reason);
};

struct zs_source_impl {
	const char *name;
	void (*destroy)(struct zs_source *src);
	/* PC set-1 scancode, 0xe0xx for extended keys. */
	void (*key)(struct zs_source *src, uint32_t scancode, bool down);
	/* Absolute pointer in frame pixels, with the ZS_BUTTON_* state. */
	void (*pointer_abs)(struct zs_source *src, int32_t x, int32_t y,
		uint32_t buttons);
	/* Relative motion, with the ZS_BUTTON_* state. */
	void (*pointer_rel)(struct zs_source *src, int32_t dx, int32_t dy,
		uint32_t buttons);
	/* Optional: emit the current picture again soon, even if unchanged
	 * (a new client needs a keyframe of a static screen). Sources that
	 * emit frames continuously leave it NULL. */
	void (*request_frame)(struct zs_source *src);
};

struct zs_source {
	const struct zs_source_impl *impl;
	struct zs_source_events events;
	void *events_data;
};

/* Calls through the vtable; each accepts a NULL source or a missing hook. */
void zs_source_destroy(struct zs_source *src);
void zs_source_key(struct zs_source *src, uint32_t scancode, bool down);
void zs_source_pointer_abs(struct zs_source *src, int32_t x, int32_t y,
	uint32_t buttons);
void zs_source_pointer_rel(struct zs_source *src, int32_t dx, int32_t dy,
	uint32_t buttons);

/* The test-pattern source: renders with zs_testpattern on a GLib timer at
 * `fps`, shows input it receives. Frames ids start at 1. */
struct zs_source *zs_testpattern_source_create(uint32_t width, uint32_t height,
	uint32_t fps, const struct zs_source_events *events, void *data);

/* Still mode: after frame `frames` the test pattern stops moving; input
 * still redraws it, and request_frame repeats the last picture (same id
 * and capture time, so the same pixels). 0 (the default) never stops. */
void zs_testpattern_source_set_still_after(struct zs_source *src,
	uint64_t frames);

/* Where the test pattern draws its two stamps (black and white cells with
 * their white quiet zones): sharp-edged achromatic content, like text. */
struct zs_rect zs_testpattern_stamp_area(void);

/* PSNR in dB, capped at 100 for identical pictures, after matching the
 * source's levels to the picture's (a least-squares gain and offset per
 * channel: the client's RGB <-> YUV conversions shift levels, e.g. white
 * 255 comes back as 253, whatever the bitrate). text_db: R, G, B over the
 * stamp area (inset by 8 pixels), sharp black and white edges that only
 * the codec's loss blurs: the measure of text sharpness. y_db (BT.709
 * luma) and rgb_db over every pixel: both capped near 40 and 33 dB on
 * this pattern by 4:2:0 chroma on its saturated coloured edges. */
struct zs_psnr {
	double y_db, rgb_db;
	double text_db;
};
/* The PSNR of a screenshot of the test pattern against the picture the
 * test pattern draws for the frame and input stamps found in it. Returns
 * 0, -ENOENT when no frame stamp is found, -EINVAL for a size the test
 * pattern cannot draw, other negative errnos on failure. */
int zs_testpattern_psnr(const struct zs_image *img, struct zs_psnr *psnr,
	uint32_t *frame_id);
