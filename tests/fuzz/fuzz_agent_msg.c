/* Fuzz target: the whole-message vdagent reader of the agent bridge (bytes
 * from the guest agent and from spice-server) and the clipboard and
 * capability payload parsers run on every message it delivers. Checks that
 * whole and piecewise feeding agree, that what a message says stays inside
 * it, and that a rebuilt message reads back the same. */
#include <stdlib.h>
#include <string.h>

#include <spice/vd_agent.h>

#include "fuzz.h"
#include "zs-client-proto.h"

/* Small, so that the skip path of oversized messages runs too. */
#define MAX_MSG 4096

struct trace {
	uint64_t hash;
	size_t count;
};

static void check_payload(const struct zs_agent_msg *m)
{
	struct zs_agent_clipboard c;
	uint32_t caps[4];
	bool request;

	for (int sel = 0; sel < 2; sel++) {
		if (!zs_agent_parse_clipboard(m->type, m->data, m->size, sel,
				&c))
			continue;
		if (c.data && (c.data < m->data ||
		    c.data + c.data_len > m->data + m->size))
			abort();
	}
	if (zs_agent_parse_caps(m->data, m->size, &request, caps, 4) &&
	    m->size < 4)
		abort();

	/* rebuilt, it reads back as one message with the same bytes */
	size_t len;
	uint8_t *bytes = zs_agent_msg_build(m->port, m->type, m->data, m->size,
		NULL, 0, &len);
	if (!bytes)
		abort();
	struct zs_agent_msg_reader r;
	char err[160];
	zs_agent_msg_reader_init(&r, MAX_MSG);
	if (!zs_agent_msg_reader_feed(&r, bytes, len, NULL, NULL, err,
			sizeof(err)) || !zs_agent_msg_reader_idle(&r))
		abort();
	zs_agent_msg_reader_finish(&r);
	free(bytes);
}

static void on_msg(const struct zs_agent_msg *m, void *data)
{
	struct trace *t = data;

	if (m->port != VDP_CLIENT_PORT && m->port != VDP_SERVER_PORT)
		abort();
	if (m->data)
		check_payload(m);
	else if (m->size <= MAX_MSG)
		abort();
	t->hash = zs_fuzz_hash(t->hash, &m->port, sizeof(m->port));
	t->hash = zs_fuzz_hash(t->hash, &m->type, sizeof(m->type));
	t->hash = zs_fuzz_hash(t->hash, &m->size, sizeof(m->size));
	if (m->data)
		t->hash = zs_fuzz_hash(t->hash, m->data, m->size);
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
	struct zs_agent_msg_reader r;
	struct trace whole = { ZS_FUZZ_HASH_INIT, 0 };
	struct trace pieces = { ZS_FUZZ_HASH_INIT, 0 };
	char err[160] = "";

	zs_agent_msg_reader_init(&r, MAX_MSG);
	bool whole_ok = zs_agent_msg_reader_feed(&r, in.stream, in.stream_len,
		on_msg, &whole, err, sizeof(err));
	if (!whole_ok)
		check_err(err);
	zs_agent_msg_reader_finish(&r);

	zs_agent_msg_reader_init(&r, MAX_MSG);
	bool pieces_ok = true;
	size_t off = 0;
	for (size_t i = 0; off < in.stream_len; i++) {
		size_t n = zs_fuzz_piece_len(&in, i, in.stream_len - off);
		err[0] = '\0';
		if (!zs_agent_msg_reader_feed(&r, in.stream + off, n, on_msg,
				&pieces, err, sizeof(err))) {
			check_err(err);
			pieces_ok = false;
			break;
		}
		off += n;
	}
	zs_agent_msg_reader_finish(&r);

	if (whole_ok != pieces_ok || whole.count != pieces.count ||
	    whole.hash != pieces.hash)
		abort();
	return 0;
}

/* schedule bytes, then chunks as a guest agent or spice-server writes them */
#define CAPS_CHUNK \
	"\x01\x00\x00\x00\x1c\x00\x00\x00" \
	"\x01\x00\x00\x00\x06\x00\x00\x00" \
	"\x00\x00\x00\x00\x00\x00\x00\x00\x08\x00\x00\x00" \
	"\x01\x00\x00\x00\x61\x00\x00\x00"
#define GRAB_CHUNK \
	"\x01\x00\x00\x00\x1c\x00\x00\x00" \
	"\x01\x00\x00\x00\x07\x00\x00\x00" \
	"\x00\x00\x00\x00\x00\x00\x00\x00\x08\x00\x00\x00" \
	"\x00\x00\x00\x00\x01\x00\x00\x00"
#define DATA_CHUNK \
	"\x01\x00\x00\x00\x22\x00\x00\x00" \
	"\x01\x00\x00\x00\x04\x00\x00\x00" \
	"\x00\x00\x00\x00\x00\x00\x00\x00\x0e\x00\x00\x00" \
	"\x00\x00\x00\x00\x01\x00\x00\x00hello!"

const struct zs_fuzz_seed zs_fuzz_seeds[] = {
	ZS_FUZZ_SEED("\x07\x1d\x00\x00" CAPS_CHUNK GRAB_CHUNK DATA_CHUNK),
	ZS_FUZZ_SEED("\x01\x00\x00\x00" DATA_CHUNK),
	/* one message over two chunks, a server-port message in between */
	ZS_FUZZ_SEED("\x00\x00\x00\x00"
		"\x01\x00\x00\x00\x0a\x00\x00\x00"
		"\x01\x00\x00\x00\x04\x00\x00\x00\x00\x00"
		"\x02\x00\x00\x00\x14\x00\x00\x00"
		"\x01\x00\x00\x00\x09\x00\x00\x00"
		"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
		"\x01\x00\x00\x00\x12\x00\x00\x00"
		"\x00\x00\x00\x00\x00\x00\x06\x00\x00\x00"
		"\x01\x00\x00\x00hi"),
};
const size_t zs_fuzz_seed_count = sizeof(zs_fuzz_seeds) /
	sizeof(zs_fuzz_seeds[0]);
