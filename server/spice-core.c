/* SpiceCoreInterface on the GLib main loop: spice-server's timers and fd
 * watches become GSources on the thread-default main context. */
#include <glib.h>
#include <glib-unix.h>
#include <spice.h>

#include "internal.h"

struct SpiceTimer {
	SpiceTimerFunc func;
	void *opaque;
	GSource *source;
};

struct SpiceWatch {
	int fd;
	SpiceWatchFunc func;
	void *opaque;
	GSource *source;
};

static GMainContext *core_context;
static zs_channel_event_fn channel_event_cb;
static void *channel_event_data;
static zs_client_event_fn client_event_cb;
static void *client_event_data;
static zs_client_event_fn link_event_cb;
static void *link_event_data;

static gboolean timer_dispatch(gpointer data)
{
	SpiceTimer *timer = data;
	/* one-shot: spice-server re-arms with timer_start */
	g_source_destroy(timer->source);
	g_source_unref(timer->source);
	timer->source = NULL;
	timer->func(timer->opaque);
	return G_SOURCE_REMOVE;
}

static SpiceTimer *timer_add(SpiceTimerFunc func, void *opaque)
{
	SpiceTimer *timer = g_new0(SpiceTimer, 1);
	timer->func = func;
	timer->opaque = opaque;
	return timer;
}

static void timer_cancel(SpiceTimer *timer)
{
	if (timer->source) {
		g_source_destroy(timer->source);
		g_source_unref(timer->source);
		timer->source = NULL;
	}
}

static void timer_start(SpiceTimer *timer, uint32_t ms)
{
	timer_cancel(timer);
	timer->source = g_timeout_source_new(ms);
	g_source_set_callback(timer->source, timer_dispatch, timer, NULL);
	g_source_attach(timer->source, core_context);
}

static void timer_remove(SpiceTimer *timer)
{
	timer_cancel(timer);
	g_free(timer);
}

static gboolean watch_dispatch(gint fd, GIOCondition cond, gpointer data)
{
	SpiceWatch *watch = data;
	int events = 0;
	if (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR))
		events |= SPICE_WATCH_EVENT_READ;
	if (cond & G_IO_OUT)
		events |= SPICE_WATCH_EVENT_WRITE;
	watch->func(fd, events, watch->opaque);
	return G_SOURCE_CONTINUE;
}

static void watch_update_mask(SpiceWatch *watch, int event_mask)
{
	if (watch->source) {
		g_source_destroy(watch->source);
		g_source_unref(watch->source);
		watch->source = NULL;
	}
	GIOCondition cond = 0;
	if (event_mask & SPICE_WATCH_EVENT_READ)
		cond |= G_IO_IN | G_IO_HUP | G_IO_ERR;
	if (event_mask & SPICE_WATCH_EVENT_WRITE)
		cond |= G_IO_OUT | G_IO_ERR;
	if (!cond)
		return;
	watch->source = g_unix_fd_source_new(watch->fd, cond);
	g_source_set_callback(watch->source, G_SOURCE_FUNC(watch_dispatch),
		watch, NULL);
	g_source_attach(watch->source, core_context);
}

static SpiceWatch *watch_add(int fd, int event_mask, SpiceWatchFunc func,
	void *opaque)
{
	SpiceWatch *watch = g_new0(SpiceWatch, 1);
	watch->fd = fd;
	watch->func = func;
	watch->opaque = opaque;
	watch_update_mask(watch, event_mask);
	return watch;
}

static void watch_remove(SpiceWatch *watch)
{
	watch_update_mask(watch, 0);
	g_free(watch);
}

/* spice-server 0.15 calls this only through its main dispatcher
 * (main-dispatcher.cpp), which forwards events raised on a worker thread
 * to the thread that ran spice_server_init: our loop. */
static void channel_event(int event, SpiceChannelEventInfo *info)
{
	if (link_event_cb)
		link_event_cb(event, info, link_event_data);
	if (channel_event_cb)
		channel_event_cb(event, info->type, info->id,
			channel_event_data);
	if (client_event_cb)
		client_event_cb(event, info, client_event_data);
}

void zs_spice_core_set_link_events(zs_client_event_fn fn, void *data)
{
	link_event_cb = fn;
	link_event_data = data;
}

void zs_spice_core_set_client_events(zs_client_event_fn fn, void *data)
{
	client_event_cb = fn;
	client_event_data = data;
}

static SpiceCoreInterface core = {
	.base = {
		.type = SPICE_INTERFACE_CORE,
		.description = "zerospice GLib core",
		.major_version = SPICE_INTERFACE_CORE_MAJOR,
		.minor_version = SPICE_INTERFACE_CORE_MINOR,
	},
	.timer_add = timer_add,
	.timer_start = timer_start,
	.timer_cancel = timer_cancel,
	.timer_remove = timer_remove,
	.watch_add = watch_add,
	.watch_update_mask = watch_update_mask,
	.watch_remove = watch_remove,
	.channel_event = channel_event,
};

SpiceCoreInterface *zs_spice_core_get(GMainContext *context,
	zs_channel_event_fn event_cb, void *data)
{
	core_context = context;
	channel_event_cb = event_cb;
	channel_event_data = data;
	return &core;
}
