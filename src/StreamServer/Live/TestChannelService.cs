using StreamServer.Transcode.Live;

namespace StreamServer.Live;

/// <summary>
/// Runs the built-in channel "test" (Live:TestChannel): <see cref="LiveTestPattern"/> on one dedicated thread, packaged
/// like any publish. The channel is held as "publishing" while it runs, so no RTMP publisher can take its name; a
/// failure is logged, kept as the channel's last error, and the stream restarts 5 s later.
/// </summary>
internal sealed class TestChannelService(LiveOptions options, LiveChannelRegistry channels, LivePackaging packaging,
    ILogger<TestChannelService> log) : BackgroundService
{
    public const string ChannelName = "test";

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.TestChannel)
        {
            return Task.CompletedTask;
        }

        var channel = channels.AddBuiltIn(ChannelName, "test");
        if (channel is null)
        {
            log.LogWarning("Live:TestChannel is on but a configured channel is named '{Channel}': the test channel does not start", ChannelName);
            return Task.CompletedTask;
        }

        return Task.Factory.StartNew(() => Run(channel, stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private void Run(LiveChannel channel, CancellationToken stop)
    {
        var pattern = new LiveTestPattern(new LiveTestPatternSettings());
        while (!stop.IsCancellationRequested)
        {
            if (!channel.TryStartPublishing())
            {
                return;
            }

            string? error = null;
            try
            {
                log.LogInformation("Test channel live at /live/{Channel}/master.m3u8", ChannelName);
                pattern.Run(info => packaging.Open(channel, info), stop);
            }
            catch (Exception ex) when (ex is Transcode.TranscodeException or IOException)
            {
                error = ex.Message;
                log.LogError("Test channel failed: {Reason}; restarting in 5 s", ex.Message);
            }
            finally
            {
                channel.StopPublishing(error);
            }

            stop.WaitHandle.WaitOne(TimeSpan.FromSeconds(5));
        }
    }
}
