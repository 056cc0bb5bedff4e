using System.Globalization;
using System.Runtime.CompilerServices;
using JobQ.Dataflow.Internal;
using JobQ.Dataflow.Tests.Support;

// Not "...Tests.Workers": a namespace of that name would hide the JobQ.Dataflow.Workers class from every test.
namespace JobQ.Dataflow.Tests.StageWorkers;

/// <summary>
/// The dedicated threads behind sync lanes and input readers: a thread whose work ended waits a while for the next
/// one, so that back-to-back runs do not pay for creating threads, yet each piece of work still gets a thread of its
/// own, under its starter's execution context, with its own name.
/// </summary>
[TestClass]
public sealed class DedicatedThreadsTests
{
    private static readonly AsyncLocal<string?> Ambient = new();

    [TestMethod]
    public void Start_AfterAThreadWentIdle_ReusesIt()
    {
        var threads = new DedicatedThreads(TimeSpan.FromSeconds(30), maxIdle: 4);
        var first = RunOnce(threads, "first");
        Bounded.Until(() => threads.IdleCount == 1, "the first thread to park");

        var second = RunOnce(threads, "second");

        Assert.AreEqual(first.ThreadId, second.ThreadId, "the idle thread runs the next work");
        Assert.AreEqual("second", second.Name, "a reused thread takes the new work's name");
    }

    [TestMethod]
    public void Start_WhileEveryThreadIsBusy_StartsAnotherThread()
    {
        var threads = new DedicatedThreads(TimeSpan.FromSeconds(30), maxIdle: 4);
        using var release = new ManualResetEventSlim();

        var held = StartHeld(threads, 2, release);
        release.Set();

        Assert.AreNotSame(held[0], held[1]);
    }

    [TestMethod]
    public void Start_ReusedThread_RunsUnderEachStartersExecutionContext()
    {
        var threads = new DedicatedThreads(TimeSpan.FromSeconds(30), maxIdle: 4);
        Ambient.Value = "caller";
        var seen = RunOnce(threads, "with", () => Ambient.Value);
        Bounded.Until(() => threads.IdleCount == 1, "the thread to park");
        string? seenWithout;
        using (ExecutionContext.SuppressFlow())
        {
            seenWithout = RunOnce(threads, "without", () => Ambient.Value).Value;
        }

        Ambient.Value = null;

        Assert.AreEqual("caller", seen.Value, "the starter's async-locals flow into the work");
        Assert.IsNull(seenWithout, "nothing of the previous work's context is left on the reused thread");
    }

    [TestMethod]
    public void Start_WorkChangedItsCulture_NextWorkRunsUnderItsStartersCulture()
    {
        var threads = new DedicatedThreads(TimeSpan.FromSeconds(30), maxIdle: 4);
        var starterCulture = CultureInfo.CurrentCulture.Name;
        var changed = starterCulture == "fr-FR" ? "de-DE" : "fr-FR";
        Thread? firstThread = null;
        var first = RunOnce(threads, "first", () =>
        {
            firstThread = Thread.CurrentThread;
            CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo(changed);
            return CultureInfo.CurrentCulture.Name;
        });
        Bounded.Until(() => threads.IdleCount == 1 || !firstThread!.IsAlive, "the first thread to park or exit");

        var second = RunOnce(threads, "second", () => CultureInfo.CurrentCulture.Name);

        // Whether the thread was reused or retired (a work that changed its context may cost its thread), the next work
        // runs under its own starter's culture.
        Assert.AreEqual(changed, first.Value);
        Assert.AreEqual(starterCulture, second.Value, "a culture one worker set does not leak into the next run's work");
    }

    [TestMethod]
    public void Start_FlowSuppressedWorkChangedItsCulture_NextWorkSeesAFreshThreadsCulture()
    {
        var threads = new DedicatedThreads(TimeSpan.FromSeconds(30), maxIdle: 4);
        string? fresh = null;
        var probe = new Thread(() => fresh = CultureInfo.CurrentCulture.Name);
        probe.Start();
        Assert.IsTrue(probe.Join(Bounded.Limit));
        var changed = fresh == "fr-FR" ? "de-DE" : "fr-FR";
        Thread? firstThread = null;
        string? second;
        using (ExecutionContext.SuppressFlow())
        {
            // Without a starter's context the work runs under the thread's own default one, which it then changes.
            RunOnce(threads, "first", () =>
            {
                firstThread = Thread.CurrentThread;
                CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo(changed);
                return null;
            });
            Bounded.Until(() => threads.IdleCount == 1 || !firstThread!.IsAlive, "the first thread to park or exit");
            second = RunOnce(threads, "second", () => CultureInfo.CurrentCulture.Name).Value;
        }

        Assert.AreEqual(fresh, second, "what one work changed in its context does not reach the next work");
    }

    [TestMethod]
    public void Start_WorkMadeItsThreadForeground_ThreadIsBackgroundAgainWhenReused()
    {
        var threads = new DedicatedThreads(TimeSpan.FromSeconds(30), maxIdle: 4);
        RunOnce(threads, "first", () =>
        {
            Thread.CurrentThread.IsBackground = false;
            return null;
        });
        Bounded.Until(() => threads.IdleCount == 1, "the thread to park");

        var background = RunOnce(threads, "second", () => Thread.CurrentThread.IsBackground ? "yes" : "no");

        Assert.AreEqual("yes", background.Value, "an idle thread never keeps the process alive");
    }

    [TestMethod]
    public void Start_IdleLongerThanTheTimeout_ThreadExits()
    {
        var threads = new DedicatedThreads(TimeSpan.FromMilliseconds(20), maxIdle: 4);
        var box = new StrongBox<Thread?>();
        threads.Start("short", static state => Volatile.Write(ref ((StrongBox<Thread?>)state!).Value, Thread.CurrentThread), box);
        Bounded.Until(() => Volatile.Read(ref box.Value) is not null, "the work to run");
        var thread = box.Value!;

        Assert.IsTrue(thread.Join(Bounded.Limit), "the idle thread exits after its timeout");
        Assert.AreEqual(0, threads.IdleCount);
    }

    [TestMethod]
    public void Start_MoreThreadsEndThanMayIdle_SurplusExits()
    {
        var threads = new DedicatedThreads(TimeSpan.FromSeconds(30), maxIdle: 1);
        using var release = new ManualResetEventSlim();
        var held = StartHeld(threads, 3, release);

        release.Set();

        Bounded.Until(() => held.Count(t => !t.IsAlive) == 2, "two of the three threads to exit");
        Assert.AreEqual(1, threads.IdleCount, "one thread waits for work, as allowed");
    }

    /// <summary>Starts <paramref name="count"/> pieces of work that each wait for <paramref name="release"/>; returns their threads once all run.</summary>
    private static Thread[] StartHeld(DedicatedThreads threads, int count, ManualResetEventSlim release)
    {
        using var allRunning = new CountdownEvent(count);
        var started = new Thread[count];
        for (var i = 0; i < count; i++)
        {
            threads.Start("held", static state =>
            {
                var (index, started, allRunning, release) = ((int, Thread[], CountdownEvent, ManualResetEventSlim))state!;
                started[index] = Thread.CurrentThread;
                allRunning.Signal();
                release.Wait(Bounded.Limit);
            }, (i, started, allRunning, release));
        }

        if (!allRunning.Wait(Bounded.Limit))
        {
            release.Set();
            Assert.Fail($"{count} pieces of work did not all run at once, each on a thread of its own.");
        }

        return started;
    }

    private static (int ThreadId, string? Name, string? Value) RunOnce(DedicatedThreads threads, string name, Func<string?>? probe = null)
    {
        var done = new TaskCompletionSource<(int, string?, string?)>(TaskCreationOptions.RunContinuationsAsynchronously);
        threads.Start(name, static state =>
        {
            var (done, probe) = ((TaskCompletionSource<(int, string?, string?)>, Func<string?>?))state!;
            done.SetResult((Environment.CurrentManagedThreadId, Thread.CurrentThread.Name, probe?.Invoke()));
        }, (done, probe));
        return done.Task.WaitAsync(Bounded.Limit).GetAwaiter().GetResult();
    }
}
