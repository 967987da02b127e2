namespace StreamServer.Transcode.Thumbnails;

/// <summary>Quantization tables the encoder scales by quality (ssjpeg.h, enum ss_jpeg_tables).</summary>
public enum JpegTables
{
    /// <summary>ITU-T T.81 Annex K, scaled like libjpeg's jpeg_set_quality: what TurboJPEG and cjpeg write by default.</summary>
    AnnexK = 0,

    /// <summary>
    /// Tuned for SSIM at equal size (bench/thumbs.sh): the MPEG-1 intra matrix for luma and chroma, a DC step that
    /// grows more slowly than the AC steps, scaled so a quality number gives about the SSIM Annex K gives at it.
    /// </summary>
    Ssim = 1,
}
