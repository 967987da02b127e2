namespace StreamServer.Health;

public enum HealthState
{
    Ok,
    Degraded,
    Disabled,
    Failed,
}

public readonly record struct SubsystemHealth(HealthState State, string? Reason = null, object? Details = null);

/// <summary>Each subsystem registers a probe; /healthz reports them all.</summary>
public sealed class HealthRegistry
{
    private readonly Lock _gate = new();
    private readonly List<(string Name, Func<SubsystemHealth> Probe)> _probes = [];

    public void Register(string name, Func<SubsystemHealth> probe)
    {
        lock (_gate)
        {
            _probes.Add((name, probe));
        }
    }

    public (HealthState Overall, Dictionary<string, SubsystemHealth> Subsystems) Check()
    {
        (string Name, Func<SubsystemHealth> Probe)[] probes;
        lock (_gate)
        {
            probes = [.. _probes];
        }

        var result = new Dictionary<string, SubsystemHealth>(probes.Length);
        var overall = HealthState.Ok;
        foreach (var (name, probe) in probes)
        {
            SubsystemHealth h;
            try
            {
                h = probe();
            }
            catch (Exception ex)
            {
                h = new SubsystemHealth(HealthState.Failed, ex.Message);
            }

            result[name] = h;
            // A disabled optional subsystem (tracers without BPF) does not make the server unhealthy.
            if (h.State == HealthState.Failed)
            {
                overall = HealthState.Failed;
            }
            else if (h.State == HealthState.Degraded && overall == HealthState.Ok)
            {
                overall = HealthState.Degraded;
            }
        }

        return (overall, result);
    }
}
