/* zerospice-bench results: the JSON file and the summary printed at the end. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "zs-config.h"

static double measured_s(const struct zb_bench *b)
{
	double s = (double)(b->measure_end_us - b->measure_start_us) / 1e6;
	return s > 0 ? s : NAN;
}

static void num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.3f", v);
	else
		fputs("null", f);
}

static void str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* {"n":…,"p50":…,"p95":…,"p99":…,"max":…[,"samples":[…]]} */
static void dist(FILE *f, struct zb_samples *s, bool samples)
{
	fprintf(f, "{\"n\": %zu, \"p50\": ", s->n);
	num(f, zb_samples_percentile(s, 50));
	fputs(", \"p95\": ", f);
	num(f, zb_samples_percentile(s, 95));
	fputs(", \"p99\": ", f);
	num(f, zb_samples_percentile(s, 99));
	fputs(", \"max\": ", f);
	num(f, zb_samples_max(s));
	fputs(", \"mean\": ", f);
	num(f, zb_samples_mean(s));
	if (samples) {
		fputs(", \"samples\": [", f);
		for (size_t i = 0; i < s->n; i++)
			fprintf(f, "%s%.2f", i ? "," : "", s->v[i]);
		fputc(']', f);
	}
	fputc('}', f);
}

static size_t series_len(const struct zb_bench *b)
{
	double len = measured_s(b);
	return isfinite(len) ? (size_t)floor(len + 1e-6) : 0;
}

static void series(FILE *f, const struct zb_windows *w, size_t n, double scale,
	bool use_sums)
{
	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		double v = use_sums ? (i < w->n ? w->sums[i] / w->width_s : 0) :
				      zb_windows_rate(w, i);
		fprintf(f, "%s%.2f", i ? "," : "", v * scale);
	}
	fputc(']', f);
}

/* Per window, the mean of the values added (null: no event in it). */
static void mean_series(FILE *f, const struct zb_windows *w, size_t n)
{
	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? "," : "", f);
		if (i < w->n && w->counts[i])
			fprintf(f, "%.1f", w->sums[i] / w->counts[i]);
		else
			fputs("null", f);
	}
	fputc(']', f);
}

double zb_client_fps(const struct zb_bench *b, const struct zb_client *c)
{
	return (double)c->shown_measured / measured_s(b);
}

static bool host_clock(const struct zb_client *c)
{
	return c->lat_shown_ms.n > 0 && c->foreign_clock <= c->lat_shown_ms.n / 10;
}

bool zb_write_json(struct zb_bench *b, const char *path, char *err, size_t len)
{
	FILE *f = fopen(path, "we");
	if (!f) {
		snprintf(err, len, "%s: %s", path, strerror(errno));
		return false;
	}
	double secs = measured_s(b);
	char hostname[256] = "";
	gethostname(hostname, sizeof(hostname) - 1);
	time_t now = time(NULL);
	char date[64];
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));

	fputs("{\n  \"tool\": \"zerospice-bench\", \"version\": ", f);
	str(f, ZS_VERSION);
	fputs(",\n  \"label\": ", f);
	str(f, b->opt.label ? b->opt.label : "");
	fputs(", \"uri\": ", f);
	str(f, b->opt.uri);
	fputs(", \"host\": ", f);
	str(f, hostname);
	fputs(", \"date\": ", f);
	str(f, date);
	fprintf(f, ",\n  \"clients_requested\": %d, \"duration_s\": ", b->opt.clients);
	num(f, secs);
	fputs(", \"warmup_s\": ", f);
	num(f, b->opt.warmup_s);
	fprintf(f, ", \"audio\": %s", b->opt.audio ? "true" : "false");
	char load_end[64];
	zb_loadavg(load_end, sizeof(load_end));
	fprintf(f, ", \"nproc\": %ld, \"loadavg_start\": ", sysconf(_SC_NPROCESSORS_ONLN));
	str(f, b->loadavg_start);
	fputs(", \"loadavg_end\": ", f);
	str(f, load_end);
	fputs(",\n", f);

	/* server */
	fputs("  \"server\": {\"pid\": ", f);
	fprintf(f, "%d, \"name\": ", (int)b->server_pid);
	str(f, b->server_name);
	fputs(", \"cpu_cores\": ", f);
	num(f, b->srv_start_ok && b->srv_end_ok ?
		       (b->srv_end.cpu_s - b->srv_start.cpu_s) / secs : NAN);
	fputs(", \"rss_kib_start\": ", f);
	num(f, b->srv_start_ok ? (double)b->srv_start.rss_kib : NAN);
	fputs(", \"rss_kib_end\": ", f);
	num(f, b->srv_end_ok ? (double)b->srv_end.rss_kib : NAN);
	fputs(", \"rss_kib_after_client\": [", f);
	for (int i = 0; i < b->opt.clients; i++) {
		fputs(i ? "," : "", f);
		num(f, b->rss_after_client_kib[i] ? (double)b->rss_after_client_kib[i] : NAN);
	}
	fputs("], \"cpu_series\": ", f);
	series(f, &b->srv_cpu_w, series_len(b), 1.0, true);
	fputs("},\n", f);

	if (b->opt.also_pid) {
		fprintf(f, "  \"also\": {\"pid\": %d, \"name\": ", b->opt.also_pid);
		str(f, b->also_name);
		fputs(", \"cpu_cores\": ", f);
		num(f, b->also_start_ok && b->also_end_ok ?
			       (b->also_end.cpu_s - b->also_start.cpu_s) / secs : NAN);
		fputs(", \"rss_kib_end\": ", f);
		num(f, b->also_end_ok ? (double)b->also_end.rss_kib : NAN);
		fputs("},\n", f);
	}

	/* harness */
	double self = (b->self_cpu_end_s - b->self_cpu_start_s) / secs;
	double stamp = (double)(b->stamp_cpu_end_ns - b->stamp_cpu_start_ns) / 1e9 / secs;
	fputs("  \"harness\": {\"cpu_cores\": ", f);
	num(f, self);
	fputs(", \"stamp_read_cpu_cores\": ", f);
	num(f, stamp);
	fputs(", \"decode_cpu_cores\": ", f);
	num(f, self - stamp);
	fputs("},\n", f);

	/* spice-gtk's own schedule */
	fputs("  \"video_margin_ms\": ", f);
	dist(f, &b->margins_ms, false);
	fputs(",\n", f);

	/* input */
	struct zb_probe_state *p = &b->probe;
	fprintf(f, "  \"input_to_display_ms\": {\"kind\": \"%s\", \"sent\": %" PRIu64
		   ", \"answered\": %" PRIu64 ", \"lost\": %" PRIu64 ", \"all\": ",
		b->opt.probe == ZB_PROBE_KEY ? "key" :
		b->opt.probe == ZB_PROBE_CLICK ? "click" :
		b->opt.probe == ZB_PROBE_NONE ? "none" : "both",
		p->sent, p->answered, p->lost);
	dist(f, &p->ms, true);
	fputs(", \"key\": ", f);
	dist(f, &p->key_ms, false);
	fputs(", \"click\": ", f);
	dist(f, &p->click_ms, false);
	fputs("},\n", f);

	zb_still_json(b, f);
	zb_avsync_json(b, f);
	zb_budget_json(b, f);

	/* clients */
	fputs("  \"clients\": [\n", f);
	for (int i = 0; i < b->opt.clients; i++) {
		struct zb_client *c = &b->clients[i];
		fprintf(f, "    {\"index\": %d, \"connected\": %s, \"disconnected\": %s, "
			   "\"surface\": \"%dx%d\", \"stream_decode_probe\": %s,\n",
			i, c->connected ? "true" : "false",
			c->closed ? "true" : "false", c->width, c->height,
			c->stream_probe ? "true" : "false");
		fputs("     \"fps\": ", f);
		num(f, zb_client_fps(b, c));
		fprintf(f, ", \"frames_shown\": %" PRIu64 ", \"frames_dropped\": %" PRIu64
			   ", \"frames_decoded\": %" PRIu64 ", \"bytes\": %" PRIu64
			   ", \"bandwidth_kbps\": ",
			c->shown_measured, c->skipped_measured, c->decoded_measured,
			c->bytes_measured);
		num(f, (double)c->bytes_measured * 8 / 1000 / secs);
		fprintf(f, ", \"stalls\": %" PRIu64 ", \"stall_ms\": %d"
			   ", \"max_gap_ms\": ", c->stalls, ZB_STALL_MS);
		num(f, c->max_gap_ms);
		fprintf(f, ",\n     \"stamp_clock\": \"%s\", \"one_way_ms\": ",
			host_clock(c) ? "host" : c->foreign_clock ? "foreign" : "none");
		struct zb_samples empty;
		zb_samples_init(&empty);
		bool hc = host_clock(c);
		dist(f, hc ? &c->lat_shown_ms : &empty, true);
		fputs(",\n     \"one_way_decoded_ms\": ", f);
		dist(f, hc ? &c->lat_decoded_ms : &empty, false);
		fputs(",\n     \"one_way_arrival_ms\": ", f);
		dist(f, hc ? &c->lat_arrival_ms : &empty, false);
		fputs(",\n     \"one_way_unscheduled_ms\": ", f);
		dist(f, hc ? &c->lat_unsched_ms : &empty, false);
		fputs(",\n     \"sched_hold_ms\": ", f);
		dist(f, &c->hold_ms, false);
		fputs(",\n     \"sched_delay_ms\": ", f);
		dist(f, &c->sched_ms, false);
		fputs(",\n     \"fps_series\": ", f);
		series(f, &c->fps_w, series_len(b), 1.0, false);
		fputs(", \"kbps_series\": ", f);
		series(f, &c->bytes_w, series_len(b), 8.0 / 1000, true);
		fputs(", \"one_way_series\": ", f);
		mean_series(f, hc ? &c->lat_w : &(struct zb_windows){ 0 },
			series_len(b));
		fprintf(f, "}%s\n", i + 1 < b->opt.clients ? "," : "");
	}
	fputs("  ]\n}\n", f);
	bool ok = !ferror(f);
	if (fclose(f) != 0 || !ok) {
		snprintf(err, len, "%s: write failed", path);
		return false;
	}
	return true;
}

static void line_dist(FILE *out, const char *what, struct zb_samples *s)
{
	if (s->n == 0) {
		fprintf(out, "  %-28s n/a\n", what);
		return;
	}
	fprintf(out, "  %-28s p50 %7.1f  p95 %7.1f  p99 %7.1f  max %7.1f ms  (n=%zu)\n",
		what, zb_samples_percentile(s, 50), zb_samples_percentile(s, 95),
		zb_samples_percentile(s, 99), zb_samples_max(s), s->n);
}

void zb_print_summary(struct zb_bench *b, FILE *out)
{
	double secs = measured_s(b);
	fprintf(out, "zerospice-bench: %s, %.1f s measured\n", b->opt.uri, secs);
	for (int i = 0; i < b->opt.clients; i++) {
		struct zb_client *c = &b->clients[i];
		fprintf(out, "client %d: %dx%d  %.1f fps  %" PRIu64 " shown  %" PRIu64
			     " dropped  %.0f kbit/s  %" PRIu64 " stalls > %d ms (longest "
			     "%.0f ms)%s\n",
			i, c->width, c->height, zb_client_fps(b, c), c->shown_measured,
			c->skipped_measured, (double)c->bytes_measured * 8 / 1000 / secs,
			c->stalls, ZB_STALL_MS, c->max_gap_ms,
			c->closed ? "  (disconnected)" : "");
		if (i > 0 && b->opt.clients > 4)
			continue;
		if (host_clock(c)) {
			line_dist(out, "one-way (shown)", &c->lat_shown_ms);
			line_dist(out, "one-way (decoded)", &c->lat_decoded_ms);
			line_dist(out, "one-way (arrived)", &c->lat_arrival_ms);
			line_dist(out, "one-way minus sched. hold", &c->lat_unsched_ms);
		} else {
			fprintf(out, "  %-28s n/a (the stamp clock is not this host's)\n",
				"one-way");
		}
		line_dist(out, "spice-gtk hold (mm_time)", &c->hold_ms);
		line_dist(out, "appsink -> shown", &c->sched_ms);
	}
	line_dist(out, "spice-gtk video margin", &b->margins_ms);
	line_dist(out, "input-to-display", &b->probe.ms);
	fprintf(out, "  probes: %" PRIu64 " sent, %" PRIu64 " answered, %" PRIu64 " lost\n",
		b->probe.sent, b->probe.answered, b->probe.lost);
	if (b->srv_start_ok && b->srv_end_ok)
		fprintf(out, "server %s (%d): %.2f cores, RSS %" PRIu64 " KiB\n",
			b->server_name, (int)b->server_pid,
			(b->srv_end.cpu_s - b->srv_start.cpu_s) / secs,
			b->srv_end.rss_kib);
	if (b->also_start_ok && b->also_end_ok)
		fprintf(out, "also %s (%d): %.2f cores, RSS %" PRIu64 " KiB\n",
			b->also_name, b->opt.also_pid,
			(b->also_end.cpu_s - b->also_start.cpu_s) / secs,
			b->also_end.rss_kib);
	zb_still_summary(b, out);
	zb_avsync_summary(b, out);
	zb_budget_summary(b, out);
	fprintf(out, "harness: %.2f cores (stamp reading %.2f)\n",
		(b->self_cpu_end_s - b->self_cpu_start_s) / secs,
		(double)(b->stamp_cpu_end_ns - b->stamp_cpu_start_ns) / 1e9 / secs);
}
