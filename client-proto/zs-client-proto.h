/* zerospice — what is spoken toward SPICE clients through spice-server:
 * stream-device framing, codec negotiation, agent mouse messages and
 * keyboard scancodes. Pure functions: no sockets, no loops. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zs-encoder.h"

/* ---- stream device (spice/stream-device.h) ---- */

#define ZS_STREAM_HEADER_BYTES 8
#define ZS_STREAM_FORMAT_BYTES (ZS_STREAM_HEADER_BYTES + 12)
#define ZS_STREAM_CURSOR_MOVE_BYTES (ZS_STREAM_HEADER_BYTES + 8)
#define ZS_STREAM_MAX_DATA_BYTES (32u * 1024 * 1024)
#define ZS_STREAM_MAX_CURSOR_DIM 1024
/* Largest message we accept from the server (CAPABILITIES, START_STOP,
 * NOTIFY_ERROR are all small). */
#define ZS_STREAM_MAX_IN_BYTES (64u * 1024)

/* Writes a header for a message of `type` and payload `size`. Returns false
 * when the size is over the protocol's limit for that type. */
bool zs_stream_put_header(uint8_t out[ZS_STREAM_HEADER_BYTES], uint16_t type,
	uint32_t size);
/* FORMAT: header + {u32 width, u32 height, u8 codec, 3 pad}. codec is the
 * SpiceVideoCodecType value (== enum zs_codec). */
void zs_stream_put_format(uint8_t out[ZS_STREAM_FORMAT_BYTES], uint32_t width,
	uint32_t height, enum zs_codec codec);
/* CURSOR_MOVE: header + {i32 x, i32 y}. */
void zs_stream_put_cursor_move(uint8_t out[ZS_STREAM_CURSOR_MOVE_BYTES],
	int32_t x, int32_t y);
/* CURSOR_SET with a 32-bit ARGB (premultiplied not required) image of
 * width*height pixels, row-major, as one malloc'd message (header included;
 * the caller frees it). The hot spot is clamped into the image. NULL when a
 * dimension is 0 or over ZS_STREAM_MAX_CURSOR_DIM, or on allocation failure. */
uint8_t *zs_stream_build_cursor_set(uint16_t width, uint16_t height,
	uint16_t hot_x, uint16_t hot_y, const uint32_t *argb, size_t *len);

/* Messages from the server to the device. */
struct zs_stream_msg {
	uint16_t type;     /* STREAM_TYPE_* */
	uint32_t size;
	const uint8_t *payload; /* valid during the callback only; never NULL */
};
/* Must not feed or finish the reader it is called from. */
typedef void (*zs_stream_msg_fn)(const struct zs_stream_msg *msg, void *data);

/* Incremental reader of server→device bytes: any split of the input gives
 * the same messages. Accepts CAPABILITIES, START_STOP and NOTIFY_ERROR. */
struct zs_stream_reader {
	uint8_t header[ZS_STREAM_HEADER_BYTES];
	size_t header_len;
	uint8_t *payload;
	size_t payload_len;
	uint32_t payload_size;
	bool failed;
};
void zs_stream_reader_init(struct zs_stream_reader *r);
void zs_stream_reader_finish(struct zs_stream_reader *r);
/* Feeds bytes and calls `cb` for each whole message. Returns false on a
 * protocol error (wrong version, unknown type, oversized message), with a
 * one-line reason in err; the reader stays failed until
 * zs_stream_reader_finish() + init. */
bool zs_stream_reader_feed(struct zs_stream_reader *r, const uint8_t *buf,
	size_t len, zs_stream_msg_fn cb, void *data, char *err, size_t err_len);

/* START_STOP payload {u8 num_codecs; u8 codecs[num_codecs]}: returns false
 * when truncated. Codecs outside the known range are skipped. Writes a
 * bitmask of ZS_CODEC_BIT into *codec_mask (0 = stop). */
bool zs_stream_parse_start_stop(const uint8_t *payload, size_t len,
	uint32_t *codec_mask);

/* ---- codec negotiation ---- */

/* Picks the codec to stream: `forced` (ZS_CODEC_NONE = auto) only when the
 * clients list it and it is available; otherwise, with auto, the first of
 * H.264, VP8, VP9, H.265, MJPEG present in both masks. ZS_CODEC_NONE when
 * nothing fits. */
enum zs_codec zs_codec_choose(uint32_t client_mask, uint32_t available_mask,
	enum zs_codec forced);

/* ---- vdagent: the client's monitors config ---- */

/* VD_AGENT_MONITORS_CONFIG (the client's window sizes), as far as we use
 * it: the monitors in the client's order, sizes in pixels; width_mm and
 * height_mm are 0 unless the client sent physical sizes. */
#define ZS_AGENT_MAX_MONITORS 16
struct zs_agent_monitor {
	uint32_t width, height; /* 0 x 0: a disabled monitor */
	int32_t x, y;
	uint16_t width_mm, height_mm;
};
struct zs_agent_monitors {
	uint32_t n;
	struct zs_agent_monitor mon[ZS_AGENT_MAX_MONITORS];
};
/* Parses a VDAgentMonitorsConfig body of len bytes. False with a one-line
 * reason when it is malformed (truncated, no monitor, more monitors than
 * the body holds); monitors past ZS_AGENT_MAX_MONITORS are dropped. */
bool zs_agent_parse_monitors_config(const uint8_t *body, size_t len,
	struct zs_agent_monitors *out, char *why, size_t why_len);

/* ---- vdagent messages: whole messages for the agent bridge ---- */

/* Largest chunk payload (VD_AGENT_MAX_DATA_SIZE): spice-server resets the
 * device on a bigger one from the agent side. */
#define ZS_AGENT_CHUNK_MAX_BYTES 2048

struct zs_agent_msg {
	uint32_t port;      /* VDP_CLIENT_PORT or VDP_SERVER_PORT */
	uint32_t type;      /* VD_AGENT_* */
	uint64_t opaque;
	uint32_t size;      /* data bytes */
	/* valid during the callback only; NULL when the message was over the
	 * reader's limit (or memory ran out): its data was skipped */
	const uint8_t *data;
};
/* Must not feed or finish the reader it is called from. */
typedef void (*zs_agent_msg_fn)(const struct zs_agent_msg *m, void *data);

struct zs_agent_msg_port {
	uint8_t header[20];
	size_t header_len;
	uint8_t *buf;
	uint32_t size, done;
	bool drop;
};

/* Incremental reader of a VDIChunkHeader stream (either direction) that
 * reassembles whole VDAgentMessages per port: any split of the input gives
 * the same messages. Refuses an unknown port, a chunk over
 * ZS_AGENT_CHUNK_MAX_BYTES and a wrong protocol; a message over
 * max_msg_bytes is reported with data NULL, the stream stays in step. */
struct zs_agent_msg_reader {
	uint32_t max_msg_bytes;
	uint8_t chunk_header[8];
	size_t chunk_header_len;
	uint32_t chunk_port;
	uint32_t chunk_left;
	struct zs_agent_msg_port port[2];
	bool failed;
};
void zs_agent_msg_reader_init(struct zs_agent_msg_reader *r,
	uint32_t max_msg_bytes);
/* Frees a partial message; the reader must be initialised again to be
 * reused. */
void zs_agent_msg_reader_finish(struct zs_agent_msg_reader *r);
/* Same contract as zs_stream_reader_feed(). */
bool zs_agent_msg_reader_feed(struct zs_agent_msg_reader *r,
	const uint8_t *buf, size_t len, zs_agent_msg_fn cb, void *data,
	char *err, size_t err_len);
/* True when no chunk or message is partly read. */
bool zs_agent_msg_reader_idle(const struct zs_agent_msg_reader *r);

/* One message as chunks of at most ZS_AGENT_CHUNK_MAX_BYTES for port: data
 * is head followed by body (either may be empty). malloc'd, NULL on
 * allocation failure or a size over 4 GiB. */
uint8_t *zs_agent_msg_build(uint32_t port, uint32_t type, const void *head,
	size_t head_len, const void *body, size_t body_len, size_t *out_len);

/* ANNOUNCE_CAPABILITIES {u32 request; u32 caps[]}: false when shorter than
 * the request field. Caps past n_caps words are ignored, missing ones 0. */
bool zs_agent_parse_caps(const uint8_t *data, size_t len, bool *request,
	uint32_t *caps, size_t n_caps);
bool zs_agent_has_cap(const uint32_t *caps, size_t n_caps, uint32_t cap);

/* A clipboard message (GRAB, REQUEST, CLIPBOARD, RELEASE), with the
 * {u8 selection; u8 reserved[3]} prefix when both sides announced
 * VD_AGENT_CAP_CLIPBOARD_SELECTION. */
struct zs_agent_clipboard {
	uint8_t selection;
	bool has_text;        /* GRAB offers VD_AGENT_CLIPBOARD_UTF8_TEXT */
	uint32_t data_type;   /* REQUEST, CLIPBOARD */
	const uint8_t *data;  /* CLIPBOARD: points into the message */
	size_t data_len;
};
/* False when truncated or not a clipboard message. */
bool zs_agent_parse_clipboard(uint32_t type, const uint8_t *data, size_t len,
	bool selection, struct zs_agent_clipboard *out);
/* Writes the head of a clipboard message: the selection prefix (when
 * selection) then, with with_type, the u32 data type. Returns its length. */
size_t zs_agent_put_clipboard_head(uint8_t out[8], bool selection,
	uint8_t sel, bool with_type, uint32_t data_type);

/* Agent button mask (VD_AGENT_LBUTTON_MASK…) → ZS_BUTTON_* bits. */
uint32_t zs_agent_buttons_to_zs(uint32_t agent_buttons);
/* Button state as spice-server 0.15 passes it to SpiceMouseInterface
 * (motion, buttons) and SpiceTabletInterface: its RED_MOUSE_STATE_TO_LOCAL
 * order left 1<<0, right 1<<1, middle 1<<2 — not SPICE_MOUSE_BUTTON_MASK_*,
 * whose middle and right are swapped. → ZS_BUTTON_*. The wheel arrives as dz,
 * not in this state. */
uint32_t zs_spice_buttons_to_zs(uint32_t spice_buttons);

/* ---- keyboard ---- */

/* Assembles PC set-1 scancode bytes as spice-server pushes them into key
 * events: code (0x1e, or 0xe0xx for extended keys; the Pause sequence
 * e1 1d 45 / e1 9d c5 gives 0xe145) and down/up. Zero-initialise it. */
struct zs_scancode_decoder {
	uint8_t prefix; /* 0, 0xe0 or 0xe1 */
	uint8_t e1_left;
};
/* Returns true when `byte` completes a key event; any byte sequence is
 * accepted. */
bool zs_scancode_feed(struct zs_scancode_decoder *d, uint8_t byte,
	uint32_t *code, bool *down);

/* ---- virt-viewer connection files (.vv) ---- */

/* What goes into a .vv file; NULL strings and 0 ports are left out. */
struct zs_vv {
	const char *host;
	uint16_t port, tls_port;
	const char *password;
	const char *ca_pem;       /* the CA certificate(s), PEM */
	const char *host_subject; /* "C=..,O=..,CN=.." as in the certificate */
	const char *title;
	const char *proxy;        /* "http://host:3128" (HTTP CONNECT) */
	bool delete_this_file;
};

/* The [virt-viewer] group, type=spice, with values escaped as GKeyFile
 * (and so remote-viewer) reads them back: newlines as "\n". Returns a
 * malloc'd string, or NULL when host is missing, no port is given, or
 * memory ran out. */
char *zs_vv_format(const struct zs_vv *vv);
/* Escapes one value for a key file line (malloc'd, NULL on no memory). */
char *zs_vv_escape(const char *value);
