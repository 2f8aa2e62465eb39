/* Fuzz target: the stream-device reader (server → device bytes) and the
 * START_STOP parser. Checks that the reader gives the same messages and the
 * same verdict whole and in pieces, and that what it hands out is bounded. */
#include <stdlib.h>
#include <string.h>

#include <spice/stream-device.h>

#include "fuzz.h"
#include "zs-client-proto.h"

struct trace {
	uint64_t hash;
	size_t count;
};

static void on_msg(const struct zs_stream_msg *msg, void *data)
{
	struct trace *t = data;

	if (!msg->payload || msg->size > ZS_STREAM_MAX_IN_BYTES)
		abort();
	t->hash = zs_fuzz_hash(t->hash, &msg->type, sizeof(msg->type));
	t->hash = zs_fuzz_hash(t->hash, &msg->size, sizeof(msg->size));
	t->hash = zs_fuzz_hash(t->hash, msg->payload, msg->size);
	t->count++;

	if (msg->type == STREAM_TYPE_START_STOP) {
		uint32_t mask = 0;
		if (zs_stream_parse_start_stop(msg->payload, msg->size, &mask)) {
			if (mask & ~0x3eu)
				abort();
			enum zs_codec c = zs_codec_choose(mask, 0x3e,
				ZS_CODEC_NONE);
			if (mask && c == ZS_CODEC_NONE)
				abort();
		}
	}
}

static void check_err(const char *err)
{
	if (err[0] == '\0' || strchr(err, '\n'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zs_fuzz_input in = zs_fuzz_input_split(data, size);
	struct zs_stream_reader r;
	struct trace whole = { ZS_FUZZ_HASH_INIT, 0 };
	struct trace pieces = { ZS_FUZZ_HASH_INIT, 0 };
	char err[160] = "";

	zs_stream_reader_init(&r);
	bool whole_ok = zs_stream_reader_feed(&r, in.stream, in.stream_len,
		on_msg, &whole, err, sizeof(err));
	if (!whole_ok)
		check_err(err);
	zs_stream_reader_finish(&r);

	zs_stream_reader_init(&r);
	bool pieces_ok = true;
	size_t off = 0;
	for (size_t i = 0; off < in.stream_len; i++) {
		size_t n = zs_fuzz_piece_len(&in, i, in.stream_len - off);
		err[0] = '\0';
		if (!zs_stream_reader_feed(&r, in.stream + off, n, on_msg,
				&pieces, err, sizeof(err))) {
			check_err(err);
			pieces_ok = false;
			break;
		}
		off += n;
	}
	zs_stream_reader_finish(&r);

	if (whole_ok != pieces_ok || whole.count != pieces.count ||
			whole.hash != pieces.hash)
		abort();

	/* The START_STOP parser on the raw bytes too, not only on framed
	 * payloads. */
	uint32_t mask = 0;
	if (zs_stream_parse_start_stop(in.stream, in.stream_len, &mask) &&
			(mask & ~0x3eu))
		abort();
	return 0;
}

/* schedule bytes, then what spice-server writes to a stream device. */
const struct zs_fuzz_seed zs_fuzz_seeds[] = {
	ZS_FUZZ_SEED("\x05\x03\x00\x00"
		"\x01\x00\x01\x00\x00\x00\x00\x00"
		"\x01\x00\x04\x00\x06\x00\x00\x00\x05\x01\x02\x03\x04\x05"
		"\x01\x00\x05\x00\x12\x00\x00\x00\x00\x00\x00\x00"
		"Protocol error"
		"\x01\x00\x04\x00\x01\x00\x00\x00\x00"),
	ZS_FUZZ_SEED("\x01\x00\x00\x00"
		"\x01\x00\x04\x00\x03\x00\x00\x00\x02\x01\x03"),
	ZS_FUZZ_SEED("\x00\x00\x00\x00"
		"\x01\x00\x01\x00\x01\x00\x00\x00\x01"),
};
const size_t zs_fuzz_seed_count = sizeof(zs_fuzz_seeds) /
	sizeof(zs_fuzz_seeds[0]);
