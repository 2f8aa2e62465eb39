/* Builds the bytes of a SPICE main-channel session as spice-gtk and
 * spice-server 0.15 send them, for the relay's unit tests and fuzz seeds. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <spice/enums.h>
#include <spice/protocol.h>

struct zs_test_bytes {
	uint8_t data[4096];
	size_t len;
};

static inline void zs_test_put(struct zs_test_bytes *b, const void *p,
	size_t n)
{
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static inline void zs_test_u32(struct zs_test_bytes *b, uint32_t v)
{
	uint8_t le[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
		(uint8_t)(v >> 24) };
	zs_test_put(b, le, 4);
}

static inline void zs_test_u16(struct zs_test_bytes *b, uint16_t v)
{
	uint8_t le[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	zs_test_put(b, le, 2);
}

/* What the client sends: link header + link message (+ caps), the auth
 * mechanism when it has AUTH_SELECTION, a 128-byte ticket. */
static inline void zs_test_client_link(struct zs_test_bytes *b,
	uint8_t channel_type, uint32_t connection_id, bool mini_header,
	bool auth_selection)
{
	uint32_t common = (1u << SPICE_COMMON_CAP_AUTH_SPICE) |
		(mini_header ? 1u << SPICE_COMMON_CAP_MINI_HEADER : 0) |
		(auth_selection ?
			1u << SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION : 0);
	zs_test_u32(b, SPICE_MAGIC);
	zs_test_u32(b, SPICE_VERSION_MAJOR);
	zs_test_u32(b, SPICE_VERSION_MINOR);
	zs_test_u32(b, 18 + 8);
	zs_test_u32(b, connection_id);
	uint8_t type_id[2] = { channel_type, 0 };
	zs_test_put(b, type_id, 2);
	zs_test_u32(b, 1); /* common caps */
	zs_test_u32(b, 1); /* channel caps */
	zs_test_u32(b, 18);
	zs_test_u32(b, common);
	zs_test_u32(b, 0xf);
	if (auth_selection)
		zs_test_u32(b, SPICE_COMMON_CAP_AUTH_SPICE);
	for (int i = 0; i < 128; i++) {
		uint8_t t = (uint8_t)(0xa0 + i);
		zs_test_put(b, &t, 1);
	}
}

/* spice-server's link reply (error 0 = OK) and, for OK, the link result. */
static inline void zs_test_server_link(struct zs_test_bytes *b,
	uint32_t error, uint32_t result)
{
	uint8_t pub_key[SPICE_TICKET_PUBKEY_BYTES];
	memset(pub_key, 0x5a, sizeof(pub_key));
	zs_test_u32(b, SPICE_MAGIC);
	zs_test_u32(b, SPICE_VERSION_MAJOR);
	zs_test_u32(b, SPICE_VERSION_MINOR);
	zs_test_u32(b, 178 + 8);
	zs_test_u32(b, error);
	zs_test_put(b, pub_key, sizeof(pub_key));
	zs_test_u32(b, 1);
	zs_test_u32(b, 1);
	zs_test_u32(b, 178);
	zs_test_u32(b, 0xb);
	zs_test_u32(b, 0xf);
	if (error == 0)
		zs_test_u32(b, result);
}

/* A message header, mini or full. */
static inline void zs_test_msg_header(struct zs_test_bytes *b, bool mini,
	uint64_t serial, uint16_t type, uint32_t size)
{
	if (!mini) {
		zs_test_u32(b, (uint32_t)serial);
		zs_test_u32(b, (uint32_t)(serial >> 32));
	}
	zs_test_u16(b, type);
	zs_test_u32(b, size);
	if (!mini)
		zs_test_u32(b, 0);
}

/* SPICE_MSG_MAIN_INIT with multi_media_time = mm_time. */
static inline void zs_test_main_init(struct zs_test_bytes *b, bool mini,
	uint64_t serial, uint32_t mm_time)
{
	zs_test_msg_header(b, mini, serial, SPICE_MSG_MAIN_INIT, 32);
	zs_test_u32(b, 0x1234);  /* session_id */
	zs_test_u32(b, 1);       /* display_channels_hint */
	zs_test_u32(b, 3);       /* supported_mouse_modes */
	zs_test_u32(b, 2);       /* current_mouse_mode */
	zs_test_u32(b, 1);       /* agent_connected */
	zs_test_u32(b, 10);      /* agent_tokens */
	zs_test_u32(b, mm_time); /* multi_media_time */
	zs_test_u32(b, 0x777);   /* ram_hint */
}

static inline void zs_test_mm_time(struct zs_test_bytes *b, bool mini,
	uint64_t serial, uint32_t mm_time)
{
	zs_test_msg_header(b, mini, serial, SPICE_MSG_MAIN_MULTI_MEDIA_TIME, 4);
	zs_test_u32(b, mm_time);
}

/* SPICE_MSG_MAIN_NAME "zerospice" */
static inline void zs_test_name(struct zs_test_bytes *b, bool mini,
	uint64_t serial)
{
	zs_test_msg_header(b, mini, serial, SPICE_MSG_MAIN_NAME, 4 + 10);
	zs_test_u32(b, 10);
	zs_test_put(b, "zerospice", 10);
}

/* SPICE_MSG_MAIN_CHANNELS_LIST: n channels, {type, id} each. */
static inline void zs_test_channels_list(struct zs_test_bytes *b, bool mini,
	uint64_t serial, const uint8_t (*channels)[2], uint32_t n)
{
	zs_test_msg_header(b, mini, serial, SPICE_MSG_MAIN_CHANNELS_LIST,
		4 + 2 * n);
	zs_test_u32(b, n);
	for (uint32_t i = 0; i < n; i++)
		zs_test_put(b, channels[i], 2);
}

/* What spice-server 0.15 lists for zerospice: the stream's display 0, the
 * stub QXL's display and cursor 1, and the rest. */
static const uint8_t zs_test_zerospice_channels[][2] = {
	{ SPICE_CHANNEL_MAIN, 0 },
	{ SPICE_CHANNEL_DISPLAY, 0 },
	{ SPICE_CHANNEL_INPUTS, 0 },
	{ SPICE_CHANNEL_CURSOR, 0 },
	{ SPICE_CHANNEL_DISPLAY, 1 },
	{ SPICE_CHANNEL_CURSOR, 1 },
	{ SPICE_CHANNEL_PLAYBACK, 0 },
};
