namespace StreamServer.Admin;

/// <summary>The VOD ladder, preset and segment length (section "StreamServer:Packaging"); live transcoding uses the same.</summary>
public sealed class PackagingDefaults
{
    /// <summary>
    /// Rendition heights. Empty = the packager's default ladder: the configuration binder appends bound
    /// array items to an initialised array, so a default here could never be replaced, only extended.
    /// </summary>
    public int[] Ladder { get; set; } = [];

    /// <summary>libx264 preset; unset = the packager's default.</summary>
    public string? Preset { get; set; }

    /// <summary>Segment (and GOP) length; unset = the packager's default.</summary>
    public double? SegmentSeconds { get; set; }

    /// <summary>The packager's options with what is configured here; the rest keeps PackagingOptions' defaults (the one place they are defined).</summary>
    public Transcode.PackagingOptions ToPackagingOptions()
    {
        var defaults = new Transcode.PackagingOptions();
        return defaults with
        {
            Ladder = Ladder.Length > 0 ? Ladder : defaults.Ladder,
            Preset = Preset ?? defaults.Preset,
            SegmentSeconds = SegmentSeconds ?? defaults.SegmentSeconds,
        };
    }
}
