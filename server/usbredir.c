/* USB redirection: a spice-server "usbredir" char device per QEMU usb-redir
 * chardev (-chardev dbus,name=org.qemu.usbredir). The bytes are the usbredir
 * protocol itself, passed through untouched. A usbredir session starts with
 * both sides' hello, so each SPICE client that attaches to the channel gets
 * a fresh stream to QEMU (as QEMU's own spicevmc does: usb-redir sees the
 * chardev open when a client comes and closed when it goes). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>

#include "internal.h"

struct zs_usbredir {
	SpiceCharDeviceInstance sin;
	bool added;
	char *chardev_id;
	zs_usbredir_connect_fn connect;
	void *data;
	int fd;               /* the stream to QEMU, -1 while no client */
	GSource *watch;
	GIOCondition cond;
	/* spice-server will call read again by itself (it read data, or was
	 * just woken up): no readable watch, or it would spin while the
	 * client's tokens hold spice-server back */
	bool read_due;
	bool want_write;      /* a write to QEMU was short */
	GSource *wakeup_idle;
	uint64_t bytes_in, bytes_out;
};

#define USBREDIR_OF(ptr) \
	((struct zs_usbredir *)((char *)(ptr) - \
		offsetof(struct zs_usbredir, sin)))

static void watch_update(struct zs_usbredir *u);

static gboolean wakeup_cb(gpointer data)
{
	struct zs_usbredir *u = data;

	g_source_unref(u->wakeup_idle);
	u->wakeup_idle = NULL;
	if (u->added)
		spice_server_char_device_wakeup(&u->sin);
	return G_SOURCE_REMOVE;
}

static void wakeup_later(struct zs_usbredir *u)
{
	if (u->wakeup_idle)
		return;
	u->wakeup_idle = g_idle_source_new();
	g_source_set_callback(u->wakeup_idle, wakeup_cb, u, NULL);
	g_source_attach(u->wakeup_idle, NULL);
}

static void stream_close(struct zs_usbredir *u, const char *why)
{
	if (u->fd < 0)
		return;
	g_message("usbredir %s: stream to QEMU closed (%s; %" G_GUINT64_FORMAT
		" bytes to QEMU, %" G_GUINT64_FORMAT " from it)", u->chardev_id,
		why, u->bytes_out, u->bytes_in);
	if (u->watch) {
		g_source_destroy(u->watch);
		g_source_unref(u->watch);
		u->watch = NULL;
	}
	close(u->fd);
	u->fd = -1;
	u->read_due = u->want_write = false;
}

static gboolean on_io(gint fd, GIOCondition cond, gpointer data)
{
	struct zs_usbredir *u = data;

	(void)fd;
	/* spice-server reads and writes from its own calls: tell it */
	if (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR))
		u->read_due = true;
	if (cond & G_IO_OUT)
		u->want_write = false;
	wakeup_later(u);
	watch_update(u);
	return G_SOURCE_CONTINUE;
}

/* Watches for what spice-server waits on: readable after a read found
 * nothing, writable after a short write. */
static void watch_update(struct zs_usbredir *u)
{
	GIOCondition cond = 0;

	if (u->fd < 0)
		return;
	if (!u->read_due)
		cond |= G_IO_IN;
	if (u->want_write)
		cond |= G_IO_OUT;
	if (u->watch && cond == u->cond)
		return;
	if (u->watch) {
		g_source_destroy(u->watch);
		g_source_unref(u->watch);
		u->watch = NULL;
	}
	u->cond = cond;
	if (!cond)
		return;
	u->watch = g_unix_fd_source_new(u->fd, cond);
	g_source_set_callback(u->watch, G_SOURCE_FUNC(on_io), u, NULL);
	g_source_attach(u->watch, NULL);
}

static int sif_write(SpiceCharDeviceInstance *sin, const uint8_t *buf,
	int len)
{
	struct zs_usbredir *u = USBREDIR_OF(sin);

	if (len <= 0)
		return 0;
	if (u->fd < 0)
		return len; /* no stream: QEMU's device is gone, drop */
	for (;;) {
		ssize_t n = write(u->fd, buf, (size_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			u->want_write = true;
			watch_update(u);
			return 0;
		}
		if (n < 0) {
			stream_close(u, strerror(errno));
			return len;
		}
		u->bytes_out += (uint64_t)n;
		if (n < len) {
			u->want_write = true;
			watch_update(u);
		}
		return (int)n;
	}
}

static int sif_read(SpiceCharDeviceInstance *sin, uint8_t *buf, int len)
{
	struct zs_usbredir *u = USBREDIR_OF(sin);

	if (u->fd < 0 || len <= 0)
		return 0;
	for (;;) {
		ssize_t n = read(u->fd, buf, (size_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			u->read_due = false;
			watch_update(u);
			return 0;
		}
		if (n <= 0) {
			stream_close(u, n == 0 ? "QEMU closed it" :
				strerror(errno));
			return 0;
		}
		u->bytes_in += (uint64_t)n;
		/* more may follow: spice-server calls again until 0 */
		u->read_due = true;
		watch_update(u);
		return (int)n;
	}
}

static void sif_state(SpiceCharDeviceInstance *sin, int connected)
{
	struct zs_usbredir *u = USBREDIR_OF(sin);

	if (!connected) {
		stream_close(u, "the SPICE client left the channel");
		return;
	}
	stream_close(u, "a new SPICE client");
	u->fd = u->connect(u->data, u->chardev_id);
	if (u->fd < 0)
		return;
	u->bytes_in = u->bytes_out = 0;
	g_message("usbredir %s: a SPICE client attached; stream to QEMU open",
		u->chardev_id);
	watch_update(u);
}

static SpiceCharDeviceInterface usbredir_sif = {
	.base = {
		.type = SPICE_INTERFACE_CHAR_DEVICE,
		.description = "zerospice usbredir",
		.major_version = SPICE_INTERFACE_CHAR_DEVICE_MAJOR,
		.minor_version = SPICE_INTERFACE_CHAR_DEVICE_MINOR,
	},
	.state = sif_state,
	.write = sif_write,
	.read = sif_read,
};

struct zs_usbredir *zs_usbredir_create(SpiceServer *server,
	const char *chardev_id, zs_usbredir_connect_fn connect, void *data,
	char *err, size_t err_len)
{
	struct zs_usbredir *u = g_new0(struct zs_usbredir, 1);

	u->chardev_id = g_strdup(chardev_id);
	u->connect = connect;
	u->data = data;
	u->fd = -1;
	u->sin.base.sif = &usbredir_sif.base;
	u->sin.subtype = "usbredir";
	if (spice_server_add_interface(server, &u->sin.base) != 0) {
		snprintf(err, err_len, "spice-server refused a usbredir "
			"device for chardev %s", chardev_id);
		zs_usbredir_destroy(u);
		return NULL;
	}
	u->added = true;
	return u;
}

void zs_usbredir_destroy(struct zs_usbredir *u)
{
	if (!u)
		return;
	if (u->added)
		spice_server_remove_interface(&u->sin.base);
	u->added = false;
	stream_close(u, "device removed");
	if (u->wakeup_idle) {
		g_source_destroy(u->wakeup_idle);
		g_source_unref(u->wakeup_idle);
	}
	g_free(u->chardev_id);
	g_free(u);
}
