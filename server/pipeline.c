/* Frames → encoder worker thread → stream device.
 *
 * Backpressure is newest-frame-wins before encoding: at most one frame is at
 * the encoder and at most one waits (`pending`); a newer frame replaces the
 * waiting one. A frame is only handed to the encoder when spice-server has
 * read everything queued before, so encoded frames never pile up and never
 * need dropping in the normal case. If queued DATA ever has to be dropped
 * (a new client, a codec change), the next frame is forced to a keyframe and
 * delta frames are held back until it arrives.
 *
 * A frame the encoder cannot take (a bad buffer from the source, a size the
 * element refuses) costs that frame and a keyframe, never the codec: only
 * FAIL_LIMIT failures in a row put the codec aside for FAIL_BACKOFF_MS, and
 * another codec the clients decode streams meanwhile. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <glib-unix.h>
#include <spice/stream-device.h>

#include "internal.h"
#include "ratectl.h"
#include "stats.h"
#include "zs-client-proto.h"

/* Failures in a row before a codec is put aside, and for how long. */
#define FAIL_LIMIT 3
#define FAIL_BACKOFF_MS 10000

struct job {
	struct zs_frame *frame;
	enum zs_codec codec;
	bool force_keyframe;
	unsigned refine_level;
	int64_t in_us, submit_us;
};

struct result {
	struct zs_access_unit *au; /* NULL on failure */
	enum zs_codec codec;
	int err; /* negative errno when the frame could not be encoded */
	char *encoder_desc; /* set when a new encoder was made */
	unsigned refine_level;
	int64_t in_us, submit_us;
	uint64_t cpu_pixel_bytes;
	uint32_t encoder_kbps; /* a new encoder's own bitrate target */
};

struct zs_pipeline {
	struct zs_pipeline_config cfg;
	struct zs_output *output;
	uint32_t available_mask;

	/* main thread */
	enum zs_codec codec; /* ZS_CODEC_NONE: not streaming */
	uint32_t client_mask;
	bool need_format, need_keyframe, cursor_dirty;
	uint32_t format_width, format_height;
	struct zs_frame *pending;
	unsigned pending_level; /* refine level for pending */
	int64_t pending_in_us;

	struct zs_refine *refine;
	bool busy;
	bool frame_requested;
	int64_t next_submit_us;
	GSource *pace_timer;
	uint8_t *cursor_msg;
	size_t cursor_len;
	struct zs_pipeline_stats stats;
	/* per codec: failures in a row, and until when it is put aside */
	unsigned fails[ZS_CODEC_COUNT];
	int64_t aside_until_us[ZS_CODEC_COUNT];
	GSource *aside_timer;

	/* worker */
	GThread *thread;
	GMutex lock;
	GCond cond;
	struct job job;
	bool has_job, quit;
	struct zs_encoder *enc;
	enum zs_codec enc_codec;
	uint32_t enc_width, enc_height, enc_fourcc;
	/* control API: under lock, taken by the worker with the next job */
	uint32_t new_bitrate_kbps; /* 0: unchanged */
	uint32_t worker_bitrate_kbps;
	uint32_t link_kbps; /* rate control's encoder target; 0: none */

	/* link rate control (ratectl.h), main thread */
	struct zs_ratectl rc;
	char *encoder_desc; /* main thread: the last encoder made */

	/* worker → main */
	GAsyncQueue *results;
	int wake_fd;
	GSource *wake_source;
};

/* how often a pipeline held back by bytes waiting toward the clients
 * looks again */
#define WAITING_POLL_US (10 * 1000)

static void try_submit(struct zs_pipeline *p);

/* ZS_PIPELINE_MAX_WAITING_BYTES, or while the link is known to limit the
 * stream what it carries in WAITING_MS (at least 16 KiB) */
#define WAITING_MS 150
static uint64_t max_waiting_bytes(const struct zs_pipeline *p)
{
	uint32_t kbps = zs_ratectl_link_kbps(&p->rc);
	if (!kbps)
		return ZS_PIPELINE_MAX_WAITING_BYTES;
	return MIN(ZS_PIPELINE_MAX_WAITING_BYTES,
		MAX(16 * 1024, (uint64_t)kbps / 8 * WAITING_MS));
}

/* ---- worker thread ---- */

/* An encoder goes (a new size, codec or bitrate, or a failure). glibc
 * keeps freed blocks in its arenas for reuse (its mmap threshold grows to
 * the largest block freed: the D-Bus listener's pixel messages are then
 * reused memory, not fresh pages faulted in and zeroed for every frame);
 * the old encoder's frames are not needed again, so they go back now. */
static void drop_encoder(struct zs_pipeline *p)
{
	if (!p->enc)
		return;
	zs_encoder_destroy(p->enc);
	p->enc = NULL;
	malloc_trim(0);
}

static bool worker_ensure_encoder(struct zs_pipeline *p, const struct job *job,
	struct result *res)
{
	const struct zs_frame *f = job->frame;
	if (p->enc && p->enc_codec == job->codec && p->enc_width == f->width &&
		p->enc_height == f->height && p->enc_fourcc == f->fourcc)
		return true;
	drop_encoder(p);

	uint32_t fps = p->cfg.fps;
	if (p->cfg.max_fps && p->cfg.max_fps < fps)
		fps = p->cfg.max_fps;
	struct zs_encoder_config config = {
		.codec = job->codec,
		.width = f->width,
		.height = f->height,
		.fourcc = f->fourcc,
		.bitrate_kbps = p->worker_bitrate_kbps,
		.fps = fps,
	};
	char err[256];
	p->enc = zs_encoder_create(p->cfg.backend, &config, err, sizeof(err));
	if (!p->enc) {
		g_warning("cannot create a %s encoder for %ux%u: %s",
			zs_codec_name(job->codec), f->width, f->height, err);
		res->err = -ENODEV;
		return false;
	}
	p->enc_codec = job->codec;
	p->enc_width = f->width;
	p->enc_height = f->height;
	p->enc_fourcc = f->fourcc;
	res->encoder_desc = g_strdup(zs_encoder_describe(p->enc));
	return true;
}

static gpointer worker_main(gpointer data)
{
	struct zs_pipeline *p = data;
	for (;;) {
		g_mutex_lock(&p->lock);
		while (!p->has_job && !p->quit)
			g_cond_wait(&p->cond, &p->lock);
		if (p->quit) {
			g_mutex_unlock(&p->lock);
			break;
		}
		struct job job = p->job;
		p->has_job = false;
		uint32_t new_kbps = p->new_bitrate_kbps;
		p->new_bitrate_kbps = 0;
		uint32_t link_kbps = p->link_kbps;
		g_mutex_unlock(&p->lock);
		if (new_kbps) {
			/* a fresh encoder at the new rate, starting on a keyframe */
			p->worker_bitrate_kbps = new_kbps;
			drop_encoder(p);
		}

		struct result *res = g_new0(struct result, 1);
		res->codec = job.codec;
		res->refine_level = job.refine_level;
		res->in_us = job.in_us;
		res->submit_us = job.submit_us;
		if (worker_ensure_encoder(p, &job, res)) {
			bool fresh = res->encoder_desc != NULL;
			if (fresh)
				res->encoder_kbps = zs_encoder_bitrate_kbps(p->enc);
			/* -ENOTSUP (jpegenc): the pacer alone follows the link */
			if (link_kbps)
				zs_encoder_set_bitrate(p->enc, link_kbps);
			/* -ENOTSUP: this encoder has no such control; the frame
			 * comes at its normal quality */
			zs_encoder_set_refine(p->enc, job.refine_level);
			res->err = zs_encoder_encode(p->enc, job.frame,
				job.force_keyframe || fresh, &res->au);
			res->cpu_pixel_bytes = zs_encoder_cpu_pixel_bytes(p->enc);
			if (res->err < 0) {
				g_warning("encoding frame %" G_GUINT64_FORMAT
					" failed: %s; dropping it and "
					"restarting the encoder",
					job.frame->id, g_strerror(-res->err));
				drop_encoder(p);
				res->au = NULL;
			}
		}
		zs_frame_release(job.frame);

		g_async_queue_push(p->results, res);
		uint64_t one = 1;
		if (write(p->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			g_warning("pipeline wakeup failed: %s", g_strerror(errno));
	}
	zs_encoder_destroy(p->enc);
	p->enc = NULL;
	return NULL;
}

/* ---- main thread ---- */

/* The codecs we can encode, without those put aside after failures. */
static uint32_t usable_mask(struct zs_pipeline *p)
{
	int64_t now = g_get_monotonic_time();
	uint32_t mask = p->available_mask;

	for (int c = 1; c < ZS_CODEC_COUNT; c++) {
		if (p->aside_until_us[c] > now)
			mask &= ~ZS_CODEC_BIT(c);
	}
	return mask;
}

static void choose_codec(struct zs_pipeline *p)
{
	enum zs_codec prev = p->codec;
	uint32_t usable = usable_mask(p);

	/* A forced codec that was put aside: nothing else may stream. */
	p->codec = p->client_mask ?
		zs_codec_choose(p->client_mask, usable, p->cfg.forced_codec) :
		ZS_CODEC_NONE;
	zs_stats_streaming(p->codec);
	if (p->client_mask && p->codec == ZS_CODEC_NONE) {
		g_warning("no codec to stream: clients decode 0x%x, this server "
			  "encodes 0x%x%s%s (bits: 1 mjpeg, 2 vp8, 3 h264, 4 vp9, 5 h265)",
			p->client_mask, p->available_mask,
			p->cfg.forced_codec ? ", --codec " : "",
			p->cfg.forced_codec ? zs_codec_name(p->cfg.forced_codec) : "");
	} else if (p->codec != prev && p->codec != ZS_CODEC_NONE) {
		g_message("streaming %s (%s)", zs_codec_name(p->codec),
			zs_encoder_element_name(p->cfg.backend, p->codec));
	}
}

static gboolean on_aside_timer(gpointer data)
{
	struct zs_pipeline *p = data;

	g_source_unref(p->aside_timer);
	p->aside_timer = NULL;
	choose_codec(p);
	p->need_format = true;
	p->need_keyframe = true;
	try_submit(p);
	return G_SOURCE_REMOVE;
}

/* A frame was lost to an encoder error: ask for a keyframe, and put the
 * codec aside for a while when it keeps failing. */
static void frame_failed(struct zs_pipeline *p, enum zs_codec codec)
{
	p->stats.frames_failed++;
	p->need_keyframe = true;
	if (codec <= ZS_CODEC_NONE || codec >= ZS_CODEC_COUNT ||
	    ++p->fails[codec] < FAIL_LIMIT)
		return;
	p->fails[codec] = 0;
	p->aside_until_us[codec] = g_get_monotonic_time() +
		FAIL_BACKOFF_MS * 1000;
	g_warning("%s failed %d frames in a row: trying other codecs for "
		"%d s", zs_codec_name(codec), FAIL_LIMIT, FAIL_BACKOFF_MS / 1000);
	choose_codec(p);
	p->need_format = true;
	if (!p->aside_timer) {
		p->aside_timer = g_timeout_source_new(FAIL_BACKOFF_MS + 10);
		g_source_set_callback(p->aside_timer, on_aside_timer, p, NULL);
		g_source_attach(p->aside_timer,
			g_main_context_get_thread_default());
	}
}

static void free_result(struct result *res)
{
	zs_access_unit_free(res->au);
	g_free(res->encoder_desc);
	g_free(res);
}

static void queue_format_and_cursor(struct zs_pipeline *p, uint32_t width,
	uint32_t height)
{
	uint8_t *fmt = malloc(ZS_STREAM_FORMAT_BYTES);
	if (!fmt)
		return;
	zs_stream_put_format(fmt, width, height, p->codec);
	zs_output_queue(p->output, fmt, ZS_STREAM_FORMAT_BYTES,
		STREAM_TYPE_FORMAT);
	p->format_width = width;
	p->format_height = height;
	p->need_format = false;
	p->cursor_dirty = true;
}

static void queue_cursor(struct zs_pipeline *p)
{
	if (!p->cursor_dirty || !p->cursor_msg || p->need_format ||
		p->codec == ZS_CODEC_NONE)
		return;
	uint8_t *copy = malloc(p->cursor_len);
	if (!copy)
		return;
	memcpy(copy, p->cursor_msg, p->cursor_len);
	zs_output_queue(p->output, copy, p->cursor_len,
		STREAM_TYPE_CURSOR_SET);
	p->cursor_dirty = false;
}

/* Queues the frame for the clients; false when it was dropped. */
static bool handle_access_unit(struct zs_pipeline *p, struct zs_access_unit *au,
	unsigned refine_level)
{
	p->stats.frames_encoded++;
	if (au->codec != p->codec) {
		/* encoded for a codec no longer wanted */
		p->need_keyframe = true;
		return false;
	}
	if (zs_output_drop_unsent(p->output) > 0) {
		p->stats.frames_dropped++;
		p->need_keyframe = true;
		p->need_format = true; /* the FORMAT may have gone too */
	}
	bool new_stream = p->need_format || au->width != p->format_width ||
		au->height != p->format_height;
	if ((new_stream || p->need_keyframe) && !au->keyframe) {
		/* the client could not decode it: wait for the keyframe */
		p->stats.frames_dropped++;
		p->need_keyframe = true;
		return false;
	}
	if (new_stream)
		queue_format_and_cursor(p, au->width, au->height);
	queue_cursor(p);

	if (au->size > ZS_STREAM_MAX_DATA_BYTES) {
		g_warning("frame %" G_GUINT64_FORMAT " is %zu bytes, over the "
			  "stream device's limit; dropped", au->frame_id, au->size);
		p->stats.frames_dropped++;
		p->need_keyframe = true;
		return false;
	}
	uint8_t *msg = malloc(ZS_STREAM_HEADER_BYTES + au->size);
	if (!msg) {
		p->need_keyframe = true;
		return false;
	}
	zs_stream_put_header(msg, STREAM_TYPE_DATA, (uint32_t)au->size);
	memcpy(msg + ZS_STREAM_HEADER_BYTES, au->data, au->size);
	zs_output_queue(p->output, msg, ZS_STREAM_HEADER_BYTES + au->size,
		STREAM_TYPE_DATA);
	if (au->keyframe) {
		p->need_keyframe = false;
		p->stats.keyframes++;
	}
	p->stats.frames_sent++;
	p->stats.bytes_sent += au->size;
	zs_ratectl_sent(&p->rc, g_get_monotonic_time(),
		ZS_STREAM_HEADER_BYTES + au->size);
	zs_stats_frame_sent(au);
	if (refine_level) {
		p->stats.frames_refined++;
		p->stats.bytes_refined += au->size;
	}
	return true;
}

/* --trace-stages: the frame went to spice-server's queue. (When
 * spice-server has read it is not traced: it asks for a message's last
 * bytes only when it looks for the next one, often after the client has
 * the frame.) */
static void trace_queued(struct zs_pipeline *p, const struct result *res)
{
	if (!p->cfg.trace)
		return;
	const struct zs_access_unit *au = res->au;
	struct zs_trace_frame fr = {
		.id = au->frame_id,
		.capture_us = au->capture_us,
		.in_us = res->in_us,
		.submit_us = res->submit_us,
		.enc_start_us = au->encode_start_us,
		.enc_end_us = au->encode_end_us,
		.queued_us = g_get_monotonic_time(),
		.bytes = au->size,
		.keyframe = au->keyframe,
		.refine_level = res->refine_level,
	};
	zs_trace_write(p->cfg.trace, &fr);
}

static gboolean on_results(gint fd, GIOCondition cond, gpointer data)
{
	struct zs_pipeline *p = data;
	uint64_t count;
	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		g_warning("pipeline wakeup read failed: %s", g_strerror(errno));

	struct result *res;
	while ((res = g_async_queue_try_pop(p->results))) {
		p->busy = false;
		if (res->encoder_kbps && !p->rc.max_kbps)
			p->rc.max_kbps = res->encoder_kbps;
		if (res->encoder_desc) {
			g_message("encoder: %s", res->encoder_desc);
			g_free(p->encoder_desc);
			p->encoder_desc = g_strdup(res->encoder_desc);
			zs_stats_encoder(res->encoder_desc);
		}
		if (!res->au && res->err < 0) {
			frame_failed(p, res->codec);
		} else if (!res->au) {
			p->need_keyframe = true;
			zs_refine_frame_done(p->refine, res->refine_level,
				false, 0);
		} else {
			if (res->codec > ZS_CODEC_NONE &&
			    res->codec < ZS_CODEC_COUNT)
				p->fails[res->codec] = 0;
			zs_stats_frame_encoded(res->au, res->cpu_pixel_bytes);
			bool sent = handle_access_unit(p, res->au,
				res->refine_level);
			if (sent)
				trace_queued(p, res);
			zs_refine_frame_done(p->refine, res->refine_level,
				sent, res->au->size);
		}
		free_result(res);
	}
	try_submit(p);
	return G_SOURCE_CONTINUE;
}

static gboolean on_pace_timer(gpointer data)
{
	struct zs_pipeline *p = data;
	g_source_unref(p->pace_timer);
	p->pace_timer = NULL;
	try_submit(p);
	return G_SOURCE_REMOVE;
}

static void try_submit(struct zs_pipeline *p)
{
	if (!p->pending && !p->busy && p->codec != ZS_CODEC_NONE &&
		(p->need_keyframe || p->need_format) && !p->frame_requested &&
		p->cfg.need_frame) {
		p->frame_requested = true;
		p->cfg.need_frame(p->cfg.need_frame_data);
	}
	if (!p->pending || p->busy || p->codec == ZS_CODEC_NONE ||
		zs_output_busy(p->output) || p->pace_timer)
		return;
	int64_t now = g_get_monotonic_time();
	/* the link's pacer, then --max-fps; the newest frame waits */
	int64_t wait_us = p->cfg.rate_control ?
		zs_ratectl_wait_us(&p->rc, now) : 0;
	if (p->cfg.rate_control && p->cfg.client_queue_bytes &&
	    p->cfg.client_queue_bytes(p->cfg.client_queue_data) >
	    max_waiting_bytes(p))
		wait_us = MAX(wait_us, WAITING_POLL_US);
	if (p->cfg.max_fps && now < p->next_submit_us)
		wait_us = MAX(wait_us, p->next_submit_us - now);
	if (wait_us > 0) {
		guint ms = (guint)((wait_us + 999) / 1000);
		p->pace_timer = g_timeout_source_new(ms);
		g_source_set_callback(p->pace_timer, on_pace_timer, p, NULL);
		g_source_attach(p->pace_timer, g_main_context_get_thread_default());
		return;
	}
	if (p->cfg.max_fps)
		p->next_submit_us = MAX(now, p->next_submit_us) +
			G_USEC_PER_SEC / p->cfg.max_fps;

	g_mutex_lock(&p->lock);
	p->job.frame = p->pending;
	p->job.codec = p->codec;
	p->job.force_keyframe = p->need_keyframe || p->need_format;
	p->job.refine_level = p->pending_level;
	p->job.in_us = p->pending_in_us;
	p->job.submit_us = now;
	p->has_job = true;
	g_cond_signal(&p->cond);
	g_mutex_unlock(&p->lock);
	p->pending = NULL;
	p->busy = true;
}

/* How much of the picture a frame's damage covers (1: all, or unknown). */
static double changed_fraction(const struct zs_frame *f)
{
	if (f->n_damage == 0 || !f->width || !f->height)
		return 1.0;
	double area = 0;
	for (int i = 0; i < f->n_damage; i++)
		area += (double)f->damage[i].width * f->damage[i].height;
	return MIN(1.0, area / ((double)f->width * f->height));
}

static void refine_request(void *data)
{
	struct zs_pipeline *p = data;
	if (p->codec != ZS_CODEC_NONE && p->cfg.need_frame)
		p->cfg.need_frame(p->cfg.need_frame_data);
}

void zs_pipeline_frame(struct zs_pipeline *p, struct zs_frame *frame)
{
	p->stats.frames_in++;
	zs_stats_frame_in();
	p->frame_requested = false;
	if (p->pending) {
		/* newest frame wins; the replaced one was never encoded */
		zs_frame_release(p->pending);
		p->stats.frames_skipped++;
	}
	/* Kept even while no client watches: a static desktop sends no new
	 * frames, and the next client must still get a picture. */
	p->pending = frame;
	/* a keyframe is a whole new picture for the client that gets it */
	p->pending_level = zs_refine_frame_in(p->refine,
		p->need_keyframe || p->need_format ? 1.0 :
			changed_fraction(frame));
	p->pending_in_us = g_get_monotonic_time();
	try_submit(p);
}

void zs_pipeline_start_stop(struct zs_pipeline *p, uint32_t codec_mask)
{
	p->client_mask = codec_mask;
	choose_codec(p);
	if (codec_mask == 0) {
		g_message("no client is watching: streaming stopped");
		zs_refine_stop(p->refine);
	}
	/* a client joined (or the set changed): a new stream with FORMAT,
	 * cursor and a keyframe */
	if (zs_output_drop_unsent(p->output) > 0)
		p->stats.frames_dropped++;
	p->need_format = true;
	p->need_keyframe = true;
	p->cursor_dirty = true;
	try_submit(p);
}

void zs_pipeline_drained(struct zs_pipeline *p)
{
	try_submit(p);
}

void zs_pipeline_cursor_define(struct zs_pipeline *p, uint32_t width,
	uint32_t height, int32_t hot_x, int32_t hot_y, const uint32_t *argb)
{
	if (width > ZS_STREAM_MAX_CURSOR_DIM || height > ZS_STREAM_MAX_CURSOR_DIM ||
		hot_x < 0 || hot_y < 0 || (uint32_t)hot_x >= width ||
		(uint32_t)hot_y >= height) {
		g_warning("cursor %ux%u hot spot %d,%d refused", width, height,
			hot_x, hot_y);
		return;
	}
	size_t len;
	uint8_t *msg = zs_stream_build_cursor_set((uint16_t)width,
		(uint16_t)height, (uint16_t)hot_x, (uint16_t)hot_y, argb, &len);
	if (!msg)
		return;
	free(p->cursor_msg);
	p->cursor_msg = msg;
	p->cursor_len = len;
	p->cursor_dirty = true;
	queue_cursor(p);
}

void zs_pipeline_cursor_move(struct zs_pipeline *p, int32_t x, int32_t y,
	bool visible)
{
	if (!visible) {
		static const uint32_t transparent[1] = { 0 };
		zs_pipeline_cursor_define(p, 1, 1, 0, 0, transparent);
		return;
	}
	if (p->codec == ZS_CODEC_NONE || p->need_format)
		return;
	uint8_t *msg = malloc(ZS_STREAM_CURSOR_MOVE_BYTES);
	if (!msg)
		return;
	zs_stream_put_cursor_move(msg, x, y);
	zs_output_queue(p->output, msg, ZS_STREAM_CURSOR_MOVE_BYTES,
		STREAM_TYPE_CURSOR_MOVE);
}

void zs_pipeline_get_stats(const struct zs_pipeline *p,
	struct zs_pipeline_stats *stats)
{
	*stats = p->stats;
}

/* ---- control API ---- */

void zs_pipeline_request_keyframe(struct zs_pipeline *p)
{
	p->need_keyframe = true;
	try_submit(p);
}

void zs_pipeline_link_report(struct zs_pipeline *p,
	struct zs_ratectl_client *client,
	const struct zs_relay_stream_report *report)
{
	if (!p->cfg.rate_control)
		return;
	bool was_limited = p->rc.limited;
	if (!zs_ratectl_report(&p->rc, client, g_get_monotonic_time(),
		report))
		return;
	if (p->rc.limited != was_limited)
		g_message("link: %s (a client's queue %u ms, receiving %.0f "
			"kbit/s)", p->rc.limited ? "pacing to the slowest client" :
			"no longer limited", client->queue_ms, client->recv_kbps);
	g_debug("link: pacing at %u kbit/s, encoder %u kbit/s",
		zs_ratectl_link_kbps(&p->rc), zs_ratectl_encoder_kbps(&p->rc));
	g_mutex_lock(&p->lock);
	p->link_kbps = p->rc.limited ? zs_ratectl_encoder_kbps(&p->rc) :
		p->rc.max_kbps;
	g_mutex_unlock(&p->lock);
	try_submit(p);
}

uint32_t zs_pipeline_link_kbps(const struct zs_pipeline *p)
{
	return zs_ratectl_link_kbps(&p->rc);
}

void zs_pipeline_set_bitrate(struct zs_pipeline *p, uint32_t kbps)
{
	g_mutex_lock(&p->lock);
	p->new_bitrate_kbps = kbps;
	p->rc.max_kbps = kbps;
	p->link_kbps = p->rc.limited ? zs_ratectl_encoder_kbps(&p->rc) : 0;
	g_mutex_unlock(&p->lock);
	p->need_keyframe = true;
	try_submit(p);
}

enum zs_codec zs_pipeline_codec(const struct zs_pipeline *p)
{
	return p->codec;
}

const char *zs_pipeline_encoder_desc(const struct zs_pipeline *p)
{
	return p->encoder_desc ? p->encoder_desc : "";
}

struct zs_pipeline *zs_pipeline_create(const struct zs_pipeline_config *cfg,
	struct zs_output *output, char *err, size_t err_len)
{
	uint32_t available = zs_encoder_probe(cfg->backend);
	if (!available && cfg->backend == ZS_ENCODER_VAAPI) {
		snprintf(err, err_len, "--encoder vaapi: no VA-API device can "
			"encode (the vaapi line above says why)");
		return NULL;
	}
	if (!available) {
		snprintf(err, err_len, "no video encoder is available (install "
			"gstreamer1.0-plugins-ugly for x264enc, -good for vp8enc)");
		return NULL;
	}
	if (cfg->forced_codec != ZS_CODEC_NONE &&
		!(available & ZS_CODEC_BIT(cfg->forced_codec))) {
		snprintf(err, err_len, "--codec %s: no encoder for it on this "
			"machine", zs_codec_name(cfg->forced_codec));
		return NULL;
	}

	struct zs_pipeline *p = g_new0(struct zs_pipeline, 1);
	p->cfg = *cfg;
	p->worker_bitrate_kbps = cfg->bitrate_kbps;
	zs_ratectl_init(&p->rc, cfg->bitrate_kbps);
	p->output = output;
	p->available_mask = available;
	p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->wake_fd < 0) {
		snprintf(err, err_len, "eventfd: %s", g_strerror(errno));
		g_free(p);
		return NULL;
	}
	p->results = g_async_queue_new();
	g_mutex_init(&p->lock);
	g_cond_init(&p->cond);
	p->wake_source = g_unix_fd_source_new(p->wake_fd, G_IO_IN);
	g_source_set_callback(p->wake_source, G_SOURCE_FUNC(on_results), p,
		NULL);
	g_source_attach(p->wake_source, g_main_context_get_thread_default());
	p->refine = zs_refine_create(cfg->refine, cfg->fps, refine_request, p);
	p->thread = g_thread_new("zs-encode", worker_main, p);

	GString *names = g_string_new(NULL);
	for (int c = 1; c < ZS_CODEC_COUNT; c++)
		if (available & ZS_CODEC_BIT(c))
			g_string_append_printf(names, " %s=%s", zs_codec_name(c),
				zs_encoder_element_name(cfg->backend, c));
	g_message("encoders:%s", names->str);
	g_string_free(names, TRUE);
	return p;
}

void zs_pipeline_destroy(struct zs_pipeline *p)
{
	if (!p)
		return;
	g_mutex_lock(&p->lock);
	p->quit = true;
	if (p->has_job) {
		zs_frame_release(p->job.frame);
		p->has_job = false;
	}
	g_cond_signal(&p->cond);
	g_mutex_unlock(&p->lock);
	g_thread_join(p->thread);

	struct result *res;
	while ((res = g_async_queue_try_pop(p->results)))
		free_result(res);
	g_async_queue_unref(p->results);
	g_source_destroy(p->wake_source);
	g_source_unref(p->wake_source);
	if (p->pace_timer) {
		g_source_destroy(p->pace_timer);
		g_source_unref(p->pace_timer);
	}
	if (p->aside_timer) {
		g_source_destroy(p->aside_timer);
		g_source_unref(p->aside_timer);
	}
	close(p->wake_fd);
	zs_refine_destroy(p->refine);
	zs_frame_release(p->pending);
	free(p->cursor_msg);
	g_free(p->encoder_desc);
	g_mutex_clear(&p->lock);
	g_cond_clear(&p->cond);
	g_free(p);
}
