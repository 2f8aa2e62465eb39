/* zs-guest-agent: /init of the agent test guest. A small SPICE guest agent
 * (the vdagent protocol on the virtio-serial port com.redhat.spice.0),
 * clipboard only, that runs a fixed script and reports on the console
 * (ttyS0) what a test checks:
 *
 *  1. on the peer's capabilities: grabs "zerospice guest text A" and serves
 *     it on request;
 *  2. on any text the peer sends: logs "zs-agent: received N bytes crc32 C"
 *     (the peer's grab is answered with a request);
 *  3. after receiving ≥ 900000 bytes: grabs 1 MiB of generated lines (the
 *     same as tests/integration/qemu-agent.sh makes) and serves it;
 *  4. with zsagent.vanish on the kernel command line, after serving that:
 *     grabs "zerospice guest text C", and on its request writes half of a
 *     1 MiB answer (the last chunk torn), closes the port, waits a second,
 *     opens it again and sends a chunk of 4096 bytes (over the protocol's
 *     2048: "zs-agent: sent an oversized chunk"), closes and reopens the
 *     port again, then grabs 500 times in a row (a grab storm) and last
 *     "zerospice guest text D".
 * Also takes file transfers ("zs-agent: file NAME: N bytes crc32 C") and
 * logs monitors configs ("zs-agent: monitors config: N: WxH+X+Y…"), display
 * configs, volume syncs, graphics device info and the first mouse states
 * (it announces those capabilities, mouse included).
 * Not a real agent; only for tests (tools/guest/build.sh builds it). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <spice/vd_agent.h>

#define PORT_NAME "com.redhat.spice.0"
#define BIG_BYTES (1u << 20)
/* QEMU's qemu-vdagent drops messages over its 1 MiB buffer: its tests send
 * a little less */
#define BIG_TRIGGER_BYTES 900000u
#define MAX_MSG (64u << 20)

static int port = -1;
static uint32_t peer_caps;
static bool grabbed, vanish_armed, vanish_done, big_served;
static int sessions;
static uint32_t serial;
static unsigned mouse_states;
static char text[128] = "zerospice guest text A";
static uint8_t *big;

static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("zs-agent: ", stdout);
	vprintf(fmt, ap);
	fputs("\n", stdout);
	fflush(stdout);
	va_end(ap);
}

static uint32_t crc32(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & -(c & 1));
	}
	return ~c;
}

static void boot(void)
{
	mkdir("/dev", 0755);
	mkdir("/proc", 0755);
	mkdir("/sys", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	int con = open("/dev/console", O_RDWR);
	if (con >= 0) {
		dup2(con, 1);
		dup2(con, 2);
	}
	FILE *f = fopen("/modules.order", "re");
	char line[512];
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		int fd = open(line, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)
			say("load %s: %s", line, strerror(errno));
		close(fd);
	}
	if (f)
		fclose(f);
	char cmdline[2048] = "";
	int fd = open("/proc/cmdline", O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, cmdline, sizeof(cmdline) - 1);
		cmdline[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	vanish_armed = strstr(cmdline, "zsagent.vanish") != NULL;
}

/* /dev/vportNpM of the port named PORT_NAME */
static int open_port(void)
{
	for (int tries = 0; tries < 300; tries++) {
		DIR *d = opendir("/sys/class/virtio-ports");
		struct dirent *e;
		while (d && (e = readdir(d))) {
			char path[300], name[64] = "";
			snprintf(path, sizeof(path),
				"/sys/class/virtio-ports/%s/name", e->d_name);
			FILE *f = fopen(path, "re");
			if (!f)
				continue;
			if (fgets(name, sizeof(name), f))
				name[strcspn(name, "\n")] = '\0';
			fclose(f);
			if (strcmp(name, PORT_NAME) != 0)
				continue;
			snprintf(path, sizeof(path), "/dev/%s", e->d_name);
			int fd = open(path, O_RDWR | O_CLOEXEC);
			closedir(d);
			if (fd >= 0)
				return fd;
			say("open %s: %s", path, strerror(errno));
			d = NULL;
			break;
		}
		if (d)
			closedir(d);
		usleep(100000);
	}
	say("no virtio port %s", PORT_NAME);
	return -1;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* Writes one message as chunks; with cut, whole chunks up to half of it,
 * then half of the next chunk (its header says more): a torn stream. */
static void send_msg(uint32_t type, const uint8_t *data, size_t len, bool cut)
{
	size_t total = 20 + len;
	uint8_t *msg = malloc(total);
	put32(msg, VD_AGENT_PROTOCOL);
	put32(msg + 4, type);
	memset(msg + 8, 0, 8);
	put32(msg + 16, (uint32_t)len);
	memcpy(msg + 20, data, len);
	for (size_t pos = 0; pos < total;) {
		size_t n = total - pos > VD_AGENT_MAX_DATA_SIZE ?
			VD_AGENT_MAX_DATA_SIZE : total - pos;
		bool last = cut && pos >= total / 2;
		uint8_t head[8];
		put32(head, VDP_CLIENT_PORT);
		put32(head + 4, (uint32_t)n);
		if (write(port, head, 8) != 8 ||
		    write(port, msg + pos, last ? n / 2 : n) !=
			    (ssize_t)(last ? n / 2 : n)) {
			say("write: %s", strerror(errno));
			break;
		}
		if (last)
			break;
		pos += n;
	}
	free(msg);
}

static bool both(uint32_t cap)
{
	return (peer_caps >> cap) & 1;
}

#define OUR_CAPS ((1u << VD_AGENT_CAP_CLIPBOARD_BY_DEMAND) | \
	(1u << VD_AGENT_CAP_CLIPBOARD_SELECTION) | \
	(1u << VD_AGENT_CAP_CLIPBOARD_GRAB_SERIAL) | \
	(1u << VD_AGENT_CAP_MONITORS_CONFIG) | \
	(1u << VD_AGENT_CAP_REPLY) | \
	(1u << VD_AGENT_CAP_MOUSE_STATE) | \
	(1u << VD_AGENT_CAP_DISPLAY_CONFIG) | \
	(1u << VD_AGENT_CAP_AUDIO_VOLUME_SYNC) | \
	(1u << VD_AGENT_CAP_GRAPHICS_DEVICE_INFO))

static void announce(bool request)
{
	uint8_t m[8];
	put32(m, request);
	put32(m + 4, OUR_CAPS);
	send_msg(VD_AGENT_ANNOUNCE_CAPABILITIES, m, sizeof(m), false);
}

/* head of a clipboard message: selection prefix when both have it */
static size_t clip_head(uint8_t *out)
{
	if (!both(VD_AGENT_CAP_CLIPBOARD_SELECTION))
		return 0;
	memset(out, 0, 4);
	return 4;
}

static void grab(const char *what)
{
	uint8_t m[16];
	size_t n = clip_head(m);
	if (both(VD_AGENT_CAP_CLIPBOARD_GRAB_SERIAL)) {
		put32(m + n, serial++);
		n += 4;
	}
	put32(m + n, VD_AGENT_CLIPBOARD_UTF8_TEXT);
	send_msg(VD_AGENT_CLIPBOARD_GRAB, m, n + 4, false);
	grabbed = true;
	if (what)
		say("grabbed the clipboard: %s", what);
}

static void reply(bool cut)
{
	/* the cut answer is a big one: the stream tears mid-message */
	const uint8_t *data = (const uint8_t *)text;
	size_t len = strlen(text);
	if (big && (!big_served || cut)) {
		data = big;
		len = BIG_BYTES;
	}
	uint8_t *m = malloc(8 + len);
	size_t n = clip_head(m);
	put32(m + n, VD_AGENT_CLIPBOARD_UTF8_TEXT);
	memcpy(m + n + 4, data, len);
	send_msg(VD_AGENT_CLIPBOARD, m, n + 4 + len, cut);
	free(m);
	say("%s %zu bytes of clipboard text", cut ? "cut off" : "sent", len);
}

static void make_big(void)
{
	big = malloc(BIG_BYTES + 64);
	size_t pos = 0;
	for (unsigned i = 0; pos < BIG_BYTES; i++)
		pos += (size_t)sprintf((char *)big + pos,
			"guest line %06u of the zerospice clipboard\n", i);
}

/* one file transfer at a time is enough for tests */
static struct {
	uint32_t id;
	uint64_t size, done;
	uint32_t crc;
	char name[128];
	bool active;
} xfer;

static uint32_t crc32_more(uint32_t crc, const uint8_t *p, size_t n)
{
	uint32_t c = ~crc;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & -(c & 1));
	}
	return ~c;
}

static void xfer_status(uint32_t id, uint32_t result)
{
	uint8_t m[8];
	put32(m, id);
	put32(m + 4, result);
	send_msg(VD_AGENT_FILE_XFER_STATUS, m, sizeof(m), false);
}

/* START: {u32 id; "[vdagent-file-xfer]\nname=…\nsize=…\n"} */
static void xfer_start(const uint8_t *d, uint32_t len)
{
	if (len < 5)
		return;
	char *kf = strndup((const char *)d + 4, len - 4);
	char *name = strstr(kf, "name="), *size = strstr(kf, "size=");
	xfer.id = get32(d);
	xfer.size = size ? strtoull(size + 5, NULL, 10) : 0;
	xfer.done = 0;
	xfer.crc = 0;
	xfer.name[0] = '\0';
	if (name)
		sscanf(name + 5, "%127[^\n]", xfer.name);
	xfer.active = true;
	free(kf);
	say("file transfer %u: %s, %llu bytes", xfer.id, xfer.name,
		(unsigned long long)xfer.size);
	xfer_status(xfer.id, VD_AGENT_FILE_XFER_STATUS_CAN_SEND_DATA);
}

/* DATA: {u32 id; u64 size; data} */
static void xfer_data(const uint8_t *d, uint32_t len)
{
	if (len < 12 || !xfer.active || get32(d) != xfer.id)
		return;
	uint64_t n;
	memcpy(&n, d + 4, 8);
	if (n > len - 12)
		n = len - 12;
	xfer.crc = crc32_more(xfer.crc, d + 12, (size_t)n);
	xfer.done += n;
	if (xfer.done >= xfer.size) {
		say("file %s: %llu bytes crc32 %08x", xfer.name,
			(unsigned long long)xfer.done, xfer.crc);
		xfer_status(xfer.id, VD_AGENT_FILE_XFER_STATUS_SUCCESS);
		xfer.active = false;
	}
}

/* MONITORS_CONFIG: {u32 num_of_monitors; u32 flags; VDAgentMonConfig[]} */
static void monitors(const uint8_t *d, uint32_t len)
{
	if (len < 8)
		return;
	uint32_t n = get32(d);
	char line[256] = "";
	size_t o = 0;
	for (uint32_t i = 0; i < n && 8 + 20 * (i + 1) <= len && o < 200; i++) {
		const uint8_t *m = d + 8 + 20 * i;
		/* VDAgentMonConfig {height, width, depth, x, y} */
		o += (size_t)snprintf(line + o, sizeof(line) - o, " %ux%u+%d+%d",
			get32(m + 4), get32(m), (int)get32(m + 12),
			(int)get32(m + 16));
	}
	say("monitors config: %u:%s", n, line);
	uint8_t r[8];
	put32(r, VD_AGENT_MONITORS_CONFIG);
	put32(r + 4, VD_AGENT_SUCCESS);
	send_msg(VD_AGENT_REPLY, r, sizeof(r), false);
}

/* returns false when the session must end (vanish) */
static bool handle(uint32_t port_id, uint32_t type, const uint8_t *d,
	uint32_t len)
{
	if (port_id != VDP_CLIENT_PORT) {
		if (type == VD_AGENT_CLIENT_DISCONNECTED)
			say("client disconnected");
		if (type == VD_AGENT_MOUSE_STATE && len >= 13 &&
		    mouse_states++ < 3)
			say("mouse state %u,%u buttons 0x%x display %u",
				get32(d), get32(d + 4), get32(d + 8), d[12]);
		if (type == VD_AGENT_GRAPHICS_DEVICE_INFO && len >= 4)
			say("graphics device info: %u device(s), %u bytes",
				get32(d), len);
		return true;
	}
	size_t h = both(VD_AGENT_CAP_CLIPBOARD_SELECTION) ? 4 : 0;
	switch (type) {
	case VD_AGENT_ANNOUNCE_CAPABILITIES:
		if (len < 8)
			break;
		if (vanish_armed && sessions == 1) {
			/* hostile, once the host listens: a chunk over
			 * VD_AGENT_MAX_DATA_SIZE; the host drops the stream in
			 * the middle of it, so do not wait for it */
			uint8_t head[8];
			static uint8_t junk[4096];
			put32(head, VDP_CLIENT_PORT);
			put32(head + 4, sizeof(junk));
			fcntl(port, F_SETFL, O_NONBLOCK);
			say("sent an oversized chunk");
			if (write(port, head, 8) == 8 &&
			    write(port, junk, sizeof(junk)) < 0)
				say("write: %s", strerror(errno));
			sleep(1);
			return false;
		}
		peer_caps = get32(d + 4);
		say("peer capabilities 0x%x%s", peer_caps,
			get32(d) ? " (asks ours)" : "");
		if (get32(d))
			announce(false);
		if (!grabbed && sessions >= 2) {
			/* a grab storm, the last one holds text D */
			for (int i = 0; i < 500; i++)
				grab(NULL);
		}
		if (!grabbed || sessions >= 2)
			grab(text);
		break;
	case VD_AGENT_CLIPBOARD_GRAB: {
		size_t s = h + (both(VD_AGENT_CAP_CLIPBOARD_GRAB_SERIAL) ? 4 : 0);
		if (both(VD_AGENT_CAP_CLIPBOARD_GRAB_SERIAL) && len >= s &&
		    get32(d + h) >= serial)
			serial = get32(d + h) + 1;
		grabbed = false;
		uint8_t m[8];
		size_t n = clip_head(m);
		put32(m + n, VD_AGENT_CLIPBOARD_UTF8_TEXT);
		send_msg(VD_AGENT_CLIPBOARD_REQUEST, m, n + 4, false);
		break;
	}
	case VD_AGENT_CLIPBOARD:
		if (len < h + 4)
			break;
		say("received %u bytes crc32 %08x", len - (uint32_t)h - 4,
			crc32(d + h + 4, len - h - 4));
		if (len - h - 4 >= BIG_TRIGGER_BYTES && !big) {
			make_big();
			grab("1 MiB of lines");
		}
		break;
	case VD_AGENT_FILE_XFER_START:
		xfer_start(d, len);
		break;
	case VD_AGENT_FILE_XFER_DATA:
		xfer_data(d, len);
		break;
	case VD_AGENT_FILE_XFER_STATUS:
		if (len >= 8 && xfer.active && get32(d) == xfer.id) {
			say("file transfer %u: status %u from the client",
				xfer.id, get32(d + 4));
			xfer.active = false;
		}
		break;
	case VD_AGENT_MONITORS_CONFIG:
		monitors(d, len);
		break;
	case VD_AGENT_DISPLAY_CONFIG:
		if (len >= 8)
			say("display config: flags 0x%x depth %u", get32(d),
				get32(d + 4));
		break;
	case VD_AGENT_AUDIO_VOLUME_SYNC:
		/* {u8 is_playback, u8 mute, u8 nchannels, u16 volume[]} */
		if (len >= 3 && len >= 3u + 2u * d[2])
			say("volume sync: %s, mute %u, %u channel(s), volume %u",
				d[0] ? "playback" : "record", d[1], d[2],
				d[2] ? (unsigned)(d[3] | (d[4] << 8)) : 0u);
		break;
	case VD_AGENT_CLIPBOARD_REQUEST:
		if (!grabbed)
			break;
		if (vanish_armed && !vanish_done && big_served) {
			reply(true);
			vanish_done = true;
			return false;
		}
		reply(false);
		if (big && !big_served) {
			big_served = true;
			if (vanish_armed) {
				strcpy(text, "zerospice guest text C");
				grab(text);
			}
		}
		break;
	}
	return true;
}

/* One session on the open port, until a vanish. */
static void session(void)
{
	static uint8_t chunk[8 + VD_AGENT_MAX_DATA_SIZE];
	uint8_t head[20];
	size_t head_len = 0;
	uint8_t *msg = NULL;
	uint32_t msg_len = 0, msg_done = 0;
	size_t have = 0;

	announce(true);
	for (;;) {
		ssize_t n = read(port, chunk + have, 8 - have);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			usleep(100000); /* host side not connected */
			continue;
		}
		have += (size_t)n;
		if (have < 8)
			continue;
		have = 0;
		uint32_t cport = get32(chunk), size = get32(chunk + 4);
		if (size > VD_AGENT_MAX_DATA_SIZE) {
			say("chunk of %u bytes: protocol error", size);
			return;
		}
		for (uint32_t got = 0; got < size;) {
			n = read(port, chunk + 8 + got, size - got);
			if (n <= 0 && errno != EINTR)
				return;
			if (n > 0)
				got += (uint32_t)n;
		}
		/* messages do not span ports in what we receive: one state */
		for (uint32_t off = 0; off < size;) {
			if (head_len < 20) {
				size_t k = 20 - head_len < size - off ?
					20 - head_len : size - off;
				memcpy(head + head_len, chunk + 8 + off, k);
				head_len += k;
				off += (uint32_t)k;
				if (head_len < 20)
					break;
				msg_len = get32(head + 16);
				if (msg_len > MAX_MSG) {
					say("message of %u bytes", msg_len);
					return;
				}
				msg = malloc(msg_len + 1);
				msg_done = 0;
			}
			uint32_t k = msg_len - msg_done < size - off ?
				msg_len - msg_done : size - off;
			memcpy(msg + msg_done, chunk + 8 + off, k);
			msg_done += k;
			off += k;
			if (msg_done == msg_len) {
				bool go = handle(cport, get32(head + 4), msg,
					msg_len);
				free(msg);
				msg = NULL;
				head_len = 0;
				if (!go)
					return;
			}
		}
	}
}

int main(void)
{
	boot();
	say("starting%s", vanish_armed ? " (vanish armed)" : "");
	for (;;) {
		port = open_port();
		if (port < 0) {
			sleep(1);
			continue;
		}
		say("port %s open", PORT_NAME);
		session();
		sessions++;
		close(port);
		port = -1;
		say("port closed");
		sleep(1);
		grabbed = false;
		peer_caps = 0;
		strcpy(text, "zerospice guest text D");
		say("reopened");
	}
}
