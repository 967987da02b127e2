using System.Diagnostics;
using System.Diagnostics.Metrics;
using StreamServer.Transcode.Media;

namespace StreamServer.Transcode.Thumbnails;

/// <summary>
/// On-demand thumbnails: cache lookup, else (bounded concurrency) seek + decode to t with a pooled
/// <see cref="FrameGrabber"/>, scale with the aspect kept (swscale, full range), JPEG from the scaled planes,
/// cache. Opened videos are pooled per source path so a scrubbing client pays open + probe once.
/// </summary>
public sealed class ThumbnailService : IDisposable
{
    public const string MeterName = "StreamServer.Thumbnails";

    private static readonly Meter Meter = new(MeterName);
    private static readonly Counter<long> Requests = Meter.CreateCounter<long>("streamserver_thumbnail_requests_total",
        description: "On-demand thumbnails by result (hit, miss, error)");
    private static readonly Histogram<double> RenderSeconds = Meter.CreateHistogram<double>("streamserver_thumbnail_render_seconds",
        unit: "s", description: "Seek + decode + scale + encode time of cache misses");

    private readonly ThumbnailServiceOptions _options;
    private readonly SemaphoreSlim _renders;
    private const int PoolBusyBackoffMs = 500;
    private long _poolBusyUntil;
    private readonly object _poolLock = new();
    private readonly List<PooledRenderer> _idle = [];
    private readonly System.Collections.Concurrent.ConcurrentDictionary<ThumbnailKey, Lazy<Task<CachedThumbnail>>> _inflight = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _invalidatedAt = new(StringComparer.Ordinal);
    private long _renderCount;
    private bool _disposed;

    public ThumbnailService(ThumbnailServiceOptions? options = null)
    {
        _options = options ?? new ThumbnailServiceOptions();
        Cache = new ThumbnailCache(_options.CacheBytes, _options.CacheEntries);
        var n = _options.MaxConcurrentRenders > 0 ? _options.MaxConcurrentRenders : Environment.ProcessorCount;
        _renders = new SemaphoreSlim(n, n);
    }

    public ThumbnailCache Cache { get; }

    /// <summary>
    /// The JPEG for (<paramref name="vodId"/>, t, width, quality), from the cache or rendered from
    /// <paramref name="sourcePath"/>. Throws <see cref="ThumbnailRequestException"/> when t is past the end.
    /// </summary>
    public ValueTask<CachedThumbnail> GetAsync(string vodId, string sourcePath, double seconds, int width, int quality,
        CancellationToken ct = default) => GetAsync(vodId, 0, sourcePath, seconds, width, quality, ct);

    /// <param name="version">Changes when the VOD is re-packaged, so older cache entries stop matching.</param>
    public async ValueTask<CachedThumbnail> GetAsync(string vodId, long version, string sourcePath, double seconds, int width, int quality,
        CancellationToken ct = default)
    {
        var key = new ThumbnailKey(vodId, version, (long)Math.Round(seconds * 1000), width, quality);
        if (Cache.TryGet(key, out var cached))
        {
            Requests.Add(1, new KeyValuePair<string, object?>("result", "hit"));
            return cached;
        }

        // Identical misses in flight share one render (a player scrubbing, many viewers on one popular frame).
        // The shared render does not take any one caller's token: a caller that goes away stops waiting, the
        // render finishes into the cache for the others.
        var created = new Lazy<Task<CachedThumbnail>>(() => RenderAsync(key, sourcePath, width, quality), LazyThreadSafetyMode.ExecutionAndPublication);
        var shared = _inflight.GetOrAdd(key, created);
        if (ReferenceEquals(shared, created))
        {
            _ = created.Value.ContinueWith(_ => _inflight.TryRemove(KeyValuePair.Create(key, created)), CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        else
        {
            Requests.Add(1, new KeyValuePair<string, object?>("result", "coalesced"));
        }

        return await shared.Value.WaitAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Renders performed (cache misses that decoded something), for tests and /healthz.</summary>
    public long Renders => Interlocked.Read(ref _renderCount);

    private async Task<CachedThumbnail> RenderAsync(ThumbnailKey key, string sourcePath, int width, int quality)
    {
        // Off the caller's stack: the in-flight entry is visible to identical requests before the CPU work starts.
        await Task.Yield();
        await _renders.WaitAsync().ConfigureAwait(false);
        try
        {
            // Another request may have rendered it while this one waited.
            if (Cache.TryGet(key, out var cached, countMiss: false))
            {
                Requests.Add(1, new KeyValuePair<string, object?>("result", "hit"));
                return cached;
            }

            // A render just found the frame pool full: the ones queued behind it fail at once instead of each waiting
            // out the pool's rent timeout (a burst of misses on a busy server answers 503 in milliseconds, not seconds).
            if (Environment.TickCount64 < Volatile.Read(ref _poolBusyUntil))
            {
                Requests.Add(1, new KeyValuePair<string, object?>("result", "error"));
                throw new TranscodeException("thumbnail render", Interop.FfmpegError.NoMemory, "the frame pool was full a moment ago");
            }

            var started = Stopwatch.GetTimestamp();
            var renderer = Rent(sourcePath);
            var ok = false;
            try
            {
                Interlocked.Increment(ref _renderCount);
                var thumb = renderer.Render(key.TimeMs / 1000.0, width, new JpegOptions(quality, Progressive: _options.Progressive, Threads: _options.EncoderThreads),
                    _options.ScaleQuality == ScaleQualityOption.Lanczos ? ScaleQuality.Lanczos : ScaleQuality.Bicubic);
                ok = true;
                if (!_invalidatedAt.TryGetValue(key.VodId, out var invalidated) || invalidated < started)
                {
                    Cache.Set(key, thumb);
                }

                RenderSeconds.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
                Requests.Add(1, new KeyValuePair<string, object?>("result", "miss"));
                return thumb;
            }
            catch (ThumbnailRequestException)
            {
                ok = true; // the renderer is fine, the request was not
                throw;
            }
            catch (TranscodeException e) when (e.IsOutOfMemory)
            {
                Volatile.Write(ref _poolBusyUntil, Environment.TickCount64 + PoolBusyBackoffMs);
                throw;
            }
            finally
            {
                if (!ok)
                {
                    Requests.Add(1, new KeyValuePair<string, object?>("result", "error"));
                }

                Return(renderer, healthy: ok);
            }
        }
        finally
        {
            _renders.Release();
        }
    }

    /// <summary>Duration of a source in seconds (opens it through the pool, so the next render reuses it).</summary>
    public double DurationOf(string sourcePath)
    {
        var r = Rent(sourcePath);
        try
        {
            return r.Grabber.DurationSeconds;
        }
        finally
        {
            Return(r, healthy: true);
        }
    }

    /// <summary>
    /// Forgets a VOD (deleted or re-packaged): its cached thumbnails, and the opened sources under
    /// <paramref name="folder"/> (its folder; null keeps them).
    /// </summary>
    public void Invalidate(string vodId, string? folder)
    {
        _invalidatedAt[vodId] = Stopwatch.GetTimestamp(); // renders that started before this must not cache
        Cache.Invalidate(vodId);
        if (folder is null)
        {
            return;
        }

        var prefix = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)) + Path.DirectorySeparatorChar;
        lock (_poolLock)
        {
            for (var i = _idle.Count - 1; i >= 0; i--)
            {
                if (Path.GetFullPath(_idle[i].SourcePath).StartsWith(prefix, StringComparison.Ordinal))
                {
                    _idle[i].Dispose();
                    _idle.RemoveAt(i);
                }
            }
        }
    }

    /// <summary>Opened sources kept for the next render (for tests and /healthz).</summary>
    public int OpenSources
    {
        get
        {
            lock (_poolLock)
            {
                return _idle.Count;
            }
        }
    }

    private PooledRenderer Rent(string sourcePath)
    {
        var stamp = File.GetLastWriteTimeUtc(sourcePath);
        lock (_poolLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            for (var i = _idle.Count - 1; i >= 0; i--)
            {
                var r = _idle[i];
                if (r.SourcePath == sourcePath)
                {
                    _idle.RemoveAt(i);
                    if (r.Stamp == stamp)
                    {
                        return r;
                    }

                    r.Dispose(); // the file changed under us: reopen
                }
            }
        }

        return new PooledRenderer(sourcePath, stamp, _options.DecoderThreads, _options.FrameMemory, _options.SkipUnneededReferences);
    }

    private void Return(PooledRenderer renderer, bool healthy)
    {
        lock (_poolLock)
        {
            if (healthy && !_disposed)
            {
                _idle.Add(renderer);
                if (_idle.Count <= _options.MaxIdleGrabbers)
                {
                    return;
                }

                // Over budget: close the least recently returned one.
                renderer = _idle[0];
                _idle.RemoveAt(0);
            }
        }

        renderer.Dispose();
    }

    public void Dispose()
    {
        lock (_poolLock)
        {
            _disposed = true;
            foreach (var r in _idle)
            {
                r.Dispose();
            }

            _idle.Clear();
        }
    }

    /// <summary>An opened source with its scaler, output frame and JPEG encoder.</summary>
    private sealed class PooledRenderer(string sourcePath, DateTime stamp, int decoderThreads, IFrameMemory? frameMemory, bool skipUnneededReferences)
        : IDisposable
    {
        private readonly FrameHandle _scaled = new();
        private readonly JpegEncoder _encoder = new();

        public string SourcePath { get; } = sourcePath;

        public DateTime Stamp { get; } = stamp;

        public FrameGrabber Grabber { get; } = new(sourcePath, decoderThreads, frameMemory, skipUnneededReferences);

        public CachedThumbnail Render(double seconds, int width, JpegOptions jpeg, ScaleQuality scaleQuality)
        {
            var duration = Grabber.DurationSeconds;
            if (duration > 0 && seconds > duration + 0.0005)
            {
                throw new ThumbnailRequestException($"t={seconds:0.###} is past the end of the video ({duration:0.###}s)");
            }

            var failedRents = Grabber.FrameMemory.FailedRents;
            try
            {
                return ScaleAndEncode(Grabber.DecodeAt(seconds), width, jpeg, scaleQuality);
            }
            catch (TranscodeException e) when (!e.IsOutOfMemory && Grabber.FrameMemory.FailedRents != failedRents)
            {
                // The frame memory said no while this render decoded or scaled (a full buffer pool): a shortage to
                // retry after, not a broken video, whatever code FFmpeg turned the failed allocation into.
                throw new TranscodeException(e.Operation ?? "render", Interop.FfmpegError.NoMemory, $"no frame memory free (buffer pool full): {e.Message}");
            }
        }

        private unsafe CachedThumbnail ScaleAndEncode(FrameHandle frame, int width, JpegOptions jpeg, ScaleQuality scaleQuality)
        {
            // Never upscale (like the poster): the top rendition holds all the detail there is, so a wider request
            // gets the rendition's own display width (even); the response says so in its size.
            var sar = Grabber.SampleAspectRatio;
            var displayWidth = Math.Max(16, (int)Math.Round(frame.Width * (sar > 0 && double.IsFinite(sar) ? sar : 1)) & ~1);
            width = Math.Min(width, displayWidth);
            var height = SpriteLayout.ScaledHeight(width, frame.Width, frame.Height, sar);
            Grabber.Scale(frame, _scaled, width, height, scaleQuality);
            var (y, ys) = _scaled.Plane(0);
            var (u, us) = _scaled.Plane(1);
            var (v, vs) = _scaled.Plane(2);
            var planes = new YuvPlanes((byte*)y, ys, (byte*)u, us, (byte*)v, vs, width, height, ChromaSubsampling.Yuv420);
            var bytes = _encoder.EncodeToArray(planes, jpeg);
            _scaled.Unref();
            // Kept open for the next request, but holding no frame memory meanwhile (pool blocks, when the frames
            // come from the server's pool, go back for packaging to use).
            Grabber.ReleaseFrames();
            return new CachedThumbnail(bytes, width, height);
        }

        public void Dispose()
        {
            Grabber.Dispose();
            _scaled.Dispose();
            _encoder.Dispose();
        }
    }
}
