using System.Runtime.InteropServices;
using StreamServer.BufferPool;

namespace StreamServer.Transcode.Media;

/// <summary>
/// <see cref="IFrameMemory"/> over the server's <see cref="MemfdBufferPool"/>: decoded frames (get_buffer2)
/// and scaled renditions (swscale output) are carved from pool blocks, and av_buffer_create's free callback
/// returns the lease when FFmpeg drops the last reference to the frame. Blocks are page aligned, so any
/// FFmpeg alignment (64 on AVX-512 builds) is met; the shim sizes the block from avcodec_align_dimensions2
/// and the aligned linesizes.
/// When the pool is exhausted a rent waits up to <see cref="RentTimeout"/> for the encoders to release
/// frames (back-pressure), then fails with ENOMEM in FFmpeg rather than growing memory or hanging.
/// Frames larger than the pool's largest class (4K and up with the default classes) fall back to aligned
/// native allocations so such sources still package; <see cref="UnpooledRents"/> counts them.
/// Create one instance per pool and keep it: the native allocator bridge lives as long as the process.
/// </summary>
public sealed unsafe class PooledFrameMemory : IFrameMemory
{
    public PooledFrameMemory(MemfdBufferPool pool, TimeSpan? rentTimeout = null)
    {
        Pool = pool;
        RentTimeout = rentTimeout ?? TimeSpan.FromSeconds(5);
    }

    public MemfdBufferPool Pool { get; }

    public TimeSpan RentTimeout { get; }

    public long UnpooledRents => Interlocked.Read(ref _unpooledRents);

    public long FailedRents => Interlocked.Read(ref _failedRents);

    private long _unpooledRents;
    private long _failedRents;

    public nint Rent(nuint size, nuint alignment)
    {
        if (size == 0 || alignment > FrameSizes.PageSize || !nuint.IsPow2(alignment))
        {
            return 0;
        }

        if (size > (nuint)Pool.LargestBlockSize)
        {
            Interlocked.Increment(ref _unpooledRents);
            return (nint)NativeMemory.AlignedAlloc(size, alignment);
        }

        try
        {
            return Pool.Rent((int)size, RentTimeout).DangerousGetPointer();
        }
        catch (BufferPoolExhaustedException)
        {
            Interlocked.Increment(ref _failedRents);
            return 0; // FFmpeg fails the frame (ENOMEM, or its caller's own code); the packager reports it.
        }
    }

    public void Release(nint block)
    {
        if (Pool.TryGetLeaseAt(block, out var lease))
        {
            lease.Release();
        }
        else
        {
            NativeMemory.AlignedFree((void*)block);
        }
    }
}
