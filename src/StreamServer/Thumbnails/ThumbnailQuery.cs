using System.Globalization;
using Microsoft.Extensions.Primitives;

namespace StreamServer.Thumbnails;

/// <summary>The validated query of /vod/{id}/thumb.jpg?t=&lt;seconds&gt;&amp;w=&lt;px&gt;&amp;q=&lt;1-100&gt;.</summary>
public readonly record struct ThumbnailQuery(double Seconds, int Width, int Quality)
{
    public const int MinWidth = 16;
    public const int MaxWidth = 3840;

    /// <summary>Parses t (required), w and q (defaults when absent); false with a one-line reason for a 400.</summary>
    public static bool TryParse(IQueryCollection query, int defaultWidth, int defaultQuality, out ThumbnailQuery result, out string error)
    {
        result = default;
        if (!Single(query, "t", out var t, out error))
        {
            return false;
        }

        if (t is null)
        {
            error = "missing t (seconds into the video)";
            return false;
        }

        if (!double.TryParse(t, NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign | NumberStyles.AllowExponent,
                CultureInfo.InvariantCulture, out var seconds) || !double.IsFinite(seconds))
        {
            error = "t must be a number of seconds";
            return false;
        }

        if (seconds < 0)
        {
            error = "t must not be negative";
            return false;
        }

        if (!Integer(query, "w", defaultWidth, out var width, out error))
        {
            return false;
        }

        if (width is < MinWidth or > MaxWidth)
        {
            error = $"w must be {MinWidth}-{MaxWidth} pixels";
            return false;
        }

        if (!Integer(query, "q", defaultQuality, out var quality, out error))
        {
            return false;
        }

        if (quality is < 1 or > 100)
        {
            error = "q must be 1-100";
            return false;
        }

        result = new ThumbnailQuery(seconds, width, quality);
        return true;
    }

    private static bool Integer(IQueryCollection query, string name, int fallback, out int value, out string error)
    {
        value = fallback;
        if (!Single(query, name, out var text, out error))
        {
            return false;
        }

        if (text is null)
        {
            return true;
        }

        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value))
        {
            error = $"{name} must be an integer";
            return false;
        }

        return true;
    }

    private static bool Single(IQueryCollection query, string name, out string? value, out string error)
    {
        error = "";
        value = null;
        if (!query.TryGetValue(name, out StringValues values) || values.Count == 0)
        {
            return true;
        }

        if (values.Count > 1)
        {
            error = $"{name} given more than once";
            return false;
        }

        value = values[0];
        if (string.IsNullOrWhiteSpace(value))
        {
            error = $"{name} is empty";
            return false;
        }

        return true;
    }
}
