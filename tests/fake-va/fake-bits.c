/* zerospice — fake VA driver: reading our packed headers back and writing
 * the coded buffer, shared by the H.264 and HEVC "encoders". */
#include <string.h>

#include "fake-va.h"

uint32_t read_bits(struct reader *r, unsigned n)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < n; i++) {
		if (r->pos >= r->bits) {
			r->overrun = true;
			return 0;
		}
		v = v << 1 | ((r->data[r->pos / 8] >> (7 - r->pos % 8)) & 1u);
		r->pos++;
	}
	return v;
}

uint32_t read_ue(struct reader *r)
{
	unsigned zeros = 0;
	while (read_bits(r, 1) == 0) {
		if (r->overrun || ++zeros > 31) {
			r->overrun = true;
			return 0;
		}
	}
	return ((1u << zeros) - 1) + read_bits(r, zeros);
}

int32_t read_se(struct reader *r)
{
	uint32_t v = read_ue(r);
	return v & 1 ? (int32_t)((v + 1) / 2) : -(int32_t)(v / 2);
}

size_t start_code_len(const uint8_t *d, size_t len)
{
	if (len >= 4 && d[0] == 0 && d[1] == 0 && d[2] == 0 && d[3] == 1)
		return 4;
	if (len >= 3 && d[0] == 0 && d[1] == 0 && d[2] == 1)
		return 3;
	return 0;
}

size_t unescape(const uint8_t *in, size_t len, uint8_t *out)
{
	size_t o = 0;
	unsigned zeros = 0;

	for (size_t i = 0; i < len; i++) {
		if (zeros == 2 && in[i] == 3) {
			zeros = 0;
			continue;
		}
		out[o++] = in[i];
		zeros = in[i] == 0 ? zeros + 1 : 0;
	}
	return o;
}

void emit(struct output *o, const uint8_t *bytes, size_t len)
{
	VACodedBufferSegment *seg;
	int max = (int)(sizeof(o->coded->segments) /
		sizeof(o->coded->segments[0]));

	if (len > o->coded->size - o->used) {
		o->overflow = true;
		return;
	}
	memcpy(o->coded->data + o->used, bytes, len);
	/* One segment per NAL unit, as some drivers do: the application
	 * must concatenate them. The last segment takes any excess. */
	if (o->n_segments < max) {
		seg = &o->coded->segments[o->n_segments];
		*seg = (VACodedBufferSegment){ .buf = o->coded->data + o->used,
			.size = (uint32_t)len };
		if (o->n_segments > 0)
			o->coded->segments[o->n_segments - 1].next = seg;
		o->n_segments++;
	} else {
		o->coded->segments[max - 1].size += (uint32_t)len;
	}
	o->used += len;
}
