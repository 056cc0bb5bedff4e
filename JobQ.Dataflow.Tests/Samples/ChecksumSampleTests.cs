using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using JobQ.Dataflow.Samples;

namespace JobQ.Dataflow.Tests.Samples;

/// <summary>
/// The checksum sample leaves nothing behind: the tree and temporary files it creates go (also when it fails or is
/// cancelled), a given directory is only read, and a manifest path gets the manifest only when the run succeeds.
/// </summary>
[TestClass]
public sealed partial class ChecksumSampleTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    // The sample's own scratch folder (its tree and temporary files go there), and a user's tree; both fresh per test.
    private string _scratch = string.Empty;
    private string _tree = string.Empty;

    [TestInitialize]
    public void CreateFolders()
    {
        _scratch = Directory.CreateTempSubdirectory("jobq-checksum-scratch-").FullName;
        _tree = Directory.CreateTempSubdirectory("jobq-checksum-tree-").FullName;
        Directory.CreateDirectory(Path.Combine(_tree, "sub"));
        File.WriteAllText(Path.Combine(_tree, "a.txt"), "hello");
        File.WriteAllText(Path.Combine(_tree, "sub", "b.txt"), "jobq");
    }

    [TestCleanup]
    public void DeleteFolders()
    {
        Directory.Delete(_scratch, recursive: true);
        Directory.Delete(_tree, recursive: true);
    }

    [TestMethod]
    public async Task RunAsync_NoDirectoryNoManifestPath_ShowsTheManifestAndLeavesNothingBehind()
    {
        var text = await RunTextAsync(new ChecksumSample { ScratchRoot = _scratch });

        StringAssert.Contains(text, "files hashed: 160,");
        StringAssert.Contains(text, "manifest: 160 lines, not kept (--out FILE keeps it); the first 3:\n");
        Assert.HasCount(3, Sha256Line().Matches(text), text);
        CollectionAssert.AreEqual(Array.Empty<string>(), Entries(_scratch), "the tree and the manifest are removed");
    }

    [TestMethod]
    public async Task RunAsync_GivenDirectory_OnlyReadsItAndLeavesNothingBehind()
    {
        var before = Snapshot(_tree);

        var text = await RunTextAsync(new ChecksumSample(_tree) { ScratchRoot = _scratch });

        StringAssert.Contains(text, "files hashed: 2,");
        CollectionAssert.AreEqual(before, Snapshot(_tree), "the user's tree is as it was");
        CollectionAssert.AreEqual(Array.Empty<string>(), Entries(_scratch), "the temporary manifest is removed");
    }

    [TestMethod]
    public async Task RunAsync_CancelledAfterCreatingItsTree_RemovesEverythingItCreated()
    {
        using var cancellation = new CancellationTokenSource();
        using var output = new CancelOnText("created a sample tree", cancellation) { NewLine = "\n" };

        await Assert.ThrowsAsync<OperationCanceledException>(
            () => new ChecksumSample { ScratchRoot = _scratch }.RunAsync(output, cancellation.Token).WaitAsync(Bound));

        Assert.IsTrue(cancellation.IsCancellationRequested, output.ToString());
        CollectionAssert.AreEqual(Array.Empty<string>(), Entries(_scratch), output.ToString());
    }

    [TestMethod]
    public async Task RunAsync_CancelledWithAManifestPath_LeavesTheOldManifestAsItWas()
    {
        var manifest = Path.Combine(_scratch, "manifest.sha256");
        await File.WriteAllTextAsync(manifest, "old\n");
        using var cancellation = new CancellationTokenSource();
        using var output = new CancelOnText("hashing:", cancellation) { NewLine = "\n" };

        await Assert.ThrowsAsync<OperationCanceledException>(
            () => new ChecksumSample(_tree, manifest) { ScratchRoot = _scratch }.RunAsync(output, cancellation.Token).WaitAsync(Bound));

        Assert.AreEqual("old\n", await File.ReadAllTextAsync(manifest));
        CollectionAssert.AreEqual(new[] { "manifest.sha256" }, Entries(_scratch), "no temporary file is left next to it");
    }

    [TestMethod]
    public async Task RunAsync_ManifestPathInAMissingFolder_ThrowsBeforeCreatingAnything()
    {
        var manifest = Path.Combine(_scratch, "missing", "manifest.sha256");

        var thrown = await Assert.ThrowsExactlyAsync<DirectoryNotFoundException>(() => RunTextAsync(new ChecksumSample(manifestPath: manifest) { ScratchRoot = _scratch }));

        Assert.AreEqual($"no such directory for the manifest: {Path.GetDirectoryName(manifest)}", thrown.Message);

        CollectionAssert.AreEqual(Array.Empty<string>(), Entries(_scratch));
    }

    [TestMethod]
    public async Task RunAsync_ManifestPathInsideTheTree_IsNotHashedAndIsTheOnlyFileWritten()
    {
        var before = Snapshot(_tree);
        var manifest = Path.Combine(_tree, "manifest.sha256");

        var text = await RunTextAsync(new ChecksumSample(_tree, manifest) { ScratchRoot = _scratch });

        StringAssert.Contains(text, "files hashed: 2,");
        var hashed = (await File.ReadAllLinesAsync(manifest)).Select(l => l["0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  ".Length..]);
        CollectionAssert.AreEqual(new[] { "a.txt", Path.Combine("sub", "b.txt") }, hashed.Order(StringComparer.Ordinal).ToArray());
        CollectionAssert.AreEqual(before, Snapshot(_tree).Where(e => !e.StartsWith("manifest.sha256 ", StringComparison.Ordinal)).ToArray(), "nothing else changed");
        CollectionAssert.AreEqual(Array.Empty<string>(), Entries(_scratch));
    }

    private static async Task<string> RunTextAsync(ISample sample)
    {
        using var output = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        await sample.RunAsync(output).WaitAsync(Bound);
        return output.ToString();
    }

    // The names of the entries directly in a folder.
    private static string[] Entries(string folder) =>
        [.. Directory.EnumerateFileSystemEntries(folder).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal)];

    // Every file and folder under a tree, with each file's length and last write time.
    private static string[] Snapshot(string root) =>
        [.. Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories)
            .Select(p => File.Exists(p)
                ? $"{Path.GetRelativePath(root, p)} {new FileInfo(p).Length} {File.GetLastWriteTimeUtc(p):O}"
                : Path.GetRelativePath(root, p))
            .Order(StringComparer.Ordinal)];

    [GeneratedRegex(@"(?m)^[0-9a-f]{64}  (docs|images|src)/")]
    private static partial Regex Sha256Line();

    // A writer that cancels a token once its text contains a marker, so a test can stop a sample at a known point.
    private sealed class CancelOnText(string marker, CancellationTokenSource cancellation) : StringWriter(new StringBuilder(), CultureInfo.InvariantCulture)
    {
        public override void Write(char value)
        {
            base.Write(value);
            CancelOnMarker();
        }

        public override void Write(string? value)
        {
            base.Write(value);
            CancelOnMarker();
        }

        public override void Write(char[] buffer, int index, int count)
        {
            base.Write(buffer, index, count);
            CancelOnMarker();
        }

        private void CancelOnMarker()
        {
            if (!cancellation.IsCancellationRequested && GetStringBuilder().ToString().Contains(marker, StringComparison.Ordinal))
            {
                cancellation.Cancel();
            }
        }
    }
}
