/* The session's counters: what the pipeline and the connection front see,
 * for the metrics endpoint (metrics.c) and the control API's Stats
 * property. Private to server/.
 *
 * One session per process, so the state is the module's own (no object):
 * the hooks are one-line calls from pipeline.c and front.c. Everything here
 * runs on the main thread (the GLib loop that runs spice-server, the
 * pipeline's results, libsoup and GDBus); nothing takes a lock. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "zs-encoder.h"

struct zs_display;

/* Clients listed in a snapshot; connections beyond ZS_STATS_MAX_CONNECTIONS
 * are counted in clients_connected but get no per-client figures. */
#define ZS_STATS_MAX_CLIENTS 16
#define ZS_STATS_MAX_CONNECTIONS 64
/* fps and bitrate are averaged over this many seconds. */
#define ZS_STATS_WINDOW_S 5

/* One client machine: every TCP connection (SPICE channel) from one remote
 * address. Unix-socket clients are counted in clients_connected only. */
struct zs_stats_client {
	char address[48];       /* "192.0.2.7" or "2001:db8::7" */
	int64_t since_us;       /* wall clock (g_get_real_time) of its first
	                         * connection that is still open */
	uint32_t connections;   /* open TCP connections (channels) */
	uint64_t bytes_sent;    /* acknowledged by the client's TCP stack, all
	                         * channels (kernel tcpi_bytes_acked) */
	uint64_t send_queue_bytes; /* written, not yet acknowledged */
	uint64_t frames_dropped; /* stream frames dropped since since_us */
};

struct zs_stats_snapshot {
	int64_t start_us; /* wall clock when the session started */

	/* counters since the start */
	uint64_t frames_in;      /* from the source */
	uint64_t frames_encoded;
	uint64_t frames_sent;    /* handed to spice-server (to every client) */
	uint64_t frames_skipped; /* replaced by a newer one before encoding */
	uint64_t frames_dropped; /* encoded but not sent (forced a keyframe) */
	uint64_t keyframes;
	uint64_t bytes_sent;     /* encoded stream bytes handed to spice-server */
	uint64_t cpu_pixel_bytes; /* pixel bytes the CPU copied or converted
	                           * for the encoders (0 on the VA-API path) */

	/* rates over the last ZS_STATS_WINDOW_S seconds */
	double fps_in, fps_out;
	double bitrate_kbps;

	/* the encoder, over the last 64 frames */
	uint32_t encode_us_last, encode_us_p50;
	/* capture → access unit handed to spice-server, last frame; the
	 * client's network and decode time come on top */
	uint32_t latency_us_last, latency_us_p50;

	/* what is being streamed */
	enum zs_codec codec; /* ZS_CODEC_NONE while no client watches */
	uint32_t width, height;

	/* SPICE sessions (main channels) spice-server has */
	uint32_t clients_connected;
	uint32_t n_clients;
	struct zs_stats_client clients[ZS_STATS_MAX_CLIENTS];
};

/* Starts a session's figures from zero (main() at start; tests). */
void zs_stats_reset(void);
/* Where clients_connected comes from; NULL before the display goes. */
void zs_stats_set_display(struct zs_display *d);

/* ---- hooks ---- */
void zs_stats_frame_in(void);
void zs_stats_frame_skipped(void);
/* An access unit came back from the encoder; cpu_pixel_bytes is what the
 * encoder copied for it. */
void zs_stats_frame_encoded(const struct zs_access_unit *au,
	uint64_t cpu_pixel_bytes);
void zs_stats_frame_sent(const struct zs_access_unit *au);
void zs_stats_frame_dropped(void);
void zs_stats_streaming(enum zs_codec codec);
/* A client connection is about to go to spice-server or a relay; borrows
 * fd (reads its addresses only). Closed connections are noticed at the
 * next snapshot. */
void zs_stats_connection(int fd);

/* Fills *out (no allocation; asks the kernel for each tracked connection's
 * TCP counters). */
void zs_stats_snapshot(struct zs_stats_snapshot *out);
