/* The still-picture refinement state machine (server/refine.c) on a real
 * GLib main context: when it asks for the picture again, at which levels,
 * that it stops, and that small changes are not refined. */
#include <criterion/criterion.h>
#include <glib.h>

#include "internal.h"

struct rig {
	struct zs_refine *r;
	int requests;
};

static void on_request(void *data)
{
	struct rig *g = data;
	g->requests++;
}

/* Runs the default main context for ms milliseconds. */
static void spin(int ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
	while (g_get_monotonic_time() < end)
		g_main_context_iteration(NULL, FALSE), g_usleep(1000);
}

/* Runs until the refiner asked once more than `had` (at most 2 s). */
static bool wait_request(struct rig *g, int had)
{
	gint64 end = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
	while (g->requests == had && g_get_monotonic_time() < end)
		g_main_context_iteration(NULL, FALSE), g_usleep(1000);
	return g->requests > had;
}

Test(refine, a_new_picture_is_refined_to_the_top_level_then_nothing)
{
	struct rig g = { 0 };
	g.r = zs_refine_create(true, 60, on_request, &g);
	cr_assert_eq(zs_refine_frame_in(g.r, 1.0), 0);
	zs_refine_frame_done(g.r, 0, true, 1000);
	for (unsigned level = 1; level <= ZS_ENCODER_REFINE_MAX; level++) {
		cr_assert(wait_request(&g, (int)level - 1), "no request for level %u",
			level);
		cr_assert_eq(zs_refine_frame_in(g.r, 0.0), level);
		zs_refine_frame_done(g.r, level, true, 100);
	}
	spin(400);
	cr_expect_eq(g.requests, ZS_ENCODER_REFINE_MAX, "it went on: %d",
		g.requests);
	struct zs_refine_stats st;
	zs_refine_get_stats(g.r, &st);
	cr_expect_eq(st.frames, ZS_ENCODER_REFINE_MAX);
	cr_expect_eq(st.bytes, 100u * ZS_ENCODER_REFINE_MAX);
	cr_expect_eq(st.completed, 1);
	zs_refine_destroy(g.r);
}

Test(refine, small_changes_after_a_refinement_are_not_refined)
{
	struct rig g = { 0 };
	g.r = zs_refine_create(true, 60, on_request, &g);
	cr_assert_eq(zs_refine_frame_in(g.r, 1.0), 0);
	zs_refine_frame_done(g.r, 0, true, 1000);
	for (unsigned level = 1; level <= ZS_ENCODER_REFINE_MAX; level++) {
		cr_assert(wait_request(&g, (int)level - 1));
		cr_assert_eq(zs_refine_frame_in(g.r, 0.0), level);
		zs_refine_frame_done(g.r, level, true, 100);
	}
	/* a blinking cursor: 1 % of the picture, twice */
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(zs_refine_frame_in(g.r, 0.01), 0);
		zs_refine_frame_done(g.r, 0, true, 50);
		spin(250);
	}
	cr_expect_eq(g.requests, ZS_ENCODER_REFINE_MAX);
	struct zs_refine_stats st;
	zs_refine_get_stats(g.r, &st);
	cr_expect_eq(st.skipped, 2);
	/* a change of a third of the picture is refined again */
	cr_assert_eq(zs_refine_frame_in(g.r, 0.33), 0);
	zs_refine_frame_done(g.r, 0, true, 50);
	cr_expect(wait_request(&g, ZS_ENCODER_REFINE_MAX));
	zs_refine_destroy(g.r);
}

Test(refine, a_change_during_refinement_starts_over)
{
	struct rig g = { 0 };
	g.r = zs_refine_create(true, 60, on_request, &g);
	cr_assert_eq(zs_refine_frame_in(g.r, 1.0), 0);
	zs_refine_frame_done(g.r, 0, true, 1000);
	cr_assert(wait_request(&g, 0));
	/* the source changed before the asked-for picture came: the frame
	 * that comes is taken at level 1, the next is a change */
	cr_assert_eq(zs_refine_frame_in(g.r, 0.5), 1);
	cr_assert_eq(zs_refine_frame_in(g.r, 0.5), 0);
	zs_refine_frame_done(g.r, 1, true, 100);
	zs_refine_frame_done(g.r, 0, true, 100);
	cr_assert(wait_request(&g, 1), "refinement did not start over");
	cr_expect_eq(zs_refine_frame_in(g.r, 0.0), 1);
	zs_refine_destroy(g.r);
}

Test(refine, off_or_without_a_source_hook_does_nothing)
{
	struct rig g = { 0 };
	g.r = zs_refine_create(false, 60, on_request, &g);
	cr_assert_eq(zs_refine_frame_in(g.r, 1.0), 0);
	zs_refine_frame_done(g.r, 0, true, 1000);
	spin(300);
	cr_expect_eq(g.requests, 0);
	zs_refine_destroy(g.r);
	g.r = zs_refine_create(true, 60, NULL, NULL);
	cr_assert_eq(zs_refine_frame_in(g.r, 1.0), 0);
	zs_refine_frame_done(g.r, 0, true, 1000);
	spin(300);
	zs_refine_destroy(g.r);
}
