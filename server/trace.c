/* --trace-stages: one line per frame sent, with its time at each stage of
 * the server (CLOCK_MONOTONIC microseconds, the clock the test pattern
 * stamps into its pictures), for zerospice-bench to join with what the
 * client saw (--trace-stages there too) into a latency budget. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "front.h"
#include "internal.h"
#include "zs-qemu.h"

struct zs_trace {
	FILE *f;
	bool failed;
	struct zs_front *front;
};

struct zs_trace *zs_trace_open(const char *path, char *err, size_t err_len)
{
	FILE *f = fopen(path, "we");
	if (!f) {
		snprintf(err, err_len, "--trace-stages %s: %s", path,
			g_strerror(errno));
		return NULL;
	}
	setvbuf(f, NULL, _IOLBF, 0);
	/* version 2 added the last three columns: bytes in the client
	 * socket's send queue and in the relay, and how many display clients
	 * (the queue of the client that has the most). Version 3 added the
	 * key lines (QEMU sources): they start with "k", which a version 2
	 * reader's numeric scan skips. */
	fprintf(f, "# zerospice stage trace 3: CLOCK_MONOTONIC us; frame capture "
		"in submit enc_start enc_end queued bytes key refine "
		"sock_queue relay_queue clients\n"
		"# key lines: k scancode recv call reply frame capture emit "
		"stamp_us (0: unknown; frame: the first whose input stamp "
		"changed)\n");
	struct zs_trace *t = g_new0(struct zs_trace, 1);
	t->f = f;
	return t;
}

void zs_trace_close(struct zs_trace *t)
{
	if (!t)
		return;
	if (fclose(t->f) != 0 && !t->failed)
		g_warning("--trace-stages: closing the file: %s",
			g_strerror(errno));
	g_free(t);
}

void zs_trace_set_front(struct zs_trace *t, struct zs_front *front)
{
	if (t)
		t->front = front;
}

static void write_failed(struct zs_trace *t)
{
	/* once: a full disk must not flood the log */
	g_warning("--trace-stages: writing failed: %s; tracing stops",
		g_strerror(errno));
	t->failed = true;
}

/* One line when the answering frame and QEMU's reply are in: a key press
 * is rare next to frames, and the file is line-buffered as for those. */
void zs_trace_key(void *trace, const struct zs_qemu_key_trace *k)
{
	struct zs_trace *t = trace;
	if (!t || t->failed)
		return;
	if (fprintf(t->f, "k %" PRIu32 " %" PRId64 " %" PRId64 " %" PRId64
		    " %" PRIu64 " %" PRId64 " %" PRId64 " %" PRIu32 "\n",
		    k->scancode, k->recv_us, k->call_us, k->reply_us,
		    k->frame_id, k->capture_us, k->emit_us, k->stamp_us) < 0)
		write_failed(t);
}

void zs_trace_write(struct zs_trace *t, const struct zs_trace_frame *fr)
{
	if (!t || t->failed)
		return;
	struct zs_front_queue q = { 0 };
	if (t->front)
		zs_front_display_queue(t->front, &q);
	if (fprintf(t->f, "%" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64 " %"
		    PRIu64 " %" PRIu64 " %" PRId64 " %zu %d %u %" PRIu64 " %"
		    PRIu64 " %u\n",
		    fr->id, fr->capture_us, fr->in_us, fr->submit_us,
		    fr->enc_start_us, fr->enc_end_us, fr->queued_us,
		    fr->bytes, fr->keyframe ? 1 : 0, fr->refine_level,
		    q.socket_bytes, q.relay_bytes, q.clients) < 0)
		write_failed(t);
}
