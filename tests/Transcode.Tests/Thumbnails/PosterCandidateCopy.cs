using StreamServer.Transcode.Thumbnails;

namespace StreamServer.Transcode.Tests.Thumbnails;

/// <summary>
/// A caller of <see cref="PosterPicker"/> that cannot keep frames by reference (test frames are reused): it copies the
/// winning frame, the way packaging keeps its decoded one.
/// </summary>
internal sealed class PosterCandidateCopy(PosterPicker picker)
{
    public PinnedYuvImage? Best { get; private set; }

    public void Offer(double time, in YuvPlanes frame)
    {
        if (!picker.Wants(time))
        {
            picker.Consider(time, default);
            return;
        }

        if (picker.Consider(time, FrameScore.Measure(frame)))
        {
            if (Best is null || Best.Width != frame.Width || Best.Height != frame.Height)
            {
                Best = new PinnedYuvImage(frame.Width, frame.Height);
            }

            Best.Blit(frame, 0, 0);
        }
    }
}
