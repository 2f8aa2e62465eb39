/* The zerospice process's state (struct app), shared by main.c and
 * main-broker.c; not for the rest of server/. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "internal.h"
#include "zs-server.h"

#define EXIT_BAD_OPTIONS 2
#define MAX_KEYS 512

struct app;

/* One QEMU console (or test pattern) shown as one SPICE display: its own
 * source, encoder pipeline and stream device (output), shared by all
 * clients. */
struct console {
	struct app *app;
	unsigned index;       /* SPICE display channel and output */
	uint32_t number;      /* QEMU's console number (--console) */
	struct zs_source *source;
	struct zs_pipeline *pipeline;
	/* --reconnect: the new source shows black at the last picture's
	 * size until QEMU's first */
	uint32_t last_width, last_height;
	struct zs_resize resize; /* the client's window size asked of QEMU */
	bool device_info_sent; /* by this source */
};

struct app {
	struct zs_options opts;
	GMainLoop *loop;
	struct zs_display *display;
	struct console consoles[ZS_MAX_CONSOLES];
	unsigned n_consoles;
	struct zs_pipeline_config pcfg; /* every console's */
	bool consoles_full; /* a display could not be added: no more */
	struct zs_front *front;
	struct zs_session *session;
	struct zs_trace *trace; /* --trace-stages */
	struct zs_metrics *metrics;
	int exit_code;
	/* --reconnect: the closed sources are replaced from this timer */
	GSource *reconnect_timer;
	/* keys the clients hold down, released when the last client leaves */
	uint8_t keys_down[MAX_KEYS / 8];
	uint32_t buttons;
	uint32_t watched; /* bit per display some client watches */
	struct zs_audio *audio;  /* QEMU source: SPICE playback and record */
	/* broker contract: control API, pidfile, why the loop stopped */
	struct zs_broker *broker;
	struct zs_pidfile *pidfile;
	char *leave_reason;
	int activated_fd, activated_tls_fd; /* socket activation, 0 = none */
};

/* --print-capabilities, the log format, socket activation and the
 * pidfile, after the options and before the main loop. Returns -1 to go
 * on, else the exit status. */
int zs_app_broker_setup(struct app *app);
/* Closes what zs_app_broker_setup and the broker opened. */
void zs_app_broker_teardown(struct app *app);
