/* zerospice — internals of the QEMU source shared by its files and tests. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gio/gio.h>

#include "zs-qemu.h"
#include "zs-qemu-dbus.h"

/* ---- pixman formats (the numbering QEMU sends, pixman.h's PIXMAN_FORMAT);
 * values describe pixels in host byte order, which we assume little-endian
 * like the DRM fourccs. */
#define ZS_PIXMAN_FORMAT(bpp, type, a, r, g, b) \
	(((uint32_t)(bpp) << 24) | ((uint32_t)(type) << 16) | \
	 ((uint32_t)(a) << 12) | ((uint32_t)(r) << 8) | \
	 ((uint32_t)(g) << 4) | (uint32_t)(b))
#define ZS_PIXMAN_TYPE_ARGB 2
#define ZS_PIXMAN_TYPE_ABGR 3
#define ZS_PIXMAN_TYPE_BGRA 8
#define ZS_PIXMAN_TYPE_RGBA 9

#define ZS_PIXMAN_a8r8g8b8 ZS_PIXMAN_FORMAT(32, ZS_PIXMAN_TYPE_ARGB, 8, 8, 8, 8)
#define ZS_PIXMAN_x8r8g8b8 ZS_PIXMAN_FORMAT(32, ZS_PIXMAN_TYPE_ARGB, 0, 8, 8, 8)
#define ZS_PIXMAN_a8b8g8r8 ZS_PIXMAN_FORMAT(32, ZS_PIXMAN_TYPE_ABGR, 8, 8, 8, 8)
#define ZS_PIXMAN_x8b8g8r8 ZS_PIXMAN_FORMAT(32, ZS_PIXMAN_TYPE_ABGR, 0, 8, 8, 8)
#define ZS_PIXMAN_b8g8r8a8 ZS_PIXMAN_FORMAT(32, ZS_PIXMAN_TYPE_BGRA, 8, 8, 8, 8)
#define ZS_PIXMAN_b8g8r8x8 ZS_PIXMAN_FORMAT(32, ZS_PIXMAN_TYPE_BGRA, 0, 8, 8, 8)
#define ZS_PIXMAN_r8g8b8a8 ZS_PIXMAN_FORMAT(32, ZS_PIXMAN_TYPE_RGBA, 8, 8, 8, 8)
#define ZS_PIXMAN_r8g8b8x8 ZS_PIXMAN_FORMAT(32, ZS_PIXMAN_TYPE_RGBA, 0, 8, 8, 8)
#define ZS_PIXMAN_x2r10g10b10 ZS_PIXMAN_FORMAT(32, ZS_PIXMAN_TYPE_ARGB, 0, 10, 10, 10)
#define ZS_PIXMAN_a2r10g10b10 ZS_PIXMAN_FORMAT(32, ZS_PIXMAN_TYPE_ARGB, 2, 10, 10, 10)
#define ZS_PIXMAN_x2b10g10r10 ZS_PIXMAN_FORMAT(32, ZS_PIXMAN_TYPE_ABGR, 0, 10, 10, 10)
#define ZS_PIXMAN_a2b10g10r10 ZS_PIXMAN_FORMAT(32, ZS_PIXMAN_TYPE_ABGR, 2, 10, 10, 10)
#define ZS_PIXMAN_r8g8b8 ZS_PIXMAN_FORMAT(24, ZS_PIXMAN_TYPE_ARGB, 0, 8, 8, 8)
#define ZS_PIXMAN_b8g8r8 ZS_PIXMAN_FORMAT(24, ZS_PIXMAN_TYPE_ABGR, 0, 8, 8, 8)
#define ZS_PIXMAN_r5g6b5 ZS_PIXMAN_FORMAT(16, ZS_PIXMAN_TYPE_ARGB, 0, 5, 6, 5)
#define ZS_PIXMAN_b5g6r5 ZS_PIXMAN_FORMAT(16, ZS_PIXMAN_TYPE_ABGR, 0, 5, 6, 5)
#define ZS_PIXMAN_a1r5g5b5 ZS_PIXMAN_FORMAT(16, ZS_PIXMAN_TYPE_ARGB, 1, 5, 5, 5)
#define ZS_PIXMAN_x1r5g5b5 ZS_PIXMAN_FORMAT(16, ZS_PIXMAN_TYPE_ARGB, 0, 5, 5, 5)

/* Largest width/height accepted from QEMU, and the largest picture. */
#define ZS_QEMU_MAX_DIM 16384u
#define ZS_QEMU_MAX_FRAME_BYTES (1ull << 30)
#define ZS_QEMU_MAX_CURSOR_DIM 1024

/* DRM fourcc for a pixman format QEMU may send; 0 when unknown. */
uint32_t zs_qemu_pixman_to_drm(uint32_t pixman_format);
/* Bytes per pixel of a known pixman format (2, 3 or 4); 0 when unknown. */
uint32_t zs_qemu_pixman_bytes(uint32_t pixman_format);
/* The fourcc our copied framebuffer uses for pixels QEMU sends in
 * pixman_format: the same layout for 32-bit formats, XRGB8888 otherwise. */
uint32_t zs_qemu_fb_fourcc(uint32_t pixman_format);
/* Bytes per pixel of a packed single-plane RGB fourcc; 0 when unknown. */
uint32_t zs_qemu_fourcc_bytes(uint32_t fourcc);
/* Copies a w x h rectangle from src (pixman_format) to dst (dst_fourcc, which
 * is zs_qemu_fb_fourcc(pixman_format)): a row memcpy when the layouts match,
 * a conversion to XRGB8888 otherwise. The caller has checked the bounds. */
void zs_qemu_copy_rect(uint8_t *dst, size_t dst_stride, uint32_t dst_fourcc,
	const uint8_t *src, size_t src_stride, uint32_t pixman_format,
	uint32_t width, uint32_t height);

/* qnum (QEMU key number) for a PC set-1 scancode (0xe0xx for extended keys,
 * 0xe1xx for Pause); 0 when there is none. */
uint32_t zs_qemu_scancode_to_qnum(uint32_t scancode);

/* ---- validation of what QEMU sends. Each returns true when the values are
 * usable, false with a one-line reason in why. */
bool zs_qemu_check_scanout(uint32_t width, uint32_t height, uint32_t stride,
	uint32_t pixman_format, uint64_t data_len, char *why, size_t why_len);
bool zs_qemu_check_update(int32_t x, int32_t y, int32_t width, int32_t height,
	uint32_t stride, uint32_t pixman_format, uint64_t data_len,
	uint32_t fb_width, uint32_t fb_height, char *why, size_t why_len);
/* A damage rectangle (UpdateMap, UpdateDMABUF) inside fb_width x fb_height. */
bool zs_qemu_check_rect(int32_t x, int32_t y, int32_t width, int32_t height,
	uint32_t fb_width, uint32_t fb_height, char *why, size_t why_len);
/* file_size: the memfd's size (fstat). */
bool zs_qemu_check_map(uint32_t offset, uint32_t width, uint32_t height,
	uint32_t stride, uint32_t pixman_format, uint64_t file_size,
	char *why, size_t why_len);
/* file_sizes[i]: size of plane i's fd (lseek SEEK_END), 0 when unknown. */
bool zs_qemu_check_dmabuf(uint32_t width, uint32_t height, uint32_t fourcc,
	uint64_t modifier, uint32_t n_planes, const uint32_t *offsets,
	const uint32_t *strides, const uint64_t *file_sizes,
	char *why, size_t why_len);
bool zs_qemu_check_cursor(int32_t width, int32_t height, int32_t hot_x,
	int32_t hot_y, uint64_t data_len, char *why, size_t why_len);

/* ---- QEMU's shared memory (memory.c) */
enum zs_qemu_fd_kind {
	ZS_QEMU_FD_BAD,      /* pipe, socket, directory, size 0: refused */
	ZS_QEMU_FD_DMABUF,   /* a real dma-buf (fixed size): mapped */
	ZS_QEMU_FD_SEALED,   /* a file with F_SEAL_SHRINK: mapped */
	ZS_QEMU_FD_UNSEALED, /* a file that may shrink: read with pread() */
};
/* What fd (borrowed) is; *size gets its size (0 for BAD, with the reason in
 * why). Adds F_SEAL_SHRINK to a memfd that allows sealing. */
enum zs_qemu_fd_kind zs_qemu_fd_classify(int fd, uint64_t *size,
	char *why, size_t why_len);
/* True when fd (borrowed) is sealed against shrinking, or we could seal
 * it. */
bool zs_qemu_fd_cannot_shrink(int fd);
/* zs_qemu_copy_rect() reading the source from fd at src_offset with pread()
 * instead of a mapping: a file that shrank gives false, never SIGBUS. */
bool zs_qemu_pread_rect(uint8_t *dst, size_t dst_stride, uint32_t dst_fourcc,
	int fd, uint64_t src_offset, size_t src_stride, uint32_t pixman_format,
	uint32_t width, uint32_t height);

/* ---- QMP (qmp.c) */
#define ZS_QMP_LINE_MAX 65536

enum zs_qemu_qmp_kind {
	ZS_QMP_MSG_OTHER,
	ZS_QMP_MSG_GREETING, /* {"QMP": ...} */
	ZS_QMP_MSG_RETURN,   /* {"return": ..., "id": ...} */
	ZS_QMP_MSG_ERROR,    /* {"error": {"desc": ...}, "id": ...} */
	ZS_QMP_MSG_EVENT,    /* {"event": ...} */
};

struct zs_qemu_qmp_msg {
	enum zs_qemu_qmp_kind kind;
	char id[32];    /* a string "id", else empty */
	char desc[200]; /* ERROR: the description */
};

/* Classifies one QMP line (without its newline): false when it is not a
 * JSON object (or nests deeper than QMP ever does). */
bool zs_qemu_qmp_parse_line(const char *line, size_t len,
	struct zs_qemu_qmp_msg *msg);

/* Splits a QMP byte stream into lines of at most ZS_QMP_LINE_MAX bytes. */
struct zs_qemu_qmp_reader {
	char *buf;
	size_t len;
};
/* Returns non-zero to stop feeding (that value is returned by feed). */
typedef int (*zs_qemu_qmp_msg_fn)(const struct zs_qemu_qmp_msg *msg,
	void *data);
void zs_qemu_qmp_reader_init(struct zs_qemu_qmp_reader *r);
void zs_qemu_qmp_reader_finish(struct zs_qemu_qmp_reader *r);
/* Calls cb for each whole line. Returns 0, cb's non-zero value, or a
 * negative errno with a reason in err for a line too long (-EMSGSIZE) or
 * not QMP (-EPROTO); the reader is unusable after an error. */
int zs_qemu_qmp_reader_feed(struct zs_qemu_qmp_reader *r, const uint8_t *data,
	size_t len, zs_qemu_qmp_msg_fn cb, void *cb_data, char *err,
	size_t err_len);

/* True when the peer of the connected unix socket fd (borrowed) runs as our
 * effective uid, as root, or as allowed_uid (-1: none). */
bool zs_qemu_peer_uid_ok(int fd, int64_t allowed_uid, char *why,
	size_t why_len);

/* The exchange with QEMU's QMP: greeting, qmp_capabilities, getfd with one
 * end of a new socketpair, add_client protocol=@dbus-display; all on the
 * thread-default main context, bounded by timeout_ms in total. */
struct zs_qemu_qmp;
/* dbus_fd: our end of the socketpair, connected to QEMU's display (the
 * callee owns it), or -1 with the reason in err. Called once; may free
 * the exchange. */
typedef void (*zs_qemu_qmp_done_fn)(void *data, int dbus_fd, const char *err);
/* Connects without blocking and checks the peer's uid. Returns 0 with *out
 * set, or a negative errno with a reason in err: -ENOENT, -ECONNREFUSED,
 * -EAGAIN (backlog full) while QEMU is not listening, -EPERM for a peer of
 * another uid. */
int zs_qemu_qmp_start(const char *path, int64_t allowed_uid, int timeout_ms,
	zs_qemu_qmp_done_fn done, void *data, struct zs_qemu_qmp **out,
	char *err, size_t err_len);
/* Stops the exchange (no callback after) and frees it; accepts NULL. */
void zs_qemu_qmp_free(struct zs_qemu_qmp *q);

/* ---- the source */
enum zs_qemu_buffer_kind {
	ZS_QEMU_BUFFER_FB,     /* our memfd, filled from Scanout/Update */
	ZS_QEMU_BUFFER_MAP,    /* QEMU's memfd surface (ScanoutMap) */
	ZS_QEMU_BUFFER_DMABUF, /* QEMU's dma-buf(s) (ScanoutDMABUF[2]) */
};

/* A picture buffer, reference-counted on the source's thread: one reference
 * for the source while current, one per frame in flight. Owns its fds. */
struct zs_qemu_buffer {
	int refs;
	enum zs_qemu_buffer_kind kind;
	uint32_t width, height, fourcc;
	uint64_t modifier;
	bool y0_top;
	int n_planes;
	int fds[ZS_FRAME_MAX_PLANES];
	uint32_t offsets[ZS_FRAME_MAX_PLANES];
	uint32_t strides[ZS_FRAME_MAX_PLANES];
	/* FB: writable mapping; MAP: read-only mapping of a memfd that cannot
	 * shrink, NULL for one that may (read with pread into our FB) */
	uint8_t *pixels;
	size_t map_len;
	uint32_t pixman_format; /* MAP: the format QEMU writes in */
	/* FB: bounding box of what changed in the current buffer since this one
	 * was last current (width 0: nothing). */
	struct zs_rect missing;
};

#define ZS_QEMU_FB_POOL 3

/* The ways QEMU hands us pictures; each is logged once per source, so that
 * logs and tests show which ones ran. */
enum zs_qemu_path {
	ZS_QEMU_PATH_SCANOUT,       /* Scanout/Update: pixels over the socket */
	ZS_QEMU_PATH_SCANOUT_MAP,   /* Unix.Map ScanoutMap/UpdateMap */
	ZS_QEMU_PATH_DMABUF,        /* ScanoutDMABUF/UpdateDMABUF */
	ZS_QEMU_PATH_DMABUF2,       /* Unix.ScanoutDMABUF2 */
};

struct zs_qemu_display {
	enum zs_qemu_buffer_kind kind;
	bool active;          /* a scanout is current (not disabled) */
	uint32_t width, height;
	struct zs_qemu_buffer *pool[ZS_QEMU_FB_POOL];
	int cur;              /* index in pool of the newest FB, -1 none */
	uint32_t fb_pixman;   /* format of the last Scanout */
	struct zs_qemu_buffer *map;
	struct zs_qemu_buffer *dmabuf;
	/* coalesced damage not emitted yet */
	bool pending;
	int n_damage;         /* 0 with pending: full frame */
	struct zs_rect damage[ZS_FRAME_MAX_DAMAGE];
	uint64_t pending_capture_us;
	GSource *emit_idle;
	/* Updates outside the picture grew it before the Console Width/Height
	 * change arrived: hold frames until it does, at most this long. */
	int64_t size_wait_until_us;
	bool warned_tearing;
	bool warned_copy;     /* ScanoutMap copied with pread() was logged */
	/* bit per enum zs_qemu_path already logged */
	uint32_t paths_logged;
};

struct zs_qemu_frame;

/* Traced key presses waiting at once (more are not traced). */
#define ZS_QEMU_KEY_TRACE_MAX 16

struct zs_qemu_source {
	struct zs_source base;
	GMainContext *ctx;
	GCancellable *cancel;

	char *qmp_path;
	struct zs_qemu_qmp *qmp; /* the QMP exchange under way */
	int64_t allowed_uid;     /* -1: only ours and root */
	char *bus_address;
	int dbus_fd;           /* owned until handed to GDBus */
	uint32_t console;
	uint32_t connect_timeout_ms;
	bool wait_for_qemu;
	bool said_waiting;     /* the wait is logged once */
	char console_path[64];

	GSource *start_source;
	GSource *retry_timer;
	GSource *blank_timer;  /* blank_width/height: black until a picture */
	int64_t connect_deadline_us;

	GDBusConnection *qemu_conn;
	gulong qemu_closed_id;
	/* zs_qemu_source_create_console(): primary's connection, borrowed
	 * (primary NULL once it is destroyed); a primary lists its other
	 * consoles (struct zs_qemu_source *) */
	struct zs_qemu_source *primary;
	GList *consoles;
	bool conn_open;        /* zs_qemu_open_console() ran */
	bool secondary;        /* made by zs_qemu_source_create_console() */
	guint name_watch;
	ZsQemuDisplay1Console *console_proxy;
	gulong console_props_id;
	ZsQemuDisplay1Keyboard *kbd;
	ZsQemuDisplay1Mouse *mouse;

	/* chardev.c, clipboard.c: the session bridges */
	struct zs_qemu_session_events session;
	void *session_data;
	void (*consoles_found)(void *data, const uint32_t *numbers, size_t n);
	void *consoles_data;
	GDBusObjectManager *objects;   /* QEMU's /org/qemu/Display1 */
	GHashTable *chardevs;          /* id → GDBusProxy (Chardev) */
	struct zs_qemu_clipboard *clipboard;

	GDBusConnection *listener_conn;
	gulong listener_closed_id;
	ZsQemuDisplay1Listener *listener;
	ZsQemuDisplay1ListenerUnixMap *listener_map;
	ZsQemuDisplay1ListenerUnixScanoutDMABUF2 *listener_dmabuf2;
	bool listener_ready, registered, running, closed;
	bool name_seen;        /* bus mode: org.qemu has appeared */

	struct zs_qemu_display disp;
	GQueue frames;         /* struct zs_qemu_frame in flight */
	uint64_t next_frame_id;

	uint8_t keys_down[32]; /* bitmap of pressed qnums */
	uint32_t buttons;      /* ZS_BUTTON_* sent to QEMU */
	int32_t pointer_x, pointer_y;
	bool pointer_known;
	/* motion calls QEMU has not answered; past the bound the newest
	 * position (or the summed relative motion) is held */
	int motion_inflight;
	int presses_inflight;  /* Keyboard.Press calls not answered */
	bool warned_presses;
	bool motion_held, motion_abs;
	int32_t motion_dx, motion_dy;
	bool ui_info_refused; /* SetUIInfo's refusal is logged once */
	struct zs_qemu_audio *audio; /* audio.c; NULL without audio events */
	/* --trace-stages (input.c): presses waiting for their answering
	 * frame or QEMU's reply; replies come in call order */
	zs_qemu_key_trace_fn key_trace_fn;
	void *key_trace_data;
	struct zs_qemu_key_wait {
		struct zs_qemu_key_trace k;
		uint64_t seq; /* Keyboard.Press calls made before it */
	} key_wait[ZS_QEMU_KEY_TRACE_MAX];
	int n_key_wait;
	uint64_t presses_called, presses_replied;
	uint16_t key_base_events; /* input stamp's count before the waiting */
};

/* Pointer motion calls to QEMU in flight before motion is coalesced. */
#define ZS_QEMU_MAX_MOTION_CALLS 32
/* Key presses to QEMU in flight before new ones are dropped. */
#define ZS_QEMU_MAX_PRESS_CALLS 256

/* True for the error of a call cancelled when the source closed. */
bool zs_qemu_is_cancelled(const GError *error);

/* Reports events->closed once and stops listening; safe to call repeatedly. */
void zs_qemu_source_close(struct zs_qemu_source *src, const char *fmt, ...)
	G_GNUC_PRINTF(2, 3);

/* Destroys and drops a GSource; accepts a NULL one. */
void zs_qemu_clear_timer(GSource **timer);
/* "closed" handler of both D-Bus connections to QEMU. */
void zs_qemu_on_conn_closed(GDBusConnection *conn, gboolean remote_vanished,
	GError *error, gpointer data);
/* Opens the Console proxy; its reply registers the listener. */
void zs_qemu_open_console(struct zs_qemu_source *src);

/* ---- connect.c: reaching QEMU (QMP, inherited socket, bus) */
/* Starts connecting the way the options say; failures close the source. */
void zs_qemu_connect(struct zs_qemu_source *src);
/* Wraps an fd in a GIOStream; takes ownership of fd. */
GIOStream *zs_qemu_stream_from_fd(int fd, GError **error);

/* ---- display.c: the picture */
struct zs_qemu_buffer *zs_qemu_buffer_new(enum zs_qemu_buffer_kind kind);
/* Drops a reference; the last one unmaps and closes the fds. */
void zs_qemu_buffer_unref(struct zs_qemu_buffer *buf);
/* Drops QEMU's buffers (memfd surface, dma-bufs) and, unless keep_fb, our
 * framebuffers. */
void zs_qemu_display_drop_buffers(struct zs_qemu_display *disp, bool keep_fb);
/* A black memfd framebuffer (sealed against resizing); NULL when out of
 * memory or fds. */
struct zs_qemu_buffer *zs_qemu_fb_new(uint32_t width, uint32_t height,
	uint32_t fourcc);
/* Replaces the framebuffer pool with fb (takes the reference). */
void zs_qemu_fb_install(struct zs_qemu_display *disp,
	struct zs_qemu_buffer *fb);
/* Replaces the framebuffer pool with one black buffer; on failure the pool
 * is unchanged. */
bool zs_qemu_fb_reset(struct zs_qemu_display *disp, uint32_t width,
	uint32_t height, uint32_t fourcc);
/* The newest framebuffer; NULL when there is none. */
struct zs_qemu_buffer *zs_qemu_fb_current(struct zs_qemu_display *disp);
/* Tests: this many framebuffer allocations fail from now on. */
extern unsigned zs_qemu_test_fail_allocs;
/* The framebuffer the current batch of updates goes to, up to date except
 * inside `overwrite` (the caller writes all of it next); NULL when there is
 * none. */
struct zs_qemu_buffer *zs_qemu_fb_target(struct zs_qemu_display *disp,
	struct zs_rect overwrite);
/* Copies QEMU pixels (pixman_format) into the framebuffer batch; the caller
 * has checked r against the framebuffer. False when there is no
 * framebuffer. */
bool zs_qemu_fb_write(struct zs_qemu_display *disp, struct zs_rect r,
	const uint8_t *pixels, size_t stride, uint32_t pixman_format);
/* The same from QEMU's memfd (borrowed) with pread(): false when there is no
 * framebuffer or the file shrank. */
bool zs_qemu_fb_read(struct zs_qemu_display *disp, struct zs_rect r, int fd,
	uint64_t offset, size_t stride, uint32_t pixman_format);
/* Replaces the framebuffers with one of the new size keeping the overlap,
 * and queues a full frame. */
bool zs_qemu_fb_resize(struct zs_qemu_source *src, uint32_t width,
	uint32_t height);
/* Adds damage to the batch emitted once the queued messages are handled;
 * r NULL: the whole frame. */
void zs_qemu_damage_add(struct zs_qemu_source *src, const struct zs_rect *r);
/* Emits a frame showing buf now; takes ownership of ack (may be NULL), the
 * UpdateDMABUF answered when the consumer releases the frame or after
 * ZS_QEMU_ACK_TIMEOUT_MS. */
void zs_qemu_emit_frame(struct zs_qemu_source *src, struct zs_qemu_buffer *buf,
	uint32_t width, uint32_t height, int n_damage,
	const struct zs_rect *damage, uint64_t capture_us,
	GDBusMethodInvocation *ack);
/* Makes buf (ScanoutDMABUF[2], takes the reference) the picture and emits
 * it. */
void zs_qemu_display_set_dmabuf(struct zs_qemu_source *src,
	struct zs_qemu_buffer *buf);
/* Black framebuffer at the last size, not emitted yet; false when there is
 * no size yet (or no memory). */
bool zs_qemu_display_show_black(struct zs_qemu_source *src);

/* listener.c: exports the Listener interfaces on conn (not started yet). */
bool zs_qemu_listener_export(struct zs_qemu_source *src, GDBusConnection *conn,
	GError **error);
void zs_qemu_listener_unexport(struct zs_qemu_source *src);
/* Follows the Console Width/Height properties (a resize may come only as
 * property changes with wider Updates). */
void zs_qemu_display_console_resized(struct zs_qemu_source *src,
	uint32_t width, uint32_t height);
/* Shows black at the last size (Disable, QEMU gone, waiting for QEMU),
 * emitted at once; no-op before the first picture or size. */
void zs_qemu_display_blank(struct zs_qemu_source *src);
/* Drops the display state; frames in flight keep their buffers. Replies to
 * every held UpdateDMABUF. */
void zs_qemu_display_finish(struct zs_qemu_source *src);
/* Frames in flight stop referring to src (before it is freed). */
void zs_qemu_frames_detach(struct zs_qemu_source *src);

/* ---- chardev.c: watches QEMU's -chardev dbus objects (after the console
 * proxy); stop drops them, reporting chardev_removed. */
void zs_qemu_chardev_start(struct zs_qemu_source *src);
void zs_qemu_chardev_stop(struct zs_qemu_source *src);
/* The source of a public handle, NULL for other kinds. */
struct zs_qemu_source *zs_qemu_source_from(struct zs_source *base);

/* ---- clipboard.c: serves /org/qemu/Display1/Clipboard on the D-Bus
 * connection and registers with QEMU's; stop unexports it and reports
 * clipboard_ready(false). */
void zs_qemu_clipboard_start(struct zs_qemu_source *src);
void zs_qemu_clipboard_stop(struct zs_qemu_source *src);

/* ---- input.c: keys and pointer toward QEMU; no-ops until the Keyboard and
 * Mouse proxies exist, and after close. */
void zs_qemu_input_key(struct zs_qemu_source *src, uint32_t scancode,
	bool down);
void zs_qemu_input_pointer_abs(struct zs_qemu_source *src, int32_t x,
	int32_t y, uint32_t buttons);
void zs_qemu_input_pointer_rel(struct zs_qemu_source *src, int32_t dx,
	int32_t dy, uint32_t buttons);
/* Releases every key and button this source pressed. */
void zs_qemu_input_release_all(struct zs_qemu_source *src);
/* --trace-stages: a frame about to be emitted from buf (input.c). */
void zs_qemu_input_trace_frame(struct zs_qemu_source *src,
	const struct zs_qemu_buffer *buf, const struct zs_frame *f);
/* The buffer the next frame would show; NULL: none (display.c). */
struct zs_qemu_buffer *zs_qemu_display_current(struct zs_qemu_display *disp);
/* ---- audio.c */
struct zs_qemu_audio *zs_qemu_audio_create(struct zs_qemu_source *src,
	const struct zs_qemu_audio_events *events, void *data);
/* QEMU's connection is up: register the listeners. */
void zs_qemu_audio_start(struct zs_qemu_audio *a);
/* Closes the listener connections (QEMU gone or source closing). */
void zs_qemu_audio_stop(struct zs_qemu_audio *a);
void zs_qemu_audio_destroy(struct zs_qemu_audio *a);

bool zs_qemu_input_ui_info(struct zs_qemu_source *src, uint32_t width,
	uint32_t height, uint16_t width_mm, uint16_t height_mm);
