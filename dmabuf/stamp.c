/* Block barcode stamps: drawing, searching and payload packing.
 *
 * Layout: ZS_STAMP_COLS x ZS_STAMP_ROWS cells. Row 0 is the sync row,
 * alternating black/white starting black. Rows 1..4 carry 112 bits: the
 * 12 payload bytes then a CRC-16/CCITT-FALSE over them, MSB first,
 * row-major. A one-cell white quiet zone frames the grid; the search checks
 * it too, which is what keeps data rows (which may repeat the sync pattern)
 * from being taken for a sync row. */
#include "zs-stamp.h"

#include <stdlib.h>
#include <string.h>

#define CELL ZS_STAMP_CELL_PX
#define DATA_BITS ((ZS_STAMP_ROWS - 1) * ZS_STAMP_COLS)
#define CODE_BYTES (ZS_STAMP_PAYLOAD_BYTES + 2)

_Static_assert(DATA_BITS == CODE_BYTES * 8, "stamp grid must hold payload + CRC");

/* The centre box sampled to read a cell: tolerant of blurred edges and of a
 * search origin a few pixels off. */
#define SAMPLE_OFF 4
#define SAMPLE_PX 8
#define LUMA_THRESHOLD 128

static uint16_t crc16_ccitt(const uint8_t *data, size_t len)
{
	uint16_t crc = 0xffff;
	for (size_t i = 0; i < len; i++) {
		crc ^= (uint16_t)(data[i] << 8);
		for (int b = 0; b < 8; b++)
			crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021)
					     : (uint16_t)(crc << 1);
	}
	return crc;
}

static bool sync_cell_black(int col)
{
	return (col & 1) == 0;
}

static void fill_rect(uint8_t *pixels, uint32_t stride, uint32_t width,
	uint32_t height, int64_t x, int64_t y, int64_t w, int64_t h,
	uint32_t xrgb)
{
	int64_t x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
	int64_t x1 = x + w > (int64_t)width ? (int64_t)width : x + w;
	int64_t y1 = y + h > (int64_t)height ? (int64_t)height : y + h;
	if (x0 >= x1 || y0 >= y1)
		return;
	for (int64_t row = y0; row < y1; row++) {
		uint32_t *p = (uint32_t *)(pixels + (size_t)row * stride) + x0;
		for (int64_t i = 0; i < x1 - x0; i++)
			p[i] = xrgb;
	}
}

static void encode_bits(const uint8_t payload[ZS_STAMP_PAYLOAD_BYTES],
	uint8_t code[CODE_BYTES])
{
	memcpy(code, payload, ZS_STAMP_PAYLOAD_BYTES);
	uint16_t crc = crc16_ccitt(payload, ZS_STAMP_PAYLOAD_BYTES);
	code[ZS_STAMP_PAYLOAD_BYTES] = (uint8_t)(crc >> 8);
	code[ZS_STAMP_PAYLOAD_BYTES + 1] = (uint8_t)crc;
}

static bool code_bit(const uint8_t code[CODE_BYTES], int bit)
{
	return (code[bit / 8] >> (7 - bit % 8)) & 1;
}

void zs_stamp_draw(uint8_t *pixels, uint32_t stride, uint32_t width,
	uint32_t height, int32_t x, int32_t y,
	const uint8_t payload[ZS_STAMP_PAYLOAD_BYTES])
{
	const uint32_t white = 0x00ffffff, black = 0x00000000;
	uint8_t code[CODE_BYTES];
	encode_bits(payload, code);

	fill_rect(pixels, stride, width, height, (int64_t)x - CELL,
		(int64_t)y - CELL, ZS_STAMP_WIDTH_PX + 2 * CELL,
		ZS_STAMP_HEIGHT_PX + 2 * CELL, white);
	for (int col = 0; col < ZS_STAMP_COLS; col++) {
		if (sync_cell_black(col))
			fill_rect(pixels, stride, width, height,
				(int64_t)x + col * CELL, y, CELL, CELL, black);
	}
	for (int bit = 0; bit < DATA_BITS; bit++) {
		if (!code_bit(code, bit))
			continue;
		int row = 1 + bit / ZS_STAMP_COLS, col = bit % ZS_STAMP_COLS;
		fill_rect(pixels, stride, width, height, (int64_t)x + col * CELL,
			(int64_t)y + row * CELL, CELL, CELL, black);
	}
}

/* ---- search ---- */

struct luma {
	uint8_t *px;
	int32_t w, h;
};

static bool luma_init(struct luma *l, const struct zs_image *img)
{
	l->w = (int32_t)img->width;
	l->h = (int32_t)img->height;
	l->px = malloc((size_t)img->width * img->height);
	if (!l->px)
		return false;
	for (uint32_t y = 0; y < img->height; y++) {
		const uint8_t *src = img->pixels + (size_t)y * img->stride;
		uint8_t *dst = l->px + (size_t)y * img->width;
		if (img->bytes_per_pixel == 3) {
			for (uint32_t x = 0; x < img->width; x++, src += 3)
				dst[x] = (uint8_t)((src[0] * 77 + src[1] * 150 +
						    src[2] * 29) >> 8);
		} else {
			for (uint32_t x = 0; x < img->width; x++, src += 4)
				dst[x] = (uint8_t)((src[2] * 77 + src[1] * 150 +
						    src[0] * 29) >> 8);
		}
	}
	return true;
}

static inline uint8_t luma_at(const struct luma *l, int32_t x, int32_t y)
{
	return l->px[(size_t)y * l->w + x];
}

/* Sum of a w x h box; the caller keeps it inside the image. */
static uint32_t box_sum(const struct luma *l, int32_t x, int32_t y, int32_t w,
	int32_t h)
{
	uint32_t sum = 0;
	for (int32_t row = y; row < y + h; row++) {
		const uint8_t *p = l->px + (size_t)row * l->w + x;
		for (int32_t i = 0; i < w; i++)
			sum += p[i];
	}
	return sum;
}

static bool inside(const struct luma *l, int32_t x, int32_t y, int32_t w,
	int32_t h)
{
	return x >= 0 && y >= 0 && x + w <= l->w && y + h <= l->h;
}

/* Cell (col,row) of a grid with origin (ox,oy) reads black? Returns -1
 * when the cell is outside the image (quiet-zone cells may be clipped). */
static int cell_black(const struct luma *l, int32_t ox, int32_t oy, int col,
	int row)
{
	int32_t x = ox + col * CELL + SAMPLE_OFF, y = oy + row * CELL + SAMPLE_OFF;
	if (!inside(l, x, y, SAMPLE_PX, SAMPLE_PX))
		return -1;
	return box_sum(l, x, y, SAMPLE_PX, SAMPLE_PX) <
	       LUMA_THRESHOLD * SAMPLE_PX * SAMPLE_PX;
}

/* Cheap test on single centre pixels of the sync row: rejects almost every
 * origin after one or two reads. */
static bool sync_quick(const struct luma *l, int32_t ox, int32_t oy)
{
	const uint8_t *row = l->px + (size_t)(oy + CELL / 2) * l->w + ox + CELL / 2;
	for (int col = 0; col < ZS_STAMP_COLS; col++) {
		bool black = row[col * CELL] < LUMA_THRESHOLD;
		if (black != sync_cell_black(col))
			return false;
	}
	return true;
}

static bool sync_full(const struct luma *l, int32_t ox, int32_t oy)
{
	for (int col = 0; col < ZS_STAMP_COLS; col++) {
		if (cell_black(l, ox, oy, col, 0) != sync_cell_black(col))
			return false;
		/* quiet zone above the sync row */
		if (cell_black(l, ox, oy, col, -1) == 1)
			return false;
	}
	return cell_black(l, ox, oy, -1, 0) != 1 &&
	       cell_black(l, ox, oy, ZS_STAMP_COLS, 0) != 1 &&
	       cell_black(l, ox, oy, -1, 1) != 1 &&
	       cell_black(l, ox, oy, ZS_STAMP_COLS, 1) != 1;
}

static bool decode_at(const struct luma *l, int32_t ox, int32_t oy,
	uint8_t code[CODE_BYTES])
{
	memset(code, 0, CODE_BYTES);
	for (int bit = 0; bit < DATA_BITS; bit++) {
		int b = cell_black(l, ox, oy, bit % ZS_STAMP_COLS,
			1 + bit / ZS_STAMP_COLS);
		if (b < 0)
			return false;
		if (b)
			code[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
	}
	uint16_t crc = crc16_ccitt(code, ZS_STAMP_PAYLOAD_BYTES);
	return code[ZS_STAMP_PAYLOAD_BYTES] == (uint8_t)(crc >> 8) &&
	       code[ZS_STAMP_PAYLOAD_BYTES + 1] == (uint8_t)crc;
}

/* How well a grid placed exactly at (ox,oy) fits the sync row and the quiet
 * zone around it, using whole cells: the maximum is at the true origin. */
static int64_t fit_score(const struct luma *l, int32_t ox, int32_t oy)
{
	int64_t score = 0;
	const int64_t mid = (int64_t)LUMA_THRESHOLD * CELL * CELL;
	for (int col = -1; col <= ZS_STAMP_COLS; col++) {
		for (int row = -1; row <= 0; row++) {
			int32_t x = ox + col * CELL, y = oy + row * CELL;
			if (!inside(l, x, y, CELL, CELL))
				continue;
			bool black = row == 0 && col >= 0 && col < ZS_STAMP_COLS &&
				     sync_cell_black(col);
			int64_t d = (int64_t)box_sum(l, x, y, CELL, CELL) - mid;
			score += black ? -d : d;
		}
	}
	return score;
}

/* Moves a search hit (which can be up to half a cell off: the sample boxes
 * tolerate that) to the best-fitting origin by hill climbing on fit_score. */
static void refine(const struct luma *l, const uint8_t code[CODE_BYTES],
	int32_t *ox, int32_t *oy)
{
	const int32_t r = CELL / 2 + 2;
	int32_t x = *ox, y = *oy;
	int64_t best = fit_score(l, x, y);
	for (;;) {
		int32_t bx = x, by = y;
		for (int32_t dy = -1; dy <= 1; dy++) {
			for (int32_t dx = -1; dx <= 1; dx++) {
				int32_t cx = x + dx, cy = y + dy;
				if ((dx == 0 && dy == 0) || cx < *ox - r ||
				    cx > *ox + r || cy < *oy - r || cy > *oy + r ||
				    !inside(l, cx, cy, ZS_STAMP_WIDTH_PX,
					    ZS_STAMP_HEIGHT_PX))
					continue;
				int64_t s = fit_score(l, cx, cy);
				if (s > best) {
					best = s;
					bx = cx;
					by = cy;
				}
			}
		}
		if (bx == x && by == y)
			break;
		x = bx;
		y = by;
	}
	uint8_t again[CODE_BYTES];
	if (decode_at(l, x, y, again) && memcmp(again, code, CODE_BYTES) == 0) {
		*ox = x;
		*oy = y;
	}
}

bool zs_stamp_find(const struct zs_image *img, uint8_t type,
	uint8_t payload[ZS_STAMP_PAYLOAD_BYTES], int32_t *x, int32_t *y)
{
	if (!img || !img->pixels ||
	    (img->bytes_per_pixel != 3 && img->bytes_per_pixel != 4) ||
	    img->width < ZS_STAMP_WIDTH_PX || img->height < ZS_STAMP_HEIGHT_PX ||
	    img->width > INT32_MAX / 2 || img->height > INT32_MAX / 2 ||
	    img->stride < img->width * img->bytes_per_pixel)
		return false;

	struct luma l;
	if (!luma_init(&l, img))
		return false;

	bool found = false;
	uint8_t code[CODE_BYTES];
	int32_t max_x = l.w - ZS_STAMP_WIDTH_PX, max_y = l.h - ZS_STAMP_HEIGHT_PX;
	for (int32_t oy = 0; oy <= max_y && !found; oy++) {
		for (int32_t ox = 0; ox <= max_x; ox++) {
			if (!sync_quick(&l, ox, oy) || !sync_full(&l, ox, oy) ||
			    !decode_at(&l, ox, oy, code) || code[0] != type)
				continue;
			refine(&l, code, &ox, &oy);
			memcpy(payload, code, ZS_STAMP_PAYLOAD_BYTES);
			if (x)
				*x = ox;
			if (y)
				*y = oy;
			found = true;
			break;
		}
	}
	free(l.px);
	return found;
}

/* ---- payloads ---- */

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* type(1) id(4) capture_us(7: 2^56 us is over 2000 years of uptime) */
void zs_stamp_pack_frame(uint8_t payload[ZS_STAMP_PAYLOAD_BYTES],
	uint32_t frame_id, uint64_t capture_us)
{
	payload[0] = ZS_STAMP_TYPE_FRAME;
	put_be(payload + 1, frame_id, 4);
	put_be(payload + 5, capture_us & ((UINT64_C(1) << 56) - 1), 7);
}

void zs_stamp_unpack_frame(const uint8_t payload[ZS_STAMP_PAYLOAD_BYTES],
	uint32_t *frame_id, uint64_t *capture_us)
{
	if (frame_id)
		*frame_id = (uint32_t)get_be(payload + 1, 4);
	if (capture_us)
		*capture_us = get_be(payload + 5, 7);
}

/* type(1) last_key(2) flags(1: bit 7 key down, bits 0-6 buttons)
 * key_events(2) pointer_x(2) pointer_y(2) button_events(2) = 12 bytes */
void zs_stamp_pack_input(uint8_t payload[ZS_STAMP_PAYLOAD_BYTES],
	const struct zs_stamp_input *in)
{
	payload[0] = ZS_STAMP_TYPE_INPUT;
	put_be(payload + 1, in->last_key, 2);
	payload[3] = (uint8_t)((in->last_key_down ? 0x80 : 0) | (in->buttons & 0x7f));
	put_be(payload + 4, in->key_events, 2);
	put_be(payload + 6, in->pointer_x, 2);
	put_be(payload + 8, in->pointer_y, 2);
	put_be(payload + 10, in->button_events, 2);
}

void zs_stamp_unpack_input(const uint8_t payload[ZS_STAMP_PAYLOAD_BYTES],
	struct zs_stamp_input *in)
{
	in->last_key = (uint16_t)get_be(payload + 1, 2);
	in->last_key_down = (payload[3] & 0x80) ? 1 : 0;
	in->buttons = payload[3] & 0x7f;
	in->key_events = (uint16_t)get_be(payload + 4, 2);
	in->pointer_x = (uint16_t)get_be(payload + 6, 2);
	in->pointer_y = (uint16_t)get_be(payload + 8, 2);
	in->button_events = (uint16_t)get_be(payload + 10, 2);
}
