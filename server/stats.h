/* The session's counters: what the pipeline and the connection front see,
 * for the metrics endpoint (metrics.c) and the control API's Stats
 * property. Private to server/.
 *
 * One session per process, so the state is the module's own (no object):
 * the hooks are one-line calls from pipeline.c and front.c. Everything here
 * runs on the main thread (the GLib loop that runs spice-server, the
 * pipeline's results, libsoup and GDBus); nothing takes a lock. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "zs-encoder.h"

struct zs_display;
struct zs_pipeline;

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
	/* --rate-control: the rate the stream is paced at for the slowest
	 * client's link; 0 while no link limits it */
	uint32_t link_kbps;

	/* the encoder, over the last 64 frames */
	uint32_t encode_us_last, encode_us_p50;
	/* capture → access unit handed to spice-server, last frame; the
	 * client's network and decode time come on top */
	uint32_t latency_us_last, latency_us_p50;

	/* what is being streamed */
	enum zs_codec codec; /* ZS_CODEC_NONE while no client watches */
	uint32_t width, height;
	char encoder[128]; /* "gst:x264enc h264 1280x720 @ 4000 kbps", "" */

	/* SPICE sessions (main channels) spice-server has */
	uint32_t clients_connected;
	uint32_t n_clients;
	struct zs_stats_client clients[ZS_STATS_MAX_CLIENTS];
};

/* Starts a session's figures from zero (main() at start; tests). */
void zs_stats_reset(void);
/* Where clients_connected and the frame counters come from; set NULL
 * before destroying them. */
void zs_stats_set_display(struct zs_display *d);
void zs_stats_set_pipeline(struct zs_pipeline *p);

/* ---- hooks (pipeline.c, front.c) ---- */
void zs_stats_frame_in(void);
/* An access unit came back from the encoder; cpu_pixel_bytes is what the
 * encoder copied for it. */
void zs_stats_frame_encoded(const struct zs_access_unit *au,
	uint64_t cpu_pixel_bytes);
void zs_stats_frame_sent(const struct zs_access_unit *au);
void zs_stats_streaming(enum zs_codec codec);
/* A new encoder took over (its description, for logs and metrics). */
void zs_stats_encoder(const char *description);
/* A client connection is about to go to spice-server or a relay; borrows
 * fd (reads its addresses only). Closed connections are noticed at the
 * next snapshot. */
void zs_stats_connection(int fd);

/* Fills *out (no allocation; asks the kernel for each tracked connection's
 * TCP counters). */
void zs_stats_snapshot(struct zs_stats_snapshot *out);

/* ---- metrics.c: Prometheus text exposition over HTTP ---- */

struct zs_metrics;

/* Serves GET /metrics on host (an IP address or "localhost") and port (0:
 * any free one). On success *bound_desc holds "127.0.0.1:9100". */
struct zs_metrics *zs_metrics_create(const char *host, uint16_t port,
	char *bound_desc, size_t desc_len, char *err, size_t err_len);
void zs_metrics_destroy(struct zs_metrics *m);

/* Appends the Prometheus text format (version 0.0.4) of s to out. */
void zs_stats_format_prometheus(const struct zs_stats_snapshot *s,
	GString *out);
