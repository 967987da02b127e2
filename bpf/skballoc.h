/* sk_buff allocation tracer ABI (kernel <-> src/StreamServer/Tracing/TracerAbi.cs). */
#ifndef STREAMSERVER_SKBALLOC_H
#define STREAMSERVER_SKBALLOC_H

#include "tracer_common.h"

/* Code ranges [start, end) of the kernel functions that allocate sk_buffs from slab caches
 * (__alloc_skb, skb_clone, kmalloc_reserve, __build_skb ...), read by the loader from /proc/kallsyms. */
#define SKB_MAX_RANGES 8

/* Which skb cache an allocation came from. Slab merging renames caches in the tracepoint's "name"
 * (here skbuff_fclone_cache is merged into a 512-byte cache reported as "pool_workqueue"), so the
 * cache is recognised by call site + object size (bytes_alloc = the cache's slab_size). */
#define SKB_CACHE_HEAD 0       /* skbuff_head_cache */
#define SKB_CACHE_FCLONE 1     /* skbuff_fclone_cache (TCP transmit skbs) */
#define SKB_CACHE_SMALL_HEAD 2 /* skbuff_small_head (small linear data areas) */
#define SKB_CACHE_OTHER 3      /* an skb function allocating from some other cache */
#define SKB_CACHES 4

#define SKB_SCOPE_ALL 0    /* every process and softirq on the machine */
#define SKB_SCOPE_TARGET 1 /* while the traced process (tgid) was current */
#define SKB_SCOPES 2

/* Per-CPU array index: scope * SKB_CACHES + cache, value = ss_skb_counts. */
struct ss_skb_counts {
	__u64 allocs;
	__u64 bytes;
};

#endif
