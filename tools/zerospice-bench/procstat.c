/* zerospice-bench /proc readers. */
#include "procstat.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool zb_proc_sample(pid_t pid, struct zb_proc_sample *out)
{
	char path[64], buf[2048];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the command name may contain spaces and parentheses: fields start
	 * after the last ')' */
	char *p = strrchr(buf, ')');
	if (!p)
		return false;
	unsigned long long utime = 0, stime = 0;
	/* after ')': state(3) ... utime is field 14, stime 15 */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
		    &utime, &stime) != 2)
		return false;
	long hz = sysconf(_SC_CLK_TCK);
	out->cpu_s = (double)(utime + stime) / (double)(hz > 0 ? hz : 100);

	out->rss_kib = 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		unsigned long long kib;
		if (sscanf(line, "VmRSS: %llu kB", &kib) == 1) {
			out->rss_kib = kib;
			break;
		}
	}
	fclose(f);
	return true;
}

bool zb_proc_name(pid_t pid, char *buf, size_t len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	bool ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = '\0';
	return ok;
}

/* Socket inodes listening on port, from one /proc/net table. */
static size_t listening_inodes(const char *table, uint16_t port,
	unsigned long *inodes, size_t max)
{
	FILE *f = fopen(table, "re");
	if (!f)
		return 0;
	char line[512];
	size_t n = 0;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return 0;
	}
	while (n < max && fgets(line, sizeof(line), f)) {
		char local[128];
		unsigned state;
		unsigned long inode;
		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, " %*s %127s %*s %x %*s %*s %*s %*s %*s %lu",
			    local, &state, &inode) != 3)
			continue;
		char *colon = strrchr(local, ':');
		if (!colon || state != 0x0a /* TCP_LISTEN */)
			continue;
		if (strtoul(colon + 1, NULL, 16) == port)
			inodes[n++] = inode;
	}
	fclose(f);
	return n;
}

pid_t zb_proc_find_listener(uint16_t port)
{
	unsigned long inodes[16];
	size_t n = listening_inodes("/proc/net/tcp", port, inodes, 16);
	n += listening_inodes("/proc/net/tcp6", port, inodes + n, 16 - n);
	if (n == 0)
		return 0;
	DIR *proc = opendir("/proc");
	if (!proc)
		return 0;
	pid_t found = 0;
	struct dirent *de;
	while (!found && (de = readdir(proc))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		char path[64];
		snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
		DIR *fds = opendir(path);
		if (!fds)
			continue;
		struct dirent *fe;
		while (!found && (fe = readdir(fds))) {
			char link[600], target[64];
			snprintf(link, sizeof(link), "%s/%s", path, fe->d_name);
			ssize_t len = readlink(link, target, sizeof(target) - 1);
			if (len <= 0)
				continue;
			target[len] = '\0';
			unsigned long inode;
			if (sscanf(target, "socket:[%lu]", &inode) != 1)
				continue;
			for (size_t i = 0; i < n; i++)
				if (inodes[i] == inode)
					found = (pid_t)pid;
		}
		closedir(fds);
	}
	closedir(proc);
	return found;
}
