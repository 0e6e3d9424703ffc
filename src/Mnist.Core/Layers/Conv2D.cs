using Mnist.Core.Backends;
using Mnist.Core.GradCheck;
using Mnist.Core.IO.Onnx;
using Mnist.Core.Kernels;
using Mnist.Core.Models;
using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>Convolution with <paramref name="Out"/> channels and a square kernel.</summary>
public sealed record Conv2DSpec(int Out, int Kernel = 3, int Stride = 1, int Pad = 0, bool Bias = true) : LayerSpec;

/// <summary>"conv2d": a <see cref="Conv2D"/> over the input's channels.</summary>
internal sealed class Conv2DKind : LayerKind<Conv2DSpec, Conv2D>
{
    public override string Name => "conv2d";

    protected override Conv2D Build(Conv2DSpec s, LayerContext context) =>
        new(context.ImageChannels(Name), s.Out, s.Kernel, s.Stride, s.Pad, s.Bias, context.Backend);

    private protected override long CheckedParameters(Conv2DSpec s, int[] inputShape)
    {
        ModelLimits.CheckSettings(s.Out, s.Kernel, s.Stride, s.Pad);
        return ModelLimits.Product(s.Out, ModelLimits.Channels(inputShape), s.Kernel, s.Kernel) + s.Out;
    }

    private protected override Float64Tensor Float64(Conv2D c, Float64Tensor input, Float64Pass pass)
    {
        var x = input.Values;
        int n = input.Batch, ch = input.Shape[1], h = input.Shape[2], w = input.Shape[3];
        int k = c.Kernel, s = c.Stride, p = c.Padding, o = c.OutChannels;
        int oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
        var wt = c.Weight.Value.ToArray();
        var bias = c.Bias?.Value.ToArray();
        var y = new double[n * o * oh * ow];
        for (int b = 0; b < n; b++)
            for (int oc = 0; oc < o; oc++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        double sum = bias is null ? 0 : bias[oc];
                        for (int ic = 0; ic < ch; ic++)
                            for (int ky = 0; ky < k; ky++)
                            {
                                int iy = oy * s - p + ky;
                                if (iy < 0 || iy >= h) continue;
                                for (int kx = 0; kx < k; kx++)
                                {
                                    int ix = ox * s - p + kx;
                                    if (ix < 0 || ix >= w) continue;
                                    sum += wt[((oc * ch + ic) * k + ky) * k + kx] * x[((b * ch + ic) * h + iy) * w + ix];
                                }
                            }
                        y[((b * o + oc) * oh + oy) * ow + ox] = sum;
                    }
        return new(y, [n, o, oh, ow]);
    }

    private protected override string ToOnnx(Conv2D c, OnnxExporter onnx, OnnxValue x, string name)
    {
        string[] inputs = c.Bias is null ? [x.Name, onnx.Weight(name, c.Weight)] : [x.Name, onnx.Weight(name, c.Weight), onnx.Weight(name, c.Bias)];
        return onnx.Graph.Node("Conv", inputs,
            OnnxAttribute.Of("kernel_shape", c.Kernel, c.Kernel),
            OnnxAttribute.Of("strides", c.Stride, c.Stride),
            OnnxAttribute.Of("pads", c.Padding, c.Padding, c.Padding, c.Padding));
    }

    internal override IEnumerable<LayerCheck> Checks =>
    [
        new("conv2d 3x3 stride 1 pad 1", b => new Conv2D(2, 3, 3, 1, 1, backend: b), LayerCheck.Gaussian(0f, 2, 2, 5, 5)),
        new("conv2d 5x5 stride 2 pad 2", b => new Conv2D(2, 3, 5, 2, 2, backend: b), LayerCheck.Gaussian(0f, 2, 2, 7, 6)),
        new("conv2d 1x1 stride 2 without bias", b => new Conv2D(3, 2, 1, 2, 0, false, backend: b), LayerCheck.Gaussian(0f, 2, 3, 5, 5)),
        new("conv2d 2x2 stride 3 no pad", b => new Conv2D(1, 2, 2, 3, 0, backend: b), LayerCheck.Gaussian(0f, 3, 1, 8, 8)),
        // 3×3 stride 1 runs Winograd F(2×2, 3×3) on the CPU from 8 channels (its weight gradient
        // from 16); odd sides leave partial tiles.
        new("conv2d 3x3 pad 1, 8 to 9 channels (Winograd)", b => new Conv2D(8, 9, 3, 1, 1, backend: b), LayerCheck.Gaussian(0f, 2, 8, 5, 7)),
        new("conv2d 3x3 no pad, 16 to 17 channels (Winograd, weight gradient too)", b => new Conv2D(16, 17, 3, 1, 0, backend: b), LayerCheck.Gaussian(0f, 2, 16, 7, 6)),
    ];
}

/// <summary>
/// 2-D convolution over NCHW images: square kernel, any stride and zero padding; weights
/// [out, in, k, k] (PyTorch layout) and an optional bias per output channel.
/// </summary>
public sealed class Conv2D : Layer, IInitializable
{
    private readonly Workspace _workspace = new();
    private readonly Tensor _output;
    private readonly Tensor _gradInput;
    private Tensor? _input;
    private ConvGeometry _geometry;
    private readonly Tensor? _zeroBias, _unusedBiasGrad;

    public Conv2D(int inChannels, int outChannels, int kernel, int stride = 1, int padding = 0, bool bias = true,
        Backend? backend = null) : base(backend)
    {
        if (inChannels < 1 || outChannels < 1 || kernel < 1 || stride < 1 || padding < 0)
            throw new MnistException($"conv2d needs positive channels, kernel and stride and a non-negative padding (got in {inChannels}, out {outChannels}, kernel {kernel}, stride {stride}, pad {padding})");
        InChannels = inChannels;
        OutChannels = outChannels;
        Kernel = kernel;
        Stride = stride;
        Padding = padding;
        Weight = new Parameter("weight", new Tensor(Backend, outChannels, inChannels, kernel, kernel));
        Bias = bias ? new Parameter("bias", new Tensor(Backend, outChannels)) { Decay = false } : null;
        // Without a bias (a convolution followed by batch norm) the kernels get zeros to add and
        // a scratch tensor to write the unused bias gradient into.
        if (!bias) (_zeroBias, _unusedBiasGrad) = (new Tensor(Backend, outChannels), new Tensor(Backend, outChannels));
        _output = OwnedBuffers.Empty(Backend);
        _gradInput = OwnedBuffers.Empty(Backend);
    }

    public int InChannels { get; }
    public int OutChannels { get; }
    public int Kernel { get; }
    public int Stride { get; }
    public int Padding { get; }
    public Parameter Weight { get; }
    public Parameter? Bias { get; }

    public override IEnumerable<Parameter> Parameters => Bias is null ? [Weight] : [Weight, Bias];

    public override int[] OutputShape(int[] inputShape)
    {
        if (inputShape.Length != 3) throw new MnistException($"{this} expects [{InChannels}, H, W] inputs but got {Tensor.ShapeText(inputShape)}");
        var g = Geometry(inputShape[0], inputShape[1], inputShape[2], 3);
        return [OutChannels, g.OutH, g.OutW];
    }

    public override Tensor Forward(Tensor input, bool training)
    {
        var y = Prepare(input);
        Backend.ConvForward(_geometry, OutChannels, input.Dim(0), input, Weight.Value, Bias?.Value ?? _zeroBias!, y, _workspace);
        return y;
    }

    /// <summary>
    /// This layer's Forward and then <paramref name="pool"/>'s on its output, as one pass where the
    /// backend fuses the two (the same results; this layer's output, read by nothing but the pooling,
    /// is then never written). Backward is the two layers' own, unchanged.
    /// </summary>
    internal Tensor ForwardPooled(Tensor input, MaxPool2D pool, bool training)
    {
        var y = Prepare(input);
        var (pooled, argmax, geometry) = pool.Prepare(y);
        if (Backend.ConvMaxPoolForward(_geometry, OutChannels, input.Dim(0), input, Weight.Value, Bias?.Value ?? _zeroBias!,
                geometry, pooled, argmax, _workspace))
            return pooled;
        Backend.ConvForward(_geometry, OutChannels, input.Dim(0), input, Weight.Value, Bias?.Value ?? _zeroBias!, y, _workspace);
        return pool.Forward(y, training);
    }

    /// <summary>
    /// <paramref name="pool"/>'s Backward and then this layer's, as one pass where the backend fuses
    /// them: for a first layer (no input gradient), whose weight gradient the backend can take from
    /// the pooled gradient and the winners without writing the full-size dy. The same results.
    /// </summary>
    internal Tensor BackwardPooled(Tensor pooledGrad, MaxPool2D pool)
    {
        var x = _input ?? throw new InvalidOperationException("Backward before Forward");
        var (argmax, geometry) = pool.Winners;
        if (!ComputeInputGradient && Backend.ConvMaxPoolBackwardWeights(_geometry, OutChannels, x.Dim(0), x, geometry, pooledGrad, argmax,
                Weight.Grad, Bias?.Grad ?? _unusedBiasGrad!, _workspace))
            return _gradInput;
        return Backward(pool.Backward(pooledGrad));
    }

    /// <summary>Checks the input, keeps it and its geometry for backward, and returns the output buffer shaped for it.</summary>
    private Tensor Prepare(Tensor input)
    {
        OwnedBuffers.Expect(input, [InChannels, -1, -1], this);
        _geometry = Geometry(input.Dim(1), input.Dim(2), input.Dim(3), 3);
        _input = input;
        return OwnedBuffers.Shape(_output, input.Dim(0), OutChannels, _geometry.OutH, _geometry.OutW);
    }

    public override Tensor Backward(Tensor gradOutput)
    {
        var x = _input ?? throw new InvalidOperationException("Backward before Forward");
        int batch = x.Dim(0);
        Backend.ConvBackwardWeights(_geometry, OutChannels, batch, x, gradOutput, Weight.Grad, Bias?.Grad ?? _unusedBiasGrad!, _workspace);
        if (!ComputeInputGradient) return _gradInput;
        var dx = OwnedBuffers.ShapeLike(_gradInput, x);
        Backend.ConvBackwardData(_geometry, OutChannels, batch, gradOutput, Weight.Value, dx, _workspace);
        return dx;
    }

    public void Initialize(InitScheme scheme, Rng rng)
    {
        Init.Weights(Weight.Value, InChannels * Kernel * Kernel, OutChannels * Kernel * Kernel, scheme, rng);
        Bias?.Value.Clear();
    }

    public override string ToString() =>
        $"Conv2D({InChannels}->{OutChannels}, {Kernel}x{Kernel}, stride {Stride}, pad {Padding}{(Bias is null ? ", no bias" : "")})";

    private ConvGeometry Geometry(int channels, int height, int width, int rank)
    {
        if (rank != 3 || channels != InChannels)
            throw new MnistException($"{this} expects [{InChannels}, H, W] inputs");
        var g = new ConvGeometry(channels, height, width, Kernel, Kernel, Stride, Padding);
        if (height + 2 * Padding < Kernel || width + 2 * Padding < Kernel)
            throw new MnistException($"{this} does not fit a {height}x{width} input");
        return g;
    }
}
