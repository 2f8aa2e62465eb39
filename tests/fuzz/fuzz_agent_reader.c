/* Fuzz target: the vdagent reader (server → agent chunks). Checks that it
 * reports the same mouse states, monitors configs and verdict whole and in
 * pieces, and that monitors configs hold what the parser promises. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "zs-client-proto.h"
#include "zs-dmabuf.h"

struct trace {
	uint64_t hash;
	size_t count;
};

static void on_mouse(const struct zs_agent_mouse *m, void *data)
{
	struct trace *t = data;
	uint32_t b = zs_agent_buttons_to_zs(m->buttons);
	const uint32_t all = ZS_BUTTON_LEFT | ZS_BUTTON_MIDDLE |
		ZS_BUTTON_RIGHT | ZS_BUTTON_WHEEL_UP | ZS_BUTTON_WHEEL_DOWN;

	if (b & ~all)
		abort();
	t->hash = zs_fuzz_hash(t->hash, &m->x, sizeof(m->x));
	t->hash = zs_fuzz_hash(t->hash, &m->y, sizeof(m->y));
	t->hash = zs_fuzz_hash(t->hash, &m->buttons, sizeof(m->buttons));
	t->hash = zs_fuzz_hash(t->hash, &m->display_id, sizeof(m->display_id));
	t->count++;
}

static void on_monitors(const struct zs_agent_monitors *m, const char *why,
	void *data)
{
	struct trace *t = data;

	if (!m) {
		if (!why || !why[0] || strchr(why, '\n'))
			abort();
		t->hash = zs_fuzz_hash(t->hash, why, strlen(why));
	} else {
		if (m->n == 0 || m->n > ZS_AGENT_MAX_MONITORS)
			abort();
		t->hash = zs_fuzz_hash(t->hash, m->mon,
			m->n * sizeof(m->mon[0]));
	}
	t->count++;
}

static void check_err(const char *err)
{
	if (err[0] == '\0' || strchr(err, '\n'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zs_fuzz_input in = zs_fuzz_input_split(data, size);
	struct zs_agent_reader r;
	struct trace whole = { ZS_FUZZ_HASH_INIT, 0 };
	struct trace pieces = { ZS_FUZZ_HASH_INIT, 0 };
	char err[160] = "";

	zs_agent_reader_init(&r);
	r.monitors_cb = on_monitors;
	r.monitors_data = &whole;
	bool whole_ok = zs_agent_reader_feed(&r, in.stream, in.stream_len,
		on_mouse, &whole, err, sizeof(err));
	if (!whole_ok)
		check_err(err);
	zs_agent_reader_finish(&r);

	zs_agent_reader_init(&r);
	r.monitors_cb = on_monitors;
	r.monitors_data = &pieces;
	bool pieces_ok = true;
	size_t off = 0;
	for (size_t i = 0; off < in.stream_len; i++) {
		size_t n = zs_fuzz_piece_len(&in, i, in.stream_len - off);
		err[0] = '\0';
		if (!zs_agent_reader_feed(&r, in.stream + off, n, on_mouse,
				&pieces, err, sizeof(err))) {
			check_err(err);
			pieces_ok = false;
			break;
		}
		off += n;
	}
	zs_agent_reader_finish(&r);

	if (whole_ok != pieces_ok || whole.count != pieces.count ||
			whole.hash != pieces.hash)
		abort();
	return 0;
}

/* schedule bytes, then VDIChunkHeader + VDAgentMessage as spice-server
 * writes them to the vdagent device. */
#define MOUSE_CHUNK \
	"\x02\x00\x00\x00\x21\x00\x00\x00" \
	"\x01\x00\x00\x00\x01\x00\x00\x00" \
	"\x00\x00\x00\x00\x00\x00\x00\x00\x0d\x00\x00\x00" \
	"\x80\x02\x00\x00\x68\x01\x00\x00\x02\x00\x00\x00\x00"
#define CAPS_CHUNK \
	"\x01\x00\x00\x00\x1c\x00\x00\x00" \
	"\x01\x00\x00\x00\x06\x00\x00\x00" \
	"\x00\x00\x00\x00\x00\x00\x00\x00\x08\x00\x00\x00" \
	"\x01\x00\x00\x00\x00\x00\x00\x00"

/* the client's window size: one 640x480 monitor */
#define MONITORS_CHUNK \
	"\x01\x00\x00\x00\x30\x00\x00\x00" \
	"\x01\x00\x00\x00\x02\x00\x00\x00" \
	"\x00\x00\x00\x00\x00\x00\x00\x00\x1c\x00\x00\x00" \
	"\x01\x00\x00\x00\x00\x00\x00\x00" \
	"\xe0\x01\x00\x00\x80\x02\x00\x00\x20\x00\x00\x00" \
	"\x00\x00\x00\x00\x00\x00\x00\x00"

const struct zs_fuzz_seed zs_fuzz_seeds[] = {
	ZS_FUZZ_SEED("\x03\x11\x00\x00" MONITORS_CHUNK MOUSE_CHUNK),
	ZS_FUZZ_SEED("\x07\x1d\x00\x00" CAPS_CHUNK MOUSE_CHUNK MOUSE_CHUNK),
	ZS_FUZZ_SEED("\x01\x00\x00\x00" MOUSE_CHUNK),
	/* one mouse message cut over two chunks */
	ZS_FUZZ_SEED("\x00\x00\x00\x00"
		"\x02\x00\x00\x00\x0a\x00\x00\x00"
		"\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00"
		"\x02\x00\x00\x00\x17\x00\x00\x00"
		"\x00\x00\x00\x00\x00\x00\x0d\x00\x00\x00"
		"\x10\x00\x00\x00\x20\x00\x00\x00\x10\x00\x00\x00\x00"),
};
const size_t zs_fuzz_seed_count = sizeof(zs_fuzz_seeds) /
	sizeof(zs_fuzz_seeds[0]);
