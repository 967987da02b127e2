using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace StreamServer.Tests.Infrastructure;

/// <summary>
/// strace attached to a running server (-f -p): started, waited on until it reports every thread seized, stopped with
/// SIGINT so it writes its log or -c summary completely.
/// </summary>
internal sealed class StraceAttachment : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();

    private StraceAttachment(Process process) => _process = process;

    public string Errors
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>Attaches to every thread of <paramref name="pid"/>; null when strace cannot attach here (the reason in <paramref name="failure"/>).</summary>
    public static async Task<(StraceAttachment? Strace, string? Failure)> AttachAsync(int pid, params string[] options)
    {
        var psi = new ProcessStartInfo("strace") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in options.Concat(["-f", "-p", pid.ToString(CultureInfo.InvariantCulture)]))
        {
            psi.ArgumentList.Add(a);
        }

        var strace = new StraceAttachment(Process.Start(psi) ?? throw new InvalidOperationException("cannot start strace"));
        var attached = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        strace._process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                attached.TrySetResult(false);
                return;
            }

            lock (strace._stderr)
            {
                strace._stderr.AppendLine(e.Data);
            }

            // "strace: Process 123 attached with 25 threads" is printed once every thread is seized.
            if (e.Data.Contains("attached", StringComparison.Ordinal))
            {
                attached.TrySetResult(true);
            }
        };
        strace._process.BeginErrorReadLine();
        if (!await attached.Task.WaitAsync(TimeSpan.FromSeconds(30)))
        {
            await strace._process.WaitForExitAsync();
            var failure = strace.Errors;
            strace.Dispose();
            return (null, failure);
        }

        return (strace, null);
    }

    /// <summary>Detaches (SIGINT: strace finishes its output) and waits for it to exit.</summary>
    public async Task StopAsync()
    {
        if (!_process.HasExited)
        {
            (await TestSupport.ProcessRunner.RunAsync("kill", ["-INT", _process.Id.ToString(CultureInfo.InvariantCulture)])).EnsureSuccess("kill -INT strace");
        }

        await _process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        _process.Dispose();
    }
}
