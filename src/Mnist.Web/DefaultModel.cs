using System.Globalization;
using Mnist.Core;
using Mnist.Core.Data;
using Mnist.Core.IO;
using Mnist.Core.Models;
using Mnist.Core.Training;
using Mnist.Experiments;

namespace Mnist.Web;

/// <summary>
/// Which model to serve when none is named, so the page works on a fresh clone: the registry's
/// best finished run that still has its model file; else the classic network a previous
/// `mnist serve` or `mnist train` left in results/models/classic; else that network trained for
/// one epoch now (about a minute on two cores), saying so.
/// </summary>
public static class DefaultModel
{
    public const string ModelFileName = "model.safetensors";

    /// <summary>Where the one-epoch classic model is kept (also where `mnist train` writes by default).</summary>
    public static string ClassicPath(string resultsDir) => Path.Combine(resultsDir, "models", "classic", ModelFileName);

    public static string Resolve(ServeOptions options)
    {
        if (options.ModelPath is { } given)
        {
            if (!File.Exists(given) && !Directory.Exists(given)) throw new MnistException($"model file not found: {given}");
            return given;
        }
        if (BestRegistered(options) is { } best)
        {
            options.Log($"no --model given: serving the best run in {best.Registry}, "
                + $"{best.Run.Id} ({best.Run.Spec.Preset}, test accuracy {Percent(best.Run.TestAccuracyOrNull)})");
            return best.Path;
        }
        string classic = ClassicPath(options.ResultsDir);
        if (File.Exists(classic))
        {
            options.Log($"no --model given and no finished run in the registry: serving {classic}");
            return classic;
        }
        options.Log("no --model given and no trained model in " + options.ResultsDir
            + ": training the classic network for one epoch first (about a minute on two cores)");
        TrainClassic(classic, options.DataDir, options.Log);
        return classic;
    }

    /// <summary>The complete run with the highest final test accuracy whose model file exists, with where it is registered.</summary>
    public static (RunRow Run, string Path, string Registry)? BestRegistered(ServeOptions options)
    {
        var location = RegistryLocation.Resolve(options.Registry, options.ResultsDir);
        // A fresh results folder has no registry yet: nothing to say.
        if (location.IsMissingFile) return null;
        Registry registry;
        try
        {
            registry = Registry.OpenExisting(location, options.ResultsDir);
        }
        catch (MnistException e)
        {
            options.Log("ignoring the registry: " + e.Message);
            return null;
        }
        foreach (var run in registry.Runs().Where(r => r.IsComplete && r.TestAccuracyOrNull is not null).OrderByDescending(r => r.TestAccuracyOrNull))
        {
            var path = ResultsFiles.Resolve(options.ResultsDir, run.Folder + "/" + ModelFileName);
            if (path is not null && File.Exists(path)) return (run, path, location.Display);
        }
        return null;
    }

    /// <summary>Trains the classic preset with the default recipe for one epoch and saves it (atomically) at <paramref name="path"/>.</summary>
    public static void TrainClassic(string path, string? dataDir, Action<string> log)
    {
        var data = MnistSource.Load(DataOptions.FromEnvironment(dataDir, log));
        var config = Presets.Create("classic");
        var spec = new TrainingSpec { Epochs = 1 };
        int lastTenth = -1;
        var callbacks = new TrainingCallbacks
        {
            Batch = p =>
            {
                int tenth = p.Samples * 10 / p.EpochSamples;
                if (tenth == lastTenth) return;
                lastTenth = tenth;
                log($"  {tenth * 10}% of the epoch, loss {p.Loss.ToString("F3", CultureInfo.InvariantCulture)}, "
                    + $"{p.ImagesPerSecond.ToString("F0", CultureInfo.InvariantCulture)} images/s");
            },
            Log = log,
        };
        var result = new Trainer(config, spec).Run(data, callbacks);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        ModelFile.Save(path, result.Network, result.Config, result.Normalization, extraMetadata: RunMetadata.Of(result, spec));
        log($"saved {path}: test accuracy {Percent(result.Test.Accuracy)}");
    }

    private static string Percent(double? value) =>
        value is double v ? (v * 100).ToString("F2", CultureInfo.InvariantCulture) + "%" : "unknown";
}
