using System.Globalization;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using StreamServer.Health;
using StreamServer.Hosting;
using StreamServer.Metrics;

namespace StreamServer.Tracing;

/// <summary>
/// Runs the kernel tracers inside the server: attaches once the listeners are bound (their ports are the
/// filter), feeds events to the hub, reports health, detaches on shutdown. Any failure leaves the server
/// serving with tracing "disabled" and the reason in /healthz.
/// </summary>
internal sealed class TracingService : IHostedService, ITraceEventSink, IDisposable
{
    private readonly TracingOptions _options;
    private readonly IServer _server;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger<TracingService> _logger;
    private readonly Lock _gate = new();
    private KernelTracers? _tracers;
    private string _state = "starting";
    private string? _reason;
    private int[] _ports = [];

    public TracingService(StreamServerOptions options, IServer server, IHostApplicationLifetime lifetime, HealthRegistry health,
        PrometheusExporter exporter, ILogger<TracingService> logger)
    {
        _options = options.Tracing;
        _server = server;
        _lifetime = lifetime;
        _logger = logger;
        Hub = new TraceEventHub(Math.Max(0, _options.RecentEvents));
        health.Register("tracers", Probe);
        exporter.AddCollector(new TracingMetricsCollector(this));
        if (!_options.Enabled)
        {
            Disable("disabled by configuration (StreamServer:Tracing:Enabled=false)");
        }
    }

    public TraceEventHub Hub { get; }

    public CancellationToken Stopping => _lifetime.ApplicationStopping;

    /// <summary>Current totals, or null while the tracers are not attached.</summary>
    public TracerSnapshot? Snapshot()
    {
        lock (_gate)
        {
            return _tracers?.Snapshot();
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_options.Enabled)
        {
            // Ports are known only once Kestrel has bound (port 0 = ephemeral); loading takes a few hundred ms,
            // so it runs off the startup path.
            _lifetime.ApplicationStarted.Register(() => _ = Task.Run(Attach));
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Detach();
        return Task.CompletedTask;
    }

    public void Dispose() => Detach();

    private void Attach()
    {
        try
        {
            var missing = TracingPrerequisites.Check(_options, out var objectDirectory);
            if (missing is not null)
            {
                Disable(missing);
                return;
            }

            var ports = ListeningPorts();
            var config = new TracerConfig
            {
                ObjectDirectory = objectDirectory,
                Ports = ports,
                NetnsInode = _options.OwnNetworkNamespaceOnly ? KernelSymbols.NetnsInode() : 0,
                TargetTgid = Environment.ProcessId,
                StallThresholdNs = (ulong)Math.Max(0, _options.StallThresholdMicroseconds) * 1000,
                SocketWrites = _options.SocketWrites,
                TcpProbe = _options.TcpProbe,
            };
            var tracers = KernelTracers.Start(config, this);
            lock (_gate)
            {
                if (_lifetime.ApplicationStopping.IsCancellationRequested)
                {
                    tracers.Dispose();
                    return;
                }

                _tracers = tracers;
                _ports = ports;
                _state = "attached";
                _reason = null;
            }

            _logger.LogInformation("eBPF tracers attached ({Count} programs) for ports {Ports}", tracers.AttachedPrograms.Count, string.Join(',', ports));
        }
        catch (Exception e)
        {
            Disable(e is TracerException or DllNotFoundException or EntryPointNotFoundException ? e.Message : e.ToString());
        }
    }

    private int[] ListeningPorts()
    {
        var result = new List<int>();
        var addresses = _server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        foreach (var a in addresses)
        {
            var colon = a.LastIndexOf(':');
            var slash = a.IndexOf('/', colon + 1);
            var text = slash > 0 ? a.AsSpan(colon + 1, slash - colon - 1) : a.AsSpan(colon + 1);
            if (colon > 0 && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && !result.Contains(port))
            {
                result.Add(port);
            }
        }

        return [.. result];
    }

    private void Disable(string reason)
    {
        lock (_gate)
        {
            _state = "disabled";
            _reason = reason;
        }

        _logger.LogWarning("eBPF tracers disabled: {Reason}", reason);
    }

    private void Detach()
    {
        KernelTracers? tracers;
        lock (_gate)
        {
            tracers = _tracers;
            _tracers = null;
            if (tracers is not null)
            {
                _state = "detached";
            }
        }

        if (tracers is not null)
        {
            tracers.Dispose();
            _logger.LogInformation("eBPF tracers detached");
        }
    }

    private SubsystemHealth Probe()
    {
        lock (_gate)
        {
            return _state switch
            {
                "attached" => new SubsystemHealth(HealthState.Ok, null, new TracerHealthDetails("attached", _ports, _tracers?.AttachedPrograms ?? [])),
                "disabled" => new SubsystemHealth(HealthState.Disabled, _reason, new TracerHealthDetails("disabled", [], [])),
                _ => new SubsystemHealth(HealthState.Ok, _state, new TracerHealthDetails(_state, [], [])),
            };
        }
    }

    public void OnRetransmit(in RetransmitRecord record) => Hub.Publish(TraceEvent.From(record));

    public void OnSendStall(in SendStallRecord record) => Hub.Publish(TraceEvent.From(record));
}

/// <summary>/healthz details of the "tracers" subsystem.</summary>
public sealed record TracerHealthDetails(string State, IReadOnlyList<int> Ports, IReadOnlyList<string> Programs);
