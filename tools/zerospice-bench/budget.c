/* zerospice-bench --trace-stages FILE: the latency budget of each frame,
 * stage by stage. zerospice --trace-stages FILE writes one line per frame
 * it sent (capture, pipeline in, handed to the encoder thread, encode
 * start and end, queued for spice-server; same host, CLOCK_MONOTONIC); the bench knows when client 0 received (spice-gtk's
 * video margin line), decoded and showed each frame. Joined by frame id and
 * capture time (the test pattern stamps both). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

enum {
	ST_SOURCE,   /* capture -> the pipeline has it */
	ST_WAIT,     /* -> handed to the encoder thread (newest wins, pacing) */
	ST_HANDOFF,  /* -> the encoder starts */
	ST_ENCODE,   /* encode */
	ST_RETURN,   /* -> queued for spice-server (main loop) */
	ST_NETWORK,  /* queued -> spice-gtk received it (spice-server,
	              * sockets, link) */
	ST_DECODE,   /* -> decoded (includes spice-gtk's hold) */
	ST_SHOW,     /* -> in the client surface */
	ST_TOTAL,    /* capture -> shown */
	N_STAGES,
};

static const char *const stage_names[N_STAGES] = {
	"source_to_pipeline", "wait_for_encoder", "to_encoder_thread",
	"encode", "back_to_main_loop", "queued_to_client",
	"client_decode_and_hold", "decoded_to_shown", "capture_to_shown",
};

struct trace_line {
	uint64_t id, capture, enc_start, enc_end;
	int64_t in, submit, queued;
	size_t bytes;
	int key;
	unsigned refine;
	uint64_t sock_queue, relay_queue; /* version 2 */
};

struct zb_queue_point {
	float t_s, sock_kib, relay_kib, frame_kib;
};

#define QUEUE_SERIES_MAX 4000

void zb_budget_init(struct zb_bench *b)
{
	b->shown_log = g_array_new(FALSE, FALSE, sizeof(struct zb_shown_rec));
	b->budget = g_new0(struct zb_samples, N_STAGES);
	for (int i = 0; i < N_STAGES; i++)
		zb_samples_init(&b->budget[i]);
	zb_samples_init(&b->sock_queue_kib);
	zb_samples_init(&b->relay_queue_kib);
	b->queue_series = g_array_new(FALSE, FALSE, sizeof(struct zb_queue_point));
}

/* Version 2 lines: the queue toward the clients when the frame was
 * queued, in the measured window. */
static void add_queue(struct zb_bench *b, const struct trace_line *t)
{
	if (!b->measure_start_us || t->queued < b->measure_start_us ||
		(b->measure_end_us && t->queued > b->measure_end_us))
		return;
	zb_samples_add(&b->sock_queue_kib, (double)t->sock_queue / 1024.0);
	zb_samples_add(&b->relay_queue_kib, (double)t->relay_queue / 1024.0);
	if (b->queue_series->len < QUEUE_SERIES_MAX) {
		struct zb_queue_point p = {
			(float)(t->queued - b->measure_start_us) / 1e6f,
			(float)t->sock_queue / 1024.0f,
			(float)t->relay_queue / 1024.0f,
			(float)t->bytes / 1024.0f,
		};
		g_array_append_val(b->queue_series, p);
	}
}

void zb_budget_shown(struct zb_bench *b, const struct zb_shown_rec *rec)
{
	if (b->opt.trace_path && b->shown_log->len < 1000000)
		g_array_append_val(b->shown_log, *rec);
}

static void add_ms(struct zb_samples *s, int64_t from_us, int64_t to_us)
{
	if (from_us > 0 && to_us > 0 && to_us >= from_us)
		zb_samples_add(s, (double)(to_us - from_us) / 1000.0);
}

/* Reads the server's trace and fills the stage samples. */
bool zb_budget_join(struct zb_bench *b, char *err, size_t len)
{
	if (!b->opt.trace_path)
		return true;
	FILE *f = fopen(b->opt.trace_path, "re");
	if (!f) {
		snprintf(err, len, "--trace-stages %s: %s", b->opt.trace_path,
			strerror(errno));
		return false;
	}
	/* first line per (id, capture): a refined repeat is not a new frame */
	GHashTable *by_id = g_hash_table_new_full(g_int64_hash, g_int64_equal,
		g_free, g_free);
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		struct trace_line t = { 0 };
		int n = line[0] == '#' ? 0 : sscanf(line, "%" SCNu64 " %" SCNu64
			" %" SCNd64 " %" SCNd64 " %" SCNu64 " %" SCNu64 " %" SCNd64
			" %zu %d %u %" SCNu64 " %" SCNu64, &t.id, &t.capture, &t.in,
			&t.submit, &t.enc_start, &t.enc_end, &t.queued, &t.bytes,
			&t.key, &t.refine, &t.sock_queue, &t.relay_queue);
		if (n != 10 && n != 12)
			continue;
		if (n == 12)
			add_queue(b, &t);
		b->trace_frames++;
		b->trace_bytes += t.bytes;
		if (t.refine) {
			b->refine_frames++;
			b->refine_bytes += t.bytes;
		}
		gint64 key = (gint64)(t.id & 0xffffffffu);
		if (g_hash_table_contains(by_id, &key))
			continue;
		g_hash_table_insert(by_id, g_memdup2(&key, sizeof(key)),
			g_memdup2(&t, sizeof(t)));
	}
	fclose(f);
	for (guint i = 0; i < b->shown_log->len; i++) {
		const struct zb_shown_rec *r =
			&g_array_index(b->shown_log, struct zb_shown_rec, i);
		gint64 key = r->id;
		const struct trace_line *t = g_hash_table_lookup(by_id, &key);
		/* the stamp carries the low 56 bits of the capture time */
		if (!t || (t->capture & ((1ull << 56) - 1)) !=
			    (r->capture_us & ((1ull << 56) - 1)))
			continue;
		b->budget_joined++;
		struct zb_samples *s = b->budget;
		add_ms(&s[ST_SOURCE], (int64_t)t->capture, t->in);
		add_ms(&s[ST_WAIT], t->in, t->submit);
		add_ms(&s[ST_HANDOFF], t->submit, (int64_t)t->enc_start);
		add_ms(&s[ST_ENCODE], (int64_t)t->enc_start, (int64_t)t->enc_end);
		add_ms(&s[ST_RETURN], (int64_t)t->enc_end, t->queued);
		add_ms(&s[ST_NETWORK], t->queued, r->arrival_us);
		add_ms(&s[ST_DECODE], r->arrival_us, r->decoded_us);
		add_ms(&s[ST_SHOW], r->decoded_us, r->shown_us);
		add_ms(&s[ST_TOTAL], (int64_t)t->capture, r->shown_us);
	}
	g_hash_table_destroy(by_id);
	return true;
}

static void jnum(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.3f", v);
	else
		fputs("null", f);
}

void zb_budget_json(struct zb_bench *b, FILE *f)
{
	if (!b->opt.trace_path)
		return;
	fprintf(f, "  \"budget_ms\": {\"frames_joined\": %" PRIu64
		", \"server_frames\": %" PRIu64 ", \"server_bytes\": %" PRIu64
		", \"refine_frames\": %" PRIu64 ", \"refine_bytes\": %" PRIu64
		", \"stages\": [", b->budget_joined, b->trace_frames, b->trace_bytes,
		b->refine_frames, b->refine_bytes);
	for (int i = 0; i < N_STAGES; i++) {
		struct zb_samples *s = &b->budget[i];
		fprintf(f, "%s\n    {\"stage\": \"%s\", \"n\": %zu, \"p50\": ",
			i ? "," : "", stage_names[i], s->n);
		jnum(f, zb_samples_percentile(s, 50));
		fputs(", \"p95\": ", f);
		jnum(f, zb_samples_percentile(s, 95));
		fputs("}", f);
	}
	fputs("]", f);
	if (b->sock_queue_kib.n) {
		fputs(",\n   \"queue_kib\": {\"n\": ", f);
		fprintf(f, "%zu", b->sock_queue_kib.n);
		const char *names[] = { "socket", "relay" };
		struct zb_samples *qs[] = { &b->sock_queue_kib, &b->relay_queue_kib };
		for (int i = 0; i < 2; i++) {
			fprintf(f, ", \"%s_p50\": ", names[i]);
			jnum(f, zb_samples_percentile(qs[i], 50));
			fprintf(f, ", \"%s_p95\": ", names[i]);
			jnum(f, zb_samples_percentile(qs[i], 95));
			fprintf(f, ", \"%s_max\": ", names[i]);
			jnum(f, zb_samples_max(qs[i]));
		}
		fputs(", \"series\": [", f);
		for (guint i = 0; i < b->queue_series->len; i++) {
			const struct zb_queue_point *p = &g_array_index(
				b->queue_series, struct zb_queue_point, i);
			fprintf(f, "%s[%.3f, %.1f, %.1f, %.1f]", i ? ", " : "",
				p->t_s, p->sock_kib, p->relay_kib, p->frame_kib);
		}
		fputs("]}", f);
	}
	fputs("},\n", f);
}

void zb_budget_summary(struct zb_bench *b, FILE *out)
{
	if (!b->opt.trace_path)
		return;
	fprintf(out, "server trace: %" PRIu64 " frames sent, %" PRIu64 " bytes; "
		"%" PRIu64 " refinement frames, %" PRIu64 " bytes\n",
		b->trace_frames, b->trace_bytes, b->refine_frames, b->refine_bytes);
	fprintf(out, "latency budget (%" PRIu64 " frames joined with the server's "
		"trace), p50 / p95 ms:\n", b->budget_joined);
	for (int i = 0; i < N_STAGES; i++) {
		struct zb_samples *s = &b->budget[i];
		fprintf(out, "  %-28s %7.1f  %7.1f\n", stage_names[i],
			zb_samples_percentile(s, 50), zb_samples_percentile(s, 95));
	}
	if (b->sock_queue_kib.n)
		fprintf(out, "queued toward the client when a frame was queued, "
			"p50 / p95 / max KiB: socket %.1f / %.1f / %.1f, relay "
			"%.1f / %.1f / %.1f\n",
			zb_samples_percentile(&b->sock_queue_kib, 50),
			zb_samples_percentile(&b->sock_queue_kib, 95),
			zb_samples_max(&b->sock_queue_kib),
			zb_samples_percentile(&b->relay_queue_kib, 50),
			zb_samples_percentile(&b->relay_queue_kib, 95),
			zb_samples_max(&b->relay_queue_kib));
}
