using JobQ.Dataflow;

Console.WriteLine("# run([0, 1, 2], [add1, printarg])");
JobQueue.Run([0, 1, 2], Workers.Of<int>().Then(Add1).Then(PrintArg));
Console.WriteLine("# run((0, 1, 2), [add1, multi2, printarg])");
JobQueue.Run([0, 1, 2], Workers.Of<int>().Then(Add1).Then(Multi2).Then(PrintArg));
Console.WriteLine("# run(range(3), [add1, (multi2, 2), printarg]), keep_order=True");
JobQueue.Run(Enumerable.Range(0, 3), Workers.Of<int>().Then(Add1).Then(Multi2, 2).Then(PrintArg), keepOrder: true);
Console.WriteLine("# run(range(10), [drop_even_number, printarg])");
JobQueue.Run(Enumerable.Range(0, 10), Workers.Of<int>().Then(DropEvenNumber).Then(PrintArg));
var sw = System.Diagnostics.Stopwatch.StartNew();
var r = JobQueue.Run(Enumerable.Range(0, 1_000_000), Workers.Of<int>().Then(Add1).Then(Multi2).Then(x => { }));
Console.WriteLine($"1M: {sw.Elapsed.TotalMilliseconds} ms {r.Completed} in={r.Stats.In}");
sw.Restart();
r = JobQueue.Run(Enumerable.Range(0, 100), Workers.Of<int>().Then(x => { Thread.Sleep(20); return x; }, 10).Then(x => { }));
Console.WriteLine($"100x20ms/10: {sw.Elapsed.TotalMilliseconds} ms {r.Completed} in={r.Stats.In}");
sw.Restart();
long sum = 0;
r = JobQueue.Run(Enumerable.Range(0, 1_000_000), Workers.Of<int>().Then(Add1).Then(Multi2, 4).Then(x => { sum += x; }), keepOrder: true);
Console.WriteLine($"1M ordered t4: {sw.Elapsed.TotalMilliseconds} ms {r.Completed} in={r.Stats.In} sum={sum}");
var list = new List<int>();
JobQueue.Run(Enumerable.Range(0, 100000), Workers.Of<int>().Then(Add1, 4, x => x).Then(x => list.Add(x)));
Console.WriteLine($"dispatch ordered={list.SequenceEqual(Enumerable.Range(1, 100000))} n={list.Count}");

static int Add1(int args) => args + 1;
static int Multi2(int args) => args * 2;
static void PrintArg(int args) => Console.WriteLine(args);
static WorkerResult<int> DropEvenNumber(int i) => i % 2 == 0 ? JobQueue.EmptyRst : i;
