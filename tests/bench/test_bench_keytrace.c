/* Tests for zerospice-bench's reading of the key lines of zerospice's stage
 * trace (format 3) and the choice of the line that answers a probe. */
#include <criterion/criterion.h>

#include "keytrace.h"

Test(bench_keytrace, reads_a_key_line)
{
	struct zb_key_line k;
	cr_assert(zb_key_line_parse("k 42 1000 1010 1500 77 2000 2100 120\n",
		&k));
	cr_assert_eq(k.scancode, 42);
	cr_assert_eq(k.recv_us, 1000);
	cr_assert_eq(k.call_us, 1010);
	cr_assert_eq(k.reply_us, 1500);
	cr_assert_eq(k.frame_id, 77);
	cr_assert_eq(k.capture_us, 2000);
	cr_assert_eq(k.emit_us, 2100);
	cr_assert_eq(k.stamp_us, 120);
}

Test(bench_keytrace, unknowns_are_zero_and_accepted)
{
	struct zb_key_line k;
	/* no reply and no answering frame within the wait */
	cr_assert(zb_key_line_parse("k 42 1000 1010 0 0 0 0 300", &k));
	cr_assert_eq(k.reply_us, 0);
	cr_assert_eq(k.frame_id, 0);
	/* the picture's first message came before the press */
	cr_assert(zb_key_line_parse("k 42 1000 1010 1500 9 900 1600 5", &k));
	cr_assert_eq(k.capture_us, 900);
}

Test(bench_keytrace, other_lines_are_not_key_lines)
{
	struct zb_key_line k = { .scancode = 7 };
	const char *bad[] = {
		"# zerospice stage trace 3: CLOCK_MONOTONIC us\n",
		"# key lines: k scancode recv call reply frame capture emit\n",
		"12 1000 1001 1002 1003 1004 1005 500 1 0 0 0 1\n",
		"", "k", "k ", "K 42 1000 1010 1500 77 2000 2100 120",
		"k 42 1000 1010 1500 77 2000 2100",          /* a field short */
		"k 42 1000 1010 1500 77 2000 2100 120 9",    /* one extra */
		"k 42 1000 1010 1500 77 2000 2100 120x",
		"k 42 -5 1010 1500 77 2000 2100 120",        /* negative */
		"k 42 0 1010 1500 77 2000 2100 120",         /* no receipt */
		"k 42 1000 900 1500 77 2000 2100 120",       /* call first */
		"k 42 1000 1010 1005 77 2000 2100 120",      /* reply first */
		"k 42 1000 1010 1500 77 0 2100 120",         /* no capture */
		"k 42 1000 1010 1500 77 2000 1900 120",      /* emit first */
		"k 42 1000 1010 1500 77 2000 2100 99999999999",
		"k 4a 1000 1010 1500 77 2000 2100 120",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_not(zb_key_line_parse(bad[i], &k), "accepted '%s'",
			bad[i]);
		cr_assert_eq(k.scancode, 7, "'%s' wrote the result", bad[i]);
	}
	cr_assert_not(zb_key_line_parse(NULL, &k));
}

static const struct zb_key_line lines[] = {
	{ 42, 1000, 1001, 1100, 5, 1200, 1210, 10 },  /* probe 1 */
	{ 42, 5000, 5001, 5100, 0, 0, 0, 10 },        /* unanswered */
	{ 30, 6000, 6001, 6100, 9, 6200, 6210, 10 },  /* another key */
	{ 42, 6050, 6051, 6150, 11, 6300, 6310, 10 }, /* probe 2 */
	{ 42, 6040, 6041, 6140, 10, 6250, 6260, 10 }, /* probe 2, earlier */
};
#define N_LINES (sizeof(lines) / sizeof(lines[0]))

Test(bench_keytrace, a_probe_matches_its_first_answered_press)
{
	cr_assert_eq(zb_key_line_match(lines, N_LINES, 42, 900, 1400), 0);
	/* the earliest receipt in the window, not the first line */
	cr_assert_eq(zb_key_line_match(lines, N_LINES, 42, 5500, 7000), 4);
	cr_assert_eq(zb_key_line_match(lines, N_LINES, 30, 5500, 7000), 2);
}

Test(bench_keytrace, no_match_outside_the_window_or_unanswered)
{
	/* received before the probe was sent: an earlier press */
	cr_assert_eq(zb_key_line_match(lines, N_LINES, 42, 1001, 1400), -1);
	/* received after the answer was seen */
	cr_assert_eq(zb_key_line_match(lines, N_LINES, 42, 900, 999), -1);
	/* only a press without an answering frame in the window */
	cr_assert_eq(zb_key_line_match(lines, N_LINES, 42, 4000, 5500), -1);
	cr_assert_eq(zb_key_line_match(lines, 0, 42, 0, 10000), -1);
	cr_assert_eq(zb_key_line_match(lines, N_LINES, 99, 0, 10000), -1);
}
