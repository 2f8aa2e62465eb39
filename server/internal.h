/* Declarations shared by the server's files; not for other modules. */
#pragma once

#include <glib.h>
#include <spice.h>
#include <stdbool.h>
#include <stdint.h>

#include "zs-dmabuf.h"
#include "zs-client-proto.h"
#include "zs-encoder.h"
#include "zs-qemu.h"
#include "zs-server.h"

#define ZS_LOG_DOMAIN "zerospice"

/* ---- spice-core.c ---- */

/* Channel events as spice-server reports them (on the thread that ran
 * spice_server_init: see zs_spice_core_set_link_events). */
typedef void (*zs_channel_event_fn)(int event, int channel_type,
	int channel_id, void *data);
SpiceCoreInterface *zs_spice_core_get(GMainContext *context,
	zs_channel_event_fn event_cb, void *data);
/* Every channel event with spice-server's full info (connection id, peer
 * address), for the control API's client list. */
typedef void (*zs_client_event_fn)(int event,
	const SpiceChannelEventInfo *info, void *data);
void zs_spice_core_set_client_events(zs_client_event_fn fn, void *data);
/* The same events for the connection front (front.c), which follows the
 * links it handed to spice-server until their ticket passed. spice-server
 * 0.15 raises every channel event on the thread that ran
 * spice_server_init (its main dispatcher forwards the others'). */
void zs_spice_core_set_link_events(zs_client_event_fn fn, void *data);

/* ---- display.c: the SpiceServer and the interfaces we register ---- */

struct zs_display;

/* Displays (stream devices, SPICE display channels 0..N-1) one server
 * serves at most: spice-gtk shows at most 16 (MAX_DISPLAY), and the stub
 * QXL takes id ZS_MAX_OUTPUTS. */
#define ZS_MAX_OUTPUTS ZS_MAX_CONSOLES

struct zs_display_events {
	/* START_STOP from output's stream device: the codecs every client
	 * connected to that display decodes (ZS_CODEC_BIT mask), 0 when the
	 * last one left. */
	void (*start_stop)(void *data, unsigned output, uint32_t codec_mask);
	/* spice-server read every byte we queued on output. */
	void (*drained)(void *data, unsigned output);
	/* Input, already translated (see zs_source_impl). display_id: the
	 * client's display channel the position is in (VDAgentMouseState's,
	 * untrusted). */
	void (*key)(void *data, uint32_t scancode, bool down);
	void (*pointer_abs)(void *data, uint32_t display_id, int32_t x,
		int32_t y, uint32_t buttons);
	void (*pointer_rel)(void *data, int32_t dx, int32_t dy,
		uint32_t buttons);
};

struct zs_agent_bridge_ops;

struct zs_display_config {
	uint32_t width, height; /* initial stream size */
	unsigned n_outputs; /* displays, 1..ZS_MAX_OUTPUTS (0: 1) */
	/* The agent bridge's session hooks (monitors config, clipboard; its
	 * pointer_abs is ignored: the mouse goes to the display events). NULL
	 * or NULL members: not offered to clients. */
	const struct zs_agent_bridge_ops *agent_ops;
	void *agent_data;
};

struct zs_display *zs_display_create(const struct zs_display_config *config,
	const struct zs_display_events *events, void *data, char *err,
	size_t err_len);
void zs_display_destroy(struct zs_display *d);

/* The SPICE ticket clients must give (text NULL: none), valid lifetime_s
 * seconds (0: no expiry); clients already connected stay. */
void zs_display_set_ticket(struct zs_display *d, const char *text,
	uint32_t lifetime_s);
/* The vdagent char device's bridge, and the SpiceServer (for the session's
 * char devices). */
struct zs_agent_bridge *zs_display_agent(struct zs_display *d);
SpiceServer *zs_display_spice_server(struct zs_display *d);

/* Hands an accepted connection to spice-server. Takes ownership of fd. */
bool zs_display_add_client(struct zs_display *d, int fd);
/* The same; skip_auth lets it in without the ticket (AddClient). */
bool zs_display_add_client_auth(struct zs_display *d, int fd, bool skip_auth);


/* SPICE sessions (main channels) spice-server has now. */
uint32_t zs_display_client_count(const struct zs_display *d);
/* The displays: output i is SPICE display channel i. A display added
 * while clients are connected reaches them when they connect again
 * (spice-server sends its channel list once per session). NULL with a
 * reason past ZS_MAX_OUTPUTS. */
struct zs_output *zs_display_add_output(struct zs_display *d, char *err,
	size_t err_len);
unsigned zs_display_n_outputs(const struct zs_display *d);
struct zs_output *zs_display_output(struct zs_display *d, unsigned index);
/* The stub QXL's display and cursor channel id (ZS_MAX_OUTPUTS, past the
 * outputs'), which clients must not see (relay.h). */
uint8_t zs_display_stub_channel_id(const struct zs_display *d);

/* ---- output.c: one stream-device port = one SPICE display ---- */

struct zs_output;

/* Adds a stream-device port to server and opens it: spice-server gives it
 * the first free display channel id (index when added in order). Events
 * name index. */
struct zs_output *zs_output_create(SpiceServer *server, unsigned index,
	const struct zs_display_events *events, void *data, char *err,
	size_t err_len);
/* Removes the port from spice-server (before spice_server_destroy). */
void zs_output_remove(struct zs_output *o);
/* Removes it if still there and frees what is queued. Accepts NULL. */
void zs_output_destroy(struct zs_output *o);
unsigned zs_output_index(const struct zs_output *o);
/* Queues one whole stream-device message (takes ownership of the malloc'd
 * bytes) and wakes spice-server up. A CURSOR_SET or CURSOR_MOVE replaces an
 * unsent one of its type. */
void zs_output_queue(struct zs_output *o, uint8_t *msg, size_t len,
	uint16_t type);
/* True while queued bytes wait for spice-server to read them. */
bool zs_output_busy(const struct zs_output *o);
/* Bytes queued and not read yet. */
size_t zs_output_queued_bytes(const struct zs_output *o);
/* Tells spice-server (and through it the guest agent) which device head
 * the display shows: a DEVICE_DISPLAY_INFO message, queued now and again
 * for each renewed stream device; a repeat of the last one is not. Logged
 * and skipped for an unusable address. */
void zs_output_set_device_info(struct zs_output *o, const char *address,
	uint32_t head);
/* Tests: spice-server reads nothing while set (a client that stopped
 * reading, as spice-server sees it). */
extern bool zs_output_test_stall_reads;
/* Drops queued messages spice-server has not started to read, but the
 * device info. Returns how many DATA messages were dropped. */
unsigned zs_output_drop_unsent(struct zs_output *o);

/* ---- agent-bridge.c: the vdagent char device and the guest agent ---- */

struct zs_agent_bridge;

/* Largest agent message carried either way (a clipboard is one message). */
#define ZS_AGENT_BRIDGE_MAX_MSG_BYTES (64u * 1024 * 1024)
#define ZS_AGENT_BRIDGE_SELECTIONS 3

/* What the bridge asks of the rest of zerospice. clipboard_* serve the
 * no-guest-agent clipboard (QEMU's); answers come back through
 * zs_agent_bridge_vm_clipboard_*(). */
struct zs_agent_bridge_ops {
	/* VD_AGENT_MOUSE_STATE, in stream pixels of display display_id,
	 * ZS_BUTTON_* */
	void (*pointer_abs)(void *data, uint32_t display_id, int32_t x,
		int32_t y, uint32_t buttons);
	/* VD_AGENT_MONITORS_CONFIG from the client while no guest agent is
	 * attached (with one, the agent gets it): the raw
	 * VDAgentMonitorsConfig, untrusted. NULL: not announced to clients. */
	void (*monitors_config)(void *data, const uint8_t *config, size_t len);
	/* The client holds selection with text / gave it up. */
	void (*clipboard_grab)(void *data, uint32_t selection);
	void (*clipboard_release)(void *data, uint32_t selection);
	/* The client asks for QEMU's text: answer with
	 * zs_agent_bridge_vm_clipboard_text(). */
	void (*clipboard_request)(void *data, uint32_t selection);
	/* The client's text for QEMU's request (NULL: none). */
	void (*clipboard_reply)(void *data, uint32_t selection,
		const uint8_t *text, size_t len);
};

/* Registers the vdagent char device (after the stub QXL, see display.c). */
struct zs_agent_bridge *zs_agent_bridge_create(SpiceServer *server,
	const struct zs_agent_bridge_ops *ops, void *data, char *err,
	size_t err_len);
void zs_agent_bridge_destroy(struct zs_agent_bridge *b);
/* The guest agent's byte stream (takes ownership of fd, non-blocking), or
 * -1 when it went away. */
void zs_agent_bridge_set_guest(struct zs_agent_bridge *b, int fd);
bool zs_agent_bridge_has_guest(const struct zs_agent_bridge *b);
/* QEMU's clipboard, used while no guest agent is attached. */
void zs_agent_bridge_vm_clipboard_ready(struct zs_agent_bridge *b,
	bool ready);
void zs_agent_bridge_vm_clipboard_grab(struct zs_agent_bridge *b,
	uint32_t selection);
void zs_agent_bridge_vm_clipboard_release(struct zs_agent_bridge *b,
	uint32_t selection);
/* QEMU asks for the client's text: clipboard_reply answers. */
void zs_agent_bridge_vm_clipboard_request(struct zs_agent_bridge *b,
	uint32_t selection);
/* QEMU's text for the client's request (NULL: none). */
void zs_agent_bridge_vm_clipboard_text(struct zs_agent_bridge *b,
	uint32_t selection, const uint8_t *text, size_t len);

/* ---- usbredir.c: one spice-server usbredir char device per QEMU
 * usb-redir chardev ---- */

struct zs_usbredir;
/* Opens a fresh stream to QEMU's chardev (a SPICE client attached to the
 * channel): returns a non-blocking fd the device owns, or -1. */
typedef int (*zs_usbredir_connect_fn)(void *data, const char *chardev_id);

struct zs_usbredir *zs_usbredir_create(SpiceServer *server,
	const char *chardev_id, zs_usbredir_connect_fn connect, void *data,
	char *err, size_t err_len);
void zs_usbredir_destroy(struct zs_usbredir *u);

/* ---- session.c: QEMU's chardevs and clipboard ↔ the agent bridge and the
 * usbredir devices ---- */

struct zs_session;
struct zs_qemu_session_events;

/* What other parts of zerospice fill in. */
struct zs_session_hooks {
	/* The client's VD_AGENT_MONITORS_CONFIG (raw VDAgentMonitorsConfig,
	 * untrusted) when no guest agent is attached to take it; NULL: the
	 * capability is not announced. */
	void (*monitors_config)(void *data, const uint8_t *config, size_t len);
};

/* source: the app's current source (followed across --reconnect). */
struct zs_session *zs_session_create(struct zs_source **source,
	const struct zs_session_hooks *hooks, void *hooks_data);
/* Call before destroying the display: removes the usbredir devices. */
void zs_session_destroy(struct zs_session *s);
void zs_session_set_display(struct zs_session *s, struct zs_display *d);
/* For zs_display_config.agent_ops (agent_data: the session). */
const struct zs_agent_bridge_ops *zs_session_agent_ops(
	const struct zs_session *s);
/* For zs_qemu_options.session (session_data: the session). */
const struct zs_qemu_session_events *zs_session_qemu_events(void);

/* ---- pipeline.c: frames → encoder worker → stream device ---- */

struct zs_pipeline;

/* Bytes waiting toward the display clients over which no frame is
 * encoded (--rate-control): a few frames; the link's own buffer comes on
 * top. */
#define ZS_PIPELINE_MAX_WAITING_BYTES (64 * 1024)

struct zs_pipeline_config {
	enum zs_encoder_backend backend;
	enum zs_codec forced_codec; /* ZS_CODEC_NONE = auto */
	uint32_t bitrate_kbps;
	uint32_t fps;     /* source rate, for rate control */
	uint32_t max_fps; /* 0 = no cap */
	/* Asks the source for its current picture again (NULL: the source
	 * sends frames continuously anyway). */
	void (*need_frame)(void *data);
	void *need_frame_data;
	/* re-encode a still picture at rising quality (refine.c) */
	bool refine;
	/* pace the stream to the slowest client's link (ratectl.h) */
	bool rate_control;
	/* with rate_control: bytes waiting toward the display clients now
	 * (socket send queues and relay buffers; NULL: unknown). Over
	 * ZS_PIPELINE_MAX_WAITING_BYTES no frame is encoded: the newest goes
	 * when they have left, also for clients that send no reports. */
	uint64_t (*client_queue_bytes)(void *data);
	void *client_queue_data;
	/* --trace-stages (borrowed; NULL: off) */
	struct zs_trace *trace;
};

struct zs_pipeline_stats {
	uint64_t frames_in, frames_encoded, frames_sent;
	uint64_t frames_skipped; /* raw frames replaced before encoding */
	uint64_t frames_dropped; /* encoded frames dropped (forced a keyframe) */
	uint64_t frames_failed;  /* frames the encoder failed (dropped) */
	uint64_t keyframes, bytes_sent;
	uint64_t frames_refined, bytes_refined; /* part of the above */
};

struct zs_pipeline *zs_pipeline_create(const struct zs_pipeline_config *cfg,
	struct zs_output *output, char *err, size_t err_len);
/* Joins the worker; releases every frame it still holds. */
void zs_pipeline_destroy(struct zs_pipeline *p);
/* A new source frame; takes ownership. Main thread. */
void zs_pipeline_frame(struct zs_pipeline *p, struct zs_frame *frame);
void zs_pipeline_start_stop(struct zs_pipeline *p, uint32_t codec_mask);
void zs_pipeline_drained(struct zs_pipeline *p);
void zs_pipeline_cursor_define(struct zs_pipeline *p, uint32_t width,
	uint32_t height, int32_t hot_x, int32_t hot_y, const uint32_t *argb);
void zs_pipeline_cursor_move(struct zs_pipeline *p, int32_t x, int32_t y,
	bool visible);
void zs_pipeline_get_stats(const struct zs_pipeline *p,
	struct zs_pipeline_stats *stats);
/* Control API: the next frame is a keyframe; a new target bitrate (the
 * encoder restarts with it, from a keyframe). */
void zs_pipeline_request_keyframe(struct zs_pipeline *p);
void zs_pipeline_set_bitrate(struct zs_pipeline *p, uint32_t kbps);
/* A display client's stream report (the front's relay read it; client is
 * that relay's rate-control state). */
struct zs_ratectl_client;
struct zs_relay_stream_report;
void zs_pipeline_link_report(struct zs_pipeline *p,
	struct zs_ratectl_client *client,
	const struct zs_relay_stream_report *report);
/* The rate the stream is paced at now; 0 while the link does not limit. */
uint32_t zs_pipeline_link_kbps(const struct zs_pipeline *p);
/* The codec streamed now (ZS_CODEC_NONE: nobody watches) and the encoder
 * in use ("" before the first frame). */
enum zs_codec zs_pipeline_codec(const struct zs_pipeline *p);
const char *zs_pipeline_encoder_desc(const struct zs_pipeline *p);

/* ---- trace.c: --trace-stages, one line per frame sent ---- */

struct zs_trace;
/* Times in CLOCK_MONOTONIC us (0: unknown). */
struct zs_trace_frame {
	uint64_t id, capture_us;
	int64_t in_us;      /* the pipeline got the frame from the source */
	int64_t submit_us;  /* handed to the encoder thread */
	uint64_t enc_start_us, enc_end_us;
	int64_t queued_us;  /* the DATA message queued for spice-server */
	size_t bytes;
	bool keyframe;
	unsigned refine_level;
};
struct zs_trace *zs_trace_open(const char *path, char *err, size_t err_len);
void zs_trace_close(struct zs_trace *t);
void zs_trace_write(struct zs_trace *t, const struct zs_trace_frame *fr);
/* Each line then also carries what waits toward the display clients when
 * the frame was queued (zs_front_display_queue). Borrows front; NULL
 * before destroying it. */
struct zs_front;
void zs_trace_set_front(struct zs_trace *t, struct zs_front *front);
/* A key press toward QEMU and the frame that answered it (version 3 "k"
 * lines); a zs_qemu_key_trace_fn, data the struct zs_trace. */
struct zs_qemu_key_trace;
void zs_trace_key(void *trace, const struct zs_qemu_key_trace *k);

/* ---- refine.c: sharpening a still picture (main thread) ---- */

struct zs_refine;
struct zs_refine_stats {
	uint64_t frames, bytes; /* refinement frames encoded */
	uint64_t completed;     /* still periods refined to the top level */
	uint64_t skipped;       /* still periods after too small a change */
};

/* request asks the source for its current picture again; without it (or
 * with enabled false) nothing is refined. fps paces the steps. */
struct zs_refine *zs_refine_create(bool enabled, uint32_t fps,
	void (*request)(void *data), void *data);
void zs_refine_destroy(struct zs_refine *r);
/* A source frame reaches the pipeline: the refine level to encode it at
 * (0 for a change). changed: the fraction of the picture its damage
 * covers (1 for a whole new picture). */
unsigned zs_refine_frame_in(struct zs_refine *r, double changed);
/* The frame encoded at `level` was handed to spice-server (sent) or
 * dropped; bytes is its size. */
void zs_refine_frame_done(struct zs_refine *r, unsigned level, bool sent,
	size_t bytes);
/* No client watches: nothing to refine until the next frame. */
void zs_refine_stop(struct zs_refine *r);
void zs_refine_get_stats(const struct zs_refine *r,
	struct zs_refine_stats *stats);

/* ---- listen.c: the listening sockets ---- */

struct zs_listener;
typedef void (*zs_accept_fn)(int fd, void *data); /* takes ownership of fd */

/* Binds and listens (host:port or a unix path, which gets unix_mode before
 * anyone can connect). On success *bound_desc holds "127.0.0.1:5900" or
 * "unix:/path" (the real port if 0 was asked). */
struct zs_listener *zs_listener_create(const char *host, uint16_t port,
	const char *unix_path, unsigned unix_mode, zs_accept_fn accept_cb,
	void *data, char *bound_desc, size_t desc_len, char *err,
	size_t err_len);
void zs_listener_destroy(struct zs_listener *l);
/* Listens on an inherited, already listening socket (socket activation);
 * takes ownership of fd. *is_unix says its family. */
struct zs_listener *zs_listener_create_from_fd(int fd, zs_accept_fn accept_cb,
	void *data, bool *is_unix, char *bound_desc, size_t desc_len, char *err,
	size_t err_len);

/* ---- resize.c: the desktop follows the client's window ---- */

/* What a client window may ask of the guest: what the encoders and the
 * clients' decoders commonly take. Each side in [MIN, MAX], the area at
 * most H.264 level 5.1's frame (36864 macroblocks, 4096x2304): VA-API
 * encoders and hardware decoders mostly stop at 4096. */
#define ZS_UI_MIN_WIDTH 320u
#define ZS_UI_MIN_HEIGHT 200u
#define ZS_UI_MAX_DIM 4096u
#define ZS_UI_MAX_AREA (36864u * 256u)

/* Clamps a requested size into the limits above (keeping the aspect when
 * only the area is too large). Returns true when it had to change it. */
bool zs_ui_size_clamp(uint32_t *width, uint32_t *height);

struct zs_resize {
	uint32_t width, height; /* last size asked of the source, 0 none */
};

/* The client's monitors config, without a guest agent to take it: asks
 * the source (QEMU's Console.SetUIInfo) for the first enabled monitor's
 * size, clamped (and logged when clamped), unless it is the last size
 * asked. */
void zs_resize_request(struct zs_resize *r, struct zs_source *src,
	const struct zs_agent_monitors *m);

/* The part of the client's monitors config for display (of n_displays):
 * monitor i is display i (zerospice announces sparse monitors configs),
 * with one display the whole config as before. False when it has no
 * enabled monitor for that display. */
bool zs_resize_monitors_for_display(const struct zs_agent_monitors *m,
	unsigned display, unsigned n_displays, struct zs_agent_monitors *out);

/* ---- pcm.c: PCM format, channel and rate conversion ---- */

struct zs_pcm_resampler {
	double t; /* next output's position past prev, in input frames */
	float prev[ZS_PCM_MAX_CHANNELS];
	bool have_prev;
	uint64_t dropped; /* outputs that did not fit */
};
void zs_pcm_resampler_reset(struct zs_pcm_resampler *rs);
/* Frames zs_pcm_convert() may write for n_in input frames. */
size_t zs_pcm_max_out(size_t n_in, uint32_t in_rate, uint32_t out_rate);
/* Converts n_in frames of in (in_fmt) to out_fmt, resampling linearly and
 * mapping channels (mono spreads, to mono averages, else in order); both
 * formats must pass zs_pcm_format_check(). Writes at most max_out frames
 * (more are counted in rs->dropped); returns the frames written. */
size_t zs_pcm_convert(struct zs_pcm_resampler *rs,
	const struct zs_pcm_format *in_fmt, const uint8_t *in, size_t n_in,
	const struct zs_pcm_format *out_fmt, uint8_t *out, size_t max_out);

/* Writes frames of silence (0, or the midpoint of unsigned formats). */
void zs_pcm_silence(const struct zs_pcm_format *f, uint8_t *out,
	size_t frames);

/* ---- audio.c: SPICE playback and record fed by QEMU's audio ---- */

struct zs_audio;
/* Adds a playback and a record interface (48 kHz stereo S16: Opus for
 * clients that take it) to server. NULL with a reason in err. */
struct zs_audio *zs_audio_create(SpiceServer *server, char *err,
	size_t err_len);
void zs_audio_destroy(struct zs_audio *a);
/* Events to pass to zs_qemu_source_set_audio() with a as data. */
const struct zs_qemu_audio_events *zs_audio_qemu_events(void);
