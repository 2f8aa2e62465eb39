/* zerospice — QEMU's clipboard (org.qemu.Display1.Clipboard): we register as
 * its one D-Bus peer, serve the peer side on /org/qemu/Display1/Clipboard of
 * the same connection, and carry UTF-8 text both ways. */
#include <stdio.h>
#include <string.h>

#include "qemu-private.h"

#define CLIPBOARD_PATH "/org/qemu/Display1/Clipboard"
#define MIME_TEXT "text/plain;charset=utf-8"

struct zs_qemu_clipboard {
	ZsQemuDisplay1Clipboard *skel;   /* the peer side, ours */
	ZsQemuDisplay1Clipboard *proxy;  /* QEMU's */
	bool exported, ready;
	uint32_t serial[ZS_QEMU_CLIPBOARD_SELECTIONS];
	bool vm_owns[ZS_QEMU_CLIPBOARD_SELECTIONS];
	bool we_own[ZS_QEMU_CLIPBOARD_SELECTIONS];
	/* QEMU's Request waiting for the client's text */
	GDBusMethodInvocation *pending[ZS_QEMU_CLIPBOARD_SELECTIONS];
	GSource *pending_timer[ZS_QEMU_CLIPBOARD_SELECTIONS];
	struct timer_ctx {
		struct zs_qemu_source *src;
		uint32_t sel;
	} timer_ctx[ZS_QEMU_CLIPBOARD_SELECTIONS];
};

static const char *const text_mimes[] = { MIME_TEXT, NULL };

static bool has_text(const char *const *mimes)
{
	return mimes && g_strv_contains(mimes, MIME_TEXT);
}

static void fail_invocation(GDBusMethodInvocation *inv, const char *why)
{
	g_dbus_method_invocation_return_dbus_error(inv,
		"org.qemu.Display1.Error.Failed", why);
}

static void pending_clear(struct zs_qemu_clipboard *cb, uint32_t sel,
	const char *fail_why)
{
	if (cb->pending_timer[sel]) {
		g_source_destroy(cb->pending_timer[sel]);
		g_source_unref(cb->pending_timer[sel]);
		cb->pending_timer[sel] = NULL;
	}
	if (cb->pending[sel]) {
		if (fail_why)
			fail_invocation(cb->pending[sel], fail_why);
		cb->pending[sel] = NULL;
	}
}

/* ---- QEMU calls these on our side */

static gboolean on_register(ZsQemuDisplay1Clipboard *skel,
	GDBusMethodInvocation *inv, gpointer data)
{
	struct zs_qemu_source *src = data;

	/* QEMU resets the grab serials (another peer, a guest agent
	 * reconnecting). */
	memset(src->clipboard->serial, 0, sizeof(src->clipboard->serial));
	zs_qemu_display1_clipboard_complete_register(skel, inv);
	return TRUE;
}

static gboolean on_unregister(ZsQemuDisplay1Clipboard *skel,
	GDBusMethodInvocation *inv, gpointer data)
{
	(void)data;
	zs_qemu_display1_clipboard_complete_unregister(skel, inv);
	return TRUE;
}

static gboolean on_grab(ZsQemuDisplay1Clipboard *skel,
	GDBusMethodInvocation *inv, guint sel, guint serial,
	const gchar *const *mimes, gpointer data)
{
	struct zs_qemu_source *src = data;
	struct zs_qemu_clipboard *cb = src->clipboard;

	if (sel >= ZS_QEMU_CLIPBOARD_SELECTIONS) {
		fail_invocation(inv, "invalid selection");
		return TRUE;
	}
	cb->serial[sel] = serial;
	cb->we_own[sel] = false;
	pending_clear(cb, sel, "clipboard grabbed by the guest");
	if (has_text(mimes)) {
		cb->vm_owns[sel] = true;
		if (src->session.clipboard_grab)
			src->session.clipboard_grab(src->session_data, sel);
	} else if (cb->vm_owns[sel]) {
		/* nothing we can carry: the client must not keep old text */
		cb->vm_owns[sel] = false;
		if (src->session.clipboard_release)
			src->session.clipboard_release(src->session_data, sel);
	}
	zs_qemu_display1_clipboard_complete_grab(skel, inv);
	return TRUE;
}

static gboolean on_release(ZsQemuDisplay1Clipboard *skel,
	GDBusMethodInvocation *inv, guint sel, gpointer data)
{
	struct zs_qemu_source *src = data;
	struct zs_qemu_clipboard *cb = src->clipboard;

	if (sel < ZS_QEMU_CLIPBOARD_SELECTIONS && cb->vm_owns[sel]) {
		cb->vm_owns[sel] = false;
		if (src->session.clipboard_release)
			src->session.clipboard_release(src->session_data, sel);
	}
	zs_qemu_display1_clipboard_complete_release(skel, inv);
	return TRUE;
}

static gboolean on_request_timeout(gpointer data)
{
	struct timer_ctx *t = data;

	g_warning("QEMU clipboard: no text from the client for selection %u "
		"within %d ms", t->sel, ZS_QEMU_CLIPBOARD_TIMEOUT_MS);
	pending_clear(t->src->clipboard, t->sel, "no answer from the client");
	return G_SOURCE_REMOVE;
}

static gboolean on_request(ZsQemuDisplay1Clipboard *skel,
	GDBusMethodInvocation *inv, guint sel, const gchar *const *mimes,
	gpointer data)
{
	struct zs_qemu_source *src = data;
	struct zs_qemu_clipboard *cb = src->clipboard;

	(void)skel;
	if (sel >= ZS_QEMU_CLIPBOARD_SELECTIONS || !cb->we_own[sel]) {
		fail_invocation(inv, "empty clipboard");
		return TRUE;
	}
	if (!has_text(mimes)) {
		fail_invocation(inv, "unhandled MIME types requested");
		return TRUE;
	}
	if (cb->pending[sel]) {
		fail_invocation(inv, "pending request");
		return TRUE;
	}
	cb->pending[sel] = inv;
	cb->pending_timer[sel] =
		g_timeout_source_new(ZS_QEMU_CLIPBOARD_TIMEOUT_MS);
	cb->timer_ctx[sel].src = src;
	cb->timer_ctx[sel].sel = sel;
	g_source_set_callback(cb->pending_timer[sel], on_request_timeout,
		&cb->timer_ctx[sel], NULL);
	g_source_attach(cb->pending_timer[sel], src->ctx);
	if (src->session.clipboard_request)
		src->session.clipboard_request(src->session_data, sel);
	else
		pending_clear(cb, sel, "no clipboard peer");
	return TRUE;
}

/* ---- registration */

static void set_ready(struct zs_qemu_source *src, bool ready)
{
	struct zs_qemu_clipboard *cb = src->clipboard;

	if (cb->ready == ready)
		return;
	cb->ready = ready;
	if (ready)
		g_message("QEMU clipboard: registered (text bridged)");
	if (src->session.clipboard_ready)
		src->session.clipboard_ready(src->session_data, ready);
}

static void on_registered(GObject *obj, GAsyncResult *res, gpointer data)
{
	GError *error = NULL;

	if (!zs_qemu_display1_clipboard_call_register_finish(
			ZS_QEMU_DISPLAY1_CLIPBOARD(obj), res, &error)) {
		if (!zs_qemu_is_cancelled(error))
			g_warning("QEMU clipboard: Register: %s (no clipboard "
				"without a guest agent)", error->message);
		g_error_free(error);
		return;
	}
	set_ready(data, true);
}

static void on_proxy(GObject *obj, GAsyncResult *res, gpointer data)
{
	GError *error = NULL;
	ZsQemuDisplay1Clipboard *proxy =
		zs_qemu_display1_clipboard_proxy_new_finish(res, &error);
	struct zs_qemu_source *src;

	(void)obj;
	if (!proxy) {
		if (!zs_qemu_is_cancelled(error))
			g_warning("QEMU clipboard: %s", error->message);
		g_error_free(error);
		return;
	}
	src = data;
	if (src->closed || !src->clipboard) {
		g_object_unref(proxy);
		return;
	}
	src->clipboard->proxy = proxy;
	zs_qemu_display1_clipboard_call_register(proxy, src->cancel,
		on_registered, src);
}

void zs_qemu_clipboard_start(struct zs_qemu_source *src)
{
	GError *error = NULL;
	struct zs_qemu_clipboard *cb = g_new0(struct zs_qemu_clipboard, 1);

	src->clipboard = cb;
	cb->skel = zs_qemu_display1_clipboard_skeleton_new();
	g_signal_connect(cb->skel, "handle-register",
		G_CALLBACK(on_register), src);
	g_signal_connect(cb->skel, "handle-unregister",
		G_CALLBACK(on_unregister), src);
	g_signal_connect(cb->skel, "handle-grab", G_CALLBACK(on_grab), src);
	g_signal_connect(cb->skel, "handle-release", G_CALLBACK(on_release),
		src);
	g_signal_connect(cb->skel, "handle-request", G_CALLBACK(on_request),
		src);
	if (!g_dbus_interface_skeleton_export(
			G_DBUS_INTERFACE_SKELETON(cb->skel), src->qemu_conn,
			CLIPBOARD_PATH, &error)) {
		g_warning("QEMU clipboard: exporting %s: %s", CLIPBOARD_PATH,
			error->message);
		g_error_free(error);
		return;
	}
	cb->exported = true;
	zs_qemu_display1_clipboard_proxy_new(src->qemu_conn,
		G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START |
		G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES,
		src->bus_address ? "org.qemu" : NULL, CLIPBOARD_PATH,
		src->cancel, on_proxy, src);
}

void zs_qemu_clipboard_stop(struct zs_qemu_source *src)
{
	struct zs_qemu_clipboard *cb = src->clipboard;

	if (!cb)
		return;
	set_ready(src, false);
	for (uint32_t sel = 0; sel < ZS_QEMU_CLIPBOARD_SELECTIONS; sel++)
		pending_clear(cb, sel, "display closing");
	if (cb->exported)
		g_dbus_interface_skeleton_unexport(
			G_DBUS_INTERFACE_SKELETON(cb->skel));
	g_signal_handlers_disconnect_matched(cb->skel, G_SIGNAL_MATCH_DATA,
		0, 0, NULL, NULL, src);
	g_clear_object(&cb->skel);
	g_clear_object(&cb->proxy);
	g_free(cb);
	src->clipboard = NULL;
}

/* ---- the client side's clipboard toward QEMU */

static struct zs_qemu_clipboard *ready_clipboard(struct zs_source *base,
	uint32_t sel, struct zs_qemu_source **out)
{
	struct zs_qemu_source *src = zs_qemu_source_from(base);

	if (!src || src->closed || !src->clipboard ||
	    !src->clipboard->ready || !src->clipboard->proxy ||
	    sel >= ZS_QEMU_CLIPBOARD_SELECTIONS)
		return NULL;
	*out = src;
	return src->clipboard;
}

static void on_call_done(GObject *obj, GAsyncResult *res, gpointer data)
{
	GError *error = NULL;
	GVariant *ret = g_dbus_proxy_call_finish(G_DBUS_PROXY(obj), res,
		&error);

	if (ret) {
		g_variant_unref(ret);
		return;
	}
	if (!zs_qemu_is_cancelled(error))
		g_warning("QEMU clipboard: %s: %s", (const char *)data,
			error->message);
	g_error_free(error);
}

void zs_qemu_clipboard_grab(struct zs_source *base, uint32_t sel)
{
	struct zs_qemu_source *src;
	struct zs_qemu_clipboard *cb = ready_clipboard(base, sel, &src);

	if (!cb)
		return;
	cb->serial[sel]++;
	cb->we_own[sel] = true;
	cb->vm_owns[sel] = false;
	zs_qemu_display1_clipboard_call_grab(cb->proxy, sel, cb->serial[sel],
		text_mimes, src->cancel, on_call_done, "Grab");
}

void zs_qemu_clipboard_release(struct zs_source *base, uint32_t sel)
{
	struct zs_qemu_source *src;
	struct zs_qemu_clipboard *cb = ready_clipboard(base, sel, &src);

	if (!cb || !cb->we_own[sel])
		return;
	cb->we_own[sel] = false;
	pending_clear(cb, sel, "clipboard released");
	zs_qemu_display1_clipboard_call_release(cb->proxy, sel, src->cancel,
		on_call_done, "Release");
}

void zs_qemu_clipboard_reply(struct zs_source *base, uint32_t sel,
	const uint8_t *text, size_t len)
{
	struct zs_qemu_source *src = zs_qemu_source_from(base);
	struct zs_qemu_clipboard *cb;
	GDBusMethodInvocation *inv;

	if (!src || !src->clipboard || sel >= ZS_QEMU_CLIPBOARD_SELECTIONS)
		return;
	cb = src->clipboard;
	inv = cb->pending[sel];
	if (!inv)
		return;
	if (!text) {
		pending_clear(cb, sel, "the client sent no text");
		return;
	}
	cb->pending[sel] = NULL;
	pending_clear(cb, sel, NULL);
	zs_qemu_display1_clipboard_complete_request(cb->skel, inv, MIME_TEXT,
		g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, text, len, 1));
}

struct text_request {
	zs_qemu_clipboard_text_fn cb;
	void *data;
	uint32_t sel;
};

static void on_text(GObject *obj, GAsyncResult *res, gpointer data)
{
	struct text_request *req = data;
	GError *error = NULL;
	GVariant *bytes = NULL;
	char *mime = NULL;
	const uint8_t *text = NULL;
	size_t len = 0;

	if (!zs_qemu_display1_clipboard_call_request_finish(
			ZS_QEMU_DISPLAY1_CLIPBOARD(obj), &mime, &bytes, res,
			&error)) {
		if (!zs_qemu_is_cancelled(error))
			g_warning("QEMU clipboard: Request(%u): %s", req->sel,
				error->message);
		g_error_free(error);
		goto out;
	}
	if (g_strcmp0(mime, MIME_TEXT) != 0 ||
	    !g_variant_is_of_type(bytes, G_VARIANT_TYPE_BYTESTRING)) {
		g_warning("QEMU clipboard: Request(%u) answered %s, not text",
			req->sel, mime ? mime : "(null)");
		goto out;
	}
	text = g_variant_get_fixed_array(bytes, &len, 1);
	if (len > ZS_QEMU_CLIPBOARD_MAX_BYTES) {
		g_warning("QEMU clipboard: %zu bytes of text over the %u-byte "
			"limit: dropped", len, ZS_QEMU_CLIPBOARD_MAX_BYTES);
		text = NULL;
		len = 0;
	} else if (!text) {
		text = (const uint8_t *)""; /* empty text */
	}
out:
	req->cb(req->data, req->sel, text, len);
	if (bytes)
		g_variant_unref(bytes);
	g_free(mime);
	g_free(req);
}

void zs_qemu_clipboard_request(struct zs_source *base, uint32_t sel,
	zs_qemu_clipboard_text_fn fn, void *data)
{
	struct zs_qemu_source *src;
	struct zs_qemu_clipboard *cb = ready_clipboard(base, sel, &src);
	struct text_request *req;

	if (!cb || !cb->vm_owns[sel]) {
		fn(data, sel, NULL, 0);
		return;
	}
	req = g_new0(struct text_request, 1);
	req->cb = fn;
	req->data = data;
	req->sel = sel;
	zs_qemu_display1_clipboard_call_request(cb->proxy, sel, text_mimes,
		src->cancel, on_text, req);
}
