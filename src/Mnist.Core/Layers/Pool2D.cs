using Mnist.Core.Backends;
using Mnist.Core.GradCheck;
using Mnist.Core.IO.Onnx;
using Mnist.Core.Kernels;
using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>
/// What the two pooling layers share: window size and stride, the shape checks and geometry, and
/// the buffers. Each pooling layer keeps its own forward and backward.
/// </summary>
public abstract class Pool2D : Layer
{
    private Tensor? _input;

    private protected Pool2D(string what, int size, int? stride, Backend? backend) : base(backend)
    {
        Size = size >= 1 ? size : throw new MnistException($"{what} size must be at least 1 (got {size})");
        Stride = (stride ?? size) >= 1 ? stride ?? size : throw new MnistException($"{what} stride must be at least 1 (got {stride})");
        Output = OwnedBuffers.Empty(Backend);
        GradInput = OwnedBuffers.Empty(Backend);
    }

    public int Size { get; }
    public int Stride { get; }

    private protected Tensor Output { get; }
    private protected Tensor GradInput { get; }
    private protected PoolGeometry Geometry { get; private set; }

    /// <summary>The last forward input, which backward needs.</summary>
    private protected Tensor Input => _input ?? throw new InvalidOperationException("Backward before Forward");

    public override int[] OutputShape(int[] inputShape)
    {
        if (inputShape.Length != 3) throw new MnistException($"{this} expects [C, H, W] inputs but got {Tensor.ShapeText(inputShape)}");
        var g = GeometryFor(inputShape[0], inputShape[1], inputShape[2]);
        return [g.Channels, g.OutH, g.OutW];
    }

    /// <summary>Checks a forward input, keeps it and its geometry, and returns the output buffer shaped for it.</summary>
    private protected Tensor ShapeOutput(Tensor input)
    {
        OwnedBuffers.Expect(input, [-1, -1, -1], this);
        _input = input;
        Geometry = GeometryFor(input.Dim(1), input.Dim(2), input.Dim(3));
        return OwnedBuffers.Shape(Output, input.Dim(0), Geometry.Channels, Geometry.OutH, Geometry.OutW);
    }

    private PoolGeometry GeometryFor(int channels, int height, int width)
    {
        if (height < Size || width < Size) throw new MnistException($"{this} does not fit a {height}x{width} input");
        return new PoolGeometry(channels, height, width, Size, Stride);
    }

    /// <summary>The float64 reference of max or average pooling (the max-pool winners fold into the pass's pieces).</summary>
    private protected Float64Tensor Float64(Float64Tensor input, Float64Pass pass, bool max)
    {
        var x = input.Values;
        var shape = input.Shape;
        int planes = shape[0] * shape[1], h = shape[2], w = shape[3];
        int oh = (h - Size) / Stride + 1, ow = (w - Size) / Stride + 1;
        var y = new double[planes * oh * ow];
        for (int pl = 0; pl < planes; pl++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    int first = (pl * h + oy * Stride) * w + ox * Stride, best = first;
                    double sum = 0;
                    for (int ky = 0; ky < Size; ky++)
                        for (int kx = 0; kx < Size; kx++)
                        {
                            int i = first + ky * w + kx;
                            sum += x[i];
                            if (x[i] > x[best]) best = i;
                        }
                    if (max) pass.Piece((ulong)best);
                    y[(pl * oh + oy) * ow + ox] = max ? x[best] : sum / (Size * Size);
                }
        return new(y, [shape[0], shape[1], oh, ow]);
    }

    /// <summary>
    /// ONNX's pooling of the same windows: no padding and ONNX's default floor rounding of the
    /// output size, as ours (the average is then always over size² values).
    /// </summary>
    internal string ToOnnx(string opType, OnnxExporter onnx, OnnxValue x) =>
        onnx.Graph.Node(opType, [x.Name], OnnxAttribute.Of("kernel_shape", Size, Size), OnnxAttribute.Of("strides", Stride, Stride));
}
