/* The main-channel clock relay's parser: a byte-level state machine that
 * follows one SPICE connection in both directions and rewrites the two
 * fields that carry spice-server's multimedia clock to the client
 * (shared/DESIGN.md §3 "Latency trap", §4). No sockets: front.c feeds it
 * what it reads and forwards what it was fed, so tests and fuzzers drive it
 * directly. Private to server/. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* sizeof(SpiceLinkHeader): magic, major, minor, size (little-endian u32s) */
#define ZS_RELAY_LINK_HEADER_BYTES 16
/* sizeof(SpiceLinkMess) without the caps */
#define ZS_RELAY_LINK_MESS_BYTES 18
/* sizeof(SpiceLinkReply) without the caps */
#define ZS_RELAY_LINK_REPLY_BYTES 178
/* Largest link message body either side may send; spice-server refuses
 * client link messages over 4096 bytes too. */
#define ZS_RELAY_MAX_LINK_BYTES 4096
/* Largest main-channel message we follow from spice-server. Its biggest
 * (agent data) are 2 KiB chunks; anything near this means the relay lost
 * track of the framing. */
#define ZS_RELAY_MAX_MSG_BYTES (1u << 20)
/* SpiceMiniDataHeader {u16 type; u32 size} and SpiceDataHeader {u64 serial;
 * u16 type; u32 size; u32 sub_list} */
#define ZS_RELAY_MINI_HEADER_BYTES 6
#define ZS_RELAY_FULL_HEADER_BYTES 18
/* SPICE_MSG_MAIN_INIT.multi_media_time and SPICE_MSG_MAIN_MULTI_MEDIA_TIME
 * .time: body offsets of the u32 clock fields we rewrite. */
#define ZS_RELAY_INIT_MM_TIME_OFFSET 24
#define ZS_RELAY_MM_TIME_OFFSET 0
/* The encrypted ticket that follows the client's link (and mechanism):
 * spice-server's RSA-1024 modulus size. */
#define ZS_RELAY_TICKET_BYTES 128
/* The stub QXL (server/display.c) is display and cursor channel 1 (with
 * one display; N with N displays, see zs_relay_set_hidden_channel_id): it
 * is there only so spice-server allows the client mouse. Clients are never
 * shown it (CHANNELS_LIST is rewritten) nor let link to it: each client
 * on it cost spice-server's per-client image caches (8 MiB), and hostile
 * clients on it wedged or crashed spice-server 0.15's QXL worker. */
#define ZS_RELAY_HIDDEN_CHANNEL_ID 1
/* Largest SPICE_MSG_MAIN_CHANNELS_LIST the relay holds whole (u32 count +
 * 2 bytes per channel; spice-server 0.15 has fewer than 20 channels). */
#define ZS_RELAY_MAX_HELD_BYTES 1024
/* How far the bytes zs_relay_feed_s2c() writes may run ahead of what it
 * read in one call: a held message header and a held CHANNELS_LIST. */
#define ZS_RELAY_S2C_SLACK_BYTES \
	(ZS_RELAY_FULL_HEADER_BYTES + ZS_RELAY_MAX_HELD_BYTES)
/* A SPICE_MSG_MAIN_MULTI_MEDIA_TIME with a mini header. */
#define ZS_RELAY_RESYNC_BYTES (ZS_RELAY_MINI_HEADER_BYTES + 4)

/* SPICE_MSGC_DISPLAY_STREAM_REPORT: spice-server activates a stream
 * device's reports (every 5 frames or a second) but ignores them; spice-gtk
 * sends one when it has read the window's last frame. Fields as
 * SpiceMsgcDisplayStreamReport; the mm_times are spice-server's clock,
 * CLOCK_MONOTONIC in ms when it read the frame from our stream device. */
#define ZS_RELAY_MSGC_STREAM_REPORT 102
#define ZS_RELAY_STREAM_REPORT_BYTES 32
struct zs_relay_stream_report {
	uint32_t stream_id, unique_id;
	uint32_t start_frame_mm_time, end_frame_mm_time;
	uint32_t num_frames, num_drops;
	int32_t last_frame_delay; /* frame mm_time minus the client's clock */
	uint32_t audio_delay;
};

enum zs_relay_status {
	ZS_RELAY_OK,     /* forward the bytes (as rewritten) */
	ZS_RELAY_REFUSE, /* answer the client with link_error, then close */
	ZS_RELAY_ERROR,  /* protocol error: close both sides */
};

struct zs_relay_parser {
	/* configuration */
	bool rewrite_clock;
	uint32_t bias_ms; /* the client clock is set this far behind ours */

	/* client → spice-server */
	int c2s_state;
	uint8_t link[ZS_RELAY_LINK_HEADER_BYTES + ZS_RELAY_MAX_LINK_BYTES];
	size_t link_have, link_need;
	uint8_t mech[4];
	size_t mech_have;
	size_t ticket_left;

	/* What the client's link message said; valid once link_done. */
	bool link_done;
	bool spice_magic;    /* false: not SPICE (e.g. WebSocket): pass it on */
	uint8_t channel_type, channel_id;
	uint32_t connection_id;
	bool client_mini_header;   /* spice-server then sends mini headers */
	bool client_auth_selection;
	uint32_t auth_mechanism;   /* 0 until the client chose one */
	uint32_t link_error;       /* SPICE_LINK_ERR_* for a REFUSE */

	/* What spice-server answered: link_result once result_seen (the u32
	 * after its link reply, or the reply's own error); session_id from
	 * SPICE_MSG_MAIN_INIT once session_known (the connection_id every
	 * other channel of that client names). */
	bool result_seen, session_known;
	uint32_t link_result, session_id;

	/* spice-server → client */
	int s2c_state;
	uint8_t hdr[ZS_RELAY_FULL_HEADER_BYTES];
	size_t hdr_have, hdr_need;
	uint32_t body_left, body_off; /* current link reply or message body */
	uint32_t reply_error;
	bool field;                   /* the current body holds a clock field */
	uint32_t field_off, field_value, field_orig;
	uint16_t msg_type;
	uint8_t held[ZS_RELAY_FULL_HEADER_BYTES + ZS_RELAY_MAX_HELD_BYTES];
	size_t held_have;

	/* The one message the relay adds (mini-header sessions only): the
	 * clock again, once the client has handled MAIN_INIT, and then every
	 * resync_period_ms (0: only that once). */
	int resync_state;
	uint32_t resync_period_ms;
	uint32_t next_resync_ms;

	/* client → spice-server on a DISPLAY channel, after the ticket:
	 * followed message by message (never changed) for the client's
	 * stream reports (server/ratectl.h) */
	uint8_t chdr[ZS_RELAY_FULL_HEADER_BYTES];
	size_t chdr_have;
	uint32_t cbody_left;
	uint16_t cmsg_type;
	uint8_t creport[ZS_RELAY_STREAM_REPORT_BYTES];
	size_t creport_have;
	uint64_t reports; /* complete stream reports seen */
	struct zs_relay_stream_report last_report;

	/* counters, for logs and tests */
	uint64_t messages, rewrites, resyncs, hidden_channels;
	uint32_t last_orig_mm_time, last_new_mm_time;
};

/* rewrite_clock false: leave the clock fields alone (link checks,
 * refusals, the session id from MAIN_INIT and the channel list rewrite
 * still apply). Any channel: the link reply and result are followed. */
void zs_relay_parser_init(struct zs_relay_parser *p, bool rewrite_clock,
	uint32_t bias_ms);

/* Bytes the client sent. Never changes them. REFUSE: do not forward these
 * bytes; answer with zs_relay_link_error_reply(p->link_error). err gets a
 * one-line reason for REFUSE and ERROR. Once link_done, the channel type is
 * known and the bytes fed so far may go to spice-server. */
enum zs_relay_status zs_relay_feed_c2s(struct zs_relay_parser *p,
	const uint8_t *buf, size_t len, char *err, size_t err_len);

/* Bytes spice-server sent (`in`, `len`); what goes on to the client is
 * written to `out`, *out_len bytes. On the main channel, after the link,
 * the clock fields become now_ms - bias_ms (now_ms: CLOCK_MONOTONIC in ms,
 * spice-server's reds_get_mm_time()) when the clock fix is on, and
 * SPICE_MSG_MAIN_CHANNELS_LIST loses the hidden channels. A message header
 * is held until complete, a CHANNELS_LIST until whole, so one call writes
 * up to len + ZS_RELAY_S2C_SLACK_BYTES bytes. out may overlap in only at
 * or before in - ZS_RELAY_S2C_SLACK_BYTES. ERROR: close both sides. */
enum zs_relay_status zs_relay_feed_s2c(struct zs_relay_parser *p,
	const uint8_t *in, size_t len, uint8_t *out, size_t *out_len,
	uint32_t now_ms, char *err, size_t err_len);

/* Bytes spice-server sent that the parser holds back for now (a partial
 * message header, a partial CHANNELS_LIST). */
size_t zs_relay_s2c_held(const struct zs_relay_parser *p);

/* True for the stub QXL's display and cursor channels, which clients are
 * neither shown nor let link to. */
bool zs_relay_channel_hidden(uint8_t channel_type, uint8_t channel_id);
/* The stub QXL's channel id from now on (default
 * ZS_RELAY_HIDDEN_CHANNEL_ID): the streams take display ids 0..N-1 and
 * the stub N. */
void zs_relay_set_hidden_channel_id(uint8_t channel_id);

/* spice-gtk takes MAIN_INIT's clock when it handles the message, which a
 * client busy starting up does tens of ms after it arrived: its clock then
 * lags ours by that much, and it holds every frame that long. Its first
 * message after the link (ATTACH_CHANNELS, sent at the end of handling
 * MAIN_INIT) shows it is past that, so the relay then sends the clock once
 * more in a MULTI_MEDIA_TIME of its own, between two of spice-server's
 * messages. Returns ZS_RELAY_RESYNC_BYTES with that message in out when it
 * is due and everything fed so far ends on a message boundary (append it
 * to the bytes going to the client), else 0. Only with mini headers: full
 * headers carry serials the relay would have to renumber. */
size_t zs_relay_take_resync(struct zs_relay_parser *p, uint32_t now_ms,
	uint8_t out[ZS_RELAY_RESYNC_BYTES]);

/* A clock message is only as right as the path it took was empty: the
 * first one, sent while the first keyframe fills a narrow link, reaches the
 * client that much late and sets its clock behind for good (each frame is
 * then held that long). So the relay sends the clock again after
 * period/4, period/2, then every period ms; a later one that does not
 * queue sets it right (spice-gtk takes every MULTI_MEDIA_TIME as its
 * clock; a jump back or over 500 ms only makes it reschedule queued
 * frames). Call after zs_relay_parser_init; 0 (the default) sends the
 * one resync only. */
void zs_relay_set_resync_period(struct zs_relay_parser *p, uint32_t period_ms);
/* While SPICE audio plays, spice-gtk sets its clock from the playback
 * channel (the last packet's time minus its audio output latency) and
 * spice-server sends no clock of its own (reds_disable_mm_time): periodic
 * resyncs would pull the client's clock back to ours every period and show
 * pictures up to the client's audio latency ahead of their sound. Paused
 * for every relay of the process while paused is true (audio.c, at
 * playback start and stop); spice-server sends the clock again itself when
 * playback stops. */
void zs_relay_pause_resync(bool paused);
/* Milliseconds until the next periodic resync is due (0: due now), or -1
 * when none is planned, one waits for a message boundary or resyncs are
 * paused. */
int32_t zs_relay_resync_wait_ms(const struct zs_relay_parser *p,
	uint32_t now_ms);

/* True when spice-server's side is followed message by message (a main
 * channel, link accepted); false while linking or when bytes just pass. */
bool zs_relay_following(const struct zs_relay_parser *p);

/* The SpiceLinkHeader + SpiceLinkReply spice-server itself sends to refuse
 * a link, with `error` (SPICE_LINK_ERR_*). Writes
 * ZS_RELAY_LINK_ERROR_REPLY_BYTES into out. */
#define ZS_RELAY_LINK_ERROR_REPLY_BYTES \
	(ZS_RELAY_LINK_HEADER_BYTES + ZS_RELAY_LINK_REPLY_BYTES)
void zs_relay_link_error_reply(uint32_t error,
	uint8_t out[ZS_RELAY_LINK_ERROR_REPLY_BYTES]);

/* CLOCK_MONOTONIC in ms, as a wrapping u32: spice-server's mm_time. */
uint32_t zs_relay_mm_time_now(void);
