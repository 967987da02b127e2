/* TCP retransmit tracer ABI (kernel <-> src/StreamServer/Tracing/TracerAbi.cs). */
#ifndef STREAMSERVER_RETRANS_H
#define STREAMSERVER_RETRANS_H

#include "tracer_common.h"

#define RETRANS_MAX_PORTS 8
#define SRTT_SLOTS 32 /* log2(microseconds) */

/* Which end of the flow our port is on. SERVER: the local port is one of ours (the server's socket).
 * CLIENT: the remote port is ours, i.e. a client in the same network namespace talking to us. */
#define SIDE_SERVER 0
#define SIDE_CLIENT 1

#define RETRANS_KIND_SKB 1
#define RETRANS_KIND_SYNACK 2
#define RETRANS_KIND_UNSEEN 3 /* segments found in tcp_sock.total_retrans that no program run saw (see below) */

/* Per-CPU counters, index = enum below. */
#define RC_SEGS_SERVER 0      /* segments counted like TcpRetransSegs, server side */
#define RC_SEGS_CLIENT 1      /* same, client side */
#define RC_EVENTS 2           /* tracepoint hits that matched the filters */
#define RC_NOT_SENT 3         /* retransmit attempts that stopped before the kernel counts them */
#define RC_SYNACK 4           /* SYN-ACK retransmits (1 segment each, included in RC_SEGS_SERVER) */
#define RC_DROPPED 5          /* ring buffer full: event lost, counts kept */
#define RC_UNSEEN_SEGS 6      /* segments counted from total_retrans jumps (included in RC_SEGS_*) */
#define RC_UNSEEN_EVENTS 7    /* times such a jump was found */
#define RC_COUNT 12

struct ss_retrans_event {
	__u32 event_type; /* EVENT_RETRANSMIT */
	__u32 segs;       /* segments this event adds to the count (tcp_skb_pcount + unseen), 0 if not sent */
	__u64 ts_ns;      /* bpf_ktime_get_ns */
	__u16 family;     /* AF_INET / AF_INET6 */
	__u16 sport;      /* host order, local */
	__u16 dport;      /* host order, remote */
	__u8 side;        /* SIDE_* */
	__u8 kind;        /* RETRANS_KIND_* */
	__s32 state;      /* TCP state (1 = ESTABLISHED ...), -1 for SYN-ACK */
	__s32 err;        /* 0 or -errno from the retransmit attempt */
	__u8 saddr[16];   /* IPv4 in the first 4 bytes */
	__u8 daddr[16];
	__u32 unseen;     /* of segs: segments the kernel retransmitted on this socket while no program could run */
	__u32 srtt_us;    /* smoothed RTT at this moment, microseconds (0 for SYN-ACKs) */
	__u32 snd_cwnd;   /* congestion window, segments (0 for SYN-ACKs) */
	__u32 pad;
};

/* tcp_probe samples: one per-CPU entry, so an ACK costs one map lookup. */
struct ss_srtt_stats {
	__u64 slots[SRTT_SLOTS]; /* log2(srtt in microseconds) */
	__u64 samples;
	__u64 sum_us;
};

struct ss_flow_key {
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u16 side;
	__u8 saddr[16];
	__u8 daddr[16];
};

struct ss_flow_stats {
	__u64 retrans_segs;
	__u64 last_retrans_ns;
	__u32 srtt_us;   /* socket state at the latest retransmit */
	__u32 snd_cwnd;
	__u32 ssthresh;
	__u32 total_retrans; /* tcp_sock.total_retrans: the socket's own segment count */
	__u64 reserved;
};

#endif
