/* virt-viewer connection files: the [virt-viewer] key file remote-viewer
 * opens (`remote-viewer file.vv`), as brokers (Proxmox, oVirt) hand out. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zs-client-proto.h"

struct out {
	char *buf;
	size_t len, cap;
	bool failed;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->failed)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 256;
		while (o->len + n + 1 > cap)
			cap *= 2;
		char *nb = realloc(o->buf, cap);
		if (!nb) {
			o->failed = true;
			return;
		}
		o->buf = nb;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

char *zs_vv_escape(const char *value)
{
	struct out o = { 0 };
	put(&o, "", 0);
	for (const char *p = value; *p; p++) {
		switch (*p) {
		case '\n': puts_(&o, "\\n"); break;
		case '\r': puts_(&o, "\\r"); break;
		case '\t': puts_(&o, "\\t"); break;
		case '\\': puts_(&o, "\\\\"); break;
		case ' ':
			/* GKeyFile strips leading blanks unless escaped */
			puts_(&o, p == value ? "\\s" : " ");
			break;
		default: put(&o, p, 1);
		}
	}
	if (o.failed) {
		free(o.buf);
		return NULL;
	}
	return o.buf;
}

static void put_kv(struct out *o, const char *key, const char *value)
{
	if (!value)
		return;
	char *esc = zs_vv_escape(value);
	if (!esc) {
		o->failed = true;
		return;
	}
	puts_(o, key);
	puts_(o, "=");
	puts_(o, esc);
	puts_(o, "\n");
	free(esc);
}

static void put_port(struct out *o, const char *key, uint16_t port)
{
	char num[8];
	if (!port)
		return;
	snprintf(num, sizeof(num), "%u", port);
	put_kv(o, key, num);
}

char *zs_vv_format(const struct zs_vv *vv)
{
	if (!vv->host || !*vv->host || (!vv->port && !vv->tls_port))
		return NULL;
	struct out o = { 0 };
	puts_(&o, "[virt-viewer]\n");
	put_kv(&o, "type", "spice");
	put_kv(&o, "host", vv->host);
	put_port(&o, "port", vv->port);
	put_port(&o, "tls-port", vv->tls_port);
	put_kv(&o, "password", vv->password);
	put_kv(&o, "ca", vv->ca_pem);
	put_kv(&o, "host-subject", vv->host_subject);
	put_kv(&o, "title", vv->title);
	put_kv(&o, "proxy", vv->proxy);
	if (vv->delete_this_file)
		put_kv(&o, "delete-this-file", "1");
	if (o.failed) {
		free(o.buf);
		return NULL;
	}
	return o.buf;
}
