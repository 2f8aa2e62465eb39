/* zerospice-bench stamp reader: finds the frame and input stamps in a
 * client surface cheaply, by searching a small window around where the
 * stamp was last seen (the test pattern and the bench guest draw the frame
 * stamp at (16,16) and the input stamp at (16,128)), and the whole picture
 * only when asked. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "zs-stamp.h"

#define ZB_FRAME_STAMP_X 16
#define ZB_FRAME_STAMP_Y 16
#define ZB_INPUT_STAMP_X 16
#define ZB_INPUT_STAMP_Y 128

struct zb_stamp_reader {
	uint8_t type;       /* ZS_STAMP_TYPE_FRAME or ZS_STAMP_TYPE_INPUT */
	int32_t x, y;       /* where it was last found (or the default) */
	uint64_t found, missed, full_searches;
};

void zb_stamp_reader_init(struct zb_stamp_reader *r, uint8_t type);

/* The rectangle a window search reads, clipped to the image: damage that
 * does not touch it cannot have changed the stamp. */
void zb_stamp_reader_window(const struct zb_stamp_reader *r, uint32_t width,
	uint32_t height, int32_t *x, int32_t *y, int32_t *w, int32_t *h);

/* Reads the stamp from an image (bytes_per_pixel 4 = B,G,R,X in memory, or
 * 3 = R,G,B). Searches the window first; when that fails and full_search is
 * set, the whole image, remembering the new position. Returns true and the
 * payload when a stamp with a valid CRC decodes. */
bool zb_stamp_read(struct zb_stamp_reader *r, const struct zs_image *img,
	bool full_search, uint8_t payload[ZS_STAMP_PAYLOAD_BYTES]);

/* Convenience: frame id and capture time. */
bool zb_stamp_read_frame(struct zb_stamp_reader *r, const struct zs_image *img,
	bool full_search, uint32_t *frame_id, uint64_t *capture_us);
bool zb_stamp_read_input(struct zb_stamp_reader *r, const struct zs_image *img,
	bool full_search, struct zs_stamp_input *in);
