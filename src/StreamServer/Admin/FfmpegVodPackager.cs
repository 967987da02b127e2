using StreamServer.Hosting;
using StreamServer.Transcode;
using StreamServer.Transcode.Packaging;

namespace StreamServer.Admin;

/// <summary>The in-process FFmpeg packager with the configured ladder, preset and segment length.</summary>
internal sealed class FfmpegVodPackager(StreamServerOptions options) : IVodPackager
{
    public Task PackageAsync(string source, string outDir, IProgress<PackagingProgress> progress, CancellationToken ct)
    {
        var packaging = new PackagingOptions
        {
            Ladder = options.Packaging.Ladder,
            Preset = options.Packaging.Preset,
            SegmentSeconds = options.Packaging.SegmentSeconds,
        };
        return Packager.PackageAsync(source, outDir, packaging, progress, ct);
    }
}
