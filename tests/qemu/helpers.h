/* zerospice tests — helpers shared by the QEMU source tests. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "zs-dmabuf.h"

/* Records what a source reports. Frames are kept until released with
 * rec_release_*; with keep_newest_only, older frames are released as soon as
 * a newer one arrives. */
struct rec {
	int n_frames;
	GPtrArray *frames; /* struct zs_frame *, oldest first, not released */
	bool keep_newest_only;
	int n_cursor_define;
	uint32_t cursor_w, cursor_h;
	int32_t cursor_hot_x, cursor_hot_y;
	uint32_t cursor_px0;
	int n_cursor_move;
	int32_t move_x, move_y;
	bool move_visible;
	bool closed;
	char reason[512];
};

extern const struct zs_source_events rec_events;
void rec_init(struct rec *r, bool keep_newest_only);
void rec_finish(struct rec *r);
struct zs_frame *rec_newest(struct rec *r);
void rec_release_all(struct rec *r);
/* Releases f (calls its release hook directly: the consumer's side). */
void rec_release(struct rec *r, struct zs_frame *f);

/* Runs the default main context until cond(data) or timeout_ms. */
bool loop_until(bool (*cond)(void *data), void *data, int timeout_ms);
/* Runs the default main context for ms. */
void loop_for(int ms);

/* Plane 0 of a packed 32-bit frame as tightly packed RGB24 (caller frees). */
uint8_t *frame_to_rgb(const struct zs_frame *f);
/* Reads a binary PPM (P6, maxval 255). */
uint8_t *ppm_read(const char *path, uint32_t *w, uint32_t *h);
size_t pixels_differing(const uint8_t *a, const uint8_t *b, size_t n_pixels);
double psnr_rgb(const uint8_t *a, const uint8_t *b, size_t n_bytes);
/* Inode of an fd, to tell whether two fds share a file. */
uint64_t fd_inode(int fd);

/* A synchronous QMP client for tests: connects (retrying up to timeout_ms),
 * negotiates, returns the fd or -1. */
int qmp_test_open(const char *path, int timeout_ms);
/* Sends cmd and waits for its return; false on error or timeout. */
bool qmp_test_cmd(int fd, const char *cmd, int timeout_ms);
