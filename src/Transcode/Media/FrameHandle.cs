using System.Runtime.InteropServices;
using StreamServer.Transcode.Interop;

namespace StreamServer.Transcode.Media;

/// <summary>
/// An AVFrame (the struct). Pixel/sample buffers are reference counted: <see cref="RefFrom"/> shares
/// them with another frame without copying a byte.
/// </summary>
public sealed class FrameHandle : SafeHandle
{
    public FrameHandle() : base(0, true)
    {
        SetHandle(SsAv.FrameAlloc());
        if (IsInvalid)
        {
            throw new OutOfMemoryException("av_frame_alloc");
        }
    }

    public override bool IsInvalid => handle == 0;

    internal nint Ptr => handle;

    internal FrameInfo Info
    {
        get
        {
            SsAv.FrameGetInfo(handle, out var info);
            return info;
        }
    }

    public int Width => Info.Width;
    public int Height => Info.Height;
    public int PixelFormat => Info.Format;

    /// <summary>Presentation timestamp in the producer's time base (the source stream's for decoded frames).</summary>
    public long Pts => Info.Pts;

    /// <summary>Samples are full range (color_range JPEG or a yuvj* format) rather than limited video range.</summary>
    public bool IsFullRange => SsAv.FrameFullRange(handle) != 0;

    /// <summary>Pixel aspect the decoder found in the bitstream (invalid when it does not say).</summary>
    public Rational SampleAspectRatio
    {
        get
        {
            SsAv.FrameSar(handle, out var num, out var den);
            return new Rational(num, den);
        }
    }

    public void SetPts(long pts) => SsAv.FrameSetPts(handle, pts);

    /// <summary>Asks the next encoder for a keyframe here (true), or clears the picture type the decoder left (false).</summary>
    public void SetForcedKey(bool key) => SsAv.FrameSetForcedKey(handle, key ? 1 : 0);

    /// <summary>Makes this frame reference <paramref name="source"/>'s buffers (no pixel copy).</summary>
    public void RefFrom(FrameHandle source)
    {
        SsAv.FrameUnref(handle);
        FfmpegError.Check(SsAv.FrameRef(handle, source.Ptr), "av_frame_ref");
    }

    public void Unref() => SsAv.FrameUnref(handle);

    /// <summary>
    /// Before writing into the pixels: when another reference shares this frame's buffer, moves the frame to a
    /// fresh buffer from <paramref name="memory"/> (FFmpeg's allocator when null)
    /// and copies the pixels, adding the bytes to streamserver_transcode_frame_copy_bytes_total. A frame nobody
    /// else references is left as it is. Returns the bytes copied.
    /// </summary>
    internal unsafe long MakeWritable(IFrameMemory? memory)
    {
        FfmpegError.Check(SsAv.FrameMakeWritable(handle, FrameAllocator.For(memory), out var copied), "av_frame_make_writable");
        if (copied > 0)
        {
            TranscodeMetrics.FrameCopyBytes.Add(copied);
        }

        return copied;
    }

    /// <summary>Plane pointer and stride (for consumers such as JPEG encoders that read pixels in place).</summary>
    public unsafe (nint Data, int Linesize) Plane(int index)
    {
        if ((uint)index > 3)
        {
            throw new ArgumentOutOfRangeException(nameof(index));
        }

        var info = Info;
        return ((nint)info.Data[index], info.Linesize[index]);
    }

    protected override bool ReleaseHandle()
    {
        SsAv.FrameFree(handle);
        return true;
    }
}
