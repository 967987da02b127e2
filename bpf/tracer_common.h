/* Shared by every tracer and by the C# loader (src/StreamServer/Tracing/TracerAbi.cs): event type tags
 * that open every ring-buffer record, and helpers for the kernel side. Keep both sides in step. */
#ifndef STREAMSERVER_TRACER_COMMON_H
#define STREAMSERVER_TRACER_COMMON_H

#define EVENT_RETRANSMIT 1
#define EVENT_SEND_STALL 2
#define EVENT_ABI_VERSION 1

#ifdef __BPF__
/* log2 slot of v (0 for v <= 1), branch-free like bcc's log2l. */
static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0, shift;
	shift = (v > 0xFFFFFFFFULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xFFFF) << 4; v >>= shift; r |= shift;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}
#endif

#endif
