using System.Diagnostics;
using System.Security.Cryptography;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace JobQ.Dataflow.Samples;

/// <summary>
/// Checksums a directory tree: one stage lists the files, an I/O stage with several workers reads them, a CPU
/// stage with one thread per core hashes them, and a last stage writes a manifest (<c>sha256sum</c> format), while
/// a live table drawn from <see cref="JobQueue.Stat(Probe)"/> shows each stage's in/out/doing, queue depth and rate.
/// </summary>
/// <param name="directory">The tree to hash, which is only read; <see langword="null"/> for a small tree the sample creates and removes.</param>
/// <param name="manifestPath">
/// Where to keep the manifest: it is written to a temporary file next to it and moved there once the run succeeds, so a
/// failed or cancelled run leaves an existing file as it was. <see langword="null"/>: the manifest goes to a temporary
/// file that is shown in part, then removed.
/// </param>
public sealed class ChecksumSample(string? directory = null, string? manifestPath = null) : ISample
{
    private const int ReadWorkers = 4;
    private const int ShownLines = 3;

    /// <summary>Gets the folder the sample creates its own tree and temporary files in; <see langword="null"/> for the system's temporary folder.</summary>
    internal string? ScratchRoot { get; init; }

    /// <inheritdoc/>
    public string Name => "checksum";

    /// <inheritdoc/>
    public string Description => "SHA-256 manifest of a directory tree (--dir, or a tree it creates; --out keeps the manifest): list -> read x4 -> hash x cores -> manifest, live stats.";

    /// <inheritdoc/>
    public bool IsSynopsis => false;

    /// <inheritdoc/>
    public async Task RunAsync(TextWriter output, CancellationToken cancellationToken = default)
    {
        var console = SampleConsole.For(output);
        if (directory is not null && !Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"no such directory: {Path.GetFullPath(directory)}");
        }

        // Everything this run creates is removed in the finally block, whatever happens: its own tree, and the
        // temporary manifest unless it was moved to manifestPath.
        var scratch = ScratchRoot ?? Path.GetTempPath();
        var target = manifestPath is null ? null : Path.GetFullPath(manifestPath);
        var manifestFolder = target is null ? scratch : Path.GetDirectoryName(target)!;
        if (!Directory.Exists(manifestFolder))
        {
            throw new DirectoryNotFoundException($"no such directory for the manifest: {manifestFolder}");
        }

        var temporaryManifest = target is null
            ? Path.Combine(scratch, $"jobq-checksum-{Guid.NewGuid():N}.sha256")
            : Path.Combine(manifestFolder, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");
        string? ownTree = null;
        try
        {
            string root;
            if (directory is null)
            {
                ownTree = Path.Combine(scratch, $"jobq-checksum-sample-{Guid.NewGuid():N}");
                CreateSampleTree(ownTree, cancellationToken);
                root = ownTree;
                console.WriteLine($"created a sample tree: {root}");
            }
            else
            {
                root = Path.GetFullPath(directory);
                console.WriteLine($"hashing: {root}");
            }

            // Neither manifest file is hashed when it lies inside the tree.
            string[] excluded = [temporaryManifest, target ?? temporaryManifest];
            await HashTreeAsync(console, root, temporaryManifest, excluded, cancellationToken);
            if (target is not null)
            {
                File.Move(temporaryManifest, target, overwrite: true);
                console.WriteLine($"manifest: {target}");
            }
            else
            {
                var lines = await File.ReadAllLinesAsync(temporaryManifest, cancellationToken);
                console.WriteLine($"manifest: {lines.Length} lines, not kept (--out FILE keeps it); the first {Math.Min(ShownLines, lines.Length)}:");
                foreach (var line in lines.Take(ShownLines))
                {
                    console.WriteLine(line);
                }
            }
        }
        finally
        {
            try
            {
                File.Delete(temporaryManifest);
            }
            finally
            {
                if (ownTree is not null && Directory.Exists(ownTree))
                {
                    Directory.Delete(ownTree, recursive: true);
                    console.WriteLine($"removed the sample tree: {ownTree}");
                }
            }
        }
    }

    private static async Task HashTreeAsync(IAnsiConsole console, string root, string manifestPath, string[] excluded, CancellationToken cancellationToken)
    {
        var bytes = 0L;

        IEnumerable<string> ListFiles(string dir) =>
            Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Where(p => !excluded.Contains(p, StringComparer.Ordinal));

        async Task<FileData> ReadAsync(string path, CancellationToken ct)
        {
            var data = await File.ReadAllBytesAsync(path, ct);
            Interlocked.Add(ref bytes, data.Length);
            return new FileData(Path.GetRelativePath(root, path), data);
        }

        static FileHash Hash(FileData file) => new(file.RelativePath, Convert.ToHexStringLower(SHA256.HashData(file.Content)));

        await using var manifest = new StreamWriter(manifestPath);

        // The last stage has one worker, so the writer is never used by two threads at once.
        void WriteManifest(FileHash file) => manifest.WriteLine($"{file.Sha256}  {file.RelativePath}");

        var workers = Workers.Of<string>()
            .ThenMany(ListFiles, name: "list")
            .Then(ReadAsync, threads: ReadWorkers, name: "read")
            .Then(Hash, threads: Environment.ProcessorCount, name: "hash")
            .Then(WriteManifest, name: "manifest");

        var probe = new Probe();
        var view = new StatsView(probe);
        var started = Stopwatch.GetTimestamp();

        // keepOrder: the manifest lists files in the order they were found, whatever read or hash finished first.
        var run = JobQueue.RunAsync([root], workers, new JobOptions { Probe = probe, KeepOrder = true }, cancellationToken);
        await LiveView.FollowAsync(console, run, view.Render);
        var result = await run;
        await manifest.FlushAsync(cancellationToken);

        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var files = result.Stats.Stages[^1].Out;
        var megabytes = Interlocked.Read(ref bytes) / (1024.0 * 1024.0);
        console.WriteLine($"files hashed: {files}, {megabytes:F1} MB in {seconds:F2} s ({megabytes / seconds:F0} MB/s)");
        console.WriteLine($"failed: {result.Stats.Stages.Sum(s => s.Failed)}");
    }

    // 160 files of random bytes in four folders under root (the same bytes every run).
    private static void CreateSampleTree(string root, CancellationToken cancellationToken)
    {
        var random = new Random(7);
        foreach (var folder in new[] { "docs", "images", Path.Combine("src", "core"), Path.Combine("src", "tests") })
        {
            var dir = Directory.CreateDirectory(Path.Combine(root, folder)).FullName;
            for (var i = 0; i < 40; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var content = new byte[random.Next(1_000, 200_000)];
                random.NextBytes(content);
                File.WriteAllBytes(Path.Combine(dir, $"file{i:D3}.bin"), content);
            }
        }
    }

    private sealed record FileData(string RelativePath, byte[] Content);

    private sealed record FileHash(string RelativePath, string Sha256);

    // Builds the live table; the rate column is the change in a stage's Out since the previous render.
    private sealed class StatsView(Probe probe)
    {
        private readonly Dictionary<string, long> _lastOut = [];
        private long _lastTime = Stopwatch.GetTimestamp();

        public IRenderable Render()
        {
            var stats = JobQueue.Stat(probe);
            var now = Stopwatch.GetTimestamp();
            var seconds = Math.Max(Stopwatch.GetElapsedTime(_lastTime, now).TotalSeconds, 1e-3);
            _lastTime = now;

            var table = new Table().Border(TableBorder.Rounded).Title("Stages (JobQueue.Stat)");
            table.AddColumn("Stage");
            foreach (var column in new[] { "Workers", "In", "Out", "Doing", "Queue", "Items/s" })
            {
                table.AddColumn(new TableColumn(column).RightAligned());
            }

            foreach (var stage in stats.Stages)
            {
                var rate = (stage.Out - _lastOut.GetValueOrDefault(stage.Name)) / seconds;
                _lastOut[stage.Name] = stage.Out;
                table.AddRow(stage.Name, $"{stage.WorkerCount}", $"{stage.In}", $"{stage.Out}", $"{stage.Doing}", $"{stage.Input.Size}/{stage.Input.Capacity}", $"{rate:F0}");
            }

            table.Caption($"in {stats.In}, out {stats.Out}, doing {stats.Doing}");
            return table;
        }
    }
}
