/* The control API's implementation (broker.c): tickets, AddClient,
 * certificates, encoder knobs, .vv files, the client list. Private to
 * server/. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zs-server.h"

struct zs_display;
struct zs_front;
struct zs_pipeline;

struct zs_broker_config {
	const struct zs_options *opts; /* borrowed, outlives the broker */
	struct zs_display *display;
	struct zs_front *front;
	struct zs_pipeline *pipeline;
	const char *bound;     /* "127.0.0.1:5900" or "unix:/path" */
	const char *tls_bound; /* "" without TLS */
	bool public_listener; /* not loopback or unix only */
};

/* Serves the control API (--control, --dbus-address). NULL without error
 * (err[0] == '\0') when neither is asked for; NULL with a reason in err
 * when it cannot be served. Copies the strings it needs. */
struct zs_broker *zs_broker_create(const struct zs_broker_config *cfg,
	char *err, size_t err_len);
/* The stream's size changed (the Size property). Accepts NULL. */
void zs_broker_frame_size(struct zs_broker *b, uint32_t width,
	uint32_t height);
/* Leaving(reason) on the control API, flushed. Accepts NULL. */
void zs_broker_leaving(struct zs_broker *b, const char *reason);
void zs_broker_destroy(struct zs_broker *b);
