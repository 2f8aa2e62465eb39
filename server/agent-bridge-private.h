/* Internals of the agent bridge shared by agent-bridge.c (the device, the
 * guest agent) and agent-own.c (what zerospice answers itself). */
#pragma once

#include <glib.h>
#include <spice.h>

#include "internal.h"
#include "zs-client-proto.h"

#define N_SEL ZS_AGENT_BRIDGE_SELECTIONS
#define N_CAPS 4 /* 32-bit words of capabilities we keep */
/* Bytes waiting for spice-server past which we stop reading the guest. */
#define TO_SPICE_HIGH_BYTES (4u * 1024 * 1024)
/* Bytes waiting for spice-server past which our own messages are dropped
 * (a grab storm from QEMU's clipboard while the client reads nothing). */
#define TO_SPICE_MAX_BYTES (128u * 1024 * 1024)
/* Bytes waiting for the guest past which client messages are dropped. */
#define TO_GUEST_MAX_BYTES (128u * 1024 * 1024)
#define GUEST_READ_BYTES 65536

struct out_buf {
	uint8_t *data;
	size_t len, pos;
};

struct zs_agent_bridge {
	SpiceServer *server;
	const struct zs_agent_bridge_ops *ops;
	void *data;

	SpiceCharDeviceInstance sin;
	bool added;
	struct zs_agent_msg_reader from_spice;
	GQueue to_spice; /* struct out_buf */
	size_t to_spice_bytes;
	GSource *wakeup_idle;
	bool warned_full;

	/* the guest agent's stream, -1 for none */
	int guest_fd;
	struct zs_agent_msg_reader from_guest;
	GQueue to_guest; /* struct out_buf */
	size_t to_guest_bytes;
	GSource *guest_watch;
	GIOCondition guest_cond;
	uint32_t guest_caps[N_CAPS];
	bool guest_announced;
	bool said_agent_mouse;     /* logged that the agent takes the mouse */
	bool guest_grabs[N_SEL];   /* the guest agent holds it at the client */

	/* what the client told the agent */
	uint32_t client_caps[N_CAPS];
	bool client_announced;
	int32_t max_clipboard;     /* -1: no limit */

	/* without a guest agent: QEMU's clipboard */
	bool vm_clipboard;
	bool vm_owns[N_SEL];       /* we hold it at the client for QEMU */
	bool client_owns[N_SEL];   /* we hold it at QEMU for the client */
	bool vm_asked[N_SEL];      /* QEMU waits for the client's text */
};

/* One message to the client: head then body (VDP_CLIENT_PORT). */
void zs_agent_to_client(struct zs_agent_bridge *b, uint32_t type,
	const void *head, size_t head_len, const void *body, size_t body_len);

/* ---- agent-own.c */
/* cap in ours and in the client's announced capabilities */
bool zs_agent_both_have(const struct zs_agent_bridge *b, const uint32_t *ours,
	uint32_t cap);
/* What zerospice does itself, without a guest agent. */
void zs_agent_own_caps(const struct zs_agent_bridge *b, uint32_t *caps);
void zs_agent_announce(struct zs_agent_bridge *b, bool request);
/* Our clipboard toward QEMU is usable for sel (no guest agent, QEMU's
 * clipboard ready, the client announced by-demand clipboard). */
bool zs_agent_clipboard_usable(const struct zs_agent_bridge *b, uint32_t sel);
/* The client's clipboard is no longer ours to hold: QEMU's side forgets
 * it; with tell_client, the client forgets QEMU's. */
void zs_agent_drop_own_clipboard(struct zs_agent_bridge *b, bool tell_client);
/* A client message while no guest agent is attached. */
void zs_agent_client_msg_own(struct zs_agent_bridge *b,
	const struct zs_agent_msg *m);
