using System.Collections;
using System.Reflection;
using StreamServer.Hosting;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Docs;

/// <summary>docs/configuration.md lists every setting the options classes bind, and nothing they do not.</summary>
public sealed class ConfigurationReferenceTests
{
    [Fact]
    public void Every_setting_is_in_the_reference_and_every_referenced_setting_exists()
    {
        var settings = new List<string>();
        Walk(typeof(StreamServerOptions), "", settings);
        Assert.True(settings.Count > 50, $"only {settings.Count} settings found: the walk is broken");

        var reference = File.ReadAllText(RepoPaths.Combine("docs", "configuration.md"));
        var missing = settings.Where(s => !reference.Contains($"`{s}`", StringComparison.Ordinal)).ToList();
        Assert.True(missing.Count == 0, "docs/configuration.md does not list: " + string.Join(", ", missing));

        // Setting-shaped names in backticks at the start of a table row that no options class binds (a renamed or removed setting).
        var known = new HashSet<string>(settings, StringComparer.Ordinal);
        var stale = new List<string>();
        foreach (var line in reference.Split('\n'))
        {
            if (!line.StartsWith("| `", StringComparison.Ordinal))
            {
                continue;
            }

            var cell = line.Split('|')[1];
            foreach (var part in cell.Split('`', StringSplitOptions.RemoveEmptyEntries))
            {
                var name = part.Trim();
                if (name.Length > 0 && name != "," && !name.StartsWith(',') && !known.Contains(name))
                {
                    stale.Add(name);
                }
            }
        }

        Assert.True(stale.Count == 0, "docs/configuration.md lists settings no options class has: " + string.Join(", ", stale));
    }

    // Public settable properties; option classes of our own are sections (recursed), everything else is a setting.
    private static void Walk(Type type, string prefix, List<string> settings)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.SetMethod is not { IsPublic: true })
            {
                continue;
            }

            var name = prefix + property.Name;
            var t = property.PropertyType;
            var isSection = t.IsClass && t != typeof(string) && !typeof(IEnumerable).IsAssignableFrom(t)
                && t.Namespace?.StartsWith("StreamServer", StringComparison.Ordinal) == true;
            if (isSection)
            {
                Walk(t, name + ":", settings);
            }
            else
            {
                settings.Add(name);
            }
        }
    }
}
