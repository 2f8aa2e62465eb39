/* zerospice-bench: the key lines of zerospice's --trace-stages (format 3,
 * QEMU sources) and which of them answers a key probe. libc only, so the
 * unit tests need no spice-client-glib. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "k scancode recv call reply frame capture emit stamp_us" (CLOCK_MONOTONIC
 * us; 0: unknown), as server/trace.c writes it. */
struct zb_key_line {
	uint32_t scancode;
	int64_t recv_us, call_us, reply_us;
	uint64_t frame_id;
	int64_t capture_us, emit_us;
	uint32_t stamp_us;
};

/* Parses one line; false for any other line (frame lines, comments) and
 * for a key line with a field missing or extra, negative, or out of order
 * (a call before the press came, a reply before its call, a frame emitted
 * before its capture). A frame may be captured before the press came:
 * QEMU's first message of that picture may precede it. */
bool zb_key_line_parse(const char *line, struct zb_key_line *k);

/* The key line that answers a probe sent at sent_us and answered at
 * shown_us: the first press of scancode received in [sent_us, shown_us]
 * whose answering frame is known. -1 when there is none. */
ptrdiff_t zb_key_line_match(const struct zb_key_line *lines, size_t n,
	uint32_t scancode, int64_t sent_us, int64_t shown_us);
