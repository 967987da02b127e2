using StreamServer.BufferPool;
using StreamServer.Hosting;
using StreamServer.Transcode;
using StreamServer.Transcode.Media;
using StreamServer.Transcode.Packaging;
using StreamServer.Transcode.Thumbnails;

namespace StreamServer.Admin;

/// <summary>
/// The in-process FFmpeg packager with the configured ladder, preset and segment length; whatever is not
/// configured keeps PackagingOptions' defaults (the one place they are defined).
/// </summary>
internal sealed class FfmpegVodPackager(StreamServerOptions options, MemfdBufferPool pool, IFrameMemory frameMemory) : IVodPackager
{
    private readonly PackagingOptions _configured = BufferPoolSetup.ForPackaging(Configured(options.Packaging), pool, frameMemory);

    public async Task PackageAsync(string source, string outDir, IProgress<PackagingProgress> progress, CancellationToken ct)
    {
        using var images = new VodImageSink(options.Thumbnails.ToVodImageOptions()); // poster, sprites, VTT in the same decode pass
        await Packager.PackageAsync(source, outDir, _configured with { FrameSinks = [images] }, progress, ct);
    }

    private static PackagingOptions Configured(PackagingDefaults configured)
    {
        var defaults = new PackagingOptions();
        return defaults with
        {
            Ladder = configured.Ladder.Length > 0 ? configured.Ladder : defaults.Ladder,
            Preset = configured.Preset ?? defaults.Preset,
            SegmentSeconds = configured.SegmentSeconds ?? defaults.SegmentSeconds,
        };
    }
}
