using Mnist.Core.Backends;
using Mnist.Core.GradCheck;
using Mnist.Core.IO.Onnx;
using Mnist.Core.Models;
using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>Dropout with drop probability <paramref name="P"/>.</summary>
public sealed record DropoutSpec(float P) : LayerSpec;

/// <summary>"dropout": a <see cref="Dropout"/> with a random key of its own, drawn from the model's seed.</summary>
internal sealed class DropoutKind : LayerKind<DropoutSpec, Dropout>
{
    public override string Name => "dropout";

    protected override Dropout Build(DropoutSpec s, LayerContext context) => new(s.P, context.NewRandomKey(), context.Backend);

    private protected override long CheckedParameters(DropoutSpec s, int[] inputShape) => 0;

    /// <summary>Reuses the mask of the layer's last training pass.</summary>
    private protected override Float64Tensor Float64(Dropout drop, Float64Tensor input, Float64Pass pass)
    {
        var x = input.Values;
        if (!pass.Training || drop.P == 0f) return input;
        var mask = drop.LastMask;
        if (mask is null || mask.Length != x.Length) throw new InvalidOperationException("run the model's training forward pass first: the reference reuses its dropout mask");
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = x[i] * mask[i];
        return input with { Values = y };
    }

    /// <summary>The identity: an exported model is used for inference only.</summary>
    private protected override string ToOnnx(Dropout layer, OnnxExporter onnx, OnnxValue x, string name) => x.Name;

    internal override IEnumerable<LayerCheck> Checks =>
    [
        new("dropout in evaluation", b => new Dropout(0.5f, 1, backend: b), LayerCheck.Gaussian(0f, 3, 10), Training: false),
        // Every float32 pass draws the same mask; the float64 reference reuses the layer's.
        new("dropout in training with a fixed mask", b => new Dropout(0.4f, 9, backend: b), () => RandomInputs.Gaussian(4, 0f, 3, 20),
            BeforeForward: layer => ((Dropout)layer).Reseed(9, 0)),
    ];
}

/// <summary>
/// Inverted dropout: in training each element is kept with probability 1 − p and scaled by
/// 1/(1 − p), so evaluation is the identity. The mask comes from the layer's own counter-based
/// random stream (<see cref="RandomStream"/>: a key, the layer's stream number and a counter;
/// reseeded by the trainer every epoch), so a seed fixes every mask of a run on every backend.
/// </summary>
public sealed class Dropout : Layer
{
    private readonly Tensor _output;
    private readonly Tensor _mask;
    private readonly Tensor _gradInput;
    private bool _masked;

    /// <param name="seed">The stream's key until the trainer reseeds it (masks differ between keys).</param>
    public Dropout(float p, ulong seed, Backend? backend = null) : base(backend)
    {
        if (!(p >= 0f && p < 1f)) throw new MnistException($"dropout probability must be in [0, 1) (got {p})");
        P = p;
        Seed = seed;
        _output = OwnedBuffers.Empty(Backend);
        _mask = OwnedBuffers.Empty(Backend);
        _gradInput = OwnedBuffers.Empty(Backend);
    }

    public float P { get; }

    /// <summary>The stream's key and index (see <see cref="RandomStream"/>), set by <see cref="Reseed"/>.</summary>
    public ulong Seed { get; private set; }
    public ulong Stream { get; private set; }

    /// <summary>Random numbers drawn since the stream was seeded.</summary>
    public ulong Counter { get; private set; }

    /// <summary>Starts the masks afresh from <paramref name="seed"/>: the trainer's per-epoch stream <paramref name="stream"/>.</summary>
    public void Reseed(ulong seed, ulong stream) => (Seed, Stream, Counter) = (seed, stream, 0);

    /// <summary>The last training pass's mask (0 or 1/(1 − p) per element), for the float64 reference; null without one.</summary>
    internal float[]? LastMask => _masked ? _mask.ToArray() : null;

    public override int[] OutputShape(int[] inputShape) => inputShape;

    public override Tensor Forward(Tensor input, bool training)
    {
        _masked = training && P > 0f;
        // Evaluation: identity, handing the input itself on.
        if (!_masked) return input;
        var mask = OwnedBuffers.ShapeLike(_mask, input);
        var y = OwnedBuffers.ShapeLike(_output, input);
        Backend.DropoutForward(input, mask, P, new RandomStream(Seed, Stream, Counter), y);
        Counter += (ulong)mask.Length;
        return y;
    }

    public override Tensor Backward(Tensor gradOutput)
    {
        if (!_masked) return gradOutput;
        if (!ComputeInputGradient) return _gradInput;
        var dx = OwnedBuffers.ShapeLike(_gradInput, gradOutput);
        Backend.Multiply(gradOutput, _mask, dx);
        return dx;
    }

    public override string ToString() => $"Dropout({P})";
}
