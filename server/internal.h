/* Declarations shared by the server's files; not for other modules. */
#pragma once

#include <glib.h>
#include <spice.h>
#include <stdbool.h>
#include <stdint.h>

#include "zs-dmabuf.h"
#include "zs-encoder.h"

#define ZS_LOG_DOMAIN "zerospice"

/* ---- spice-core.c ---- */

/* Channel events as spice-server reports them; may run on a spice-server
 * worker thread. */
typedef void (*zs_channel_event_fn)(int event, int channel_type,
	int channel_id, void *data);
SpiceCoreInterface *zs_spice_core_get(GMainContext *context,
	zs_channel_event_fn event_cb, void *data);

/* ---- display.c: the SpiceServer and the interfaces we register ---- */

struct zs_display;

struct zs_display_events {
	/* START_STOP from the stream device: the codecs every connected client
	 * decodes (ZS_CODEC_BIT mask), 0 when the last client left. */
	void (*start_stop)(void *data, uint32_t codec_mask);
	/* spice-server read every byte we queued. */
	void (*drained)(void *data);
	/* Input, already translated (see zs_source_impl). */
	void (*key)(void *data, uint32_t scancode, bool down);
	void (*pointer_abs)(void *data, int32_t x, int32_t y, uint32_t buttons);
	void (*pointer_rel)(void *data, int32_t dx, int32_t dy,
		uint32_t buttons);
};

struct zs_display_config {
	const char *ticket; /* NULL: no authentication */
	uint32_t width, height; /* initial stream size */
};

struct zs_display *zs_display_create(const struct zs_display_config *config,
	const struct zs_display_events *events, void *data, char *err,
	size_t err_len);
void zs_display_destroy(struct zs_display *d);

/* Hands an accepted connection to spice-server. Takes ownership of fd. */
bool zs_display_add_client(struct zs_display *d, int fd);

/* Queues one whole stream-device message (takes ownership of the malloc'd
 * bytes) and wakes spice-server up. */
void zs_display_queue(struct zs_display *d, uint8_t *msg, size_t len,
	uint16_t type);
/* SPICE sessions (main channels) spice-server has now. */
uint32_t zs_display_client_count(const struct zs_display *d);
/* True while queued bytes wait for spice-server to read them. */
bool zs_display_busy(const struct zs_display *d);
/* Drops queued messages spice-server has not started to read. Returns how
 * many DATA messages were dropped. */
unsigned zs_display_drop_unsent(struct zs_display *d);

/* ---- pipeline.c: frames → encoder worker → stream device ---- */

struct zs_pipeline;

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
};

struct zs_pipeline_stats {
	uint64_t frames_in, frames_encoded, frames_sent;
	uint64_t frames_skipped; /* raw frames replaced before encoding */
	uint64_t frames_dropped; /* encoded frames dropped (forced a keyframe) */
	uint64_t keyframes, bytes_sent;
};

struct zs_pipeline *zs_pipeline_create(const struct zs_pipeline_config *cfg,
	struct zs_display *display, char *err, size_t err_len);
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

/* ---- listen.c: the listening sockets ---- */

struct zs_listener;
typedef void (*zs_accept_fn)(int fd, void *data); /* takes ownership of fd */

/* Binds and listens (host:port or a unix path). On success *bound_desc
 * holds "127.0.0.1:5900" or "unix:/path" (the real port if 0 was asked). */
struct zs_listener *zs_listener_create(const char *host, uint16_t port,
	const char *unix_path, zs_accept_fn accept_cb, void *data,
	char *bound_desc, size_t desc_len, char *err, size_t err_len);
void zs_listener_destroy(struct zs_listener *l);
