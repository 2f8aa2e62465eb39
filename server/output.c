/* One SPICE display: a stream-device port (spice-server makes a display
 * channel for it, numbered with the first free display id) with our queue
 * of stream-device messages toward spice-server and the reader of what it
 * sends back (START_STOP). One per QEMU console; display.c owns them. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spice/enums.h>
#include <spice/protocol.h>
#include <spice/stream-device.h>

#include "internal.h"
#include "zs-client-proto.h"

/* spice-server 0.15.1 makes a stream device of every port with this name
 * (reds.cpp); several are allowed, each gets its own channel. */
#define STREAM_PORT_NAME "org.spice-space.stream.0"

struct out_msg {
	uint8_t *data;
	size_t len, pos;
	uint16_t type;
};

struct zs_output {
	SpiceServer *server;
	unsigned index;
	const struct zs_display_events *events;
	void *events_data;

	SpiceCharDeviceInstance port;
	bool port_added;
	bool watched;      /* the last START_STOP named codecs */
	guint renew_idle;  /* renew_stream_device() is due */
	bool in_wakeup;    /* spice-server reads from inside our wakeup */
	guint read_idle;   /* wakeup_from_loop() is due */
	struct zs_stream_reader stream_reader;
	GQueue out; /* struct out_msg, head is being read */
	size_t out_bytes;
	/* DEVICE_DISPLAY_INFO, again for every new stream device */
	uint8_t *display_info;
	size_t display_info_len;
};

#define OUTPUT_OF(ptr) \
	((struct zs_output *)((char *)(ptr) - offsetof(struct zs_output, port)))

bool zs_output_test_stall_reads;

static gboolean renew_stream_device(gpointer data);

static void on_stream_msg(const struct zs_stream_msg *msg, void *data)
{
	struct zs_output *o = data;
	switch (msg->type) {
	case STREAM_TYPE_START_STOP: {
		uint32_t mask;
		if (!zs_stream_parse_start_stop(msg->payload, msg->size, &mask)) {
			g_warning("stream device %u: truncated START_STOP ignored",
				o->index);
			return;
		}
		/* renew once per time it was watched (the device's own
		 * START_STOPs at open and close name no codecs either); not
		 * from here: spice-server is calling us */
		if (mask == 0 && o->watched && !o->renew_idle)
			o->renew_idle = g_idle_add(renew_stream_device, o);
		o->watched = mask != 0;
		o->events->start_stop(o->events_data, o->index, mask);
		break;
	}
	case STREAM_TYPE_NOTIFY_ERROR: {
		/* {u32 error_code; u8 msg[]}, not NUL-terminated */
		int len = msg->size > 4 ? (int)(msg->size - 4) : 0;
		if (len > 200)
			len = 200;
		g_warning("spice-server reports a stream error on display %u: "
			"%.*s", o->index, len,
			len ? (const char *)msg->payload + 4 : "(no message)");
		break;
	}
	default: /* CAPABILITIES: we use none */
		break;
	}
}

static int port_write(SpiceCharDeviceInstance *sin, const uint8_t *buf,
	int len)
{
	struct zs_output *o = OUTPUT_OF(sin);
	char err[160];
	if (len <= 0)
		return 0;
	if (!zs_stream_reader_feed(&o->stream_reader, buf, (size_t)len,
		    on_stream_msg, o, err, sizeof(err))) {
		g_warning("stream device %u: %s; resynchronising", o->index,
			err);
		zs_stream_reader_finish(&o->stream_reader);
		zs_stream_reader_init(&o->stream_reader);
	}
	return len;
}

/* spice-server 0.15.1 also reads the device from inside its own teardown:
 * when a channel client disconnects, RedChannelClient::disconnect() clears
 * its pipe; freeing a StreamDataItem there lets the stream device's flow
 * control resume and read at once (stream_queue_stat -> wakeup), and the
 * frame read is pushed into the very pipe std::list::clear() is walking.
 * The new node is lost (the frame's queue count never returns to 0: the
 * device stops reading for good, every later client gets no picture), or
 * the list is corrupted (malloc aborts, crashes). So we hand out bytes only
 * when spice-server reads from inside our own wakeup; a read from anywhere
 * else gets nothing now, and a wakeup from the main loop follows. */
static gboolean wakeup_from_loop(gpointer data)
{
	struct zs_output *o = data;
	o->read_idle = 0;
	o->in_wakeup = true;
	spice_server_char_device_wakeup(&o->port);
	o->in_wakeup = false;
	return G_SOURCE_REMOVE;
}

static int port_read(SpiceCharDeviceInstance *sin, uint8_t *buf, int len)
{
	struct zs_output *o = OUTPUT_OF(sin);
	size_t done = 0;

	if (zs_output_test_stall_reads)
		return 0;
	if (!o->in_wakeup) {
		if (!g_queue_is_empty(&o->out) && !o->read_idle)
			/* default priority: a frame must not wait behind
			 * idle work */
			o->read_idle = g_idle_add_full(G_PRIORITY_DEFAULT,
				wakeup_from_loop, o, NULL);
		return 0;
	}
	while (done < (size_t)len && !g_queue_is_empty(&o->out)) {
		struct out_msg *m = g_queue_peek_head(&o->out);
		size_t n = MIN(m->len - m->pos, (size_t)len - done);
		memcpy(buf + done, m->data + m->pos, n);
		m->pos += n;
		done += n;
		o->out_bytes -= n;
		if (m->pos == m->len) {
			g_queue_pop_head(&o->out);
			free(m->data);
			g_free(m);
		}
	}
	if (done > 0 && g_queue_is_empty(&o->out))
		o->events->drained(o->events_data, o->index);
	return (int)done;
}

static void port_event(SpiceCharDeviceInstance *sin, uint8_t event)
{
}

static void port_state(SpiceCharDeviceInstance *sin, int connected)
{
	if (!connected)
		g_warning("spice-server disabled stream device %u",
			OUTPUT_OF(sin)->index);
}

static SpiceCharDeviceInterface port_sif = {
	.base = {
		.type = SPICE_INTERFACE_CHAR_DEVICE,
		.description = "zerospice stream device",
		.major_version = SPICE_INTERFACE_CHAR_DEVICE_MAJOR,
		.minor_version = SPICE_INTERFACE_CHAR_DEVICE_MINOR,
	},
	.state = port_state,
	.write = port_write,
	.read = port_read,
	.event = port_event,
};

static void drop_msg(struct zs_output *o, GList *l)
{
	struct out_msg *m = l->data;

	o->out_bytes -= m->len;
	free(m->data);
	g_free(m);
	g_queue_delete_link(&o->out, l);
}

static void drop_all(struct zs_output *o)
{
	struct out_msg *m;

	while ((m = g_queue_pop_head(&o->out))) {
		free(m->data);
		g_free(m);
	}
	o->out_bytes = 0;
}

/* Only the newest cursor shape and position matter: while spice-server is
 * not reading, a new one replaces the unsent one, so a guest that moves or
 * redraws its pointer all the time queues at most one of each. */
static void drop_unsent_of_type(struct zs_output *o, uint16_t type)
{
	GList *l = o->out.head;

	while (l) {
		GList *next = l->next;
		struct out_msg *m = l->data;
		if (m->pos == 0 && m->type == type)
			drop_msg(o, l);
		l = next;
	}
}

void zs_output_queue(struct zs_output *o, uint8_t *msg, size_t len,
	uint16_t type)
{
	if (type == STREAM_TYPE_CURSOR_SET || type == STREAM_TYPE_CURSOR_MOVE)
		drop_unsent_of_type(o, type);
	struct out_msg *m = g_new0(struct out_msg, 1);
	m->data = msg;
	m->len = len;
	m->type = type;
	g_queue_push_tail(&o->out, m);
	o->out_bytes += len;
	bool nested = o->in_wakeup; /* queued from inside a wakeup */
	o->in_wakeup = true;
	spice_server_char_device_wakeup(&o->port);
	o->in_wakeup = nested;
}

bool zs_output_busy(const struct zs_output *o)
{
	return o->out_bytes > 0;
}

size_t zs_output_queued_bytes(const struct zs_output *o)
{
	return o->out_bytes;
}

unsigned zs_output_drop_unsent(struct zs_output *o)
{
	unsigned dropped = 0;
	GList *l = o->out.head;
	while (l) {
		GList *next = l->next;
		struct out_msg *m = l->data;
		/* the device info is state, not a frame: it stays */
		if (m->pos == 0 &&
		    m->type != STREAM_TYPE_DEVICE_DISPLAY_INFO) {
			if (m->type == STREAM_TYPE_DATA)
				dropped++;
			drop_msg(o, l);
		}
		l = next;
	}
	return dropped;
}

static void queue_display_info(struct zs_output *o)
{
	uint8_t *copy;

	if (!o->display_info)
		return;
	copy = malloc(o->display_info_len);
	if (!copy)
		return;
	memcpy(copy, o->display_info, o->display_info_len);
	zs_output_queue(o, copy, o->display_info_len,
		STREAM_TYPE_DEVICE_DISPLAY_INFO);
}

void zs_output_set_device_info(struct zs_output *o, const char *address,
	uint32_t head)
{
	size_t len;
	uint8_t *msg = zs_stream_build_device_display_info(0, head, address,
		&len);

	if (!msg) {
		g_warning("display %u: device address '%.64s' not usable "
			"(empty or over %u bytes); the guest agent is not told "
			"which head it is", o->index, address ? address : "",
			ZS_STREAM_MAX_DEVICE_ADDRESS - 1);
		return;
	}
	if (o->display_info && len == o->display_info_len &&
	    memcmp(msg, o->display_info, len) == 0) {
		free(msg);
		return;
	}
	free(o->display_info);
	o->display_info = msg;
	o->display_info_len = len;
	g_info("display %u: head %u of %s", o->index, head, address);
	queue_display_info(o);
}

unsigned zs_output_index(const struct zs_output *o)
{
	return o->index;
}

static bool add_port(struct zs_output *o)
{
	if (spice_server_add_interface(o->server, &o->port.base) != 0)
		return false;
	o->port_added = true;
	/* spice-server makes the display channel here, with the first free
	 * display id */
	spice_server_port_event(&o->port, SPICE_PORT_EVENT_OPENED);
	return true;
}

static void remove_port(struct zs_output *o)
{
	if (!o->port_added)
		return;
	spice_server_port_event(&o->port, SPICE_PORT_EVENT_CLOSED);
	spice_server_remove_interface(&o->port.base);
	o->port_added = false;
}

/* A backstop for port_read()'s rule (see wakeup_from_loop): should
 * spice-server 0.15.1 still lose a stream frame some other way, its stream
 * device counts a queue that never empties and stops reading us for good.
 * So whenever the last client stops watching, the stream device (and the
 * stream channel spice-server makes for it) is created afresh: nothing a
 * client left behind in spice-server outlives its session. Removing and
 * adding back at once keeps the channel id: it is the lowest free one. */
static gboolean renew_stream_device(gpointer data)
{
	struct zs_output *o = data;
	o->renew_idle = 0;
	if (o->watched || !o->port_added)
		return G_SOURCE_REMOVE;
	remove_port(o);
	/* what the old device had not read belongs to no one now */
	drop_all(o);
	zs_stream_reader_finish(&o->stream_reader);
	zs_stream_reader_init(&o->stream_reader);
	if (!add_port(o)) {
		g_warning("spice-server refused stream device %u again: no "
			"client can get a picture of it until restart",
			o->index);
		return G_SOURCE_REMOVE;
	}
	queue_display_info(o);
	g_info("stream device %u renewed: no client is watching", o->index);
	return G_SOURCE_REMOVE;
}

struct zs_output *zs_output_create(SpiceServer *server, unsigned index,
	const struct zs_display_events *events, void *data, char *err,
	size_t err_len)
{
	struct zs_output *o = g_new0(struct zs_output, 1);

	o->server = server;
	o->index = index;
	o->events = events;
	o->events_data = data;
	g_queue_init(&o->out);
	zs_stream_reader_init(&o->stream_reader);
	o->port.base.sif = &port_sif.base;
	o->port.subtype = "port";
	o->port.portname = STREAM_PORT_NAME;
	if (!add_port(o)) {
		snprintf(err, err_len, "spice-server refused stream device %u",
			index);
		zs_output_destroy(o);
		return NULL;
	}
	return o;
}

void zs_output_remove(struct zs_output *o)
{
	if (!o)
		return;
	if (o->renew_idle)
		g_source_remove(o->renew_idle);
	o->renew_idle = 0;
	if (o->read_idle)
		g_source_remove(o->read_idle);
	o->read_idle = 0;
	remove_port(o);
}

void zs_output_destroy(struct zs_output *o)
{
	if (!o)
		return;
	zs_output_remove(o);
	drop_all(o);
	zs_stream_reader_finish(&o->stream_reader);
	free(o->display_info);
	g_free(o);
}
