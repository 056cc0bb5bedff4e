using Akka.Actor;
using Akka.Configuration;
using Akka.Streams;
using Akka.Streams.Dsl;

namespace JobQ.Dataflow.Benchmarks.Infrastructure;

/// <summary>
/// The chain add1 -> multi2 -> sum in Akka.Streams: Source.From(enumerable), two Selects and an aggregating sink,
/// which Akka fuses into one actor. The actor system and its materializer are created once, with the instance.
/// </summary>
internal sealed class AkkaChain : IDisposable
{
    private readonly ActorSystem _system;
    private readonly ActorMaterializer _materializer;

    /// <summary>Initializes a new instance of the <see cref="AkkaChain"/> class: starts an actor system and its materializer.</summary>
    public AkkaChain()
    {
        _system = ActorSystem.Create(
            "bench",
            ConfigurationFactory.ParseString("akka.loglevel = ERROR\nakka.stdout-loglevel = ERROR\nakka.log-dead-letters = off"));
        _materializer = _system.Materializer();
    }

    /// <summary>Runs the chain over <see cref="Chains.Items"/>.</summary>
    /// <param name="n">The item count.</param>
    /// <returns>The checked sum.</returns>
    public long Run(int n)
    {
        var total = Source.From(Chains.Items(n))
            .Select(Chains.Add1)
            .Select(Chains.Multi2)
            .RunWith(Sink.Aggregate<int, long>(0L, (s, x) => s + x), _materializer)
            .GetAwaiter().GetResult();
        return Chains.Check(total, n);
    }

    /// <summary>Shuts the materializer and the actor system down.</summary>
    public void Dispose()
    {
        _materializer.Dispose();
        _system.Terminate().Wait(TimeSpan.FromSeconds(10));
        _system.Dispose();
    }
}
