/* Per-source-address accounting for the connection front: how many
 * connections each address holds (and how many of those have not yet
 * passed the ticket), the total, and failed ticket attempts with a growing
 * block. One record per address (all unix clients share one); a record goes
 * when it holds no connection and no block. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <glib.h>

#include "front.h"

/* Failed tickets an address may have before it is blocked, and how long
 * the block lasts (doubling with every failure after that). */
#define FREE_FAILURES 3
#define BLOCK_FIRST_S 1
#define BLOCK_MAX_S 30
/* Failures older than this are forgotten. */
#define FAILURE_MEMORY_S 300

struct zs_peer {
	char name[INET6_ADDRSTRLEN + 2];
	unsigned conns, unauth;
	unsigned failures;
	gint64 last_failure_us, blocked_until_us;
};

struct zs_peers {
	GHashTable *by_name; /* name → struct zs_peer */
	unsigned total, total_unauth;
	struct zs_peer_limits limits;
};

void zs_peer_limits_default(struct zs_peer_limits *l)
{
	struct rlimit rl;
	rlim_t nofile = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		nofile = rl.rlim_cur;
	/* A relayed connection costs three fds (client, ours and spice-server's
	 * end of the loopback pair); keep a reserve for QEMU's memfds, the
	 * encoder and spice-server's own. */
	rlim_t reserve = 48;
	rlim_t usable = nofile > reserve ? (nofile - reserve) / 3 : 0;
	l->max_total = (unsigned)CLAMP(usable, 8, 512);
	l->max_unauth_total = MAX(4u, l->max_total / 2);
	/* one address never takes more than a quarter of the room */
	l->max_per_addr = CLAMP(l->max_total / 4, 2u, 48u);
	/* a TLS client links every channel at once (spice-gtk: up to a
	 * dozen with USB redirection), each unauthenticated until its ticket */
	l->max_unauth_per_addr = CLAMP(l->max_unauth_total / 4, 1u, 16u);
}

struct zs_peers *zs_peers_create(const struct zs_peer_limits *limits)
{
	struct zs_peers *p = g_new0(struct zs_peers, 1);
	p->by_name = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
		g_free);
	p->limits = *limits;
	return p;
}

void zs_peers_destroy(struct zs_peers *p)
{
	if (!p)
		return;
	g_hash_table_destroy(p->by_name);
	g_free(p);
}

void zs_peer_name_of_fd(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0) {
		snprintf(buf, len, "?");
	} else if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&ss;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s", host);
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)&ss;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]", host);
	} else {
		snprintf(buf, len, "unix");
	}
}

static bool forgettable(const struct zs_peer *peer, gint64 now)
{
	if (peer->conns || peer->blocked_until_us > now)
		return false;
	return !peer->failures ||
		now - peer->last_failure_us >= FAILURE_MEMORY_S * G_USEC_PER_SEC;
}

bool zs_peers_blocked(struct zs_peers *p, const struct zs_peer *peer,
	char *why, size_t why_len)
{
	gint64 now = g_get_monotonic_time();
	if (peer->blocked_until_us <= now)
		return false;
	snprintf(why, why_len, "%u wrong tickets from %s: blocked for "
		"%" G_GINT64_FORMAT " s more", peer->failures, peer->name,
		(peer->blocked_until_us - now + G_USEC_PER_SEC - 1) /
		G_USEC_PER_SEC);
	return true;
}

struct zs_peer *zs_peers_enter(struct zs_peers *p, const char *name,
	char *why, size_t why_len)
{
	struct zs_peer *peer = g_hash_table_lookup(p->by_name, name);
	if (p->total >= p->limits.max_total) {
		snprintf(why, why_len, "%u connections held in total (the limit)",
			p->total);
		return NULL;
	}
	if (p->total_unauth >= p->limits.max_unauth_total) {
		snprintf(why, why_len, "%u connections without a ticket yet in "
			"total (the limit)", p->total_unauth);
		return NULL;
	}
	if (peer && peer->conns >= p->limits.max_per_addr) {
		snprintf(why, why_len, "%s holds %u connections (the limit)",
			name, peer->conns);
		return NULL;
	}
	if (peer && peer->unauth >= p->limits.max_unauth_per_addr) {
		snprintf(why, why_len, "%s holds %u connections without a "
			"ticket yet (the limit)", name, peer->unauth);
		return NULL;
	}
	if (!peer) {
		peer = g_new0(struct zs_peer, 1);
		snprintf(peer->name, sizeof(peer->name), "%s", name);
		g_hash_table_insert(p->by_name, peer->name, peer);
	}
	peer->conns++;
	peer->unauth++;
	p->total++;
	p->total_unauth++;
	return peer;
}

void zs_peers_authenticated(struct zs_peers *p, struct zs_peer *peer)
{
	peer->unauth--;
	p->total_unauth--;
	peer->failures = 0;
	peer->blocked_until_us = 0;
}

void zs_peers_leave(struct zs_peers *p, struct zs_peer *peer, bool unauth)
{
	if (unauth) {
		peer->unauth--;
		p->total_unauth--;
	}
	peer->conns--;
	p->total--;
	if (forgettable(peer, g_get_monotonic_time()))
		g_hash_table_remove(p->by_name, peer->name);
}

bool zs_peers_auth_failed(struct zs_peers *p, struct zs_peer *peer)
{
	gint64 now = g_get_monotonic_time();
	if (now - peer->last_failure_us > FAILURE_MEMORY_S * G_USEC_PER_SEC)
		peer->failures = 0;
	peer->failures++;
	peer->last_failure_us = now;
	if (peer->failures <= FREE_FAILURES)
		return false;
	unsigned shift = MIN(peer->failures - FREE_FAILURES - 1, 5u);
	gint64 block_s = MIN((gint64)BLOCK_FIRST_S << shift, BLOCK_MAX_S);
	peer->blocked_until_us = now + block_s * G_USEC_PER_SEC;
	return true;
}

void zs_peers_sweep(struct zs_peers *p)
{
	GHashTableIter it;
	gpointer value;
	gint64 now = g_get_monotonic_time();
	g_hash_table_iter_init(&it, p->by_name);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		if (forgettable(value, now))
			g_hash_table_iter_remove(&it);
	}
}

unsigned zs_peers_total(const struct zs_peers *p)
{
	return p->total;
}

const char *zs_peer_name(const struct zs_peer *peer)
{
	return peer->name;
}
