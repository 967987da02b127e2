// SPDX-License-Identifier: GPL-2.0
/* TCP retransmits on the server's sockets (tcp:tcp_retransmit_skb, tcp:tcp_retransmit_synack) with the
 * flow's srtt / cwnd at that moment, and an srtt histogram of the server's connections (tcp:tcp_probe).
 * Counts segments the way the kernel adds to TCP_MIB_RETRANSSEGS (TcpRetransSegs in /proc/net/snmp):
 * tcp_skb_pcount at each retransmit, reconciled per socket with tcp_sock.total_retrans (also at every
 * state change, sock:inet_sock_set_state) for the retransmits no program run saw (see reconcile()). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "retrans.h"

char LICENSE[] SEC("license") = "GPL";

/* Puts the event layout into the object's BTF, where the loader's ABI test reads its size. */
struct ss_retrans_event abi_retrans_event __attribute__((unused));

#define EBUSY 16
#define EINVAL 22
#define ENOMEM 12
#define EAGAIN 11
#define EHOSTUNREACH 113

/* Filters, written by the loader into .rodata before load. */
const volatile __u16 ports[RETRANS_MAX_PORTS] = {};
const volatile __u32 n_ports = 0;
const volatile __u32 netns_inum = 0; /* 0 = every network namespace */
const volatile __u8 track_probes = 1;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RC_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ss_srtt_stats);
} srtt_hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct ss_flow_key);
	__type(value, struct ss_flow_stats);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

static __always_inline void bump(__u32 idx, __u64 by)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);
	/* Atomic although per-CPU: the SYN-ACK program can interrupt the skb one on the same CPU. */
	if (v)
		__sync_fetch_and_add(v, by);
}

static __always_inline int our_port(__u16 port)
{
	for (int i = 0; i < RETRANS_MAX_PORTS; i++) {
		if (i >= n_ports)
			break;
		if (ports[i] == port)
			return 1;
	}
	return 0;
}

/* Returns SIDE_SERVER / SIDE_CLIENT, or -1 when the socket is not ours. */
static __always_inline int match(const struct sock *sk, __u16 sport, __u16 dport)
{
	int side;
	if (n_ports == 0 || our_port(sport))
		side = SIDE_SERVER;
	else if (our_port(dport))
		side = SIDE_CLIENT;
	else
		return -1;
	if (netns_inum != 0 && BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) != netns_inum)
		return -1;
	return side;
}

/* Addresses, ports, family from the socket (or request socket) itself: raw tracepoints get the
 * tracepoint's arguments, not its formatted record. */
static __always_inline void fill_flow(struct ss_retrans_event *e, const struct sock_common *c)
{
	e->family = BPF_CORE_READ(c, skc_family);
	e->sport = BPF_CORE_READ(c, skc_num);
	e->dport = __builtin_bswap16(BPF_CORE_READ(c, skc_dport));
	if (e->family == 10 /* AF_INET6 */) {
		BPF_CORE_READ_INTO(&e->saddr, c, skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&e->daddr, c, skc_v6_daddr);
	} else {
		BPF_CORE_READ_INTO((__u32 *)e->saddr, c, skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)e->daddr, c, skc_daddr);
	}
}

static __always_inline void flow_key(struct ss_flow_key *key, const struct ss_retrans_event *e)
{
	key->family = e->family;
	key->sport = e->sport;
	key->dport = e->dport;
	key->side = e->side;
	__builtin_memcpy(key->saddr, e->saddr, 16);
	__builtin_memcpy(key->daddr, e->daddr, 16);
}

static __always_inline void account_flow(struct ss_retrans_event *e, const struct ss_flow_key *key, const struct sock *sk)
{
	struct ss_flow_stats *st = bpf_map_lookup_elem(&flows, key);
	if (!st) {
		struct ss_flow_stats zero = {};
		bpf_map_update_elem(&flows, key, &zero, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&flows, key);
		if (!st)
			return;
	}
	__sync_fetch_and_add(&st->retrans_segs, e->segs);
	st->last_retrans_ns = e->ts_ns;
	if (e->kind != RETRANS_KIND_SYNACK) {
		st->srtt_us = e->srtt_us;
		st->snd_cwnd = e->snd_cwnd;
		st->ssthresh = BPF_CORE_READ((const struct tcp_sock *)sk, snd_ssthresh);
		st->total_retrans = BPF_CORE_READ((const struct tcp_sock *)sk, total_retrans);
	}
}

static __always_inline void emit(struct ss_retrans_event *e)
{
	struct ss_retrans_event *out = bpf_ringbuf_reserve(&events, sizeof(*out), 0);
	if (!out) {
		bump(RC_DROPPED, 1);
		return;
	}
	__builtin_memcpy(out, e, sizeof(*out));
	bpf_ringbuf_submit(out, 0);
}

/* Why a second count next to tcp_skb_pcount: on some vendor kernels every BPF tracing program is
 * skipped, silently (no recursion_misses), while the current task belongs to PID 1 (bpf/README.md):
 * bpf_trace_run*() and trace_call_bpf() test current->tgid == 1 before running a program that init
 * does not own. A retransmit from a softirq (RTO / TLP timer, incoming ACK) that interrupts one
 * of init's threads is counted in TcpRetransSegs and shown by ftrace, but reaches none of our programs.
 * The kernel keeps its own per-socket sum of exactly what it adds to TcpRetransSegs, tcp_sock.total_retrans
 * (SYN-ACK retransmits of the request included, copied into the child at accept), so every program run
 * that does see one of our sockets (a retransmit, a state change, the final close) takes the difference
 * between total_retrans and what we counted for that socket so far: segments nothing saw are counted
 * late, but counted (RC_UNSEEN_*). Only a socket whose unseen retransmits are followed by nothing we
 * see, its close included, stays short: that needs two such coincidences on one socket. */
struct sock_seen {
	__u32 counted; /* total_retrans already added to the counters */
	__u16 sport;   /* the socket's ports: a recycled struct sock is a new socket */
	__u16 dport;
	__u32 side;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536); /* entries leave at close; LRU drops the least recently touched first, i.e. stale ones (close unseen) */
	__type(key, __u64); /* struct sock address */
	__type(value, struct sock_seen);
} socks SEC(".maps");

/* SYN-ACK retransmits counted per request (flow key): the child's total_retrans starts at that number. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct ss_flow_key);
	__type(value, __u32);
} synacks SEC(".maps");

/* Returns total_retrans minus what was counted for this socket before this event, and records it as
 * counted. A socket seen for the first time starts from 0 (client side: a new socket) or from the SYN-ACK
 * retransmits already counted for its request (server side). */
static __always_inline __u32 reconcile(const struct sock *sk, struct ss_flow_key *key, int closing)
{
	__u64 id = (__u64)sk;
	__u32 total = BPF_CORE_READ((const struct tcp_sock *)sk, total_retrans);
	struct sock_seen *seen = bpf_map_lookup_elem(&socks, &id);
	__u32 counted = 0;
	int owed = 0; /* a SYN-ACK entry for this flow is to be taken over */
	/* key->sport is 0 when the socket has already given its port back (on its way to TIME_WAIT). */
	if (seen && seen->dport == key->dport && (key->sport == 0 || seen->sport == key->sport)) {
		counted = seen->counted;
		key->sport = seen->sport;
	} else {
		seen = 0;
		if (key->side == SIDE_SERVER) {
			__u32 *syn = bpf_map_lookup_elem(&synacks, key);
			if (syn) {
				counted = *syn;
				owed = 1;
			}
		}
	}
	if ((__s32)(total - counted) < 0)
		total = counted; /* not expected; never count backwards */
	if (closing) {
		bpf_map_delete_elem(&socks, &id);
		if (owed)
			bpf_map_delete_elem(&synacks, key);
	} else if (seen) {
		seen->counted = total;
	} else if (total != counted || owed) {
		/* Only sockets that retransmit (or inherit SYN-ACK retransmits) get an entry: a clean
		 * connection costs no map update. */
		struct sock_seen init = { .counted = total, .sport = key->sport, .dport = key->dport, .side = key->side };
		bpf_map_update_elem(&socks, &id, &init, BPF_ANY);
		if (owed)
			bpf_map_delete_elem(&synacks, key);
	}
	return total - counted;
}

static __always_inline void read_cc(struct ss_retrans_event *e, const struct sock *sk)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	e->srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
	e->snd_cwnd = BPF_CORE_READ(tp, snd_cwnd);
}

/* Counts an event's segments (e->unseen of them made where no program could run), records them on the flow
 * and sends the event: the one tail of every program that counts retransmitted segments. */
static __always_inline void count_and_emit(struct ss_retrans_event *e, const struct ss_flow_key *key, const struct sock *sk)
{
	if (e->unseen) {
		bump(RC_UNSEEN_SEGS, e->unseen);
		bump(RC_UNSEEN_EVENTS, 1);
	}
	bump(e->side == SIDE_SERVER ? RC_SEGS_SERVER : RC_SEGS_CLIENT, e->segs);
	bump(RC_EVENTS, 1);
	account_flow(e, key, sk);
	emit(e);
}

/* Raw tracepoints, not the perf-event kind: a classic tracepoint program is skipped whenever it fires
 * while any other BPF tracing program runs on that CPU (one per-CPU bpf_prog_active guard), which is
 * exactly what happens to a retransmit from a softirq interrupting, say, the kmem or syscall programs.
 * Raw tracepoints only guard each program against itself. Argument lists are this kernel's TP_PROTOs. */
SEC("raw_tp/tcp_retransmit_skb")
int BPF_PROG(on_retransmit_skb, const struct sock *sk, const struct sk_buff *skb, int err)
{
	struct ss_retrans_event e = {};
	fill_flow(&e, &sk->__sk_common);
	int side = match(sk, e.sport, e.dport);
	if (side < 0)
		return 0;

	e.event_type = EVENT_RETRANSMIT;
	e.ts_ns = bpf_ktime_get_ns();
	e.side = side;
	e.kind = RETRANS_KIND_SKB;
	e.state = BPF_CORE_READ(sk, __sk_common.skc_state);
	e.err = err;
	read_cc(&e, sk);
	struct ss_flow_key key = {};
	flow_key(&key, &e);

	/* Since 6.11 the tracepoint also fires for attempts that bail out before the kernel counts them
	 * (__tcp_retransmit_skb's early "goto out": skb still in the host queue, window closed, trim or
	 * fragment failure, route failure). Everything past that point, including a failed transmit
	 * (e.g. -EPERM from a netfilter drop on output), was added to TcpRetransSegs. */
	int sent = !(err == -EBUSY || err == -EAGAIN || err == -EINVAL || err == -ENOMEM || err == -EHOSTUNREACH);
	if (!sent)
		bump(RC_NOT_SENT, 1);

	/* tcp_skb_pcount(skb): a GSO skb counts every MSS-sized segment it carries. */
	__u16 pcount = 0;
	const void *cb = (const void *)skb + bpf_core_field_offset(struct sk_buff, cb);
	bpf_probe_read_kernel(&pcount, sizeof(pcount), cb + bpf_core_field_offset(struct tcp_skb_cb, tcp_gso_segs));
	__u32 segs = sent ? (pcount ? pcount : 1) : 0;

	/* What the kernel added for this socket since our last look: this retransmit's segments, plus any it
	 * made where no program could run. */
	__u32 delta = reconcile(sk, &key, 0);
	e.segs = delta;
	e.unseen = delta > segs ? delta - segs : 0;
	count_and_emit(&e, &key, sk);
	return 0;
}

SEC("raw_tp/tcp_retransmit_synack")
int BPF_PROG(on_retransmit_synack, const struct sock *sk, const struct request_sock *req)
{
	struct ss_retrans_event e = {};
	fill_flow(&e, &req->__req_common);
	int side = match(sk, e.sport, e.dport);
	if (side < 0)
		return 0;

	/* tcp_rtx_synack adds exactly one to TcpRetransSegs, and fires this only when the send worked. */
	e.event_type = EVENT_RETRANSMIT;
	e.segs = 1;
	e.ts_ns = bpf_ktime_get_ns();
	e.side = side;
	e.kind = RETRANS_KIND_SYNACK;
	e.state = -1;
	struct ss_flow_key key = {};
	flow_key(&key, &e);
	/* The child socket inherits this count in total_retrans; reconcile() starts it from here. */
	__u32 zero = 0;
	__u32 *n = bpf_map_lookup_elem(&synacks, &key);
	if (!n) {
		/* Listeners are lockless: another CPU may create the entry first; then add to that one. */
		bpf_map_update_elem(&synacks, &key, &zero, BPF_NOEXIST);
		n = bpf_map_lookup_elem(&synacks, &key);
	}
	if (n)
		__sync_fetch_and_add(n, 1);
	bump(RC_SYNACK, 1);
	count_and_emit(&e, &key, sk);
	return 0;
}

/* Every state change of one of our TCP sockets is a look at its total_retrans: what the retransmit
 * programs missed since (see reconcile()) is counted here at the latest when the socket closes. */
SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(on_set_state, const struct sock *sk, int oldstate, int newstate)
{
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	/* Entering SYN_RECV is the child being cloned from the listener: total_retrans is set only after. */
	if (newstate == TCP_SYN_RECV)
		return 0;
	struct ss_retrans_event e = {};
	fill_flow(&e, &sk->__sk_common);
	if (e.family != 2 /* AF_INET */ && e.family != 10 /* AF_INET6 */)
		return 0;
	int side = match(sk, e.sport, e.dport);
	if (side < 0 && e.sport == 0) {
		/* A server socket that gave its port back on its way to TIME_WAIT: ours if we hold its entry. */
		__u64 id = (__u64)sk;
		struct sock_seen *seen = bpf_map_lookup_elem(&socks, &id);
		if (seen && seen->dport == e.dport)
			side = seen->side;
	}
	if (side < 0)
		return 0;
	e.side = side;
	struct ss_flow_key key = {};
	flow_key(&key, &e);
	__u32 delta = reconcile(sk, &key, newstate == TCP_CLOSE);
	if (!delta)
		return 0;
	e.sport = key.sport;

	e.event_type = EVENT_RETRANSMIT;
	e.ts_ns = bpf_ktime_get_ns();
	e.kind = RETRANS_KIND_UNSEEN;
	e.state = oldstate;
	e.segs = delta;
	e.unseen = delta;
	read_cc(&e, sk);
	count_and_emit(&e, &key, sk);
	return 0;
}

SEC("raw_tp/tcp_probe")
int BPF_PROG(on_tcp_probe, const struct sock *sk, const struct sk_buff *skb)
{
	if (!track_probes)
		return 0;
	/* Only the server's own sockets: the local port is ours. */
	if (n_ports != 0 && !our_port(BPF_CORE_READ(sk, __sk_common.skc_num)))
		return 0;
	if (netns_inum != 0 && BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) != netns_inum)
		return 0;

	__u32 srtt = BPF_CORE_READ((const struct tcp_sock *)sk, srtt_us) >> 3;
	__u32 slot = log2_u64(srtt);
	if (slot >= SRTT_SLOTS)
		slot = SRTT_SLOTS - 1;
	__u32 zero = 0;
	struct ss_srtt_stats *st = bpf_map_lookup_elem(&srtt_hist, &zero);
	if (st) {
		st->slots[slot] += 1;
		st->samples += 1;
		st->sum_us += srtt;
	}
	return 0;
}
