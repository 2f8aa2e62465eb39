/* client-proto: framing, negotiation, agent and keyboard translation. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <spice/enums.h>
#include <spice/stream-device.h>
#include <spice/vd_agent.h>
#include <stdio.h>

#include "zs-client-proto.h"
#include "zs-dmabuf.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ---- */

static size_t put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
	return 4;
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) |
		((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Appends a server→device message (header by hand, not by the code under
 * test, except in the round-trip test). */
static size_t put_stream_msg(uint8_t *out, uint8_t version, uint16_t type,
	const void *payload, uint32_t size)
{
	out[0] = version;
	out[1] = 0;
	out[2] = (uint8_t)type;
	out[3] = (uint8_t)(type >> 8);
	put_le32(out + 4, size);
	if (size)
		memcpy(out + 8, payload, size);
	return 8 + (size_t)size;
}

#define MAX_RECORDED 16

struct recorded_msg {
	uint16_t type;
	uint32_t size;
	uint8_t payload[256];
};

struct recorder {
	struct recorded_msg msgs[MAX_RECORDED];
	size_t count;
};

static void record_stream_msg(const struct zs_stream_msg *msg, void *data)
{
	struct recorder *rec = data;

	cr_assert_not_null(msg->payload);
	cr_assert_lt(rec->count, MAX_RECORDED);
	struct recorded_msg *m = &rec->msgs[rec->count++];
	m->type = msg->type;
	m->size = msg->size;
	cr_assert_leq(msg->size, sizeof(m->payload));
	memcpy(m->payload, msg->payload, msg->size);
}

static void assert_same_messages(const struct recorder *a,
	const struct recorder *b)
{
	cr_assert_eq(a->count, b->count);
	for (size_t i = 0; i < a->count; i++) {
		cr_assert_eq(a->msgs[i].type, b->msgs[i].type);
		cr_assert_eq(a->msgs[i].size, b->msgs[i].size);
		cr_assert_arr_eq(a->msgs[i].payload, b->msgs[i].payload,
			a->msgs[i].size);
	}
}

static void assert_one_line(const char *err)
{
	cr_assert_gt(strlen(err), 0, "empty error");
	cr_assert_null(strchr(err, '\n'), "error spans lines: %s", err);
}

/* Feeds a whole buffer to a fresh reader; returns the feed result. */
static bool stream_feed_all(const uint8_t *buf, size_t len,
	struct recorder *rec, char *err, size_t err_len)
{
	struct zs_stream_reader r;
	zs_stream_reader_init(&r);
	bool ok = zs_stream_reader_feed(&r, buf, len, record_stream_msg, rec,
		err, err_len);
	zs_stream_reader_finish(&r);
	return ok;
}

/* The messages spice-server sends a stream device over a session. */
static size_t build_server_session(uint8_t *buf)
{
	static const uint8_t all_codecs[] = { 5, 1, 2, 3, 4, 5 };
	static const uint8_t stop[] = { 0 };
	uint8_t notify[4 + 15];
	size_t n = 0;

	put_le32(notify, 0);
	memcpy(notify + 4, "Protocol error", 15);
	n += put_stream_msg(buf + n, 1, STREAM_TYPE_CAPABILITIES, NULL, 0);
	n += put_stream_msg(buf + n, 1, STREAM_TYPE_START_STOP, all_codecs,
		sizeof(all_codecs));
	n += put_stream_msg(buf + n, 1, STREAM_TYPE_NOTIFY_ERROR, notify,
		sizeof(notify));
	n += put_stream_msg(buf + n, 1, STREAM_TYPE_CAPABILITIES,
		"\x01", 1);
	n += put_stream_msg(buf + n, 1, STREAM_TYPE_START_STOP, stop,
		sizeof(stop));
	return n;
}

/* ---- stream framing (device → server) ---- */

Test(stream_framing, format_is_20_little_endian_bytes)
{
	uint8_t out[ZS_STREAM_FORMAT_BYTES + 1];
	static const uint8_t expected[20] = {
		1, 0, 2, 0, 12, 0, 0, 0,         /* v1, pad, FORMAT, size 12 */
		0x80, 0x07, 0, 0, 0x38, 0x04, 0, 0, /* 1920 x 1080 */
		3, 0, 0, 0,                      /* H.264, 3 pad */
	};

	cr_assert_eq(ZS_STREAM_FORMAT_BYTES, 20);
	memset(out, 0xaa, sizeof(out));
	zs_stream_put_format(out, 1920, 1080, ZS_CODEC_H264);
	cr_assert_arr_eq(out, expected, 20);
	cr_assert_eq(out[20], 0xaa, "wrote past the message");
}

Test(stream_framing, cursor_move_is_signed_little_endian)
{
	uint8_t out[ZS_STREAM_CURSOR_MOVE_BYTES];
	static const uint8_t expected[16] = {
		1, 0, 7, 0, 8, 0, 0, 0,
		0xff, 0xff, 0xff, 0xff, 0x10, 0x27, 0, 0, /* -1, 10000 */
	};

	zs_stream_put_cursor_move(out, -1, 10000);
	cr_assert_arr_eq(out, expected, sizeof(expected));
}

Test(stream_framing, header_round_trips_through_reader)
{
	uint8_t buf[ZS_STREAM_HEADER_BYTES + 3] = { 0 };
	struct recorder rec = { 0 };
	char err[128] = "";

	cr_assert(zs_stream_put_header(buf, STREAM_TYPE_START_STOP, 3));
	cr_assert_eq(buf[0], STREAM_DEVICE_PROTOCOL);
	cr_assert_eq(buf[1], 0);
	cr_assert_eq(buf[2] | (buf[3] << 8), STREAM_TYPE_START_STOP);
	cr_assert_eq(get_le32(buf + 4), 3);
	buf[8] = 2;
	buf[9] = ZS_CODEC_MJPEG;
	buf[10] = ZS_CODEC_H264;
	cr_assert(stream_feed_all(buf, sizeof(buf), &rec, err, sizeof(err)),
		"%s", err);
	cr_assert_eq(rec.count, 1);
	cr_assert_eq(rec.msgs[0].type, STREAM_TYPE_START_STOP);
	cr_assert_eq(rec.msgs[0].size, 3);
	cr_assert_arr_eq(rec.msgs[0].payload, buf + 8, 3);
}

struct header_case {
	uint16_t type;
	uint32_t size;
	bool ok;
};

Test(stream_framing, put_header_enforces_per_type_limits)
{
	static const struct header_case cases[] = {
		{ STREAM_TYPE_DATA, 0, true },
		{ STREAM_TYPE_DATA, ZS_STREAM_MAX_DATA_BYTES, true },
		{ STREAM_TYPE_DATA, ZS_STREAM_MAX_DATA_BYTES + 1, false },
		{ STREAM_TYPE_FORMAT, 12, true },
		{ STREAM_TYPE_FORMAT, 11, false },
		{ STREAM_TYPE_FORMAT, 13, false },
		{ STREAM_TYPE_CURSOR_MOVE, 8, true },
		{ STREAM_TYPE_CURSOR_MOVE, 9, false },
		{ STREAM_TYPE_CURSOR_SET, 11, false },
		{ STREAM_TYPE_CURSOR_SET, 12 + 4u * 1024 * 1024, true },
		{ STREAM_TYPE_CURSOR_SET, 13 + 4u * 1024 * 1024, false },
		{ STREAM_TYPE_CAPABILITIES, 0, true },
		{ STREAM_TYPE_CAPABILITIES, STREAM_MSG_CAPABILITIES_MAX_BYTES, true },
		{ STREAM_TYPE_CAPABILITIES, STREAM_MSG_CAPABILITIES_MAX_BYTES + 1, false },
		{ STREAM_TYPE_INVALID, 0, false },
		{ 99, 0, false },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		uint8_t out[ZS_STREAM_HEADER_BYTES];
		cr_expect_eq(zs_stream_put_header(out, cases[i].type,
			cases[i].size), cases[i].ok, "type %u size %u",
			cases[i].type, cases[i].size);
	}
}

Test(stream_framing, cursor_set_lays_out_an_alpha_cursor)
{
	const uint32_t argb[6] = {
		0xff000000, 0xffffffff, 0x80ff0000,
		0x00000000, 0x11223344, 0xdeadbeef,
	};
	size_t len = 0;
	uint8_t *msg = zs_stream_build_cursor_set(3, 2, 1, 1, argb, &len);

	cr_assert_not_null(msg);
	cr_assert_eq(len, 8 + 12 + 6 * 4);
	cr_assert_eq(msg[0], 1);
	cr_assert_eq(msg[2] | (msg[3] << 8), STREAM_TYPE_CURSOR_SET);
	cr_assert_eq(get_le32(msg + 4), 12 + 6 * 4);
	const uint8_t fixed[12] = { 3, 0, 2, 0, 1, 0, 1, 0,
		SPICE_CURSOR_TYPE_ALPHA, 0, 0, 0 };
	cr_assert_arr_eq(msg + 8, fixed, sizeof(fixed));
	for (size_t i = 0; i < 6; i++)
		cr_assert_eq(get_le32(msg + 20 + 4 * i), argb[i], "pixel %zu", i);
	free(msg);
}

Test(stream_framing, cursor_set_clamps_hot_spot_into_image)
{
	const uint32_t argb[4] = { 0 };
	size_t len = 0;
	uint8_t *msg = zs_stream_build_cursor_set(2, 2, 7, 2, argb, &len);

	cr_assert_not_null(msg);
	cr_assert_eq(msg[8 + 4] | (msg[8 + 5] << 8), 1);
	cr_assert_eq(msg[8 + 6] | (msg[8 + 7] << 8), 1);
	free(msg);
}

struct cursor_dim_case {
	uint16_t w, h;
	bool ok;
};

Test(stream_framing, cursor_set_rejects_zero_and_over_1024)
{
	static const struct cursor_dim_case cases[] = {
		{ 0, 1, false }, { 1, 0, false }, { 0, 0, false },
		{ 1025, 1, false }, { 1, 1025, false }, { 65535, 65535, false },
		{ 1, 1, true }, { 1024, 1024, true }, { 1024, 1, true },
	};
	uint32_t *argb = calloc(1024 * 1024, sizeof(*argb));

	cr_assert_not_null(argb);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		size_t len = 0;
		uint8_t *msg = zs_stream_build_cursor_set(cases[i].w, cases[i].h,
			0, 0, argb, &len);
		cr_expect_eq(msg != NULL, cases[i].ok, "%ux%u", cases[i].w,
			cases[i].h);
		if (msg)
			cr_expect_eq(len, 20 + 4u * cases[i].w * cases[i].h);
		free(msg);
	}
	size_t len = 0;
	cr_expect_null(zs_stream_build_cursor_set(1, 1, 0, 0, NULL, &len));
	free(argb);
}

/* ---- stream reader (server → device) ---- */

Test(stream_reader, gives_same_messages_at_every_split_point)
{
	uint8_t buf[256];
	size_t n = build_server_session(buf);
	struct recorder whole = { 0 };
	char err[128] = "";

	cr_assert(stream_feed_all(buf, n, &whole, err, sizeof(err)), "%s", err);
	cr_assert_eq(whole.count, 5);
	cr_assert_eq(whole.msgs[0].type, STREAM_TYPE_CAPABILITIES);
	cr_assert_eq(whole.msgs[0].size, 0);
	cr_assert_eq(whole.msgs[1].type, STREAM_TYPE_START_STOP);
	cr_assert_eq(whole.msgs[2].type, STREAM_TYPE_NOTIFY_ERROR);
	cr_assert_eq(whole.msgs[3].size, 1);
	cr_assert_eq(whole.msgs[4].size, 1);

	for (size_t i = 0; i <= n; i++) {
		for (size_t j = i; j <= n; j++) {
			struct zs_stream_reader r;
			struct recorder rec = { 0 };
			zs_stream_reader_init(&r);
			cr_assert(zs_stream_reader_feed(&r, buf, i,
				record_stream_msg, &rec, err, sizeof(err)));
			cr_assert(zs_stream_reader_feed(&r, buf + i, j - i,
				record_stream_msg, &rec, err, sizeof(err)));
			cr_assert(zs_stream_reader_feed(&r, buf + j, n - j,
				record_stream_msg, &rec, err, sizeof(err)));
			zs_stream_reader_finish(&r);
			assert_same_messages(&whole, &rec);
		}
	}

	struct zs_stream_reader r;
	struct recorder bytewise = { 0 };
	zs_stream_reader_init(&r);
	for (size_t i = 0; i < n; i++)
		cr_assert(zs_stream_reader_feed(&r, buf + i, 1,
			record_stream_msg, &bytewise, err, sizeof(err)));
	zs_stream_reader_finish(&r);
	assert_same_messages(&whole, &bytewise);
}

Test(stream_reader, accepts_empty_capabilities)
{
	uint8_t buf[8];
	struct recorder rec = { 0 };
	char err[128] = "";
	size_t n = put_stream_msg(buf, 1, STREAM_TYPE_CAPABILITIES, NULL, 0);

	cr_assert(stream_feed_all(buf, n, &rec, err, sizeof(err)), "%s", err);
	cr_assert_eq(rec.count, 1);
	cr_assert_eq(rec.msgs[0].size, 0);
}

Test(stream_reader, waits_on_truncated_message_without_delivering)
{
	uint8_t buf[64];
	static const uint8_t codecs[] = { 2, 1, 3 };
	size_t n = put_stream_msg(buf, 1, STREAM_TYPE_START_STOP, codecs,
		sizeof(codecs));
	char err[128] = "";

	for (size_t cut = 0; cut < n; cut++) {
		struct recorder rec = { 0 };
		cr_assert(stream_feed_all(buf, cut, &rec, err, sizeof(err)));
		cr_assert_eq(rec.count, 0, "delivered from %zu of %zu bytes",
			cut, n);
	}
}

Test(stream_reader, rejects_oversized_message)
{
	uint8_t buf[8];
	struct recorder rec = { 0 };
	char err[128] = "";

	put_stream_msg(buf, 1, STREAM_TYPE_NOTIFY_ERROR, NULL, 0);
	put_le32(buf + 4, ZS_STREAM_MAX_IN_BYTES + 1);
	cr_assert_not(stream_feed_all(buf, sizeof(buf), &rec, err,
		sizeof(err)));
	assert_one_line(err);
	cr_assert_eq(rec.count, 0);

	/* The limit itself is fine (nothing delivered until it all arrives). */
	put_le32(buf + 4, ZS_STREAM_MAX_IN_BYTES);
	cr_assert(stream_feed_all(buf, sizeof(buf), &rec, err, sizeof(err)));
}

Test(stream_reader, rejects_types_the_server_does_not_send)
{
	static const uint16_t bad_types[] = {
		STREAM_TYPE_INVALID, STREAM_TYPE_FORMAT, STREAM_TYPE_DATA,
		STREAM_TYPE_CURSOR_SET, STREAM_TYPE_CURSOR_MOVE,
		STREAM_TYPE_DEVICE_DISPLAY_INFO, STREAM_TYPE_QUALITY_INDICATOR,
		10, 0x100, 0xffff,
	};

	for (size_t i = 0; i < ARRAY_LEN(bad_types); i++) {
		uint8_t buf[8];
		struct recorder rec = { 0 };
		char err[128] = "";
		put_stream_msg(buf, 1, bad_types[i], NULL, 0);
		cr_assert_not(stream_feed_all(buf, sizeof(buf), &rec, err,
			sizeof(err)), "type %u accepted", bad_types[i]);
		assert_one_line(err);
		cr_assert_eq(rec.count, 0);
	}
}

Test(stream_reader, rejects_wrong_protocol_version)
{
	static const uint8_t versions[] = { 0, 2, 0xff };

	for (size_t i = 0; i < ARRAY_LEN(versions); i++) {
		uint8_t buf[8];
		struct recorder rec = { 0 };
		char err[128] = "";
		put_stream_msg(buf, versions[i], STREAM_TYPE_CAPABILITIES,
			NULL, 0);
		cr_assert_not(stream_feed_all(buf, sizeof(buf), &rec, err,
			sizeof(err)));
		assert_one_line(err);
		cr_assert_eq(rec.count, 0);
	}
}

Test(stream_reader, delivers_messages_before_an_error_then_stays_failed)
{
	uint8_t buf[64];
	size_t n = put_stream_msg(buf, 1, STREAM_TYPE_CAPABILITIES, NULL, 0);
	n += put_stream_msg(buf + n, 1, STREAM_TYPE_DATA, NULL, 0);
	struct zs_stream_reader r;
	struct recorder rec = { 0 };
	char err[128] = "";

	zs_stream_reader_init(&r);
	cr_assert_not(zs_stream_reader_feed(&r, buf, n, record_stream_msg,
		&rec, err, sizeof(err)));
	cr_assert_eq(rec.count, 1);
	err[0] = '\0';
	cr_assert_not(zs_stream_reader_feed(&r, buf, 8, record_stream_msg,
		&rec, err, sizeof(err)));
	assert_one_line(err);
	cr_assert_eq(rec.count, 1);
	zs_stream_reader_finish(&r);

	zs_stream_reader_init(&r);
	cr_assert(zs_stream_reader_feed(&r, buf, 8, record_stream_msg, &rec,
		err, sizeof(err)));
	cr_assert_eq(rec.count, 2);
	zs_stream_reader_finish(&r);
}

/* ---- START_STOP ---- */

Test(start_stop, parses_all_five_codecs_as_spice_server_sends)
{
	static const uint8_t payload[] = { 5, 1, 2, 3, 4, 5 };
	uint32_t mask = 0xdead;

	cr_assert(zs_stream_parse_start_stop(payload, sizeof(payload), &mask));
	cr_assert_eq(mask, ZS_CODEC_BIT(ZS_CODEC_MJPEG) |
		ZS_CODEC_BIT(ZS_CODEC_VP8) | ZS_CODEC_BIT(ZS_CODEC_H264) |
		ZS_CODEC_BIT(ZS_CODEC_VP9) | ZS_CODEC_BIT(ZS_CODEC_H265));
}

Test(start_stop, zero_codecs_means_stop)
{
	static const uint8_t payload[] = { 0 };
	uint32_t mask = 0xdead;

	cr_assert(zs_stream_parse_start_stop(payload, sizeof(payload), &mask));
	cr_assert_eq(mask, 0);
}

Test(start_stop, rejects_truncated_payload)
{
	static const uint8_t payload[] = { 3, 1, 3 };
	uint32_t mask = 0;

	cr_assert_not(zs_stream_parse_start_stop(payload, 0, &mask));
	cr_assert_not(zs_stream_parse_start_stop(payload, sizeof(payload),
		&mask));
	cr_assert_not(zs_stream_parse_start_stop(NULL, 0, &mask));
}

Test(start_stop, skips_unknown_codec_ids)
{
	static const uint8_t payload[] = { 5, 0, 6, 3, 0xff, 1 };
	uint32_t mask = 0;

	cr_assert(zs_stream_parse_start_stop(payload, sizeof(payload), &mask));
	cr_assert_eq(mask, ZS_CODEC_BIT(ZS_CODEC_H264) |
		ZS_CODEC_BIT(ZS_CODEC_MJPEG));
}

/* ---- codec negotiation ---- */

#define B(c) ZS_CODEC_BIT(ZS_CODEC_##c)
#define ALL (B(MJPEG) | B(VP8) | B(H264) | B(VP9) | B(H265))

struct choose_case {
	uint32_t clients, available;
	enum zs_codec forced, expected;
};

Test(codec_choose, follows_preference_and_forced_codec)
{
	static const struct choose_case cases[] = {
		{ ALL, ALL, ZS_CODEC_NONE, ZS_CODEC_H264 },
		{ ALL, B(MJPEG), ZS_CODEC_NONE, ZS_CODEC_MJPEG },
		{ B(MJPEG), ALL, ZS_CODEC_NONE, ZS_CODEC_MJPEG },
		{ ALL & ~B(H264), ALL, ZS_CODEC_NONE, ZS_CODEC_VP8 },
		{ B(VP9) | B(H265) | B(MJPEG), ALL, ZS_CODEC_NONE, ZS_CODEC_VP9 },
		{ B(H265) | B(MJPEG), B(H265) | B(H264), ZS_CODEC_NONE, ZS_CODEC_H265 },
		{ B(H264), B(VP8), ZS_CODEC_NONE, ZS_CODEC_NONE },
		{ 0, ALL, ZS_CODEC_NONE, ZS_CODEC_NONE },
		{ ALL, 0, ZS_CODEC_NONE, ZS_CODEC_NONE },
		{ ALL, ALL, ZS_CODEC_MJPEG, ZS_CODEC_MJPEG },
		{ ALL, ALL, ZS_CODEC_H265, ZS_CODEC_H265 },
		{ B(MJPEG), ALL, ZS_CODEC_H264, ZS_CODEC_NONE },
		{ ALL, B(MJPEG), ZS_CODEC_H264, ZS_CODEC_NONE },
		{ ALL, ALL, (enum zs_codec)6, ZS_CODEC_NONE },
		{ 0xffffffff, 0xffffffff, ZS_CODEC_NONE, ZS_CODEC_H264 },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		cr_expect_eq(zs_codec_choose(cases[i].clients,
			cases[i].available, cases[i].forced), cases[i].expected,
			"case %zu", i);
}

struct button_case {
	uint32_t in, out;
};

Test(buttons, agent_masks_map_to_zs_buttons)
{
	static const struct button_case cases[] = {
		{ 0, 0 },
		{ VD_AGENT_LBUTTON_MASK, ZS_BUTTON_LEFT },
		{ VD_AGENT_MBUTTON_MASK, ZS_BUTTON_MIDDLE },
		{ VD_AGENT_RBUTTON_MASK, ZS_BUTTON_RIGHT },
		{ VD_AGENT_UBUTTON_MASK, ZS_BUTTON_WHEEL_UP },
		{ VD_AGENT_DBUTTON_MASK, ZS_BUTTON_WHEEL_DOWN },
		{ 0x2, ZS_BUTTON_LEFT },  /* as seen from remote-viewer */
		{ 0x8, ZS_BUTTON_RIGHT },
		{ 0x10, ZS_BUTTON_WHEEL_UP },
		{ VD_AGENT_LBUTTON_MASK | VD_AGENT_RBUTTON_MASK,
			ZS_BUTTON_LEFT | ZS_BUTTON_RIGHT },
		{ 0x1 | VD_AGENT_SBUTTON_MASK | VD_AGENT_EBUTTON_MASK | 0xff00, 0 },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		cr_expect_eq(zs_agent_buttons_to_zs(cases[i].in), cases[i].out,
			"agent 0x%x", cases[i].in);
}

Test(buttons, spice_server_mode_state_maps_to_zs_buttons)
{
	/* What SpiceMouseInterface receives: left 1, right 2, middle 4. */
	static const struct button_case cases[] = {
		{ 0, 0 },
		{ 0x1, ZS_BUTTON_LEFT },
		{ 0x2, ZS_BUTTON_RIGHT },
		{ 0x4, ZS_BUTTON_MIDDLE },
		{ 0x7, ZS_BUTTON_LEFT | ZS_BUTTON_MIDDLE | ZS_BUTTON_RIGHT },
		{ 0x40 | 0x80, 0 }, /* side/extra, no ZS_BUTTON for them */
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		cr_expect_eq(zs_spice_buttons_to_zs(cases[i].in), cases[i].out,
			"spice 0x%x", cases[i].in);
}

/* ---- scancodes ---- */

struct key_event {
	uint32_t code;
	bool down;
};

static size_t decode(const uint8_t *bytes, size_t n, struct key_event *out,
	size_t max)
{
	struct zs_scancode_decoder d = { 0 };
	size_t count = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t code = 0xdeadbeef;
		bool down = false;
		if (zs_scancode_feed(&d, bytes[i], &code, &down)) {
			cr_assert_lt(count, max);
			out[count].code = code;
			out[count].down = down;
			count++;
		}
	}
	return count;
}

Test(scancode, plain_key_down_and_up)
{
	static const uint8_t bytes[] = { 0x1e, 0x9e };
	struct key_event ev[4];

	cr_assert_eq(decode(bytes, sizeof(bytes), ev, 4), 2);
	cr_assert_eq(ev[0].code, 0x1e);
	cr_assert(ev[0].down);
	cr_assert_eq(ev[1].code, 0x1e);
	cr_assert_not(ev[1].down);
}

Test(scancode, extended_right_ctrl_down_and_up)
{
	static const uint8_t bytes[] = { 0xe0, 0x1d, 0xe0, 0x9d };
	struct key_event ev[4];

	cr_assert_eq(decode(bytes, sizeof(bytes), ev, 4), 2);
	cr_assert_eq(ev[0].code, 0xe01d);
	cr_assert(ev[0].down);
	cr_assert_eq(ev[1].code, 0xe01d);
	cr_assert_not(ev[1].down);
}

Test(scancode, pause_sequence_is_one_event_each_way)
{
	static const uint8_t bytes[] = { 0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5,
		0x1e };
	struct key_event ev[4];

	cr_assert_eq(decode(bytes, sizeof(bytes), ev, 4), 3);
	cr_assert_eq(ev[0].code, 0xe145);
	cr_assert(ev[0].down);
	cr_assert_eq(ev[1].code, 0xe145);
	cr_assert_not(ev[1].down);
	cr_assert_eq(ev[2].code, 0x1e, "decoder did not return to plain keys");
}

Test(scancode, garbage_stays_in_range_and_resyncs)
{
	uint8_t bytes[4096];
	struct key_event ev[4096];
	uint32_t seed = 12345;

	for (size_t i = 0; i < sizeof(bytes); i++) {
		seed = seed * 1103515245u + 12345u;
		bytes[i] = (uint8_t)(seed >> 16);
	}
	/* Dense prefixes too: runs of e0/e1 must not accumulate. */
	memset(bytes + 100, 0xe0, 50);
	memset(bytes + 200, 0xe1, 50);
	size_t n = decode(bytes, sizeof(bytes), ev, ARRAY_LEN(ev));
	cr_assert_gt(n, 0);
	for (size_t i = 0; i < n; i++) {
		uint32_t c = ev[i].code;
		cr_assert(c < 0x80 || (c >= 0xe000 && c < 0xe080) ||
			(c >= 0xe100 && c < 0xe180), "code 0x%x", c);
	}

	static const uint8_t tail[] = { 0xe0, 0xe1, 0x1d, 0xe0, 0x1e, 0x9e };
	struct key_event t[4];
	cr_assert_eq(decode(tail, sizeof(tail), t, 4), 2);
	cr_assert_eq(t[0].code, 0xe01e);
	cr_assert_eq(t[1].code, 0x1e);
	cr_assert_not(t[1].down);
}

/* ---- monitors config (the client's window sizes) ---- */

/* VDAgentMonitorsConfig: n monitors {height, width, depth, x, y}, then
 * (with mm) n {height_mm, width_mm}. */
static size_t put_monitors(uint8_t *out, uint32_t n, const uint32_t *wh,
	bool mm)
{
	size_t p = 8;
	put_le32(out, n);
	put_le32(out + 4, mm ? VD_AGENT_CONFIG_MONITORS_FLAG_PHYSICAL_SIZE : 0);
	for (uint32_t i = 0; i < n; i++) {
		put_le32(out + p, wh[2 * i + 1]);
		put_le32(out + p + 4, wh[2 * i]);
		put_le32(out + p + 8, 32);
		put_le32(out + p + 12, i * 100);
		put_le32(out + p + 16, 7);
		p += 20;
	}
	for (uint32_t i = 0; mm && i < n; i++) {
		out[p] = (uint8_t)(wh[2 * i + 1] / 4);      /* height_mm */
		out[p + 1] = (uint8_t)((wh[2 * i + 1] / 4) >> 8);
		out[p + 2] = (uint8_t)(wh[2 * i] / 4);      /* width_mm */
		out[p + 3] = (uint8_t)((wh[2 * i] / 4) >> 8);
		p += 4;
	}
	return p;
}

Test(monitors_config, parses_sizes_positions_and_physical_sizes)
{
	uint8_t body[256];
	const uint32_t wh[] = { 990, 644, 641, 479 };
	struct zs_agent_monitors m;
	char why[128] = "";
	size_t n = put_monitors(body, 2, wh, true);

	cr_assert(zs_agent_parse_monitors_config(body, n, &m, why, sizeof(why)),
		"%s", why);
	cr_assert_eq(m.n, 2);
	cr_assert_eq(m.mon[0].width, 990);
	cr_assert_eq(m.mon[0].height, 644);
	cr_assert_eq(m.mon[1].width, 641);
	cr_assert_eq(m.mon[1].height, 479);
	cr_assert_eq(m.mon[1].x, 100);
	cr_assert_eq(m.mon[1].y, 7);
	cr_assert_eq(m.mon[0].width_mm, 990 / 4);
	cr_assert_eq(m.mon[0].height_mm, 644 / 4);
	cr_assert_eq(m.mon[1].width_mm, 641 / 4);

	/* without the flag the physical sizes are unknown */
	n = put_monitors(body, 1, wh, false);
	cr_assert(zs_agent_parse_monitors_config(body, n, &m, why, sizeof(why)));
	cr_assert_eq(m.n, 1);
	cr_assert_eq(m.mon[0].width_mm, 0);
}

Test(monitors_config, rejects_malformed_bodies)
{
	uint8_t body[512] = { 0 };
	const uint32_t wh[] = { 800, 600, 800, 600 };
	struct zs_agent_monitors m;
	char why[128];
	size_t n;

	/* shorter than the header, no monitor, more monitors than bytes */
	cr_assert_not(zs_agent_parse_monitors_config(body, 7, &m, why,
		sizeof(why)));
	cr_assert_not(zs_agent_parse_monitors_config(NULL, 0, &m, why,
		sizeof(why)));
	n = put_monitors(body, 1, wh, false);
	put_le32(body, 0);
	why[0] = '\0';
	cr_assert_not(zs_agent_parse_monitors_config(body, n, &m, why,
		sizeof(why)));
	cr_assert_neq(why[0], '\0');
	n = put_monitors(body, 2, wh, false);
	put_le32(body, 3);
	cr_assert_not(zs_agent_parse_monitors_config(body, n, &m, why,
		sizeof(why)));
	put_le32(body, 0xffffffffu);
	cr_assert_not(zs_agent_parse_monitors_config(body, n, &m, why,
		sizeof(why)));
	/* the flag without room for the sizes: sizes only */
	n = put_monitors(body, 2, wh, false);
	put_le32(body + 4, VD_AGENT_CONFIG_MONITORS_FLAG_PHYSICAL_SIZE);
	cr_assert(zs_agent_parse_monitors_config(body, n, &m, why,
		sizeof(why)), "%s", why);
	cr_assert_eq(m.mon[1].width_mm, 0);
}
