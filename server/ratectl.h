/* Link-following rate control for one display's stream: the encoded
 * stream is paced to what the slowest client's link delivers, so no queue
 * stands in the network and the newest frame wins (pipeline.c skips raw
 * frames while the pacer holds).
 *
 * What it sees: every frame queued for spice-server (bytes, when), and the
 * stream reports spice-gtk sends every 5 frames or second (relay.h), which
 * spice-server activates for stream devices and then ignores. A report
 * names the last frame's mm_time, spice-server's CLOCK_MONOTONIC ms when it
 * read the frame from us, so now - that time is the frame's trip to the
 * client plus the report's trip back; its excess over the lowest seen
 * lately is the queue on the way. Bytes of the frames a report covers over
 * the time since the client's previous report are its receive rate.
 *
 * States: unlimited (the start, and a LAN: no pacing, the configured
 * bitrate) until a client's queue exceeds ZS_RATECTL_QUEUE_HIGH_MS in two
 * reports in a row, the second not falling (one late burst is a lost
 * segment that held the frames behind it, not a queue); then
 * limited to 0.85 × that client's receive rate. While a client's queue is
 * over HIGH the pacer also holds frames until the bytes sent after the
 * reported frame have left (the queue drains, the newest frame goes
 * next). The limit grows by 8 % each quarter second the queue stays under
 * ZS_RATECTL_QUEUE_LOW_MS and is lifted above the configured bitrate. Main thread only; no I/O, so tests drive it directly. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay.h"

#define ZS_RATECTL_QUEUE_HIGH_MS 50
#define ZS_RATECTL_QUEUE_LOW_MS 20
#define ZS_RATECTL_MIN_KBPS 64
/* frames remembered to attribute reports (~4 s at 60 fps) */
#define ZS_RATECTL_RING 256

/* One client's view, kept by its relay. */
struct zs_ratectl_client {
	uint32_t base_ms[2];  /* lowest trip in this and the last window */
	int64_t window_us;    /* when the current window started */
	bool have_last;
	uint32_t last_end_ms; /* the previous report's last frame */
	int64_t last_us;      /* ... and when it arrived */
	double recv_kbps;     /* smoothed; 0 = not yet known */
	uint32_t queue_ms;    /* from the latest report */
	uint32_t trip_ms, prev_trip_ms;
	unsigned over_streak; /* reports in a row over HIGH, not falling */
	uint64_t inflight_bytes; /* sent after the latest reported frame */
	/* set by the relay before each report: bytes waiting toward the
	 * client (its socket's send queue and the relay's buffer) */
	uint64_t sock_queue_bytes;
};

struct zs_ratectl {
	uint32_t max_kbps;
	bool limited;
	double link_kbps;      /* while limited */
	double bucket_bytes;   /* the pacer: sent minus what the link took */
	int64_t bucket_us;
	int64_t hold_until_us; /* no new cut before the last one shows */
	int64_t last_over_us, last_raise_us;
	struct zs_ratectl_sent { uint32_t ms, bytes; } sent[ZS_RATECTL_RING];
	unsigned sent_next, sent_n;
	uint64_t sent_total;
	uint64_t reported_total; /* frames up to the newest reported one */
	int64_t reported_us;     /* when a report last named a frame */
	int64_t first_sent_us;
	uint32_t base_ms;        /* the last reporting client's lowest trip */
	uint64_t cuts, raises;
};

void zs_ratectl_init(struct zs_ratectl *rc, uint32_t max_kbps);
/* A frame of `bytes` queued for spice-server at now_us (CLOCK_MONOTONIC). */
void zs_ratectl_sent(struct zs_ratectl *rc, int64_t now_us, size_t bytes);
/* 0: the next frame may go; else how long the pacer holds it (us). */
int64_t zs_ratectl_wait_us(struct zs_ratectl *rc, int64_t now_us);
/* A client's stream report arrived at now_us. true when the state or the
 * encoder's bitrate changed. */
bool zs_ratectl_report(struct zs_ratectl *rc, struct zs_ratectl_client *c,
	int64_t now_us, const struct zs_relay_stream_report *r);
/* The bitrate the encoder should aim at now (its VBV ceiling). */
uint32_t zs_ratectl_encoder_kbps(const struct zs_ratectl *rc);
/* The pacing rate, 0 while unlimited. */
uint32_t zs_ratectl_link_kbps(const struct zs_ratectl *rc);
