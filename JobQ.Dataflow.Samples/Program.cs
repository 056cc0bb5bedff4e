using JobQ.Dataflow.Samples;

// dotnet run --project JobQ.Dataflow.Samples [-- NAME... | all] [--dir DIR] [--out FILE]; see SamplesCommand.
return await SamplesCommand.InvokeAsync(args, Console.Out, Console.Error);
