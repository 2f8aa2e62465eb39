/* zerospice — machine-readable block barcodes drawn into frames.
 *
 * A stamp is a grid of ZS_STAMP_COLS x ZS_STAMP_ROWS cells of
 * ZS_STAMP_CELL_PX pixels, black or white, framed by a one-cell white quiet
 * zone drawn around it. Row 0 is a fixed sync pattern; the other rows carry
 * ZS_STAMP_PAYLOAD_BYTES of payload and a CRC-16, MSB first, row-major.
 * Payload byte 0 is a type tag. Cells are big enough to survive low-bitrate
 * lossy coding. The library is shared by the server, tests and tools. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ZS_STAMP_CELL_PX 16
#define ZS_STAMP_COLS 28
#define ZS_STAMP_ROWS 5
#define ZS_STAMP_PAYLOAD_BYTES 12
#define ZS_STAMP_WIDTH_PX (ZS_STAMP_COLS * ZS_STAMP_CELL_PX)
#define ZS_STAMP_HEIGHT_PX (ZS_STAMP_ROWS * ZS_STAMP_CELL_PX)

/* Payload byte 0: what the stamp carries. */
#define ZS_STAMP_TYPE_FRAME 1
#define ZS_STAMP_TYPE_INPUT 2

/* Draws a stamp with its top-left cell at (x, y) into 32-bit XRGB pixels,
 * plus the quiet zone around it; clipped to width x height. */
void zs_stamp_draw(uint8_t *pixels, uint32_t stride, uint32_t width,
	uint32_t height, int32_t x, int32_t y,
	const uint8_t payload[ZS_STAMP_PAYLOAD_BYTES]);

/* An image to search: bytes_per_pixel 3 (R,G,B) or 4 (XRGB8888 little-endian,
 * i.e. B,G,R,X in memory). */
struct zs_image {
	const uint8_t *pixels;
	uint32_t width, height, stride;
	uint32_t bytes_per_pixel;
};

/* Searches the image for a stamp whose payload byte 0 is `type`, at scale 1
 * (cell = ZS_STAMP_CELL_PX). Returns true and the payload and position when
 * one decodes with a valid CRC. */
bool zs_stamp_find(const struct zs_image *img, uint8_t type,
	uint8_t payload[ZS_STAMP_PAYLOAD_BYTES], int32_t *x, int32_t *y);

/* Frame stamp: type ZS_STAMP_TYPE_FRAME (1), frame id, capture time (the
 * low 56 bits are carried). */
void zs_stamp_pack_frame(uint8_t payload[ZS_STAMP_PAYLOAD_BYTES],
	uint32_t frame_id, uint64_t capture_us);
void zs_stamp_unpack_frame(const uint8_t payload[ZS_STAMP_PAYLOAD_BYTES],
	uint32_t *frame_id, uint64_t *capture_us);

/* Input stamp: type ZS_STAMP_TYPE_INPUT (2). key_down is carried as one
 * bit and buttons as 7 bits, to fit 12 bytes. */
struct zs_stamp_input {
	uint16_t last_key;   /* scancode, 0xe0xx for extended keys, 0 = none */
	uint8_t last_key_down;
	uint16_t key_events;
	uint16_t pointer_x, pointer_y;
	uint8_t buttons;
	uint16_t button_events;
};
void zs_stamp_pack_input(uint8_t payload[ZS_STAMP_PAYLOAD_BYTES],
	const struct zs_stamp_input *in);
void zs_stamp_unpack_input(const uint8_t payload[ZS_STAMP_PAYLOAD_BYTES],
	struct zs_stamp_input *in);

/* Loads a binary PPM (P6, any maxval up to 65535, scaled to 8 bits; at most
 * 16384x16384) into a malloc'd RGB image; returns a negative errno and a
 * message in err on failure. Free with zs_image_free. */
int zs_image_load_ppm(const char *path, struct zs_image *img, char *err,
	size_t err_len);
/* The same from an open stream (borrowed, read from its position); path
 * only names it in messages. */
int zs_image_read_ppm(FILE *f, const char *path, struct zs_image *img,
	char *err, size_t err_len);
void zs_image_free(struct zs_image *img);
