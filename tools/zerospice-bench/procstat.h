/* zerospice-bench /proc readers: a process's CPU time and memory, and the
 * process listening on a local TCP port. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct zb_proc_sample {
	double cpu_s;      /* user + system time so far */
	uint64_t rss_kib;  /* VmRSS */
};

/* Reads /proc/PID/stat and /proc/PID/status; false when the process is
 * gone or unreadable. */
bool zb_proc_sample(pid_t pid, struct zb_proc_sample *out);

/* The pid of the process holding a TCP socket listening on `port` (IPv4 or
 * IPv6), found through /proc/net/tcp{,6} and /proc/PID/fd; 0 when none is
 * visible to us. */
pid_t zb_proc_find_listener(uint16_t port);

/* Reads the process name (/proc/PID/comm) into buf; false when gone. */
bool zb_proc_name(pid_t pid, char *buf, size_t len);
