using StreamServer.LoadTest.Players;

namespace StreamServer.Tests.Live;

/// <summary>The validator the LL-HLS tests rely on fails each rule it claims to check (a validator that cannot fail proves nothing).</summary>
public class LowLatencyHlsValidatorTests
{
    private const string Good = """
        #EXTM3U
        #EXT-X-VERSION:9
        #EXT-X-TARGETDURATION:1
        #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=6,PART-HOLD-BACK=0.6
        #EXT-X-PART-INF:PART-TARGET=0.2
        #EXT-X-MEDIA-SEQUENCE:10
        #EXT-X-MAP:URI="init.mp4"
        #EXT-X-PART:DURATION=0.200,URI="seg_00010.m4s",BYTERANGE="100@0",INDEPENDENT=YES
        #EXT-X-PART:DURATION=0.200,URI="seg_00010.m4s",BYTERANGE="50@100"
        #EXTINF:0.400,
        seg_00010.m4s
        #EXT-X-PART:DURATION=0.200,URI="seg_00011.m4s",BYTERANGE="80@0",INDEPENDENT=YES
        #EXT-X-PRELOAD-HINT:TYPE=PART,URI="seg_00011.m4s",BYTERANGE-START=80
        #EXT-X-RENDITION-REPORT:URI="../audio/index.m3u8",LAST-MSN=11,LAST-PART=0

        """;

    [Theory]
    [InlineData("PART-HOLD-BACK=0.6", "PART-HOLD-BACK=0.4", "PART-HOLD-BACK")]
    [InlineData("CAN-BLOCK-RELOAD=YES,", "", "CAN-BLOCK-RELOAD")]
    [InlineData("CAN-SKIP-UNTIL=6", "CAN-SKIP-UNTIL=5", "CAN-SKIP-UNTIL")]
    [InlineData("DURATION=0.200,URI=\"seg_00011", "DURATION=0.250,URI=\"seg_00011", "exceeds PART-TARGET")]
    [InlineData("BYTERANGE=\"50@100\"", "BYTERANGE=\"50@90\"", "not where the previous part ends")]
    [InlineData("BYTERANGE-START=80", "BYTERANGE-START=70", "preload hint")]
    [InlineData("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg_00011.m4s\",BYTERANGE-START=80\n", "", "no EXT-X-PRELOAD-HINT")]
    [InlineData("#EXT-X-RENDITION-REPORT:URI=\"../audio/index.m3u8\",LAST-MSN=11,LAST-PART=0\n", "", "no EXT-X-RENDITION-REPORT")]
    [InlineData("LAST-MSN=11", "LAST-MSN=40", "rendition report")]
    [InlineData("#EXTINF:0.400,", "#EXTINF:1.600,", "TARGETDURATION")]
    [InlineData("URI=\"seg_00010.m4s\",BYTERANGE=\"50@100\"", "URI=\"part_00010_3.m4s\"", "out of sequence")]
    public void Each_rule_fails_a_playlist_that_breaks_it(string from, string to, string expected)
    {
        Assert.Empty(LowLatencyHlsValidator.Rules(LowLatencyPlaylist.Parse(Good)));
        var broken = Good.Replace(from, to, StringComparison.Ordinal);
        Assert.NotEqual(Good, broken);
        var problems = LowLatencyHlsValidator.Rules(LowLatencyPlaylist.Parse(broken));
        Assert.Contains(problems, p => p.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void A_delta_playlist_may_not_skip_into_can_skip_until()
    {
        var delta = Good.Replace("#EXT-X-MAP:URI=\"init.mp4\"\n", "#EXT-X-MAP:URI=\"init.mp4\"\n#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n", StringComparison.Ordinal);
        Assert.Contains(LowLatencyHlsValidator.Rules(LowLatencyPlaylist.Parse(delta)), p => p.Contains("EXT-X-SKIP left", StringComparison.Ordinal));
    }

    [Fact]
    public void The_sync_sample_reader_tells_a_keyframe_from_a_later_frame()
    {
        // moof/traf with tfhd default-sample-flags non-sync, trun with first-sample-flags sync (what FFmpeg writes for a
        // fragment starting with a keyframe), then the same without first-sample-flags.
        static byte[] Box(string type, params byte[][] content)
        {
            var length = 8 + content.Sum(c => c.Length);
            var box = new byte[length];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(box, (uint)length);
            System.Text.Encoding.ASCII.GetBytes(type).CopyTo(box, 4);
            var at = 8;
            foreach (var c in content)
            {
                c.CopyTo(box, at);
                at += c.Length;
            }

            return box;
        }

        byte[] tfhd = Box("tfhd", [0, 0x02, 0, 0x20, 0, 0, 0, 1, 0x01, 0x01, 0, 0]); // default-sample-flags: non-sync
        byte[] trunSync = Box("trun", [0, 0, 0, 0x05, 0, 0, 0, 1, 0, 0, 0, 0, 0x02, 0, 0, 0]); // data offset, first-sample-flags: sync
        byte[] trunPlain = Box("trun", [0, 0, 0, 0x01, 0, 0, 0, 1, 0, 0, 0, 0]);
        Assert.True(LowLatencyHlsValidator.FirstSampleIsSync(Box("moof", Box("traf", tfhd, trunSync))));
        Assert.False(LowLatencyHlsValidator.FirstSampleIsSync(Box("moof", Box("traf", tfhd, trunPlain))));
        Assert.Null(LowLatencyHlsValidator.FirstSampleIsSync(Box("mdat")));
    }
}
