using System.Runtime.InteropServices;
using StreamServer.BufferPool;
using StreamServer.TestSupport;
using StreamServer.Transcode.Media;
using StreamServer.Transcode.Thumbnails;
using StreamServer.TranscodeTestSupport;

namespace StreamServer.Transcode.Tests.Media;

/// <summary>The copy and outside-pool counters move when pixels are really copied or frames bypass the pool.</summary>
[Collection(FrameCopyMetricsCollection.Name)]
public class FrameCopyAccountingTests
{
    [Fact]
    public async Task Making_a_shared_frame_writable_copies_it_into_the_pool_and_counts_the_exact_bytes()
    {
        using var dir = new TempDir();
        var clip = await TestMedia.GenerateAsync(dir.Combine("in.mp4"), seconds: 1, width: 320, height: 240, fps: 25, audio: false);
        using var pool = new MemfdBufferPool(new BufferPoolOptions { Name = "copy-count", CapacityBytes = 32L * 1024 * 1024 });
        var memory = new PooledFrameMemory(pool);

        using (var source = MediaSource.Open(clip))
        using (var decoder = new MediaDecoder(source, source.BestStream(MediaKind.Video)!, memory))
        using (var packet = new PacketHandle())
        using (var frame = new FrameHandle())
        using (var sharer = new FrameHandle())
        {
            Assert.True(NextFrame(source, decoder, packet, frame));
            sharer.RefFrom(frame); // two references to one buffer: writing needs a private copy
            using var counters = new TranscodeCounters();

            var shared = frame.Plane(0).Data;
            var copied = frame.MakeWritable(memory);

            const long Yuv420Bytes = (320 * 240) + (2 * 160 * 120);
            Assert.Equal(Yuv420Bytes, copied);
            Assert.Equal(Yuv420Bytes, counters.CopiedBytes);
            var (own, linesize) = frame.Plane(0);
            Assert.NotEqual(shared, own);
            Assert.True(pool.TryGetLeaseAt(own, out _), "the private copy lives in the pool");
            Assert.Equal(Row(sharer, 0, 120), Row(frame, 0, 120));
            Assert.Equal(0, linesize % 64);

            // Now nobody else holds the new buffer: no second copy, counter unchanged.
            Assert.Equal(0, frame.MakeWritable(memory));
            Assert.Equal(Yuv420Bytes, counters.CopiedBytes);
            Assert.Equal(0, counters.FramesOutsidePool);
        }

        Assert.Equal(0, pool.GetStatistics().LeasedBlocks);
    }

    [Fact]
    public void Sprite_tiles_written_into_their_sheet_region_copy_nothing_even_for_the_repeated_tail()
    {
        using var dir = new TempDir("sprites-in-place");
        var options = new SpriteSheetOptions { IntervalSeconds = 1, Columns = 3, Rows = 2 };
        var layout = new SpriteLayout(options, 7.5, 320, 240); // 8 tiles of 160x120 on two sheets
        using var counters = new TranscodeCounters();
        byte lastLuma = 0;
        using (var builder = new SpriteSheetBuilder(options, layout.TileWidth, layout.TileHeight, dir.Path))
        {
            for (var i = 0; i < 6; i++)
            {
                // What the packager's scaler does: write the picture at the region's pointers with its strides.
                lastLuma = (byte)(20 + (20 * i));
                Fill(builder.BeginTile(i), lastLuma);
                builder.CommitTile();
            }

            var repeated = 0;
            builder.Finish(layout, (in YuvPlanes region) =>
            {
                repeated++;
                Fill(region, lastLuma); // the packager scales its held last frame again
            });
            Assert.Equal(2, repeated); // tiles 6 and 7
        }

        Assert.Equal(0, counters.CopiedBytes);
        using var decoder = new JpegDecoder();
        var first = decoder.Decode(File.ReadAllBytes(Path.Combine(dir.Path, SpriteLayout.SheetFileName(0))));
        Assert.InRange(first.Y[(60 * first.Info.Width) + 400], 56, 64); // tile 2 (right column, next to the row padding)
        Assert.InRange(first.Y[(180 * first.Info.Width) + 80], 76, 84); // tile 3 (second row)
        var second = decoder.Decode(File.ReadAllBytes(Path.Combine(dir.Path, SpriteLayout.SheetFileName(1))));
        Assert.InRange(second.Y[(60 * second.Info.Width) + 80], 116, 124); // tile 6 = tile 5's luma 120
        Assert.InRange(second.Y[(60 * second.Info.Width) + 240], 116, 124); // tile 7 too
        Assert.InRange(second.Y[(60 * second.Info.Width) + 400], 0, 4); // never filled: black
    }

    [Fact]
    public void Sprite_tiles_copied_in_from_separate_pictures_count_one_copy_each_and_one_for_the_repeated_tail()
    {
        using var dir = new TempDir("sprites");
        var options = new SpriteSheetOptions { IntervalSeconds = 1, Columns = 3, Rows = 2 };
        var layout = new SpriteLayout(options, 7.5, 320, 240); // 8 tiles of 160x120 on two sheets
        const long TileBytes = (160 * 120) + (2 * 80 * 60);
        using var counters = new TranscodeCounters();
        using (var builder = new SpriteSheetBuilder(options, layout.TileWidth, layout.TileHeight, dir.Path))
        {
            for (var i = 0; i < 6; i++)
            {
                builder.AddTile(i, Uniform(160, 120, (byte)(20 + (20 * i))).Planes);
            }

            Assert.Equal(6 * TileBytes, counters.CopiedBytes); // the tile into the sheet, nothing kept on the side
            builder.Finish(layout); // no renderer: tiles 6 and 7 never came, tile 5 (on the written first sheet) is copied
        }

        Assert.Equal((6 + 1 + 2) * TileBytes, counters.CopiedBytes);
        using var decoder = new JpegDecoder();
        var second = decoder.Decode(File.ReadAllBytes(Path.Combine(dir.Path, SpriteLayout.SheetFileName(1))));
        Assert.InRange(second.Y[(60 * second.Info.Width) + 80], 116, 124); // tile 6 = tile 5's luma 120
        Assert.InRange(second.Y[(60 * second.Info.Width) + 240], 116, 124); // tile 7 too
        Assert.InRange(second.Y[(60 * second.Info.Width) + 400], 0, 4); // never filled: black
    }

    [Fact]
    public async Task Frames_a_decoder_allocates_itself_count_as_outside_the_pool()
    {
        using var dir = new TempDir();

        // rawvideo has no AV_CODEC_CAP_DR1: its frames reference the packet, get_buffer2 is never called.
        var raw = dir.Combine("raw.nut");
        (await ProcessRunner.RunAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=1",
            "-c:v", "rawvideo", "-pix_fmt", "yuv420p", raw])).EnsureSuccess("ffmpeg rawvideo clip");
        var h264 = await TestMedia.GenerateAsync(dir.Combine("h264.mp4"), seconds: 1, width: 160, height: 120, fps: 25, audio: false);
        using var pool = new MemfdBufferPool(new BufferPoolOptions { Name = "outside-pool", CapacityBytes = 16L * 1024 * 1024 });
        var memory = new PooledFrameMemory(pool);
        using var counters = new TranscodeCounters();

        Assert.Equal(25, DecodeAll(h264, memory));
        Assert.Equal(0, counters.FramesOutsidePool);

        Assert.Equal(25, DecodeAll(raw, memory));
        Assert.Equal(25, counters.FramesOutsidePool);
        Assert.Equal(0, counters.CopiedBytes); // used as they are, not copied
        Assert.Equal(0, pool.GetStatistics().LeasedBlocks);
    }

    [Theory]
    [InlineData("libx264", "yuv420p", 160, 120)]
    [InlineData("libx264", "yuv420p10le", 160, 120)]
    [InlineData("libx264", "yuv422p", 160, 120)]
    [InlineData("ffv1", "yuv420p", 171, 95)] // odd sizes, like the bad-input clip
    [InlineData("mpeg4", "yuv420p", 160, 120)]
    public async Task Decoders_we_feed_take_every_frame_from_the_frame_memory(string codec, string pixelFormat, int width, int height)
    {
        using var dir = new TempDir();
        var clip = await TestMedia.GenerateAsync(dir.Combine($"{codec}-{pixelFormat}.mkv"), seconds: 0.4, width: width, height: height,
            fps: 25, audio: false, pixelFormat: pixelFormat, codec: codec);
        using var pool = new MemfdBufferPool(new BufferPoolOptions { Name = $"dr1-{codec}", CapacityBytes = 16L * 1024 * 1024 });
        var memory = new PooledFrameMemory(pool);
        using var counters = new TranscodeCounters();

        Assert.Equal(10, DecodeAll(clip, memory));

        Assert.Equal(0, counters.FramesOutsidePool);
        Assert.Equal(0, counters.CopiedBytes);
        Assert.True(pool.GetStatistics().Allocations >= 10, "get_buffer2 rented from the pool");
        Assert.Equal(0, pool.GetStatistics().LeasedBlocks);
    }

    private static int DecodeAll(string path, IFrameMemory memory)
    {
        using var source = MediaSource.Open(path);
        using var decoder = new MediaDecoder(source, source.BestStream(MediaKind.Video)!, memory);
        using var packet = new PacketHandle();
        using var frame = new FrameHandle();
        var frames = 0;
        while (NextFrame(source, decoder, packet, frame))
        {
            frames++;
            frame.Unref();
        }

        return frames;
    }

    /// <summary>Next decoded frame, draining the decoder at the end of input.</summary>
    private static bool NextFrame(MediaSource source, MediaDecoder decoder, PacketHandle packet, FrameHandle frame)
    {
        while (true)
        {
            if (decoder.Receive(frame))
            {
                return true;
            }

            if (!source.ReadPacket(packet))
            {
                decoder.Send(null);
                return decoder.Receive(frame);
            }

            if (packet.StreamIndex == decoder.Stream.Index)
            {
                decoder.Send(packet);
            }

            packet.Unref();
        }
    }

    private static unsafe void Fill(in YuvPlanes region, byte luma)
    {
        for (var row = 0; row < region.Height; row++)
        {
            new Span<byte>(region.Y + ((long)row * region.YStride), region.Width).Fill(luma);
        }

        for (var row = 0; row < region.Height / 2; row++)
        {
            new Span<byte>(region.U + ((long)row * region.UStride), region.Width / 2).Fill(128);
            new Span<byte>(region.V + ((long)row * region.VStride), region.Width / 2).Fill(128);
        }
    }

    private static PinnedYuvImage Uniform(int width, int height, byte luma)
    {
        var image = new PinnedYuvImage(width, height);
        image.Y.AsSpan().Fill(luma);
        image.U.AsSpan().Fill(128);
        image.V.AsSpan().Fill(128);
        return image;
    }

    private static byte[] Row(FrameHandle frame, int row, int width)
    {
        var (data, linesize) = frame.Plane(0);
        var bytes = new byte[width];
        Marshal.Copy(data + (row * linesize), bytes, 0, width);
        return bytes;
    }
}
