/* zerospice-bench --psnr: how sharp client 0's picture is, over time, against
 * the test pattern's own picture for the frame it shows (the frame and input
 * stamps say which; zs_testpattern_psnr draws it again). Times count from the
 * moment the last new frame was shown: the start of the still period, when
 * a server that refines still pictures (zerospice --refine) sends a few more
 * frames of the same picture. Those frames are counted (spice-gtk's
 * "video margin" lines, one per stream frame received) with their bytes.
 * A picture is measured once it has stood PSNR_EVERY_MS, and again each
 * time it changes without a new frame id (a refined frame). */
#include <inttypes.h>
#include <math.h>

#include "bench.h"
#include "zs-dmabuf.h"

#define PSNR_EVERY_MS 50
#define PSNR_MAX_SAMPLES 4096

static gboolean on_psnr_timer(gpointer data)
{
	struct zb_bench *b = data;
	struct zb_still *s = &b->still;
	struct zb_client *c = &b->clients[0];
	if (b->finished) {
		s->timer = 0;
		return G_SOURCE_REMOVE;
	}
	int64_t now = g_get_monotonic_time();
	/* only a picture that stood PSNR_EVERY_MS: while it moves, the
	 * comparison (tens of ms of CPU) would cost the client its frames */
	if (!s->dirty || !c->have_primary || !s->since_us ||
	    now - s->since_us < PSNR_EVERY_MS * 1000 ||
	    s->samples->len >= PSNR_MAX_SAMPLES)
		return G_SOURCE_CONTINUE;
	s->dirty = false;
	struct zs_image img = { c->px, (uint32_t)c->width, (uint32_t)c->height,
		(uint32_t)c->stride, 4 };
	struct zs_psnr q;
	uint32_t id;
	if (zs_testpattern_psnr(&img, &q, &id) < 0) {
		s->failed++;
		return G_SOURCE_CONTINUE;
	}
	struct zb_psnr_sample smp = {
		.t_s = (double)(now - b->t0_us) / 1e6,
		.still_ms = (double)(now - s->since_us) / 1000.0,
		.db = q.y_db,
		.text_db = q.text_db,
		.rgb_db = q.rgb_db,
	};
	g_array_append_val(s->samples, smp);
	return G_SOURCE_CONTINUE;
}

void zb_still_init(struct zb_bench *b)
{
	struct zb_still *s = &b->still;
	s->samples = g_array_new(FALSE, FALSE, sizeof(struct zb_psnr_sample));
	if (b->opt.psnr)
		s->timer = g_timeout_add(PSNR_EVERY_MS, on_psnr_timer, b);
}

void zb_still_finish(struct zb_bench *b)
{
	struct zb_still *s = &b->still;
	if (s->timer)
		g_source_remove(s->timer);
	s->timer = 0;
	if (s->samples)
		g_array_free(s->samples, TRUE);
	s->samples = NULL;
}

void zb_still_new_frame(struct zb_bench *b, struct zb_client *c, int64_t now)
{
	struct zb_still *s = &b->still;
	if (!b->opt.psnr || c->index != 0)
		return;
	s->since_us = now;
	s->periods++;
	/* frames that arrived after this one and wait for decoding belong to
	 * the still period already */
	g_mutex_lock(&c->lock);
	uint64_t queued = c->arr_head - c->arr_tail;
	g_mutex_unlock(&c->lock);
	s->margins_at = b->frames_received - MIN(queued, b->frames_received);
	s->bytes_at = zb_client_display_bytes(c);
	s->first_sample = s->samples->len;
	s->dirty = true;
}

void zb_still_invalidate(struct zb_bench *b, struct zb_client *c)
{
	if (b->opt.psnr && c->index == 0)
		b->still.dirty = true;
}

/* Frames and bytes received since the still period began. */
void zb_still_end(struct zb_bench *b)
{
	struct zb_still *s = &b->still;
	if (!b->opt.psnr || !s->since_us)
		return;
	s->frames_after = b->frames_received - s->margins_at;
	s->bytes_after = zb_client_display_bytes(&b->clients[0]) - s->bytes_at;
	s->still_s = (double)(g_get_monotonic_time() - s->since_us) / 1e6;
}

/* Luma (or RGB) PSNR of the last still period at `ms` after it began (the
 * last sample at or before), NAN when none. */
static double psnr_at_of(const struct zb_still *s, double ms, bool rgb)
{
	double v = NAN;
	for (guint i = s->first_sample; i < s->samples->len; i++) {
		const struct zb_psnr_sample *p =
			&g_array_index(s->samples, struct zb_psnr_sample, i);
		if (p->still_ms <= ms)
			v = rgb ? p->rgb_db : p->db;
	}
	return v;
}

static double psnr_at(const struct zb_still *s, double ms)
{
	return psnr_at_of(s, ms, false);
}

static void json_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.3f", v);
	else
		fputs("null", f);
}

void zb_still_json(struct zb_bench *b, FILE *f)
{
	struct zb_still *s = &b->still;
	if (!b->opt.psnr)
		return;
	fprintf(f, "  \"still\": {\"periods\": %" PRIu64 ", \"still_s\": ",
		s->periods);
	json_num(f, s->still_s);
	fprintf(f, ", \"frames_after_still\": %" PRIu64 ", \"bytes_after_still\": %"
		PRIu64 ", \"psnr_failed\": %" PRIu64, s->frames_after, s->bytes_after,
		s->failed);
	fputs(", \"psnr_db_first\": ", f);
	json_num(f, s->first_sample < s->samples->len ?
		g_array_index(s->samples, struct zb_psnr_sample,
			s->first_sample).db : NAN);
	fputs(", \"psnr_db_at_1s\": ", f);
	json_num(f, psnr_at(s, 1000));
	fputs(", \"psnr_db_final\": ", f);
	json_num(f, psnr_at(s, INFINITY));
	fputs(", \"psnr_rgb_db_final\": ", f);
	json_num(f, psnr_at_of(s, INFINITY, true));
	fputs(",\n    \"psnr_series_fields\": [\"t_s\", \"still_ms\", "
		"\"psnr_y_db\", \"psnr_text_db\", \"psnr_rgb_db\"],\n    \"psnr_series\": [", f);
	for (guint i = 0; i < s->samples->len; i++) {
		const struct zb_psnr_sample *p =
			&g_array_index(s->samples, struct zb_psnr_sample, i);
		fprintf(f, "%s[%.3f,%.1f,%.2f,%.2f,%.2f]", i ? "," : "", p->t_s,
			p->still_ms, p->db, p->text_db, p->rgb_db);
	}
	fputs("]},\n", f);
}

void zb_still_summary(struct zb_bench *b, FILE *out)
{
	struct zb_still *s = &b->still;
	if (!b->opt.psnr)
		return;
	fprintf(out, "still picture: luma PSNR first %.2f dB, at 1 s %.2f dB, "
		"final %.2f dB (RGB %.2f dB) after %.1f s still; %" PRIu64
		" frames, %" PRIu64 " bytes received while still\n",
		s->first_sample < s->samples->len ?
			g_array_index(s->samples, struct zb_psnr_sample,
				s->first_sample).db : NAN,
		psnr_at(s, 1000), psnr_at(s, INFINITY),
		psnr_at_of(s, INFINITY, true), s->still_s,
		s->frames_after, s->bytes_after);
}
