using Mnist.Core.GradCheck;
using Mnist.Core.IO.Onnx;
using Mnist.Core.Layers;

namespace Mnist.Core.Models;

/// <summary>
/// Everything the engine knows about one kind of layer, in one place: its name (the "type" of
/// its spec in model JSON), its spec record, how to build its layer, the parameters it would hold
/// (for <see cref="ModelLimits"/>), the float64 reference of its forward pass, its gradient checks
/// and its ONNX export. The layer's own ToString is its summary line. Each kind lives in one file
/// under Layers/ (spec, kind, layer) and is registered by one line in <see cref="LayerKinds.All"/>.
/// A new facet is a new member here, written once per kind beside the others.
/// </summary>
public abstract class LayerKind
{
    private protected LayerKind() { }

    /// <summary>The spec's "type" in model JSON ("conv2d").</summary>
    public abstract string Name { get; }

    public abstract Type SpecType { get; }

    /// <summary>The layer class this kind builds (a base class when it builds several, as batchnorm does).</summary>
    public abstract Type LayerType { get; }

    /// <summary>The layer <paramref name="spec"/> describes, sized for the context's input shape.</summary>
    public abstract Layer Build(LayerSpec spec, LayerContext context);

    /// <summary>
    /// The parameters a layer of <paramref name="spec"/> would hold on inputs shaped
    /// <paramref name="inputShape"/>, once its settings and factors pass <see cref="ModelLimits"/>'
    /// checks (which throw): asked before the layer is built, so a hostile config allocates nothing.
    /// </summary>
    internal abstract long CheckedParameters(LayerSpec spec, int[] inputShape);

    /// <summary>The layer's forward pass recomputed in float64 on its own weights (see <see cref="Float64Reference"/>).</summary>
    internal abstract Float64Tensor Float64(Layer layer, Float64Tensor x, Float64Pass pass);

    /// <summary>Small layers of this kind with inputs, for <see cref="GradCheckSuite"/>: each is checked in float32 and against the float64 reference.</summary>
    internal abstract IEnumerable<LayerCheck> Checks { get; }

    /// <summary>
    /// Writes the layer's evaluation-mode forward pass into the exporter's graph as ONNX nodes
    /// (opset 13) on input <paramref name="x"/>; <paramref name="name"/> is the layer's model name,
    /// which its weights' names start with. Returns the name of the output value.
    /// </summary>
    internal abstract string ToOnnx(Layer layer, OnnxExporter onnx, OnnxValue x, string name);

    public override string ToString() => Name;
}

/// <summary>A <see cref="LayerKind"/> written against its own spec and layer types.</summary>
public abstract class LayerKind<TSpec, TLayer> : LayerKind where TSpec : LayerSpec where TLayer : Layer
{
    public sealed override Type SpecType => typeof(TSpec);
    public sealed override Type LayerType => typeof(TLayer);

    public sealed override Layer Build(LayerSpec spec, LayerContext context) => Build((TSpec)spec, context);

    internal sealed override long CheckedParameters(LayerSpec spec, int[] inputShape) => CheckedParameters((TSpec)spec, inputShape);

    internal sealed override Float64Tensor Float64(Layer layer, Float64Tensor x, Float64Pass pass) => Float64((TLayer)layer, x, pass);

    internal sealed override string ToOnnx(Layer layer, OnnxExporter onnx, OnnxValue x, string name) => ToOnnx((TLayer)layer, onnx, x, name);

    protected abstract TLayer Build(TSpec spec, LayerContext context);

    private protected abstract long CheckedParameters(TSpec spec, int[] inputShape);

    private protected abstract Float64Tensor Float64(TLayer layer, Float64Tensor x, Float64Pass pass);

    private protected abstract string ToOnnx(TLayer layer, OnnxExporter onnx, OnnxValue x, string name);
}
