/* Tests for zerospice-bench's statistics: percentiles, fps windows and
 * dropped-frame counting. */
#include <criterion/criterion.h>
#include <math.h>

#include "stats.h"

static struct zb_samples samples_of(const double *v, size_t n)
{
	struct zb_samples s;
	zb_samples_init(&s);
	for (size_t i = 0; i < n; i++)
		cr_assert(zb_samples_add(&s, v[i]));
	return s;
}

Test(bench_stats, percentile_of_empty_set_is_nan)
{
	struct zb_samples s;
	zb_samples_init(&s);
	cr_assert(isnan(zb_samples_percentile(&s, 50)));
	cr_assert(isnan(zb_samples_max(&s)));
	cr_assert(isnan(zb_samples_mean(&s)));
	zb_samples_finish(&s);
}

Test(bench_stats, percentile_of_one_sample_is_that_sample)
{
	const double v[] = { 42.5 };
	struct zb_samples s = samples_of(v, 1);
	cr_assert_float_eq(zb_samples_percentile(&s, 0), 42.5, 1e-9);
	cr_assert_float_eq(zb_samples_percentile(&s, 50), 42.5, 1e-9);
	cr_assert_float_eq(zb_samples_percentile(&s, 99), 42.5, 1e-9);
	zb_samples_finish(&s);
}

/* Expected values as numpy.percentile (linear) gives them. */
static const struct {
	double p, want;
} one_to_ten[] = {
	{ 0, 1 }, { 10, 1.9 }, { 25, 3.25 }, { 50, 5.5 }, { 90, 9.1 },
	{ 95, 9.55 }, { 99, 9.91 }, { 100, 10 },
};

Test(bench_stats, percentile_interpolates_between_ranks_like_numpy)
{
	/* unsorted input: the percentile must sort */
	const double v[] = { 7, 3, 10, 1, 5, 9, 2, 8, 4, 6 };
	struct zb_samples s = samples_of(v, 10);
	for (size_t i = 0; i < sizeof(one_to_ten) / sizeof(one_to_ten[0]); i++)
		cr_expect_float_eq(zb_samples_percentile(&s, one_to_ten[i].p),
			one_to_ten[i].want, 1e-9, "p%.0f", one_to_ten[i].p);
	cr_assert_float_eq(zb_samples_max(&s), 10, 1e-9);
	cr_assert_float_eq(zb_samples_min(&s), 1, 1e-9);
	cr_assert_float_eq(zb_samples_mean(&s), 5.5, 1e-9);
	zb_samples_finish(&s);
}

Test(bench_stats, percentile_stays_right_after_more_samples_arrive)
{
	struct zb_samples s;
	zb_samples_init(&s);
	for (int i = 1000; i >= 1; i--)
		zb_samples_add(&s, i);
	cr_assert_float_eq(zb_samples_percentile(&s, 50), 500.5, 1e-9);
	/* adding after a sort must re-sort */
	zb_samples_add(&s, 0);
	cr_assert_float_eq(zb_samples_percentile(&s, 0), 0, 1e-9);
	cr_assert_float_eq(zb_samples_percentile(&s, 100), 1000, 1e-9);
	zb_samples_finish(&s);
}

Test(bench_stats, p99_of_a_long_tail_sees_the_tail)
{
	struct zb_samples s;
	zb_samples_init(&s);
	for (int i = 0; i < 990; i++)
		zb_samples_add(&s, 10);
	for (int i = 0; i < 10; i++)
		zb_samples_add(&s, 400);
	cr_assert_float_eq(zb_samples_percentile(&s, 50), 10, 1e-9);
	cr_assert_float_eq(zb_samples_percentile(&s, 95), 10, 1e-9);
	cr_assert_gt(zb_samples_percentile(&s, 99.5), 10);
	cr_assert_float_eq(zb_samples_max(&s), 400, 1e-9);
	zb_samples_finish(&s);
}

Test(bench_stats, windows_count_events_per_second)
{
	struct zb_windows w;
	zb_windows_init(&w, 10.0, 1.0);
	/* 60 frames in [10,11), 30 in [11,12), none in [12,13), 1 in [13,14) */
	for (int i = 0; i < 60; i++)
		zb_windows_add(&w, 10.0 + i / 60.0, 1);
	for (int i = 0; i < 30; i++)
		zb_windows_add(&w, 11.0 + i / 30.0, 1);
	zb_windows_add(&w, 13.5, 1);
	zb_windows_add(&w, 9.99, 1); /* before the start: ignored */
	cr_assert_eq(w.n, 4);
	cr_assert_float_eq(zb_windows_rate(&w, 0), 60, 1e-9);
	cr_assert_float_eq(zb_windows_rate(&w, 1), 30, 1e-9);
	cr_assert_float_eq(zb_windows_rate(&w, 2), 0, 1e-9);
	cr_assert_float_eq(zb_windows_rate(&w, 3), 1, 1e-9);
	cr_assert_float_eq(zb_windows_rate(&w, 99), 0, 1e-9);
	zb_windows_finish(&w);
}

Test(bench_stats, windows_of_half_a_second_report_per_second_rates)
{
	struct zb_windows w;
	zb_windows_init(&w, 0, 0.5);
	for (int i = 0; i < 30; i++)
		zb_windows_add(&w, i / 60.0, 1000);
	cr_assert_float_eq(zb_windows_rate(&w, 0), 60, 1e-9);
	cr_assert_float_eq(w.sums[0], 30000, 1e-9);
	zb_windows_finish(&w);
}

Test(bench_stats, windows_grow_far_and_count_complete_windows)
{
	struct zb_windows w;
	zb_windows_init(&w, 0, 1.0);
	cr_assert(zb_windows_add(&w, 5000.2, 7));
	cr_assert_eq(w.n, 5001);
	cr_assert_float_eq(zb_windows_rate(&w, 5000), 1, 1e-9);
	cr_assert_float_eq(zb_windows_rate(&w, 4999), 0, 1e-9);
	cr_assert_eq(zb_windows_count(&w, 10.0), 10);
	cr_assert_eq(zb_windows_count(&w, 9.99), 9);
	cr_assert_eq(zb_windows_count(&w, -1), 0);
	cr_assert(zb_windows_add(&w, NAN, 1)); /* ignored */
	zb_windows_finish(&w);
}

static const struct {
	uint32_t prev, next, skipped;
} skips[] = {
	{ 1, 2, 0 }, { 1, 5, 3 }, { 7, 7, 0 }, { 9, 3, 0 },
	{ UINT32_MAX, 1, 1 }, /* wrap-around of the id */
	{ 10, 10 + 5000000, 0 }, /* a restarted source, not loss */
};

Test(bench_stats, frames_skipped_counts_gaps_in_ids)
{
	for (size_t i = 0; i < sizeof(skips) / sizeof(skips[0]); i++)
		cr_expect_eq(zb_frames_skipped(skips[i].prev, skips[i].next),
			skips[i].skipped, "%u -> %u", skips[i].prev, skips[i].next);
}
