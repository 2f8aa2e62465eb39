/* The main-channel clock relay's parser (server/relay.c). */
#include <time.h>

#include <criterion/criterion.h>

#include "relay-session.h"
#include "relay.h"

#define NOW_MS 1000000u
#define SERVER_MM_TIME (NOW_MS - 400) /* what spice-server writes */

static char err[256];

static uint32_t le32_at(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		(uint32_t)p[3] << 24;
}

/* Feeds spice-server's bytes and writes what the parser lets through back
 * over them: for feeds that end where nothing is held back. */
static enum zs_relay_status feed_s2c(struct zs_relay_parser *p, uint8_t *buf,
	size_t len, uint32_t now_ms, char *e, size_t e_len)
{
	static uint8_t out[sizeof(((struct zs_test_bytes *)0)->data) +
		ZS_RELAY_S2C_SLACK_BYTES];
	size_t out_len = 0;
	cr_assert_leq(len, sizeof(out) - ZS_RELAY_S2C_SLACK_BYTES);
	enum zs_relay_status st = zs_relay_feed_s2c(p, buf, len, out, &out_len,
		now_ms, e, e_len);
	cr_assert_leq(out_len, len, "feed_s2c: %zu bytes out of %zu in",
		out_len, len);
	memcpy(buf, out, out_len);
	return st;
}

/* Feeds spice-server's bytes and appends what the parser lets through to
 * *acc. */
static enum zs_relay_status feed_s2c_acc(struct zs_relay_parser *p,
	const uint8_t *buf, size_t len, struct zs_test_bytes *acc)
{
	uint8_t out[sizeof(acc->data) + ZS_RELAY_S2C_SLACK_BYTES];
	size_t out_len = 0;
	enum zs_relay_status st = zs_relay_feed_s2c(p, buf, len, out, &out_len,
		NOW_MS, err, sizeof(err));
	cr_assert_leq(out_len, len + ZS_RELAY_S2C_SLACK_BYTES);
	zs_test_put(acc, out, out_len);
	return st;
}

/* A client that linked: its bytes fed, all accepted. */
static void link_client(struct zs_relay_parser *p, bool mini)
{
	struct zs_test_bytes c = { .len = 0 };
	zs_test_client_link(&c, SPICE_CHANNEL_MAIN, 0, mini, true);
	cr_assert_eq(zs_relay_feed_c2s(p, c.data, c.len, err, sizeof(err)),
		ZS_RELAY_OK, "%s", err);
	cr_assert(p->link_done);
	cr_assert_eq(p->channel_type, SPICE_CHANNEL_MAIN);
}

/* spice-server's side of a session: link reply, result, INIT, NAME,
 * MULTI_MEDIA_TIME. Offsets of the two clock fields go to *init_at and
 * *mm_at. */
static void server_session(struct zs_test_bytes *s, bool mini,
	size_t *init_at, size_t *mm_at)
{
	zs_test_server_link(s, SPICE_LINK_ERR_OK, SPICE_LINK_ERR_OK);
	size_t hdr = mini ? ZS_RELAY_MINI_HEADER_BYTES :
		ZS_RELAY_FULL_HEADER_BYTES;
	*init_at = s->len + hdr + ZS_RELAY_INIT_MM_TIME_OFFSET;
	zs_test_main_init(s, mini, 1, SERVER_MM_TIME);
	zs_test_name(s, mini, 2);
	*mm_at = s->len + hdr;
	zs_test_mm_time(s, mini, 3, SERVER_MM_TIME + 50);
}

Test(relay, rewrites_main_init_and_mm_time_with_mini_headers)
{
	struct zs_relay_parser p;
	struct zs_test_bytes s = { .len = 0 }, orig;
	size_t init_at, mm_at;
	zs_relay_parser_init(&p, true, 0);
	link_client(&p, true);
	server_session(&s, true, &init_at, &mm_at);
	orig = s;
	cr_assert_eq(feed_s2c(&p, s.data, s.len, NOW_MS, err,
		sizeof(err)), ZS_RELAY_OK, "%s", err);
	cr_assert_eq(le32_at(s.data + init_at), NOW_MS);
	cr_assert_eq(le32_at(s.data + mm_at), NOW_MS);
	cr_assert_eq(p.rewrites, 2);
	cr_assert_eq(p.last_orig_mm_time, SERVER_MM_TIME + 50);
	/* every other byte is untouched */
	for (size_t i = 0; i < s.len; i++) {
		if ((i >= init_at && i < init_at + 4) || (i >= mm_at && i < mm_at + 4))
			continue;
		cr_assert_eq(s.data[i], orig.data[i], "byte %zu changed", i);
	}
	cr_assert(zs_relay_following(&p));
}

Test(relay, rewrites_with_full_headers_when_the_client_lacks_mini_header)
{
	struct zs_relay_parser p;
	struct zs_test_bytes s = { .len = 0 };
	size_t init_at, mm_at;
	zs_relay_parser_init(&p, true, 7);
	link_client(&p, false);
	cr_assert_not(p.client_mini_header);
	server_session(&s, false, &init_at, &mm_at);
	cr_assert_eq(feed_s2c(&p, s.data, s.len, NOW_MS, err,
		sizeof(err)), ZS_RELAY_OK, "%s", err);
	/* with the bias, the client clock runs 7 ms behind ours */
	cr_assert_eq(le32_at(s.data + init_at), NOW_MS - 7);
	cr_assert_eq(le32_at(s.data + mm_at), NOW_MS - 7);
	cr_assert_eq(p.messages, 3);
}

/* The same session cut into two pieces at every byte boundary, and fed
 * byte by byte, gives the same bytes as fed whole; with and without a
 * CHANNELS_LIST to rewrite in it. */
Test(relay, split_reads_at_every_byte_boundary_give_the_same_bytes)
{
	for (int variant = 0; variant < 4; variant++) {
		bool mini = variant & 1, list = variant & 2;
		struct zs_test_bytes c = { .len = 0 }, s = { .len = 0 };
		struct zs_test_bytes whole = { .len = 0 };
		size_t init_at, mm_at;
		zs_test_client_link(&c, SPICE_CHANNEL_MAIN, 0, mini, true);
		server_session(&s, mini, &init_at, &mm_at);
		if (list)
			zs_test_channels_list(&s, mini, 4,
				zs_test_zerospice_channels, 7);
		zs_test_name(&s, mini, 5);
		struct zs_relay_parser p;
		zs_relay_parser_init(&p, true, 0);
		link_client(&p, mini);
		cr_assert_eq(feed_s2c_acc(&p, s.data, s.len, &whole), ZS_RELAY_OK,
			"%s", err);
		cr_assert_eq(whole.len, s.len - (list ? 4 : 0));
		cr_assert_eq(zs_relay_s2c_held(&p), 0);

		for (size_t cut = 0; cut <= s.len; cut++) {
			struct zs_test_bytes t = { .len = 0 };
			zs_relay_parser_init(&p, true, 0);
			/* the client side split too */
			size_t ccut = cut % (c.len + 1);
			cr_assert_eq(zs_relay_feed_c2s(&p, c.data, ccut, err,
				sizeof(err)), ZS_RELAY_OK);
			cr_assert_eq(zs_relay_feed_c2s(&p, c.data + ccut,
				c.len - ccut, err, sizeof(err)), ZS_RELAY_OK);
			cr_assert_eq(feed_s2c_acc(&p, s.data, cut, &t), ZS_RELAY_OK,
				"cut %zu: %s", cut, err);
			/* out, held back, or dropped from the list */
			cr_assert_eq(t.len + zs_relay_s2c_held(&p) +
				2 * p.hidden_channels, cut, "cut %zu", cut);
			cr_assert_eq(feed_s2c_acc(&p, s.data + cut, s.len - cut, &t),
				ZS_RELAY_OK, "cut %zu: %s", cut, err);
			cr_assert_eq(t.len, whole.len, "variant %d, cut %zu", variant,
				cut);
			cr_assert_arr_eq(t.data, whole.data, whole.len,
				"variant %d, cut at %zu differs", variant, cut);
			cr_assert_eq(p.rewrites, 2);
			cr_assert_eq(p.hidden_channels, list ? 2 : 0);
		}

		struct zs_test_bytes t = { .len = 0 };
		zs_relay_parser_init(&p, true, 0);
		for (size_t i = 0; i < c.len; i++)
			cr_assert_eq(zs_relay_feed_c2s(&p, c.data + i, 1, err,
				sizeof(err)), ZS_RELAY_OK);
		for (size_t i = 0; i < s.len; i++)
			cr_assert_eq(feed_s2c_acc(&p, s.data + i, 1, &t),
				ZS_RELAY_OK);
		cr_assert_eq(t.len, whole.len);
		cr_assert_arr_eq(t.data, whole.data, whole.len);
	}
}

/* The stub QXL's display:1 and cursor:1 leave the list; the header's
 * size and the count follow; nothing else changes. */
Test(relay, channels_list_loses_the_stub_qxl_channels)
{
	for (int variant = 0; variant < 4; variant++) {
		bool mini = variant & 1, clock = variant & 2;
		struct zs_relay_parser p;
		struct zs_test_bytes s = { .len = 0 }, out = { .len = 0 };
		struct zs_test_bytes want = { .len = 0 };
		zs_relay_parser_init(&p, clock, 0);
		link_client(&p, mini);
		zs_test_server_link(&s, SPICE_LINK_ERR_OK, SPICE_LINK_ERR_OK);
		size_t at = s.len;
		zs_test_channels_list(&s, mini, 7, zs_test_zerospice_channels, 7);
		zs_test_name(&s, mini, 8);
		cr_assert_eq(feed_s2c_acc(&p, s.data, s.len, &out), ZS_RELAY_OK,
			"%s", err);
		const uint8_t kept[][2] = {
			{ SPICE_CHANNEL_MAIN, 0 }, { SPICE_CHANNEL_DISPLAY, 0 },
			{ SPICE_CHANNEL_INPUTS, 0 }, { SPICE_CHANNEL_CURSOR, 0 },
			{ SPICE_CHANNEL_PLAYBACK, 0 },
		};
		zs_test_put(&want, s.data, at);
		zs_test_channels_list(&want, mini, 7, kept, 5);
		zs_test_name(&want, mini, 8);
		cr_assert_eq(out.len, want.len);
		cr_assert_arr_eq(out.data, want.data, want.len, "variant %d",
			variant);
		cr_assert_eq(p.hidden_channels, 2);
		cr_assert(zs_relay_following(&p));
	}
}

/* The output may trail the input in one buffer by the slack: what
 * front.c does. */
Test(relay, writes_in_place_behind_its_input)
{
	struct zs_relay_parser p;
	struct zs_test_bytes s = { .len = 0 }, ref = { .len = 0 };
	zs_relay_parser_init(&p, true, 0);
	link_client(&p, true);
	zs_test_server_link(&s, SPICE_LINK_ERR_OK, SPICE_LINK_ERR_OK);
	zs_test_channels_list(&s, true, 1, zs_test_zerospice_channels, 7);
	zs_test_name(&s, true, 2);
	cr_assert_eq(feed_s2c_acc(&p, s.data, s.len, &ref), ZS_RELAY_OK);
	static uint8_t buf[ZS_RELAY_S2C_SLACK_BYTES + 4096];
	/* in pieces of 5: each piece read past the gap, output at the end */
	size_t end = 0;
	zs_relay_parser_init(&p, true, 0);
	link_client(&p, true);
	for (size_t off = 0; off < s.len; off += 5) {
		size_t n = s.len - off < 5 ? s.len - off : 5, out_len;
		memcpy(buf + end + ZS_RELAY_S2C_SLACK_BYTES, s.data + off, n);
		cr_assert_eq(zs_relay_feed_s2c(&p, buf + end +
			ZS_RELAY_S2C_SLACK_BYTES, n, buf + end, &out_len, NOW_MS,
			err, sizeof(err)), ZS_RELAY_OK);
		end += out_len;
	}
	cr_assert_eq(end, ref.len);
	cr_assert_arr_eq(buf, ref.data, ref.len);
}

Test(relay, refuses_links_to_the_stub_qxl_channels)
{
	const uint8_t cases[][3] = {
		/* type, id, refused */
		{ SPICE_CHANNEL_DISPLAY, 1, 1 },
		{ SPICE_CHANNEL_CURSOR, 1, 1 },
		{ SPICE_CHANNEL_DISPLAY, 0, 0 },
		{ SPICE_CHANNEL_CURSOR, 0, 0 },
		{ SPICE_CHANNEL_INPUTS, 1, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct zs_relay_parser p;
		struct zs_test_bytes c = { .len = 0 };
		zs_relay_parser_init(&p, true, 0);
		zs_test_client_link(&c, cases[i][0], 0x1234, true, true);
		/* the channel id: the byte after the type */
		c.data[ZS_RELAY_LINK_HEADER_BYTES + 5] = cases[i][1];
		enum zs_relay_status st = zs_relay_feed_c2s(&p, c.data, c.len,
			err, sizeof(err));
		cr_assert_eq(zs_relay_channel_hidden(cases[i][0], cases[i][1]),
			cases[i][2]);
		if (cases[i][2]) {
			cr_assert_eq(st, ZS_RELAY_REFUSE, "case %zu", i);
			cr_assert_eq(p.link_error,
				SPICE_LINK_ERR_CHANNEL_NOT_AVAILABLE);
			cr_assert(strstr(err, "not offered"), "%s", err);
		} else {
			cr_assert_eq(st, ZS_RELAY_OK, "case %zu: %s", i, err);
			cr_assert(p.link_done);
		}
	}
}

Test(relay, oversized_channels_list_is_an_error)
{
	struct zs_relay_parser p;
	struct zs_test_bytes s = { .len = 0 };
	zs_relay_parser_init(&p, true, 0);
	link_client(&p, true);
	zs_test_server_link(&s, SPICE_LINK_ERR_OK, SPICE_LINK_ERR_OK);
	zs_test_msg_header(&s, true, 1, SPICE_MSG_MAIN_CHANNELS_LIST,
		ZS_RELAY_MAX_HELD_BYTES + 1);
	struct zs_test_bytes out = { .len = 0 };
	cr_assert_eq(feed_s2c_acc(&p, s.data, s.len, &out), ZS_RELAY_ERROR);
	cr_assert(strstr(err, "channel list"), "%s", err);
}

/* A list that does not parse goes out as it came. */
Test(relay, malformed_channels_list_passes_unchanged)
{
	struct zs_relay_parser p;
	struct zs_test_bytes s = { .len = 0 }, out = { .len = 0 };
	zs_relay_parser_init(&p, true, 0);
	link_client(&p, true);
	zs_test_server_link(&s, SPICE_LINK_ERR_OK, SPICE_LINK_ERR_OK);
	zs_test_msg_header(&s, true, 1, SPICE_MSG_MAIN_CHANNELS_LIST, 6);
	zs_test_u32(&s, 9); /* 9 channels in 2 bytes */
	zs_test_u16(&s, 0x0102);
	cr_assert_eq(feed_s2c_acc(&p, s.data, s.len, &out), ZS_RELAY_OK);
	cr_assert_eq(out.len, s.len);
	cr_assert_arr_eq(out.data, s.data, s.len);
	cr_assert_eq(p.hidden_channels, 0);
}

Test(relay, clock_fix_off_passes_every_byte)
{
	struct zs_relay_parser p;
	struct zs_test_bytes s = { .len = 0 }, orig;
	size_t init_at, mm_at;
	zs_relay_parser_init(&p, false, 0);
	link_client(&p, true);
	server_session(&s, true, &init_at, &mm_at);
	orig = s;
	cr_assert_eq(feed_s2c(&p, s.data, s.len, NOW_MS, err,
		sizeof(err)), ZS_RELAY_OK);
	cr_assert_arr_eq(s.data, orig.data, s.len);
	cr_assert_eq(p.rewrites, 0);
	uint8_t msg[ZS_RELAY_RESYNC_BYTES];
	cr_assert_eq(zs_relay_take_resync(&p, NOW_MS, msg), 0);
}

Test(relay, other_channels_pass_untouched)
{
	struct zs_relay_parser p;
	struct zs_test_bytes c = { .len = 0 }, s = { .len = 0 }, orig;
	size_t init_at, mm_at;
	zs_relay_parser_init(&p, true, 0);
	zs_test_client_link(&c, SPICE_CHANNEL_DISPLAY, 0x1234, true, true);
	cr_assert_eq(zs_relay_feed_c2s(&p, c.data, c.len, err, sizeof(err)),
		ZS_RELAY_OK);
	cr_assert(p.link_done);
	cr_assert_eq(p.channel_type, SPICE_CHANNEL_DISPLAY);
	server_session(&s, true, &init_at, &mm_at);
	orig = s;
	cr_assert_eq(feed_s2c(&p, s.data, s.len, NOW_MS, err,
		sizeof(err)), ZS_RELAY_OK);
	cr_assert_arr_eq(s.data, orig.data, s.len);
}

Test(relay, a_refused_link_passes_the_servers_answer_untouched)
{
	/* wrong ticket: spice-server answers the link, then a non-OK result */
	struct zs_relay_parser p;
	struct zs_test_bytes s = { .len = 0 }, orig;
	zs_relay_parser_init(&p, true, 0);
	link_client(&p, true);
	zs_test_server_link(&s, SPICE_LINK_ERR_OK,
		SPICE_LINK_ERR_PERMISSION_DENIED);
	zs_test_main_init(&s, true, 1, SERVER_MM_TIME); /* not a message now */
	orig = s;
	cr_assert_eq(feed_s2c(&p, s.data, s.len, NOW_MS, err,
		sizeof(err)), ZS_RELAY_OK);
	cr_assert_arr_eq(s.data, orig.data, s.len);
	cr_assert_eq(p.rewrites, 0);

	/* a link error reply */
	zs_relay_parser_init(&p, true, 0);
	link_client(&p, true);
	s.len = 0;
	zs_test_server_link(&s, SPICE_LINK_ERR_NEED_SECURED, 0);
	zs_test_main_init(&s, true, 1, SERVER_MM_TIME);
	orig = s;
	cr_assert_eq(feed_s2c(&p, s.data, s.len, NOW_MS, err,
		sizeof(err)), ZS_RELAY_OK);
	cr_assert_arr_eq(s.data, orig.data, s.len);
}

Test(relay, sasl_chosen_by_the_client_passes_untouched)
{
	struct zs_relay_parser p;
	struct zs_test_bytes c = { .len = 0 }, s = { .len = 0 }, orig;
	zs_relay_parser_init(&p, true, 0);
	zs_test_client_link(&c, SPICE_CHANNEL_MAIN, 0, true, false);
	/* rebuild with AUTH_SELECTION by hand and a SASL mechanism */
	c.len = 0;
	zs_test_u32(&c, SPICE_MAGIC);
	zs_test_u32(&c, 2);
	zs_test_u32(&c, 2);
	zs_test_u32(&c, 22);
	zs_test_u32(&c, 0);
	zs_test_u16(&c, SPICE_CHANNEL_MAIN);
	zs_test_u32(&c, 1);
	zs_test_u32(&c, 0);
	zs_test_u32(&c, 18);
	zs_test_u32(&c, (1u << SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION) |
		(1u << SPICE_COMMON_CAP_AUTH_SASL) |
		(1u << SPICE_COMMON_CAP_MINI_HEADER));
	zs_test_u32(&c, SPICE_COMMON_CAP_AUTH_SASL);
	cr_assert_eq(zs_relay_feed_c2s(&p, c.data, c.len, err, sizeof(err)),
		ZS_RELAY_OK, "%s", err);
	cr_assert_eq(p.auth_mechanism, SPICE_COMMON_CAP_AUTH_SASL);
	zs_test_server_link(&s, SPICE_LINK_ERR_OK, SPICE_LINK_ERR_OK);
	zs_test_main_init(&s, true, 1, SERVER_MM_TIME);
	orig = s;
	cr_assert_eq(feed_s2c(&p, s.data, s.len, NOW_MS, err,
		sizeof(err)), ZS_RELAY_OK);
	cr_assert_arr_eq(s.data, orig.data, s.len);
	cr_assert_not(zs_relay_following(&p));
}

Test(relay, refuses_a_main_channel_that_asks_to_be_a_migration_target)
{
	struct zs_relay_parser p;
	struct zs_test_bytes c = { .len = 0 };
	zs_relay_parser_init(&p, true, 0);
	zs_test_client_link(&c, SPICE_CHANNEL_MAIN, 0xbeef, true, true);
	cr_assert_eq(zs_relay_feed_c2s(&p, c.data, c.len, err, sizeof(err)),
		ZS_RELAY_REFUSE);
	cr_assert_eq(p.link_error, SPICE_LINK_ERR_BAD_CONNECTION_ID);
	cr_assert(strstr(err, "migration"), "%s", err);
	cr_assert_not(p.link_done);
}

Test(relay, refuses_oversized_and_malformed_link_messages)
{
	struct zs_relay_parser p;
	struct zs_test_bytes c;

	/* header claims 4097 bytes */
	zs_relay_parser_init(&p, true, 0);
	c.len = 0;
	zs_test_u32(&c, SPICE_MAGIC);
	zs_test_u32(&c, 2);
	zs_test_u32(&c, 2);
	zs_test_u32(&c, ZS_RELAY_MAX_LINK_BYTES + 1);
	cr_assert_eq(zs_relay_feed_c2s(&p, c.data, c.len, err, sizeof(err)),
		ZS_RELAY_REFUSE);
	cr_assert_eq(p.link_error, SPICE_LINK_ERR_INVALID_DATA);
	cr_assert(strstr(err, "4097"), "%s", err);
	/* nothing more is taken after a refusal */
	cr_assert_eq(zs_relay_feed_c2s(&p, c.data, 1, err, sizeof(err)),
		ZS_RELAY_ERROR);

	/* too short for a SpiceLinkMess */
	zs_relay_parser_init(&p, true, 0);
	c.len = 0;
	zs_test_u32(&c, SPICE_MAGIC);
	zs_test_u32(&c, 2);
	zs_test_u32(&c, 2);
	zs_test_u32(&c, 17);
	cr_assert_eq(zs_relay_feed_c2s(&p, c.data, c.len, err, sizeof(err)),
		ZS_RELAY_REFUSE);

	/* another protocol version */
	zs_relay_parser_init(&p, true, 0);
	c.len = 0;
	zs_test_u32(&c, SPICE_MAGIC);
	zs_test_u32(&c, 1);
	zs_test_u32(&c, 0);
	zs_test_u32(&c, 26);
	cr_assert_eq(zs_relay_feed_c2s(&p, c.data, c.len, err, sizeof(err)),
		ZS_RELAY_REFUSE);
	cr_assert_eq(p.link_error, SPICE_LINK_ERR_VERSION_MISMATCH);

	/* caps outside the message */
	zs_relay_parser_init(&p, true, 0);
	c.len = 0;
	zs_test_u32(&c, SPICE_MAGIC);
	zs_test_u32(&c, 2);
	zs_test_u32(&c, 2);
	zs_test_u32(&c, 26);
	zs_test_u32(&c, 0);
	zs_test_u16(&c, SPICE_CHANNEL_MAIN);
	zs_test_u32(&c, 1);
	zs_test_u32(&c, 1);
	zs_test_u32(&c, 20); /* 20 + 8 > 26 */
	zs_test_u32(&c, 0);
	zs_test_u32(&c, 0);
	cr_assert_eq(zs_relay_feed_c2s(&p, c.data, c.len, err, sizeof(err)),
		ZS_RELAY_REFUSE);
	cr_assert(strstr(err, "capabilities"), "%s", err);
}

Test(relay, a_truncated_link_message_is_not_yet_done)
{
	struct zs_relay_parser p;
	struct zs_test_bytes c = { .len = 0 };
	zs_relay_parser_init(&p, true, 0);
	zs_test_client_link(&c, SPICE_CHANNEL_MAIN, 0, true, true);
	cr_assert_eq(zs_relay_feed_c2s(&p, c.data, 16 + 20, err, sizeof(err)),
		ZS_RELAY_OK);
	cr_assert_not(p.link_done);
	/* and spice-server speaking first is an error */
	uint8_t b[4] = { 0 };
	cr_assert_eq(feed_s2c(&p, b, sizeof(b), NOW_MS, err,
		sizeof(err)), ZS_RELAY_ERROR);
}

Test(relay, not_spice_passes_on_for_spice_server_to_answer)
{
	struct zs_relay_parser p;
	const char get[] = "GET / HTTP/1.1\r\n";
	zs_relay_parser_init(&p, true, 0);
	cr_assert_eq(zs_relay_feed_c2s(&p, (const uint8_t *)get, sizeof(get) - 1,
		err, sizeof(err)), ZS_RELAY_OK);
	cr_assert(p.link_done);
	cr_assert_not(p.spice_magic);
	uint8_t reply[] = "HTTP/1.1 101";
	cr_assert_eq(feed_s2c(&p, reply, sizeof(reply), NOW_MS, err,
		sizeof(err)), ZS_RELAY_OK);
	cr_assert_str_eq((char *)reply, "HTTP/1.1 101");
}

Test(relay, oversized_server_message_is_an_error)
{
	struct zs_relay_parser p;
	struct zs_test_bytes s = { .len = 0 };
	zs_relay_parser_init(&p, true, 0);
	link_client(&p, true);
	zs_test_server_link(&s, SPICE_LINK_ERR_OK, SPICE_LINK_ERR_OK);
	zs_test_msg_header(&s, true, 1, SPICE_MSG_MAIN_NAME,
		ZS_RELAY_MAX_MSG_BYTES + 1);
	cr_assert_eq(feed_s2c(&p, s.data, s.len, NOW_MS, err,
		sizeof(err)), ZS_RELAY_ERROR);
	cr_assert(strstr(err, "limit"), "%s", err);
	/* and stays one */
	cr_assert_eq(feed_s2c(&p, s.data, 1, NOW_MS, err,
		sizeof(err)), ZS_RELAY_ERROR);
}

Test(relay, truncated_clock_messages_are_errors)
{
	for (int which = 0; which < 2; which++) {
		struct zs_relay_parser p;
		struct zs_test_bytes s = { .len = 0 };
		zs_relay_parser_init(&p, true, 0);
		link_client(&p, true);
		zs_test_server_link(&s, SPICE_LINK_ERR_OK, SPICE_LINK_ERR_OK);
		zs_test_msg_header(&s, true, 1, which ? SPICE_MSG_MAIN_INIT :
			SPICE_MSG_MAIN_MULTI_MEDIA_TIME, which ? 27 : 3);
		cr_assert_eq(feed_s2c(&p, s.data, s.len, NOW_MS, err,
			sizeof(err)), ZS_RELAY_ERROR);
		cr_assert(strstr(err, "truncated"), "%s", err);
	}
}

Test(relay, bad_server_link_reply_is_an_error)
{
	struct zs_relay_parser p;
	struct zs_test_bytes s = { .len = 0 };
	zs_relay_parser_init(&p, true, 0);
	link_client(&p, true);
	zs_test_u32(&s, 0x12345678);
	zs_test_u32(&s, 2);
	zs_test_u32(&s, 2);
	zs_test_u32(&s, 186);
	cr_assert_eq(feed_s2c(&p, s.data, s.len, NOW_MS, err,
		sizeof(err)), ZS_RELAY_ERROR);
	zs_relay_parser_init(&p, true, 0);
	link_client(&p, true);
	s.len = 0;
	zs_test_u32(&s, SPICE_MAGIC);
	zs_test_u32(&s, 2);
	zs_test_u32(&s, 2);
	zs_test_u32(&s, 1 << 20);
	cr_assert_eq(feed_s2c(&p, s.data, s.len, NOW_MS, err,
		sizeof(err)), ZS_RELAY_ERROR);
}

Test(relay, resync_follows_the_clients_first_message_on_a_boundary)
{
	struct zs_relay_parser p;
	struct zs_test_bytes s = { .len = 0 };
	uint8_t msg[ZS_RELAY_RESYNC_BYTES];
	size_t init_at, mm_at;
	zs_relay_parser_init(&p, true, 3);
	link_client(&p, true);
	server_session(&s, true, &init_at, &mm_at);
	/* up to the middle of MAIN_INIT */
	cr_assert_eq(feed_s2c(&p, s.data, init_at, NOW_MS, err,
		sizeof(err)), ZS_RELAY_OK);
	/* the client has not spoken yet */
	cr_assert_eq(zs_relay_take_resync(&p, NOW_MS, msg), 0);
	/* ATTACH_CHANNELS */
	struct zs_test_bytes c = { .len = 0 };
	zs_test_msg_header(&c, true, 1, SPICE_MSGC_MAIN_ATTACH_CHANNELS, 0);
	cr_assert_eq(zs_relay_feed_c2s(&p, c.data, c.len, err, sizeof(err)),
		ZS_RELAY_OK);
	/* not in the middle of a message */
	cr_assert_eq(zs_relay_take_resync(&p, NOW_MS, msg), 0);
	cr_assert_eq(feed_s2c(&p, s.data + init_at, s.len - init_at,
		NOW_MS, err, sizeof(err)), ZS_RELAY_OK);
	cr_assert_eq(zs_relay_take_resync(&p, NOW_MS + 40, msg),
		ZS_RELAY_RESYNC_BYTES);
	cr_assert_eq(msg[0] | msg[1] << 8, SPICE_MSG_MAIN_MULTI_MEDIA_TIME);
	cr_assert_eq(le32_at(msg + 2), 4);
	cr_assert_eq(le32_at(msg + 6), NOW_MS + 40 - 3);
	/* once */
	cr_assert_eq(zs_relay_take_resync(&p, NOW_MS, msg), 0);
	cr_assert_eq(p.resyncs, 1);
}

Test(relay, periodic_resync_after_a_quarter_a_half_then_each_period)
{
	struct zs_relay_parser p;
	struct zs_test_bytes s = { .len = 0 }, c = { .len = 0 };
	uint8_t msg[ZS_RELAY_RESYNC_BYTES];
	size_t init_at, mm_at;
	zs_relay_parser_init(&p, true, 0);
	zs_relay_set_resync_period(&p, 1000);
	link_client(&p, true);
	server_session(&s, true, &init_at, &mm_at);
	cr_assert_eq(zs_relay_resync_wait_ms(&p, NOW_MS), -1);
	cr_assert_eq(feed_s2c(&p, s.data, s.len, NOW_MS, err,
		sizeof(err)), ZS_RELAY_OK);
	zs_test_msg_header(&c, true, 1, SPICE_MSGC_MAIN_ATTACH_CHANNELS, 0);
	cr_assert_eq(zs_relay_feed_c2s(&p, c.data, c.len, err, sizeof(err)),
		ZS_RELAY_OK);
	cr_assert_eq(zs_relay_take_resync(&p, NOW_MS, msg),
		ZS_RELAY_RESYNC_BYTES);
	cr_assert_eq(zs_relay_resync_wait_ms(&p, NOW_MS), 250);
	cr_assert_eq(zs_relay_take_resync(&p, NOW_MS + 249, msg), 0);
	cr_assert_eq(zs_relay_take_resync(&p, NOW_MS + 250, msg),
		ZS_RELAY_RESYNC_BYTES);
	cr_assert_eq(le32_at(msg + 6), NOW_MS + 250);
	cr_assert_eq(zs_relay_resync_wait_ms(&p, NOW_MS + 250), 500);
	cr_assert_eq(zs_relay_take_resync(&p, NOW_MS + 800, msg),
		ZS_RELAY_RESYNC_BYTES);
	cr_assert_eq(zs_relay_resync_wait_ms(&p, NOW_MS + 800), 1000);
	/* due, but spice-server is in the middle of a message: it waits
	 * for the boundary and no timer is needed meanwhile */
	struct zs_test_bytes half = { .len = 0 };
	zs_test_msg_header(&half, true, 1, SPICE_MSG_MAIN_AGENT_DATA, 8);
	cr_assert_eq(feed_s2c(&p, half.data, half.len, NOW_MS + 1800,
		err, sizeof(err)), ZS_RELAY_OK);
	cr_assert_eq(zs_relay_take_resync(&p, NOW_MS + 1800, msg), 0);
	cr_assert_eq(zs_relay_resync_wait_ms(&p, NOW_MS + 1800), -1);
	uint8_t body[8] = { 0 };
	cr_assert_eq(feed_s2c(&p, body, sizeof(body), NOW_MS + 1810,
		err, sizeof(err)), ZS_RELAY_OK);
	cr_assert_eq(zs_relay_take_resync(&p, NOW_MS + 1810, msg),
		ZS_RELAY_RESYNC_BYTES);
	cr_assert_eq(le32_at(msg + 6), NOW_MS + 1810);
	cr_assert_eq(p.resyncs, 4);
}

/* While SPICE audio plays the client's clock follows the playback channel:
 * periodic resyncs stop, and resume (at once, being overdue) after. */
Test(relay, periodic_resync_pauses_while_audio_plays)
{
	struct zs_relay_parser p;
	struct zs_test_bytes s = { .len = 0 }, c = { .len = 0 };
	uint8_t msg[ZS_RELAY_RESYNC_BYTES];
	size_t init_at, mm_at;
	zs_relay_parser_init(&p, true, 0);
	zs_relay_set_resync_period(&p, 1000);
	link_client(&p, true);
	server_session(&s, true, &init_at, &mm_at);
	cr_assert_eq(feed_s2c(&p, s.data, s.len, NOW_MS, err,
		sizeof(err)), ZS_RELAY_OK);
	zs_test_msg_header(&c, true, 1, SPICE_MSGC_MAIN_ATTACH_CHANNELS, 0);
	cr_assert_eq(zs_relay_feed_c2s(&p, c.data, c.len, err, sizeof(err)),
		ZS_RELAY_OK);
	cr_assert_eq(zs_relay_take_resync(&p, NOW_MS, msg),
		ZS_RELAY_RESYNC_BYTES);
	zs_relay_pause_resync(true);
	cr_assert_eq(zs_relay_resync_wait_ms(&p, NOW_MS + 5000), -1);
	cr_assert_eq(zs_relay_take_resync(&p, NOW_MS + 5000, msg), 0);
	zs_relay_pause_resync(false);
	cr_assert_eq(zs_relay_resync_wait_ms(&p, NOW_MS + 5000), 0);
	cr_assert_eq(zs_relay_take_resync(&p, NOW_MS + 5000, msg),
		ZS_RELAY_RESYNC_BYTES);
	cr_assert_eq(le32_at(msg + 6), NOW_MS + 5000);
	cr_assert_eq(p.resyncs, 2);
}

Test(relay, no_resync_with_full_headers)
{
	struct zs_relay_parser p;
	struct zs_test_bytes s = { .len = 0 }, c = { .len = 0 };
	uint8_t msg[ZS_RELAY_RESYNC_BYTES];
	size_t init_at, mm_at;
	zs_relay_parser_init(&p, true, 0);
	link_client(&p, false);
	server_session(&s, false, &init_at, &mm_at);
	cr_assert_eq(feed_s2c(&p, s.data, s.len, NOW_MS, err,
		sizeof(err)), ZS_RELAY_OK);
	zs_test_msg_header(&c, false, 1, SPICE_MSGC_MAIN_ATTACH_CHANNELS, 0);
	cr_assert_eq(zs_relay_feed_c2s(&p, c.data, c.len, err, sizeof(err)),
		ZS_RELAY_OK);
	cr_assert_eq(zs_relay_take_resync(&p, NOW_MS, msg), 0);
}

Test(relay, link_error_reply_is_what_spice_server_sends)
{
	uint8_t r[ZS_RELAY_LINK_ERROR_REPLY_BYTES];
	zs_relay_link_error_reply(SPICE_LINK_ERR_NEED_SECURED, r);
	cr_assert_eq(le32_at(r), SPICE_MAGIC);
	cr_assert_eq(le32_at(r + 4), SPICE_VERSION_MAJOR);
	cr_assert_eq(le32_at(r + 12), ZS_RELAY_LINK_REPLY_BYTES);
	cr_assert_eq(le32_at(r + 16), SPICE_LINK_ERR_NEED_SECURED);
	/* a client parser (ours) takes it as a refusal */
	struct zs_relay_parser p;
	zs_relay_parser_init(&p, true, 0);
	link_client(&p, true);
	cr_assert_eq(feed_s2c(&p, r, sizeof(r), NOW_MS, err,
		sizeof(err)), ZS_RELAY_OK);
	cr_assert_not(zs_relay_following(&p));
}

Test(relay, mm_time_now_is_spice_servers_clock)
{
	struct timespec ts;
	uint32_t before, after;
	before = zs_relay_mm_time_now();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	after = zs_relay_mm_time_now();
	uint32_t mono_ms = (uint32_t)((uint64_t)ts.tv_sec * 1000 +
		(uint64_t)ts.tv_nsec / 1000000);
	cr_assert(mono_ms - before <= 1 && after - mono_ms <= 1,
		"%u %u %u", before, mono_ms, after);
}

Test(relay, main_init_names_the_session_with_or_without_the_clock_fix)
{
	for (int fix = 0; fix < 2; fix++) {
		struct zs_relay_parser p;
		struct zs_test_bytes s = { .len = 0 }, acc = { .len = 0 };
		size_t init_at, mm_at;
		zs_relay_parser_init(&p, fix, 0);
		link_client(&p, true);
		server_session(&s, true, &init_at, &mm_at);
		/* byte by byte: the session id may arrive split */
		for (size_t i = 0; i < s.len; i++)
			cr_assert_eq(feed_s2c_acc(&p, s.data + i, 1, &acc),
				ZS_RELAY_OK, "%s", err);
		cr_assert(p.result_seen);
		cr_assert_eq(p.link_result, SPICE_LINK_ERR_OK);
		cr_assert(p.session_known);
		cr_assert_eq(p.session_id, 0x1234);
		cr_assert_eq(acc.len, s.len);
		if (!fix)
			cr_assert_arr_eq(acc.data, s.data, s.len,
				"clock fix off: nothing rewritten");
	}
}

Test(relay, other_channels_report_their_link_result)
{
	struct zs_relay_parser p;
	struct zs_test_bytes c = { .len = 0 }, s = { .len = 0 };
	zs_relay_parser_init(&p, true, 0);
	zs_test_client_link(&c, SPICE_CHANNEL_DISPLAY, 0x1234, true, true);
	cr_assert_eq(zs_relay_feed_c2s(&p, c.data, c.len, err, sizeof(err)),
		ZS_RELAY_OK);
	zs_test_server_link(&s, SPICE_LINK_ERR_OK,
		SPICE_LINK_ERR_PERMISSION_DENIED);
	cr_assert_eq(feed_s2c(&p, s.data, s.len, NOW_MS, err, sizeof(err)),
		ZS_RELAY_OK);
	cr_assert(p.result_seen);
	cr_assert_eq(p.link_result, SPICE_LINK_ERR_PERMISSION_DENIED);
	cr_assert_not(p.session_known);
}

/* With N displays the stub QXL is channel N: hidden whatever its id, and
 * display 1 (a stream then) is offered. */
Test(relay, hidden_channel_follows_the_stub_qxl_id)
{
	zs_relay_set_hidden_channel_id(2);
	cr_expect_not(zs_relay_channel_hidden(SPICE_CHANNEL_DISPLAY, 1));
	cr_expect_not(zs_relay_channel_hidden(SPICE_CHANNEL_CURSOR, 1));
	cr_expect(zs_relay_channel_hidden(SPICE_CHANNEL_DISPLAY, 2));
	cr_expect(zs_relay_channel_hidden(SPICE_CHANNEL_CURSOR, 2));
	cr_expect_not(zs_relay_channel_hidden(SPICE_CHANNEL_INPUTS, 2));

	/* CHANNELS_LIST loses display:2 and cursor:2, keeps the rest */
	struct zs_relay_parser p;
	struct zs_test_bytes s = { .len = 0 }, out = { .len = 0 };
	static const uint8_t chans[][2] = {
		{ SPICE_CHANNEL_MAIN, 0 }, { SPICE_CHANNEL_DISPLAY, 0 },
		{ SPICE_CHANNEL_DISPLAY, 1 }, { SPICE_CHANNEL_DISPLAY, 2 },
		{ SPICE_CHANNEL_CURSOR, 0 }, { SPICE_CHANNEL_CURSOR, 1 },
		{ SPICE_CHANNEL_CURSOR, 2 }, { SPICE_CHANNEL_INPUTS, 0 },
	};
	size_t n = sizeof(chans) / sizeof(chans[0]);
	zs_relay_parser_init(&p, false, 0);
	link_client(&p, true);
	zs_test_server_link(&s, SPICE_LINK_ERR_OK, SPICE_LINK_ERR_OK);
	size_t list_at = s.len;
	zs_test_msg_header(&s, true, 1, SPICE_MSG_MAIN_CHANNELS_LIST,
		(uint32_t)(4 + 2 * n));
	zs_test_u32(&s, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		zs_test_u16(&s, (uint16_t)(chans[i][0] | chans[i][1] << 8));
	cr_assert_eq(feed_s2c_acc(&p, s.data, s.len, &out), ZS_RELAY_OK,
		"%s", err);
	zs_relay_set_hidden_channel_id(ZS_RELAY_HIDDEN_CHANNEL_ID);
	cr_assert_eq(p.hidden_channels, 2);
	cr_assert_eq(out.len, s.len - 4);
	const uint8_t *body = out.data + list_at + ZS_RELAY_MINI_HEADER_BYTES;
	cr_assert_eq(body[0], n - 2);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (chans[i][1] == 2 && chans[i][0] != SPICE_CHANNEL_INPUTS)
			continue;
		cr_expect_eq(body[4 + 2 * k], chans[i][0], "channel %zu", k);
		cr_expect_eq(body[5 + 2 * k], chans[i][1], "channel %zu", k);
		k++;
	}
}

/* The client's messages on a DISPLAY channel after its ticket: an INIT, a
 * stream report, a preferred-codec message. */
static void display_client_messages(struct zs_test_bytes *c, bool mini)
{
	zs_test_msg_header(c, mini, 1, SPICE_MSGC_DISPLAY_INIT, 14);
	for (int i = 0; i < 14; i++)
		zs_test_put(c, "\x01", 1);
	zs_test_msg_header(c, mini, 2, ZS_RELAY_MSGC_STREAM_REPORT,
		ZS_RELAY_STREAM_REPORT_BYTES);
	zs_test_u32(c, 7);          /* stream_id */
	zs_test_u32(c, 1);          /* unique_id */
	zs_test_u32(c, 5000);       /* start_frame_mm_time */
	zs_test_u32(c, 5083);       /* end_frame_mm_time */
	zs_test_u32(c, 5);          /* num_frames */
	zs_test_u32(c, 1);          /* num_drops */
	zs_test_u32(c, (uint32_t)-42); /* last_frame_delay */
	zs_test_u32(c, UINT32_MAX); /* audio_delay */
	zs_test_msg_header(c, mini, 3,
		SPICE_MSGC_DISPLAY_PREFERRED_VIDEO_CODEC_TYPE, 2);
	zs_test_put(c, "\x01\x01", 2);
}

Test(relay, display_channel_stream_reports_are_read_whole_and_in_pieces)
{
	for (int mini = 0; mini <= 1; mini++) {
		struct zs_test_bytes c = { .len = 0 };
		zs_test_client_link(&c, SPICE_CHANNEL_DISPLAY, 0x1234, mini,
			true);
		size_t link_len = c.len;
		display_client_messages(&c, mini);
		for (size_t step = 1; step <= c.len; step += step < 8 ? 1 : 37) {
			struct zs_relay_parser p;
			zs_relay_parser_init(&p, true, 0);
			for (size_t off = 0; off < c.len; off += step) {
				size_t n = MIN(step, c.len - off);
				cr_assert_eq(zs_relay_feed_c2s(&p, c.data + off,
					n, err, sizeof(err)), ZS_RELAY_OK);
				if (off + n <= link_len)
					cr_assert_eq(p.reports, 0);
			}
			cr_assert_eq(p.reports, 1, "mini %d step %zu", mini,
				step);
			cr_assert_eq(p.last_report.stream_id, 7);
			cr_assert_eq(p.last_report.end_frame_mm_time, 5083);
			cr_assert_eq(p.last_report.num_frames, 5);
			cr_assert_eq(p.last_report.num_drops, 1);
			cr_assert_eq(p.last_report.last_frame_delay, -42);
		}
	}
}

Test(relay, a_short_stream_report_is_not_read_and_framing_holds)
{
	struct zs_relay_parser p;
	struct zs_test_bytes c = { .len = 0 };
	zs_relay_parser_init(&p, true, 0);
	zs_test_client_link(&c, SPICE_CHANNEL_DISPLAY, 0x1234, true, true);
	/* a report of 8 bytes: spice-server refuses it; we only read on */
	zs_test_msg_header(&c, true, 0, ZS_RELAY_MSGC_STREAM_REPORT, 8);
	zs_test_u32(&c, 1);
	zs_test_u32(&c, 2);
	display_client_messages(&c, true);
	cr_assert_eq(zs_relay_feed_c2s(&p, c.data, c.len, err, sizeof(err)),
		ZS_RELAY_OK);
	cr_assert_eq(p.reports, 1);
	cr_assert_eq(p.last_report.end_frame_mm_time, 5083);
}

Test(relay, other_channels_and_sasl_display_links_read_no_reports)
{
	struct zs_test_bytes c = { .len = 0 };
	struct zs_relay_parser p;
	zs_relay_parser_init(&p, true, 0);
	zs_test_client_link(&c, SPICE_CHANNEL_CURSOR, 0x1234, true, true);
	display_client_messages(&c, true);
	cr_assert_eq(zs_relay_feed_c2s(&p, c.data, c.len, err, sizeof(err)),
		ZS_RELAY_OK);
	cr_assert_eq(p.reports, 0);
}
