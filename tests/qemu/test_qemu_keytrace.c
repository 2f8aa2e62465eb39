/* zerospice tests — --trace-stages' key lines at the QEMU source: a key
 * press is reported with QEMU's reply and the first frame whose input
 * stamp (the bench guest's, at (16,128)) counts it; pictures without the
 * stamp report nothing. Against the fake QEMU (fake-peer.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "fake-peer.h"
#include "zs-stamp.h"

TestSuite(qemu_keytrace, .init = peer_setup, .fini = peer_teardown,
	.timeout = 60);

#define W 640
#define H 360

static struct zs_qemu_key_trace got[8];
static int n_got;

static void on_key(void *data, const struct zs_qemu_key_trace *k)
{
	(void)data;
	if (n_got < 8)
		got[n_got++] = *k;
}

/* A grey picture with the input stamp counting key_events. */
static uint32_t *picture(uint16_t key_events)
{
	uint32_t *px = g_new(uint32_t, W * H);
	for (size_t i = 0; i < (size_t)W * H; i++)
		px[i] = 0x00808080;
	struct zs_stamp_input in = { .key_events = key_events };
	uint8_t payload[ZS_STAMP_PAYLOAD_BYTES];
	zs_stamp_pack_input(payload, &in);
	zs_stamp_draw((uint8_t *)px, W * 4, W, H, 16, 128, payload);
	return px;
}

/* Sends the whole picture as an Update (as QEMU does for a change). */
static void update(const uint32_t *px)
{
	struct call c;
	cr_assert(update_xrgb(0, 0, W, H, px, &c), "%s", c.err);
}

static bool got_one(void *data)
{
	(void)data;
	return n_got > 0;
}

Test(qemu_keytrace, a_press_is_reported_with_the_frame_that_counts_it)
{
	struct call c;
	uint32_t *before = picture(4), *after = picture(5);
	n_got = 0;
	zs_qemu_source_trace_keys(P.src, on_key, NULL);
	cr_assert(scanout_xrgb(W, H, before, &c), "%s", c.err);
	wait_frame(1);

	int64_t t0 = g_get_monotonic_time();
	zs_source_key(P.src, 0x2a, true);
	zs_source_key(P.src, 0x2a, false);
	/* a frame still showing the old count does not answer */
	update(before);
	struct zs_frame *f2 = wait_frame(2);
	loop_for(50);
	cr_assert_eq(n_got, 0);
	update(after);
	struct zs_frame *f3 = wait_frame(3);
	cr_assert(loop_until(got_one, NULL, 3000), "no key line");
	loop_for(50);
	cr_assert_eq(n_got, 1, "one press, one report");
	const struct zs_qemu_key_trace *k = &got[0];
	cr_assert_eq(k->scancode, 0x2a);
	cr_assert_geq(k->recv_us, t0);
	cr_assert_geq(k->call_us, k->recv_us);
	cr_assert_geq(k->reply_us, k->call_us);
	cr_assert_neq(f3->id, f2->id);
	cr_assert_eq(k->frame_id, f3->id);
	cr_assert_eq(k->capture_us, (int64_t)f3->capture_us);
	cr_assert_geq(k->emit_us, k->capture_us);
	cr_assert_gt(k->capture_us, k->recv_us);
	g_free(before);
	g_free(after);
}

Test(qemu_keytrace, the_report_waits_for_qemus_reply)
{
	struct call c;
	uint32_t *before = picture(9), *after = picture(11);
	n_got = 0;
	zs_qemu_source_trace_keys(P.src, on_key, NULL);
	cr_assert(scanout_xrgb(W, H, before, &c), "%s", c.err);
	wait_frame(1);
	P.held = g_ptr_array_new();
	zs_source_key(P.src, 0x1e, true);
	loop_for(50);
	update(after);
	struct zs_frame *f2 = wait_frame(2);
	loop_for(50);
	cr_assert_eq(n_got, 0, "reported before QEMU answered the press");
	int64_t released = g_get_monotonic_time();
	peer_release_held();
	cr_assert(loop_until(got_one, NULL, 3000), "no key line");
	cr_assert_eq(got[0].frame_id, f2->id);
	cr_assert_geq(got[0].reply_us, released);
	g_free(before);
	g_free(after);
}

Test(qemu_keytrace, pictures_without_the_stamp_report_nothing)
{
	struct call c;
	uint32_t *a = xrgb_pattern(W, H, 3), *b = xrgb_pattern(W, H, 4);
	n_got = 0;
	zs_qemu_source_trace_keys(P.src, on_key, NULL);
	cr_assert(scanout_xrgb(W, H, a, &c), "%s", c.err);
	wait_frame(1);
	zs_source_key(P.src, 0x2a, true);
	update(b);
	wait_frame(2);
	loop_for(100);
	cr_assert_eq(n_got, 0);
	g_free(a);
	g_free(b);
}

Test(qemu_keytrace, off_by_default_and_when_turned_off)
{
	struct call c;
	uint32_t *before = picture(1), *after = picture(2);
	n_got = 0;
	cr_assert(scanout_xrgb(W, H, before, &c), "%s", c.err);
	wait_frame(1);
	zs_source_key(P.src, 0x2a, true);
	update(after);
	wait_frame(2);
	loop_for(100);
	cr_assert_eq(n_got, 0);
	zs_qemu_source_trace_keys(P.src, on_key, NULL);
	zs_qemu_source_trace_keys(P.src, NULL, NULL);
	zs_source_key(P.src, 0x2a, false);
	zs_source_key(P.src, 0x2a, true);
	update(before);
	wait_frame(3);
	loop_for(100);
	cr_assert_eq(n_got, 0);
	g_free(before);
	g_free(after);
}
