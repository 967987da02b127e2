using System.Globalization;
using System.Text;
using System.Xml;
using StreamServer.Transcode.Media;

namespace StreamServer.Transcode.Packaging;

/// <summary>
/// What makes an MPD dynamic (a live window): media time 0 on the wall clock, the window's depth, when to reload, and
/// whether the stream has ended (then the MPD gives its duration and players stop reloading).
/// </summary>
/// <param name="AvailabilityTimeOffsetSeconds">
/// Low-latency DASH: how long before its end a segment can be requested (its duration minus one chunk: the first chunk
/// is there), written with availabilityTimeComplete="false" (the response streams the rest as it is written); 0 = off.
/// </param>
public sealed record DashLiveWindow(DateTimeOffset AvailabilityStartTime, DateTimeOffset PublishTime, double TimeShiftBufferDepthSeconds,
    double MinimumUpdatePeriodSeconds, double SuggestedPresentationDelaySeconds, bool Ended, double AvailabilityTimeOffsetSeconds = 0);

/// <summary>
/// DASH MPD (isoff-live + CMAF profiles): SegmentTemplate + SegmentTimeline over the HLS segment files. Static for a
/// VOD; dynamic (type="dynamic", availabilityStartTime, timeShiftBufferDepth) over a live window, whose tracks list
/// only the segments still in the window (the timeline starts at the first one's time and number).
/// </summary>
public static class DashManifestWriter
{
    /// <summary>Where a dynamic MPD's UTCTiming points (served by the server: its UTC time, ISO 8601).</summary>
    public const string TimeEndpoint = "/time";

    public static string Write(IReadOnlyList<TrackResult> renditions, TrackResult? audio, double segmentSeconds,
        IReadOnlyList<IDecodedFrameSink>? extraAdaptationSets = null, DashLiveWindow? live = null)
    {
        var duration = 0.0;
        foreach (var r in renditions)
        {
            duration = Math.Max(duration, r.DurationSeconds);
        }

        if (audio is not null)
        {
            duration = Math.Max(duration, audio.DurationSeconds);
        }

        var sb = new StringBuilder();
        var settings = new XmlWriterSettings { Indent = true, OmitXmlDeclaration = false, Encoding = new UTF8Encoding(false), NewLineChars = "\n" };
        using (var x = XmlWriter.Create(sb, settings))
        {
            x.WriteStartDocument();
            x.WriteStartElement("MPD", "urn:mpeg:dash:schema:mpd:2011");
            x.WriteAttributeString("profiles", "urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019");
            if (live is null)
            {
                x.WriteAttributeString("type", "static");
                x.WriteAttributeString("mediaPresentationDuration", IsoDuration(duration));
            }
            else
            {
                x.WriteAttributeString("type", "dynamic");
                x.WriteAttributeString("availabilityStartTime", XsDateTime(live.AvailabilityStartTime));
                x.WriteAttributeString("publishTime", XsDateTime(live.PublishTime));
                x.WriteAttributeString("timeShiftBufferDepth", IsoDuration(live.TimeShiftBufferDepthSeconds));
                if (live.Ended)
                {
                    // The end is known: the duration covers everything since media time 0, and nothing needs reloading.
                    x.WriteAttributeString("mediaPresentationDuration", IsoDuration(EndSeconds(renditions, audio)));
                }
                else
                {
                    x.WriteAttributeString("minimumUpdatePeriod", IsoDuration(live.MinimumUpdatePeriodSeconds));
                    x.WriteAttributeString("suggestedPresentationDelay", IsoDuration(live.SuggestedPresentationDelaySeconds));
                }
            }

            x.WriteAttributeString("minBufferTime", IsoDuration(Math.Max(2, segmentSeconds)));
            if (live is { Ended: false })
            {
                // The latency a player should aim for (DASH-IF low-latency service description), in milliseconds.
                x.WriteStartElement("ServiceDescription");
                x.WriteAttributeString("id", "0");
                x.WriteStartElement("Latency");
                x.WriteAttributeString("target", Inv((long)Math.Round(live.SuggestedPresentationDelaySeconds * 1000)));
                x.WriteEndElement();
                x.WriteEndElement();
            }

            x.WriteStartElement("Period");
            x.WriteAttributeString("id", "0");
            x.WriteAttributeString("start", "PT0S");

            if (renditions.Count > 0)
            {
                var top = renditions[0];
                x.WriteStartElement("AdaptationSet");
                x.WriteAttributeString("id", "0");
                x.WriteAttributeString("contentType", "video");
                x.WriteAttributeString("mimeType", "video/mp4");
                x.WriteAttributeString("segmentAlignment", "true");
                x.WriteAttributeString("startWithSAP", "1");
                if (top.Width > 0)
                {
                    x.WriteAttributeString("maxWidth", Inv(top.Width));
                    x.WriteAttributeString("maxHeight", Inv(top.Height));
                    x.WriteAttributeString("par", Par(top.Width, top.Height));
                }

                if (top.FrameRate > 0)
                {
                    x.WriteAttributeString("frameRate", FrameRate(top.FrameRate));
                }

                foreach (var r in renditions)
                {
                    x.WriteStartElement("Representation");
                    x.WriteAttributeString("id", r.Name);
                    x.WriteAttributeString("codecs", r.Codecs);
                    x.WriteAttributeString("bandwidth", Inv(r.PeakBandwidth));
                    if (r.Width > 0)
                    {
                        x.WriteAttributeString("width", Inv(r.Width));
                        x.WriteAttributeString("height", Inv(r.Height));
                        x.WriteAttributeString("sar", "1:1");
                    }

                    WriteTemplate(x, r, live);
                    x.WriteEndElement();
                }

                x.WriteEndElement();
            }

            if (audio is not null)
            {
                x.WriteStartElement("AdaptationSet");
                x.WriteAttributeString("id", "1");
                x.WriteAttributeString("contentType", "audio");
                x.WriteAttributeString("mimeType", "audio/mp4");
                x.WriteAttributeString("segmentAlignment", "true");
                x.WriteAttributeString("startWithSAP", "1");
                x.WriteAttributeString("lang", "und");
                x.WriteStartElement("Representation");
                x.WriteAttributeString("id", audio.Name);
                x.WriteAttributeString("codecs", audio.Codecs);
                x.WriteAttributeString("bandwidth", Inv(audio.PeakBandwidth));
                x.WriteAttributeString("audioSamplingRate", Inv(audio.SampleRate));
                x.WriteStartElement("AudioChannelConfiguration");
                x.WriteAttributeString("schemeIdUri", "urn:mpeg:dash:23003:3:audio_channel_configuration:2011");
                x.WriteAttributeString("value", Inv(audio.Channels));
                x.WriteEndElement();
                WriteTemplate(x, audio, live);
                x.WriteEndElement();
                x.WriteEndElement();
            }

            foreach (var sink in extraAdaptationSets ?? [])
            {
                (sink as IPackagingOutputSink)?.WriteDashAdaptationSets(x);
            }

            x.WriteEndElement(); // Period
            if (live is not null)
            {
                // Players sync their clocks to the server's (it says when segments become available): GET /time answers
                // the server's UTC time in ISO 8601.
                x.WriteStartElement("UTCTiming");
                x.WriteAttributeString("schemeIdUri", "urn:mpeg:dash:utc:http-iso:2014");
                x.WriteAttributeString("value", TimeEndpoint);
                x.WriteEndElement();
            }

            x.WriteEndElement();
            x.WriteEndDocument();
        }

        return sb.ToString().Replace("encoding=\"utf-16\"", "encoding=\"UTF-8\"", StringComparison.Ordinal) + "\n";
    }

    private static void WriteTemplate(XmlWriter x, TrackResult track, DashLiveWindow? live)
    {
        var timescale = track.Segments.Count > 0 ? track.Segments[0].Timescale : 1;
        x.WriteStartElement("SegmentTemplate");
        x.WriteAttributeString("timescale", Inv(timescale));
        if (live is { Ended: false, AvailabilityTimeOffsetSeconds: > 0 } lowLatency)
        {
            x.WriteAttributeString("availabilityTimeOffset", lowLatency.AvailabilityTimeOffsetSeconds.ToString("0.###", CultureInfo.InvariantCulture));
            x.WriteAttributeString("availabilityTimeComplete", "false");
        }

        x.WriteAttributeString("initialization", $"{track.Name}/{track.InitName}");
        x.WriteAttributeString("media", $"{track.Name}/seg_$Number%05d$.m4s");
        x.WriteAttributeString("startNumber", Inv(track.Segments.Count > 0 ? track.Segments[0].Number : 1));
        x.WriteStartElement("SegmentTimeline");
        var i = 0;
        while (i < track.Segments.Count)
        {
            var s = track.Segments[i];
            var repeat = 0;
            while (i + repeat + 1 < track.Segments.Count && track.Segments[i + repeat + 1].Duration == s.Duration)
            {
                repeat++;
            }

            x.WriteStartElement("S");
            if (i == 0)
            {
                x.WriteAttributeString("t", Inv(s.Start));
            }

            x.WriteAttributeString("d", Inv(s.Duration));
            if (repeat > 0)
            {
                x.WriteAttributeString("r", Inv(repeat));
            }

            x.WriteEndElement();
            i += repeat + 1;
        }

        x.WriteEndElement();
        x.WriteEndElement();
    }

    private static double EndSeconds(IReadOnlyList<TrackResult> renditions, TrackResult? audio)
    {
        var end = 0.0;
        foreach (var r in renditions)
        {
            end = Math.Max(end, r.Segments.Count > 0 ? r.Segments[^1].StartSeconds + r.Segments[^1].DurationSeconds : 0);
        }

        return audio is { Segments.Count: > 0 } a ? Math.Max(end, a.Segments[^1].StartSeconds + a.Segments[^1].DurationSeconds) : end;
    }

    private static string XsDateTime(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);

    private static string Inv(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static string IsoDuration(double seconds) => string.Create(CultureInfo.InvariantCulture, $"PT{seconds:0.000}S");

    private static string FrameRate(double fps)
    {
        var rounded = Math.Round(fps);
        if (Math.Abs(fps - rounded) < 0.001)
        {
            return Inv((long)rounded);
        }

        // NTSC-style rates: 30000/1001 and friends.
        var num = (long)Math.Round(fps * 1001);
        return $"{Inv(num)}/1001";
    }

    private static string Par(int w, int h)
    {
        var g = Gcd(w, h);
        return $"{Inv(w / g)}:{Inv(h / g)}";
    }

    private static int Gcd(int a, int b) => b == 0 ? Math.Max(1, a) : Gcd(b, a % b);
}
