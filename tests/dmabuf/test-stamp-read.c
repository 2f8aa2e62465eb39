/* Runs the zs-stamp-read tool the way integration scripts do. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zs-dmabuf.h"

static const char *tool(void)
{
	const char *t = getenv("ZS_STAMP_READ");
	cr_assert_not_null(t, "ZS_STAMP_READ not set");
	return t;
}

/* Writes the test pattern frame into a bigger dark "screenshot" at (ox,oy). */
static char *write_screenshot(const struct zs_input_state *in, uint32_t id,
	uint64_t capture_us, uint32_t ox, uint32_t oy)
{
	const uint32_t sw = 1920, sh = 1200;
	struct zs_testpattern *tp = zs_testpattern_create(1280, 720, 1);
	cr_assert_not_null(tp);
	if (in)
		zs_testpattern_set_input(tp, in);
	struct zs_frame *f = zs_testpattern_render(tp, id, capture_us);
	struct zs_frame_map m;
	cr_assert_eq(zs_frame_map(f, &m), 0);

	char *path = strdup("/tmp/zs-shot-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	FILE *out = fdopen(fd, "wb");
	fprintf(out, "P6\n# screenshot\n%u %u\n255\n", sw, sh);
	for (uint32_t y = 0; y < sh; y++) {
		for (uint32_t x = 0; x < sw; x++) {
			uint8_t rgb[3] = { 0x30, 0x30, 0x30 };
			if (x >= ox && x < ox + 1280 && y >= oy && y < oy + 720) {
				const uint8_t *p = m.pixels + (size_t)(y - oy) * m.stride +
						   (size_t)(x - ox) * 4;
				rgb[0] = p[2];
				rgb[1] = p[1];
				rgb[2] = p[0];
			}
			fwrite(rgb, 1, 3, out);
		}
	}
	fclose(out);
	zs_frame_unmap(&m);
	zs_frame_release(f);
	zs_testpattern_destroy(tp);
	return path;
}

static int run(const char *arg, char *out, size_t out_len)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "'%s' '%s' 2>/dev/null", tool(), arg);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t n = fread(out, 1, out_len - 1, p);
	out[n] = '\0';
	int status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(stamp_read, prints_frame_and_input_lines_from_a_screenshot)
{
	struct zs_input_state in = {
		.last_key = 0x1e, .last_key_down = true, .key_events = 2,
		.pointer_x = 10, .pointer_y = 20, .buttons = ZS_BUTTON_LEFT,
		.button_events = 1,
	};
	char *path = write_screenshot(&in, 4242, 123456789012, 301, 77);
	char out[1024];
	cr_assert_eq(run(path, out, sizeof(out)), 0);
	cr_assert_str_eq(out,
		"frame_id=4242 capture_us=123456789012 x=317 y=93\n"
		"key=0x1e key_down=1 key_events=2 pointer_x=10 pointer_y=20 "
		"buttons=1 button_events=1\n");
	unlink(path);
	free(path);
}

Test(stamp_read, exits_1_without_a_stamp_and_2_on_unreadable_file)
{
	char path[] = "/tmp/zs-plain-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "wb");
	fprintf(f, "P6 500 100 255\n");
	for (int i = 0; i < 500 * 100 * 3; i++)
		fputc(0x80, f);
	fclose(f);
	char out[256];
	cr_assert_eq(run(path, out, sizeof(out)), 1);
	cr_assert_str_eq(out, "");
	unlink(path);
	cr_assert_eq(run("/nonexistent/shot.ppm", out, sizeof(out)), 2);
	cr_assert_eq(run("--help", out, sizeof(out)), 0);
	cr_assert_not_null(strstr(out, "Usage"));
}
