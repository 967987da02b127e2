namespace StreamServer.Transcode.Thumbnails;

/// <summary>
/// A YUV 4:2:0 picture we own (pinned managed planes, so their addresses can go to TurboJPEG / swscale):
/// the sprite canvas and the poster candidate copy.
/// </summary>
public sealed unsafe class PinnedYuvImage
{
    public PinnedYuvImage(int width, int height)
    {
        if (width < 2 || height < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(width), $"{width}x{height}", "picture too small");
        }

        Width = width;
        Height = height;
        ChromaWidth = (width + 1) / 2;
        ChromaHeight = (height + 1) / 2;
        Y = GC.AllocateUninitializedArray<byte>(width * height, pinned: true);
        U = GC.AllocateUninitializedArray<byte>(ChromaWidth * ChromaHeight, pinned: true);
        V = GC.AllocateUninitializedArray<byte>(ChromaWidth * ChromaHeight, pinned: true);
    }

    public int Width { get; }

    public int Height { get; }

    public int ChromaWidth { get; }

    public int ChromaHeight { get; }

    public byte[] Y { get; }

    public byte[] U { get; }

    public byte[] V { get; }

    /// <summary>The planes as a borrowed view (valid for this object's lifetime: the arrays are pinned).</summary>
    public YuvPlanes Planes => new(
        (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref Y[0]), Width,
        (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref U[0]), ChromaWidth,
        (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref V[0]), ChromaWidth,
        Width, Height, ChromaSubsampling.Yuv420);

    /// <summary>Full-range black (JPEG/JFIF is full range: Y 0, chroma neutral).</summary>
    public void Clear()
    {
        Y.AsSpan().Clear();
        U.AsSpan().Fill(128);
        V.AsSpan().Fill(128);
    }

    /// <summary>Copies a 4:2:0 picture into this one at (x, y); both offsets must be even.</summary>
    public void Blit(in YuvPlanes src, int x, int y)
    {
        if (src.Subsampling != ChromaSubsampling.Yuv420)
        {
            throw new ArgumentException("only 4:2:0 pictures can be composed", nameof(src));
        }

        if ((x | y) < 0 || (x & 1) != 0 || (y & 1) != 0 || x + src.Width > Width || y + src.Height > Height)
        {
            throw new ArgumentOutOfRangeException(nameof(x), $"{src.Width}x{src.Height} at {x},{y} in {Width}x{Height}", "tile does not fit");
        }

        for (var row = 0; row < src.Height; row++)
        {
            new ReadOnlySpan<byte>(src.Y + ((long)row * src.YStride), src.Width).CopyTo(Y.AsSpan(((y + row) * Width) + x));
        }

        var cw = (src.Width + 1) / 2;
        var ch = (src.Height + 1) / 2;
        for (var row = 0; row < ch; row++)
        {
            var dst = ((y / 2) + row) * ChromaWidth + (x / 2);
            new ReadOnlySpan<byte>(src.U + ((long)row * src.UStride), cw).CopyTo(U.AsSpan(dst));
            new ReadOnlySpan<byte>(src.V + ((long)row * src.VStride), cw).CopyTo(V.AsSpan(dst));
        }
    }
}
