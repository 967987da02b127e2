using System.Runtime.InteropServices;

namespace StreamServer.Vod;

/// <summary>
/// A small file's bytes in native memory, freed when the cache has dropped the file and the last response using it is
/// done (<see cref="SafeHandle"/> reference counting). Native rather than a pinned array: filling the cache (a player
/// reaching segments nobody asked for yet, a live playlist rewritten every part) must not grow the pinned-object heap,
/// whose growth starts full collections.
/// </summary>
internal sealed unsafe class NativeBody : SafeHandle
{
    private NativeBody(int length)
        : base(0, ownsHandle: true)
    {
        SetHandle((nint)NativeMemory.Alloc((nuint)Math.Max(1, length)));
        Length = length;
    }

    public int Length { get; }

    public override bool IsInvalid => handle == 0;

    /// <summary>The bytes; valid while the caller holds a lease (see VodFile.TryAcquire).</summary>
    public Span<byte> Span => new((void*)handle, Length);

    /// <summary>The UTF-8 encoding of <paramref name="text"/> (a live playlist, which has no file), chunk by chunk.</summary>
    public static NativeBody Encode(System.Text.StringBuilder text)
    {
        var encoder = System.Text.Encoding.UTF8.GetEncoder();
        var length = 0;
        foreach (var chunk in text.GetChunks())
        {
            length += encoder.GetByteCount(chunk.Span, flush: false);
        }

        length += encoder.GetByteCount([], flush: true);
        encoder.Reset();
        var body = new NativeBody(length);
        var written = 0;
        foreach (var chunk in text.GetChunks())
        {
            written += encoder.GetBytes(chunk.Span, body.Span[written..], flush: false);
        }

        encoder.GetBytes([], body.Span[written..], flush: true);
        return body;
    }

    /// <summary>Reads <paramref name="length"/> bytes of <paramref name="file"/>; null when it has fewer (it shrank).</summary>
    public static NativeBody? Read(Microsoft.Win32.SafeHandles.SafeFileHandle file, int length)
    {
        var body = new NativeBody(length);
        var read = 0;
        while (read < length)
        {
            var n = RandomAccess.Read(file, body.Span[read..], read);
            if (n <= 0)
            {
                body.Dispose();
                return null;
            }

            read += n;
        }

        return body;
    }

    protected override bool ReleaseHandle()
    {
        NativeMemory.Free((void*)handle);
        return true;
    }
}
