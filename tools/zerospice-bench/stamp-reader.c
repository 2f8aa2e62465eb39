/* zerospice-bench stamp reader. */
#include "stamp-reader.h"

#include <string.h>

/* Slack around the stamp's quiet zone: positions move by a few pixels when
 * a client scales or a guest draws elsewhere. */
#define WINDOW_SLACK_PX 24

void zb_stamp_reader_init(struct zb_stamp_reader *r, uint8_t type)
{
	memset(r, 0, sizeof(*r));
	r->type = type;
	if (type == ZS_STAMP_TYPE_INPUT) {
		r->x = ZB_INPUT_STAMP_X;
		r->y = ZB_INPUT_STAMP_Y;
	} else {
		r->x = ZB_FRAME_STAMP_X;
		r->y = ZB_FRAME_STAMP_Y;
	}
}

void zb_stamp_reader_window(const struct zb_stamp_reader *r, uint32_t width,
	uint32_t height, int32_t *x, int32_t *y, int32_t *w, int32_t *h)
{
	int64_t margin = ZS_STAMP_CELL_PX + WINDOW_SLACK_PX;
	int64_t x0 = (int64_t)r->x - margin, y0 = (int64_t)r->y - margin;
	int64_t x1 = (int64_t)r->x + ZS_STAMP_WIDTH_PX + margin;
	int64_t y1 = (int64_t)r->y + ZS_STAMP_HEIGHT_PX + margin;
	if (x0 < 0)
		x0 = 0;
	if (y0 < 0)
		y0 = 0;
	if (x1 > width)
		x1 = width;
	if (y1 > height)
		y1 = height;
	if (x1 < x0)
		x1 = x0;
	if (y1 < y0)
		y1 = y0;
	*x = (int32_t)x0;
	*y = (int32_t)y0;
	*w = (int32_t)(x1 - x0);
	*h = (int32_t)(y1 - y0);
}

static bool image_ok(const struct zs_image *img)
{
	return img && img->pixels &&
	       (img->bytes_per_pixel == 3 || img->bytes_per_pixel == 4) &&
	       img->stride >= (uint64_t)img->width * img->bytes_per_pixel;
}

bool zb_stamp_read(struct zb_stamp_reader *r, const struct zs_image *img,
	bool full_search, uint8_t payload[ZS_STAMP_PAYLOAD_BYTES])
{
	if (!image_ok(img))
		return false;
	int32_t wx, wy, ww, wh;
	zb_stamp_reader_window(r, img->width, img->height, &wx, &wy, &ww, &wh);
	struct zs_image sub = {
		.pixels = img->pixels + (size_t)wy * img->stride +
			  (size_t)wx * img->bytes_per_pixel,
		.width = (uint32_t)ww,
		.height = (uint32_t)wh,
		.stride = img->stride,
		.bytes_per_pixel = img->bytes_per_pixel,
	};
	int32_t x, y;
	if (ww > 0 && wh > 0 && zs_stamp_find(&sub, r->type, payload, &x, &y)) {
		r->x = wx + x;
		r->y = wy + y;
		r->found++;
		return true;
	}
	if (full_search) {
		r->full_searches++;
		if (zs_stamp_find(img, r->type, payload, &x, &y)) {
			r->x = x;
			r->y = y;
			r->found++;
			return true;
		}
	}
	r->missed++;
	return false;
}

bool zb_stamp_read_frame(struct zb_stamp_reader *r, const struct zs_image *img,
	bool full_search, uint32_t *frame_id, uint64_t *capture_us)
{
	uint8_t payload[ZS_STAMP_PAYLOAD_BYTES];
	if (r->type != ZS_STAMP_TYPE_FRAME || !zb_stamp_read(r, img, full_search, payload))
		return false;
	zs_stamp_unpack_frame(payload, frame_id, capture_us);
	return true;
}

bool zb_stamp_read_input(struct zb_stamp_reader *r, const struct zs_image *img,
	bool full_search, struct zs_stamp_input *in)
{
	uint8_t payload[ZS_STAMP_PAYLOAD_BYTES];
	if (r->type != ZS_STAMP_TYPE_INPUT || !zb_stamp_read(r, img, full_search, payload))
		return false;
	zs_stamp_unpack_input(payload, in);
	return true;
}
