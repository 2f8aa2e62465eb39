/* zerospice-bench: key lines of zerospice's stage trace. */
#include "keytrace.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

bool zb_key_line_parse(const char *line, struct zb_key_line *k)
{
	struct zb_key_line t;
	int end = 0;

	memset(&t, 0, sizeof(t));
	if (!line || strncmp(line, "k ", 2) != 0)
		return false;
	uint64_t scancode, stamp_us;
	/* a digit first: sscanf would take "-1" for a huge unsigned */
	if (line[2] < '0' || line[2] > '9')
		return false;
	if (sscanf(line + 2, "%" SCNu64 " %" SCNd64 " %" SCNd64 " %" SCNd64
		   " %" SCNu64 " %" SCNd64 " %" SCNd64 " %" SCNu64 "%n",
		   &scancode, &t.recv_us, &t.call_us, &t.reply_us, &t.frame_id,
		   &t.capture_us, &t.emit_us, &stamp_us, &end) != 8 ||
	    scancode > UINT32_MAX || stamp_us > UINT32_MAX)
		return false;
	t.scancode = (uint32_t)scancode;
	t.stamp_us = (uint32_t)stamp_us;
	/* nothing but the line's end after the last field */
	const char *rest = line + 2 + end;
	while (*rest == ' ' || *rest == '\r' || *rest == '\n')
		rest++;
	if (*rest)
		return false;
	if (t.recv_us <= 0 || t.call_us < t.recv_us || t.reply_us < 0 ||
	    (t.reply_us && t.reply_us < t.call_us) || t.capture_us < 0 ||
	    t.emit_us < 0 || (t.frame_id && (t.capture_us <= 0 ||
	    t.emit_us < t.capture_us)))
		return false;
	*k = t;
	return true;
}

ptrdiff_t zb_key_line_match(const struct zb_key_line *lines, size_t n,
	uint32_t scancode, int64_t sent_us, int64_t shown_us)
{
	ptrdiff_t best = -1;

	for (size_t i = 0; i < n; i++) {
		const struct zb_key_line *k = &lines[i];
		if (k->scancode != scancode || !k->frame_id ||
		    k->recv_us < sent_us || k->recv_us > shown_us)
			continue;
		if (best < 0 || k->recv_us < lines[best].recv_us)
			best = (ptrdiff_t)i;
	}
	return best;
}
