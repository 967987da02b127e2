using StreamServer.Hosting;
using StreamServer.Transcode;
using StreamServer.Transcode.Media;
using StreamServer.Transcode.Packaging;
using StreamServer.Transcode.Thumbnails;

namespace StreamServer.Admin;

/// <summary>The in-process FFmpeg packager with the configured ladder, preset and segment length.</summary>
internal sealed class FfmpegVodPackager(StreamServerOptions options, IFrameMemory frameMemory) : IVodPackager
{
    public async Task PackageAsync(string source, string outDir, IProgress<PackagingProgress> progress, CancellationToken ct)
    {
        using var images = new VodImageSink(options.Thumbnails.ToVodImageOptions()); // poster, sprites, VTT in the same decode pass
        var packaging = new PackagingOptions
        {
            Ladder = options.Packaging.Ladder.Length > 0 ? options.Packaging.Ladder : new PackagingOptions().Ladder,
            Preset = options.Packaging.Preset,
            SegmentSeconds = options.Packaging.SegmentSeconds,
            FrameMemory = frameMemory,
            FrameSinks = [images],
        };
        await Packager.PackageAsync(source, outDir, packaging, progress, ct);
    }
}
