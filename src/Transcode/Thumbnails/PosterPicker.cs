namespace StreamServer.Transcode.Thumbnails;

/// <summary>
/// Watches decoded frames in presentation order and keeps a copy of the best poster candidate: with a fixed
/// time, the first frame at or after it; otherwise the best-scoring frame (see <see cref="FrameScore"/>) over
/// the first part of the video, one candidate per interval. The first frame is always kept as a fallback, so
/// even a 1-frame video gets a poster.
/// </summary>
public sealed class PosterPicker
{
    private readonly PosterOptions _options;
    private readonly double _searchEnd;
    private readonly double? _fixedTime;
    private double _nextCandidate;
    private PinnedYuvImage? _best;
    private bool _done;

    public PosterPicker(PosterOptions options, double durationSeconds)
    {
        _options = options;
        var duration = durationSeconds > 0 && !double.IsInfinity(durationSeconds) ? durationSeconds : double.MaxValue;
        _searchEnd = Math.Min(options.MaxSearchSeconds, Math.Max(options.CandidateIntervalSeconds, duration * options.SearchFraction));
        if (options.FixedTimeSeconds is { } fixedTime)
        {
            _fixedTime = Math.Clamp(fixedTime, 0, duration);
        }
    }

    /// <summary>Time of the kept frame, NaN when nothing was offered yet.</summary>
    public double BestTime { get; private set; } = double.NaN;

    public FrameScore BestScore { get; private set; }

    /// <summary>True once no later frame can change the choice (the caller may stop offering).</summary>
    public bool IsDone => _done;

    /// <summary>The frame copied by <see cref="Offer"/> (4:2:0, values as given), null before the first offer or when only <see cref="Consider"/> is used.</summary>
    public PinnedYuvImage? Best => _best;

    /// <summary>Cheap check before <see cref="Offer"/>, so callers skip frames without touching their pixels.</summary>
    public bool Wants(double time)
    {
        if (_done)
        {
            return false;
        }

        if (double.IsNaN(BestTime))
        {
            return true;
        }

        if (_fixedTime is { } f)
        {
            return time >= f - 1e-6;
        }

        if (time > _searchEnd)
        {
            _done = true; // frames arrive in order: nothing later can be chosen
            return false;
        }

        return time >= _nextCandidate;
    }

    /// <summary>Scores and, when it wins, copies <paramref name="frame"/> (for callers that cannot keep the frame itself).</summary>
    public void Offer(double time, in YuvPlanes frame)
    {
        if (!Wants(time))
        {
            Consider(time, default);
            return;
        }

        if (frame.Subsampling != ChromaSubsampling.Yuv420)
        {
            throw new ArgumentException("poster candidates must be 4:2:0", nameof(frame));
        }

        if (Consider(time, FrameScore.Measure(frame)))
        {
            if (_best is null || _best.Width != frame.Width || _best.Height != frame.Height)
            {
                _best = new PinnedYuvImage(frame.Width, frame.Height);
            }

            _best.Blit(frame, 0, 0);
        }
    }

    /// <summary>
    /// Score-only step: true when the frame at <paramref name="time"/> becomes the choice, so the caller keeps it
    /// (e.g. by reference, without copying pixels). Call only for times <see cref="Wants"/> accepted.
    /// </summary>
    public bool Consider(double time, FrameScore score)
    {
        if (!Wants(time))
        {
            _done |= _fixedTime is null && time > _searchEnd;
            return false;
        }

        var first = double.IsNaN(BestTime);
        if (_fixedTime is { } f)
        {
            Keep(time, score);
            _done = time >= f - 1e-6;
            return true;
        }

        _nextCandidate = time + _options.CandidateIntervalSeconds;
        if (first || score.Value > BestScore.Value)
        {
            Keep(time, score);
            return true;
        }

        return false;
    }

    private void Keep(double time, FrameScore score)
    {
        BestTime = time;
        BestScore = score;
    }
}
