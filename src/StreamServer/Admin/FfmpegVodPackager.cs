using StreamServer.Transcode;
using StreamServer.Transcode.Media;
using StreamServer.Transcode.Packaging;
using StreamServer.Transcode.Thumbnails;

namespace StreamServer.Admin;

/// <summary>
/// The in-process FFmpeg packager with the configured ladder, preset and segment length; whatever is not
/// configured keeps PackagingOptions' defaults (the one place they are defined).
/// </summary>
internal sealed class FfmpegVodPackager(PackagingOptions configured, Thumbnails.ThumbnailOptions thumbnails) : IVodPackager
{
    public async Task PackageAsync(string source, string outDir, IProgress<PackagingProgress> progress, CancellationToken ct)
    {
        using var images = new VodImageSink(thumbnails.ToVodImageOptions()); // poster, sprites, VTT in the same decode pass
        await Packager.PackageAsync(source, outDir, configured with { FrameSinks = [images] }, progress, ct);
    }
}
