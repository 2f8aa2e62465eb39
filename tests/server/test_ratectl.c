/* Link-following rate control (server/ratectl.c), driven through a
 * simulated link: a bottleneck of a given rate and a fixed one-way delay,
 * a sender of 60 frames a second whose frames are as big as the encoder's
 * bitrate makes them, and a client that reports every 5 frames as
 * spice-gtk does. */
#include <criterion/criterion.h>
#include <glib.h>

#include "ratectl.h"

#define MS 1000
#define MAX_FRAMES 20000

struct sim {
	struct zs_ratectl rc;
	struct zs_ratectl_client client;
	double link_kbps;     /* the bottleneck */
	int64_t owd_us;       /* one way, each direction */
	double link_free_us;  /* when the bottleneck has sent all it has */
	/* frames on the way: when each reaches the client, its stamp */
	int64_t arrive_us[MAX_FRAMES];
	uint32_t stamp_ms[MAX_FRAMES];
	unsigned n_sent, n_arrived;
	/* reports on the way back */
	int64_t report_at_us[MAX_FRAMES / 5 + 1];
	struct zs_relay_stream_report report[MAX_FRAMES / 5 + 1];
	unsigned n_reports, n_reported;
	bool pending;
	/* a "lost segment" every stall_every frames: that frame and all
	 * behind it wait stall_us more (TCP's head-of-line blocking) */
	unsigned stall_every;
	int64_t stall_us;
	int64_t max_queue_us_late; /* worst frame delay over 2 × owd, late */
};

static void sim_init(struct sim *s, double link_kbps, int64_t owd_us,
	uint32_t max_kbps)
{
	memset(s, 0, sizeof(*s));
	zs_ratectl_init(&s->rc, max_kbps);
	s->link_kbps = link_kbps;
	s->owd_us = owd_us;
}

/* Runs from t0 for dur_us; the queue is judged after judge_from_us. */
static void sim_run(struct sim *s, int64_t t0, int64_t dur_us,
	int64_t judge_from_us, uint32_t fps)
{
	int64_t frame_every = G_USEC_PER_SEC / fps;
	for (int64_t t = t0; t < t0 + dur_us; t += MS) {
		if ((t - t0) % frame_every < MS)
			s->pending = true; /* a new raw frame (newest wins) */
		if (s->pending && s->n_sent < MAX_FRAMES &&
		    zs_ratectl_wait_us(&s->rc, t) == 0) {
			size_t bytes = (size_t)zs_ratectl_encoder_kbps(&s->rc) *
				1000 / 8 / fps;
			zs_ratectl_sent(&s->rc, t, bytes);
			double start = MAX((double)t, s->link_free_us);
			s->link_free_us = start + (double)bytes * 8 * 1000 /
				s->link_kbps;
			s->arrive_us[s->n_sent] = (int64_t)s->link_free_us +
				s->owd_us;
			if (s->stall_every && s->n_sent % s->stall_every ==
				s->stall_every - 1)
				s->arrive_us[s->n_sent] += s->stall_us;
			if (s->n_sent && s->arrive_us[s->n_sent] <
				s->arrive_us[s->n_sent - 1])
				s->arrive_us[s->n_sent] =
					s->arrive_us[s->n_sent - 1];
			s->stamp_ms[s->n_sent] = (uint32_t)(t / 1000);
			s->n_sent++;
			s->pending = false;
		}
		while (s->n_arrived < s->n_sent &&
		       s->arrive_us[s->n_arrived] <= t) {
			unsigned i = s->n_arrived++;
			int64_t late = s->arrive_us[i] - s->stamp_ms[i] * 1000 -
				s->owd_us;
			if (t >= judge_from_us)
				s->max_queue_us_late = MAX(s->max_queue_us_late,
					late);
			if (s->n_arrived % 5 == 0) {
				unsigned k = s->n_reports++;
				s->report_at_us[k] = t + s->owd_us;
				s->report[k] = (struct zs_relay_stream_report){
					.end_frame_mm_time = s->stamp_ms[i],
					.num_frames = 5,
				};
			}
		}
		while (s->n_reported < s->n_reports &&
		       s->report_at_us[s->n_reported] <= t) {
			zs_ratectl_report(&s->rc, &s->client, t,
				&s->report[s->n_reported]);
			s->n_reported++;
		}
	}
}

#define T0 (100 * G_USEC_PER_SEC)

Test(ratectl, a_fast_link_is_never_limited)
{
	static struct sim s;
	sim_init(&s, 100000, 1 * MS, 6000);
	sim_run(&s, T0, 10 * G_USEC_PER_SEC, T0, 60);
	cr_assert_not(s.rc.limited);
	cr_assert_eq(s.rc.cuts, 0);
	cr_assert_eq(zs_ratectl_encoder_kbps(&s.rc), 6000);
	cr_assert_gt(s.n_sent, 590);
}

Test(ratectl, a_narrow_link_is_followed_without_a_standing_queue)
{
	/* 6 Mbit/s of frames into 1 Mbit/s over 80 ms RTT: uncontrolled,
	 * the queue would grow by 5 s every second */
	static struct sim s;
	sim_init(&s, 1000, 40 * MS, 6000);
	sim_run(&s, T0, 20 * G_USEC_PER_SEC, T0 + 10 * G_USEC_PER_SEC, 60);
	cr_assert(s.rc.limited);
	cr_assert_geq(s.rc.cuts, 1);
	uint32_t link = zs_ratectl_link_kbps(&s.rc);
	cr_assert(link >= 500 && link <= 1300, "paced at %u kbit/s", link);
	cr_assert_lt(s.max_queue_us_late, 250 * MS,
		"worst queue in the last 10 s: %" G_GINT64_FORMAT " ms",
		s.max_queue_us_late / MS);
	/* the link is used, not starved: over 60 % of it in frames */
	double sent_kbps = 0;
	for (unsigned i = 0; i < s.n_sent; i++)
		if (s.stamp_ms[i] * (int64_t)1000 >= T0 + 10 * G_USEC_PER_SEC)
			sent_kbps += 1;
	cr_assert_gt(sent_kbps, 0);
	cr_assert_gt(zs_ratectl_encoder_kbps(&s.rc), 400);
}

Test(ratectl, a_long_wide_link_keeps_every_frame)
{
	/* 140 ms RTT, 50 Mbit/s: ~13 frames are on the way before a report
	 * comes back; all must go */
	static struct sim s;
	sim_init(&s, 50000, 70 * MS, 4000);
	sim_run(&s, T0, 10 * G_USEC_PER_SEC, T0, 60);
	cr_assert_eq(s.rc.cuts, 0);
	cr_assert_geq(s.n_sent, 595, "%u frames of 600 sent", s.n_sent);
}

Test(ratectl, lost_segments_on_a_wide_link_are_not_a_queue)
{
	/* wan80's kind: 10 Mbit/s, 40 ms each way, a loss holding the
	 * stream one RTO (280 ms) about every second and a half */
	static struct sim s;
	sim_init(&s, 10000, 40 * MS, 4000);
	s.stall_every = 90;
	s.stall_us = 280 * MS;
	sim_run(&s, T0, 20 * G_USEC_PER_SEC, T0, 60);
	cr_assert_eq(s.rc.cuts, 0, "cut %" G_GUINT64_FORMAT " times, paced "
		"at %u kbit/s", s.rc.cuts, zs_ratectl_link_kbps(&s.rc));
	cr_assert_not(s.rc.limited);
}

Test(ratectl, the_limit_lifts_when_the_link_widens)
{
	static struct sim s;
	sim_init(&s, 1000, 20 * MS, 4000);
	sim_run(&s, T0, 10 * G_USEC_PER_SEC, T0, 60);
	cr_assert(s.rc.limited);
	s.link_kbps = 50000;
	sim_run(&s, T0 + 10 * G_USEC_PER_SEC, 20 * G_USEC_PER_SEC, T0, 60);
	cr_assert_not(s.rc.limited, "still paced at %u kbit/s",
		zs_ratectl_link_kbps(&s.rc));
	cr_assert_eq(zs_ratectl_encoder_kbps(&s.rc), 4000);
	cr_assert_eq(zs_ratectl_wait_us(&s.rc, T0 + 31 * G_USEC_PER_SEC), 0);
}

Test(ratectl, reports_that_cannot_be_ours_are_ignored)
{
	struct zs_ratectl rc;
	struct zs_ratectl_client c = { 0 };
	zs_ratectl_init(&rc, 6000);
	int64_t now = T0;
	uint32_t now_ms = (uint32_t)(now / 1000);
	struct zs_relay_stream_report future = {
		.end_frame_mm_time = now_ms + 500, .num_frames = 5 };
	struct zs_relay_stream_report ancient = {
		.end_frame_mm_time = now_ms - 120000, .num_frames = 5 };
	struct zs_relay_stream_report empty = {
		.end_frame_mm_time = now_ms - 10, .num_frames = 0 };
	cr_assert_not(zs_ratectl_report(&rc, &c, now, &future));
	cr_assert_not(zs_ratectl_report(&rc, &c, now, &ancient));
	cr_assert_not(zs_ratectl_report(&rc, &c, now, &empty));
	cr_assert_not(c.have_last);
	cr_assert_not(rc.limited);
}

Test(ratectl, the_pacer_holds_a_big_frame_for_its_time_on_the_link)
{
	struct zs_ratectl rc;
	zs_ratectl_init(&rc, 6000);
	rc.limited = true;
	rc.link_kbps = 800; /* 100 000 bytes a second */
	zs_ratectl_sent(&rc, T0, 50000);
	int64_t wait = zs_ratectl_wait_us(&rc, T0);
	/* 50 000 bytes less the 40 ms burst (6000 bytes): ~0.44 s */
	cr_assert(wait > 400 * MS && wait < 480 * MS, "wait %" G_GINT64_FORMAT,
		wait);
	cr_assert_eq(zs_ratectl_wait_us(&rc, T0 + wait), 0);
	rc.limited = false;
	zs_ratectl_sent(&rc, T0 + wait, 1 << 20);
	cr_assert_eq(zs_ratectl_wait_us(&rc, T0 + wait), 0);
}

/* spice-server may read a frame long after we queued it (its own queue
 * held it back): the report's stamp still names that frame, and the bytes
 * sent after it are what is on the way. */
Test(ratectl, a_frame_read_late_by_spice_server_is_still_found)
{
	struct zs_ratectl rc;
	struct zs_ratectl_client c = { 0 };
	zs_ratectl_init(&rc, 6000);
	for (int i = 0; i < 4; i++)
		zs_ratectl_sent(&rc, T0 + i * 100 * MS, 1000 * (i + 1));
	/* frame 1 (queued at +100 ms) read at +180 ms; frames 2 and 3 after */
	struct zs_relay_stream_report r = {
		.end_frame_mm_time = (uint32_t)((T0 + 180 * MS) / 1000),
		.num_frames = 5 };
	zs_ratectl_report(&rc, &c, T0 + 400 * MS, &r);
	cr_assert(c.have_last);
	cr_assert_eq(c.inflight_bytes, 3000 + 4000);
	cr_assert_eq(rc.reported_total, 2);
}

/* A link queued from the first frame: every trip is as long as the first
 * (no trip over the lowest), but 600 KB wait in the client's socket. */
Test(ratectl, bytes_waiting_in_the_socket_are_a_queue_without_a_rising_trip)
{
	struct zs_ratectl rc;
	struct zs_ratectl_client c = { 0 };
	zs_ratectl_init(&rc, 6000);
	int64_t t = T0;
	for (int i = 0; i < 40; i++) {
		/* 5 frames of 2500 bytes per 100 ms (1 Mbit/s received) */
		for (int k = 0; k < 5; k++)
			zs_ratectl_sent(&rc, t + k * 20 * MS, 2500);
		t += 100 * MS;
		struct zs_relay_stream_report r = {
			.end_frame_mm_time = (uint32_t)((t - 1500 * MS) / 1000),
			.num_frames = 5 };
		c.sock_queue_bytes = 600000;
		zs_ratectl_report(&rc, &c, t, &r);
	}
	cr_assert_gt(c.queue_ms, 1000, "queue %u ms", c.queue_ms);
	cr_assert(rc.limited);
	cr_assert_geq(rc.cuts, 1);
}
