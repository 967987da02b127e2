using StreamServer.Transcode.Interop;

namespace StreamServer.Transcode.Media;

/// <summary>
/// swscale from one size/format to another; output frames come from <see cref="IFrameMemory"/>.
/// Not thread safe (one per consumer thread).
/// </summary>
public sealed unsafe class Scaler : IDisposable
{
    private readonly ScalerHandle context;
    private readonly NativeAllocator* allocator;

    public Scaler(int sourceWidth, int sourceHeight, int sourceFormat, int width, int height, int format,
        IFrameMemory? frameMemory, ScaleQuality quality = ScaleQuality.Bicubic, bool sourceFullRange = false,
        bool destinationFullRange = false)
    {
        SourceWidth = sourceWidth;
        SourceHeight = sourceHeight;
        SourceFormat = sourceFormat;
        Width = width;
        Height = height;
        Format = format;
        allocator = FrameAllocator.For(frameMemory); // null: av_frame_get_buffer
        var flags = SsAv.ScalerFlag(quality switch { ScaleQuality.Bilinear => 0, ScaleQuality.Bicubic => 1, ScaleQuality.Lanczos => 3, _ => 2 });
        // Range (full = JPEG 0-255, limited = video 16-235) must be known at init; thumbnails go limited -> full.
        var s = sourceFullRange || destinationFullRange
            ? SsAv.ScalerCreateRanged(sourceWidth, sourceHeight, sourceFormat, width, height, format, flags, sourceFullRange ? 1 : 0, destinationFullRange ? 1 : 0)
            : SsAv.ScalerCreate(sourceWidth, sourceHeight, sourceFormat, width, height, format, flags);
        if (s == 0)
        {
            throw new TranscodeException(
                $"sws_getContext({sourceWidth}x{sourceHeight} {PixelFormats.Name(sourceFormat)} -> {width}x{height} {PixelFormats.Name(format)}): unsupported conversion");
        }

        context = ScalerHandle.FromNative(s);
    }

    public int SourceWidth { get; }
    public int SourceHeight { get; }
    public int SourceFormat { get; }
    public int Width { get; }
    public int Height { get; }
    public int Format { get; }

    /// <summary>Scales <paramref name="source"/> into a fresh buffer owned by <paramref name="destination"/>; pts and forced-key flag carry over.</summary>
    public void Scale(FrameHandle source, FrameHandle destination)
    {
        FfmpegError.Check(SsAv.FrameAllocVideo(destination.Ptr, Width, Height, Format, allocator), $"frame alloc {Width}x{Height}");
        FfmpegError.Check(SsAv.ScalerScale(context.DangerousGetHandle(), source.Ptr, destination.Ptr), $"sws_scale({Width}x{Height})");
    }

    /// <summary>
    /// Scales <paramref name="source"/> straight into caller-owned planes of a 3-plane output format (e.g. a tile
    /// region of a sprite sheet: pointers at the tile's corner, the sheet's strides), so no intermediate frame exists
    /// and nothing is copied afterwards. The caller keeps <see cref="Width"/> x <see cref="Height"/> (chroma
    /// subsampled as the format says) writable at those pointers.
    /// </summary>
    public void ScaleInto(FrameHandle source, byte* y, int yStride, byte* u, int uStride, byte* v, int vStride)
    {
        if (y is null || u is null || v is null || yStride < Width || uStride <= 0 || vStride <= 0)
        {
            throw new ArgumentException($"destination planes for {Width}x{Height} missing or strides too small ({yStride}/{uStride}/{vStride})");
        }

        if (source.Width != SourceWidth || source.Height != SourceHeight || source.PixelFormat != SourceFormat)
        {
            throw new ArgumentException(
                $"frame is {source.Width}x{source.Height} {PixelFormats.Name(source.PixelFormat)}, scaler expects {SourceWidth}x{SourceHeight} {PixelFormats.Name(SourceFormat)}",
                nameof(source));
        }

        FfmpegError.Check(SsAv.ScalerScaleInto(context.DangerousGetHandle(), source.Ptr, y, yStride, u, uStride, v, vStride), $"sws_scale into ({Width}x{Height})");
    }

    public void Dispose() => context.Dispose();
}

public enum ScaleQuality
{
    FastBilinear,
    Bilinear,
    Bicubic,
    Lanczos,
}
