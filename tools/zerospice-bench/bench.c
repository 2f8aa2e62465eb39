/* zerospice-bench client driver: N spice-client-glib sessions, the frame
 * and input stamps read where a thin client has them, probes sent through
 * the inputs channel, server and own CPU sampled from /proc.
 *
 * Two moments are taken per frame: "decoded" when spice-gtk's GStreamer
 * pipeline hands the decoded picture to its appsink (a pad probe on that
 * sink), and "shown" when the picture is in the client's surface
 * (display-invalidate). The difference is the scheduling delay spice-gtk
 * adds when it holds frames until their mm_time (DESIGN: the 400 ms trap). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <gst/gst.h>
#include <gst/video/video.h>
#include <spice-client.h>

#include "bench.h"

#define CONNECT_TIMEOUT_US (20 * G_USEC_PER_SEC)
#define PROBE_TIMEOUT_US (3 * G_USEC_PER_SEC)
#define FULL_SEARCH_EVERY_US (500 * 1000)
/* a stamp time further than this from our clock was not taken on this
 * host's CLOCK_MONOTONIC (a guest's clock) */
#define FOREIGN_CLOCK_US (30 * G_USEC_PER_SEC)
#define PROBE_SCANCODE 0x2a /* left shift: no character in any guest */

static void start_client(struct zb_bench *b, int i);
static void schedule_probe(struct zb_bench *b, double gap_ms);

double zb_self_cpu_s(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

void zb_loadavg(char *buf, size_t len)
{
	buf[0] = '\0';
	FILE *f = fopen("/proc/loadavg", "re");
	if (!f)
		return;
	double a, b, c;
	if (fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
		snprintf(buf, len, "%.2f %.2f %.2f", a, b, c);
	fclose(f);
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool measuring(const struct zb_bench *b, int64_t now)
{
	return b->measure_start_us && now >= b->measure_start_us && !b->finished;
}

static double rel_s(const struct zb_bench *b, int64_t t_us)
{
	return (double)(t_us - b->t0_us) / 1e6;
}

/* ---- decoded frames: appsink pad probe (GStreamer streaming thread) ---- */

static GstPadProbeReturn on_decoded_buffer(GstPad *pad, GstPadProbeInfo *info,
	gpointer data)
{
	struct zb_client *c = data;
	struct zb_bench *b = c->bench;
	int64_t now = g_get_monotonic_time();
	GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
	GstCaps *caps = gst_pad_get_current_caps(pad);
	if (!buf || !caps) {
		if (caps)
			gst_caps_unref(caps);
		return GST_PAD_PROBE_OK;
	}
	GstVideoInfo vi;
	bool ok = gst_video_info_from_caps(&vi, caps) &&
		  GST_VIDEO_INFO_FORMAT(&vi) == GST_VIDEO_FORMAT_BGRx;
	gst_caps_unref(caps);
	GstMapInfo map;
	if (!ok || !gst_buffer_map(buf, &map, GST_MAP_READ))
		return GST_PAD_PROBE_OK;
	GstVideoMeta *meta = gst_buffer_get_video_meta(buf);
	uint32_t stride = meta ? (uint32_t)meta->stride[0] :
				 (uint32_t)GST_VIDEO_INFO_PLANE_STRIDE(&vi, 0);
	uint32_t w = (uint32_t)GST_VIDEO_INFO_WIDTH(&vi);
	uint32_t h = (uint32_t)GST_VIDEO_INFO_HEIGHT(&vi);
	struct zs_image img = { map.data, w, h, stride, 4 };
	if ((uint64_t)stride * h > map.size)
		img.pixels = NULL;

	uint64_t t = thread_cpu_ns();
	uint32_t id = 0;
	uint64_t capture_us = 0;
	g_mutex_lock(&c->lock);
	bool full = now - c->decoded_full_search_us > FULL_SEARCH_EVERY_US;
	bool found = img.pixels && zb_stamp_read_frame(&c->decoded_rd, &img,
					   full, &id, &capture_us);
	if (!found && full)
		c->decoded_full_search_us = now;
	c->decoded_total++;
	if (measuring(b, now))
		c->decoded_measured++;
	/* decoding keeps the order of arrival: this picture is the oldest
	 * unmatched arrival */
	struct zb_arrival arr = { 0, 0 };
	if (c->arr_tail != c->arr_head)
		arr = c->arrivals[c->arr_tail++ % ZB_ARRIVALS];
	if (found) {
		struct zb_decoded *d = &c->ring[id % ZB_DECODED_RING];
		*d = (struct zb_decoded){ id, capture_us, now, arr.us,
			arr.margin_ms, true };
	}
	g_mutex_unlock(&c->lock);
	atomic_fetch_add(&b->stamp_cpu_ns, thread_cpu_ns() - t);
	gst_buffer_unmap(buf, &map);
	return GST_PAD_PROBE_OK;
}

static void on_deep_element_added(GstBin *bin, GstBin *sub, GstElement *element,
	gpointer data)
{
	struct zb_client *c = data;
	GstElementFactory *f = gst_element_get_factory(element);
	if (!f || strcmp(GST_OBJECT_NAME(f), "appsink") != 0)
		return;
	GstPad *pad = gst_element_get_static_pad(element, "sink");
	if (!pad)
		return;
	gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, on_decoded_buffer, c,
		NULL);
	gst_object_unref(pad);
	c->stream_probe = true;
}

/* spice-gtk offers its stream pipeline here before it adds its appsink.
 * We watch the pipeline and decline the overlay, so the appsink path (what
 * headless, Wayland and Windows clients use) stays in place. */
static gboolean on_gst_video_overlay(SpiceChannel *channel, GstPipeline *pipeline,
	gpointer data)
{
	if (pipeline)
		g_signal_connect(pipeline, "deep-element-added",
			G_CALLBACK(on_deep_element_added), data);
	return FALSE;
}

/* ---- shown frames (main thread) ---- */

static bool touches(const struct zb_stamp_reader *r, int w, int h, int x,
	int y, int rw, int rh)
{
	int32_t wx, wy, ww, wh;
	zb_stamp_reader_window(r, (uint32_t)w, (uint32_t)h, &wx, &wy, &ww, &wh);
	return x < wx + ww && x + rw > wx && y < wy + wh && y + rh > wy;
}

static void frame_shown(struct zb_client *c, uint32_t id, uint64_t capture_us,
	int64_t now)
{
	struct zb_bench *b = c->bench;
	bool first = !c->have_last;
	uint32_t prev = c->last_id;
	c->have_last = true;
	c->last_id = id;
	c->shown_total++;
	if (first) {
		c->first_frame_us = now;
		if (!c->connected) {
			c->connected = true;
			if (b->server_pid) {
				struct zb_proc_sample s;
				if (zb_proc_sample(b->server_pid, &s))
					b->rss_after_client_kib[c->index] = s.rss_kib;
			}
			if (c->index + 1 < b->opt.clients)
				start_client(b, c->index + 1);
		}
	}
	int64_t prev_us = c->last_shown_us;
	c->last_shown_us = now;
	if (!measuring(b, now))
		return;
	if (prev_us && prev_us >= b->measure_start_us) {
		double gap_ms = (double)(now - prev_us) / 1000.0;
		if (gap_ms > ZB_STALL_MS)
			c->stalls++;
		if (gap_ms > c->max_gap_ms)
			c->max_gap_ms = gap_ms;
	}
	c->shown_measured++;
	if (!first)
		c->skipped_measured += zb_frames_skipped(prev, id);
	zb_windows_add(&c->fps_w, rel_s(b, now), 1);

	g_mutex_lock(&c->lock);
	struct zb_decoded d = c->ring[id % ZB_DECODED_RING];
	g_mutex_unlock(&c->lock);
	bool decoded = d.valid && d.id == id && d.capture_us == capture_us &&
		       d.decoded_us <= now;
	/* the scheduling delay needs no shared clock */
	if (decoded)
		zb_samples_add(&c->sched_ms, (double)(now - d.decoded_us) / 1000.0);
	/* spice-gtk holds a frame until its mm_time: margin ms after arrival */
	int32_t hold_ms = 0;
	bool arrived = decoded && d.arrival_us && d.arrival_us <= now;
	if (arrived) {
		hold_ms = d.margin_ms > 0 ? d.margin_ms : 0;
		zb_samples_add(&c->hold_ms, hold_ms);
	}

	if (c->index == 0) {
		struct zb_shown_rec rec = { id, capture_us,
			arrived ? d.arrival_us : 0, decoded ? d.decoded_us : 0, now };
		zb_budget_shown(b, &rec);
	}
	int64_t lat_us = now - (int64_t)capture_us;
	if (lat_us < -FOREIGN_CLOCK_US / 1000 || lat_us > FOREIGN_CLOCK_US) {
		c->foreign_clock++;
		return;
	}
	zb_samples_add(&c->lat_shown_ms, (double)lat_us / 1000.0);
	zb_windows_add(&c->lat_w, rel_s(b, now), (double)lat_us / 1000.0);
	if (decoded)
		zb_samples_add(&c->lat_decoded_ms,
			(double)(d.decoded_us - (int64_t)capture_us) / 1000.0);
	if (arrived) {
		zb_samples_add(&c->lat_arrival_ms,
			(double)(d.arrival_us - (int64_t)capture_us) / 1000.0);
		zb_samples_add(&c->lat_unsched_ms, (double)lat_us / 1000.0 - hold_ms);
	}
}

static void probe_check(struct zb_bench *b, struct zb_client *c, int64_t now);

static void on_invalidate(SpiceChannel *channel, gint x, gint y, gint w, gint h,
	gpointer data)
{
	struct zb_client *c = data;
	struct zb_bench *b = c->bench;
	if (!c->have_primary || (void *)channel != c->display)
		return;
	int64_t now = g_get_monotonic_time();
	struct zs_image img = { c->px, (uint32_t)c->width, (uint32_t)c->height,
		(uint32_t)c->stride, 4 };
	uint64_t t = thread_cpu_ns();
	bool full = now - c->last_full_search_us > FULL_SEARCH_EVERY_US;
	if (full || touches(&c->frame_rd, c->width, c->height, x, y, w, h)) {
		uint32_t id;
		uint64_t capture_us;
		if (zb_stamp_read_frame(&c->frame_rd, &img, full, &id, &capture_us)) {
			if (!c->have_last || id != c->last_id) {
				frame_shown(c, id, capture_us, now);
				zb_still_new_frame(b, c, now);
			}
		} else if (full) {
			c->last_full_search_us = now;
		}
	}
	if (c->index == 0 && (full || touches(&c->input_rd, c->width, c->height,
					 x, y, w, h))) {
		struct zs_stamp_input in;
		if (zb_stamp_read_input(&c->input_rd, &img, full, &in)) {
			c->input = in;
			c->have_input = true;
			probe_check(b, c, now);
		}
	}
	zb_still_invalidate(b, c);
	zb_avsync_picture(b, c, x, y, w, h, now);
	atomic_fetch_add(&b->stamp_cpu_ns, thread_cpu_ns() - t);
}

static void on_primary_create(SpiceChannel *channel, gint format, gint width,
	gint height, gint stride, gint shmid, gpointer imgdata, gpointer data)
{
	struct zb_client *c = data;
	if (format != SPICE_SURFACE_FMT_32_xRGB && format != SPICE_SURFACE_FMT_32_ARGB) {
		g_warning("client %d: surface format %d is not 32-bit", c->index,
			format);
		return;
	}
	c->display = channel;
	c->px = imgdata;
	c->width = width;
	c->height = height;
	c->stride = stride;
	c->have_primary = true;
	c->last_full_search_us = 0;
}

static void on_primary_destroy(SpiceChannel *channel, gpointer data)
{
	struct zb_client *c = data;
	if ((void *)channel == c->display) {
		c->have_primary = false;
		c->px = NULL;
	}
}

/* ---- input-to-display probes (client 0) ---- */

static bool probe_answered(const struct zb_probe_state *p,
	const struct zs_stamp_input *in)
{
	if (p->kind == ZB_PROBE_KEY)
		return in->key_events != p->baseline.key_events;
	return in->button_events != p->baseline.button_events;
}

static void probe_done(struct zb_bench *b, int64_t now)
{
	struct zb_probe_state *p = &b->probe;
	p->waiting = false;
	double ms = (double)(now - p->sent_us) / 1000.0;
	p->answered++;
	zb_samples_add(&p->ms, ms);
	zb_samples_add(p->kind == ZB_PROBE_KEY ? &p->key_ms : &p->click_ms, ms);
	/* a random gap, so probes do not lock to the frame clock */
	schedule_probe(b, b->opt.probe_gap_ms * (0.5 + g_random_double()));
}

static void probe_check(struct zb_bench *b, struct zb_client *c, int64_t now)
{
	struct zb_probe_state *p = &b->probe;
	if (!p->waiting || !probe_answered(p, &c->input))
		return;
	if (p->kind == ZB_PROBE_KEY && b->opt.trace_path) {
		/* the picture shown now carries the answer: when it came */
		struct zb_key_probe kp = { PROBE_SCANCODE, p->sent_us, now, 0, 0 };
		if (c->have_last) {
			g_mutex_lock(&c->lock);
			struct zb_decoded d = c->ring[c->last_id % ZB_DECODED_RING];
			g_mutex_unlock(&c->lock);
			if (d.valid && d.id == c->last_id && d.decoded_us <= now) {
				kp.decoded_us = d.decoded_us;
				kp.arrival_us = d.arrival_us;
			}
		}
		zb_budget_key_probe(b, &kp);
	}
	probe_done(b, now);
}

static gboolean on_probe_timer(gpointer data)
{
	struct zb_bench *b = data;
	struct zb_probe_state *p = &b->probe;
	struct zb_client *c = &b->clients[0];
	int64_t now = g_get_monotonic_time();
	p->timer = 0;
	if (b->finished || b->opt.probe == ZB_PROBE_NONE)
		return G_SOURCE_REMOVE;
	if (p->waiting) {
		/* timed out: count it and move on */
		p->waiting = false;
		p->lost++;
		schedule_probe(b, b->opt.probe_gap_ms);
		return G_SOURCE_REMOVE;
	}
	if (!measuring(b, now) || !c->inputs || !c->have_input) {
		if (measuring(b, now) && !c->have_input)
			p->unanswerable++;
		schedule_probe(b, 200);
		return G_SOURCE_REMOVE;
	}
	SpiceInputsChannel *in = c->inputs;
	enum zb_probe_kind kind = b->opt.probe;
	if (kind == ZB_PROBE_BOTH)
		kind = (p->sent % 2) ? ZB_PROBE_CLICK : ZB_PROBE_KEY;
	if (kind == ZB_PROBE_CLICK && !p->positioned && c->have_primary) {
		/* the pointer sits away from the stamps; absolute mode only */
		spice_inputs_channel_position(in, c->width / 2, c->height * 3 / 4, 0, 0);
		p->positioned = true;
	}
	p->kind = kind;
	p->baseline = c->input;
	p->sent_us = g_get_monotonic_time();
	p->waiting = true;
	p->sent++;
	if (kind == ZB_PROBE_KEY) {
		spice_inputs_channel_key_press_and_release(in, PROBE_SCANCODE);
	} else {
		spice_inputs_channel_button_press(in, SPICE_MOUSE_BUTTON_LEFT,
			SPICE_MOUSE_BUTTON_MASK_LEFT);
		spice_inputs_channel_button_release(in, SPICE_MOUSE_BUTTON_LEFT, 0);
	}
	p->timer = g_timeout_add(PROBE_TIMEOUT_US / 1000, on_probe_timer, b);
	return G_SOURCE_REMOVE;
}

static void schedule_probe(struct zb_bench *b, double gap_ms)
{
	struct zb_probe_state *p = &b->probe;
	if (p->timer)
		g_source_remove(p->timer);
	p->timer = g_timeout_add((guint)(gap_ms < 1 ? 1 : gap_ms), on_probe_timer, b);
}

/* ---- spice-gtk's own view of the schedule: "video margin: N" ---- */

static void add_arrival(struct zb_bench *b, int64_t now, long margin)
{
	b->frames_received++;
	if (b->opt.clients == 1 && margin > INT32_MIN && margin < INT32_MAX) {
		struct zb_client *c = &b->clients[0];
		g_mutex_lock(&c->lock);
		if (c->arr_head - c->arr_tail == ZB_ARRIVALS)
			c->arr_tail++;
		c->arrivals[c->arr_head++ % ZB_ARRIVALS] =
			(struct zb_arrival){ now, (int32_t)margin };
		g_mutex_unlock(&c->lock);
	}
}

static void on_spice_debug(const gchar *domain, GLogLevelFlags level,
	const gchar *message, gpointer data)
{
	struct zb_bench *b = data;
	int64_t now = g_get_monotonic_time();
	zb_avsync_debug(b, message, now);
	const char *late = strstr(message, "stream data too late by ");
	if (late) {
		/* a frame that came after its mm_time has no margin line */
		long ms = strtol(late + strlen("stream data too late by "), NULL,
			10);
		add_arrival(b, now, ms > 0 ? -ms : 0);
		return;
	}
	const char *m = strstr(message, "video margin: ");
	if (!m)
		return;
	char *end;
	long v = strtol(m + strlen("video margin: "), &end, 10);
	/* spice-gtk logs each margin twice; the second line ends with the
	 * number */
	if (end == m + strlen("video margin: ") || *end != '\0')
		return;
	b->margins_total++;
	if (measuring(b, now))
		zb_samples_add(&b->margins_ms, (double)v);
	add_arrival(b, now, v);
}

/* spice-gtk's info messages go to stdout by default: keep stdout for the
 * summary */
static void on_spice_info(const gchar *domain, GLogLevelFlags level,
	const gchar *message, gpointer data)
{
	struct zb_bench *b = data;
	if (!b->opt.quiet)
		fprintf(stderr, "%s: %s\n", domain, message);
}

/* ---- channels and sessions ---- */

static void on_channel_event(SpiceChannel *channel, SpiceChannelEvent event,
	gpointer data)
{
	struct zb_client *c = data;
	switch (event) {
	case SPICE_CHANNEL_OPENED:
		return;
	case SPICE_CHANNEL_CLOSED:
		c->closed = true;
		break;
	default:
		c->closed = true;
		if (!c->fail_reason[0]) {
			const GError *err = spice_channel_get_error(channel);
			snprintf(c->fail_reason, sizeof(c->fail_reason),
				"main channel event %d%s%s", event,
				err ? ": " : "", err ? err->message : "");
		}
		break;
	}
	if (!c->connected) {
		c->failed = true;
		g_printerr("zerospice-bench: client %d: connection failed: %s\n",
			c->index, c->fail_reason[0] ? c->fail_reason : "closed");
	}
}

static void on_channel_new(SpiceSession *s, SpiceChannel *channel,
	gpointer data)
{
	struct zb_client *c = data;
	if (SPICE_IS_MAIN_CHANNEL(channel)) {
		g_signal_connect(channel, "channel-event",
			G_CALLBACK(on_channel_event), c);
	} else if (SPICE_IS_DISPLAY_CHANNEL(channel)) {
		g_ptr_array_add(c->display_channels, g_object_ref(channel));
		g_signal_connect(channel, "display-primary-create",
			G_CALLBACK(on_primary_create), c);
		g_signal_connect(channel, "display-primary-destroy",
			G_CALLBACK(on_primary_destroy), c);
		g_signal_connect(channel, "display-invalidate",
			G_CALLBACK(on_invalidate), c);
		g_signal_connect(channel, "gst-video-overlay",
			G_CALLBACK(on_gst_video_overlay), c);
		spice_channel_connect(channel);
	} else if (SPICE_IS_INPUTS_CHANNEL(channel)) {
		c->inputs = channel;
		spice_channel_connect(channel);
	} else if (SPICE_IS_PLAYBACK_CHANNEL(channel)) {
		zb_avsync_channel(c->bench, c, channel);
	}
}

uint64_t zb_client_display_bytes(struct zb_client *c)
{
	uint64_t sum = 0;
	for (guint i = 0; i < c->display_channels->len; i++) {
		gulong v = 0;
		g_object_get(g_ptr_array_index(c->display_channels, i),
			"total-read-bytes", &v, NULL);
		sum += v;
	}
	return sum;
}

static void start_client(struct zb_bench *b, int i)
{
	struct zb_client *c = &b->clients[i];
	b->n_started = i + 1;
	SpiceSession *s = spice_session_new();
	c->session = s;
	g_object_set(s, "uri", b->opt.uri, "enable-audio",
		b->opt.audio || b->opt.av_sync,
		"enable-usbredir", FALSE, "enable-smartcard", FALSE, NULL);
	if (b->password[0])
		g_object_set(s, "password", b->password, NULL);
	g_signal_connect(s, "channel-new", G_CALLBACK(on_channel_new), c);
	c->bytes_last_us = c->start_us = g_get_monotonic_time();
	if (!spice_session_connect(s)) {
		c->failed = true;
		snprintf(c->fail_reason, sizeof(c->fail_reason),
			"spice_session_connect failed");
	}
}

/* ---- the run ---- */

static void sample_bytes(struct zb_bench *b, int64_t now)
{
	for (int i = 0; i < b->n_started; i++) {
		struct zb_client *c = &b->clients[i];
		uint64_t v = zb_client_display_bytes(c);
		uint64_t d = v >= c->bytes_last ? v - c->bytes_last : 0;
		c->bytes_last = v;
		if (measuring(b, now)) {
			c->bytes_measured += d;
			/* attribute the bytes to the middle of the interval */
			zb_windows_add(&c->bytes_w,
				rel_s(b, (now + c->bytes_last_us) / 2), (double)d);
		}
		c->bytes_last_us = now;
	}
}

static void sample_server(struct zb_bench *b, int64_t now)
{
	if (!b->server_pid)
		return;
	struct zb_proc_sample s;
	if (!zb_proc_sample(b->server_pid, &s))
		return;
	if (b->srv_last_ok && measuring(b, now))
		zb_windows_add(&b->srv_cpu_w, rel_s(b, now) - 0.5,
			s.cpu_s - b->srv_last.cpu_s);
	b->srv_last = s;
	b->srv_last_ok = true;
}

static void progress(struct zb_bench *b, int64_t now, bool final)
{
	if (b->opt.quiet)
		return;
	if (!final && !b->is_tty && now - b->last_progress_us < 5 * G_USEC_PER_SEC)
		return;
	b->last_progress_us = now;
	struct zb_client *c = &b->clients[0];
	double t = b->measure_start_us ? (double)(now - b->measure_start_us) / 1e6 : 0;
	double fps = 0, kbps = 0;
	size_t last = zb_windows_count(&c->fps_w, rel_s(b, now));
	if (final && last > 1)
		last--; /* the last window is partial */
	if (last > 0) {
		fps = zb_windows_rate(&c->fps_w, last - 1);
		kbps = c->bytes_w.n >= last ? c->bytes_w.sums[last - 1] * 8 / 1000 : 0;
	}
	double p50 = zb_samples_percentile(&c->lat_shown_ms, 50);
	double sched = zb_samples_percentile(&c->sched_ms, 50);
	double in50 = zb_samples_percentile(&b->probe.ms, 50);
	const char *phase = !c->connected ? "connecting" :
			    !b->measure_start_us || now < b->measure_start_us ? "warm-up" :
										 "run";
	char line[256];
	snprintf(line, sizeof(line),
		"[%-7s %5.1f/%.0f s] %d/%d clients  %5.1f fps  lat p50 %6.1f ms "
		"(sched %5.1f)  input p50 %6.1f ms n=%" PRIu64 "  %7.0f kbit/s",
		phase, t < 0 ? 0 : t, b->opt.duration_s, b->n_started, b->opt.clients,
		fps, isnan(p50) ? 0 : p50, isnan(sched) ? 0 : sched,
		isnan(in50) ? 0 : in50, b->probe.answered, kbps);
	if (b->is_tty)
		fprintf(stderr, "\r\033[K%s%s", line, final ? "\n" : "");
	else
		fprintf(stderr, "%s\n", line);
}

static void finish(struct zb_bench *b, int64_t now)
{
	if (b->finished)
		return;
	sample_bytes(b, now);
	sample_server(b, now);
	b->measure_end_us = now;
	zb_still_end(b);
	zb_avsync_end(b);
	b->finished = true;
	b->self_cpu_end_s = zb_self_cpu_s();
	b->stamp_cpu_end_ns = atomic_load(&b->stamp_cpu_ns);
	if (b->server_pid)
		b->srv_end_ok = zb_proc_sample(b->server_pid, &b->srv_end);
	if (b->opt.also_pid)
		b->also_end_ok = zb_proc_sample(b->opt.also_pid, &b->also_end);
	progress(b, now, true);
	g_main_loop_quit(b->loop);
}

static gboolean on_tick(gpointer data)
{
	struct zb_bench *b = data;
	int64_t now = g_get_monotonic_time();
	struct zb_client *c0 = &b->clients[0];

	if (!b->measure_start_us) {
		if (c0->failed || (!c0->connected &&
				   now - c0->start_us > CONNECT_TIMEOUT_US)) {
			g_printerr("zerospice-bench: no picture from %s%s%s\n",
				b->opt.uri, c0->fail_reason[0] ? ": " : "",
				c0->fail_reason);
			b->exit_code = 1;
			g_main_loop_quit(b->loop);
			return G_SOURCE_REMOVE;
		}
		struct zb_client *last = &b->clients[b->n_started - 1];
		bool last_done = last->connected || last->failed ||
				 now - last->start_us > CONNECT_TIMEOUT_US;
		if (last_done && !last->connected && b->n_started < b->opt.clients) {
			/* a client that never showed a frame: go on without it */
			start_client(b, b->n_started);
		} else if (last_done && b->n_started == b->opt.clients) {
			b->measure_start_us = now + (int64_t)(b->opt.warmup_s * 1e6);
			b->measure_end_us = b->measure_start_us +
					    (int64_t)(b->opt.duration_s * 1e6);
			double t = rel_s(b, b->measure_start_us);
			for (int i = 0; i < b->opt.clients; i++) {
				zb_windows_finish(&b->clients[i].fps_w);
				zb_windows_finish(&b->clients[i].bytes_w);
				zb_windows_finish(&b->clients[i].lat_w);
				zb_windows_init(&b->clients[i].fps_w, t, 1.0);
				zb_windows_init(&b->clients[i].bytes_w, t, 1.0);
				zb_windows_init(&b->clients[i].lat_w, t, 1.0);
			}
			zb_windows_finish(&b->srv_cpu_w);
			zb_windows_init(&b->srv_cpu_w, t, 1.0);
			schedule_probe(b, 100);
		}
	} else if (!b->srv_start_ok && now >= b->measure_start_us) {
		b->self_cpu_start_s = zb_self_cpu_s();
		b->stamp_cpu_start_ns = atomic_load(&b->stamp_cpu_ns);
		if (b->server_pid)
			b->srv_start_ok = zb_proc_sample(b->server_pid, &b->srv_start);
		if (b->opt.also_pid)
			b->also_start_ok = zb_proc_sample(b->opt.also_pid, &b->also_start);
		sample_bytes(b, now); /* resets the byte baseline */
		for (int i = 0; i < b->n_started; i++)
			b->clients[i].bytes_measured = 0;
	}
	sample_bytes(b, now);
	sample_server(b, now);
	if (b->measure_start_us && now >= b->measure_end_us) {
		finish(b, now);
		return G_SOURCE_REMOVE;
	}
	progress(b, now, false);
	return G_SOURCE_CONTINUE;
}

int zb_run(struct zb_bench *b)
{
	b->loop = g_main_loop_new(NULL, FALSE);
	b->t0_us = g_get_monotonic_time();
	b->is_tty = isatty(STDERR_FILENO);
	zb_loadavg(b->loadavg_start, sizeof(b->loadavg_start));
	zb_samples_init(&b->margins_ms);
	zb_samples_init(&b->probe.ms);
	zb_samples_init(&b->probe.key_ms);
	zb_samples_init(&b->probe.click_ms);
	b->rss_after_client_kib = g_new0(uint64_t, b->opt.clients);
	b->clients = g_new0(struct zb_client, b->opt.clients);
	for (int i = 0; i < b->opt.clients; i++) {
		struct zb_client *c = &b->clients[i];
		c->bench = b;
		c->index = i;
		g_mutex_init(&c->lock);
		c->display_channels = g_ptr_array_new_with_free_func(g_object_unref);
		zb_stamp_reader_init(&c->frame_rd, ZS_STAMP_TYPE_FRAME);
		zb_stamp_reader_init(&c->decoded_rd, ZS_STAMP_TYPE_FRAME);
		zb_stamp_reader_init(&c->input_rd, ZS_STAMP_TYPE_INPUT);
		zb_samples_init(&c->lat_shown_ms);
		zb_samples_init(&c->lat_decoded_ms);
		zb_samples_init(&c->sched_ms);
		zb_samples_init(&c->lat_arrival_ms);
		zb_samples_init(&c->lat_unsched_ms);
		zb_samples_init(&c->hold_ms);
		zb_windows_init(&c->fps_w, 0, 1.0);
		zb_windows_init(&c->bytes_w, 0, 1.0);
		zb_windows_init(&c->lat_w, 0, 1.0);
	}
	zb_windows_init(&b->srv_cpu_w, 0, 1.0);

	g_log_set_handler("Spice", G_LOG_LEVEL_INFO | G_LOG_LEVEL_MESSAGE,
		on_spice_info, b);
	g_log_set_handler("GSpice", G_LOG_LEVEL_INFO | G_LOG_LEVEL_MESSAGE,
		on_spice_info, b);
	if (!b->opt.no_margins) {
		g_log_set_handler("Spice", G_LOG_LEVEL_DEBUG, on_spice_debug, b);
		g_log_set_handler("GSpice", G_LOG_LEVEL_DEBUG, on_spice_debug, b);
		spice_util_set_debug(TRUE);
	}
	if (b->server_pid) {
		zb_proc_sample(b->server_pid, &b->srv_last);
		b->srv_last_ok = true;
	}

	zb_still_init(b);
	zb_avsync_init(b);
	zb_budget_init(b);
	start_client(b, 0);
	g_timeout_add(250, on_tick, b);
	g_main_loop_run(b->loop);

	if (b->probe.timer)
		g_source_remove(b->probe.timer);
	if (b->still.timer)
		g_source_remove(b->still.timer);
	b->still.timer = 0;
	if (b->av.delay_timer)
		g_source_remove(b->av.delay_timer);
	b->av.delay_timer = 0;
	for (int i = 0; i < b->n_started; i++) {
		SpiceSession *s = b->clients[i].session;
		if (s)
			spice_session_disconnect(s);
	}
	return b->exit_code;
}
