/* The main-channel clock relay's parser (see relay.h).
 *
 * Client → server: SpiceLinkHeader + SpiceLinkMess (+ caps), then, when the
 * client set PROTOCOL_AUTH_SELECTION (spice-server reads it on that cap
 * alone), a u32 auth mechanism; the rest (encrypted ticket, messages) passes.
 * Server → client: SpiceLinkHeader + SpiceLinkReply (+ caps), a u32 link
 * result, then messages. spice-server frames them with mini headers when the
 * *client's* common caps have MINI_HEADER (red-channel-client.cpp), full
 * SpiceDataHeaders otherwise. A non-OK reply or result means spice-server is
 * refusing and will close: from there bytes pass untouched. On an accepted
 * main channel every message is followed: the clock fields are rewritten
 * (with the clock fix) and CHANNELS_LIST is held whole and loses the stub
 * QXL's channels (relay.h, ZS_RELAY_HIDDEN_CHANNEL_ID). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <spice/enums.h>
#include <spice/protocol.h>

#include "relay.h"

enum {
	C2S_HEADER,
	C2S_MESS,
	C2S_MECH,
	C2S_TICKET,
	C2S_FIRST_MSG,
	C2S_MSG_HEADER, /* a DISPLAY channel's messages (stream reports) */
	C2S_MSG_BODY,
	C2S_PASS,
	C2S_DEAD,
};

enum {
	S2C_REPLY_HEADER,
	S2C_REPLY_BODY,
	S2C_RESULT,
	S2C_MSG_HEADER,
	S2C_MSG_BODY,
	S2C_MSG_HOLD, /* a CHANNELS_LIST, held whole to be rewritten */
	S2C_PASS,
	S2C_DEAD,
};

#define MAX_CAPS 1024 /* per list, as spice-server checks */

enum {
	RESYNC_OFF,
	RESYNC_WAIT, /* for the client's first message */
	RESYNC_DUE,
	RESYNC_DONE,
};

_Static_assert(sizeof(SpiceLinkHeader) == ZS_RELAY_LINK_HEADER_BYTES,
	"SpiceLinkHeader size");
_Static_assert(sizeof(SpiceLinkMess) == ZS_RELAY_LINK_MESS_BYTES,
	"SpiceLinkMess size");
_Static_assert(sizeof(SpiceLinkReply) == ZS_RELAY_LINK_REPLY_BYTES,
	"SpiceLinkReply size");
_Static_assert(sizeof(SpiceMiniDataHeader) == ZS_RELAY_MINI_HEADER_BYTES,
	"SpiceMiniDataHeader size");
_Static_assert(sizeof(SpiceDataHeader) == ZS_RELAY_FULL_HEADER_BYTES,
	"SpiceDataHeader size");

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		(uint32_t)p[3] << 24;
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

uint32_t zs_relay_mm_time_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* reds_get_mm_time(): ns / 1e6, truncated to u32 */
	return (uint32_t)(((uint64_t)ts.tv_sec * 1000000000u +
		(uint64_t)ts.tv_nsec) / 1000000u);
}

void zs_relay_link_error_reply(uint32_t error,
	uint8_t out[ZS_RELAY_LINK_ERROR_REPLY_BYTES])
{
	memset(out, 0, ZS_RELAY_LINK_ERROR_REPLY_BYTES);
	put_le32(out, SPICE_MAGIC);
	put_le32(out + 4, SPICE_VERSION_MAJOR);
	put_le32(out + 8, SPICE_VERSION_MINOR);
	put_le32(out + 12, ZS_RELAY_LINK_REPLY_BYTES);
	put_le32(out + 16, error);
}

void zs_relay_parser_init(struct zs_relay_parser *p, bool rewrite_clock,
	uint32_t bias_ms)
{
	memset(p, 0, sizeof(*p));
	p->rewrite_clock = rewrite_clock;
	p->bias_ms = bias_ms;
	p->c2s_state = C2S_HEADER;
	p->link_need = ZS_RELAY_LINK_HEADER_BYTES;
	p->s2c_state = S2C_REPLY_HEADER;
	p->hdr_need = ZS_RELAY_LINK_HEADER_BYTES;
}

void zs_relay_set_resync_period(struct zs_relay_parser *p, uint32_t period_ms)
{
	p->resync_period_ms = period_ms;
}

/* the main loop's only (audio.c sets it, the relays read it) */
static bool resync_paused;

void zs_relay_pause_resync(bool paused)
{
	resync_paused = paused;
}

int32_t zs_relay_resync_wait_ms(const struct zs_relay_parser *p,
	uint32_t now_ms)
{
	if (p->resync_state != RESYNC_DONE || !p->resync_period_ms ||
	    resync_paused)
		return -1;
	int32_t wait = (int32_t)(p->next_resync_ms - now_ms);
	return wait > 0 ? wait : 0;
}

size_t zs_relay_take_resync(struct zs_relay_parser *p, uint32_t now_ms,
	uint8_t out[ZS_RELAY_RESYNC_BYTES])
{
	if (zs_relay_resync_wait_ms(p, now_ms) == 0)
		p->resync_state = RESYNC_DUE;
	if (p->resync_state != RESYNC_DUE || p->s2c_state != S2C_MSG_HEADER ||
		p->hdr_have != 0)
		return 0;
	uint32_t t = now_ms - p->bias_ms;
	out[0] = (uint8_t)SPICE_MSG_MAIN_MULTI_MEDIA_TIME;
	out[1] = (uint8_t)(SPICE_MSG_MAIN_MULTI_MEDIA_TIME >> 8);
	put_le32(out + 2, 4);
	put_le32(out + 6, t);
	p->resync_state = RESYNC_DONE;
	p->resyncs++;
	/* soon after the first (the link may still be busy with the first
	 * keyframe), then at the period */
	uint32_t period = p->resync_period_ms;
	p->next_resync_ms = now_ms + (p->resyncs == 1 ? period / 4 :
		p->resyncs == 2 ? period / 2 : period);
	p->last_new_mm_time = t;
	return ZS_RELAY_RESYNC_BYTES;
}

bool zs_relay_following(const struct zs_relay_parser *p)
{
	return p->s2c_state == S2C_MSG_HEADER || p->s2c_state == S2C_MSG_BODY ||
		p->s2c_state == S2C_MSG_HOLD;
}

size_t zs_relay_s2c_held(const struct zs_relay_parser *p)
{
	if (p->s2c_state == S2C_MSG_HEADER)
		return p->hdr_have;
	return p->s2c_state == S2C_MSG_HOLD ? p->held_have : 0;
}

/* One SpiceServer per process: its stub QXL's id is the process's. */
static uint8_t hidden_channel_id = ZS_RELAY_HIDDEN_CHANNEL_ID;

void zs_relay_set_hidden_channel_id(uint8_t channel_id)
{
	hidden_channel_id = channel_id;
}

bool zs_relay_channel_hidden(uint8_t channel_type, uint8_t channel_id)
{
	return channel_id == hidden_channel_id &&
		(channel_type == SPICE_CHANNEL_DISPLAY ||
			channel_type == SPICE_CHANNEL_CURSOR);
}

static bool test_cap(const uint8_t *caps, uint32_t num_caps, uint32_t cap)
{
	uint32_t word = cap / 32;
	return word < num_caps && (get_le32(caps + 4 * word) & (1u << (cap % 32)));
}

static enum zs_relay_status refuse(struct zs_relay_parser *p, uint32_t error,
	char *err, size_t err_len, const char *why)
{
	snprintf(err, err_len, "%s", why);
	p->link_error = error;
	p->c2s_state = C2S_DEAD;
	p->s2c_state = S2C_DEAD;
	return ZS_RELAY_REFUSE;
}

/* The client's link header is complete. */
static enum zs_relay_status c2s_header_done(struct zs_relay_parser *p,
	char *err, size_t err_len)
{
	const uint8_t *h = p->link;
	if (get_le32(h) != SPICE_MAGIC) {
		/* spice-server also takes WebSocket on its port and answers
		 * everything else: let it. */
		p->spice_magic = false;
		p->link_done = true;
		p->c2s_state = C2S_PASS;
		p->s2c_state = S2C_PASS;
		return ZS_RELAY_OK;
	}
	p->spice_magic = true;
	uint32_t major = get_le32(h + 4), size = get_le32(h + 12);
	if (major != SPICE_VERSION_MAJOR) {
		char why[96];
		snprintf(why, sizeof(why),
			"client speaks SPICE protocol %u, not %u", major,
			SPICE_VERSION_MAJOR);
		return refuse(p, SPICE_LINK_ERR_VERSION_MISMATCH, err, err_len,
			why);
	}
	if (size < ZS_RELAY_LINK_MESS_BYTES || size > ZS_RELAY_MAX_LINK_BYTES) {
		char why[96];
		snprintf(why, sizeof(why),
			"client link message of %u bytes (expected %u..%u)", size,
			ZS_RELAY_LINK_MESS_BYTES, ZS_RELAY_MAX_LINK_BYTES);
		return refuse(p, SPICE_LINK_ERR_INVALID_DATA, err, err_len, why);
	}
	p->link_need = ZS_RELAY_LINK_HEADER_BYTES + size;
	p->c2s_state = C2S_MESS;
	return ZS_RELAY_OK;
}

/* The client's SpiceLinkMess and caps are complete. */
static enum zs_relay_status c2s_mess_done(struct zs_relay_parser *p,
	char *err, size_t err_len)
{
	const uint8_t *m = p->link + ZS_RELAY_LINK_HEADER_BYTES;
	size_t size = p->link_need - ZS_RELAY_LINK_HEADER_BYTES;
	p->connection_id = get_le32(m);
	p->channel_type = m[4];
	p->channel_id = m[5];
	uint32_t num_common = get_le32(m + 6), num_channel = get_le32(m + 10);
	uint32_t caps_offset = get_le32(m + 14);
	if (num_common > MAX_CAPS || num_channel > MAX_CAPS)
		return refuse(p, SPICE_LINK_ERR_INVALID_DATA, err, err_len,
			"client link message lists too many capabilities");
	uint64_t caps_bytes = 4 * ((uint64_t)num_common + num_channel);
	if (caps_bytes && (caps_offset < ZS_RELAY_LINK_MESS_BYTES ||
		    caps_offset + caps_bytes > size))
		return refuse(p, SPICE_LINK_ERR_INVALID_DATA, err, err_len,
			"client link message capabilities lie outside it");
	const uint8_t *caps = m + (caps_bytes ? caps_offset : 0);
	p->client_mini_header = test_cap(caps, num_common,
		SPICE_COMMON_CAP_MINI_HEADER);
	p->client_auth_selection = test_cap(caps, num_common,
		SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION);
	if (p->channel_type == SPICE_CHANNEL_MAIN && p->connection_id != 0) {
		/* spice-server would take it as a migration target
		 * (reds_handle_main_link): no MAIN_INIT, a session that never
		 * starts. zerospice does not migrate. */
		char why[128];
		snprintf(why, sizeof(why),
			"client asks to join session %u as a migration target; "
			"migration is not supported", p->connection_id);
		return refuse(p, SPICE_LINK_ERR_BAD_CONNECTION_ID, err, err_len,
			why);
	}
	if (zs_relay_channel_hidden(p->channel_type, p->channel_id)) {
		char why[128];
		snprintf(why, sizeof(why),
			"client asks for channel %u:%u, the stub QXL's, which is "
			"not offered", p->channel_type, p->channel_id);
		return refuse(p, SPICE_LINK_ERR_CHANNEL_NOT_AVAILABLE, err,
			err_len, why);
	}
	p->link_done = true;
	if (p->channel_type != SPICE_CHANNEL_MAIN &&
	    p->channel_type != SPICE_CHANNEL_DISPLAY) {
		/* the server side is followed up to the link result */
		p->c2s_state = C2S_PASS;
	} else {
		p->c2s_state = p->client_auth_selection ? C2S_MECH : C2S_TICKET;
		p->ticket_left = ZS_RELAY_TICKET_BYTES;
	}
	return ZS_RELAY_OK;
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

static uint32_t c2s_header_bytes(const struct zs_relay_parser *p)
{
	return p->client_mini_header ? ZS_RELAY_MINI_HEADER_BYTES :
		ZS_RELAY_FULL_HEADER_BYTES;
}

static void c2s_report_done(struct zs_relay_parser *p)
{
	const uint8_t *b = p->creport;
	p->last_report = (struct zs_relay_stream_report){
		.stream_id = get_le32(b),
		.unique_id = get_le32(b + 4),
		.start_frame_mm_time = get_le32(b + 8),
		.end_frame_mm_time = get_le32(b + 12),
		.num_frames = get_le32(b + 16),
		.num_drops = get_le32(b + 20),
		.last_frame_delay = (int32_t)get_le32(b + 24),
		.audio_delay = get_le32(b + 28),
	};
	p->reports++;
}

/* A DISPLAY channel's client messages: only read, whatever they hold
 * (spice-server judges them). Returns the bytes taken. */
static size_t c2s_follow(struct zs_relay_parser *p, const uint8_t *buf,
	size_t len)
{
	size_t n;
	if (p->c2s_state == C2S_MSG_HEADER) {
		uint32_t need = c2s_header_bytes(p);
		n = min_size(need - p->chdr_have, len);
		memcpy(p->chdr + p->chdr_have, buf, n);
		p->chdr_have += n;
		if (p->chdr_have < need)
			return n;
		const uint8_t *h = p->client_mini_header ? p->chdr :
			p->chdr + 8;
		p->cmsg_type = get_le16(h);
		p->cbody_left = get_le32(h + 2);
		p->chdr_have = 0;
		p->creport_have = 0;
		p->c2s_state = C2S_MSG_BODY;
		if (p->cbody_left == 0)
			p->c2s_state = C2S_MSG_HEADER;
		return n;
	}
	n = min_size(p->cbody_left, len);
	if (p->cmsg_type == ZS_RELAY_MSGC_STREAM_REPORT &&
	    p->creport_have < ZS_RELAY_STREAM_REPORT_BYTES) {
		size_t take = min_size(n, ZS_RELAY_STREAM_REPORT_BYTES -
			p->creport_have);
		memcpy(p->creport + p->creport_have, buf, take);
		p->creport_have += take;
		if (p->creport_have == ZS_RELAY_STREAM_REPORT_BYTES)
			c2s_report_done(p);
	}
	p->cbody_left -= (uint32_t)n;
	if (p->cbody_left == 0)
		p->c2s_state = C2S_MSG_HEADER;
	return n;
}

enum zs_relay_status zs_relay_feed_c2s(struct zs_relay_parser *p,
	const uint8_t *buf, size_t len, char *err, size_t err_len)
{
	size_t off = 0;
	while (off < len) {
		size_t n;
		enum zs_relay_status st;
		switch (p->c2s_state) {
		case C2S_HEADER:
		case C2S_MESS:
			n = p->link_need - p->link_have;
			if (n > len - off)
				n = len - off;
			memcpy(p->link + p->link_have, buf + off, n);
			p->link_have += n;
			off += n;
			if (p->link_have < p->link_need)
				break;
			st = p->c2s_state == C2S_HEADER ?
				c2s_header_done(p, err, err_len) :
				c2s_mess_done(p, err, err_len);
			if (st != ZS_RELAY_OK)
				return st;
			break;
		case C2S_MECH:
			n = sizeof(p->mech) - p->mech_have;
			if (n > len - off)
				n = len - off;
			memcpy(p->mech + p->mech_have, buf + off, n);
			p->mech_have += n;
			off += n;
			if (p->mech_have == sizeof(p->mech)) {
				/* SASL passes too: spice-server, built or
				 * configured without it, refuses it with a link
				 * error, and the server side stops following. */
				p->auth_mechanism = get_le32(p->mech);
				p->c2s_state = p->auth_mechanism ==
					SPICE_COMMON_CAP_AUTH_SPICE ?
					C2S_TICKET : C2S_PASS;
			}
			break;
		case C2S_TICKET:
			n = p->ticket_left;
			if (n > len - off)
				n = len - off;
			p->ticket_left -= n;
			off += n;
			if (p->ticket_left == 0)
				p->c2s_state = p->channel_type ==
					SPICE_CHANNEL_DISPLAY ? C2S_MSG_HEADER :
					C2S_FIRST_MSG;
			break;
		case C2S_MSG_HEADER:
		case C2S_MSG_BODY:
			off += c2s_follow(p, buf + off, len - off);
			break;
		case C2S_FIRST_MSG:
			if (p->resync_state == RESYNC_WAIT)
				p->resync_state = RESYNC_DUE;
			p->c2s_state = C2S_PASS;
			return ZS_RELAY_OK;
		case C2S_PASS:
			return ZS_RELAY_OK;
		default:
			snprintf(err, err_len, "client data after a refusal");
			return ZS_RELAY_ERROR;
		}
	}
	return ZS_RELAY_OK;
}

static enum zs_relay_status s2c_fail(struct zs_relay_parser *p)
{
	p->s2c_state = S2C_DEAD;
	return ZS_RELAY_ERROR;
}

/* A complete header in p->hdr. */
static enum zs_relay_status s2c_header_done(struct zs_relay_parser *p,
	uint32_t now_ms, char *err, size_t err_len)
{
	const uint8_t *h = p->hdr;
	uint32_t size;
	switch (p->s2c_state) {
	case S2C_REPLY_HEADER:
		size = get_le32(h + 12);
		if (get_le32(h) != SPICE_MAGIC ||
			get_le32(h + 4) != SPICE_VERSION_MAJOR) {
			snprintf(err, err_len,
				"spice-server's link reply has a bad magic or version");
			return s2c_fail(p);
		}
		if (size < ZS_RELAY_LINK_REPLY_BYTES ||
			size > ZS_RELAY_MAX_LINK_BYTES) {
			snprintf(err, err_len,
				"spice-server's link reply is %u bytes (expected %u..%u)",
				size, ZS_RELAY_LINK_REPLY_BYTES,
				ZS_RELAY_MAX_LINK_BYTES);
			return s2c_fail(p);
		}
		p->s2c_state = S2C_REPLY_BODY;
		p->body_left = size;
		p->body_off = 0;
		p->reply_error = 0;
		return ZS_RELAY_OK;
	case S2C_RESULT:
		p->result_seen = true;
		p->link_result = get_le32(h);
		if (p->link_result != SPICE_LINK_ERR_OK ||
			p->auth_mechanism == SPICE_COMMON_CAP_AUTH_SASL ||
			p->channel_type != SPICE_CHANNEL_MAIN) {
			/* refused (spice-server closes next), or nothing more
			 * to follow on a channel other than main */
			p->s2c_state = S2C_PASS;
			return ZS_RELAY_OK;
		}
		/* followed even without the clock fix: CHANNELS_LIST is
		 * always rewritten */
		p->s2c_state = S2C_MSG_HEADER;
		p->hdr_need = p->client_mini_header ? ZS_RELAY_MINI_HEADER_BYTES :
			ZS_RELAY_FULL_HEADER_BYTES;
		if (p->rewrite_clock && p->client_mini_header &&
			p->resync_state == RESYNC_OFF)
			p->resync_state = p->c2s_state == C2S_PASS ?
				RESYNC_DUE : RESYNC_WAIT;
		return ZS_RELAY_OK;
	case S2C_MSG_HEADER:
		if (p->client_mini_header) {
			p->msg_type = get_le16(h);
			size = get_le32(h + 2);
		} else {
			p->msg_type = get_le16(h + 8);
			size = get_le32(h + 10);
		}
		if (size > ZS_RELAY_MAX_MSG_BYTES) {
			snprintf(err, err_len,
				"spice-server sent a main-channel message of %u bytes "
				"(type %u), over the relay's %u-byte limit",
				size, p->msg_type, ZS_RELAY_MAX_MSG_BYTES);
			return s2c_fail(p);
		}
		p->messages++;
		p->field = false;
		p->body_left = size;
		p->body_off = 0;
		if (p->msg_type == SPICE_MSG_MAIN_INIT && size < 4) {
			snprintf(err, err_len,
				"spice-server sent a MAIN_INIT of %u bytes", size);
			return s2c_fail(p);
		}
		if (p->msg_type == SPICE_MSG_MAIN_CHANNELS_LIST) {
			if (size > ZS_RELAY_MAX_HELD_BYTES) {
				snprintf(err, err_len,
					"spice-server sent a channel list of %u bytes, "
					"over the relay's %u-byte limit", size,
					ZS_RELAY_MAX_HELD_BYTES);
				return s2c_fail(p);
			}
			memcpy(p->held, p->hdr, p->hdr_need);
			p->held_have = p->hdr_need;
			p->s2c_state = S2C_MSG_HOLD;
			return ZS_RELAY_OK;
		}
		if (p->rewrite_clock && (p->msg_type == SPICE_MSG_MAIN_INIT ||
			p->msg_type == SPICE_MSG_MAIN_MULTI_MEDIA_TIME)) {
			uint32_t off = p->msg_type == SPICE_MSG_MAIN_INIT ?
				ZS_RELAY_INIT_MM_TIME_OFFSET :
				ZS_RELAY_MM_TIME_OFFSET;
			if (size < off + 4) {
				snprintf(err, err_len,
					"spice-server sent a truncated main-channel "
					"message: type %u of %u bytes", p->msg_type,
					size);
				return s2c_fail(p);
			}
			p->field = true;
			p->field_off = off;
			p->field_value = now_ms - p->bias_ms;
			p->field_orig = 0;
		}
		p->s2c_state = S2C_MSG_BODY;
		return ZS_RELAY_OK;
	default:
		snprintf(err, err_len, "relay parser in a bad state");
		return s2c_fail(p);
	}
}

/* The body of the current link reply or message is complete. */
static void s2c_body_done(struct zs_relay_parser *p)
{
	p->hdr_have = 0;
	if (p->s2c_state == S2C_REPLY_BODY) {
		if (p->reply_error != SPICE_LINK_ERR_OK) {
			p->result_seen = true;
			p->link_result = p->reply_error;
			p->s2c_state = S2C_PASS;
			return;
		}
		p->s2c_state = S2C_RESULT;
		p->hdr_need = 4;
		return;
	}
	if (p->field) {
		p->rewrites++;
		p->last_orig_mm_time = p->field_orig;
		p->last_new_mm_time = p->field_value;
		p->field = false;
	}
	p->s2c_state = S2C_MSG_HEADER;
	if (p->msg_type == SPICE_MSG_MAIN_INIT)
		p->session_known = true;
}

static void s2c_advance(struct zs_relay_parser *p, size_t n)
{
	p->body_off += (uint32_t)n;
	p->body_left -= (uint32_t)n;
}

/* Body bytes [body_off, body_off + n) of the current reply or message. */
static void s2c_body(struct zs_relay_parser *p, uint8_t *buf, size_t n)
{
	uint32_t start = p->body_off;
	uint32_t end = start + (uint32_t)n;
	if (p->s2c_state == S2C_REPLY_BODY) {
		/* SpiceLinkReply.error: the first u32 */
		for (uint32_t i = start; i < end && i < 4; i++)
			p->reply_error |= (uint32_t)buf[i - start] << (8 * i);
		s2c_advance(p, n);
		return;
	}
	if (p->msg_type == SPICE_MSG_MAIN_INIT && !p->session_known) {
		/* SpiceMsgMainInit.session_id: the first u32 */
		for (uint32_t i = start; i < end && i < 4; i++)
			p->session_id |= (uint32_t)buf[i - start] << (8 * i);
	}
	if (p->field) {
		for (uint32_t i = start; i < end; i++) {
			if (i < p->field_off || i >= p->field_off + 4)
				continue;
			uint32_t byte = i - p->field_off;
			p->field_orig |= (uint32_t)buf[i - start] << (8 * byte);
			buf[i - start] = (uint8_t)(p->field_value >> (8 * byte));
		}
	}
	s2c_advance(p, n);
}

/* The held CHANNELS_LIST is complete: drop the hidden channels from it,
 * fix its sizes, and return its new length. A list that does not parse
 * goes out as it came (the client judges it). */
static size_t rewrite_channels_list(struct zs_relay_parser *p)
{
	size_t hdr = p->client_mini_header ? ZS_RELAY_MINI_HEADER_BYTES :
		ZS_RELAY_FULL_HEADER_BYTES;
	size_t size_at = p->client_mini_header ? 2 : 10;
	uint8_t *body = p->held + hdr;
	size_t size = p->held_have - hdr;
	if (size < 4)
		return p->held_have;
	uint32_t num = get_le32(body);
	if (num > (size - 4) / 2)
		return p->held_have;
	uint32_t kept = 0;
	for (uint32_t i = 0; i < num; i++) {
		uint8_t type = body[4 + 2 * i], id = body[5 + 2 * i];
		if (zs_relay_channel_hidden(type, id)) {
			p->hidden_channels++;
			continue;
		}
		body[4 + 2 * kept] = type;
		body[5 + 2 * kept] = id;
		kept++;
	}
	size_t removed = 2 * (size_t)(num - kept);
	/* bytes after the list, if any, follow it */
	memmove(body + 4 + 2 * kept, body + 4 + 2 * num, size - 4 - 2 * num);
	put_le32(body, kept);
	put_le32(p->held + size_at, (uint32_t)(size - removed));
	return p->held_have - removed;
}

/* n bytes to the client: out may trail in (memmove). */
static void emit(uint8_t *out, size_t *out_len, const uint8_t *src, size_t n)
{
	memmove(out + *out_len, src, n);
	*out_len += n;
}

enum zs_relay_status zs_relay_feed_s2c(struct zs_relay_parser *p,
	const uint8_t *in, size_t len, uint8_t *out, size_t *out_len,
	uint32_t now_ms, char *err, size_t err_len)
{
	*out_len = 0;
	if (len == 0)
		return p->s2c_state == S2C_DEAD ? ZS_RELAY_ERROR : ZS_RELAY_OK;
	if (!p->link_done && p->s2c_state != S2C_DEAD) {
		snprintf(err, err_len,
			"spice-server sent data before the client's link message");
		return s2c_fail(p);
	}
	size_t off = 0;
	while (off < len) {
		size_t n;
		enum zs_relay_status st;
		switch (p->s2c_state) {
		case S2C_REPLY_HEADER:
		case S2C_RESULT:
		case S2C_MSG_HEADER:
			n = p->hdr_need - p->hdr_have;
			if (n > len - off)
				n = len - off;
			memcpy(p->hdr + p->hdr_have, in + off, n);
			p->hdr_have += n;
			/* link bytes pass at once; a message header waits
			 * until its type is known */
			if (p->s2c_state != S2C_MSG_HEADER)
				emit(out, out_len, in + off, n);
			off += n;
			if (p->hdr_have < p->hdr_need)
				break;
			bool msg = p->s2c_state == S2C_MSG_HEADER;
			p->hdr_have = 0;
			st = s2c_header_done(p, now_ms, err, err_len);
			if (st != ZS_RELAY_OK)
				return st;
			if (msg && p->s2c_state == S2C_MSG_BODY)
				emit(out, out_len, p->hdr, p->hdr_need);
			if ((p->s2c_state == S2C_MSG_BODY ||
				    p->s2c_state == S2C_REPLY_BODY) &&
				p->body_left == 0)
				s2c_body_done(p);
			if (p->s2c_state == S2C_MSG_HOLD && p->body_left == 0)
				goto held_done;
			break;
		case S2C_REPLY_BODY:
		case S2C_MSG_BODY:
			n = p->body_left;
			if (n > len - off)
				n = len - off;
			emit(out, out_len, in + off, n);
			s2c_body(p, out + *out_len - n, n);
			off += n;
			if (p->body_left == 0)
				s2c_body_done(p);
			break;
		case S2C_MSG_HOLD:
			n = p->body_left;
			if (n > len - off)
				n = len - off;
			memcpy(p->held + p->held_have, in + off, n);
			p->held_have += n;
			p->body_left -= (uint32_t)n;
			off += n;
			if (p->body_left)
				break;
		held_done:
			emit(out, out_len, p->held, rewrite_channels_list(p));
			p->held_have = 0;
			p->s2c_state = S2C_MSG_HEADER;
			break;
		case S2C_PASS:
			emit(out, out_len, in + off, len - off);
			return ZS_RELAY_OK;
		default:
			snprintf(err, err_len, "spice-server data after an error");
			return ZS_RELAY_ERROR;
		}
	}
	return ZS_RELAY_OK;
}
