using System.Diagnostics;
using StreamServer.LoadTest.Stats;

namespace StreamServer.LoadTest.Players;

/// <summary>
/// A player's forward buffer against the wall clock. Playback starts once <see cref="PlayerOptions.StartSeconds"/> of
/// media are in; when the download falls behind playback the viewer sees a spinner (a stall is counted and playback
/// waits for the start threshold again). Realtime pace keeps at most <see cref="PlayerOptions.BufferSeconds"/> ahead;
/// max pace never waits.
/// </summary>
internal sealed class PlaybackBuffer(PlayerOptions options, SwarmMetrics metrics)
{
    private readonly Stopwatch _clock = new();
    private double _buffered; // media seconds downloaded since playback (re)started

    private double Ahead => _buffered - _clock.Elapsed.TotalSeconds;

    public async Task WaitForRoomAsync(CancellationToken ct)
    {
        if (options.Pace != Pace.Realtime || !_clock.IsRunning)
        {
            return;
        }

        var ahead = Ahead;
        if (ahead < 0)
        {
            metrics.Stall();
            _clock.Reset();
            _buffered = 0;
        }
        else if (ahead > options.BufferSeconds)
        {
            await Task.Delay(TimeSpan.FromSeconds(ahead - options.BufferSeconds), ct);
        }
    }

    public void Add(double mediaSeconds)
    {
        _buffered += mediaSeconds;
        if (!_clock.IsRunning && _buffered >= options.StartSeconds)
        {
            _clock.Start();
        }
    }

    /// <summary>After a seek: the buffer is empty and playback waits for the start threshold.</summary>
    public void Restart()
    {
        _clock.Reset();
        _buffered = 0;
    }
}
