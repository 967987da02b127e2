namespace StreamServer.Transcode.Thumbnails;

/// <summary>How a frame is written as JPEG.</summary>
/// <param name="Quality">1 (smallest) .. 100 (best), libjpeg's quality scale.</param>
/// <param name="Progressive">Progressive scans; libjpeg always builds optimized Huffman tables for them.</param>
/// <param name="OptimizeHuffman">
/// Two-pass optimized Huffman tables for baseline JPEGs (a few percent smaller, a little slower). TurboJPEG 2.1
/// has no per-call flag for it: it reads the TJ_OPTIMIZE environment variable on every compression, so turning
/// it on is process-wide (see <see cref="JpegEncoder.EnableOptimizedHuffman"/>).
/// </param>
/// <param name="AccurateDct">Integer "slow" DCT instead of the fast one (TurboJPEG's default is accurate for q &gt;= 90).</param>
public readonly record struct JpegOptions(int Quality = 80, bool Progressive = false, bool OptimizeHuffman = true, bool AccurateDct = false)
{
    public static JpegOptions Default => new(80);

    public JpegOptions WithQuality(int quality) => this with { Quality = quality };
}
