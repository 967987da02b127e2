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

    // generation << 32 | block index. One 8-byte field next to the reference, so the JIT keeps a lease in two
    // registers (and returns one from an out-of-line call in two) instead of spilling it to the stack.
    private readonly long _token;

    internal BufferLease(MemfdBufferPool pool, long token)
    {
        _pool = pool;
        _token = token;
    }

    /// <summary>False for <c>default</c> (e.g. after a failed TryRent).</summary>
    public bool IsAllocated => _pool is not null;

    public MemfdBufferPool Pool => _pool ?? throw NotAllocated();

    /// <summary>Bytes requested at rent; Span/Memory/FileRegion have exactly this length.</summary>
    public int Length => Pool.LengthOf(Block, Generation);

    /// <summary>Size of the underlying block (at least <see cref="Length"/>); the tail is usable padding.</summary>
    public int BlockSize => Pool.BlockSizeOf(Block, Generation);

    public Span<byte> Span => Pool.SpanOf(Block, Generation);

    public Memory<byte> Memory => Pool.MemoryOf(Block, Generation);

    /// <summary>Offset of the block in <see cref="FileHandle"/> (page-aligned), for sendfile/pread.</summary>
    public long FileOffset => Pool.OffsetOf(Block, Generation);

    /// <summary>The pool's memfd. Shared by all leases; do not dispose.</summary>
    public SafeFileHandle FileHandle => Pool.FileHandle;

    /// <summary>Start address of the block (64-byte and page aligned) for native code such as FFmpeg.
    /// Valid only while this lease holds a reference.</summary>
    public nint DangerousGetPointer() => Pool.PointerOf(Block, Generation);

    /// <summary>Adds a reference for another holder; returns the lease that holder releases.</summary>
    public BufferLease AddRef()
    {
        Pool.AddRef(Block, Generation);
        return this;
    }

    /// <summary>Drops this holder's reference; the last one returns the block to the pool.</summary>
    public void Release() => Pool.Release(_token);

    /// <summary>Same as <see cref="Release"/>, for <c>using</c>.</summary>
    public void Dispose() => Release();

    /// <summary>References currently held on the block (diagnostics and tests).</summary>
    public int ReferenceCount => Pool.RefCountOf(Block, Generation);

    public bool Equals(BufferLease other) => ReferenceEquals(_pool, other._pool) && _token == other._token;

    public override bool Equals(object? obj) => obj is BufferLease other && Equals(other);

    public override int GetHashCode() => _token.GetHashCode();

    public static bool operator ==(BufferLease left, BufferLease right) => left.Equals(right);

    public static bool operator !=(BufferLease left, BufferLease right) => !left.Equals(right);

    internal int Block => (int)_token;

    internal int Generation => (int)(_token >> 32);

    private static InvalidOperationException NotAllocated() => new("the lease is empty (default or failed rent)");
}
