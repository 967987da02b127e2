using System.Text.Json;

namespace StreamServer.Admin;

/// <summary>
/// What a packaging job needs to survive the server dying under it: one file per unfinished job in DataDir/jobs
/// (written to a temporary name and renamed, so a crash leaves the old entry or the new one, never a torn one), removed
/// when the job finishes. At start every entry left over is a job a previous process did not finish.
/// </summary>
public sealed class JobJournal
{
    private readonly string _dir;

    public JobJournal(DataLayout layout)
    {
        _dir = layout.Jobs;
        Directory.CreateDirectory(_dir);
    }

    /// <summary>Writes the job's entry; false when it could not be written (a full disk): the job then runs without one.</summary>
    public bool Record(VodJob job)
    {
        var entry = new JobJournalEntry(job.Id, job.Source, job.DeleteSourceWhenDone, job.State == VodJobState.Running ? "running" : "queued", job.SourceName);
        var path = PathOf(job.Id);
        var temporary = path + ".tmp";
        try
        {
            File.WriteAllBytes(temporary, JsonSerializer.SerializeToUtf8Bytes(entry, AdminJsonContext.Default.JobJournalEntry));
            File.Move(temporary, path, overwrite: true);
            return true;
        }
        catch (IOException)
        {
            File.Delete(temporary);
            return false;
        }
    }

    public void Remove(string id)
    {
        try
        {
            File.Delete(PathOf(id));
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Entries a previous process left (and removes them: the caller now owns what they describe).</summary>
    public List<JobJournalEntry> TakeLeftovers()
    {
        var entries = new List<JobJournalEntry>();
        foreach (var file in Directory.EnumerateFiles(_dir))
        {
            try
            {
                if (file.EndsWith(".json", StringComparison.Ordinal)
                    && JsonSerializer.Deserialize(File.ReadAllBytes(file), AdminJsonContext.Default.JobJournalEntry) is { } entry
                    && VodLibrary.IsValidId(entry.Id) && entry.Source.Length > 0)
                {
                    entries.Add(entry);
                }
            }
            catch (JsonException)
            {
                // Not ours or unreadable: nothing to recover from it.
            }

            File.Delete(file);
        }

        return entries;
    }

    private string PathOf(string id) => Path.Combine(_dir, id + ".json");
}

public sealed record JobJournalEntry(
    string Id,
    string Source,
    bool DeleteSourceWhenDone,
    string State,
    string? SourceName = null);
