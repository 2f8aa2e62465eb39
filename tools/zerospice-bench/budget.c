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
#include "keytrace.h"

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

/* Key→picture, per key probe (QEMU sources, trace version 3): the probe
 * sent, zerospice's key line (press received, Keyboard.Press answered,
 * the first frame whose input stamp counts it) and that frame's own line
 * (or the next one sent: newest wins), and the client's arrival, decode
 * and show of the picture that showed the answer. */
enum {
	KS_TO_ZEROSPICE, /* probe sent -> the press reached the QEMU source
	                  * (client, socket, spice-server's inputs channel) */
	KS_QEMU_CALL,    /* -> QEMU answered Keyboard.Press */
	KS_GUEST,        /* -> QEMU's first message of the answering picture
	                  * (0 when it came before the reply) */
	KS_TO_PIPELINE,  /* -> the pipeline has it (the rest of QEMU's
	                  * messages of that picture, our copy) */
	KS_TO_ENCODER,   /* -> the encoder starts on it (newest wins, waiting
	                  * for the encoder, the hand-off) */
	KS_ENCODE,
	KS_TO_QUEUED,    /* -> queued for spice-server */
	KS_TO_CLIENT,    /* -> spice-gtk received it */
	KS_CLIENT_SHOW,  /* -> decoded and in the client surface */
	KS_TOTAL,        /* probe sent -> shown */
	N_KEY_STAGES,
};

static const char *const key_stage_names[N_KEY_STAGES] = {
	"client_to_zerospice", "zerospice_to_qemu_reply", "qemu_guest_to_frame",
	"frame_to_pipeline", "pipeline_to_encoder", "encode",
	"encoded_to_queued", "queued_to_client", "client_decode_and_show",
	"key_to_shown",
};

/* Frame ids after the answering one looked at when that one was not sent
 * (a newer frame replaced it before the encoder took it). */
#define KEY_FRAME_LOOKAHEAD 8

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
	b->key_probes = g_array_new(FALSE, FALSE, sizeof(struct zb_key_probe));
	b->key_budget = g_new0(struct zb_samples, N_KEY_STAGES);
	for (int i = 0; i < N_KEY_STAGES; i++)
		zb_samples_init(&b->key_budget[i]);
	zb_samples_init(&b->key_stamp_ms);
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

void zb_budget_key_probe(struct zb_bench *b, const struct zb_key_probe *p)
{
	if (b->opt.trace_path && b->key_probes->len < 100000)
		g_array_append_val(b->key_probes, *p);
}

/* Joins each key probe with its key line and frame line. */
static void join_keys(struct zb_bench *b, GArray *keys, GHashTable *by_id)
{
	struct zb_samples *s = b->key_budget;
	for (guint i = 0; i < b->key_probes->len; i++) {
		const struct zb_key_probe *p =
			&g_array_index(b->key_probes, struct zb_key_probe, i);
		ptrdiff_t m = zb_key_line_match((const struct zb_key_line *)
			(void *)keys->data, keys->len, p->scancode, p->sent_us,
			p->shown_us);
		if (m < 0)
			continue;
		const struct zb_key_line *k =
			&g_array_index(keys, struct zb_key_line, m);
		b->key_joined++;
		zb_samples_add(&b->key_stamp_ms, k->stamp_us / 1000.0);
		add_ms(&s[KS_TO_ZEROSPICE], p->sent_us, k->recv_us);
		add_ms(&s[KS_QEMU_CALL], k->recv_us, k->reply_us);
		if (k->reply_us)
			add_ms(&s[KS_GUEST], k->reply_us,
				MAX(k->capture_us, k->reply_us));
		add_ms(&s[KS_TOTAL], p->sent_us, p->shown_us);
		const struct trace_line *t = NULL;
		for (uint64_t id = k->frame_id; !t && id <= k->frame_id +
			     KEY_FRAME_LOOKAHEAD; id++) {
			gint64 key = (gint64)(id & 0xffffffffu);
			t = g_hash_table_lookup(by_id, &key);
			/* the same source's frame: not captured before */
			if (t && (int64_t)t->capture < k->capture_us)
				t = NULL;
		}
		if (!t)
			continue;
		b->key_frame_joined++;
		add_ms(&s[KS_TO_PIPELINE], k->capture_us, t->in);
		add_ms(&s[KS_TO_ENCODER], t->in, (int64_t)t->enc_start);
		add_ms(&s[KS_ENCODE], (int64_t)t->enc_start, (int64_t)t->enc_end);
		add_ms(&s[KS_TO_QUEUED], (int64_t)t->enc_end, t->queued);
		add_ms(&s[KS_TO_CLIENT], t->queued, p->arrival_us);
		add_ms(&s[KS_CLIENT_SHOW], p->arrival_us, p->shown_us);
	}
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
	GArray *keys = g_array_new(FALSE, FALSE, sizeof(struct zb_key_line));
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		struct zb_key_line k;
		if (zb_key_line_parse(line, &k)) {
			b->key_lines++;
			if (keys->len < 100000)
				g_array_append_val(keys, k);
			continue;
		}
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
	join_keys(b, keys, by_id);
	g_array_free(keys, TRUE);
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
	if (!b->key_lines)
		return;
	fprintf(f, "  \"key_budget_ms\": {\"key_lines\": %" PRIu64
		", \"probes\": %u, \"joined\": %" PRIu64 ", \"frame_joined\": %"
		PRIu64 ", \"stamp_read_p50\": ", b->key_lines,
		b->key_probes->len, b->key_joined, b->key_frame_joined);
	jnum(f, zb_samples_percentile(&b->key_stamp_ms, 50));
	fputs(", \"stages\": [", f);
	for (int i = 0; i < N_KEY_STAGES; i++) {
		struct zb_samples *s = &b->key_budget[i];
		fprintf(f, "%s\n    {\"stage\": \"%s\", \"n\": %zu, \"p50\": ",
			i ? "," : "", key_stage_names[i], s->n);
		jnum(f, zb_samples_percentile(s, 50));
		fputs(", \"p95\": ", f);
		jnum(f, zb_samples_percentile(s, 95));
		fputs("}", f);
	}
	fputs("]},\n", f);
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
	if (b->key_lines) {
		fprintf(out, "key->picture budget (%" PRIu64 " of %u key probes "
			"joined with zerospice's %" PRIu64 " key lines, %" PRIu64
			" with the frame's line), p50 / p95 ms:\n", b->key_joined,
			b->key_probes->len, b->key_lines, b->key_frame_joined);
		for (int i = 0; i < N_KEY_STAGES; i++) {
			struct zb_samples *s = &b->key_budget[i];
			fprintf(out, "  %-28s %7.1f  %7.1f\n", key_stage_names[i],
				zb_samples_percentile(s, 50),
				zb_samples_percentile(s, 95));
		}
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
