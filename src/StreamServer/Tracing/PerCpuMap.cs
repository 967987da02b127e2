namespace StreamServer.Tracing;

/// <summary>
/// Reads per-CPU array maps: one lookup returns a value per possible CPU, each padded to 8 bytes;
/// callers sum the u64 fields they need.
/// </summary>
internal sealed unsafe class PerCpuMap
{
    private readonly int _fd;
    private readonly int _valueStride;
    private readonly ulong[] _buffer;

    public PerCpuMap(int fd, int valueSize)
    {
        _fd = fd;
        _valueStride = (valueSize + 7) / 8;
        Cpus = LibBpf.NumPossibleCpus();
        if (Cpus <= 0)
        {
            throw new TracerException($"libbpf_num_possible_cpus: {BpfObject.Errno(-Cpus)}");
        }

        _buffer = new ulong[_valueStride * Cpus];
    }

    public int Cpus { get; }

    /// <summary>Sums u64 field <paramref name="field"/> of entry <paramref name="key"/> over all CPUs.</summary>
    public ulong Sum(uint key, int field = 0)
    {
        lock (_buffer)
        {
            fixed (ulong* values = _buffer)
            {
                if (LibBpf.MapLookupElem(_fd, &key, values) != 0)
                {
                    return 0;
                }

                ulong total = 0;
                for (var cpu = 0; cpu < Cpus; cpu++)
                {
                    total += values[(cpu * _valueStride) + field];
                }

                return total;
            }
        }
    }

    /// <summary>Sums every u64 field of entry <paramref name="key"/> over all CPUs into <paramref name="fields"/>.</summary>
    public void SumFields(uint key, Span<ulong> fields)
    {
        fields.Clear();
        lock (_buffer)
        {
            fixed (ulong* values = _buffer)
            {
                if (LibBpf.MapLookupElem(_fd, &key, values) != 0)
                {
                    return;
                }

                for (var cpu = 0; cpu < Cpus; cpu++)
                {
                    for (var f = 0; f < fields.Length && f < _valueStride; f++)
                    {
                        fields[f] += values[(cpu * _valueStride) + f];
                    }
                }
            }
        }
    }
}
