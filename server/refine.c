/* Sharpening a still picture.
 *
 * Rate control sizes every frame for motion: once the source goes still,
 * the last picture stays at that quality. After STILL_DELAY_MS without a
 * change, the picture is asked for again (the source's request_frame) and
 * encoded at refine level 1, then 2, … up to ZS_ENCODER_REFINE_MAX, one
 * frame interval apart: P frames of an unchanged picture carry only the
 * residual, so each costs the difference to the sharper picture. Then
 * nothing more until the next change: a bounded cost per still period.
 *
 * A frame that arrives while no refine frame was asked for is a change: it
 * is encoded at level 0 and restarts the wait. Changes too small to matter
 * (under MIN_CHANGED of the picture in all since the last refinement: a
 * blinking cursor, a typed letter, which the rate control codes well among
 * skipped blocks) are not refined: that would re-encode the whole picture
 * six times per blink. A frame asked for that never
 * comes (a source without request_frame) is given up after
 * REQUEST_TIMEOUT_MS. */
#define G_LOG_DOMAIN "zerospice-refine"
#include <glib.h>

#include "internal.h"

#define STILL_DELAY_MS 100
#define REQUEST_TIMEOUT_MS 1000
#define MIN_STEP_MS 10
#define MIN_CHANGED (1.0 / 16)

enum refine_state {
	REFINE_IDLE,      /* nothing to do: no picture, or refined already */
	REFINE_WAITING,   /* a change went out; the still timer runs */
	REFINE_REQUESTED, /* a picture was asked for at `level` */
	REFINE_ENCODING,  /* that picture is at the encoder */
};

struct zs_refine {
	bool enabled;
	guint step_ms;
	void (*request)(void *data);
	void *data;

	enum refine_state state;
	unsigned level; /* of the requested / encoding picture */
	double changed; /* fraction of the picture changed since the last
	                 * refinement (sums of damage, may exceed 1) */
	GSource *timer;
	struct zs_refine_stats stats;
};

static void set_timer(struct zs_refine *r, guint ms);

static gboolean on_timer(gpointer data)
{
	struct zs_refine *r = data;
	g_source_unref(r->timer);
	r->timer = NULL;
	if (r->state == REFINE_REQUESTED) {
		/* the picture never came */
		g_info("refine: the source did not send its picture again");
		r->state = REFINE_IDLE;
		return G_SOURCE_REMOVE;
	}
	if (r->state != REFINE_WAITING)
		return G_SOURCE_REMOVE;
	if (r->level == 0 && r->changed < MIN_CHANGED) {
		r->state = REFINE_IDLE;
		r->stats.skipped++;
		return G_SOURCE_REMOVE;
	}
	r->state = REFINE_REQUESTED;
	r->level++;
	set_timer(r, REQUEST_TIMEOUT_MS);
	r->request(r->data);
	return G_SOURCE_REMOVE;
}

static void cancel_timer(struct zs_refine *r)
{
	if (!r->timer)
		return;
	g_source_destroy(r->timer);
	g_source_unref(r->timer);
	r->timer = NULL;
}

static void set_timer(struct zs_refine *r, guint ms)
{
	cancel_timer(r);
	r->timer = g_timeout_source_new(ms);
	g_source_set_callback(r->timer, on_timer, r, NULL);
	g_source_attach(r->timer, g_main_context_get_thread_default());
}

struct zs_refine *zs_refine_create(bool enabled, uint32_t fps,
	void (*request)(void *data), void *data)
{
	struct zs_refine *r = g_new0(struct zs_refine, 1);
	r->enabled = enabled && request;
	r->step_ms = MAX(MIN_STEP_MS, 1000u / (fps ? fps : 30u));
	r->request = request;
	r->data = data;
	return r;
}

void zs_refine_destroy(struct zs_refine *r)
{
	if (!r)
		return;
	cancel_timer(r);
	g_free(r);
}

unsigned zs_refine_frame_in(struct zs_refine *r, double changed)
{
	if (!r->enabled)
		return 0;
	if (r->state == REFINE_REQUESTED) {
		cancel_timer(r);
		r->state = REFINE_ENCODING;
		return r->level;
	}
	/* a change (or a picture someone else asked for) */
	r->changed += changed;
	cancel_timer(r);
	r->state = REFINE_IDLE;
	r->level = 0;
	return 0;
}

void zs_refine_frame_done(struct zs_refine *r, unsigned level, bool sent,
	size_t bytes)
{
	if (!r->enabled)
		return;
	if (level > 0) {
		r->stats.frames++;
		r->stats.bytes += bytes;
		g_info("refine: level %u, %zu bytes%s", level, bytes,
			sent ? "" : " (not sent)");
	}
	if (r->state == REFINE_REQUESTED)
		return; /* a newer request is out; its picture comes next */
	if (level == 0) {
		if (r->state == REFINE_IDLE || r->state == REFINE_WAITING) {
			r->state = REFINE_WAITING;
			r->level = 0;
			set_timer(r, STILL_DELAY_MS);
		}
		return;
	}
	if (r->state != REFINE_ENCODING)
		return;
	if (level >= ZS_ENCODER_REFINE_MAX) {
		r->state = REFINE_IDLE;
		r->changed = 0;
		r->stats.completed++;
		g_info("refine: done after %u frames", level);
		return;
	}
	r->state = REFINE_WAITING;
	set_timer(r, r->step_ms);
}

void zs_refine_stop(struct zs_refine *r)
{
	cancel_timer(r);
	r->changed = 1.0; /* the next client starts from a keyframe */
	r->state = REFINE_IDLE;
	r->level = 0;
}

void zs_refine_get_stats(const struct zs_refine *r,
	struct zs_refine_stats *stats)
{
	*stats = r->stats;
}
