namespace StreamServer.BufferPool;

/// <summary>Block sizes that hold one decoded YUV 4:2:0 frame the way FFmpeg decoders lay it out.</summary>
public static class FrameSizes
{
    /// <summary>Linesize and plane alignment FFmpeg uses on x86 builds with AVX-512 (STRIDE_ALIGN); 32 elsewhere.</summary>
    public const int PlaneAlignment = 64;

    public const int PageSize = 4096;

    /// <summary>
    /// Bytes for a YUV420P frame of <paramref name="width"/> x <paramref name="height"/> with every linesize
    /// and plane start aligned to <see cref="PlaneAlignment"/>. Height is padded the way
    /// avcodec_align_dimensions2 pads H.264 (to 32 rows, plus 2 rows of edge) and each plane gets one
    /// alignment unit of slack for decoders that read past the end (AV_INPUT_BUFFER_PADDING_SIZE = 64).
    /// Rounded up to a page so every block starts page-aligned (sendfile and mmap friendly).
    /// </summary>
    public static int Yuv420(int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        long alignedHeight = Align(height, 32) + 2;
        long lumaStride = Align(Align(width, 16), PlaneAlignment);
        long chromaStride = Align((Align(width, 16) + 1) / 2, PlaneAlignment);
        long chromaRows = (alignedHeight + 1) / 2;
        long bytes = Align(lumaStride * alignedHeight, PlaneAlignment)
            + (2 * Align(chromaStride * chromaRows, PlaneAlignment))
            + (4 * PlaneAlignment);
        return checked((int)Align(bytes, PageSize));
    }

    public static long Align(long value, long alignment) => (value + alignment - 1) / alignment * alignment;
}
