namespace StreamServer.Transcode.Thumbnails;

/// <summary>Chroma layout of the planes handed to the encoder and of the JPEG written.</summary>
public enum ChromaSubsampling
{
    Yuv444 = 0,
    Yuv422 = 1,
    Yuv420 = 2,

    /// <summary>Only the luma plane is read; the JPEG is single-component.</summary>
    Gray = 3,
}
