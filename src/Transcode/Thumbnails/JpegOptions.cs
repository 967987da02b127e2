namespace StreamServer.Transcode.Thumbnails;

/// <summary>How a frame is written as JPEG. Huffman tables are always optimized (two passes over the coefficients).</summary>
/// <param name="Quality">1 (smallest) .. 100 (best), libjpeg's quality scale applied to <paramref name="Tables"/>.</param>
/// <param name="Progressive">Progressive scans (libjpeg's default script): a few percent smaller for large pictures, often larger for small ones.</param>
/// <param name="Tables">Quantization tables; <see cref="JpegTables.Ssim"/> unless comparing against plain libjpeg.</param>
/// <param name="Trellis">Rate-distortion optimized AC levels (a trellis over the zig-zag scan) instead of rounding to nearest.</param>
/// <param name="Threads">
/// Forward DCT + quantization (most of an encode) in this many row bands at once, for pictures from about 640x360 up;
/// the bytes are the same for any value.
/// </param>
public readonly record struct JpegOptions(int Quality = 80, bool Progressive = false, JpegTables Tables = JpegTables.Ssim, bool Trellis = true, int Threads = 1)
{
    public static JpegOptions Default => new(80);

    public JpegOptions WithQuality(int quality) => this with { Quality = quality };
}
