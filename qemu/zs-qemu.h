/* zerospice — the QEMU D-Bus display source (org.qemu.Display1). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zs-dmabuf.h"

struct zs_qemu_session_events;

/* How to reach QEMU. Exactly one of qmp_path, dbus_fd and bus_address. */
struct zs_qemu_options {
	/* QEMU's QMP unix socket (-qmp unix:PATH,server=on,wait=off with
	 * -display dbus,p2p=yes): the source hands QEMU one end of a socketpair
	 * with QMP getfd + add_client protocol=@dbus-display. */
	const char *qmp_path;
	/* An already-connected peer-to-peer D-Bus socket to QEMU's display
	 * (e.g. inherited from the broker); -1 for none. zs_qemu_source_create()
	 * takes ownership of it, also when it fails. */
	int dbus_fd;
	/* The address of a private D-Bus bus where QEMU owns org.qemu
	 * (-display dbus,addr=ADDRESS). */
	const char *bus_address;
	/* Console index: /org/qemu/Display1/Console_N. */
	uint32_t console;
	/* Bound on waiting for QEMU: for the QMP socket to accept, or for
	 * org.qemu to appear on the bus; 0 for ZS_QEMU_CONNECT_TIMEOUT_MS. */
	uint32_t connect_timeout_ms;
	/* No bound on waiting for QEMU (qmp_path, bus_address): try every
	 * ZS_QEMU_WAIT_RETRY_MS until it is there (zerospice --reconnect). */
	bool wait_for_qemu;
	/* Until QEMU sends a picture: black at this size, emitted at once and
	 * again every ZS_QEMU_WAIT_RETRY_MS so that clients, also those that
	 * join meanwhile, see a stopped display; 0 for none. zerospice
	 * --reconnect passes the size of the last picture. */
	uint32_t blank_width, blank_height;
	/* Another uid QEMU may run as, besides zerospice's own and root; 0 for
	 * none. The peer of the QMP socket, of dbus_fd and the owner of
	 * org.qemu on the bus are checked (SO_PEERCRED): anyone else could
	 * read the keystrokes. */
	int64_t allowed_uid;
	/* Character devices and the clipboard (chardev.c, clipboard.c); NULL
	 * for none. Called on the source's context. */
	const struct zs_qemu_session_events *session;
	void *session_data;
	/* QEMU's graphic consoles (their numbers, ascending), once per
	 * connection, as soon as QEMU's object list is read; NULL: not asked.
	 * Called on the source's context. */
	void (*consoles_found)(void *data, const uint32_t *numbers, size_t n);
	void *consoles_data;
};

/* Bound on waiting for QEMU's QMP socket to accept connections, or for QEMU
 * to take its name on the bus. */
#define ZS_QEMU_CONNECT_TIMEOUT_MS 10000
/* How often a source with wait_for_qemu tries QEMU's QMP socket. */
#define ZS_QEMU_WAIT_RETRY_MS 1000
/* Bound on holding the UpdateDMABUF reply (QEMU's frame acknowledgement)
 * while the consumer still holds the frame: past it the reply goes out
 * anyway, so a slow consumer never stalls the guest. */
#define ZS_QEMU_ACK_TIMEOUT_MS 100

/* Creates the QEMU display source on the calling thread's default
 * GMainContext (g_main_context_ref_thread_default()); everything, the events
 * included, runs there.
 *
 * Connection is asynchronous: the source is returned at once, and failures to
 * reach QEMU (QMP socket not listening or org.qemu not on the bus within
 * ZS_QEMU_CONNECT_TIMEOUT_MS, unless wait_for_qemu,
 * QMP errors, console not found, RegisterListener refused), QEMU exiting and
 * the socket dropping are reported once through events->closed, after a
 * black frame at the last size when a picture was shown. The QMP
 * exchange never blocks the loop: a QEMU that accepts and stays silent
 * costs at most 5 s (or connect_timeout_ms), and a full backlog counts as
 * not listening yet. A peer of another uid (see allowed_uid) is refused.
 *
 * Frames carry DRM fourccs (XRGB8888 for QEMU's x8r8g8b8); their release may
 * be called from any thread and is marshalled back to this context, so frames
 * released after the loop stopped running are leaked. Frames may outlive the
 * source.
 *
 * Returns NULL with a message in err only for invalid options. */
struct zs_source *zs_qemu_source_create(const struct zs_qemu_options *opts,
	const struct zs_source_events *events, void *data,
	char *err, size_t err_len);

/* Another console of the QEMU that primary (a source from
 * zs_qemu_source_create()) reaches, over primary's own D-Bus connection:
 * QEMU's p2p display serves one client at a time (a second add_client
 * replaces the first), so every console of a VM goes through one
 * connection. This source has its own listener, picture, cursor and
 * pointer; keys, chardevs, clipboard and audio stay with primary. It
 * starts once primary reaches QEMU, and closes (events->closed) when
 * primary does or when QEMU has no such graphic console. Destroy it before
 * primary. blank_width/height as in zs_qemu_options. NULL with a reason in
 * err when primary is not a QEMU source. */
struct zs_source *zs_qemu_source_create_console(struct zs_source *primary,
	uint32_t console, uint32_t blank_width, uint32_t blank_height,
	const struct zs_source_events *events, void *data, char *err,
	size_t err_len);

/* The device and head this console shows, as QEMU names them
 * (Console.DeviceAddress, e.g. "pci/0000/02.0", and Head), copied into
 * address. False before the console is open, for a console without a
 * device address, and for other sources. */
bool zs_qemu_source_device_info(struct zs_source *src, char *address,
	size_t address_len, uint32_t *head);

/* Releases every key this source pressed and has not released (call when
 * the last client leaves or loses focus). Accepts NULL and sources of other
 * kinds (no-op). */
void zs_qemu_source_release_keys(struct zs_source *src);

/* ---- --trace-stages: a key press and the picture that answers it ---- */

/* One key press toward QEMU, CLOCK_MONOTONIC microseconds (0: unknown).
 * The answering frame is the first one emitted after the press whose input
 * stamp (the bench guest's, zs-stamp.h type 2, drawn at (16,128)) counts
 * more key events than the picture QEMU had sent when the press came. */
struct zs_qemu_key_trace {
	uint32_t scancode;    /* as the client sent it */
	int64_t recv_us;      /* the press reached the source */
	int64_t call_us;      /* Keyboard.Press handed to GDBus */
	int64_t reply_us;     /* QEMU's reply to it arrived */
	uint64_t frame_id;    /* zs_frame.id of the answering frame */
	int64_t capture_us;   /* its capture_us: QEMU's first message of it */
	int64_t emit_us;      /* when it was handed to the consumer */
	uint32_t stamp_us;    /* time spent reading input stamps for it */
};
typedef void (*zs_qemu_key_trace_fn)(void *data,
	const struct zs_qemu_key_trace *k);
/* Presses whose answer or reply has not come within this are reported
 * with what is known. */
#define ZS_QEMU_KEY_TRACE_WAIT_US (3 * 1000 * 1000)

/* Reports every key press of a source whose pictures carry the bench
 * guest's input stamp to fn, on the source's context, once the answering
 * frame and QEMU's reply are both in (or after ZS_QEMU_KEY_TRACE_WAIT_US).
 * Costs nothing per frame while no press waits; a stamp read (a few
 * hundred microseconds) per frame while one does. fn NULL: off. Accepts
 * NULL and sources of other kinds (no-op). */
void zs_qemu_source_trace_keys(struct zs_source *src, zs_qemu_key_trace_fn fn,
	void *data);

/* Asks the VM for a display of width x height pixels (width_mm x
 * height_mm physical, 0 when unknown) with Console.SetUIInfo, as QEMU's
 * own UIs do when their window resizes; the display device decides:
 * virtio-gpu offers it to the guest as the preferred mode (the guest's
 * driver or compositor may follow), VGA refuses (logged once; later calls
 * return false without asking). Returns false (logged) when the size is 0
 * or over ZS_QEMU_MAX_UI_DIM, or QEMU is not connected. Accepts NULL and sources of other kinds (false). A
 * guest agent, when there is one, is the better recipient of the client's
 * monitors config: callers skip this then. */
bool zs_qemu_source_set_ui_info(struct zs_source *src, uint32_t width,
	uint32_t height, uint16_t width_mm, uint16_t height_mm);
#define ZS_QEMU_MAX_UI_DIM 16384u

/* ---- audio (-audiodev dbus,id=X and -display dbus,…,audiodev=X) ---- */

/* PCM format of one of QEMU's voices, as its Init gives it. */
struct zs_pcm_format {
	uint32_t rate_hz;
	uint8_t channels;
	uint8_t bits;          /* 8, 16 or 32 */
	bool is_signed, is_float, big_endian;
	uint32_t bytes_per_frame;
};
#define ZS_PCM_MAX_CHANNELS 8
#define ZS_PCM_MIN_RATE_HZ 4000
#define ZS_PCM_MAX_RATE_HZ 192000

/* True when f is a format we convert: 1..ZS_PCM_MAX_CHANNELS channels,
 * ZS_PCM_MIN_RATE_HZ..ZS_PCM_MAX_RATE_HZ, integers of 8/16/32 bits or
 * 32-bit floats, bytes_per_frame = channels * bits / 8. False with a
 * one-line reason otherwise. */
bool zs_pcm_format_check(const struct zs_pcm_format *f, char *why,
	size_t why_len);

/* What QEMU's audio asks of the consumer, on the source's context. id names
 * one of QEMU's voices (a sound device's output or input); every call for a
 * voice comes between its init and its fini, and only for voices whose
 * format passed zs_pcm_format_check() (others are logged and ignored). */
struct zs_qemu_audio_events {
	/* playback: guest → client */
	void (*out_init)(void *data, uint64_t id, const struct zs_pcm_format *f);
	void (*out_fini)(void *data, uint64_t id);
	void (*out_enable)(void *data, uint64_t id, bool enabled);
	/* volume: 0..255 per channel */
	void (*out_volume)(void *data, uint64_t id, bool mute,
		const uint8_t *volume, size_t n_channels);
	/* whole frames of PCM in the voice's format */
	void (*out_write)(void *data, uint64_t id, const uint8_t *pcm,
		size_t len);
	/* record: client → guest */
	void (*in_init)(void *data, uint64_t id, const struct zs_pcm_format *f);
	void (*in_fini)(void *data, uint64_t id);
	void (*in_enable)(void *data, uint64_t id, bool enabled);
	void (*in_volume)(void *data, uint64_t id, bool mute,
		const uint8_t *volume, size_t n_channels);
	/* Fills at most len bytes (whole frames) of the voice's PCM; returns
	 * how many. QEMU waits for the answer: never block. */
	size_t (*in_read)(void *data, uint64_t id, uint8_t *pcm, size_t len);
};

/* Bridges QEMU's D-Bus audio to events (NULL: none) once QEMU is
 * connected: registers an AudioOutListener and an AudioInListener. Call
 * right after zs_qemu_source_create(). Without D-Bus audio in the VM the
 * log says so once and the display goes on. No-op for other sources. */
void zs_qemu_source_set_audio(struct zs_source *src,
	const struct zs_qemu_audio_events *events, void *data);

/* True once the listener is registered with QEMU and frames can arrive;
 * false before, and after events->closed. */
bool zs_qemu_source_is_running(const struct zs_source *src);

/* ---- session bridges: QEMU's character devices (-chardev dbus) and
 * clipboard (org.qemu.Display1.Chardev, org.qemu.Display1.Clipboard) */

/* Chardev Name values zerospice bridges. */
#define ZS_QEMU_CHARDEV_VDAGENT "org.spice-space.vdagent.0"
#define ZS_QEMU_CHARDEV_USBREDIR "org.qemu.usbredir"

/* The clipboard selections (QEMU's and the vdagent's numbering). */
#define ZS_QEMU_CLIPBOARD_SELECTIONS 3

struct zs_qemu_session_events {
	/* A -chardev dbus appeared: id is QEMU's chardev id (stable while it
	 * exists), name its Name, fe_opened whether the guest side has it
	 * open. */
	void (*chardev_added)(void *data, const char *id, const char *name,
		bool fe_opened);
	void (*chardev_fe_opened)(void *data, const char *id, bool opened);
	/* Gone from QEMU, or the source closed. Streams opened with
	 * zs_qemu_chardev_connect() see end-of-file on their own. */
	void (*chardev_removed)(void *data, const char *id);

	/* QEMU's clipboard is usable (Register done) or no longer. */
	void (*clipboard_ready)(void *data, bool ready);
	/* QEMU (the guest side) holds selection with text, or gave it up. */
	void (*clipboard_grab)(void *data, uint32_t selection);
	void (*clipboard_release)(void *data, uint32_t selection);
	/* QEMU asks for the text of a selection we grabbed: answer with
	 * zs_qemu_clipboard_reply() (QEMU blocks until then, at most
	 * ZS_QEMU_CLIPBOARD_TIMEOUT_MS). */
	void (*clipboard_request)(void *data, uint32_t selection);
};

#define ZS_QEMU_CLIPBOARD_TIMEOUT_MS 5000
/* Largest clipboard text taken from QEMU. */
#define ZS_QEMU_CLIPBOARD_MAX_BYTES (64u * 1024 * 1024)

/* Opens a new byte stream to chardev id and returns our end (O_CLOEXEC,
 * non-blocking; the caller owns it), or -1 with a reason in err. QEMU drops
 * the stream it had, if any. A refused registration shows as end-of-file. */
int zs_qemu_chardev_connect(struct zs_source *src, const char *id,
	char *err, size_t err_len);

/* The client side now holds selection with UTF-8 text (grab), or no longer
 * (release). No-ops while the clipboard is not ready. */
void zs_qemu_clipboard_grab(struct zs_source *src, uint32_t selection);
void zs_qemu_clipboard_release(struct zs_source *src, uint32_t selection);
/* Answers QEMU's pending request for selection: text (UTF-8, borrowed), or
 * NULL when there is none. */
void zs_qemu_clipboard_reply(struct zs_source *src, uint32_t selection,
	const uint8_t *text, size_t len);
/* Result of zs_qemu_clipboard_request(): text NULL on failure (logged). */
typedef void (*zs_qemu_clipboard_text_fn)(void *data, uint32_t selection,
	const uint8_t *text, size_t len);
/* Asks QEMU for the text of selection; cb runs once: later with QEMU's
 * answer, or at once with NULL when QEMU holds no text there or its
 * clipboard is not ready. A request the source's closing cancels runs cb
 * with NULL from the main loop, if it still runs. */
void zs_qemu_clipboard_request(struct zs_source *src, uint32_t selection,
	zs_qemu_clipboard_text_fn cb, void *data);
