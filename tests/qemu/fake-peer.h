/* zerospice tests — the fake QEMU peer (fake-peer.c): one per test, set up by
 * peer_setup() as a Criterion .init, torn down by peer_teardown(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gio/gio.h>
#include <gio/gunixfdlist.h>

#include "helpers.h"
#include "qemu-private.h"

struct peer {
	GDBusConnection *conn;
	ZsQemuDisplay1Console *console;
	ZsQemuDisplay1Keyboard *kbd;
	ZsQemuDisplay1Mouse *mouse;
	GDBusConnection *lconn;
	GDBusProxy *listener, *map, *dmabuf2;
	GPtrArray *calls; /* "Press 30", "SetAbsPosition 10 20", ... */
	struct rec rec;
	struct zs_source *src;
	/* set: Mouse.SetAbsPosition and Keyboard.Press calls are held here,
	 * unanswered */
	GPtrArray *held;
};

extern struct peer P;

void peer_setup(void);
void peer_teardown(void);
/* Answers every held call and stops holding. */
void peer_release_held(void);
/* Records a call QEMU received ("Press 30"). */
void record(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

struct call {
	bool done, ok;
	char err[512];
	int64_t done_us;
};

void call_async(GDBusProxy *p, const char *method, GVariant *args,
	GUnixFDList *fds, struct call *c);
bool call_is_done(void *data);
/* Calls and waits; returns true on success, false with c->err. */
bool call(GDBusProxy *p, const char *method, GVariant *args,
	GUnixFDList *fds, struct call *c);
GVariant *bytes_v(const void *data, size_t len);
/* Waits until the source emitted n frames in all; the newest. */
struct zs_frame *wait_frame(int n);
/* A memfd of size bytes filled with fill that allows sealing (zerospice
 * seals it against shrinking), or one that does not (like QEMU's). */
int memfd_with(size_t size, uint8_t fill);
int memfd_unsealable(size_t size, uint8_t fill);
GUnixFDList *fds_of(int n, const int *fds);
uint32_t *xrgb_pattern(uint32_t w, uint32_t h, uint32_t seed);
uint32_t frame_pixel(const struct zs_frame *f, uint32_t x, uint32_t y);
bool scanout_xrgb(uint32_t w, uint32_t h, const uint32_t *px,
	struct call *c);
/* Update of the w×h rectangle at x,y with x8r8g8b8 pixels px (stride w*4). */
bool update_xrgb(int32_t x, int32_t y, int32_t w, int32_t h,
	const uint32_t *px, struct call *c);
