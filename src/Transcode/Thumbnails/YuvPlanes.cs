namespace StreamServer.Transcode.Thumbnails;

/// <summary>
/// A borrowed planar YUV picture (e.g. an AVFrame's data[0..2]/linesize[0..2], or pinned managed planes).
/// The caller keeps the memory alive and unmoved while the struct is in use; nothing is copied.
/// </summary>
public readonly unsafe struct YuvPlanes
{
    public YuvPlanes(byte* y, int yStride, byte* u, int uStride, byte* v, int vStride, int width, int height,
        ChromaSubsampling subsampling)
    {
        Y = y;
        U = u;
        V = v;
        YStride = yStride;
        UStride = uStride;
        VStride = vStride;
        Width = width;
        Height = height;
        Subsampling = subsampling;
    }

    public byte* Y { get; }

    public byte* U { get; }

    public byte* V { get; }

    public int YStride { get; }

    public int UStride { get; }

    public int VStride { get; }

    public int Width { get; }

    public int Height { get; }

    public ChromaSubsampling Subsampling { get; }

    /// <summary>Luma plane as a span of rows (stride * height bytes, last row trimmed to width).</summary>
    public ReadOnlySpan<byte> LumaRow(int row) => new(Y + ((long)row * YStride), Width);
}
