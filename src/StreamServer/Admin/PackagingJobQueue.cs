using System.Collections.Concurrent;
using System.Threading.Channels;
using StreamServer.Hosting;
using StreamServer.Metrics;
using StreamServer.Transcode;
using StreamServer.Transcode.Packaging;

namespace StreamServer.Admin;

public enum EnqueueResult
{
    Accepted,
    InvalidId,
    AlreadyExists,
}

/// <summary>
/// Packaging jobs run <see cref="StreamServerOptions.JobConcurrency"/> at a time on worker tasks, off the
/// request path: a request only enqueues. The packager publishes atomically, so a failed or cancelled job
/// leaves nothing under /vod/.
/// </summary>
public sealed class PackagingJobQueue : BackgroundService
{
    private const int FinishedJobsKept = 256;

    private readonly Channel<VodJob> _queue = Channel.CreateUnbounded<VodJob>(new UnboundedChannelOptions { SingleReader = false });
    private readonly ConcurrentDictionary<string, VodJob> _jobs = new(StringComparer.Ordinal);
    private readonly Lock _enqueueGate = new();
    private readonly IVodPackager _packager;
    private readonly VodLibrary _library;
    private readonly StreamServerOptions _options;
    private readonly ILogger<PackagingJobQueue> _log;

    private readonly UrlSourceDownloader _downloader;
    private readonly JobJournal _journal;

    public PackagingJobQueue(IVodPackager packager, VodLibrary library, StreamServerOptions options, UrlSourceDownloader downloader, JobJournal journal,
        ILogger<PackagingJobQueue> log)
    {
        _packager = packager;
        _downloader = downloader;
        _library = library;
        _options = options;
        _journal = journal;
        _log = log;
        ServerMetrics.Meter.CreateObservableGauge("streamserver_jobs_queued", () => CountIn(VodJobState.Queued), description: "Packaging jobs waiting for a worker.");
        ServerMetrics.Meter.CreateObservableGauge("streamserver_jobs_running", () => CountIn(VodJobState.Running), description: "Packaging jobs running now.");
        RecoverFromPreviousRun();
    }

    /// <summary>
    /// Before any job of this process exists: what the previous process left unfinished. Jobs it had queued are queued
    /// again (their sources are complete files); a job it was running is reported failed, not retried (the input may be
    /// what killed it). Staging folders and every file in uploads/ that no resumed job needs (uploads cut off mid-body,
    /// completed uploads whose job was never accepted, downloads) are removed.
    /// </summary>
    private void RecoverFromPreviousRun()
    {
        StagingFolder.SweepStale(_library.Root, TimeSpan.Zero);
        var keep = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in _journal.TakeLeftovers())
        {
            var job = new VodJob(entry.Id, entry.Source, entry.DeleteSourceWhenDone, entry.SourceName);
            if (entry.State == "queued" && (job.IsUrl || File.Exists(entry.Source)) && TryEnqueue(job) == EnqueueResult.Accepted)
            {
                keep.Add(Path.GetFullPath(entry.Source));
                _log.LogInformation("job {Id}: queued again (the server stopped before it started)", job.Id);
                continue;
            }

            _jobs[job.Id] = job;
            job.TryLeaveQueue(VodJobState.Running);
            Finish(job, VodJobState.Failed, entry.State == "queued"
                ? "interrupted: the server stopped while this job was queued and its source is gone; submit it again"
                : "interrupted: the server stopped while this job was running (its partial output was removed); submit it again");
            if (job.DeleteSourceWhenDone)
            {
                TryDelete(job.Source);
            }
        }

        foreach (var file in Directory.EnumerateFiles(_library.UploadsDir))
        {
            if (!keep.Contains(file))
            {
                TryDelete(file);
            }
        }
    }

    public EnqueueResult TryEnqueue(VodJob job)
    {
        if (!VodLibrary.IsValidId(job.Id))
        {
            return EnqueueResult.InvalidId;
        }

        lock (_enqueueGate)
        {
            if (_library.IsPublished(job.Id) || (_jobs.TryGetValue(job.Id, out var existing) && !existing.IsFinished))
            {
                return EnqueueResult.AlreadyExists;
            }

            _jobs[job.Id] = job;
        }

        if (!_journal.Record(job))
        {
            _log.LogWarning("job {Id}: could not write its journal entry (disk full?); it runs, but a crash would forget it", job.Id);
        }

        _queue.Writer.TryWrite(job);
        TrimFinished();
        return EnqueueResult.Accepted;
    }

    public VodJob? Find(string id) => _jobs.TryGetValue(id, out var job) ? job : null;

    /// <summary>Drops the record of a finished job (its VOD was deleted), so the API stops listing it.</summary>
    public void Forget(string id)
    {
        if (_jobs.TryGetValue(id, out var job) && job.IsFinished)
        {
            _jobs.TryRemove(KeyValuePair.Create(id, job));
        }
    }

    public List<VodJob> Snapshot()
    {
        var list = new List<VodJob>(_jobs.Count);
        foreach (var (_, job) in _jobs)
        {
            list.Add(job);
        }

        list.Sort(static (a, b) => a.CreatedAt.CompareTo(b.CreatedAt));
        return list;
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var workers = new Task[Math.Max(1, _options.JobConcurrency)];
        for (var i = 0; i < workers.Length; i++)
        {
            workers[i] = Task.Run(() => WorkAsync(stoppingToken), stoppingToken);
        }

        return Task.WhenAll(workers);
    }

    private async Task WorkAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var job in _queue.Reader.ReadAllAsync(stoppingToken))
            {
                await RunAsync(job, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>DELETE of an unfinished job: a queued one ends cancelled at once; a running one is asked to stop.</summary>
    public void Cancel(VodJob job)
    {
        job.Cancellation.Cancel();
        if (job.TryLeaveQueue(VodJobState.Cancelled))
        {
            Finish(job, VodJobState.Cancelled, "cancelled before start");
            if (job.DeleteSourceWhenDone)
            {
                TryDelete(job.Source);
            }
        }
    }

    private async Task RunAsync(VodJob job, CancellationToken stoppingToken)
    {
        job.StartedAt = DateTimeOffset.UtcNow;
        if (!job.TryLeaveQueue(VodJobState.Running))
        {
            return; // cancelled while queued: already finished by Cancel
        }

        _journal.Record(job);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, job.Cancellation.Token);
        _log.LogInformation("job {Id}: packaging {Source}", job.Id, job.Source);
        var progress = new Progress(job);
        string? downloaded = null;
        var source = job.Source;
        try
        {
            if (job.IsUrl)
            {
                source = downloaded = await _downloader.DownloadAsync(job.Source, linked.Token);
            }

            // The packager runs its pipeline on its own dedicated threads, never on request threads.
            await _packager.PackageAsync(source, _library.PathOf(job.Id), progress, linked.Token);
            job.Progress = 100;
            Finish(job, VodJobState.Succeeded, null);
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested)
        {
            Finish(job, VodJobState.Cancelled, stoppingToken.IsCancellationRequested ? "server shutting down" : "cancelled");
        }
        catch (Exception ex)
        {
            Finish(job, VodJobState.Failed, job.NameSource(ex.Message, source));
        }
        finally
        {
            if (job.DeleteSourceWhenDone)
            {
                TryDelete(job.Source);
            }

            if (downloaded is not null)
            {
                TryDelete(downloaded);
            }
        }
    }

    private void Finish(VodJob job, VodJobState state, string? error)
    {
        _journal.Remove(job.Id);
        job.Error = error;
        job.FinishedAt = DateTimeOffset.UtcNow;
        job.State = state;
        ServerMetrics.Jobs.Add(1, new KeyValuePair<string, object?>("outcome", state switch
        {
            VodJobState.Succeeded => "succeeded",
            VodJobState.Failed => "failed",
            _ => "cancelled",
        }));
        if (state == VodJobState.Failed)
        {
            _log.LogWarning("job {Id} failed: {Error}", job.Id, error);
        }
        else
        {
            _log.LogInformation("job {Id}: {State}", job.Id, state);
        }
    }

    private int CountIn(VodJobState state)
    {
        var n = 0;
        foreach (var (_, job) in _jobs)
        {
            if (job.State == state)
            {
                n++;
            }
        }

        return n;
    }

    private void TrimFinished()
    {
        if (_jobs.Count <= FinishedJobsKept)
        {
            return;
        }

        var finished = new List<VodJob>();
        foreach (var (_, job) in _jobs)
        {
            if (job.IsFinished)
            {
                finished.Add(job);
            }
        }

        finished.Sort(static (a, b) => Nullable.Compare(a.FinishedAt, b.FinishedAt));
        for (var i = 0; i < finished.Count - FinishedJobsKept / 2; i++)
        {
            _jobs.TryRemove(new KeyValuePair<string, VodJob>(finished[i].Id, finished[i]));
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private sealed class Progress(VodJob job) : IProgress<PackagingProgress>
    {
        public void Report(PackagingProgress value)
        {
            job.Progress = Math.Round(value.Percent, 1);
            job.Fps = Math.Round(value.Fps, 1);
            job.Speed = Math.Round(value.Speed, 2);
        }
    }
}
