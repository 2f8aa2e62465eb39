/* zerospice tests — helpers shared by the QEMU source tests. */
#include <errno.h>
#include <poll.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "helpers.h"
#include "qemu-private.h"

static void on_frame(void *data, struct zs_frame *f)
{
	struct rec *r = data;

	r->n_frames++;
	g_ptr_array_add(r->frames, f);
	if (r->keep_newest_only) {
		while (r->frames->len > 1) {
			struct zs_frame *old = g_ptr_array_steal_index(r->frames, 0);
			old->release(old, old->release_data);
		}
	}
}

static void on_cursor_define(void *data, uint32_t w, uint32_t h, int32_t hx,
	int32_t hy, const uint32_t *argb)
{
	struct rec *r = data;

	r->n_cursor_define++;
	r->cursor_w = w;
	r->cursor_h = h;
	r->cursor_hot_x = hx;
	r->cursor_hot_y = hy;
	r->cursor_px0 = argb[0];
}

static void on_cursor_move(void *data, int32_t x, int32_t y, bool visible)
{
	struct rec *r = data;

	r->n_cursor_move++;
	r->move_x = x;
	r->move_y = y;
	r->move_visible = visible;
}

static void on_closed(void *data, const char *reason)
{
	struct rec *r = data;

	r->closed = true;
	g_strlcpy(r->reason, reason, sizeof(r->reason));
}

const struct zs_source_events rec_events = {
	.frame = on_frame,
	.cursor_define = on_cursor_define,
	.cursor_move = on_cursor_move,
	.closed = on_closed,
};

void rec_init(struct rec *r, bool keep_newest_only)
{
	memset(r, 0, sizeof(*r));
	r->frames = g_ptr_array_new();
	r->keep_newest_only = keep_newest_only;
}

void rec_release(struct rec *r, struct zs_frame *f)
{
	g_ptr_array_remove(r->frames, f);
	f->release(f, f->release_data);
}

void rec_release_all(struct rec *r)
{
	while (r->frames && r->frames->len) {
		struct zs_frame *f = g_ptr_array_steal_index(r->frames, 0);
		f->release(f, f->release_data);
	}
}

void rec_finish(struct rec *r)
{
	rec_release_all(r);
	if (r->frames)
		g_ptr_array_free(r->frames, TRUE);
	r->frames = NULL;
}

struct zs_frame *rec_newest(struct rec *r)
{
	if (!r->frames->len)
		return NULL;
	return g_ptr_array_index(r->frames, r->frames->len - 1);
}

static gboolean set_flag(gpointer data)
{
	*(bool *)data = true;
	return G_SOURCE_REMOVE;
}

bool loop_until(bool (*cond)(void *data), void *data, int timeout_ms)
{
	bool timed_out = false;
	GSource *t = g_timeout_source_new((guint)timeout_ms);

	g_source_set_callback(t, set_flag, &timed_out, NULL);
	g_source_attach(t, NULL);
	while (!cond(data) && !timed_out)
		g_main_context_iteration(NULL, TRUE);
	g_source_destroy(t);
	g_source_unref(t);
	return cond(data);
}

static bool never(void *data)
{
	(void)data;
	return false;
}

void loop_for(int ms)
{
	loop_until(never, NULL, ms);
}

uint8_t *frame_to_rgb(const struct zs_frame *f)
{
	size_t len = f->planes[0].offset + (size_t)f->planes[0].stride * f->height;
	uint8_t *map = mmap(NULL, len, PROT_READ, MAP_SHARED, f->planes[0].fd, 0);
	uint8_t *rgb;

	if (map == MAP_FAILED)
		return NULL;
	rgb = g_malloc((size_t)f->width * f->height * 3);
	for (uint32_t y = 0; y < f->height; y++) {
		const uint8_t *row = map + f->planes[0].offset +
			(size_t)y * f->planes[0].stride;
		for (uint32_t x = 0; x < f->width; x++) {
			uint32_t px;
			memcpy(&px, row + x * 4, 4);
			uint8_t *o = rgb + ((size_t)y * f->width + x) * 3;
			o[0] = (uint8_t)(px >> 16);
			o[1] = (uint8_t)(px >> 8);
			o[2] = (uint8_t)px;
		}
	}
	munmap(map, len);
	return rgb;
}

uint8_t *ppm_read(const char *path, uint32_t *w, uint32_t *h)
{
	gchar *data = NULL;
	gsize len = 0;
	unsigned ww, hh, maxval;
	int off = 0;
	uint8_t *rgb = NULL;

	if (!g_file_get_contents(path, &data, &len, NULL))
		return NULL;
	if (sscanf(data, "P6 %u %u %u%n", &ww, &hh, &maxval, &off) != 3 ||
	    maxval != 255 || (size_t)off + 1 + (size_t)ww * hh * 3 > len)
		goto out;
	rgb = g_memdup2(data + off + 1, (size_t)ww * hh * 3);
	*w = ww;
	*h = hh;
out:
	g_free(data);
	return rgb;
}

size_t pixels_differing(const uint8_t *a, const uint8_t *b, size_t n_pixels)
{
	size_t n = 0;

	for (size_t i = 0; i < n_pixels; i++)
		n += memcmp(a + i * 3, b + i * 3, 3) != 0;
	return n;
}

double psnr_rgb(const uint8_t *a, const uint8_t *b, size_t n)
{
	double se = 0;

	for (size_t i = 0; i < n; i++) {
		double d = (double)a[i] - b[i];
		se += d * d;
	}
	if (se == 0)
		return 99.0;
	return 10.0 * log10(255.0 * 255.0 / (se / (double)n));
}

uint64_t fd_inode(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return 0;
	return (uint64_t)st.st_ino;
}

static bool qmp_wait(int fd, int timeout_ms)
{
	char buf[65536];
	size_t len = 0;
	int64_t deadline = g_get_monotonic_time() + (int64_t)timeout_ms * 1000;

	for (;;) {
		char *nl;
		while ((nl = memchr(buf, '\n', len))) {
			*nl = '\0';
			bool ret = strstr(buf, "\"return\"") != NULL;
			bool err = strstr(buf, "\"error\"") != NULL;
			if (err)
				fprintf(stderr, "qmp: %s\n", buf);
			size_t n = (size_t)(nl - buf) + 1;
			memmove(buf, nl + 1, len - n);
			len -= n;
			if (ret || err)
				return ret;
		}
		int64_t left = deadline - g_get_monotonic_time();
		if (left <= 0 || len == sizeof(buf))
			return false;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, (int)(left / 1000) + 1) <= 0)
			continue;
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);
		if (n <= 0)
			return false;
		len += (size_t)n;
	}
}

static int unix_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -1;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int qmp_test_open(const char *path, int timeout_ms)
{
	int64_t deadline = g_get_monotonic_time() + (int64_t)timeout_ms * 1000;
	int fd;
	char greeting[4096];

	while ((fd = unix_connect(path)) < 0) {
		if (g_get_monotonic_time() > deadline)
			return -1;
		g_usleep(50 * 1000);
	}
	/* The greeting is one line; qmp_capabilities' return follows. */
	struct pollfd p = { .fd = fd, .events = POLLIN };
	if (poll(&p, 1, timeout_ms) <= 0 ||
	    read(fd, greeting, sizeof(greeting)) <= 0)
		goto err;
	if (!qmp_test_cmd(fd, "{\"execute\": \"qmp_capabilities\"}",
			timeout_ms))
		goto err;
	return fd;
err:
	close(fd);
	return -1;
}

bool qmp_test_cmd(int fd, const char *cmd, int timeout_ms)
{
	char *line = g_strconcat(cmd, "\n", NULL);
	bool ok = write(fd, line, strlen(line)) == (ssize_t)strlen(line);

	g_free(line);
	return ok && qmp_wait(fd, timeout_ms);
}
