/* zs-stamp-read: prints the frame and input stamps found in a PPM screenshot,
 * for integration tests and the bench harness. */
#include <stdio.h>
#include <string.h>

#include "zs-stamp.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: zs-stamp-read FILE.ppm\n"
		"Finds zerospice stamps in a binary PPM (P6) screenshot and prints\n"
		"  frame_id=N capture_us=N x=N y=N\n"
		"  key=0xNN key_down=N key_events=N pointer_x=N pointer_y=N buttons=N button_events=N\n"
		"(the second line only when an input stamp is present).\n"
		"Exit status: 0 found, 1 no frame stamp, 2 unreadable file or bad usage.\n");
}

int main(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '\0') {
		usage(stderr);
		return 2;
	}

	struct zs_image img;
	char err[512];
	if (zs_image_load_ppm(argv[1], &img, err, sizeof(err)) < 0) {
		fprintf(stderr, "zs-stamp-read: %s\n", err);
		return 2;
	}

	uint8_t payload[ZS_STAMP_PAYLOAD_BYTES];
	int32_t x, y;
	if (!zs_stamp_find(&img, ZS_STAMP_TYPE_FRAME, payload, &x, &y)) {
		fprintf(stderr, "zs-stamp-read: %s: no frame stamp found\n", argv[1]);
		zs_image_free(&img);
		return 1;
	}
	uint32_t frame_id;
	uint64_t capture_us;
	zs_stamp_unpack_frame(payload, &frame_id, &capture_us);
	printf("frame_id=%u capture_us=%llu x=%d y=%d\n", frame_id,
		(unsigned long long)capture_us, x, y);

	if (zs_stamp_find(&img, ZS_STAMP_TYPE_INPUT, payload, &x, &y)) {
		struct zs_stamp_input in;
		zs_stamp_unpack_input(payload, &in);
		printf("key=0x%02x key_down=%u key_events=%u pointer_x=%u "
		       "pointer_y=%u buttons=%u button_events=%u\n",
			in.last_key, in.last_key_down, in.key_events, in.pointer_x,
			in.pointer_y, in.buttons, in.button_events);
	}
	zs_image_free(&img);
	return fflush(stdout) == 0 ? 0 : 2;
}
