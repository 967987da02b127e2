using System.Runtime.InteropServices;

namespace StreamServer.Transcode.Interop;

// Mirrors of the shim's own structs in Native/ssav.h (not FFmpeg's): keep field order in step.

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeAllocator
{
    public delegate* unmanaged<void*, nuint, nuint, void*> Rent;
    public delegate* unmanaged<void*, void*, void> Release;
    public void* User;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct StreamInfoNative
{
    public int Index;
    public int CodecType;
    public int CodecId;
    public int Width, Height, Format;
    public int SampleRate, Channels;
    public int TbNum, TbDen;
    public int AvgFrNum, AvgFrDen;
    public int RFrNum, RFrDen;
    public int SarNum, SarDen;
    public int BitsPerRawSample;
    public int AttachedPic;
    public long Duration;
    public long StartTime;
    public long NbFrames;
    public fixed byte CodecName[32];
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct FrameInfo
{
    public int Width, Height, Format;
    public int KeyFrame, PictType;
    public int NbSamples, SampleRate, Channels;
    public long Pts, BestEffortTimestamp, Duration;
    public fixed ulong Data[4];
    public fixed int Linesize[4];
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct VideoEncoderParams
{
    public int Width, Height, PixFmt;
    public int TbNum, TbDen;
    public int FrNum, FrDen;
    public int SarNum, SarDen;
    public int Gop;
    public int Threads;
    public long Bitrate, Maxrate, Bufsize;
    public byte* Preset;
    public byte* Profile;
    public byte* X264Params;
}

[StructLayout(LayoutKind.Sequential)]
internal struct PixFmtInfo
{
    public int Depth;
    public int Log2ChromaW, Log2ChromaH;
    public int NbComponents;
    public int IsRgb, HasPalette, IsHwaccel, HasAlpha;
}
