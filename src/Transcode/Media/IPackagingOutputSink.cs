using System.Xml;

namespace StreamServer.Transcode.Media;

/// <summary>
/// Optional second face of an <see cref="IDecodedFrameSink"/> that writes files of its own into the VOD output
/// (posters, sprites, WebVTT) and describes them in the DASH manifest.
/// </summary>
public interface IPackagingOutputSink
{
    /// <summary>Called before <see cref="IDecodedFrameSink.Start"/>: the (staging) output folder and the source duration (zero when unknown).</summary>
    void Begin(string outputDirectory, TimeSpan sourceDuration);

    /// <summary>Called while the MPD's Period is open, after the audio/video AdaptationSets, once <see cref="IDecodedFrameSink.Complete"/> ran.</summary>
    void WriteDashAdaptationSets(XmlWriter writer);
}
