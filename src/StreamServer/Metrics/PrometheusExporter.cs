using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace StreamServer.Metrics;

/// <summary>
/// Collects every System.Diagnostics.Metrics instrument of the StreamServer meters (and the runtime's
/// "System.Runtime" meter) and renders them as Prometheus text exposition format 0.0.4.
/// Instruments of our meters are named with their final Prometheus family name
/// (e.g. <c>streamserver_http_requests_total</c>); runtime instruments are mapped to
/// <c>streamserver_dotnet_*</c>. Sources that already aggregate (eBPF maps) plug in through
/// <see cref="IPrometheusCollector"/>.
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    public const string MeterPrefix = "StreamServer";
    private const string RuntimeMeter = "System.Runtime";

    private readonly MeterListener _listener = new();
    private readonly List<InstrumentState> _instruments = [];
    private readonly List<IPrometheusCollector> _collectors = [];
    private readonly List<IExemplarSource> _exemplars = [];
    private readonly Lock _gate = new();

    public PrometheusExporter()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            var meter = instrument.Meter.Name;
            if (!meter.StartsWith(MeterPrefix, StringComparison.Ordinal) && meter != RuntimeMeter)
            {
                return;
            }

            var state = InstrumentState.Create(instrument, meter == RuntimeMeter);
            if (state is null)
            {
                return;
            }

            lock (_gate)
            {
                _instruments.Add(state);
            }

            listener.EnableMeasurementEvents(instrument, state);
        };
        _listener.SetMeasurementEventCallback<long>(static (_, v, tags, s) => ((InstrumentState)s!).Record(v, tags));
        _listener.SetMeasurementEventCallback<int>(static (_, v, tags, s) => ((InstrumentState)s!).Record(v, tags));
        _listener.SetMeasurementEventCallback<double>(static (_, v, tags, s) => ((InstrumentState)s!).Record(v, tags));
        _listener.SetMeasurementEventCallback<float>(static (_, v, tags, s) => ((InstrumentState)s!).Record(v, tags));
        _listener.Start();
    }

    public void AddCollector(IPrometheusCollector collector)
    {
        lock (_gate)
        {
            _collectors.Add(collector);
        }
    }

    /// <summary>Exemplars for the buckets of one histogram family (shown to OpenMetrics scrapers).</summary>
    public void AddExemplars(IExemplarSource source)
    {
        lock (_gate)
        {
            _exemplars.Add(source);
        }
    }

    /// <summary>Renders the current values of every instrument and collector (OpenMetrics 1.0.0 with exemplars when asked).</summary>
    public string Scrape(bool openMetrics = false)
    {
        _listener.RecordObservableInstruments();
        var sb = new StringBuilder(16 * 1024);
        var writer = new PrometheusTextWriter(sb, openMetrics);
        InstrumentState[] instruments;
        IPrometheusCollector[] collectors;
        IExemplarSource[] exemplars;
        lock (_gate)
        {
            instruments = [.. _instruments];
            collectors = [.. _collectors];
            exemplars = [.. _exemplars];
        }

        // Several instruments may share a family name (e.g. the same metric from two meters); emit the
        // HELP/TYPE header once per family.
        Array.Sort(instruments, static (a, b) => string.CompareOrdinal(a.FamilyName, b.FamilyName));
        string? last = null;
        foreach (var instrument in instruments)
        {
            instrument.Write(writer, writeHeader: instrument.FamilyName != last, Array.Find(exemplars, e => e.FamilyName == instrument.FamilyName));
            last = instrument.FamilyName;
        }

        foreach (var collector in collectors)
        {
            collector.Collect(writer);
        }

        writer.End();
        return sb.ToString();
    }

    /// <summary>
    /// A histogram family's per-bucket counts (not cumulative; the last entry is above the highest bound) summed by the
    /// value of one label, as of now. For readers inside the process (the charts); no text is rendered.
    /// </summary>
    /// <param name="into">Filled in place: its arrays are zeroed and reused, new label values get new ones (a sampler
    /// calling this several times a second allocates nothing once every series exists).</param>
    public void HistogramBy(string family, string label, Dictionary<string, long[]> into)
    {
        foreach (var sums in into.Values)
        {
            Array.Clear(sums);
        }

        lock (_gate)
        {
            foreach (var instrument in _instruments)
            {
                if (instrument.FamilyName == family && instrument.Type == PrometheusType.Histogram)
                {
                    instrument.AddBucketsTo(into, label);
                }
            }
        }
    }

    public void Dispose() => _listener.Dispose();

    private sealed class InstrumentState
    {
        private static readonly double[] DefaultBuckets =
            [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

        private readonly Lock _gate = new();
        private readonly List<Series> _series = [];
        private readonly double[]? _buckets;

        private InstrumentState(string familyName, string help, PrometheusType type, bool cumulative, double[]? buckets)
        {
            FamilyName = familyName;
            Help = help;
            Type = type;
            Cumulative = cumulative;
            _buckets = buckets;
        }

        public string FamilyName { get; }
        public string Help { get; }
        public PrometheusType Type { get; }

        /// <summary>Observable counters and gauges report the current total: store, don't add.</summary>
        public bool Cumulative { get; }

        public static InstrumentState? Create(Instrument instrument, bool runtime)
        {
            var genericType = instrument.GetType().IsGenericType ? instrument.GetType().GetGenericTypeDefinition() : null;
            PrometheusType type;
            bool cumulative;
            if (genericType == typeof(Counter<>)) { type = PrometheusType.Counter; cumulative = false; }
            else if (genericType == typeof(ObservableCounter<>)) { type = PrometheusType.Counter; cumulative = true; }
            else if (genericType == typeof(UpDownCounter<>)) { type = PrometheusType.Gauge; cumulative = false; }
            else if (genericType == typeof(ObservableUpDownCounter<>) || genericType == typeof(ObservableGauge<>)) { type = PrometheusType.Gauge; cumulative = true; }
            else if (genericType == typeof(Gauge<>)) { type = PrometheusType.Gauge; cumulative = true; }
            else if (genericType == typeof(Histogram<>)) { type = PrometheusType.Histogram; cumulative = false; }
            else { return null; }

            var name = runtime ? RuntimeName(instrument, type) : instrument.Name;
            double[]? buckets = null;
            if (type == PrometheusType.Histogram)
            {
                buckets = instrument switch
                {
                    Histogram<double> { Advice.HistogramBucketBoundaries: { } b } => [.. b],
                    Histogram<long> { Advice.HistogramBucketBoundaries: { } b } => ToDoubles(b),
                    _ => DefaultBuckets,
                };
            }

            var help = string.IsNullOrEmpty(instrument.Description) ? name : instrument.Description;
            return new InstrumentState(name, help, type, cumulative, buckets);
        }

        private static double[] ToDoubles(IReadOnlyList<long> values)
        {
            var result = new double[values.Count];
            for (var i = 0; i < result.Length; i++)
            {
                result[i] = values[i];
            }

            return result;
        }

        private static string RuntimeName(Instrument instrument, PrometheusType type)
        {
            var sb = new StringBuilder("streamserver_");
            foreach (var c in instrument.Name)
            {
                sb.Append(char.IsAsciiLetterOrDigit(c) ? char.ToLowerInvariant(c) : '_');
            }

            var unit = instrument.Unit switch
            {
                "By" => "_bytes",
                "s" => "_seconds",
                _ => "",
            };
            if (unit.Length > 0 && !sb.ToString().EndsWith(unit, StringComparison.Ordinal))
            {
                sb.Append(unit);
            }

            if (type == PrometheusType.Counter)
            {
                sb.Append("_total");
            }
            else if (sb.ToString().EndsWith("_count", StringComparison.Ordinal))
            {
                // promtool reserves _count for histograms and summaries.
                sb.Length -= "_count".Length;
                sb.Append("_num");
            }

            return sb.ToString();
        }

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            lock (_gate)
            {
                var series = Find(tags);
                if (Type == PrometheusType.Histogram)
                {
                    series.Observe(value, _buckets!);
                }
                else if (Cumulative)
                {
                    series.Value = value;
                }
                else
                {
                    series.Value += value;
                }
            }
        }

        // Linear scan: series per instrument are few (labels are small enums), and this keeps the
        // recording path free of allocations once a series exists.
        private Series Find(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var s in _series)
            {
                if (s.Matches(tags))
                {
                    return s;
                }
            }

            var created = new Series(tags, _buckets?.Length ?? 0);
            _series.Add(created);
            return created;
        }

        private static string LabelValue(Series s, string label)
        {
            foreach (var (key, v) in s.Labels)
            {
                if (key == label)
                {
                    return v;
                }
            }

            return "";
        }

        public void AddBucketsTo(Dictionary<string, long[]> result, string label)
        {
            lock (_gate)
            {
                foreach (var s in _series)
                {
                    var value = LabelValue(s, label);
                    if (!result.TryGetValue(value, out var sums))
                    {
                        result[value] = sums = new long[_buckets!.Length + 1];
                    }

                    long inBuckets = 0;
                    for (var i = 0; i < _buckets!.Length; i++)
                    {
                        sums[i] += s.BucketCounts![i];
                        inBuckets += s.BucketCounts[i];
                    }

                    sums[^1] += s.Count - inBuckets;
                }
            }
        }

        public void Write(PrometheusTextWriter writer, bool writeHeader, IExemplarSource? exemplars)
        {
            if (writeHeader)
            {
                writer.Header(FamilyName, Help, Type);
            }

            lock (_gate)
            {
                foreach (var s in _series)
                {
                    if (Type == PrometheusType.Histogram)
                    {
                        writer.Histogram(FamilyName, s.Labels, _buckets!, s.BucketCounts!, s.Sum, s.Count, exemplars);
                    }
                    else
                    {
                        writer.Sample(FamilyName, s.Labels, s.Value);
                    }
                }
            }
        }
    }

    private sealed class Series
    {
        public Series(ReadOnlySpan<KeyValuePair<string, object?>> tags, int buckets)
        {
            var labels = new KeyValuePair<string, string>[tags.Length];
            for (var i = 0; i < tags.Length; i++)
            {
                labels[i] = new(LabelName(tags[i].Key), Convert.ToString(tags[i].Value, CultureInfo.InvariantCulture) ?? "");
            }

            Array.Sort(labels, static (a, b) => string.CompareOrdinal(a.Key, b.Key));
            Labels = labels;
            Raw = tags.ToArray();
            BucketCounts = buckets > 0 ? new long[buckets] : null;
        }

        // Runtime instruments use OpenTelemetry names ("gc.heap.generation"); Prometheus labels allow [a-zA-Z0-9_].
        private static string LabelName(string key)
        {
            foreach (var c in key)
            {
                if (!char.IsAsciiLetterOrDigit(c) && c != '_')
                {
                    return string.Create(key.Length, key, static (span, k) =>
                    {
                        for (var i = 0; i < k.Length; i++)
                        {
                            span[i] = char.IsAsciiLetterOrDigit(k[i]) ? k[i] : '_';
                        }
                    });
                }
            }

            return key;
        }

        public KeyValuePair<string, string>[] Labels { get; }
        private KeyValuePair<string, object?>[] Raw { get; }
        public double Value { get; set; }
        public long[]? BucketCounts { get; }
        public double Sum { get; private set; }
        public long Count { get; private set; }

        public bool Matches(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (tags.Length != Raw.Length)
            {
                return false;
            }

            for (var i = 0; i < tags.Length; i++)
            {
                if (!string.Equals(tags[i].Key, Raw[i].Key, StringComparison.Ordinal) || !Equals(tags[i].Value, Raw[i].Value))
                {
                    return false;
                }
            }

            return true;
        }

        public void Observe(double value, double[] bounds)
        {
            for (var i = 0; i < bounds.Length; i++)
            {
                if (value <= bounds[i])
                {
                    BucketCounts![i]++;
                    break;
                }
            }

            Sum += value;
            Count++;
        }
    }
}
