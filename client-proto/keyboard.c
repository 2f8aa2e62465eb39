/* PC set-1 scancode bytes, as spice-server pushes them one by one into
 * SpiceKbdInterface.push_scan_freg, assembled into key events. */
#include "zs-client-proto.h"

#define SCAN_RELEASE 0x80
#define PREFIX_E0 0xe0
#define PREFIX_E1 0xe1

bool zs_scancode_feed(struct zs_scancode_decoder *d, uint8_t byte,
	uint32_t *code, bool *down)
{
	/* 0xe0/0xe1 would be releases of keys 0x60/0x61, which set 1 does not
	 * have: they always (re)start a prefixed sequence, so a stray prefix
	 * cannot swallow more than one following byte. */
	if (byte == PREFIX_E0 || byte == PREFIX_E1) {
		d->prefix = byte;
		d->e1_left = byte == PREFIX_E1 ? 2 : 0;
		return false;
	}

	uint32_t key = byte & 0x7fu;
	bool is_down = !(byte & SCAN_RELEASE);

	switch (d->prefix) {
	case PREFIX_E0:
		d->prefix = 0;
		key |= 0xe000;
		break;
	case PREFIX_E1:
		/* Pause: e1 1d 45 (down), e1 9d c5 (up); the last byte decides. */
		if (d->e1_left > 1) {
			d->e1_left--;
			return false;
		}
		d->prefix = 0;
		d->e1_left = 0;
		key |= 0xe100;
		break;
	default:
		d->prefix = 0;
		d->e1_left = 0;
		break;
	}

	if (code)
		*code = key;
	if (down)
		*down = is_down;
	return true;
}
