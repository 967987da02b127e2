using System.Runtime.InteropServices;

using StreamServer.Transcode.Thumbnails;

namespace StreamServer.Transcode.Interop;

/// <summary>
/// P/Invoke surface of the JPEG encoder in libssav.so (src/Transcode/Native/ssjpeg.c). libjpeg's
/// structs stay in C; only the shim's own structs below cross (layout mirrored from ssjpeg.h).
/// </summary>
internal static unsafe partial class SsJpegNative
{
    private const string Library = SsAv.Library;

    [StructLayout(LayoutKind.Sequential)]
    public struct Picture
    {
        public byte* Y;
        public byte* U;
        public byte* V;
        public int YStride;
        public int UStride;
        public int VStride;
        public int Width;
        public int Height;
        public int ChromaLog2W;
        public int ChromaLog2H;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Params
    {
        public int Quality;
        public int Progressive;
        public int Tables;
        public int Trellis;
        public int Threads;
    }

    [LibraryImport(Library, EntryPoint = "ss_jpeg_encoder_new")]
    public static partial nint EncoderNew();

    [LibraryImport(Library, EntryPoint = "ss_jpeg_encoder_free")]
    public static partial void EncoderFree(nint encoder);

    [LibraryImport(Library, EntryPoint = "ss_jpeg_encode")]
    public static partial int Encode(JpegEncoderHandle encoder, Picture* picture, Params* parameters, byte** output, nuint* outputSize);

    [LibraryImport(Library, EntryPoint = "ss_jpeg_encoder_error")]
    public static partial byte* EncoderError(JpegEncoderHandle encoder);

    public static string LastError(JpegEncoderHandle encoder) =>
        Marshal.PtrToStringUTF8((nint)EncoderError(encoder)) ?? "unknown JPEG encoder error";
}
