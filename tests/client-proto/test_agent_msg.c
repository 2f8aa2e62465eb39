/* client-proto: whole vdagent messages for the agent bridge (agent-msg.c). */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <spice/vd_agent.h>

#include "zs-client-proto.h"

#define MAX_MSGS 16

struct seen {
	size_t n;
	struct {
		uint32_t port, type, size;
		bool dropped;
		uint8_t *data;
	} m[MAX_MSGS];
};

static void record(const struct zs_agent_msg *m, void *data)
{
	struct seen *s = data;

	cr_assert_lt(s->n, MAX_MSGS);
	s->m[s->n].port = m->port;
	s->m[s->n].type = m->type;
	s->m[s->n].size = m->size;
	s->m[s->n].dropped = m->data == NULL;
	if (m->data) {
		s->m[s->n].data = malloc(m->size + 1);
		memcpy(s->m[s->n].data, m->data, m->size);
	}
	s->n++;
}

static void seen_free(struct seen *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->m[i].data);
	memset(s, 0, sizeof(*s));
}

static uint8_t *pattern(size_t len, uint32_t seed)
{
	uint8_t *p = malloc(len ? len : 1);
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
	return p;
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) |
		((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Concatenates a and b into a new buffer. */
static uint8_t *concat(const uint8_t *a, size_t a_len, const uint8_t *b,
	size_t b_len)
{
	uint8_t *out = malloc(a_len + b_len);
	memcpy(out, a, a_len);
	memcpy(out + a_len, b, b_len);
	return out;
}

Test(agent_msg, build_splits_into_chunks_of_at_most_2048_bytes)
{
	size_t len;
	uint8_t *body = pattern(5000, 1);
	uint8_t *bytes = zs_agent_msg_build(VDP_CLIENT_PORT,
		VD_AGENT_CLIPBOARD, "\1\0\0\0", 4, body, 5000, &len);

	cr_assert_not_null(bytes);
	size_t pos = 0, chunks = 0, data = 0;
	while (pos < len) {
		uint32_t port = get_le32(bytes + pos);
		uint32_t size = get_le32(bytes + pos + 4);
		cr_assert_eq(port, VDP_CLIENT_PORT);
		cr_assert_leq(size, ZS_AGENT_CHUNK_MAX_BYTES);
		pos += 8 + size;
		data += size;
		chunks++;
	}
	cr_assert_eq(pos, len);
	cr_assert_eq(data, 20 + 4 + 5000);
	cr_assert_eq(chunks, 3);
	free(bytes);
	free(body);
}

Test(agent_msg, reassembles_messages_across_chunks_and_any_feed_split)
{
	size_t a_len, b_len;
	uint8_t *body = pattern(7000, 2);
	uint8_t *a = zs_agent_msg_build(VDP_CLIENT_PORT, VD_AGENT_CLIPBOARD,
		NULL, 0, body, 7000, &a_len);
	uint8_t *b = zs_agent_msg_build(VDP_SERVER_PORT, VD_AGENT_MOUSE_STATE,
		"0123456789abc", 13, NULL, 0, &b_len);
	uint8_t *all = concat(a, a_len, b, b_len);
	size_t len = a_len + b_len;
	char err[160];

	static const size_t steps[] = { 1, 3, 7, 8, 20, 2047, 2056, 65536 };
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		struct zs_agent_msg_reader r;
		struct seen seen = { 0 };
		zs_agent_msg_reader_init(&r, 1u << 20);
		for (size_t off = 0; off < len; off += steps[s]) {
			size_t n = len - off < steps[s] ? len - off : steps[s];
			cr_assert(zs_agent_msg_reader_feed(&r, all + off, n,
				record, &seen, err, sizeof(err)), "%s", err);
		}
		cr_assert(zs_agent_msg_reader_idle(&r));
		cr_assert_eq(seen.n, 2, "step %zu", steps[s]);
		cr_assert_eq(seen.m[0].port, VDP_CLIENT_PORT);
		cr_assert_eq(seen.m[0].type, VD_AGENT_CLIPBOARD);
		cr_assert_eq(seen.m[0].size, 7000);
		cr_assert_arr_eq(seen.m[0].data, body, 7000);
		cr_assert_eq(seen.m[1].port, VDP_SERVER_PORT);
		cr_assert_eq(seen.m[1].size, 13);
		cr_assert_arr_eq(seen.m[1].data, "0123456789abc", 13);
		seen_free(&seen);
		zs_agent_msg_reader_finish(&r);
	}
	free(all);
	free(a);
	free(b);
	free(body);
}

/* spice-server interleaves its own (server port) messages between the chunks
 * of a long client message. */
Test(agent_msg, keeps_ports_apart_when_chunks_interleave)
{
	size_t a_len, b_len;
	uint8_t *body = pattern(3000, 3);
	uint8_t *a = zs_agent_msg_build(VDP_CLIENT_PORT, VD_AGENT_CLIPBOARD,
		NULL, 0, body, 3000, &a_len);
	uint8_t *b = zs_agent_msg_build(VDP_SERVER_PORT,
		VD_AGENT_CLIENT_DISCONNECTED, NULL, 0, NULL, 0, &b_len);
	/* a's first chunk (8 + 2048), then b, then a's second chunk */
	size_t first = 8 + 2048;
	uint8_t *all = malloc(a_len + b_len);
	memcpy(all, a, first);
	memcpy(all + first, b, b_len);
	memcpy(all + first + b_len, a + first, a_len - first);
	struct zs_agent_msg_reader r;
	struct seen seen = { 0 };
	char err[160];

	zs_agent_msg_reader_init(&r, 1u << 20);
	cr_assert(zs_agent_msg_reader_feed(&r, all, a_len + b_len, record,
		&seen, err, sizeof(err)), "%s", err);
	cr_assert_eq(seen.n, 2);
	cr_assert_eq(seen.m[0].type, VD_AGENT_CLIENT_DISCONNECTED);
	cr_assert_eq(seen.m[1].type, VD_AGENT_CLIPBOARD);
	cr_assert_arr_eq(seen.m[1].data, body, 3000);
	seen_free(&seen);
	zs_agent_msg_reader_finish(&r);
	free(all);
	free(a);
	free(b);
	free(body);
}

Test(agent_msg, refuses_a_chunk_over_2048_bytes)
{
	uint8_t bytes[8] = { VDP_CLIENT_PORT, 0, 0, 0, 0x01, 0x08, 0, 0 };
	struct zs_agent_msg_reader r;
	struct seen seen = { 0 };
	char err[160] = "";

	zs_agent_msg_reader_init(&r, 1u << 20);
	cr_assert_not(zs_agent_msg_reader_feed(&r, bytes, sizeof(bytes),
		record, &seen, err, sizeof(err)));
	cr_assert(strstr(err, "2049") != NULL, "%s", err);
	/* and stays failed */
	cr_assert_not(zs_agent_msg_reader_feed(&r, bytes, 1, record, &seen,
		err, sizeof(err)));
	cr_assert_eq(seen.n, 0);
	zs_agent_msg_reader_finish(&r);
}

Test(agent_msg, refuses_unknown_port_and_wrong_protocol)
{
	uint8_t port[8] = { 7, 0, 0, 0, 4, 0, 0, 0 };
	size_t len;
	uint8_t *msg = zs_agent_msg_build(VDP_CLIENT_PORT, VD_AGENT_CLIPBOARD,
		"abcd", 4, NULL, 0, &len);
	struct zs_agent_msg_reader r;
	char err[160];

	zs_agent_msg_reader_init(&r, 1024);
	cr_assert_not(zs_agent_msg_reader_feed(&r, port, sizeof(port), NULL,
		NULL, err, sizeof(err)));
	zs_agent_msg_reader_finish(&r);

	msg[8] = 2; /* protocol 2 */
	zs_agent_msg_reader_init(&r, 1024);
	cr_assert_not(zs_agent_msg_reader_feed(&r, msg, len, NULL, NULL, err,
		sizeof(err)));
	cr_assert(strstr(err, "protocol") != NULL, "%s", err);
	zs_agent_msg_reader_finish(&r);
	free(msg);
}

/* An oversized message is skipped as a whole (reported without data) and
 * the next one arrives intact. */
Test(agent_msg, skips_an_oversized_message_and_stays_in_step)
{
	size_t a_len, b_len;
	uint8_t *big = pattern(4096, 4);
	uint8_t *a = zs_agent_msg_build(VDP_CLIENT_PORT, VD_AGENT_CLIPBOARD,
		NULL, 0, big, 4096, &a_len);
	uint8_t *b = zs_agent_msg_build(VDP_CLIENT_PORT,
		VD_AGENT_CLIPBOARD_RELEASE, "\0\0\0\0", 4, NULL, 0, &b_len);
	uint8_t *all = concat(a, a_len, b, b_len);
	struct zs_agent_msg_reader r;
	struct seen seen = { 0 };
	char err[160];

	zs_agent_msg_reader_init(&r, 1000);
	cr_assert(zs_agent_msg_reader_feed(&r, all, a_len + b_len, record,
		&seen, err, sizeof(err)), "%s", err);
	cr_assert_eq(seen.n, 2);
	cr_assert(seen.m[0].dropped);
	cr_assert_eq(seen.m[0].size, 4096);
	cr_assert_not(seen.m[1].dropped);
	cr_assert_eq(seen.m[1].type, VD_AGENT_CLIPBOARD_RELEASE);
	seen_free(&seen);
	zs_agent_msg_reader_finish(&r);
	free(all);
	free(a);
	free(b);
	free(big);
}

/* A stream that closes mid-message delivers nothing of it, shows as not
 * idle, and a fresh reader for the next stream starts clean. */
Test(agent_msg, stream_closing_mid_message_delivers_nothing_of_it)
{
	size_t len;
	uint8_t *body = pattern(5000, 5);
	uint8_t *msg = zs_agent_msg_build(VDP_CLIENT_PORT, VD_AGENT_CLIPBOARD,
		NULL, 0, body, 5000, &len);
	struct zs_agent_msg_reader r;
	struct seen seen = { 0 };
	char err[160];

	zs_agent_msg_reader_init(&r, 1u << 20);
	cr_assert(zs_agent_msg_reader_feed(&r, msg, len / 2, record, &seen,
		err, sizeof(err)));
	cr_assert_eq(seen.n, 0);
	cr_assert_not(zs_agent_msg_reader_idle(&r));
	zs_agent_msg_reader_finish(&r); /* frees the partial message */

	zs_agent_msg_reader_init(&r, 1u << 20);
	cr_assert(zs_agent_msg_reader_feed(&r, msg, len, record, &seen, err,
		sizeof(err)));
	cr_assert_eq(seen.n, 1);
	cr_assert_arr_eq(seen.m[0].data, body, 5000);
	seen_free(&seen);
	zs_agent_msg_reader_finish(&r);
	free(msg);
	free(body);
}

Test(agent_msg, empty_message_is_delivered)
{
	size_t len;
	uint8_t *msg = zs_agent_msg_build(VDP_SERVER_PORT,
		VD_AGENT_CLIENT_DISCONNECTED, NULL, 0, NULL, 0, &len);
	struct zs_agent_msg_reader r;
	struct seen seen = { 0 };
	char err[160];

	cr_assert_eq(len, 28);
	zs_agent_msg_reader_init(&r, 16);
	cr_assert(zs_agent_msg_reader_feed(&r, msg, len, record, &seen, err,
		sizeof(err)));
	cr_assert_eq(seen.n, 1);
	cr_assert_not(seen.m[0].dropped);
	cr_assert_eq(seen.m[0].size, 0);
	seen_free(&seen);
	zs_agent_msg_reader_finish(&r);
	free(msg);
}

Test(agent_msg, parses_capabilities)
{
	uint8_t data[12] = { 1, 0, 0, 0 };
	uint32_t caps[4];
	bool request;

	data[4] = 1u << VD_AGENT_CAP_CLIPBOARD_BY_DEMAND |
		1u << VD_AGENT_CAP_CLIPBOARD_SELECTION;
	cr_assert(zs_agent_parse_caps(data, sizeof(data), &request, caps, 4));
	cr_assert(request);
	cr_assert(zs_agent_has_cap(caps, 4, VD_AGENT_CAP_CLIPBOARD_SELECTION));
	cr_assert_not(zs_agent_has_cap(caps, 4, VD_AGENT_CAP_MOUSE_STATE));
	cr_assert_not(zs_agent_has_cap(caps, 4, 200));
	cr_assert_not(zs_agent_parse_caps(data, 3, &request, caps, 4));
}

Test(agent_msg, parses_clipboard_messages_with_and_without_selection)
{
	struct zs_agent_clipboard c;
	/* GRAB, selection 1, types { PNG, UTF8_TEXT } */
	const uint8_t grab[] = { 1, 0, 0, 0, VD_AGENT_CLIPBOARD_IMAGE_PNG, 0,
		0, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT, 0, 0, 0 };
	cr_assert(zs_agent_parse_clipboard(VD_AGENT_CLIPBOARD_GRAB, grab,
		sizeof(grab), true, &c));
	cr_assert_eq(c.selection, 1);
	cr_assert(c.has_text);
	cr_assert(zs_agent_parse_clipboard(VD_AGENT_CLIPBOARD_GRAB, grab + 4,
		4, false, &c));
	cr_assert_not(c.has_text);

	/* CLIPBOARD without selection: type + data */
	const uint8_t data[] = { VD_AGENT_CLIPBOARD_UTF8_TEXT, 0, 0, 0, 'h',
		'i' };
	cr_assert(zs_agent_parse_clipboard(VD_AGENT_CLIPBOARD, data,
		sizeof(data), false, &c));
	cr_assert_eq(c.data_type, VD_AGENT_CLIPBOARD_UTF8_TEXT);
	cr_assert_eq(c.data_len, 2);
	cr_assert_eq(memcmp(c.data, "hi", 2), 0);

	/* truncated ones are refused */
	cr_assert_not(zs_agent_parse_clipboard(VD_AGENT_CLIPBOARD, data, 3,
		false, &c));
	cr_assert_not(zs_agent_parse_clipboard(VD_AGENT_CLIPBOARD_REQUEST,
		data, 2, true, &c));
	cr_assert_not(zs_agent_parse_clipboard(VD_AGENT_MOUSE_STATE, data,
		sizeof(data), false, &c));

	uint8_t head[8];
	cr_assert_eq(zs_agent_put_clipboard_head(head, true, 2, true,
		VD_AGENT_CLIPBOARD_UTF8_TEXT), 8);
	cr_assert_eq(head[0], 2);
	cr_assert_eq(get_le32(head + 4), VD_AGENT_CLIPBOARD_UTF8_TEXT);
	cr_assert_eq(zs_agent_put_clipboard_head(head, false, 2, false, 0), 0);
}

/* The messages the bridge carries without reading them, in the shapes
 * their senders give them: spice-gtk's display config and volume sync
 * (client port) and spice-server's graphics device info (server port,
 * written when the agent announces the capability). Each must come out
 * whole and unchanged, alone and behind a message of the other port cut
 * into chunks. */
struct carried_case {
	const char *name;
	uint32_t port, type;
	const uint8_t *body;
	size_t len;
};

Test(agent_msg, carries_display_config_volume_sync_and_device_info_unchanged)
{
	/* VDAgentDisplayConfig: flags (wallpaper | animation), depth 32 */
	static const uint8_t display_config[] = { 0x05, 0, 0, 0, 32, 0, 0, 0 };
	/* VDAgentAudioVolumeSync: playback, not muted, 2 channels of u16 */
	static const uint8_t volume_sync[] = { 1, 0, 2, 0x00, 0x80, 0xff, 0xff };
	/* VDAgentGraphicsDeviceInfo: count 1, {channel 0, monitor 0,
	 * device display id 0, name length 11, "pci/0000/2.0" cut to 11} */
	static const uint8_t device_info[] = { 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 12, 0, 0, 0, 'p', 'c', 'i', '/', '0', '0', '0',
		'0', '/', '2', '.', 0 };
	/* no device info: what zerospice's stub gives (count 0) */
	static const uint8_t no_device_info[] = { 0, 0, 0, 0 };
	const struct carried_case cases[] = {
		{ "display config", VDP_CLIENT_PORT, VD_AGENT_DISPLAY_CONFIG,
		  display_config, sizeof(display_config) },
		{ "volume sync", VDP_CLIENT_PORT, VD_AGENT_AUDIO_VOLUME_SYNC,
		  volume_sync, sizeof(volume_sync) },
		{ "device info", VDP_SERVER_PORT, VD_AGENT_GRAPHICS_DEVICE_INFO,
		  device_info, sizeof(device_info) },
		{ "no device info", VDP_SERVER_PORT,
		  VD_AGENT_GRAPHICS_DEVICE_INFO, no_device_info,
		  sizeof(no_device_info) },
	};
	char err[160];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct carried_case *c = &cases[i];
		uint32_t other = c->port == VDP_CLIENT_PORT ? VDP_SERVER_PORT :
							     VDP_CLIENT_PORT;
		size_t big_len, msg_len;
		uint8_t *big_body = pattern(5000, (uint32_t)i);
		uint8_t *big = zs_agent_msg_build(other, VD_AGENT_CLIPBOARD,
			NULL, 0, big_body, 5000, &big_len);
		uint8_t *msg = zs_agent_msg_build(c->port, c->type, NULL, 0,
			c->body, c->len, &msg_len);
		cr_assert_not_null(msg);
		/* the message between the first and second chunk of the big
		 * one (2048 data bytes + 8 header bytes) */
		size_t cut = 8 + ZS_AGENT_CHUNK_MAX_BYTES;
		uint8_t *head = concat(big, cut, msg, msg_len);
		uint8_t *all = concat(head, cut + msg_len, big + cut,
			big_len - cut);
		size_t len = big_len + msg_len;

		for (size_t step = 1; step <= len; step = step * 3 + 1) {
			struct zs_agent_msg_reader r;
			struct seen seen = { 0 };
			zs_agent_msg_reader_init(&r, 1u << 20);
			for (size_t off = 0; off < len; off += step) {
				size_t n = len - off < step ? len - off : step;
				cr_assert(zs_agent_msg_reader_feed(&r, all + off,
					n, record, &seen, err, sizeof(err)),
					"%s: %s", c->name, err);
			}
			cr_assert(zs_agent_msg_reader_idle(&r));
			cr_assert_eq(seen.n, 2, "%s, step %zu", c->name, step);
			/* the short message is whole before the long one ends */
			cr_assert_eq(seen.m[0].port, c->port, "%s", c->name);
			cr_assert_eq(seen.m[0].type, c->type, "%s", c->name);
			cr_assert_eq(seen.m[0].size, c->len, "%s", c->name);
			cr_assert_arr_eq(seen.m[0].data, c->body, c->len, "%s",
				c->name);
			cr_assert_eq(seen.m[1].size, 5000);
			cr_assert_arr_eq(seen.m[1].data, big_body, 5000);
			seen_free(&seen);
			zs_agent_msg_reader_finish(&r);
		}
		free(all);
		free(head);
		free(msg);
		free(big);
		free(big_body);
	}
}
