/* zerospice-bench --av-sync: the offset between a picture change and the
 * sound that started with it, as client 0 gets them. The benchmark guest
 * with zsg.avsync=MS turns a box white and starts the PC speaker in the
 * same frame; here the box's pixel is watched in the client's surface
 * (after spice-gtk's mm_time scheduling: when a user would see it) and the
 * playback channel's PCM is watched for the tone's onset.
 *
 * Audio has no device here: the bench plays the part of spice-gtk's
 * GStreamer backend (spice-gstaudio.c), which reports its sink's latency
 * to the playback channel every second (spice_playback_channel_set_delay;
 * spice-gtk then sets its clock to the last packet's mm_time minus that
 * delay). A sound is taken to be heard that delay after its samples
 * arrived: offset = picture shown - (onset arrived + delay). Positive:
 * the picture comes after the sound. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spice-client.h>

#include "bench.h"

#define LOUD 1500          /* |sample| above this is sound */
#define QUIET_FRAMES_MS 100 /* silence needed before an onset */
#define PAIR_MAX_US (900 * 1000)

static void append_us(GArray *a, int64_t t)
{
	g_array_append_val(a, t);
}

void zb_avsync_init(struct zb_bench *b)
{
	struct zb_avsync *s = &b->av;
	s->video_on_us = g_array_new(FALSE, FALSE, sizeof(int64_t));
	s->audio_on_us = g_array_new(FALSE, FALSE, sizeof(int64_t));
	s->heard_seq = g_array_new(FALSE, FALSE, sizeof(double));
	zb_samples_init(&s->heard_ms);
	zb_samples_init(&s->arrival_ms);
	zb_samples_init(&s->clock_jump_ms);
}

/* what spice-gtk's audio backend does every second with its sink's
 * latency */
static gboolean report_delay(gpointer data)
{
	struct zb_bench *b = data;
	/* spice-gtk sets its clock to the last packet's time minus this: only
	 * once a packet came (before, its last time is 0) */
	if (b->av.playback && b->av.have_data)
		spice_playback_channel_set_delay(b->av.playback,
			(guint32)b->opt.av_delay_ms);
	return G_SOURCE_CONTINUE;
}

static void on_get_delay(SpicePlaybackChannel *ch, gpointer data)
{
	report_delay(data);
}

static void on_playback_start(SpicePlaybackChannel *ch, gint format,
	gint channels, gint rate, gpointer data)
{
	struct zb_bench *b = data;
	struct zb_avsync *s = &b->av;
	s->rate = rate;
	s->channels = channels;
	s->format_ok = format == SPICE_AUDIO_FMT_S16 && rate > 0 &&
		       channels > 0 && channels <= 8;
	/* the guest's voice starts with its sound (QEMU's PC speaker
	 * enables the voice with the gate): a start follows silence */
	s->quiet_frames = UINT64_MAX / 2;
	s->started++;
	/* the backend's timer runs while playback runs */
	if (!s->delay_timer)
		s->delay_timer = g_timeout_add_seconds(1, report_delay, b);
}

static void on_playback_stop(SpicePlaybackChannel *ch, gpointer data)
{
	struct zb_bench *b = data;
	b->av.stopped++;
	b->av.have_data = false;
	if (b->av.delay_timer)
		g_source_remove(b->av.delay_timer);
	b->av.delay_timer = 0;
}

static void on_playback_data(SpicePlaybackChannel *ch, gpointer pcm,
	gint size, gpointer data)
{
	struct zb_bench *b = data;
	struct zb_avsync *s = &b->av;
	int64_t now = g_get_monotonic_time();
	const int16_t *x = pcm;
	if (!s->format_ok || size <= 0)
		return;
	size_t frames = (size_t)size / (2u * (size_t)s->channels);
	if (!s->have_data) {
		s->have_data = true;
		report_delay(b);
	}
	uint64_t quiet_needed = (uint64_t)s->rate * QUIET_FRAMES_MS / 1000;
	s->audio_frames += frames;
	for (size_t i = 0; i < frames; i++) {
		bool loud = false;
		for (int c = 0; c < s->channels; c++) {
			int v = x[i * (size_t)s->channels + (size_t)c];
			if (v > LOUD || v < -LOUD)
				loud = true;
		}
		if (!loud) {
			s->quiet_frames++;
			continue;
		}
		if (s->quiet_frames >= quiet_needed) {
			/* sample i plays i frames after the packet's first */
			int64_t t = now + (int64_t)i * G_USEC_PER_SEC / s->rate;
			append_us(s->audio_on_us, t);
		}
		s->quiet_frames = 0;
	}
}

void zb_avsync_channel(struct zb_bench *b, struct zb_client *c, void *channel)
{
	struct zb_avsync *s = &b->av;
	if (!b->opt.av_sync || c->index != 0 ||
	    !SPICE_IS_PLAYBACK_CHANNEL(channel) || s->playback)
		return;
	s->playback = channel;
	g_signal_connect(channel, "playback-start",
		G_CALLBACK(on_playback_start), b);
	g_signal_connect(channel, "playback-stop",
		G_CALLBACK(on_playback_stop), b);
	g_signal_connect(channel, "playback-data",
		G_CALLBACK(on_playback_data), b);
	g_signal_connect(channel, "playback-get-delay",
		G_CALLBACK(on_get_delay), b);
	spice_channel_connect(channel);
}

void zb_avsync_picture(struct zb_bench *b, struct zb_client *c, int x, int y,
	int w, int h, int64_t now)
{
	struct zb_avsync *s = &b->av;
	int bx = b->opt.av_box_x, by = b->opt.av_box_y;
	if (!b->opt.av_sync || c->index != 0 || !c->px || bx >= c->width ||
	    by >= c->height || bx < x || bx >= x + w || by < y || by >= y + h)
		return;
	const uint8_t *p = c->px + (size_t)by * (size_t)c->stride + (size_t)bx * 4;
	/* xRGB little-endian: B G R x */
	int luma = (p[0] * 29 + p[1] * 150 + p[2] * 77) >> 8;
	bool white = s->have_box ? (s->box_white ? luma > 64 : luma > 192) :
				   luma > 128;
	if (s->have_box && white && !s->box_white)
		append_us(s->video_on_us, now);
	s->have_box = true;
	s->box_white = white;
}

/* "set mm time: T" is spice-gtk setting its clock (the main channel's
 * MULTI_MEDIA_TIME or the playback channel's delay report): the jumps
 * between two settings show who moves the clock and by how much. */
void zb_avsync_debug(struct zb_bench *b, const char *message, int64_t now)
{
	struct zb_avsync *s = &b->av;
	const char *m = strstr(message, "set mm time: ");
	if (!b->opt.av_sync || !m)
		return;
	char *end;
	unsigned long t = strtoul(m + strlen("set mm time: "), &end, 10);
	if (end == m + strlen("set mm time: "))
		return;
	/* the client clock's lag behind our monotonic ms, mod 2^32 */
	int32_t offset = (int32_t)((uint32_t)(now / 1000) - (uint32_t)t);
	if (s->have_clock) {
		int32_t jump = offset - s->clock_offset;
		if (jump > 5 || jump < -5) {
			s->clock_jumps++;
			zb_samples_add(&s->clock_jump_ms, fabs((double)jump));
		}
	}
	s->clock_sets++;
	s->have_clock = true;
	s->clock_offset = offset;
}

/* Pairs each picture change in the measured window with the nearest
 * audio onset (each onset used once). */
void zb_avsync_end(struct zb_bench *b)
{
	struct zb_avsync *s = &b->av;
	if (!b->opt.av_sync)
		return;
	int64_t delay_us = (int64_t)(b->opt.av_delay_ms * 1000);
	GArray *a = s->audio_on_us;
	bool *used = g_new0(bool, a->len ? a->len : 1);
	for (guint i = 0; i < s->video_on_us->len; i++) {
		int64_t v = g_array_index(s->video_on_us, int64_t, i);
		if (v < b->measure_start_us || v > b->measure_end_us)
			continue;
		s->video_measured++;
		int best = -1;
		int64_t best_d = PAIR_MAX_US;
		for (guint j = 0; j < a->len; j++) {
			int64_t d = llabs(v - g_array_index(a, int64_t, j) - delay_us);
			if (!used[j] && d < best_d) {
				best_d = d;
				best = (int)j;
			}
		}
		if (best < 0) {
			s->unpaired++;
			continue;
		}
		used[best] = true;
		int64_t t = g_array_index(a, int64_t, best);
		double heard = (double)(v - t - delay_us) / 1000.0;
		zb_samples_add(&s->heard_ms, heard);
		g_array_append_val(s->heard_seq, heard);
		zb_samples_add(&s->arrival_ms, (double)(v - t) / 1000.0);
	}
	g_free(used);
}

static void dist(FILE *out, const char *what, struct zb_samples *x)
{
	if (x->n == 0) {
		fprintf(out, "  %-28s n/a\n", what);
		return;
	}
	fprintf(out, "  %-28s p50 %7.1f  min %7.1f  max %7.1f  mean %7.1f ms  "
		"(n=%zu)\n", what, zb_samples_percentile(x, 50),
		zb_samples_min(x), zb_samples_max(x), zb_samples_mean(x), x->n);
}

void zb_avsync_summary(struct zb_bench *b, FILE *out)
{
	struct zb_avsync *s = &b->av;
	if (!b->opt.av_sync)
		return;
	fprintf(out, "A/V sync (client 0; + = picture after sound; audio sink "
		"delay %.0f ms as reported to spice-gtk):\n", b->opt.av_delay_ms);
	dist(out, "picture - sound heard", &s->heard_ms);
	dist(out, "picture - sound arrived", &s->arrival_ms);
	fprintf(out, "  %" PRIu64 " picture changes measured, %" PRIu64
		" without a sound onset within 900 ms; %u sound onsets in all; "
		"playback started %" PRIu64 "x, stopped %" PRIu64 "x\n",
		s->video_measured, s->unpaired, s->audio_on_us->len, s->started,
		s->stopped);
	fprintf(out, "  spice-gtk clock set %" PRIu64 " times, %" PRIu64
		" jumps > 5 ms", s->clock_sets, s->clock_jumps);
	if (s->clock_jump_ms.n)
		fprintf(out, " (|jump| p50 %.0f ms, max %.0f ms)",
			zb_samples_percentile(&s->clock_jump_ms, 50),
			zb_samples_max(&s->clock_jump_ms));
	fputc('\n', out);
	if (s->heard_ms.n) {
		/* in the order measured: heard_ms is sorted by now */
		fputs("  each (picture - sound heard, ms):", out);
		for (guint i = 0; i < s->heard_seq->len; i++)
			fprintf(out, " %.0f", g_array_index(s->heard_seq, double, i));
		fputc('\n', out);
	}
}

static void json_dist(FILE *f, const char *name, struct zb_samples *x)
{
	fprintf(f, "\"%s\": ", name);
	if (!x->n) {
		fputs("null", f);
		return;
	}
	fprintf(f, "{\"n\": %zu, \"p50\": %.3f, \"min\": %.3f, \"max\": %.3f, "
		"\"mean\": %.3f}", x->n, zb_samples_percentile(x, 50),
		zb_samples_min(x), zb_samples_max(x), zb_samples_mean(x));
}

void zb_avsync_json(struct zb_bench *b, FILE *f)
{
	struct zb_avsync *s = &b->av;
	if (!b->opt.av_sync)
		return;
	fprintf(f, "  \"av_sync\": {\"sink_delay_ms\": %.3f, ",
		b->opt.av_delay_ms);
	json_dist(f, "picture_minus_heard_ms", &s->heard_ms);
	fputs(", ", f);
	json_dist(f, "picture_minus_arrived_ms", &s->arrival_ms);
	fprintf(f, ", \"picture_changes\": %" PRIu64 ", \"unpaired\": %" PRIu64
		", \"sound_onsets\": %u, \"clock_sets\": %" PRIu64
		", \"clock_jumps\": %" PRIu64 ", ", s->video_measured,
		s->unpaired, s->audio_on_us->len, s->clock_sets, s->clock_jumps);
	json_dist(f, "clock_jump_abs_ms", &s->clock_jump_ms);
	fputs(", \"picture_minus_heard_each_ms\": [", f);
	for (guint i = 0; i < s->heard_seq->len; i++)
		fprintf(f, "%s%.3f", i ? ", " : "",
			g_array_index(s->heard_seq, double, i));
	fputs("]},\n", f);
}
