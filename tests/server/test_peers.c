/* Per-address accounting of the connection front: the caps, the block
 * after wrong tickets, forgiveness after a right one. */
#include <criterion/criterion.h>
#include <unistd.h>

#include "front.h"

static const struct zs_peer_limits limits = {
	.max_total = 10,
	.max_unauth_total = 6,
	.max_per_addr = 4,
	.max_unauth_per_addr = 3,
};

Test(peers, caps_per_address_and_in_total)
{
	struct zs_peers *p = zs_peers_create(&limits);
	struct zs_peer *a[4];
	char why[200];
	for (int i = 0; i < 3; i++)
		cr_assert_not_null(a[i] = zs_peers_enter(p, "10.0.0.1", why,
			sizeof(why)));
	cr_expect_null(zs_peers_enter(p, "10.0.0.1", why, sizeof(why)));
	cr_expect_not_null(strstr(why, "without a ticket"), "%s", why);
	/* past the ticket, one more fits the address */
	zs_peers_authenticated(p, a[0]);
	cr_assert_not_null(a[3] = zs_peers_enter(p, "10.0.0.1", why,
		sizeof(why)));
	zs_peers_authenticated(p, a[1]);
	cr_expect_null(zs_peers_enter(p, "10.0.0.1", why, sizeof(why)));
	cr_expect_not_null(strstr(why, "holds 4 connections"), "%s", why);
	/* another address still gets in, until the total unauth cap */
	struct zs_peer *b[3];
	for (int i = 0; i < 3; i++)
		cr_assert_not_null(b[i] = zs_peers_enter(p, "10.0.0.2", why,
			sizeof(why)));
	/* 2 + 3 before the ticket: one more anywhere, then the total cap */
	cr_expect_not_null(zs_peers_enter(p, "10.0.0.3", why, sizeof(why)));
	cr_expect_null(zs_peers_enter(p, "10.0.0.4", why, sizeof(why)));
	cr_expect_not_null(strstr(why, "in total"), "%s", why);
	cr_expect_eq(zs_peers_total(p), 8);
	zs_peers_leave(p, b[0], true);
	cr_expect_not_null(zs_peers_enter(p, "10.0.0.4", why, sizeof(why)));
	zs_peers_destroy(p);
}

Test(peers, wrong_tickets_block_the_address_and_a_right_one_forgives)
{
	struct zs_peers *p = zs_peers_create(&limits);
	char why[200];
	struct zs_peer *a = zs_peers_enter(p, "10.0.0.1", why, sizeof(why));
	cr_assert_not_null(a);
	for (int i = 0; i < 3; i++)
		cr_expect_not(zs_peers_auth_failed(p, a), "failure %d is free", i);
	cr_expect_not(zs_peers_blocked(p, a, why, sizeof(why)));
	cr_expect(zs_peers_auth_failed(p, a), "the fourth blocks");
	cr_expect(zs_peers_blocked(p, a, why, sizeof(why)));
	cr_expect_not_null(strstr(why, "4 wrong tickets from 10.0.0.1"), "%s",
		why);
	/* the block (1 s) outlives the connection: the record stays */
	zs_peers_leave(p, a, true);
	a = zs_peers_enter(p, "10.0.0.1", why, sizeof(why));
	cr_assert_not_null(a);
	cr_expect(zs_peers_blocked(p, a, why, sizeof(why)));
	usleep(1100 * 1000);
	cr_expect_not(zs_peers_blocked(p, a, why, sizeof(why)));
	/* the next failure blocks again, for longer */
	cr_expect(zs_peers_auth_failed(p, a));
	cr_expect_not_null(strstr(why, "wrong tickets"));
	zs_peers_blocked(p, a, why, sizeof(why));
	cr_expect_not_null(strstr(why, "2 s more"), "%s", why);
	zs_peers_authenticated(p, a);
	cr_expect_not(zs_peers_blocked(p, a, why, sizeof(why)));
	zs_peers_leave(p, a, false);
	zs_peers_sweep(p);
	zs_peers_destroy(p);
}

Test(peers, default_limits_scale_with_the_fd_limit)
{
	struct zs_peer_limits l;
	zs_peer_limits_default(&l);
	cr_expect_geq(l.max_total, 8);
	cr_expect_leq(l.max_total, 512);
	cr_expect_leq(l.max_unauth_total, l.max_total);
	cr_expect_leq(l.max_per_addr, l.max_total);
	cr_expect_leq(l.max_unauth_per_addr, l.max_unauth_total);
	cr_expect_lt(l.max_unauth_per_addr, l.max_unauth_total,
		"one address cannot take all the room before the ticket");
}
