/* The SPICE ticket (password): one per process, as spice-server holds one.
 * Read from a file, set or expired by a controller (SIGHUP, the broker's
 * D-Bus API), applied to spice-server through a callback, and consulted by
 * the connection front (expired tickets are refused before spice-server
 * sees the link). Private to server/. Main thread only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* SPICE_MAX_PASSWORD_LENGTH in spice-protocol */
#define ZS_TICKET_MAX_BYTES 60
/* A ticket file is one short line; anything larger is not one. */
#define ZS_TICKET_FILE_MAX_BYTES 4096

/* Parses the whole content of a ticket file: the ticket is the first line
 * (1..ZS_TICKET_MAX_BYTES bytes, without its "\n" or "\r\n"); no NUL byte
 * anywhere. On success out holds the NUL-terminated ticket. Pure: the
 * fuzz target drives it. */
bool zs_ticket_parse(const uint8_t *buf, size_t len,
	char out[ZS_TICKET_MAX_BYTES + 1], char *err, size_t err_len);

/* Reads the whole file at path (a regular file or a FIFO, to its end) and
 * parses it. Refuses a file that its group or others may read or write.
 * Every intermediate copy is wiped. */
bool zs_ticket_read_file(const char *path, char out[ZS_TICKET_MAX_BYTES + 1],
	char *err, size_t err_len);

/* Where the ticket goes: text NULL means "no authentication" (only before
 * any ticket was set), lifetime_s 0 means no expiry. */
typedef void (*zs_ticket_apply_fn)(void *data, const char *text,
	uint32_t lifetime_s);

/* Reads the ticket file (path NULL: no ticket, clients need none) and keeps
 * path and expiry_s (0 = never) for zs_ticket_reload_file. */
bool zs_ticket_init(const char *path, uint32_t expiry_s, char *err,
	size_t err_len);
/* Applies the current state now and on every later change. */
void zs_ticket_bind(zs_ticket_apply_fn apply, void *data);
/* Sets a new ticket valid for expiry_s seconds (0 = never). Clients already
 * connected stay. Core dumps are off from the first ticket on. */
bool zs_ticket_set(const char *text, uint32_t expiry_s, char *err,
	size_t err_len);
/* No client can log in any more (until the next set or reload); clients
 * already connected stay. */
void zs_ticket_expire(void);
/* Reads the ticket file again (SIGHUP); keeps the old ticket on error. */
bool zs_ticket_reload_file(char *err, size_t err_len);
/* Applies the current state again (after spice-server dropped it to
 * disconnect every client), with what is left of the expiry. */
void zs_ticket_reapply(void);
/* The ticket clients can log in with now, or NULL (none, or expired). */
const char *zs_ticket_text(void);
/* True when clients must give a ticket (one was ever set). */
bool zs_ticket_required(void);
/* True when a ticket is required and none is valid now (expired). */
bool zs_ticket_expired(void);
/* Wipes the ticket; zs_ticket_init may be called again. */
void zs_ticket_finish(void);
