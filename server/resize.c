/* The desktop follows the client's window: remote-viewer sends its window
 * size as the agent's MONITORS_CONFIG; without a guest agent to take it,
 * we ask QEMU for that size (Console.SetUIInfo), clamped to what the
 * encoders take. */
#include <math.h>
#include <string.h>

#include <glib.h>

#include "internal.h"
#include "zs-qemu.h"

bool zs_ui_size_clamp(uint32_t *width, uint32_t *height)
{
	uint32_t w = *width, h = *height;

	w = CLAMP(w, ZS_UI_MIN_WIDTH, ZS_UI_MAX_DIM);
	h = CLAMP(h, ZS_UI_MIN_HEIGHT, ZS_UI_MAX_DIM);
	if ((uint64_t)w * h > ZS_UI_MAX_AREA) {
		/* Shrink both sides by the same factor. */
		double f = sqrt((double)ZS_UI_MAX_AREA / ((double)w * h));
		w = MAX((uint32_t)(w * f), ZS_UI_MIN_WIDTH);
		h = MAX((uint32_t)(h * f), ZS_UI_MIN_HEIGHT);
		while ((uint64_t)w * h > ZS_UI_MAX_AREA)
			w--;
	}
	bool changed = w != *width || h != *height;
	*width = w;
	*height = h;
	return changed;
}

void zs_resize_request(struct zs_resize *r, struct zs_source *src,
	const struct zs_agent_monitors *m)
{
	const struct zs_agent_monitor *mon = NULL;
	uint32_t w, h;

	for (uint32_t i = 0; i < m->n && !mon; i++) {
		if (m->mon[i].width && m->mon[i].height)
			mon = &m->mon[i];
	}
	if (!mon) {
		g_debug("monitors config without an enabled monitor ignored");
		return;
	}
	w = mon->width;
	h = mon->height;
	if (zs_ui_size_clamp(&w, &h))
		g_message("client window %ux%u: asking for %ux%u instead (each "
			"side %u..%u, at most %u pixels: what the encoders take)",
			mon->width, mon->height, w, h, ZS_UI_MIN_WIDTH,
			ZS_UI_MAX_DIM, ZS_UI_MAX_AREA);
	if (w == r->width && h == r->height)
		return;
	if (!zs_qemu_source_set_ui_info(src, w, h, mon->width_mm,
			mon->height_mm))
		return;
	g_message("client window %ux%u: asked the VM for a %ux%u display",
		mon->width, mon->height, w, h);
	r->width = w;
	r->height = h;
}

bool zs_resize_monitors_for_display(const struct zs_agent_monitors *m,
	unsigned display, unsigned n_displays, struct zs_agent_monitors *out)
{
	memset(out, 0, sizeof(*out));
	if (n_displays <= 1) {
		/* one display: the first enabled monitor, whichever it is */
		*out = *m;
		return display == 0;
	}
	if (display >= m->n || !m->mon[display].width ||
	    !m->mon[display].height)
		return false;
	out->n = 1;
	out->mon[0] = m->mon[display];
	return true;
}
