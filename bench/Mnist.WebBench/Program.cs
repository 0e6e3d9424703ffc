// A loopback load generator for POST /api/predict: N requests, C at a time, against a running
// server (`mnist serve`). Reports latency percentiles of the answered predictions (200), how many
// were refused as overload (503/429 with Retry-After, counted apart, not as errors), throughput
// and, given the server's process id, its resident memory. Bounded in count and in time.
//
//   dotnet bench/Mnist.WebBench/bin/Release/net10.0/Mnist.WebBench.dll --url http://127.0.0.1:5000 \
//       [-n 20000] [-c 4] [--warmup 1000] [--payload pixels|png] [--max-seconds 120] [--pid <server pid>]
//       [--backoff yes|no]
// --backoff yes: a client told 503/429 with Retry-After waits that long before its next request, as
// a real client should; no (the default) asks again at once, the harshest load.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Mnist.Core.Data;
using Mnist.Imaging;

var settings = Settings.Parse(args);
var payloads = Payloads.Build(settings);
Console.WriteLine($"target {settings.Url}/api/predict: {settings.Requests} requests, {settings.Concurrency} at a time, "
    + $"{settings.Payload} payloads ({payloads.Bodies[0].Length} bytes each, {payloads.Source}), {Environment.ProcessorCount} cores"
    + (settings.Backoff ? ", refused clients wait Retry-After" : ""));

using var client = new HttpClient(new SocketsHttpHandler
{
    MaxConnectionsPerServer = settings.Concurrency,
    PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
    AutomaticDecompression = DecompressionMethods.None,
    UseProxy = false,
})
{ BaseAddress = new Uri(settings.Url), Timeout = TimeSpan.FromSeconds(30) };

await Load.Run(client, payloads, settings.Warmup, settings.Concurrency, TimeSpan.FromSeconds(settings.MaxSeconds), null, settings.Backoff);
var memory = new MemoryWatch(settings.Pid);
memory.Start();
var result = await Load.Run(client, payloads, settings.Requests, settings.Concurrency, TimeSpan.FromSeconds(settings.MaxSeconds), memory, settings.Backoff);
memory.Stop();
result.Print(memory);
return result.Errors == 0 ? 0 : 1;

sealed record Settings(string Url, int Requests, int Concurrency, int Warmup, string Payload, double MaxSeconds, int? Pid, string? DataDir, bool Backoff)
{
    public static Settings Parse(string[] args)
    {
        var map = new Dictionary<string, string>();
        for (int i = 0; i + 1 < args.Length; i += 2) map[args[i].TrimStart('-')] = args[i + 1];
        string Get(string key, string fallback) => map.GetValueOrDefault(key, fallback);
        int Int(string key, int fallback) => int.Parse(Get(key, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
        var settings = new Settings(
            Get("url", "http://127.0.0.1:5000").TrimEnd('/'), Int("n", 20000), Int("c", 4), Int("warmup", 1000),
            Get("payload", "pixels"), double.Parse(Get("max-seconds", "120"), CultureInfo.InvariantCulture),
            map.TryGetValue("pid", out var pid) ? int.Parse(pid, CultureInfo.InvariantCulture) : null,
            map.GetValueOrDefault("data-dir") ?? Environment.GetEnvironmentVariable("MNIST_DATA"),
            Get("backoff", "no") == "yes");
        if (settings.Requests < 1 || settings.Requests > 1_000_000 || settings.Concurrency < 1 || settings.Concurrency > 256)
            throw new ArgumentException("-n must be 1..1000000 and -c 1..256");
        if (settings.Payload is not ("pixels" or "png")) throw new ArgumentException("--payload is pixels or png");
        return settings;
    }
}

/// <summary>Request bodies: real MNIST test digits when the data is at hand (pixels as JSON, or drawn 10× as PNG data URLs).</summary>
sealed record Payloads(byte[][] Bodies, int[] Labels, string Source)
{
    public static Payloads Build(Settings settings)
    {
        const int count = 500;
        var images = new float[count][];
        var labels = new int[count];
        string source;
        if (settings.DataDir is { } dir && Directory.Exists(dir))
        {
            var test = MnistDataset.Load(dir).Test;
            for (int i = 0; i < count; i++)
            {
                images[i] = test.Image(i).ToArray().Select(b => b / 255f).ToArray();
                labels[i] = test.Labels[i];
            }
            source = "MNIST test digits";
        }
        else
        {
            // No data: vertical strokes (ones) at varying positions, so the server still does real work.
            for (int i = 0; i < count; i++)
            {
                images[i] = new float[784];
                for (int y = 4 + i % 3; y < 24; y++) images[i][y * 28 + 10 + i % 8] = 1f;
                labels[i] = 1;
            }
            source = "synthetic strokes";
        }
        var bodies = images.Select(pixels => settings.Payload == "pixels"
            ? Encoding.UTF8.GetBytes("{\"pixels\":[" + string.Join(",", pixels.Select(p => p.ToString("0.###", CultureInfo.InvariantCulture))) + "]}")
            : Encoding.UTF8.GetBytes("{\"image\":\"" + GreyPng.ToDataUrl(Drawn(pixels)) + "\"}")).ToArray();
        return new Payloads(bodies, labels, source);
    }

    /// <summary>The digit scaled up 10× (nearest neighbour), black on white, as a PNG: a drawing from the page.</summary>
    private static byte[] Drawn(float[] pixels)
    {
        var ink = new float[784];
        for (int i = 0; i < ink.Length; i++) ink[i] = pixels[i];
        return GreyPng.EncodeUnit(ink, 28, 28, scale: 10, darkInk: true);
    }
}

/// <summary>Samples the server's resident memory (VmRSS) every 50 ms while the load runs.</summary>
sealed class MemoryWatch(int? pid)
{
    private Timer? _timer;
    public long PeakRssBytes { get; private set; }
    public long HighWaterBytes { get; private set; }

    public void Start()
    {
        if (pid is null) return;
        _timer = new Timer(_ => Sample(), null, 0, 50);
    }

    public void Stop()
    {
        _timer?.Dispose();
        Sample();
        if (pid is int id && Read(id, "VmHWM:") is long hwm) HighWaterBytes = hwm;
    }

    private void Sample()
    {
        if (pid is int id && Read(id, "VmRSS:") is long rss) PeakRssBytes = Math.Max(PeakRssBytes, rss);
    }

    private static long? Read(int pid, string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith(field, StringComparison.Ordinal))
                    return long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException) { }
        return null;
    }
}

sealed record LoadResult(int Requests, int Errors, int Refused, int Correct, double Seconds, double[] LatenciesMs, string? FirstError)
{
    public void Print(MemoryWatch memory)
    {
        var sorted = LatenciesMs.Order().ToArray();
        double P(double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
        string F(double v) => v.ToString("F2", CultureInfo.InvariantCulture);
        int answered = Requests - Errors - Refused;
        Console.WriteLine($"requests {Requests}, errors {Errors}, refused as overload {Refused}, in {F(Seconds)} s: "
            + $"{(answered / Seconds).ToString("F0", CultureInfo.InvariantCulture)} predictions/s");
        Console.WriteLine($"latency ms of the {answered} predictions: p50 {F(P(0.50))}  p90 {F(P(0.90))}  p99 {F(P(0.99))}  p99.9 {F(P(0.999))}  max {F(sorted.LastOrDefault())}");
        Console.WriteLine($"answers equal to the label: {Correct}/{answered}");
        if (memory.PeakRssBytes > 0)
            Console.WriteLine($"server resident memory: peak during the run {memory.PeakRssBytes / (1 << 20)} MB, high-water mark since start {memory.HighWaterBytes / (1 << 20)} MB");
        if (FirstError is not null) Console.WriteLine("first error: " + FirstError);
    }
}

static class Load
{
    public static async Task<LoadResult> Run(HttpClient client, Payloads payloads, int requests, int concurrency, TimeSpan limit, MemoryWatch? memory, bool backoff)
    {
        var latencies = new double[requests];
        Array.Fill(latencies, double.NaN);
        int next = -1, errors = 0, refused = 0, correct = 0, done = 0;
        string? firstError = null;
        var clock = Stopwatch.StartNew();
        async Task Worker()
        {
            while (clock.Elapsed < limit)
            {
                int i = Interlocked.Increment(ref next);
                if (i >= requests) return;
                int which = i % payloads.Bodies.Length;
                long start = Stopwatch.GetTimestamp();
                try
                {
                    using var content = new ByteArrayContent(payloads.Bodies[which]);
                    content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
                    using var response = await client.PostAsync("/api/predict", content);
                    var body = await response.Content.ReadAsByteArrayAsync();
                    if (response.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests
                        && response.Headers.RetryAfter?.Delta is { } wait)
                    {
                        Interlocked.Increment(ref refused);
                        if (backoff) await Task.Delay(wait);
                    }
                    else if (response.StatusCode != HttpStatusCode.OK)
                    {
                        Interlocked.Increment(ref errors);
                        Interlocked.CompareExchange(ref firstError, $"{(int)response.StatusCode} {Encoding.UTF8.GetString(body)}", null);
                    }
                    else
                    {
                        latencies[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                        if (Digit(body) == payloads.Labels[which]) Interlocked.Increment(ref correct);
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    Interlocked.Increment(ref errors);
                    Interlocked.CompareExchange(ref firstError, e.Message, null);
                }
                Interlocked.Increment(ref done);
            }
        }
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(Worker)));
        double seconds = clock.Elapsed.TotalSeconds;
        return new LoadResult(done, errors, refused, correct, seconds, latencies[..done].Where(double.IsFinite).ToArray(), firstError);
    }

    private static int Digit(byte[] body)
    {
        var marker = "\"digit\":"u8;
        int at = body.AsSpan().IndexOf(marker);
        return at < 0 ? -1 : body[at + marker.Length] - (byte)'0';
    }
}
