/* zs-guest-scene: /init of the benchmark guest. A static program that loads
 * the display and input modules, takes the screen through DRM dumb buffers
 * (bochs on -device VGA, qxl on -vga qxl, virtio-gpu) and draws an animated
 * 1280x720 desktop-like scene at 60 fps: a full-motion "video" window, a
 * window moving across the desktop, the zerospice frame stamp at (16,16)
 * and the input stamp at (16,128); a box under the stamps flips between
 * black and white on every key or button press read from /dev/input.
 *
 * Kernel command line: zsg.fps=N (default 60), zsg.video=WxH (default
 * 800x450), zsg.size=WxH (default 1280x720), zsg.flip=1 (double-buffer
 * with page flips instead of drawing in place), zsg.follow=1 (follow the
 * connector's preferred mode: virtio-gpu makes the size the host asks for,
 * e.g. with Console.SetUIInfo, the preferred mode; checked twice a
 * second), zsg.tone=HZ (sound HZ on the PC speaker from the start: QEMU
 * -machine pcspk-audiodev=… plays it through an audiodev). Frame ids and
 * zsg.mic=1 (a child process records 1 s at a time from the first ALSA capture
 * device, 8 kHz stereo S16, and prints the dominant frequency and level
 * on the console, over and over: the SPICE client's microphone through
 * QEMU's -device AC97), zsg.avsync=MS (every MS milliseconds the box turns
 * white and the PC speaker sounds, both in the same frame, for 250 ms: a
 * picture change and an audio onset at one guest instant, for
 * zerospice-bench --av-sync; the tone is zsg.tone or 1000 Hz). Frame ids
 * and capture times are the guest's CLOCK_MONOTONIC, not the host's. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/kd.h>

#include <drm.h>
#include <drm_mode.h>

#include "sound.h"
#include "zs-stamp.h"

#define MAX_INPUTS 16
#define MAX_RECTS 8
#define STAMP_X 16
#define STAMP_Y 16
#define INPUT_STAMP_Y 128
#define FLIP_X 16
#define FLIP_Y 240
#define FLIP_W 240
#define FLIP_H 120
#define WIN_W 320
#define WIN_H 200
#define AV_ON_MS 250

struct rect {
	int32_t x, y, w, h;
};

struct buffer {
	uint32_t handle, fb_id, pitch;
	uint64_t size;
	uint8_t *px;
	int n_drawn;
	struct rect drawn[MAX_RECTS];
};

static struct {
	int drm;
	uint32_t crtc_id, conn_id;
	struct drm_mode_modeinfo mode;
	uint32_t w, h;
	struct buffer buf[2];
	int nbuf, back;
	bool can_flip;
	uint32_t *background; /* w*h static desktop */
	uint32_t *texture;    /* 2*video_w x video_h, scrolled */
	uint32_t video_w, video_h;
	int32_t video_x, video_y;
	int inputs[MAX_INPUTS];
	int n_inputs;
	struct zs_stamp_input in;
	bool flip_white;
	int32_t ptr_x, ptr_y;
} g = { .drm = -1 };

static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("zs-guest: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("zs-guest: fatal: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	sleep(2);
	reboot(RB_POWER_OFF);
	_exit(1);
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- boot: file systems and modules ---- */

static void mount_basics(void)
{
	mkdir("/dev", 0755);
	mkdir("/proc", 0755);
	mkdir("/sys", 0755);
	if (mount("devtmpfs", "/dev", "devtmpfs", 0, NULL) && errno != EBUSY)
		say("mount /dev: %s", strerror(errno));
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
}

static void load_modules(void)
{
	FILE *f = fopen("/modules.order", "re");
	if (!f) {
		say("no /modules.order: %s", strerror(errno));
		return;
	}
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!line[0])
			continue;
		int fd = open(line, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			say("%s: %s", line, strerror(errno));
			continue;
		}
		if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)
			say("load %s: %s", line, strerror(errno));
		close(fd);
	}
	fclose(f);
}

static void cmdline_size(const char *key, uint32_t *w, uint32_t *h)
{
	char buf[2048];
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	char *p = strstr(buf, key);
	if (!p)
		return;
	unsigned a = 0, b = 0;
	if (h && sscanf(p + strlen(key), "%ux%u", &a, &b) == 2 && a && b &&
	    a <= 4096 && b <= 4096) {
		*w = a;
		*h = b;
	} else if (!h && sscanf(p + strlen(key), "%u", &a) == 1 && a <= 240) {
		*w = a;
	}
}

/* KEY=N on the kernel command line, when min <= N <= max */
static void cmdline_uint(const char *key, uint32_t min, uint32_t max,
	uint32_t *out)
{
	char buf[2048];
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	char *p = strstr(buf, key);
	unsigned v;
	if (p && sscanf(p + strlen(key), "%u", &v) == 1 && v >= min && v <= max)
		*out = v;
}

/* ---- DRM ---- */

static int drm_ioctl(unsigned long req, void *arg)
{
	int r;
	do
		r = ioctl(g.drm, req, arg);
	while (r == -1 && (errno == EINTR || errno == EAGAIN));
	return r;
}

static void drm_open(uint32_t want_w, uint32_t want_h)
{
	for (int i = 0; i < 100 && g.drm < 0; i++) {
		g.drm = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
		if (g.drm < 0)
			usleep(100000);
	}
	if (g.drm < 0)
		die("no /dev/dri/card0: %s", strerror(errno));

	struct drm_mode_card_res res = { 0 };
	if (drm_ioctl(DRM_IOCTL_MODE_GETRESOURCES, &res))
		die("GETRESOURCES: %s", strerror(errno));
	uint32_t conns[16], crtcs[16], encs[16];
	if (res.count_connectors > 16)
		res.count_connectors = 16;
	if (res.count_crtcs > 16)
		res.count_crtcs = 16;
	if (res.count_encoders > 16)
		res.count_encoders = 16;
	res.count_fbs = 0;
	res.connector_id_ptr = (uintptr_t)conns;
	res.crtc_id_ptr = (uintptr_t)crtcs;
	res.encoder_id_ptr = (uintptr_t)encs;
	if (drm_ioctl(DRM_IOCTL_MODE_GETRESOURCES, &res))
		die("GETRESOURCES: %s", strerror(errno));
	if (!res.count_crtcs)
		die("no CRTC");
	g.crtc_id = crtcs[0];

	for (uint32_t i = 0; i < res.count_connectors && !g.conn_id; i++) {
		struct drm_mode_get_connector c = { .connector_id = conns[i] };
		if (drm_ioctl(DRM_IOCTL_MODE_GETCONNECTOR, &c))
			continue;
		if (c.count_modes == 0)
			continue;
		struct drm_mode_modeinfo *modes = calloc(c.count_modes, sizeof(*modes));
		uint32_t n_modes = c.count_modes;
		c.count_props = 0;
		c.count_encoders = 0;
		c.modes_ptr = (uintptr_t)modes;
		if (drm_ioctl(DRM_IOCTL_MODE_GETCONNECTOR, &c) || c.count_modes > n_modes) {
			free(modes);
			continue;
		}
		int pick = -1;
		for (uint32_t m = 0; m < c.count_modes; m++)
			if (modes[m].hdisplay == want_w && modes[m].vdisplay == want_h) {
				pick = (int)m;
				break;
			}
		if (pick < 0) {
			say("no %ux%u mode, using %ux%u", want_w, want_h,
				modes[0].hdisplay, modes[0].vdisplay);
			pick = 0;
		}
		g.mode = modes[pick];
		g.conn_id = conns[i];
		free(modes);
	}
	if (!g.conn_id)
		die("no connector with modes");
	g.w = g.mode.hdisplay;
	g.h = g.mode.vdisplay;
}

/* The connector's preferred mode (the host's wish on virtio-gpu); false
 * when there is none. Asking for the modes makes the kernel probe again. */
static bool preferred_mode(struct drm_mode_modeinfo *out)
{
	struct drm_mode_get_connector c = { .connector_id = g.conn_id };
	if (drm_ioctl(DRM_IOCTL_MODE_GETCONNECTOR, &c) || c.count_modes == 0)
		return false;
	uint32_t n_modes = c.count_modes;
	struct drm_mode_modeinfo *modes = calloc(n_modes, sizeof(*modes));
	if (!modes)
		return false;
	c.count_props = 0;
	c.count_encoders = 0;
	c.modes_ptr = (uintptr_t)modes;
	bool found = false;
	if (drm_ioctl(DRM_IOCTL_MODE_GETCONNECTOR, &c) == 0 &&
	    c.count_modes <= n_modes) {
		for (uint32_t m = 0; m < c.count_modes && !found; m++) {
			if (modes[m].type & DRM_MODE_TYPE_PREFERRED) {
				*out = modes[m];
				found = true;
			}
		}
	}
	free(modes);
	return found;
}

static bool buffer_create(struct buffer *b)
{
	struct drm_mode_create_dumb cd = { .width = g.w, .height = g.h, .bpp = 32 };
	if (drm_ioctl(DRM_IOCTL_MODE_CREATE_DUMB, &cd))
		return false;
	b->handle = cd.handle;
	b->pitch = cd.pitch;
	b->size = cd.size;
	struct drm_mode_fb_cmd fb = { .width = g.w, .height = g.h,
		.pitch = cd.pitch, .bpp = 32, .depth = 24, .handle = cd.handle };
	if (drm_ioctl(DRM_IOCTL_MODE_ADDFB, &fb))
		return false;
	b->fb_id = fb.fb_id;
	struct drm_mode_map_dumb md = { .handle = cd.handle };
	if (drm_ioctl(DRM_IOCTL_MODE_MAP_DUMB, &md))
		return false;
	b->px = mmap(NULL, cd.size, PROT_READ | PROT_WRITE, MAP_SHARED, g.drm,
		(off_t)md.offset);
	return b->px != MAP_FAILED;
}

static bool set_crtc(const struct buffer *b)
{
	struct drm_mode_crtc crtc = {
		.crtc_id = g.crtc_id,
		.fb_id = b->fb_id,
		.set_connectors_ptr = (uintptr_t)&g.conn_id,
		.count_connectors = 1,
		.mode = g.mode,
		.mode_valid = 1,
	};
	return drm_ioctl(DRM_IOCTL_MODE_SETCRTC, &crtc) == 0;
}

static void dirty(const struct buffer *b, const struct rect *r, int n)
{
	struct drm_clip_rect clips[MAX_RECTS * 2 + 4];
	int k = 0;
	for (int i = 0; i < n && k < (int)(sizeof(clips) / sizeof(clips[0])); i++) {
		if (r[i].w <= 0 || r[i].h <= 0)
			continue;
		clips[k++] = (struct drm_clip_rect){ (unsigned short)r[i].x,
			(unsigned short)r[i].y, (unsigned short)(r[i].x + r[i].w),
			(unsigned short)(r[i].y + r[i].h) };
	}
	struct drm_mode_fb_dirty_cmd d = { .fb_id = b->fb_id, .num_clips = (uint32_t)k,
		.clips_ptr = (uintptr_t)clips };
	drm_ioctl(DRM_IOCTL_MODE_DIRTYFB, &d); /* ENOSYS on drivers that scan out directly */
}

/* ---- drawing ---- */

static bool clip(struct rect *r)
{
	int32_t x0 = r->x < 0 ? 0 : r->x, y0 = r->y < 0 ? 0 : r->y;
	int32_t x1 = r->x + r->w > (int32_t)g.w ? (int32_t)g.w : r->x + r->w;
	int32_t y1 = r->y + r->h > (int32_t)g.h ? (int32_t)g.h : r->y + r->h;
	if (x0 >= x1 || y0 >= y1)
		return false;
	*r = (struct rect){ x0, y0, x1 - x0, y1 - y0 };
	return true;
}

static uint32_t *row(struct buffer *b, int32_t y)
{
	return (uint32_t *)(b->px + (size_t)y * b->pitch);
}

static void fill(struct buffer *b, struct rect r, uint32_t c)
{
	if (!clip(&r))
		return;
	for (int32_t y = r.y; y < r.y + r.h; y++) {
		uint32_t *p = row(b, y) + r.x;
		for (int32_t i = 0; i < r.w; i++)
			p[i] = c;
	}
}

static void restore(struct buffer *b, struct rect r)
{
	if (!clip(&r))
		return;
	for (int32_t y = r.y; y < r.y + r.h; y++)
		memcpy(row(b, y) + r.x, g.background + (size_t)y * g.w + r.x,
			(size_t)r.w * 4);
}

static void make_background(void)
{
	g.background = malloc((size_t)g.w * g.h * 4);
	if (!g.background)
		die("out of memory");
	for (uint32_t y = 0; y < g.h; y++) {
		for (uint32_t x = 0; x < g.w; x++) {
			uint32_t v;
			if (y >= g.h - 40) /* task bar */
				v = (x > 8 && x < 120 && y > g.h - 34 && y < g.h - 6) ?
					0x3060c0 : 0x202830;
			else
				v = (0x10 + y * 0x40 / g.h) << 16 | (0x30 + y * 0x50 / g.h) << 8 |
				    (0x60 + x * 0x60 / g.w);
			g.background[(size_t)y * g.w + x] = v;
		}
	}
	/* two static "windows" with title bars and text-like lines */
	const struct rect wins[] = { { 520, 40, 700, 80 }, { 40, 400, 420, 260 } };
	for (size_t i = 0; i < sizeof(wins) / sizeof(wins[0]); i++) {
		struct rect r = wins[i];
		if (!clip(&r))
			continue;
		for (int32_t y = r.y; y < r.y + r.h; y++)
			for (int32_t x = r.x; x < r.x + r.w; x++) {
				uint32_t v = y < r.y + 24 ? 0x405080 : 0xf0f0f0;
				if (y > r.y + 32 && (y - r.y) % 18 < 8 && x > r.x + 12 &&
				    x < r.x + r.w - 12 - ((y * 37) % 200))
					v = 0x404040;
				g.background[(size_t)y * g.w + x] = v;
			}
	}

	/* the video texture: two periods side by side, scrolled horizontally
	 * with a vertical wobble, so every pixel changes every frame */
	g.texture = malloc((size_t)g.video_w * 2 * g.video_h * 4);
	if (!g.texture)
		die("out of memory");
	for (uint32_t y = 0; y < g.video_h; y++)
		for (uint32_t x = 0; x < g.video_w * 2; x++) {
			uint32_t u = x % g.video_w;
			uint32_t r = (u * 255 / g.video_w) ^ (y * 3);
			uint32_t gg = ((u / 8 + y / 8) & 1) ? 0xc0 : 0x30;
			uint32_t bl = (y * 255 / g.video_h + u) & 0xff;
			g.texture[(size_t)y * g.video_w * 2 + x] = (r & 0xff) << 16 | gg << 8 | bl;
		}
}

static int32_t bounce(uint64_t t, int32_t range)
{
	if (range <= 0)
		return 0;
	uint64_t p = t % (2 * (uint64_t)range);
	return (int32_t)(p < (uint64_t)range ? p : 2 * (uint64_t)range - p);
}

static void add_rect(struct rect *list, int *n, struct rect r)
{
	if (*n < MAX_RECTS && clip(&r))
		list[(*n)++] = r;
}

static void draw_frame(struct buffer *b, uint32_t id, struct rect *damage,
	int *n_damage)
{
	struct rect now[MAX_RECTS];
	int n_now = 0;

	/* restore what this buffer had drawn last time (the video is redrawn
	 * whole below) */
	struct rect video = { g.video_x, g.video_y, (int32_t)g.video_w,
		(int32_t)g.video_h };
	clip(&video);
	for (int i = 0; i < b->n_drawn; i++)
		if (memcmp(&b->drawn[i], &video, sizeof(video)) != 0)
			restore(b, b->drawn[i]);

	/* the video window: a scrolled texture, every pixel changes */
	uint32_t shift = (id * 7) % g.video_w;
	for (int32_t y = 0; y < video.h; y++) {
		uint32_t ty = ((uint32_t)y + id) % g.video_h;
		memcpy(row(b, video.y + y) + video.x,
			g.texture + (size_t)ty * g.video_w * 2 + shift,
			(size_t)video.w * 4);
	}
	add_rect(now, &n_now, video);

	/* a window moving across the desktop, over the video */
	struct rect win = { bounce(id * 5, (int32_t)g.w - WIN_W),
		80 + bounce(id * 3, (int32_t)g.h - 40 - 80 - WIN_H), WIN_W, WIN_H };
	fill(b, win, 0xe8e8e8);
	fill(b, (struct rect){ win.x, win.y, win.w, 24 }, 0x2050a0);
	fill(b, (struct rect){ win.x + win.w - 20, win.y + 4, 16, 16 }, 0xc04040);
	for (int i = 0; i < 8; i++)
		fill(b, (struct rect){ win.x + 12, win.y + 36 + i * 20,
			(int32_t)(win.w - 24 - ((id + (uint32_t)i * 13) % 120)), 8 },
			0x303030);
	add_rect(now, &n_now, win);

	/* stamps and the input box */
	uint8_t payload[ZS_STAMP_PAYLOAD_BYTES];
	zs_stamp_pack_frame(payload, id, now_us());
	zs_stamp_draw(b->px, b->pitch, g.w, g.h, STAMP_X, STAMP_Y, payload);
	zs_stamp_pack_input(payload, &g.in);
	zs_stamp_draw(b->px, b->pitch, g.w, g.h, STAMP_X, INPUT_STAMP_Y, payload);
	fill(b, (struct rect){ FLIP_X, FLIP_Y, FLIP_W, FLIP_H },
		g.flip_white ? 0xffffff : 0x000000);
	struct rect stamps = { 0, 0, STAMP_X + ZS_STAMP_WIDTH_PX + 2 * ZS_STAMP_CELL_PX,
		FLIP_Y + FLIP_H };
	add_rect(now, &n_now, stamps);

	/* damage = what changed in this buffer since it was last shown */
	*n_damage = 0;
	for (int i = 0; i < b->n_drawn; i++)
		damage[(*n_damage)++] = b->drawn[i];
	for (int i = 0; i < n_now; i++)
		damage[(*n_damage)++] = now[i];
	b->n_drawn = n_now;
	memcpy(b->drawn, now, sizeof(now[0]) * (size_t)n_now);
	/* the stamps rect is redrawn whole every frame: keep it out of the
	 * restore list (it would flash the background) */
	b->n_drawn--;
}

/* ---- input ---- */

/* Opens input devices not opened yet: PS/2 mice and USB tablets appear
 * after the first frame. */
static void scan_inputs(void)
{
	static uint64_t opened;
	DIR *d = opendir("/dev/input");
	struct dirent *de;
	while (d && (de = readdir(d)) && g.n_inputs < MAX_INPUTS) {
		unsigned n;
		if (sscanf(de->d_name, "event%u", &n) != 1 || n >= 64 ||
		    (opened & (UINT64_C(1) << n)))
			continue;
		char path[300];
		snprintf(path, sizeof(path), "/dev/input/%s", de->d_name);
		int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		opened |= UINT64_C(1) << n;
		g.inputs[g.n_inputs++] = fd;
		char name[128] = "?";
		ioctl(fd, EVIOCGNAME(sizeof(name)), name);
		say("input %s: %s", de->d_name, name);
	}
	if (d)
		closedir(d);
}

static void read_inputs(void)
{
	for (int i = 0; i < g.n_inputs; i++) {
		struct input_event ev[32];
		ssize_t n;
		while ((n = read(g.inputs[i], ev, sizeof(ev))) > 0) {
			for (size_t k = 0; k < (size_t)n / sizeof(ev[0]); k++) {
				const struct input_event *e = &ev[k];
				if (e->type == EV_KEY && e->value != 2) {
					bool down = e->value == 1;
					if (e->code >= BTN_MISC && e->code < KEY_OK) {
						uint8_t bit = e->code == BTN_LEFT ? 1 :
							      e->code == BTN_RIGHT ? 2 :
							      e->code == BTN_MIDDLE ? 4 : 8;
						g.in.buttons = down ? (g.in.buttons | bit) :
								      (g.in.buttons & (uint8_t)~bit);
						g.in.button_events++;
					} else {
						g.in.last_key = e->code;
						g.in.last_key_down = down;
						g.in.key_events++;
					}
					if (down)
						g.flip_white = !g.flip_white;
				} else if (e->type == EV_REL) {
					if (e->code == REL_X)
						g.ptr_x += e->value;
					else if (e->code == REL_Y)
						g.ptr_y += e->value;
				} else if (e->type == EV_ABS) {
					if (e->code == ABS_X)
						g.ptr_x = e->value * (int32_t)g.w / 32768;
					else if (e->code == ABS_Y)
						g.ptr_y = e->value * (int32_t)g.h / 32768;
				}
			}
		}
	}
	g.ptr_x = g.ptr_x < 0 ? 0 : g.ptr_x >= (int32_t)g.w ? (int32_t)g.w - 1 : g.ptr_x;
	g.ptr_y = g.ptr_y < 0 ? 0 : g.ptr_y >= (int32_t)g.h ? (int32_t)g.h - 1 : g.ptr_y;
	g.in.pointer_x = (uint16_t)g.ptr_x;
	g.in.pointer_y = (uint16_t)g.ptr_y;
}

static void wait_until(uint64_t deadline_us)
{
	struct pollfd pfd[MAX_INPUTS];
	for (int i = 0; i < g.n_inputs; i++)
		pfd[i] = (struct pollfd){ g.inputs[i], POLLIN, 0 };
	for (;;) {
		uint64_t t = now_us();
		if (t >= deadline_us)
			return;
		int ms = (int)((deadline_us - t + 999) / 1000);
		if (poll(pfd, (nfds_t)g.n_inputs, ms) > 0) {
			read_inputs();
			return; /* show the reaction in the next frame at once */
		}
	}
}

static void buffer_destroy(struct buffer *b)
{
	if (b->px && b->px != MAP_FAILED)
		munmap(b->px, b->size);
	if (b->fb_id)
		drm_ioctl(DRM_IOCTL_MODE_RMFB, &b->fb_id);
	if (b->handle) {
		struct drm_mode_destroy_dumb dd = { .handle = b->handle };
		drm_ioctl(DRM_IOCTL_MODE_DESTROY_DUMB, &dd);
	}
	memset(b, 0, sizeof(*b));
}

/* Sizes the scene to g.w x g.h: background, video, buffers, the CRTC.
 * False when no buffer of that size can be made (the old ones are gone:
 * call again with a size that worked). */
static bool setup_screen(uint32_t video_w, uint32_t video_h)
{
	for (int i = 0; i < g.nbuf; i++)
		buffer_destroy(&g.buf[i]);
	free(g.background);
	free(g.texture);
	g.video_w = video_w;
	g.video_h = video_h;
	if (g.video_w + 40 > g.w)
		g.video_w = g.w > 80 ? g.w - 40 : 40;
	if (g.video_h + 100 > g.h)
		g.video_h = g.h > 140 ? g.h - 100 : 40;
	g.video_x = (int32_t)g.w - (int32_t)g.video_w - 20;
	g.video_y = g.h > 300 ? 140 : 0;
	make_background();

	g.nbuf = 0;
	g.back = 0;
	for (int i = 0; i < 2; i++) {
		if (!buffer_create(&g.buf[i]))
			break;
		g.nbuf++;
		for (uint32_t y = 0; y < g.h; y++)
			memcpy(row(&g.buf[i], (int32_t)y), g.background + (size_t)y * g.w,
				(size_t)g.w * 4);
	}
	if (g.nbuf == 0) {
		say("cannot create a %ux%u dumb buffer: %s", g.w, g.h,
			strerror(errno));
		return false;
	}
	if (!set_crtc(&g.buf[0])) {
		say("SETCRTC %ux%u: %s", g.w, g.h, strerror(errno));
		return false;
	}
	struct rect full = { 0, 0, (int32_t)g.w, (int32_t)g.h };
	dirty(&g.buf[0], &full, 1);
	return true;
}

int main(void)
{
	mount_basics();
	load_modules();

	uint32_t w = 1280, h = 720, fps = 60;
	g.video_w = 800;
	g.video_h = 450;
	cmdline_size("zsg.size=", &w, &h);
	cmdline_size("zsg.video=", &g.video_w, &g.video_h);
	cmdline_size("zsg.fps=", &fps, NULL);
	if (fps == 0)
		fps = 60;
	uint32_t flip = 0;
	cmdline_size("zsg.flip=", &flip, NULL);

	/* keep the text console from drawing over us */
	int tty = open("/dev/tty0", O_RDWR | O_CLOEXEC);
	if (tty >= 0)
		ioctl(tty, KDSETMODE, KD_GRAPHICS);

	uint32_t follow = 0, tone = 0, mic = 0, avsync_ms = 0;
	cmdline_size("zsg.mic=", &mic, NULL);
	cmdline_uint("zsg.avsync=", 1, 60000, &avsync_ms);
	if (mic && fork() == 0)
		zsg_mic_loop();
	cmdline_size("zsg.follow=", &follow, NULL);
	cmdline_uint("zsg.tone=", 20, 20000, &tone);
	if (avsync_ms && avsync_ms < 2 * AV_ON_MS)
		avsync_ms = 2 * AV_ON_MS;
	if (avsync_ms && !tone)
		tone = 1000;
	if (tone)
		zsg_speaker_tone(tone);
	if (avsync_ms) {
		zsg_speaker_gate(false);
		say("A/V sync: box and tone every %u ms", avsync_ms);
	}
	bool av_on = false;
	uint64_t av_start = now_us();
	uint32_t video_w = g.video_w, video_h = g.video_h;

	drm_open(w, h);
	if (!setup_screen(video_w, video_h))
		die("no screen at %ux%u", g.w, g.h);
	/* page flips make QEMU's VGA see a whole new screen every frame; a
	 * desktop draws in place with damage, so that is the default */
	g.can_flip = g.nbuf == 2 && flip;
	say("%ux%u at %u fps, video %ux%u, %d buffer(s)", g.w, g.h, fps,
		g.video_w, g.video_h, g.nbuf);
	scan_inputs();

	uint64_t period = 1000000u / fps, next = now_us();
	for (uint32_t id = 1;; id++) {
		if (id % 60 == 0)
			scan_inputs();
		struct drm_mode_modeinfo pref;
		if (follow && id % (fps / 2 ? fps / 2 : 1) == 0 &&
		    preferred_mode(&pref) &&
		    (pref.hdisplay != g.w || pref.vdisplay != g.h)) {
			say("preferred mode now %ux%u: following", pref.hdisplay,
				pref.vdisplay);
			struct drm_mode_modeinfo old = g.mode;
			g.mode = pref;
			g.w = pref.hdisplay;
			g.h = pref.vdisplay;
			if (!setup_screen(video_w, video_h)) {
				say("staying at %ux%u", old.hdisplay,
					old.vdisplay);
				g.mode = old;
				g.w = old.hdisplay;
				g.h = old.vdisplay;
				if (!setup_screen(video_w, video_h))
					die("no screen at %ux%u", g.w, g.h);
			}
		}
		read_inputs();
		/* the box and the speaker change together: the box is drawn
		 * below and the speaker switched right after the frame is
		 * handed to the display */
		bool av_change = false;
		if (avsync_ms) {
			bool on = (now_us() - av_start) % (avsync_ms * 1000ull) <
				  AV_ON_MS * 1000ull;
			av_change = on != av_on;
			av_on = on;
			if (av_change)
				g.flip_white = on;
		}
		struct buffer *b = &g.buf[g.can_flip ? g.back : 0];
		struct rect damage[MAX_RECTS * 2];
		int n_damage;
		draw_frame(b, id, damage, &n_damage);
		if (g.can_flip) {
			struct drm_mode_crtc_page_flip pf = { .crtc_id = g.crtc_id,
				.fb_id = b->fb_id };
			if (drm_ioctl(DRM_IOCTL_MODE_PAGE_FLIP, &pf) != 0 && !set_crtc(b)) {
				say("page flip: %s; drawing into one buffer", strerror(errno));
				g.can_flip = false;
				set_crtc(&g.buf[0]);
			}
			dirty(b, damage, n_damage);
			g.back ^= 1;
		} else {
			dirty(b, damage, n_damage);
		}
		if (av_change)
			zsg_speaker_gate(av_on);
		next += period;
		uint64_t t = now_us();
		if (next + period < t)
			next = t; /* fell behind: do not try to catch up */
		wait_until(next);
	}
}
