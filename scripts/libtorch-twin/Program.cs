// The LibTorch twin: trains the network of one of our model configs with TorchSharp (LibTorch
// 2.10) the way `mnist train` does (same data and normalisation, batch size, optimizer and
// one-cycle schedule), and prints one JSON line per epoch, as scripts/pytorch_twin.py's train
// mode does, for `mnist bench --compare-libtorch`. A benchmark reference only: start it with
// run.sh, which supplies the newer C++ runtime that LibTorch needs.
using System.Diagnostics;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

try
{
    var options = Options.Parse(args);
    return Twin.Train(options);
}
catch (Exception e) when (e is ArgumentException or FormatException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

sealed record Options(string Config, string DataDir, int Epochs, int BatchSize, double LearningRate, string Optimizer,
    double Momentum, bool OneCycle, long Seed, int? Limit)
{
    private const string Usage =
        "usage: LibTorchTwin train --config model.json --data-dir mnist [--epochs 1] [--batch-size 64] [--lr 0.01]\n" +
        "       [--optimizer sgd|momentum|nesterov|adam] [--momentum 0.9] [--one-cycle] [--seed 1] [--limit N]";

    public static Options Parse(string[] args)
    {
        if (args.Length == 0 || args[0] != "train") throw new ArgumentException(Usage);
        var values = new Dictionary<string, string>();
        bool oneCycle = false;
        for (int i = 1; i < args.Length; i++)
        {
            if (args[i] == "--one-cycle") oneCycle = true;
            else if (args[i].StartsWith("--") && i + 1 < args.Length) values[args[i][2..]] = args[++i];
            else throw new ArgumentException($"unexpected argument {args[i]}\n{Usage}");
        }
        string Get(string name, string? fallback = null) =>
            values.Remove(name, out var v) ? v : fallback ?? throw new ArgumentException($"--{name} is required\n{Usage}");
        string optimizer = Get("optimizer", "momentum");
        var options = new Options(Get("config"), Get("data-dir"), int.Parse(Get("epochs", "1")), int.Parse(Get("batch-size", "64")),
            double.Parse(Get("lr", "0.01")), optimizer, optimizer == "sgd" ? 0 : double.Parse(Get("momentum", "0.9")), oneCycle,
            long.Parse(Get("seed", "1")), values.ContainsKey("limit") ? int.Parse(Get("limit")) : null);
        if (values.Count > 0) throw new ArgumentException($"unknown option --{values.Keys.First()}\n{Usage}");
        return options;
    }
}

static class Twin
{
    public static int Train(Options o)
    {
        torch.set_num_threads(int.Parse(Environment.GetEnvironmentVariable("TWIN_THREADS") ?? "2"));
        torch.manual_seed(o.Seed);
        var (x, y) = MnistFiles.Load(o.DataDir, "train");
        if (o.Limit is int limit && limit < x.shape[0]) (x, y) = (x[..limit], y[..limit]);
        // Normalised by the training images' mean and standard deviation, as our Trainer does.
        var (mean, std) = MnistFiles.Statistics(x);
        x = (x - mean) / std;
        var (tx, ty) = MnistFiles.Load(o.DataDir, "t10k");
        tx = (tx - mean) / std;

        using var config = JsonDocument.Parse(File.ReadAllText(o.Config));
        var model = Network.Build(config.RootElement);
        long n = x.shape[0];
        // Batch norm cannot normalise a batch of one: such a last batch is left out, as ours does.
        bool batchNorm = model.modules().Any(m => m is TorchSharp.Modules.BatchNorm);
        long count = batchNorm && n % o.BatchSize == 1 && n > 1 ? n - 1 : n;
        int steps = o.Epochs * (int)((count + o.BatchSize - 1) / o.BatchSize);
        optim.Optimizer optimizer = o.Optimizer switch
        {
            "adam" => optim.Adam(model.parameters(), o.LearningRate),
            "sgd" or "momentum" or "nesterov" => optim.SGD(model.parameters(), o.LearningRate, o.Momentum, nesterov: o.Optimizer == "nesterov"),
            _ => throw new ArgumentException($"unknown optimizer {o.Optimizer}"),
        };
        var schedule = o.OneCycle ? optim.lr_scheduler.OneCycleLR(optimizer, o.LearningRate, total_steps: steps) : null;
        var loss = nn.CrossEntropyLoss();
        for (int epoch = 1; epoch <= o.Epochs; epoch++)
        {
            model.train();
            var order = randperm(n);
            var clock = Stopwatch.StartNew();
            for (long start = 0; start < count; start += o.BatchSize)
            {
                using var scope = NewDisposeScope();
                var batch = order.slice(0, start, Math.Min(start + o.BatchSize, count), 1);
                optimizer.zero_grad();
                loss.forward(model.forward(x.index_select(0, batch)), y.index_select(0, batch)).backward();
                optimizer.step();
                schedule?.step();
            }
            double seconds = clock.Elapsed.TotalSeconds;
            Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["epoch"] = epoch, ["seconds"] = seconds, ["images_per_second"] = count / seconds,
                ["test_accuracy"] = Accuracy(model, tx, ty),
            }));
        }
        return 0;
    }

    private static double Accuracy(nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels)
    {
        model.eval();
        using var noGrad = no_grad();
        long correct = 0, n = images.shape[0];
        for (long start = 0; start < n; start += 1000)
        {
            using var scope = NewDisposeScope();
            long end = Math.Min(start + 1000, n);
            correct += model.forward(images.slice(0, start, end, 1)).argmax(1).eq(labels.slice(0, start, end, 1)).sum().item<long>();
        }
        return (double)correct / n;
    }
}
