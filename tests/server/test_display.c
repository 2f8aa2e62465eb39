/* zerospice tests — the SpiceServer with several displays: one stream
 * device (output) per display, each with its own queue, and the stub QXL
 * after them. */
#include <criterion/criterion.h>
#include <spice/stream-device.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void ev_start_stop(void *d, unsigned o, uint32_t m)
{
	(void)d; (void)o; (void)m;
}
static void ev_drained(void *d, unsigned o) { (void)d; (void)o; }
static void ev_key(void *d, uint32_t c, bool down)
{
	(void)d; (void)c; (void)down;
}
static void ev_abs(void *d, uint32_t id, int32_t x, int32_t y, uint32_t b)
{
	(void)d; (void)id; (void)x; (void)y; (void)b;
}
static void ev_rel(void *d, int32_t x, int32_t y, uint32_t b)
{
	(void)d; (void)x; (void)y; (void)b;
}

static const struct zs_display_events events = {
	.start_stop = ev_start_stop,
	.drained = ev_drained,
	.key = ev_key,
	.pointer_abs = ev_abs,
	.pointer_rel = ev_rel,
};

static struct zs_display *make(unsigned n, char *err, size_t err_len)
{
	struct zs_display_config cfg = {
		.width = 320, .height = 240, .n_outputs = n,
	};
	return zs_display_create(&cfg, &events, NULL, err, err_len);
}

Test(display, outputs_are_displays_0_to_n_and_the_stub_is_past_them)
{
	static const unsigned asked[] = { 0, 1, 2, 4 };
	for (size_t i = 0; i < sizeof(asked) / sizeof(asked[0]); i++) {
		char err[256] = "";
		struct zs_display *d = make(asked[i], err, sizeof(err));
		cr_assert_not_null(d, "%u outputs: %s", asked[i], err);
		unsigned n = asked[i] ? asked[i] : 1;
		cr_expect_eq(zs_display_n_outputs(d), n);
		cr_expect_eq(zs_display_stub_channel_id(d), ZS_MAX_OUTPUTS);
		for (unsigned k = 0; k < n; k++) {
			cr_assert_not_null(zs_display_output(d, k));
			cr_expect_eq(zs_output_index(zs_display_output(d, k)),
				k);
		}
		cr_expect_null(zs_display_output(d, n));
		zs_display_destroy(d);
	}
}

Test(display, too_many_outputs_are_refused_with_a_reason)
{
	char err[256] = "";
	struct zs_display *d = make(ZS_MAX_OUTPUTS + 1, err, sizeof(err));
	cr_expect_null(d);
	cr_expect(strstr(err, "at most"), "%s", err);
}

/* QEMU's other consoles are found after start: their displays are added
 * to the running server, up to the limit. */
Test(display, outputs_added_later_take_the_next_ids_up_to_the_limit)
{
	char err[256] = "";
	struct zs_display *d = make(1, err, sizeof(err));
	cr_assert_not_null(d, "%s", err);
	for (unsigned k = 1; k < ZS_MAX_OUTPUTS; k++) {
		struct zs_output *o = zs_display_add_output(d, err,
			sizeof(err));
		cr_assert_not_null(o, "output %u: %s", k, err);
		cr_expect_eq(zs_output_index(o), k);
		cr_expect_eq(zs_display_output(d, k), o);
	}
	cr_expect_null(zs_display_add_output(d, err, sizeof(err)));
	cr_expect(strstr(err, "no more than"), "%s", err);
	cr_expect_eq(zs_display_n_outputs(d), ZS_MAX_OUTPUTS);
	zs_display_destroy(d);
}

/* What one display queues is that display's alone. */
Test(display, each_output_has_its_own_queue)
{
	char err[256] = "";
	struct zs_display *d = make(2, err, sizeof(err));
	cr_assert_not_null(d, "%s", err);
	struct zs_output *o0 = zs_display_output(d, 0);
	struct zs_output *o1 = zs_display_output(d, 1);

	zs_output_test_stall_reads = true;
	size_t base0 = zs_output_queued_bytes(o0);
	size_t base1 = zs_output_queued_bytes(o1);
	uint8_t *msg = calloc(1, 64);
	cr_assert_not_null(msg);
	zs_output_queue(o1, msg, 64, STREAM_TYPE_DATA);
	cr_expect_eq(zs_output_queued_bytes(o0), base0);
	cr_expect_eq(zs_output_queued_bytes(o1), base1 + 64);
	cr_expect(zs_output_busy(o1));
	cr_expect_eq(zs_output_drop_unsent(o0), 0);
	cr_expect_eq(zs_output_drop_unsent(o1), 1);
	cr_expect_eq(zs_output_queued_bytes(o1), base1);
	zs_output_test_stall_reads = false;
	zs_display_destroy(d);
}

/* Which head a display is: queued once, not again for the same, kept when
 * unsent frames are dropped. */
Test(display, device_info_is_queued_once_and_outlives_dropped_frames)
{
	char err[256] = "";
	struct zs_display *d = make(2, err, sizeof(err));
	cr_assert_not_null(d, "%s", err);
	struct zs_output *o = zs_display_output(d, 1);

	zs_output_test_stall_reads = true;
	size_t base = zs_output_queued_bytes(o);
	zs_output_set_device_info(o, "pci/0000/02.0", 1);
	size_t one = zs_output_queued_bytes(o) - base;
	cr_expect_eq(one, 8 + 12 + 14);
	zs_output_set_device_info(o, "pci/0000/02.0", 1);
	cr_expect_eq(zs_output_queued_bytes(o), base + one, "a repeat queued");
	uint8_t *frame = calloc(1, 32);
	cr_assert_not_null(frame);
	zs_output_queue(o, frame, 32, STREAM_TYPE_DATA);
	cr_expect_eq(zs_output_drop_unsent(o), 1);
	cr_expect_eq(zs_output_queued_bytes(o), base + one);
	/* another head: queued too */
	zs_output_set_device_info(o, "pci/0000/02.0", 0);
	cr_expect_eq(zs_output_queued_bytes(o), base + 2 * one);
	/* an address spice-server would refuse is not sent */
	char longaddr[300];
	memset(longaddr, 'a', sizeof(longaddr) - 1);
	longaddr[sizeof(longaddr) - 1] = '\0';
	zs_output_set_device_info(o, longaddr, 0);
	cr_expect_eq(zs_output_queued_bytes(o), base + 2 * one);
	zs_output_test_stall_reads = false;
	zs_display_destroy(d);
}
