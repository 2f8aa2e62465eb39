/* Link-following rate control (ratectl.h). */
#include <glib.h>

#include "ratectl.h"

/* A report's trip over this is not a frame of ours (or a client lying):
 * ignored. */
#define MAX_TRIP_MS 60000
/* The lowest trip is kept over two windows of this. */
#define BASE_WINDOW_US (15 * G_USEC_PER_SEC)
#define CUT_FACTOR 0.85
#define RAISE_FACTOR 1.08
#define RAISE_EVERY_US (G_USEC_PER_SEC / 4)
#define RAISE_USE 0.75
/* a report's trip this much under the previous one's: the queue drains */
#define FALLING_MS 20
#define ENCODER_SHARE 0.9 /* of the link, for the encoder's ceiling */
#define BURST_MS 40       /* the pacer lets this much through at once */
#define MIN_BURST_BYTES 6000
/* Frames on the way beyond the newest one a client reported, while
 * clients report (every 5 frames): a report's window, a margin, and what
 * was sent within the lowest trip (+ JITTER_MS); before a trip is known,
 * UNREPORTED_START. An overloaded link's first second then queues a few
 * frames, not a second of them. */
#define REPORT_WINDOW_FRAMES 5
#define UNREPORTED_MARGIN_FRAMES 3
#define UNREPORTED_START 10
#define JITTER_MS 50
#define REPORTS_FRESH_US G_USEC_PER_SEC
#define UNREPORTED_POLL_US (20 * 1000)

void zs_ratectl_init(struct zs_ratectl *rc, uint32_t max_kbps)
{
	*rc = (struct zs_ratectl){ .max_kbps = max_kbps };
}

/* The frame queued `age` frames ago (0: the newest; age < sent_n). */
static const struct zs_ratectl_sent *sent_back(const struct zs_ratectl *rc,
	unsigned age)
{
	return &rc->sent[(rc->sent_next + ZS_RATECTL_RING - 1 - age) %
		ZS_RATECTL_RING];
}

/* What the link took since the bucket was last looked at. */
static void drain(struct zs_ratectl *rc, int64_t now_us)
{
	if (!rc->limited) {
		rc->bucket_bytes = 0;
	} else if (now_us > rc->bucket_us) {
		double took = rc->link_kbps * 1000 / 8 *
			(double)(now_us - rc->bucket_us) / G_USEC_PER_SEC;
		rc->bucket_bytes = MAX(0, rc->bucket_bytes - took);
	}
	rc->bucket_us = now_us;
}

void zs_ratectl_sent(struct zs_ratectl *rc, int64_t now_us, size_t bytes)
{
	drain(rc, now_us);
	if (!rc->sent_total)
		rc->first_sent_us = now_us;
	rc->bucket_bytes += (double)bytes;
	rc->sent[rc->sent_next].ms = (uint32_t)(now_us / 1000);
	rc->sent[rc->sent_next].bytes = (uint32_t)MIN(bytes, G_MAXUINT32);
	rc->sent_next = (rc->sent_next + 1) % ZS_RATECTL_RING;
	rc->sent_n = MIN(rc->sent_n + 1, ZS_RATECTL_RING);
	rc->sent_total++;
}

static unsigned unreported_allowed(const struct zs_ratectl *rc,
	int64_t now_us)
{
	if (!rc->base_ms)
		return UNREPORTED_START;
	uint32_t since = (uint32_t)(now_us / 1000) - rc->base_ms - JITTER_MS;
	unsigned n = 0;
	for (unsigned i = 0; i < rc->sent_n; i++) {
		if ((int32_t)(sent_back(rc, i)->ms - since) < 0)
			break;
		n++;
	}
	return REPORT_WINDOW_FRAMES + UNREPORTED_MARGIN_FRAMES + n;
}

int64_t zs_ratectl_wait_us(struct zs_ratectl *rc, int64_t now_us)
{
	drain(rc, now_us);
	/* a report frees the pipeline at once; the poll is for a client
	 * that stopped reporting */
	bool reporting = rc->reported_us ?
		now_us - rc->reported_us < REPORTS_FRESH_US :
		rc->sent_total && now_us - rc->first_sent_us < REPORTS_FRESH_US;
	if (reporting &&
	    rc->sent_total - rc->reported_total >= unreported_allowed(rc, now_us))
		return UNREPORTED_POLL_US;
	if (!rc->limited)
		return 0;
	double bytes_per_s = rc->link_kbps * 1000 / 8;
	double burst = MAX(MIN_BURST_BYTES, bytes_per_s * BURST_MS / 1000);
	if (rc->bucket_bytes <= burst)
		return 0;
	return (int64_t)((rc->bucket_bytes - burst) / bytes_per_s *
		G_USEC_PER_SEC) + 1;
}

/* How many frames back (0: the newest) the frame spice-server stamped
 * `ms` is, -1 when it is not in the ring. spice-server stamps a frame when
 * it starts reading it from us, at or after the ms we queued it, and we
 * queue the next only once it has read the last: the newest frame queued
 * at or before the stamp. (It may wait in our output while spice-server's
 * own queue holds it back: a stamp can be well after our ms.) */
static int find_frame(const struct zs_ratectl *rc, uint32_t ms)
{
	for (unsigned i = 0; i < rc->sent_n; i++) {
		int32_t d = (int32_t)(ms - sent_back(rc, i)->ms);
		if (d >= 0)
			return d <= MAX_TRIP_MS ? (int)i : -1;
	}
	return -1;
}

/* Bytes of `count` frames ending `age` frames back (0: the newest). */
static uint64_t bytes_of(const struct zs_ratectl *rc, unsigned age,
	unsigned count)
{
	uint64_t sum = 0;
	for (unsigned i = age; i < rc->sent_n && i < age + count; i++)
		sum += sent_back(rc, i)->bytes;
	return sum;
}

/* The client's trip and queue from this report; false to ignore it. */
static bool client_sample(struct zs_ratectl *rc, struct zs_ratectl_client *c,
	int64_t now_us, const struct zs_relay_stream_report *r)
{
	int32_t trip = (int32_t)((uint32_t)(now_us / 1000) -
		r->end_frame_mm_time);
	if (trip < 0 || trip > MAX_TRIP_MS || r->num_frames == 0)
		return false;
	if (c->window_us == 0 || now_us - c->window_us >= BASE_WINDOW_US) {
		c->base_ms[1] = c->window_us ? c->base_ms[0] : G_MAXUINT32;
		c->base_ms[0] = G_MAXUINT32;
		c->window_us = now_us;
	}
	c->base_ms[0] = MIN(c->base_ms[0], (uint32_t)trip);
	uint32_t base = MIN(c->base_ms[0], c->base_ms[1]);
	c->prev_trip_ms = c->trip_ms;
	c->trip_ms = (uint32_t)trip;
	c->queue_ms = (uint32_t)trip - base;
	rc->base_ms = MAX(1, base);
	/* A link queued from the first frame on (a desktop already moving
	 * at connect) shows no trip over the lowest: the bytes waiting in
	 * our socket beyond what the link holds in flight tell it. */
	if (c->recv_kbps > 0) {
		double bytes_per_ms = c->recv_kbps / 8;
		double waiting = (double)c->sock_queue_bytes -
			bytes_per_ms * base;
		if (waiting > 0)
			c->queue_ms = MAX(c->queue_ms,
				(uint32_t)MIN(waiting / bytes_per_ms, MAX_TRIP_MS));
	}
	/* A lost segment holds everything behind it for a retransmission
	 * timeout, and then the held frames arrive at once: reports whose
	 * trips fall by the time between their frames. A queue keeps the
	 * trip up or growing. */
	if (c->queue_ms <= ZS_RATECTL_QUEUE_HIGH_MS)
		c->over_streak = 0;
	else if (c->over_streak == 0 ||
		 c->trip_ms + FALLING_MS >= c->prev_trip_ms)
		c->over_streak++;
	else
		c->over_streak = 1;

	int age = find_frame(rc, r->end_frame_mm_time);
	/* sent after the reported frame: on the way, or queued */
	c->inflight_bytes = age >= 0 ? bytes_of(rc, 0, (unsigned)age) : 0;
	if (age >= 0) {
		rc->reported_total = MAX(rc->reported_total,
			rc->sent_total - (uint64_t)age);
		rc->reported_us = now_us;
	}
	if (c->have_last && now_us - c->last_us >= 10000 && age >= 0 &&
	    (int32_t)(r->end_frame_mm_time - c->last_end_ms) > 0) {
		uint64_t bytes = bytes_of(rc, (unsigned)age,
			MIN(r->num_frames, ZS_RATECTL_RING));
		double kbps = (double)bytes * 8 * 1000 /
			(double)(now_us - c->last_us);
		c->recv_kbps = c->recv_kbps > 0 ?
			0.7 * c->recv_kbps + 0.3 * kbps : kbps;
	}
	c->have_last = true;
	c->last_end_ms = r->end_frame_mm_time;
	c->last_us = now_us;
	return true;
}

bool zs_ratectl_report(struct zs_ratectl *rc, struct zs_ratectl_client *c,
	int64_t now_us, const struct zs_relay_stream_report *r)
{
	if (!client_sample(rc, c, now_us, r))
		return false;
	drain(rc, now_us);
	uint32_t before = zs_ratectl_encoder_kbps(rc);
	bool was_limited = rc->limited;
	bool over = c->queue_ms > ZS_RATECTL_QUEUE_HIGH_MS;
	if (over)
		rc->last_over_us = now_us;
	/* a queue, not one late burst: two reports in a row */
	bool queued = c->over_streak >= 2;
	if (queued && now_us >= rc->hold_until_us && c->recv_kbps > 0) {
		double target = MAX(ZS_RATECTL_MIN_KBPS,
			CUT_FACTOR * c->recv_kbps);
		if (!rc->limited || target < rc->link_kbps) {
			rc->link_kbps = target;
			rc->limited = true;
			rc->cuts++;
		}
		/* the next cut waits until frames sent at this rate arrive */
		rc->hold_until_us = now_us +
			((int64_t)c->trip_ms + 100) * 1000;
	}
	if (queued && rc->limited) {
		/* What was sent after the reported frame is still queued
		 * beyond what the link holds in flight: the pacer lets
		 * nothing more go until the link has taken it (the newest
		 * frame then goes, not a queue of old ones). */
		uint32_t base_ms = c->trip_ms - c->queue_ms;
		double in_flight = c->recv_kbps / 8 * base_ms;
		rc->bucket_bytes = MAX(rc->bucket_bytes,
			(double)c->inflight_bytes - in_flight);
	} else if (rc->limited && c->queue_ms < ZS_RATECTL_QUEUE_LOW_MS &&
		   /* the limit is what holds the stream back, not content */
		   c->recv_kbps >= RAISE_USE * rc->link_kbps &&
		   now_us - rc->last_over_us >= RAISE_EVERY_US &&
		   now_us - rc->last_raise_us >= RAISE_EVERY_US) {
		rc->link_kbps *= RAISE_FACTOR;
		rc->last_raise_us = now_us;
		rc->raises++;
		if (rc->max_kbps && rc->link_kbps * ENCODER_SHARE >=
			rc->max_kbps)
			rc->limited = false;
	}
	return rc->limited != was_limited ||
		zs_ratectl_encoder_kbps(rc) != before;
}

uint32_t zs_ratectl_encoder_kbps(const struct zs_ratectl *rc)
{
	if (!rc->limited)
		return rc->max_kbps;
	double kbps = MAX(ZS_RATECTL_MIN_KBPS, rc->link_kbps * ENCODER_SHARE);
	if (rc->max_kbps)
		kbps = MIN(kbps, rc->max_kbps);
	return (uint32_t)kbps;
}

uint32_t zs_ratectl_link_kbps(const struct zs_ratectl *rc)
{
	return rc->limited ? (uint32_t)MAX(1, rc->link_kbps) : 0;
}
