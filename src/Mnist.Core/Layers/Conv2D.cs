using Mnist.Core.Kernels;
using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>
/// 2-D convolution over NCHW images: square kernel, any stride and zero padding; weights
/// [out, in, k, k] (PyTorch layout) and an optional bias per output channel.
/// </summary>
public sealed class Conv2D : Layer, IInitializable
{
    private readonly Workspace _workspace = new();
    private readonly Tensor _output = OwnedBuffers.Empty();
    private readonly Tensor _gradInput = OwnedBuffers.Empty();
    private Tensor? _input;
    private ConvGeometry _geometry;
    private readonly float[] _noBias;

    public Conv2D(int inChannels, int outChannels, int kernel, int stride = 1, int padding = 0, bool bias = true)
    {
        if (inChannels < 1 || outChannels < 1 || kernel < 1 || stride < 1 || padding < 0)
            throw new MnistException($"conv2d needs positive channels, kernel and stride and a non-negative padding (got in {inChannels}, out {outChannels}, kernel {kernel}, stride {stride}, pad {padding})");
        InChannels = inChannels;
        OutChannels = outChannels;
        Kernel = kernel;
        Stride = stride;
        Padding = padding;
        Weight = new Parameter("weight", new Tensor(outChannels, inChannels, kernel, kernel));
        Bias = bias ? new Parameter("bias", new Tensor(outChannels)) { Decay = false } : null;
        // Without a bias (a convolution followed by batch norm) the kernels get zeros to add and
        // a scratch half to write the unused bias gradient into.
        _noBias = bias ? [] : new float[2 * outChannels];
    }

    public int InChannels { get; }
    public int OutChannels { get; }
    public int Kernel { get; }
    public int Stride { get; }
    public int Padding { get; }
    public Parameter Weight { get; }
    public Parameter? Bias { get; }

    public override string Kind => "conv2d";

    public override IEnumerable<Parameter> Parameters => Bias is null ? [Weight] : [Weight, Bias];

    public override int[] OutputShape(int[] inputShape)
    {
        if (inputShape.Length != 3) throw new MnistException($"{this} expects [{InChannels}, H, W] inputs but got {Tensor.ShapeText(inputShape)}");
        var g = Geometry(inputShape[0], inputShape[1], inputShape[2], 3);
        return [OutChannels, g.OutH, g.OutW];
    }

    public override Tensor Forward(Tensor input, bool training)
    {
        OwnedBuffers.Expect(input, [InChannels, -1, -1], this);
        int batch = input.Dim(0);
        _geometry = Geometry(input.Dim(1), input.Dim(2), input.Dim(3), 3);
        _input = input;
        var y = OwnedBuffers.Shape(_output, batch, OutChannels, _geometry.OutH, _geometry.OutW);
        ReadOnlySpan<float> bias = Bias is null ? _noBias.AsSpan(0, OutChannels) : Bias.Value.Span;
        Convolution.Forward(_geometry, OutChannels, batch, input.Span, Weight.Value.Span, bias, y.Span, _workspace);
        return y;
    }

    public override Tensor Backward(Tensor gradOutput)
    {
        var x = _input ?? throw new InvalidOperationException("Backward before Forward");
        int batch = x.Dim(0);
        var db = Bias is null ? _noBias.AsSpan(OutChannels) : Bias.Grad.Span;
        Convolution.BackwardWeights(_geometry, OutChannels, batch, x.Span, gradOutput.Span, Weight.Grad.Span, db, _workspace);
        if (!ComputeInputGradient) return _gradInput;
        var dx = OwnedBuffers.ShapeLike(_gradInput, x);
        Convolution.BackwardData(_geometry, OutChannels, batch, gradOutput.Span, Weight.Value.Span, dx.Span, _workspace);
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
