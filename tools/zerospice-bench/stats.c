/* zerospice-bench statistics. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void zb_samples_init(struct zb_samples *s)
{
	memset(s, 0, sizeof(*s));
}

void zb_samples_finish(struct zb_samples *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

bool zb_samples_add(struct zb_samples *s, double v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		double *nv = realloc(s->v, cap * sizeof(*nv));
		if (!nv)
			return false;
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = v;
	s->sorted = false;
	return true;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y ? 1 : 0;
}

double zb_samples_percentile(struct zb_samples *s, double p)
{
	if (s->n == 0)
		return NAN;
	if (!s->sorted) {
		qsort(s->v, s->n, sizeof(*s->v), cmp_double);
		s->sorted = true;
	}
	if (p <= 0)
		return s->v[0];
	if (p >= 100)
		return s->v[s->n - 1];
	double rank = p / 100.0 * (double)(s->n - 1);
	size_t lo = (size_t)floor(rank);
	double frac = rank - (double)lo;
	if (lo + 1 >= s->n)
		return s->v[s->n - 1];
	return s->v[lo] + frac * (s->v[lo + 1] - s->v[lo]);
}

double zb_samples_max(const struct zb_samples *s)
{
	if (s->n == 0)
		return NAN;
	double m = s->v[0];
	for (size_t i = 1; i < s->n; i++)
		if (s->v[i] > m)
			m = s->v[i];
	return m;
}

double zb_samples_min(const struct zb_samples *s)
{
	if (s->n == 0)
		return NAN;
	double m = s->v[0];
	for (size_t i = 1; i < s->n; i++)
		if (s->v[i] < m)
			m = s->v[i];
	return m;
}

double zb_samples_mean(const struct zb_samples *s)
{
	if (s->n == 0)
		return NAN;
	double sum = 0;
	for (size_t i = 0; i < s->n; i++)
		sum += s->v[i];
	return sum / (double)s->n;
}

void zb_windows_init(struct zb_windows *w, double start_s, double width_s)
{
	memset(w, 0, sizeof(*w));
	w->start_s = start_s;
	w->width_s = width_s > 0 ? width_s : 1.0;
}

void zb_windows_finish(struct zb_windows *w)
{
	free(w->counts);
	free(w->sums);
	memset(w, 0, sizeof(*w));
}

bool zb_windows_add(struct zb_windows *w, double t_s, double value)
{
	if (t_s < w->start_s || !isfinite(t_s))
		return true;
	double idx = floor((t_s - w->start_s) / w->width_s);
	if (idx > 1e7)
		return false;
	size_t i = (size_t)idx;
	if (i >= w->cap) {
		size_t cap = w->cap ? w->cap : 64;
		while (cap <= i)
			cap *= 2;
		uint32_t *nc = realloc(w->counts, cap * sizeof(*nc));
		if (!nc)
			return false;
		w->counts = nc;
		double *ns = realloc(w->sums, cap * sizeof(*ns));
		if (!ns)
			return false;
		w->sums = ns;
		memset(w->counts + w->cap, 0, (cap - w->cap) * sizeof(*nc));
		memset(w->sums + w->cap, 0, (cap - w->cap) * sizeof(*ns));
		w->cap = cap;
	}
	w->counts[i]++;
	w->sums[i] += value;
	if (i + 1 > w->n)
		w->n = i + 1;
	return true;
}

double zb_windows_rate(const struct zb_windows *w, size_t i)
{
	if (i >= w->n)
		return 0;
	return (double)w->counts[i] / w->width_s;
}

size_t zb_windows_count(const struct zb_windows *w, double end_s)
{
	if (end_s <= w->start_s)
		return 0;
	return (size_t)floor((end_s - w->start_s) / w->width_s + 1e-9);
}

uint32_t zb_frames_skipped(uint32_t prev, uint32_t next)
{
	uint32_t d = next - prev;
	/* a jump backwards or a huge one is a restarted source, not loss */
	if (d == 0 || d > 1000000)
		return 0;
	return d - 1;
}
