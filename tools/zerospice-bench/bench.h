/* zerospice-bench: shared state between the client driver (bench.c), the
 * report writers (report.c: JSON, plot.c: SVG) and main. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <glib.h>

#include "procstat.h"
#include "stamp-reader.h"
#include "stats.h"

#define ZB_DECODED_RING 512
#define ZB_STALL_MS 250

enum zb_probe_kind {
	ZB_PROBE_KEY,
	ZB_PROBE_CLICK,
	ZB_PROBE_BOTH, /* alternate */
	ZB_PROBE_NONE, /* no input: a still picture stays still */
};

struct zb_options {
	char *uri;
	char *ticket_file;
	int clients;
	double duration_s;
	double warmup_s;
	char *json_path;
	char *plot_path;
	char *label;
	int server_pid;
	int also_pid;
	enum zb_probe_kind probe;
	double probe_gap_ms;
	/* gboolean, not bool: GOption writes an int through the pointer */
	gboolean audio;
	gboolean no_margins;
	gboolean quiet;
	gboolean psnr; /* --psnr: quality of client 0 against the test pattern */
	char *trace_path; /* --trace-stages: zerospice's stage trace */
	gboolean av_sync;   /* --av-sync: picture vs sound offset (avsync.c) */
	double av_delay_ms; /* the audio sink latency reported to spice-gtk */
	int av_box_x, av_box_y;
};

struct zb_decoded {
	uint32_t id;
	uint64_t capture_us;
	int64_t decoded_us;
	int64_t arrival_us;  /* spice-gtk got the encoded frame (0: unknown) */
	int32_t margin_ms;   /* its mm_time minus spice-gtk's clock then */
	bool valid;
};

#define ZB_ARRIVALS 1024

struct zb_arrival {
	int64_t us;
	int32_t margin_ms;
};

struct zb_bench;

struct zb_client {
	struct zb_bench *bench;
	int index;
	void *session;        /* SpiceSession */
	void *display;        /* SpiceChannel: the display with a primary */
	void *inputs;         /* SpiceInputsChannel */
	GPtrArray *display_channels;

	/* primary surface (main thread) */
	const uint8_t *px;
	int width, height, stride;
	bool have_primary;

	struct zb_stamp_reader frame_rd, input_rd;
	int64_t last_full_search_us;

	/* frames decoded by spice-gtk's GStreamer pipeline, written from the
	 * streaming thread by the appsink pad probe */
	GMutex lock;
	struct zb_stamp_reader decoded_rd;
	int64_t decoded_full_search_us;
	struct zb_decoded ring[ZB_DECODED_RING];
	uint64_t decoded_total, decoded_measured;
	/* stream frames received, in order, not yet matched to a decoded
	 * picture (one client only: spice-gtk's log does not say which) */
	struct zb_arrival arrivals[ZB_ARRIVALS];
	uint64_t arr_head, arr_tail;
	bool stream_probe;

	/* shown frames */
	bool have_last;
	uint32_t last_id;
	uint64_t shown_total, shown_measured, skipped_measured;
	/* gaps between new pictures longer than ZB_STALL_MS while measuring */
	int64_t last_shown_us;
	uint64_t stalls;
	double max_gap_ms;
	uint64_t foreign_clock;
	int64_t first_frame_us;
	struct zb_samples lat_shown_ms, lat_decoded_ms, sched_ms;
	struct zb_samples lat_arrival_ms, lat_unsched_ms, hold_ms;
	struct zb_windows fps_w, bytes_w;
	struct zb_windows lat_w; /* one-way ms of the frames shown, per second */
	uint64_t bytes_last, bytes_measured;
	int64_t bytes_last_us;

	/* input stamp as last seen */
	struct zs_stamp_input input;
	bool have_input;

	int64_t start_us;
	bool connected, failed, closed;
	char fail_reason[160];
};

struct zb_probe_state {
	bool waiting;
	enum zb_probe_kind kind;
	int64_t sent_us;
	struct zs_stamp_input baseline;
	uint64_t sent, answered, lost, unanswerable;
	struct zb_samples ms;
	struct zb_samples key_ms, click_ms;
	unsigned timer;
	bool positioned;
};

/* A frame client 0 showed, for the latency budget (CLOCK_MONOTONIC us;
 * 0: unknown). */
struct zb_shown_rec {
	uint32_t id;
	uint64_t capture_us;
	int64_t arrival_us, decoded_us, shown_us;
};

/* still.c: --psnr; one measured picture */
struct zb_psnr_sample {
	double t_s;      /* since the bench started */
	double still_ms; /* since the still period began */
	double db;       /* luma, whole picture */
	double text_db, rgb_db;
};

struct zb_still {
	unsigned timer;
	bool dirty;
	int64_t since_us;       /* the last new frame was shown */
	uint64_t periods;       /* new frames shown (each starts a period) */
	uint64_t margins_at, bytes_at;
	/* frames received since the still picture arrived; bytes since it
	 * was shown (refined frames that came while it was being decoded and
	 * shown are not in bytes_after) */
	uint64_t frames_after, bytes_after;
	double still_s;
	guint first_sample;     /* of the last period */
	GArray *samples;        /* struct zb_psnr_sample */
	uint64_t failed;        /* pictures without a readable stamp */
};

/* avsync.c: --av-sync, client 0 (main thread; CLOCK_MONOTONIC us) */
struct zb_avsync {
	void *playback;          /* SpicePlaybackChannel */
	unsigned delay_timer;
	int rate, channels;
	bool format_ok, have_data;
	uint64_t quiet_frames, audio_frames, started, stopped;
	GArray *audio_on_us;     /* sound onsets: arrival of the first loud sample */
	bool have_box, box_white;
	GArray *video_on_us;     /* the box turned white in the surface */
	uint64_t video_measured, unpaired;
	struct zb_samples heard_ms, arrival_ms;
	GArray *heard_seq;       /* double: heard_ms in measured order */
	bool have_clock;
	int32_t clock_offset;
	uint64_t clock_sets, clock_jumps;
	struct zb_samples clock_jump_ms;
};

struct zb_bench {
	struct zb_options opt;
	GMainLoop *loop;
	int exit_code;
	char password[256];
	char host[256];
	int port;

	struct zb_client *clients;
	int n_started;

	int64_t t0_us;            /* process start */
	int64_t measure_start_us; /* 0 until warm-up ends */
	int64_t measure_end_us;
	bool finished;

	pid_t server_pid;
	char server_name[64];
	struct zb_proc_sample srv_start, srv_end;
	char also_name[64];
	struct zb_proc_sample also_start, also_end;
	bool also_start_ok, also_end_ok;
	bool srv_start_ok, srv_end_ok;
	uint64_t *rss_after_client_kib;
	struct zb_windows srv_cpu_w; /* per-second server CPU (sum = seconds) */
	struct zb_proc_sample srv_last;
	bool srv_last_ok;
	double self_cpu_start_s, self_cpu_end_s;
	_Atomic uint64_t stamp_cpu_ns;
	uint64_t stamp_cpu_start_ns, stamp_cpu_end_ns;

	struct zb_samples margins_ms;
	uint64_t margins_total;
	uint64_t frames_received; /* stream frames spice-gtk logged, late or not */

	struct zb_probe_state probe;
	struct zb_still still;
	struct zb_avsync av;
	GArray *shown_log;          /* struct zb_shown_rec, with --trace-stages */
	struct zb_samples *budget;  /* per stage (budget.c) */
	uint64_t budget_joined;
	/* from zerospice's trace: every frame sent, and the refined ones */
	uint64_t trace_frames, trace_bytes, refine_frames, refine_bytes;
	/* trace version 2: bytes waiting toward the display clients when each
	 * frame was queued (client socket's send queue; relay), KiB, in the
	 * measured window, and over time (budget.c) */
	struct zb_samples sock_queue_kib, relay_queue_kib;
	GArray *queue_series; /* struct zb_queue_point */
	/* trace version 3 (QEMU sources): key probes joined with zerospice's
	 * key lines and the answering frame's line (budget.c) */
	GArray *key_probes;           /* struct zb_key_probe */
	struct zb_samples *key_budget; /* per key stage */
	struct zb_samples key_stamp_ms; /* zerospice reading input stamps */
	uint64_t key_lines, key_joined, key_frame_joined;
	char loadavg_start[64];
	bool is_tty;
	int64_t last_progress_us;
};

double zb_self_cpu_s(void);
/* /proc/loadavg's first three fields, "" when unreadable. */
void zb_loadavg(char *buf, size_t len);
/* bench.c: runs the benchmark; returns the exit status. */
int zb_run(struct zb_bench *b);
uint64_t zb_client_display_bytes(struct zb_client *c);
/* still.c */
void zb_still_init(struct zb_bench *b);
void zb_still_finish(struct zb_bench *b);
void zb_still_new_frame(struct zb_bench *b, struct zb_client *c, int64_t now);
void zb_still_invalidate(struct zb_bench *b, struct zb_client *c);
void zb_still_end(struct zb_bench *b);
void zb_still_json(struct zb_bench *b, FILE *f);
void zb_still_summary(struct zb_bench *b, FILE *out);
/* avsync.c */
void zb_avsync_init(struct zb_bench *b);
void zb_avsync_channel(struct zb_bench *b, struct zb_client *c, void *channel);
void zb_avsync_picture(struct zb_bench *b, struct zb_client *c, int x, int y,
	int w, int h, int64_t now);
void zb_avsync_debug(struct zb_bench *b, const char *message, int64_t now);
void zb_avsync_end(struct zb_bench *b);
void zb_avsync_json(struct zb_bench *b, FILE *f);
void zb_avsync_summary(struct zb_bench *b, FILE *out);
/* budget.c */
/* A key probe client 0 saw answered, for the key→picture budget
 * (CLOCK_MONOTONIC us; 0: unknown): the picture that showed the answer,
 * when spice-gtk received and decoded it. */
struct zb_key_probe {
	uint32_t scancode;
	int64_t sent_us, shown_us, arrival_us, decoded_us;
};

void zb_budget_init(struct zb_bench *b);
void zb_budget_key_probe(struct zb_bench *b, const struct zb_key_probe *p);
void zb_budget_shown(struct zb_bench *b, const struct zb_shown_rec *rec);
bool zb_budget_join(struct zb_bench *b, char *err, size_t len);
void zb_budget_json(struct zb_bench *b, FILE *f);
void zb_budget_summary(struct zb_bench *b, FILE *out);
/* report.c */
double zb_client_fps(const struct zb_bench *b, const struct zb_client *c);
bool zb_write_json(struct zb_bench *b, const char *path, char *err, size_t len);
void zb_print_summary(struct zb_bench *b, FILE *out);
/* plot.c */
bool zb_write_plot(struct zb_bench *b, const char *path, char *err, size_t len);
