using StreamServer.TestSupport;
using StreamServer.Transcode.Interop;
using StreamServer.Transcode.Media;

namespace StreamServer.Transcode.Tests.Media;

public class InteropTests
{
    [Fact]
    public void Libraries_are_the_ffmpeg_5_1_majors()
    {
        FfmpegLibraries.EnsureCompatible();
        Assert.Contains("libavformat 59.", FfmpegLibraries.Describe);
        Assert.Contains("libswresample 4.", FfmpegLibraries.Describe);
    }

    [Fact]
    public async Task Decodes_every_frame_through_the_frame_memory_and_scales_it()
    {
        using var dir = new TempDir();
        var clip = await TestMedia.GenerateAsync(dir.Combine("in.mp4"), seconds: 1, width: 320, height: 240, fps: 25);
        var memory = new CountingFrameMemory();

        using (var source = MediaSource.Open(clip))
        {
            var video = source.BestStream(MediaKind.Video)!;
            Assert.Equal(320, video.Width);
            Assert.Equal("yuv420p", video.PixelFormatName);
            Assert.NotNull(source.BestStream(MediaKind.Audio));
            using var decoder = new MediaDecoder(source, video, memory);
            using var scaler = new Scaler(320, 240, video.PixelFormat, 160, 120, PixelFormats.Yuv420P, memory);
            using var packet = new PacketHandle();
            using var frame = new FrameHandle();
            using var scaled = new FrameHandle();
            var frames = 0;
            var eof = false;
            while (!eof)
            {
                eof = !source.ReadPacket(packet);
                if (!eof && packet.StreamIndex != video.Index)
                {
                    continue;
                }

                decoder.Send(eof ? null : packet);
                while (decoder.Receive(frame))
                {
                    frames++;
                    Assert.Equal(320, frame.Width);
                    scaler.Scale(frame, scaled);
                    Assert.Equal(160, scaled.Width);
                    Assert.NotEqual(0, scaled.Plane(0).Data);
                    frame.Unref();
                }
            }

            Assert.Equal(25, frames);
        }

        Assert.True(memory.Rented >= 2, $"get_buffer2 went through IFrameMemory ({memory.Rented} rents)");
        Assert.Equal(memory.Rented, memory.Released);
    }

    [Fact]
    public void Missing_input_names_the_path()
    {
        var ex = Assert.Throws<TranscodeException>(() => MediaSource.Open("/nonexistent/clip.mp4"));
        Assert.Contains("not found", ex.Message);
    }

    private sealed class CountingFrameMemory : IFrameMemory
    {
        private long rented;
        private long released;

        public long Rented => Interlocked.Read(ref rented);
        public long Released => Interlocked.Read(ref released);

        public nint Rent(nuint size, nuint alignment)
        {
            Interlocked.Increment(ref rented);
            return AlignedFrameMemory.Shared.Rent(size, alignment);
        }

        public void Release(nint block)
        {
            Interlocked.Increment(ref released);
            AlignedFrameMemory.Shared.Release(block);
        }
    }
}
