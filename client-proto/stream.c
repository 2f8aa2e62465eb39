/* Stream-device framing (spice/stream-device.h): messages we write toward
 * spice-server and the incremental reader of what it writes to us. All
 * fields are little-endian and serialised byte by byte. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spice/enums.h>
#include <spice/stream-device.h>

#include "zs-client-proto.h"

/* StreamMsgCursorSet without its data: w, h, hot x, hot y, type, 3 pad. */
#define CURSOR_SET_FIXED_BYTES 12
/* Mirrors spice-server's MAX_DEVICE_ADDRESS_LEN check for DISPLAY_INFO. */
#define DEVICE_DISPLAY_INFO_MAX_BYTES (12 + 256)
#define CURSOR_SET_MAX_BYTES (CURSOR_SET_FIXED_BYTES + \
	4u * ZS_STREAM_MAX_CURSOR_DIM * ZS_STREAM_MAX_CURSOR_DIM)

_Static_assert(ZS_STREAM_HEADER_BYTES == sizeof(StreamDevHeader),
	"stream header size");
_Static_assert(ZS_STREAM_FORMAT_BYTES - ZS_STREAM_HEADER_BYTES ==
	sizeof(StreamMsgFormat), "format size");
_Static_assert(ZS_STREAM_CURSOR_MOVE_BYTES - ZS_STREAM_HEADER_BYTES ==
	sizeof(StreamMsgCursorMove), "cursor move size");
_Static_assert(CURSOR_SET_FIXED_BYTES == sizeof(StreamMsgCursorSet),
	"cursor set size");
_Static_assert(ZS_STREAM_MAX_CURSOR_DIM == STREAM_MSG_CURSOR_SET_MAX_WIDTH &&
	ZS_STREAM_MAX_CURSOR_DIM == STREAM_MSG_CURSOR_SET_MAX_HEIGHT,
	"cursor limits");

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) |
		((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* The largest payload spice-server (or a device, for the server→device
 * types) accepts for `type`; 0 with *exact set for fixed-size types;
 * false for types that do not exist. */
static bool type_size_limit(uint16_t type, uint32_t *max, bool *exact)
{
	*exact = false;
	switch (type) {
	case STREAM_TYPE_CAPABILITIES:
		*max = STREAM_MSG_CAPABILITIES_MAX_BYTES;
		return true;
	case STREAM_TYPE_FORMAT:
		*max = sizeof(StreamMsgFormat);
		*exact = true;
		return true;
	case STREAM_TYPE_DATA:
		*max = ZS_STREAM_MAX_DATA_BYTES;
		return true;
	case STREAM_TYPE_START_STOP:
	case STREAM_TYPE_NOTIFY_ERROR:
	case STREAM_TYPE_QUALITY_INDICATOR:
		*max = ZS_STREAM_MAX_IN_BYTES;
		return true;
	case STREAM_TYPE_CURSOR_SET:
		*max = CURSOR_SET_MAX_BYTES;
		return true;
	case STREAM_TYPE_CURSOR_MOVE:
		*max = sizeof(StreamMsgCursorMove);
		*exact = true;
		return true;
	case STREAM_TYPE_DEVICE_DISPLAY_INFO:
		*max = DEVICE_DISPLAY_INFO_MAX_BYTES;
		return true;
	default:
		return false;
	}
}

static void write_header(uint8_t *out, uint16_t type, uint32_t size)
{
	out[0] = STREAM_DEVICE_PROTOCOL;
	out[1] = 0;
	put_le16(out + 2, type);
	put_le32(out + 4, size);
}

bool zs_stream_put_header(uint8_t out[ZS_STREAM_HEADER_BYTES], uint16_t type,
	uint32_t size)
{
	uint32_t max;
	bool exact;

	if (!type_size_limit(type, &max, &exact))
		return false;
	if (exact ? size != max : size > max)
		return false;
	if (type == STREAM_TYPE_CURSOR_SET && size < CURSOR_SET_FIXED_BYTES)
		return false;
	write_header(out, type, size);
	return true;
}

void zs_stream_put_format(uint8_t out[ZS_STREAM_FORMAT_BYTES], uint32_t width,
	uint32_t height, enum zs_codec codec)
{
	uint8_t *p = out + ZS_STREAM_HEADER_BYTES;

	write_header(out, STREAM_TYPE_FORMAT, sizeof(StreamMsgFormat));
	put_le32(p, width);
	put_le32(p + 4, height);
	p[8] = (uint8_t)codec;
	p[9] = p[10] = p[11] = 0;
}

void zs_stream_put_cursor_move(uint8_t out[ZS_STREAM_CURSOR_MOVE_BYTES],
	int32_t x, int32_t y)
{
	write_header(out, STREAM_TYPE_CURSOR_MOVE, sizeof(StreamMsgCursorMove));
	put_le32(out + ZS_STREAM_HEADER_BYTES, (uint32_t)x);
	put_le32(out + ZS_STREAM_HEADER_BYTES + 4, (uint32_t)y);
}

uint8_t *zs_stream_build_cursor_set(uint16_t width, uint16_t height,
	uint16_t hot_x, uint16_t hot_y, const uint32_t *argb, size_t *len)
{
	if (!argb || !len || width == 0 || height == 0 ||
			width > ZS_STREAM_MAX_CURSOR_DIM ||
			height > ZS_STREAM_MAX_CURSOR_DIM)
		return NULL;

	size_t pixels = (size_t)width * height;
	size_t payload = CURSOR_SET_FIXED_BYTES + pixels * 4;
	uint8_t *msg = malloc(ZS_STREAM_HEADER_BYTES + payload);
	if (!msg)
		return NULL;

	/* SPICE_CURSOR_TYPE_ALPHA: one little-endian ARGB32 word per pixel. */
	uint8_t *p = msg + ZS_STREAM_HEADER_BYTES;
	write_header(msg, STREAM_TYPE_CURSOR_SET, (uint32_t)payload);
	put_le16(p, width);
	put_le16(p + 2, height);
	put_le16(p + 4, hot_x < width ? hot_x : (uint16_t)(width - 1));
	put_le16(p + 6, hot_y < height ? hot_y : (uint16_t)(height - 1));
	p[8] = SPICE_CURSOR_TYPE_ALPHA;
	p[9] = p[10] = p[11] = 0;
	p += CURSOR_SET_FIXED_BYTES;
	for (size_t i = 0; i < pixels; i++)
		put_le32(p + 4 * i, argb[i]);

	*len = ZS_STREAM_HEADER_BYTES + payload;
	return msg;
}

uint8_t *zs_stream_build_device_display_info(uint32_t stream_id,
	uint32_t device_display_id, const char *device_address, size_t *len)
{
	size_t addr_len = device_address ? strlen(device_address) + 1 : 0;
	/* {u32 stream_id, u32 device_display_id, u32 address_len} */
	size_t payload = 12 + addr_len;

	if (!len || addr_len <= 1 || addr_len > ZS_STREAM_MAX_DEVICE_ADDRESS)
		return NULL;
	uint8_t *msg = malloc(ZS_STREAM_HEADER_BYTES + payload);
	if (!msg)
		return NULL;
	uint8_t *p = msg + ZS_STREAM_HEADER_BYTES;
	write_header(msg, STREAM_TYPE_DEVICE_DISPLAY_INFO, (uint32_t)payload);
	put_le32(p, stream_id);
	put_le32(p + 4, device_display_id);
	put_le32(p + 8, (uint32_t)addr_len);
	memcpy(p + 12, device_address, addr_len); /* with its NUL */
	*len = ZS_STREAM_HEADER_BYTES + payload;
	return msg;
}

void zs_stream_reader_init(struct zs_stream_reader *r)
{
	memset(r, 0, sizeof(*r));
}

void zs_stream_reader_finish(struct zs_stream_reader *r)
{
	if (!r)
		return;
	free(r->payload);
	memset(r, 0, sizeof(*r));
}

__attribute__((format(printf, 4, 5)))
static bool reader_fail(struct zs_stream_reader *r, char *err, size_t err_len,
	const char *fmt, ...)
{
	r->failed = true;
	if (err && err_len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return false;
}

static bool type_from_server(uint16_t type)
{
	return type == STREAM_TYPE_CAPABILITIES ||
		type == STREAM_TYPE_START_STOP ||
		type == STREAM_TYPE_NOTIFY_ERROR;
}

/* Payload pointer handed out for empty messages, so it is never NULL. */
static const uint8_t empty_payload[1];

static void deliver(struct zs_stream_reader *r, const uint8_t *payload,
	zs_stream_msg_fn cb, void *data)
{
	struct zs_stream_msg msg = {
		.type = get_le16(r->header + 2),
		.size = r->payload_size,
		.payload = payload ? payload : empty_payload,
	};

	r->header_len = 0;
	r->payload_len = 0;
	r->payload_size = 0;
	if (cb)
		cb(&msg, data);
}

bool zs_stream_reader_feed(struct zs_stream_reader *r, const uint8_t *buf,
	size_t len, zs_stream_msg_fn cb, void *data, char *err, size_t err_len)
{
	if (r->failed)
		return reader_fail(r, err, err_len,
			"stream reader already failed");
	if (!buf && len)
		return reader_fail(r, err, err_len,
			"stream reader fed NULL");

	while (len > 0) {
		if (r->header_len < ZS_STREAM_HEADER_BYTES) {
			size_t n = ZS_STREAM_HEADER_BYTES - r->header_len;
			if (n > len)
				n = len;
			memcpy(r->header + r->header_len, buf, n);
			r->header_len += n;
			buf += n;
			len -= n;
			if (r->header_len < ZS_STREAM_HEADER_BYTES)
				break;

			uint16_t type = get_le16(r->header + 2);
			uint32_t size = get_le32(r->header + 4);
			if (r->header[0] != STREAM_DEVICE_PROTOCOL)
				return reader_fail(r, err, err_len,
					"stream device protocol version %u, expected %u",
					(unsigned)r->header[0], STREAM_DEVICE_PROTOCOL);
			if (!type_from_server(type))
				return reader_fail(r, err, err_len,
					"unexpected stream message type %u (size %u)",
					(unsigned)type, size);
			if (size > ZS_STREAM_MAX_IN_BYTES)
				return reader_fail(r, err, err_len,
					"stream message of %u bytes over the %u-byte limit",
					size, ZS_STREAM_MAX_IN_BYTES);
			r->payload_size = size;
			r->payload_len = 0;
		}

		size_t want = r->payload_size - r->payload_len;
		if (want == 0) {
			deliver(r, NULL, cb, data);
			continue;
		}
		if (len == 0)
			break;
		if (r->payload_len == 0 && len >= want) {
			/* The whole payload is in the caller's buffer: no copy. */
			const uint8_t *payload = buf;
			buf += want;
			len -= want;
			deliver(r, payload, cb, data);
			continue;
		}
		if (!r->payload) {
			r->payload = malloc(ZS_STREAM_MAX_IN_BYTES);
			if (!r->payload)
				return reader_fail(r, err, err_len,
					"out of memory for a %u-byte stream message",
					r->payload_size);
		}
		size_t n = want < len ? want : len;
		memcpy(r->payload + r->payload_len, buf, n);
		r->payload_len += n;
		buf += n;
		len -= n;
		if (r->payload_len == r->payload_size)
			deliver(r, r->payload, cb, data);
	}
	return true;
}

bool zs_stream_parse_start_stop(const uint8_t *payload, size_t len,
	uint32_t *codec_mask)
{
	if (!payload || len < 1 || !codec_mask)
		return false;
	size_t num = payload[0];
	if (len - 1 < num)
		return false;

	uint32_t mask = 0;
	for (size_t i = 0; i < num; i++) {
		uint8_t c = payload[1 + i];
		if (c > ZS_CODEC_NONE && c < ZS_CODEC_COUNT)
			mask |= ZS_CODEC_BIT(c);
	}
	*codec_mask = mask;
	return true;
}
