/* server/resize.c: what a client window may ask of the guest. */
#include <criterion/criterion.h>

#include "internal.h"

struct clamp_case {
	uint32_t w, h, want_w, want_h;
	bool changed;
};

Test(resize, clamps_each_side_and_the_area)
{
	static const struct clamp_case cases[] = {
		{ 990, 644, 990, 644, false },
		{ 641, 479, 641, 479, false },   /* odd sizes stream as they are */
		{ 320, 200, 320, 200, false },
		{ 100, 80, 320, 200, true },      /* too small */
		{ 0, 0, 320, 200, true },
		{ 4096, 2304, 4096, 2304, false },
		{ 5000, 300, 4096, 300, true },   /* too wide */
		{ 300, 100000, 320, 4096, true },
		{ UINT32_MAX, UINT32_MAX, 3072, 3072, true },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t w = cases[i].w, h = cases[i].h;
		bool changed = zs_ui_size_clamp(&w, &h);
		cr_expect_eq(changed, cases[i].changed, "%ux%u", cases[i].w,
			cases[i].h);
		cr_expect_leq((uint64_t)w * h, ZS_UI_MAX_AREA, "%ux%u -> %ux%u",
			cases[i].w, cases[i].h, w, h);
		cr_expect(w >= ZS_UI_MIN_WIDTH && w <= ZS_UI_MAX_DIM &&
			h >= ZS_UI_MIN_HEIGHT && h <= ZS_UI_MAX_DIM,
			"%ux%u -> %ux%u", cases[i].w, cases[i].h, w, h);
		if (cases[i].want_w == 3072) {
			/* area-bound: the aspect kept within a pixel */
			cr_expect_leq(w > h ? w - h : h - w, 1, "%ux%u", w, h);
			cr_expect_geq((uint64_t)w * h, ZS_UI_MAX_AREA - 4096);
			continue;
		}
		cr_expect_eq(w, cases[i].want_w, "%ux%u -> %ux%u", cases[i].w,
			cases[i].h, w, h);
		cr_expect_eq(h, cases[i].want_h, "%ux%u -> %ux%u", cases[i].w,
			cases[i].h, w, h);
	}
}

/* A sparse monitors config (what zerospice asks clients for): monitor i
 * is display i; a closed window is a 0x0 monitor and resizes nothing. */
Test(resize, monitor_i_goes_to_display_i)
{
	struct zs_agent_monitors m = { .n = 3 };
	m.mon[0] = (struct zs_agent_monitor) { .width = 1024, .height = 768 };
	m.mon[1] = (struct zs_agent_monitor) { .width = 0, .height = 0 };
	m.mon[2] = (struct zs_agent_monitor) { .width = 800, .height = 600,
		.x = 1024 };
	struct zs_agent_monitors out;

	cr_assert(zs_resize_monitors_for_display(&m, 0, 3, &out));
	cr_expect_eq(out.n, 1);
	cr_expect_eq(out.mon[0].width, 1024);
	cr_expect_not(zs_resize_monitors_for_display(&m, 1, 3, &out),
		"display 1's window is closed");
	cr_assert(zs_resize_monitors_for_display(&m, 2, 3, &out));
	cr_expect_eq(out.mon[0].width, 800);
	cr_expect_eq(out.mon[0].height, 600);
	cr_expect_not(zs_resize_monitors_for_display(&m, 3, 4, &out),
		"no monitor for display 3");

	/* one display: the whole config, its first enabled monitor decides */
	m.mon[0].width = m.mon[0].height = 0;
	cr_assert(zs_resize_monitors_for_display(&m, 0, 1, &out));
	cr_expect_eq(out.n, 3);
	cr_expect_eq(out.mon[2].width, 800);
}
