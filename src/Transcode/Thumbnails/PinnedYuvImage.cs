using StreamServer.Transcode.Media;

namespace StreamServer.Transcode.Thumbnails;

/// <summary>
/// A YUV 4:2:0 picture we own (pinned managed planes, so their addresses can go to the JPEG encoder / swscale):
/// the sprite canvas (tiles are scaled straight into its regions) and the poster candidate copy of <see cref="PosterPicker.Offer"/>.
/// </summary>
public sealed unsafe class PinnedYuvImage
{
    /// <param name="rowPadding">
    /// Spare bytes after every row (luma and chroma). swscale's SIMD output may write a few bytes past a row's
    /// width; when it scales straight into a region of this picture, the padding keeps that spill of the rightmost
    /// region off the next row's first pixels. Never encoded (the strides skip it).
    /// </param>
    public PinnedYuvImage(int width, int height, int rowPadding = 0)
    {
        if (width < 2 || height < 2 || rowPadding < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(width), $"{width}x{height}", "picture too small");
        }

        Width = width;
        Height = height;
        ChromaWidth = (width + 1) / 2;
        ChromaHeight = (height + 1) / 2;
        YStride = width + rowPadding;
        ChromaStride = ChromaWidth + rowPadding;
        Y = GC.AllocateUninitializedArray<byte>(YStride * height, pinned: true);
        U = GC.AllocateUninitializedArray<byte>(ChromaStride * ChromaHeight, pinned: true);
        V = GC.AllocateUninitializedArray<byte>(ChromaStride * ChromaHeight, pinned: true);
    }

    public int Width { get; }

    public int Height { get; }

    public int ChromaWidth { get; }

    public int ChromaHeight { get; }

    /// <summary>Bytes from one luma row to the next (width plus padding).</summary>
    public int YStride { get; }

    /// <summary>Bytes from one chroma row to the next.</summary>
    public int ChromaStride { get; }

    public byte[] Y { get; }

    public byte[] U { get; }

    public byte[] V { get; }

    /// <summary>The planes as a borrowed view (valid for this object's lifetime: the arrays are pinned).</summary>
    public YuvPlanes Planes => new(
        (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref Y[0]), YStride,
        (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref U[0]), ChromaStride,
        (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref V[0]), ChromaStride,
        Width, Height, ChromaSubsampling.Yuv420);

    /// <summary>A borrowed view of the <paramref name="width"/> x <paramref name="height"/> area at (x, y); offsets even.</summary>
    public YuvPlanes Region(int x, int y, int width, int height)
    {
        if ((x | y | width | height) < 0 || (x & 1) != 0 || (y & 1) != 0 || x + width > Width || y + height > Height)
        {
            throw new ArgumentOutOfRangeException(nameof(x), $"{width}x{height} at {x},{y} in {Width}x{Height}", "area does not fit");
        }

        var all = Planes;
        var chroma = ((y / 2) * ChromaStride) + (x / 2);
        return new YuvPlanes(all.Y + ((y * YStride) + x), YStride, all.U + chroma, ChromaStride, all.V + chroma, ChromaStride,
            width, height, ChromaSubsampling.Yuv420);
    }

    /// <summary>Full-range black (JPEG/JFIF is full range: Y 0, chroma neutral).</summary>
    public void Clear()
    {
        Y.AsSpan().Clear();
        U.AsSpan().Fill(128);
        V.AsSpan().Fill(128);
    }

    /// <summary>
    /// Copies a 4:2:0 picture into this one at (x, y); both offsets must be even. Only for pictures that exist
    /// apart from this one (tests, <see cref="PosterPicker.Offer"/> callers without a frame to keep): packaging
    /// scales decoded frames straight into a <see cref="Region"/> instead. The bytes count in
    /// streamserver_transcode_frame_copy_bytes_total.
    /// </summary>
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
            new ReadOnlySpan<byte>(src.Y + ((long)row * src.YStride), src.Width).CopyTo(Y.AsSpan(((y + row) * YStride) + x));
        }

        var cw = (src.Width + 1) / 2;
        var ch = (src.Height + 1) / 2;
        for (var row = 0; row < ch; row++)
        {
            var dst = ((y / 2) + row) * ChromaStride + (x / 2);
            new ReadOnlySpan<byte>(src.U + ((long)row * src.UStride), cw).CopyTo(U.AsSpan(dst));
            new ReadOnlySpan<byte>(src.V + ((long)row * src.VStride), cw).CopyTo(V.AsSpan(dst));
        }

        TranscodeMetrics.FrameCopyBytes.Add(((long)src.Width * src.Height) + (2L * cw * ch));
    }
}
