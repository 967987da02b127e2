namespace StreamServer.Transcode.Thumbnails;

/// <summary>
/// Watches decoded frames in presentation order and says which is the best poster candidate (the caller keeps that
/// frame, by reference, without copying pixels): with a fixed
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

    /// <summary>Cheap check before <see cref="Consider"/>, so callers skip frames without touching their pixels.</summary>
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

    /// <summary>
    /// True when the frame at <paramref name="time"/> becomes the choice, so the caller keeps it. Frames
    /// <see cref="Wants"/> turned down may be passed too (with a default score): they only move the search on.
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
