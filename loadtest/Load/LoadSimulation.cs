using System.Globalization;

namespace StreamServer.LoadTest.Load;

/// <summary>
/// How players arrive, in NBomber's terms. Closed model: <see cref="Players"/> concurrent viewers, started evenly over
/// <see cref="Ramp"/> (zero: all at once) and kept until the end; a viewer whose session ends is replaced by a new one.
/// Open model (<see cref="InjectPerSecond"/> above 0): that many new viewers arrive every second whatever the server
/// does, each watching for <see cref="Session"/>; <see cref="Players"/> caps how many watch at once.
/// </summary>
internal sealed record LoadSimulation(int Players, TimeSpan Ramp, double InjectPerSecond, TimeSpan Session, TimeSpan Duration)
{
    public bool IsOpen => InjectPerSecond > 0;

    public string Describe() => IsOpen
        ? string.Create(CultureInfo.InvariantCulture, $"inject {InjectPerSecond:0.##} players/s, {Session.TotalSeconds:0.#} s sessions, at most {Players}")
        : Ramp > TimeSpan.Zero
            ? string.Create(CultureInfo.InvariantCulture, $"{Players} players, ramp {Ramp.TotalSeconds:0.#} s then constant")
            : $"{Players} players, constant";

    /// <summary>"90", "90s", "10m", "1h", "250ms" as a duration; false on anything else.</summary>
    public static bool TryParseDuration(string? text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        text = text.Trim();
        var (number, unit) = text.EndsWith("ms", StringComparison.Ordinal) ? (text[..^2], 0.001)
            : text.EndsWith('s') ? (text[..^1], 1.0)
            : text.EndsWith('m') ? (text[..^1], 60.0)
            : text.EndsWith('h') ? (text[..^1], 3600.0)
            : (text, 1.0);
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) || n < 0 || double.IsInfinity(n))
        {
            return false;
        }

        value = TimeSpan.FromSeconds(n * unit);
        return true;
    }
}
