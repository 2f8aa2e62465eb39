/* Fuzz target: the QMP reader (qemu/qmp.c): lines bounded, JSON classified,
 * ids and descriptions NUL-terminated; fed whole and in pieces it yields
 * the same messages. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "qemu-private.h"

struct seen {
	uint64_t hash;
	unsigned n;
};

static int on_msg(const struct zs_qemu_qmp_msg *msg, void *data)
{
	struct seen *s = data;

	if (msg->kind > ZS_QMP_MSG_EVENT ||
	    memchr(msg->id, '\0', sizeof(msg->id)) == NULL ||
	    memchr(msg->desc, '\0', sizeof(msg->desc)) == NULL)
		abort();
	s->hash = zs_fuzz_hash(s->hash, &msg->kind, sizeof(msg->kind));
	s->hash = zs_fuzz_hash(s->hash, msg->id, strlen(msg->id));
	s->hash = zs_fuzz_hash(s->hash, msg->desc, strlen(msg->desc));
	s->n++;
	return 0;
}

static int feed(const struct zs_fuzz_input *in, bool pieces, struct seen *s)
{
	struct zs_qemu_qmp_reader r;
	char err[256];
	size_t off = 0;
	int rc = 0;

	zs_qemu_qmp_reader_init(&r);
	s->hash = ZS_FUZZ_HASH_INIT;
	s->n = 0;
	for (size_t i = 0; off < in->stream_len && rc == 0; i++) {
		size_t n = pieces ? zs_fuzz_piece_len(in, i,
			in->stream_len - off) : in->stream_len - off;
		err[0] = '\0';
		rc = zs_qemu_qmp_reader_feed(&r, in->stream + off, n, on_msg, s,
			err, sizeof(err));
		if (rc < 0 && err[0] == '\0')
			abort();
		off += n;
	}
	zs_qemu_qmp_reader_finish(&r);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zs_fuzz_input in = zs_fuzz_input_split(data, size);
	struct seen whole, pieces;
	int rc_whole = feed(&in, false, &whole);
	int rc_pieces = feed(&in, true, &pieces);

	if (rc_whole != rc_pieces || whole.n != pieces.n ||
	    whole.hash != pieces.hash)
		abort();

	/* One line on its own, as the parser sees it. */
	struct zs_qemu_qmp_msg msg;
	zs_qemu_qmp_parse_line((const char *)in.stream,
		in.stream_len < 4096 ? in.stream_len : 4096, &msg);
	return 0;
}

const struct zs_fuzz_seed zs_fuzz_seeds[] = {
	ZS_FUZZ_SEED("\x05\x09\x00\x01{\"QMP\": {\"version\": {}, "
		"\"capabilities\": []}}\r\n"),
	ZS_FUZZ_SEED("\x03\x00\x00\x00{\"return\": {}, \"id\": \"zs-getfd\"}\n"
		"{\"timestamp\": {\"seconds\": 1}, \"event\": \"RESUME\"}\n"),
	ZS_FUZZ_SEED("\x07\x01\x02\x03{\"error\": {\"class\": \"GenericError\", "
		"\"desc\": \"\\\"return\\\" \\u00e9\"}, \"id\": \"zs-add-client\"}\n"),
	ZS_FUZZ_SEED("\x00\x00\x00\x00[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n"),
	ZS_FUZZ_SEED("\x01\x00\x00\x00{\"id\": 5, \"return\": [1, 2.5, null]}\n"
		"not json\n"),
};
const size_t zs_fuzz_seed_count = sizeof(zs_fuzz_seeds) /
	sizeof(zs_fuzz_seeds[0]);
