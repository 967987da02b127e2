using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using StreamServer.Transcode.Interop;

namespace StreamServer.Transcode.Media;

/// <summary>
/// Native bridge for an <see cref="IFrameMemory"/>: a ss_allocator struct whose callbacks reach the
/// managed implementation. One per IFrameMemory instance for the process lifetime, because frame
/// buffers may be released after the packager that rented them is gone (the struct must outlive them).
/// No IFrameMemory (null) means no bridge: FFmpeg allocates the frames itself.
/// </summary>
internal static unsafe class FrameAllocator
{
    private static readonly ConcurrentDictionary<IFrameMemory, nint> Allocators = new(ReferenceEqualityComparer.Instance);

    public static NativeAllocator* For(IFrameMemory? memory) =>
        memory is null ? null : (NativeAllocator*)Allocators.GetOrAdd(memory, static m => Create(m));

    private static nint Create(IFrameMemory memory)
    {
        var a = (NativeAllocator*)NativeMemory.AllocZeroed((nuint)sizeof(NativeAllocator));
        a->Rent = &Rent;
        a->Release = &Release;
        a->User = (void*)GCHandle.ToIntPtr(GCHandle.Alloc(memory));
        return (nint)a;
    }

    [UnmanagedCallersOnly]
    private static void* Rent(void* user, nuint size, nuint alignment)
    {
        try
        {
            var memory = (IFrameMemory)GCHandle.FromIntPtr((nint)user).Target!;
            return (void*)memory.Rent(size, alignment);
        }
        catch
        {
            // Exceptions cannot cross into C; FFmpeg reports ENOMEM for a null block.
            return null;
        }
    }

    [UnmanagedCallersOnly]
    private static void Release(void* user, void* block)
    {
        try
        {
            var memory = (IFrameMemory)GCHandle.FromIntPtr((nint)user).Target!;
            memory.Release((nint)block);
        }
        catch
        {
            // Nothing sensible to do on a native thread; the block is lost rather than the process.
        }
    }
}
