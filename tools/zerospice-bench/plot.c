/* zerospice-bench plot: one SVG page with four panels — latency CDFs,
 * the one-way latency histogram, delivered fps and bandwidth over time.
 * PNG goes through rsvg-convert or ImageMagick when asked for. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "bench.h"

#define PAGE_W 1100
#define PAGE_H 760
#define PAGE_H_PSNR 1100 /* a fifth panel: PSNR over time */
#define PANEL_W 480
#define PANEL_H 260

static const char *const colours[] = {
	"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
	"#e377c2", "#7f7f7f",
};

struct panel {
	FILE *f;
	double x, y, w, h;  /* plot area on the page */
	double x0, x1, y0, y1;
};

static double nice_step(double range, int ticks)
{
	double raw = range / ticks, mag = pow(10, floor(log10(raw)));
	double n = raw / mag;
	return (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * mag;
}

static double px(const struct panel *p, double v)
{
	return p->x + (v - p->x0) / (p->x1 - p->x0) * p->w;
}

static double py(const struct panel *p, double v)
{
	return p->y + p->h - (v - p->y0) / (p->y1 - p->y0) * p->h;
}

static void panel_begin(struct panel *p, FILE *f, double x, double y,
	const char *title, const char *xlabel, const char *ylabel, double x0,
	double x1, double y0, double y1)
{
	*p = (struct panel){ f, x + 60, y + 30, PANEL_W - 70, PANEL_H - 70, x0,
		x1 > x0 ? x1 : x0 + 1, y0, y1 > y0 ? y1 : y0 + 1 };
	fprintf(f, "<text x='%.0f' y='%.0f' font-weight='bold'>%s</text>\n",
		p->x, y + 18, title);
	fprintf(f, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' "
		   "fill='none' stroke='#888'/>\n", p->x, p->y, p->w, p->h);
	double xs = nice_step(p->x1 - p->x0, 6), ys = nice_step(p->y1 - p->y0, 5);
	for (double v = ceil(p->x0 / xs) * xs; v <= p->x1 + 1e-9; v += xs)
		fprintf(f, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#eee'/>"
			   "<text x='%.1f' y='%.1f' text-anchor='middle' font-size='11'>%g</text>\n",
			px(p, v), p->y, px(p, v), p->y + p->h, px(p, v),
			p->y + p->h + 14, v);
	for (double v = ceil(p->y0 / ys) * ys; v <= p->y1 + 1e-9; v += ys)
		fprintf(f, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#eee'/>"
			   "<text x='%.1f' y='%.1f' text-anchor='end' font-size='11'>%g</text>\n",
			p->x, py(p, v), p->x + p->w, py(p, v), p->x - 4,
			py(p, v) + 4, v);
	fprintf(f, "<text x='%.1f' y='%.1f' text-anchor='middle' font-size='12'>%s</text>\n",
		p->x + p->w / 2, p->y + p->h + 32, xlabel);
	fprintf(f, "<text transform='translate(%.1f,%.1f) rotate(-90)' "
		   "text-anchor='middle' font-size='12'>%s</text>\n",
		p->x - 42, p->y + p->h / 2, ylabel);
}

static double clampd(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static void legend(const struct panel *p, int row, const char *colour,
	const char *text)
{
	fprintf(p->f, "<rect x='%.1f' y='%.1f' width='14' height='3' fill='%s'/>"
		      "<text x='%.1f' y='%.1f' font-size='11'>%s</text>\n",
		p->x + p->w - 190, p->y + 10 + row * 15, colour,
		p->x + p->w - 172, p->y + 15 + row * 15, text);
}

static void cdf(const struct panel *p, struct zb_samples *s, const char *colour)
{
	if (s->n == 0)
		return;
	zb_samples_percentile(s, 50); /* sorts */
	fprintf(p->f, "<polyline fill='none' stroke='%s' stroke-width='1.8' points='",
		colour);
	size_t step = s->n > 2000 ? s->n / 2000 : 1;
	for (size_t i = 0; i < s->n; i += step)
		fprintf(p->f, "%.1f,%.1f ", px(p, clampd(s->v[i], p->x0, p->x1)),
			py(p, (double)(i + 1) / (double)s->n));
	fprintf(p->f, "%.1f,%.1f'/>\n", px(p, clampd(s->v[s->n - 1], p->x0, p->x1)),
		py(p, 1));
}

static void series(const struct panel *p, const struct zb_windows *w, size_t n,
	double scale, bool sums, const char *colour)
{
	fprintf(p->f, "<polyline fill='none' stroke='%s' stroke-width='1.5' points='",
		colour);
	for (size_t i = 0; i < n; i++) {
		double v = sums ? (i < w->n ? w->sums[i] / w->width_s : 0) :
				  zb_windows_rate(w, i);
		fprintf(p->f, "%.1f,%.1f ", px(p, (double)i + 0.5),
			py(p, clampd(v * scale, p->y0, p->y1)));
	}
	fputs("'/>\n", p->f);
}

/* --psnr: client 0's picture quality against time since it stood still
 * (the last still period), luma and whole-picture RGB. */
static void psnr_panel(struct zb_bench *b, FILE *f)
{
	const struct zb_still *s = &b->still;
	if (!s->samples)
		return;
	double tmax = 1000;
	for (guint i = s->first_sample; i < s->samples->len; i++)
		tmax = fmax(tmax, g_array_index(s->samples, struct zb_psnr_sample,
			i).still_ms * 1.05);
	struct panel p;
	panel_begin(&p, f, 20, 740, "Still picture: PSNR after the last change",
		"ms still", "dB", 0, tmax, 20, 50);
	for (int k = 0; k < 2; k++) {
		fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='1.5' "
			   "points='", colours[k]);
		for (guint i = s->first_sample; i < s->samples->len; i++) {
			const struct zb_psnr_sample *q = &g_array_index(s->samples,
				struct zb_psnr_sample, i);
			double v = k == 0 ? q->db : q->rgb_db;
			fprintf(f, "%.1f,%.1f ", px(&p, q->still_ms),
				py(&p, clampd(v, p.y0, p.y1)));
		}
		fputs("'/>\n", f);
	}
	legend(&p, 0, colours[0], "luma (levels matched)");
	legend(&p, 1, colours[1], "RGB (4:2:0 caps it)");
}

static bool write_svg(struct zb_bench *b, FILE *f)
{
	struct zb_client *c0 = &b->clients[0];
	double secs = (double)(b->measure_end_us - b->measure_start_us) / 1e6;
	size_t n = secs > 0 ? (size_t)floor(secs + 1e-6) : 0;
	bool hc = c0->lat_shown_ms.n > 0 && c0->foreign_clock <= c0->lat_shown_ms.n / 10;

	fprintf(f, "<?xml version='1.0' encoding='UTF-8'?>\n"
		   "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
		   "font-family='sans-serif' font-size='13'>\n"
		   "<rect width='100%%' height='100%%' fill='white'/>\n",
		PAGE_W, b->opt.psnr ? PAGE_H_PSNR : PAGE_H);
	fprintf(f, "<text x='20' y='24' font-size='16' font-weight='bold'>"
		   "zerospice-bench %s</text>\n",
		b->opt.label ? b->opt.label : b->opt.uri);
	fprintf(f, "<text x='20' y='44' font-size='12'>%.1f fps, %.0f kbit/s, "
		   "one-way p50 %.1f ms, input p50 %.1f ms (n=%zu), %d client(s), %.0f s</text>\n",
		zb_client_fps(b, c0), (double)c0->bytes_measured * 8 / 1000 / secs,
		hc ? zb_samples_percentile(&c0->lat_shown_ms, 50) : NAN,
		zb_samples_percentile(&b->probe.ms, 50), b->probe.ms.n,
		b->opt.clients, secs);

	/* latency CDFs */
	double xmax = 50;
	struct zb_samples *all[] = { hc ? &c0->lat_shown_ms : NULL,
		hc ? &c0->lat_unsched_ms : NULL, &b->probe.ms, &c0->hold_ms };
	for (size_t i = 0; i < 4; i++)
		if (all[i] && all[i]->n)
			xmax = fmax(xmax, zb_samples_percentile(all[i], 99) * 1.1);
	struct panel p;
	panel_begin(&p, f, 20, 60, "Latency CDF", "ms", "fraction", 0, xmax, 0, 1);
	const char *names[] = { "one-way, shown", "one-way minus hold",
		"input-to-display", "spice-gtk hold" };
	for (int i = 0, row = 0; i < 4; i++) {
		if (!all[i] || !all[i]->n)
			continue;
		cdf(&p, all[i], colours[i]);
		legend(&p, row++, colours[i], names[i]);
	}

	/* histogram of one-way (shown), or of input latency without a clock */
	struct zb_samples *h = hc ? &c0->lat_shown_ms : &b->probe.ms;
	double hmax = h->n ? zb_samples_percentile(h, 99) * 1.2 : 50;
	if (!(hmax > 0))
		hmax = 50;
	int bins = 40;
	double bw = hmax / bins;
	uint32_t counts[40] = { 0 };
	uint32_t cmax = 1;
	for (size_t i = 0; i < h->n; i++) {
		int k = (int)(h->v[i] / bw);
		k = k < 0 ? 0 : k >= bins ? bins - 1 : k;
		if (++counts[k] > cmax)
			cmax = counts[k];
	}
	panel_begin(&p, f, 560, 60,
		hc ? "One-way latency histogram (shown)" : "Input-to-display histogram",
		"ms", "frames", 0, hmax, 0, cmax * 1.1);
	for (int k = 0; k < bins; k++)
		fprintf(f, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='%s'/>\n",
			px(&p, k * bw) + 0.5, py(&p, counts[k]),
			fmax(px(&p, (k + 1) * bw) - px(&p, k * bw) - 1, 1),
			py(&p, 0) - py(&p, counts[k]), colours[hc ? 0 : 2]);

	/* fps over time */
	double fmaxv = 10;
	for (int i = 0; i < b->opt.clients; i++)
		for (size_t k = 0; k < n; k++)
			fmaxv = fmax(fmaxv, zb_windows_rate(&b->clients[i].fps_w, k) * 1.15);
	panel_begin(&p, f, 20, 400, "Delivered fps", "s", "frames/s", 0,
		(double)(n ? n : 1), 0, fmaxv);
	for (int i = 0; i < b->opt.clients; i++) {
		series(&p, &b->clients[i].fps_w, n, 1, false, colours[i % 8]);
		if (i < 8) {
			char t[32];
			snprintf(t, sizeof(t), "client %d", i);
			legend(&p, i, colours[i % 8], t);
		}
	}

	/* bandwidth and server CPU over time */
	double kmax = 100;
	for (size_t k = 0; k < n && k < c0->bytes_w.n; k++)
		kmax = fmax(kmax, c0->bytes_w.sums[k] * 8 / 1000 * 1.15);
	panel_begin(&p, f, 560, 400, "Bandwidth (client 0)", "s", "kbit/s", 0,
		(double)(n ? n : 1), 0, kmax);
	series(&p, &c0->bytes_w, n, 8.0 / 1000, true, colours[0]);
	legend(&p, 0, colours[0], "display channel");
	if (b->server_pid) {
		/* server CPU scaled onto the same axis: 1 core = kmax */
		series(&p, &b->srv_cpu_w, n, kmax, true, colours[1]);
		char t[64];
		snprintf(t, sizeof(t), "server CPU (top = 1 core)");
		legend(&p, 1, colours[1], t);
	}
	if (b->opt.psnr)
		psnr_panel(b, f);
	fputs("</svg>\n", f);
	return !ferror(f);
}

bool zb_write_plot(struct zb_bench *b, const char *path, char *err, size_t len)
{
	bool png = g_str_has_suffix(path, ".png");
	char *svg_path = png ? g_strdup_printf("%s.svg", path) : g_strdup(path);
	FILE *f = fopen(svg_path, "we");
	if (!f) {
		snprintf(err, len, "%s: %s", svg_path, strerror(errno));
		g_free(svg_path);
		return false;
	}
	bool ok = write_svg(b, f);
	ok = fclose(f) == 0 && ok;
	if (!ok) {
		snprintf(err, len, "%s: write failed", svg_path);
		g_free(svg_path);
		return false;
	}
	if (png) {
		char *rsvg = g_find_program_in_path("rsvg-convert");
		char *conv = g_find_program_in_path("convert");
		const char *argv_rsvg[] = { rsvg, "-o", path, svg_path, NULL };
		const char *argv_conv[] = { conv, svg_path, path, NULL };
		const char **argv = rsvg ? argv_rsvg : conv ? argv_conv : NULL;
		gint status = 1;
		GError *e = NULL;
		if (!argv) {
			snprintf(err, len, "%s: PNG needs rsvg-convert or ImageMagick "
				 "(the SVG is in %s)", path, svg_path);
			ok = false;
		} else if (!g_spawn_sync(NULL, (char **)argv, NULL,
				   G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
				   NULL, &status, &e) || !g_spawn_check_wait_status(status, NULL)) {
			snprintf(err, len, "%s: conversion to PNG failed%s%s", path,
				e ? ": " : "", e ? e->message : "");
			ok = false;
		} else {
			unlink(svg_path);
		}
		g_clear_error(&e);
		g_free(rsvg);
		g_free(conv);
	}
	g_free(svg_path);
	return ok;
}
