using System.Runtime.InteropServices;

namespace StreamServer.Transcode.Thumbnails;

/// <summary>
/// Planar YUV -> JPEG with tjCompressFromYUVPlanes: the decoder's (or scaler's) planes are read in place, no RGB
/// conversion and no copy (TurboJPEG copies internally only when width/height are not multiples of the MCU size).
/// The output goes into one preallocated native buffer of tjBufSize bytes (TJFLAG_NOREALLOC), grown only
/// when a bigger picture arrives, so steady-state encoding allocates nothing. Not thread-safe: one per thread
/// or pooled (see <see cref="JpegEncoderPool"/>).
/// </summary>
public sealed unsafe class JpegEncoder : IDisposable
{
    private static readonly object ProcessSettingsLock = new();
    private static bool? s_optimizeHuffman;

    private readonly TurboJpegHandle _handle;
    private TurboJpegBuffer _buffer = new();

    public JpegEncoder()
    {
        EnsureProcessSettings();
        _handle = TurboJpegHandle.CreateCompressor();
    }

    /// <summary>
    /// Optimized Huffman tables for baseline JPEGs, process-wide (TurboJPEG 2.1 reads TJ_OPTIMIZE from the
    /// environment on every compression and has no per-call flag). Default on: files get a few percent
    /// smaller for a small CPU cost. Set before the first encoder exists (changing it later would race
    /// setenv against getenv in other threads); an operator's own TJ_OPTIMIZE wins.
    /// </summary>
    public static void EnableOptimizedHuffman(bool enable)
    {
        lock (ProcessSettingsLock)
        {
            if (s_optimizeHuffman is { } current)
            {
                if (current != enable)
                {
                    throw new InvalidOperationException("optimized Huffman is process-wide and already fixed by an existing encoder");
                }

                return;
            }

            if (TurboJpegNative.GetEnv("TJ_OPTIMIZE") == 0)
            {
                _ = TurboJpegNative.SetEnv("TJ_OPTIMIZE", enable ? "1" : "0", 0);
            }

            s_optimizeHuffman = enable;
        }
    }

    /// <summary>Whether baseline JPEGs from this process carry optimized Huffman tables.</summary>
    public static bool OptimizedHuffman
    {
        get
        {
            EnsureProcessSettings();
            var env = Marshal.PtrToStringUTF8(TurboJpegNative.GetEnv("TJ_OPTIMIZE"));
            return env == "1";
        }
    }

    /// <summary>
    /// Compresses <paramref name="planes"/>; the returned span points into this encoder's buffer and is valid
    /// until the next Encode or Dispose.
    /// </summary>
    public ReadOnlySpan<byte> Encode(in YuvPlanes planes, JpegOptions options)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        if (options.Quality is < 1 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Quality, "JPEG quality must be 1-100");
        }

        if (planes.Width < 1 || planes.Height < 1 || planes.Y == null)
        {
            throw new ArgumentException($"empty picture {planes.Width}x{planes.Height}", nameof(planes));
        }

        if (planes.Subsampling != ChromaSubsampling.Gray && (planes.U == null || planes.V == null))
        {
            throw new ArgumentException("chroma planes missing", nameof(planes));
        }

        var subsamp = (int)planes.Subsampling;
        var needed = (nuint)TurboJpegNative.BufSize(planes.Width, planes.Height, subsamp).Value;
        EnsureCapacity(needed);

        byte** src = stackalloc byte*[3];
        src[0] = planes.Y;
        src[1] = planes.U;
        src[2] = planes.V;
        int* strides = stackalloc int[3];
        strides[0] = planes.YStride;
        strides[1] = planes.UStride;
        strides[2] = planes.VStride;

        var flags = TurboJpegNative.FlagNoRealloc
            | (options.Progressive ? TurboJpegNative.FlagProgressive : 0)
            | (options.AccurateDct ? TurboJpegNative.FlagAccurateDct : 0);
        var buf = _buffer.Pointer;
        var size = new CULong(_buffer.Capacity);
        if (TurboJpegNative.CompressFromYuvPlanes(_handle, src, planes.Width, strides, planes.Height, subsamp, &buf, &size,
                options.Quality, flags) != 0)
        {
            throw new JpegException($"tjCompressFromYUVPlanes {planes.Width}x{planes.Height}: {TurboJpegNative.LastError(_handle)}");
        }

        return new ReadOnlySpan<byte>(_buffer.Pointer, checked((int)size.Value));
    }

    /// <summary>Encode and copy out (for callers that keep the bytes, e.g. the thumbnail cache).</summary>
    public byte[] EncodeToArray(in YuvPlanes planes, JpegOptions options) => Encode(planes, options).ToArray();

    private void EnsureCapacity(nuint needed)
    {
        if (needed <= _buffer.Capacity)
        {
            return;
        }

        _buffer.Dispose();
        _buffer = TurboJpegBuffer.Allocate(needed);
    }

    private static void EnsureProcessSettings()
    {
        // Monitor is re-entrant, so the nested lock in EnableOptimizedHuffman is fine.
        lock (ProcessSettingsLock)
        {
            if (s_optimizeHuffman is null)
            {
                EnableOptimizedHuffman(true);
            }
        }
    }

    public void Dispose()
    {
        _handle.Dispose();
        _buffer.Dispose();
    }
}
