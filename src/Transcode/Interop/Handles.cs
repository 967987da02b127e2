using System.Runtime.InteropServices;
using StreamServer.Transcode.Media;

namespace StreamServer.Transcode.Interop;

// One SafeHandle type per FFmpeg object kind: each object has exactly one owner and one free.

internal sealed class FormatContextHandle() : SafeHandle(0, true)
{
    public override bool IsInvalid => handle == 0;

    /// <param name="probeStreams">false: skip avformat_find_stream_info where the container describes its streams (see ss_input_open_lazy).</param>
    public static FormatContextHandle Open(string path, bool probeStreams = true)
    {
        var h = new FormatContextHandle();
        FfmpegError.ClearLogged();
        var ret = probeStreams ? SsAv.InputOpen(path, out var fc) : SsAv.InputOpenLazy(path, out fc);
        FfmpegError.Check(ret, $"avformat_open_input({Path.GetFileName(path)})");
        h.SetHandle(fc);
        return h;
    }

    protected override bool ReleaseHandle()
    {
        SsAv.InputClose(handle);
        return true;
    }
}

internal sealed class CodecContextHandle() : SafeHandle(0, true)
{
    public override bool IsInvalid => handle == 0;

    public static CodecContextHandle FromNative(nint ctx)
    {
        var h = new CodecContextHandle();
        h.SetHandle(ctx);
        return h;
    }

    protected override bool ReleaseHandle()
    {
        SsAv.CodecFree(handle);
        return true;
    }
}

internal sealed class ScalerHandle() : SafeHandle(0, true)
{
    public override bool IsInvalid => handle == 0;

    public static ScalerHandle FromNative(nint s)
    {
        var h = new ScalerHandle();
        h.SetHandle(s);
        return h;
    }

    protected override bool ReleaseHandle()
    {
        SsAv.ScalerFree(handle);
        return true;
    }
}

internal sealed class AudioConverterHandle() : SafeHandle(0, true)
{
    public override bool IsInvalid => handle == 0;

    public static AudioConverterHandle FromNative(nint s)
    {
        var h = new AudioConverterHandle();
        h.SetHandle(s);
        return h;
    }

    protected override bool ReleaseHandle()
    {
        SsAv.AudioConvFree(handle);
        return true;
    }
}

internal sealed class MuxerHandle() : SafeHandle(0, true)
{
    public override bool IsInvalid => handle == 0;

    public static MuxerHandle FromNative(nint s)
    {
        var h = new MuxerHandle();
        h.SetHandle(s);
        return h;
    }

    protected override bool ReleaseHandle()
    {
        SsAv.MuxerFree(handle);
        return true;
    }
}

internal sealed class GeneratorHandle() : SafeHandle(0, true)
{
    public override bool IsInvalid => handle == 0;

    public static GeneratorHandle Open(string description)
    {
        FfmpegError.Check(SsAv.GeneratorOpen(description, out var g), "filter graph (generator)");
        var h = new GeneratorHandle();
        h.SetHandle(g);
        return h;
    }

    protected override bool ReleaseHandle()
    {
        SsAv.GeneratorClose(handle);
        return true;
    }
}
