using StreamServer.Transcode.Interop;

namespace StreamServer.Transcode.Media;

/// <summary>Pixel format ids resolved by name at run time (never hard-coded enum values).</summary>
public static unsafe class PixelFormats
{
    private static readonly Lazy<int> Yuv420PLazy = new(() =>
    {
        FfmpegLibraries.EnsureCompatible();
        return SsAv.PixFmtFromName("yuv420p");
    });

    public static int Yuv420P => Yuv420PLazy.Value;

    /// <summary>An AVPixelFormat by FFmpeg's name ("rgb24", "yuvj420p", ...); throws for unknown names.</summary>
    public static int FromName(string name)
    {
        FfmpegLibraries.EnsureCompatible();
        var format = SsAv.PixFmtFromName(name);
        return format >= 0 ? format : throw new TranscodeException($"unknown pixel format '{name}'");
    }

    public static string Name(int format) => SsAv.Utf8(SsAv.PixFmtName(format)) ?? "none";

    /// <summary>Bit depth of the luma plane, chroma subsampling shifts, and whether the format is RGB.</summary>
    public static (int Depth, int ChromaShiftW, int ChromaShiftH, bool IsRgb) Describe(int format)
    {
        if (SsAv.PixFmtDescribe(format, out var info) < 0)
        {
            return (0, 0, 0, false);
        }

        return (info.Depth, info.Log2ChromaW, info.Log2ChromaH, info.IsRgb != 0);
    }
}
