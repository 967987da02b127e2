// SPDX-License-Identifier: GPL-2.0
/* sk_buff allocations (kmem:kmem_cache_alloc) from the skb caches, machine-wide and attributed to the
 * server process. Counts only; no events (allocations happen at packet rate). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "skballoc.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u64 range_start[SKB_MAX_RANGES] = {};
const volatile __u64 range_end[SKB_MAX_RANGES] = {};
const volatile __u32 n_ranges = 0;
/* Smallest start and largest end of the ranges: the skb allocators all live in net/core/skbuff.c, so one
 * compare turns away nearly every other allocation on the machine before the range loop. */
const volatile __u64 span_start = 0;
const volatile __u64 span_end = 0;
/* Object sizes (kmem_cache.size, what kmem tracepoints report as bytes_alloc) of the caches, from /sys/kernel/slab/<cache>/slab_size. */
const volatile __u64 head_size = 0;
const volatile __u64 fclone_size = 0;
const volatile __u64 small_head_size = 0;
const volatile __u32 target_tgid = 0;
const volatile __u32 target_tid = 0; /* narrows the process scope to one thread (tests, `trace --burst`) */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SKB_SCOPES * SKB_CACHES);
	__type(key, __u32);
	__type(value, struct ss_skb_counts);
} skb_counts SEC(".maps");

static __always_inline int in_skb_code(__u64 site)
{
	for (int i = 0; i < SKB_MAX_RANGES; i++) {
		if (i >= n_ranges)
			break;
		if (site >= range_start[i] && site < range_end[i])
			return 1;
	}
	return 0;
}

/* Without kallsyms (kptr_restrict), fall back to the cache name: right for unmerged caches. */
static __always_inline int name_is_skbuff(const struct kmem_cache *cache)
{
	char name[8] = {};
	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(cache, name));
	return name[0] == 's' && name[1] == 'k' && name[2] == 'b' && name[3] == 'u' && name[4] == 'f' &&
	       name[5] == 'f' && name[6] == '_';
}

static __always_inline void add(__u32 idx, __u64 bytes)
{
	struct ss_skb_counts *c = bpf_map_lookup_elem(&skb_counts, &idx);
	if (c) {
		c->allocs += 1;
		c->bytes += bytes;
	}
}

/* A raw tracepoint (see retrans.bpf.c): a classic one is skipped while any other BPF program runs on the
 * CPU, and allocations from softirqs interrupting the send tracer would go uncounted. */
SEC("raw_tp/kmem_cache_alloc")
int BPF_PROG(on_kmem_cache_alloc, unsigned long call_site, const void *ptr, struct kmem_cache *cachep)
{
	if (n_ranges > 0) {
		if (call_site < span_start || call_site >= span_end || !in_skb_code(call_site))
			return 0;
	} else if (!name_is_skbuff(cachep)) {
		return 0;
	}

	__u64 size = BPF_CORE_READ(cachep, size);
	__u32 cache = SKB_CACHE_OTHER;
	if (size == small_head_size)
		cache = SKB_CACHE_SMALL_HEAD;
	else if (size == fclone_size)
		cache = SKB_CACHE_FCLONE;
	else if (size == head_size)
		cache = SKB_CACHE_HEAD;

	add(SKB_SCOPE_ALL * SKB_CACHES + cache, size);
	__u64 id = bpf_get_current_pid_tgid();
	if (target_tgid != 0 && (id >> 32) == target_tgid && (target_tid == 0 || (__u32)id == target_tid))
		add(SKB_SCOPE_TARGET * SKB_CACHES + cache, size);
	return 0;
}
