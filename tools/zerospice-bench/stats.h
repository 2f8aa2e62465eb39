/* zerospice-bench statistics: sample sets with percentiles, per-window
 * event counts (fps over time) and CDF points. Pure C, no GLib. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growing set of samples (milliseconds, kbit/s, …). */
struct zb_samples {
	double *v;
	size_t n, cap;
	bool sorted;
};

void zb_samples_init(struct zb_samples *s);
void zb_samples_finish(struct zb_samples *s);
bool zb_samples_add(struct zb_samples *s, double v);
/* The p-th percentile (0..100), linear interpolation between closest ranks
 * (the "R-7"/NumPy default definition); NAN when empty. Sorts in place. */
double zb_samples_percentile(struct zb_samples *s, double p);
double zb_samples_max(const struct zb_samples *s);
double zb_samples_min(const struct zb_samples *s);
double zb_samples_mean(const struct zb_samples *s);

/* Events counted in fixed windows from a start time: window i covers
 * [start + i * width, start + (i + 1) * width). */
struct zb_windows {
	double start_s, width_s;
	uint32_t *counts;
	double *sums; /* optional per-window sum of values (bytes, …) */
	size_t n, cap;
};

void zb_windows_init(struct zb_windows *w, double start_s, double width_s);
void zb_windows_finish(struct zb_windows *w);
/* Counts one event at t (seconds, same clock as start); events before the
 * start are ignored. `value` is added to the window's sum. */
bool zb_windows_add(struct zb_windows *w, double t_s, double value);
/* Events per second in window i (0 when i is past the last event). */
double zb_windows_rate(const struct zb_windows *w, size_t i);
/* Number of complete windows up to time end_s. */
size_t zb_windows_count(const struct zb_windows *w, double end_s);

/* Frames lost between two shown frame ids (ids increase by one per source
 * frame; 0 when `next` does not follow `prev`, i.e. a reset or reorder). */
uint32_t zb_frames_skipped(uint32_t prev, uint32_t next);
