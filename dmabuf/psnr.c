/* Picture quality of a test-pattern screenshot: the stamps in the picture
 * say which frame (id, capture time) and which input state it shows, so the
 * source picture can be drawn again and compared pixel by pixel. */
#include "zs-dmabuf.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#define PSNR_CAP_DB 100.0

static double to_db(double sse, double n)
{
	double mse = sse / n;
	double db = mse > 0 ? 10.0 * log10(255.0 * 255.0 / mse) : PSNR_CAP_DB;
	return db > PSNR_CAP_DB ? PSNR_CAP_DB : db;
}

/* BT.709 luma, full range, in 8-bit units */
static double luma(double r, double g, double b)
{
	return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/* Channel c (0 R, 1 G, 2 B) of a screenshot pixel and of a source pixel
 * (XRGB8888 little-endian: B, G, R, X in memory). */
static int img_channel(const struct zs_image *img, const uint8_t *px, int c)
{
	return img->bytes_per_pixel == 3 ? px[c] : px[2 - c];
}

static int src_channel(const uint8_t *px, int c)
{
	return px[2 - c];
}

/* The source's levels as the client's colour conversions map them: a
 * least-squares gain and offset per channel over the whole picture. Both
 * ends convert RGB <-> limited-range YUV in fixed point (GStreamer's
 * videoconvert maps white 255 to 253 on the way back), a systematic level
 * error that no bitrate removes; compensating it leaves the codec's own
 * loss (blur, ringing, blocks) in the PSNR. Over rectangle r. */
static void fit_levels(const struct zs_image *img, const struct zs_frame_map *map,
	struct zs_rect r, double gain[3], double offset[3])
{
	double sx[3] = { 0 }, sy[3] = { 0 }, sxx[3] = { 0 }, sxy[3] = { 0 };
	double n = (double)r.width * r.height;
	for (int32_t row = r.y; row < r.y + r.height; row++) {
		const uint8_t *src = map->pixels + (size_t)row * map->stride +
			(size_t)r.x * 4;
		const uint8_t *dst = img->pixels + (size_t)row * img->stride +
			(size_t)r.x * img->bytes_per_pixel;
		for (int32_t col = 0; col < r.width; col++) {
			for (int c = 0; c < 3; c++) {
				double x = src_channel(src, c);
				double y = img_channel(img, dst, c);
				sx[c] += x;
				sy[c] += y;
				sxx[c] += x * x;
				sxy[c] += x * y;
			}
			src += 4;
			dst += img->bytes_per_pixel;
		}
	}
	for (int c = 0; c < 3; c++) {
		double var = sxx[c] - sx[c] * sx[c] / n;
		gain[c] = var > 0 ? (sxy[c] - sx[c] * sy[c] / n) / var : 1.0;
		offset[c] = (sy[c] - gain[c] * sx[c]) / n;
	}
}

static void compare(const struct zs_image *img, const struct zs_frame_map *map,
	struct zs_psnr *psnr)
{
	struct zs_rect all = { 0, 0, (int32_t)img->width, (int32_t)img->height };
	struct zs_rect text = zs_testpattern_stamp_area();
	text.x += 8;
	text.y += 8;
	text.width -= 16;
	text.height -= 16;
	if (text.x + text.width > all.width || text.y + text.height > all.height)
		text = all; /* cannot happen at the test pattern's sizes */
	/* the stamps' two levels are fitted on their own: the conversions'
	 * level error is not quite affine over the whole range */
	double gain[3], offset[3], tgain[3], toffset[3];
	fit_levels(img, map, all, gain, offset);
	fit_levels(img, map, text, tgain, toffset);
	double sse = 0, sse_y = 0, sse_text = 0;
	uint64_t n_text = 0;
	for (uint32_t row = 0; row < img->height; row++) {
		const uint8_t *src = map->pixels + (size_t)row * map->stride;
		const uint8_t *dst = img->pixels + (size_t)row * img->stride;
		bool text_row = (int64_t)row >= text.y &&
			(int64_t)row < (int64_t)text.y + text.height;
		for (uint32_t col = 0; col < img->width; col++) {
			double d[3], e = 0;
			for (int c = 0; c < 3; c++) {
				double want = gain[c] * src_channel(src, c) +
					offset[c];
				d[c] = img_channel(img, dst, c) - want;
				e += d[c] * d[c];
			}
			double dy = luma(d[0], d[1], d[2]);
			sse += e;
			sse_y += dy * dy;
			if (text_row && (int64_t)col >= text.x &&
			    (int64_t)col < (int64_t)text.x + text.width) {
				for (int c = 0; c < 3; c++) {
					double t = img_channel(img, dst, c) -
						(tgain[c] * src_channel(src, c) +
						 toffset[c]);
					sse_text += t * t;
				}
				n_text++;
			}
			src += 4;
			dst += img->bytes_per_pixel;
		}
	}
	double pixels = (double)img->width * img->height;
	psnr->rgb_db = to_db(sse, 3.0 * pixels);
	psnr->y_db = to_db(sse_y, pixels);
	psnr->text_db = n_text ? to_db(sse_text, 3.0 * (double)n_text) : NAN;
}

int zs_testpattern_psnr(const struct zs_image *img, struct zs_psnr *psnr,
	uint32_t *frame_id)
{
	uint8_t payload[ZS_STAMP_PAYLOAD_BYTES];
	int32_t x, y;
	uint32_t id;
	uint64_t capture_us;
	int ret;

	if (!img || !img->pixels || !psnr ||
	    (img->bytes_per_pixel != 3 && img->bytes_per_pixel != 4))
		return -EINVAL;
	if (!zs_stamp_find(img, ZS_STAMP_TYPE_FRAME, payload, &x, &y))
		return -ENOENT;
	zs_stamp_unpack_frame(payload, &id, &capture_us);

	struct zs_testpattern *tp = zs_testpattern_create(img->width,
		img->height, 1);
	if (!tp)
		return -EINVAL;
	if (zs_stamp_find(img, ZS_STAMP_TYPE_INPUT, payload, &x, &y)) {
		struct zs_stamp_input in;
		zs_stamp_unpack_input(payload, &in);
		struct zs_input_state state = {
			.last_key = in.last_key,
			.last_key_down = in.last_key_down,
			.key_events = in.key_events,
			.pointer_x = in.pointer_x,
			.pointer_y = in.pointer_y,
			.buttons = in.buttons,
			.button_events = in.button_events,
		};
		zs_testpattern_set_input(tp, &state);
	}
	struct zs_frame *frame = zs_testpattern_render(tp, id, capture_us);
	struct zs_frame_map map;
	if (!frame) {
		ret = -ENOMEM;
		goto out_tp;
	}
	ret = zs_frame_map(frame, &map);
	if (ret < 0)
		goto out_frame;

	compare(img, &map, psnr);
	if (frame_id)
		*frame_id = id;
	zs_frame_unmap(&map);
out_frame:
	zs_frame_release(frame);
out_tp:
	zs_testpattern_destroy(tp);
	return ret;
}
