using Microsoft.Win32.SafeHandles;

namespace StreamServer.BufferPool;

/// <summary>
/// A counted reference to one pool block. Copying the struct does not add a reference: every holder that
/// must keep the memory alive (a segment being sent, a frame referenced by several scalers) calls
/// <see cref="AddRef"/> and later <see cref="Release"/> exactly once. The block returns to the pool when the
/// last reference is released. A lease remembers the block generation it was issued for, so using or
/// releasing it after the block went back (and perhaps out again) throws <see cref="BufferLeaseMisuseException"/>.
/// </summary>
public readonly struct BufferLease : IDisposable, IEquatable<BufferLease>
{
    private readonly MemfdBufferPool? _pool;
    private readonly int _block;
    private readonly int _generation;

    internal BufferLease(MemfdBufferPool pool, int block, int generation)
    {
        _pool = pool;
        _block = block;
        _generation = generation;
    }

    /// <summary>False for <c>default</c> (e.g. after a failed TryRent).</summary>
    public bool IsAllocated => _pool is not null;

    public MemfdBufferPool Pool => _pool ?? throw NotAllocated();

    /// <summary>Bytes requested at rent; Span/Memory/FileRegion have exactly this length.</summary>
    public int Length => Pool.LengthOf(_block, _generation);

    /// <summary>Size of the underlying block (at least <see cref="Length"/>); the tail is usable padding.</summary>
    public int BlockSize => Pool.BlockSizeOf(_block, _generation);

    public Span<byte> Span => Pool.SpanOf(_block, _generation);

    public Memory<byte> Memory => Pool.MemoryOf(_block, _generation);

    /// <summary>Offset of the block in <see cref="FileHandle"/> (page-aligned), for sendfile/pread.</summary>
    public long FileOffset => Pool.OffsetOf(_block, _generation);

    /// <summary>The pool's memfd. Shared by all leases; do not dispose.</summary>
    public SafeFileHandle FileHandle => Pool.FileHandle;

    /// <summary>Start address of the block (64-byte and page aligned) for native code such as FFmpeg.
    /// Valid only while this lease holds a reference.</summary>
    public nint DangerousGetPointer() => Pool.PointerOf(_block, _generation);

    /// <summary>Adds a reference for another holder; returns the lease that holder releases.</summary>
    public BufferLease AddRef()
    {
        Pool.AddRef(_block, _generation);
        return this;
    }

    /// <summary>Drops this holder's reference; the last one returns the block to the pool.</summary>
    public void Release() => Pool.Release(_block, _generation);

    /// <summary>Same as <see cref="Release"/>, for <c>using</c>.</summary>
    public void Dispose() => Release();

    /// <summary>References currently held on the block (diagnostics and tests).</summary>
    public int ReferenceCount => Pool.RefCountOf(_block, _generation);

    public bool Equals(BufferLease other) => ReferenceEquals(_pool, other._pool) && _block == other._block && _generation == other._generation;

    public override bool Equals(object? obj) => obj is BufferLease other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_block, _generation);

    public static bool operator ==(BufferLease left, BufferLease right) => left.Equals(right);

    public static bool operator !=(BufferLease left, BufferLease right) => !left.Equals(right);

    internal int Block => _block;

    internal int Generation => _generation;

    private static InvalidOperationException NotAllocated() => new("the lease is empty (default or failed rent)");
}
