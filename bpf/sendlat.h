/* Send-path latency tracer ABI (kernel <-> src/StreamServer/Tracing/TracerAbi.cs). */
#ifndef STREAMSERVER_SENDLAT_H
#define STREAMSERVER_SENDLAT_H

#include "tracer_common.h"

#define SC_WRITEV 0
#define SC_SENDMSG 1
#define SC_SENDTO 2
#define SC_SENDFILE 3
#define SC_WRITE 4 /* write(2) on sockets only */
#define SC_COUNT 5

/* Latency histogram slots: slot i counts calls with 2^i <= duration_ns < 2^(i+1) (slot 0 also 0 ns). */
#define SEND_SLOTS 40

#define SEND_MAX_IOV 16 /* iovecs summed for "bytes requested"; the rest are not read */

/* Per-CPU array hist: index = syscall * SEND_SLOTS + slot, value = calls. */

/* Per-CPU array stats: index = syscall. */
struct ss_send_stats {
	__u64 calls;
	__u64 sum_ns;
	__u64 bytes;  /* sum of positive return values */
	__u64 errors; /* negative returns (EAGAIN included) */
	__u64 stalls; /* calls at or above the stall threshold */
	__u64 dropped; /* stall events lost to a full ring buffer */
	__u64 would_block; /* -EAGAIN: the socket buffer was full (a slow reader, on non-blocking sockets) */
};

struct ss_send_stall_event {
	__u32 event_type; /* EVENT_SEND_STALL */
	__u32 syscall;    /* SC_* */
	__u64 ts_ns;      /* exit time, bpf_ktime_get_ns */
	__u64 duration_ns;
	__s64 ret;        /* bytes sent or -errno */
	__u64 requested;  /* bytes asked for (iovec sum for writev/sendmsg) */
	__u32 tgid;
	__u32 tid;
	__s32 fd;
	__u32 pad;
	char comm[16];
};

#endif
