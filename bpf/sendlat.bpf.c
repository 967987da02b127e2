// SPDX-License-Identifier: GPL-2.0
/* Send-path latency of the server process: syscalls:sys_{enter,exit}_{writev,sendmsg,sendto,sendfile64,write}.
 * In-kernel log2 histograms per syscall (like bcc funclatency); a stall event through the ring buffer
 * for calls at or above the threshold. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "sendlat.h"

char LICENSE[] SEC("license") = "GPL";

/* Puts the event layout into the object's BTF, where the loader's ABI test reads its size. */
struct ss_send_stall_event abi_send_stall_event __attribute__((unused));

const volatile __u32 target_tgid = 0;          /* 0 = every process */
const volatile __u64 stall_threshold_ns = 0;   /* 0 = every call is an event (burst benchmark) */
const volatile __u8 socket_writes = 1;         /* trace write(2) when the fd is a socket */

struct start {
	__u64 ts_ns;
	__u64 requested;
	__s32 fd;
	__u32 syscall;
};

/* One slot per thread, reused in place: enter writes it, exit clears ts_ns. A lookup plus stores costs
 * about half of an update + delete pair per call; LRU evicts the slots of threads that are gone. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* thread id */
	__type(value, struct start);
} inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SC_COUNT * SEND_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SC_COUNT);
	__type(key, __u32);
	__type(value, struct ss_send_stats);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
} events SEC(".maps");

static __always_inline int ours(__u64 id)
{
	return target_tgid == 0 || (id >> 32) == target_tgid;
}

static __always_inline __u64 iov_bytes(const struct iovec *iov, __u64 n)
{
	__u64 total = 0;
	for (int i = 0; i < SEND_MAX_IOV; i++) {
		if (i >= n)
			break;
		struct iovec v = {};
		if (bpf_probe_read_user(&v, sizeof(v), &iov[i]))
			break;
		total += v.iov_len;
	}
	return total;
}

static __always_inline int fd_is_socket(__s32 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd < 0 || (__u32)fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = 0;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	if (!f)
		return 0;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	return (mode & 00170000) == 0140000; /* S_IFSOCK */
}

static __always_inline int enter(__u32 syscall, __s32 fd, __u64 requested)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!ours(id))
		return 0;
	__u32 tid = (__u32)id;
	struct start *slot = bpf_map_lookup_elem(&inflight, &tid);
	if (slot) {
		slot->requested = requested;
		slot->fd = fd;
		slot->syscall = syscall;
		slot->ts_ns = bpf_ktime_get_ns();
		return 0;
	}
	struct start s = { .ts_ns = bpf_ktime_get_ns(), .requested = requested, .fd = fd, .syscall = syscall };
	bpf_map_update_elem(&inflight, &tid, &s, BPF_ANY);
	return 0;
}

static __always_inline int leave(__u32 syscall, __s64 ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!ours(id))
		return 0;
	__u32 tid = (__u32)id;
	struct start *s = bpf_map_lookup_elem(&inflight, &tid);
	if (!s || s->ts_ns == 0)
		return 0; /* entered before we attached, or a write(2) that was not to a socket */
	if (s->syscall != syscall) {
		s->ts_ns = 0;
		return 0;
	}
	__u64 now = bpf_ktime_get_ns();
	__u64 duration = now - s->ts_ns;
	__u64 requested = s->requested;
	__s32 fd = s->fd;
	s->ts_ns = 0;

	__u32 slot = log2_u64(duration);
	if (slot >= SEND_SLOTS)
		slot = SEND_SLOTS - 1;
	__u32 idx = syscall * SEND_SLOTS + slot;
	__u64 *h = bpf_map_lookup_elem(&hist, &idx);
	if (h)
		*h += 1;

	struct ss_send_stats *st = bpf_map_lookup_elem(&stats, &syscall);
	if (!st)
		return 0;
	st->calls += 1;
	st->sum_ns += duration;
	if (ret >= 0)
		st->bytes += ret;
	else
		st->errors += 1;
	if (ret == -11) /* EAGAIN */
		st->would_block += 1;
	if (duration < stall_threshold_ns)
		return 0;
	st->stalls += 1;

	struct ss_send_stall_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		st->dropped += 1;
		return 0;
	}
	e->event_type = EVENT_SEND_STALL;
	e->syscall = syscall;
	e->ts_ns = now;
	e->duration_ns = duration;
	e->ret = ret;
	e->requested = requested;
	e->tgid = id >> 32;
	e->tid = tid;
	e->fd = fd;
	e->pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_writev")
int on_enter_writev(struct trace_event_raw_sys_enter *ctx)
{
	if (!ours(bpf_get_current_pid_tgid()))
		return 0;
	return enter(SC_WRITEV, ctx->args[0], iov_bytes((const struct iovec *)ctx->args[1], ctx->args[2]));
}

SEC("tracepoint/syscalls/sys_exit_writev")
int on_exit_writev(struct trace_event_raw_sys_exit *ctx) { return leave(SC_WRITEV, ctx->ret); }

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int on_enter_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	if (!ours(bpf_get_current_pid_tgid()))
		return 0;
	struct user_msghdr msg = {};
	__u64 requested = 0;
	if (!bpf_probe_read_user(&msg, sizeof(msg), (void *)ctx->args[1]))
		requested = iov_bytes((const struct iovec *)msg.msg_iov, msg.msg_iovlen);
	return enter(SC_SENDMSG, ctx->args[0], requested);
}

SEC("tracepoint/syscalls/sys_exit_sendmsg")
int on_exit_sendmsg(struct trace_event_raw_sys_exit *ctx) { return leave(SC_SENDMSG, ctx->ret); }

SEC("tracepoint/syscalls/sys_enter_sendto")
int on_enter_sendto(struct trace_event_raw_sys_enter *ctx) { return enter(SC_SENDTO, ctx->args[0], ctx->args[2]); }

SEC("tracepoint/syscalls/sys_exit_sendto")
int on_exit_sendto(struct trace_event_raw_sys_exit *ctx) { return leave(SC_SENDTO, ctx->ret); }

SEC("tracepoint/syscalls/sys_enter_sendfile64")
int on_enter_sendfile64(struct trace_event_raw_sys_enter *ctx) { return enter(SC_SENDFILE, ctx->args[0], ctx->args[3]); }

SEC("tracepoint/syscalls/sys_exit_sendfile64")
int on_exit_sendfile64(struct trace_event_raw_sys_exit *ctx) { return leave(SC_SENDFILE, ctx->ret); }

SEC("tracepoint/syscalls/sys_enter_write")
int on_enter_write(struct trace_event_raw_sys_enter *ctx)
{
	if (!socket_writes || !ours(bpf_get_current_pid_tgid()))
		return 0;
	__s32 fd = ctx->args[0];
	if (!fd_is_socket(fd))
		return 0;
	return enter(SC_WRITE, fd, ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_write")
int on_exit_write(struct trace_event_raw_sys_exit *ctx)
{
	if (!socket_writes)
		return 0;
	return leave(SC_WRITE, ctx->ret);
}
