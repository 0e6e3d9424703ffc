namespace Mnist.Core.Kernels;

/// <summary>
/// 2-D convolution of a batch of NCHW images with weights laid out [outChannels, C, KH, KW]:
/// y[n, o, oy, ox] = bias[o] + Σ_{c,ky,kx} w[o, c, ky, kx] · x[n, c, oy·s − p + ky, ox·s − p + kx].
/// Every method overwrites its outputs. BackwardWeights is called with the same x as the
/// Forward just before it, so an implementation may reuse what Forward left in the workspace.
/// </summary>
public static class Convolution
{
    public static void Forward(in ConvGeometry g, int outChannels, int batch, ReadOnlySpan<float> x,
        ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y, Workspace ws)
        => ConvolutionReference.Forward(g, outChannels, batch, x, w, bias, y);

    /// <summary>dx = gradient of the loss with respect to x, given dy.</summary>
    public static void BackwardData(in ConvGeometry g, int outChannels, int batch, ReadOnlySpan<float> dy,
        ReadOnlySpan<float> w, Span<float> dx, Workspace ws)
        => ConvolutionReference.BackwardData(g, outChannels, batch, dy, w, dx);

    /// <summary>dw and db = gradients of the loss with respect to the weights and bias, given x and dy.</summary>
    public static void BackwardWeights(in ConvGeometry g, int outChannels, int batch, ReadOnlySpan<float> x,
        ReadOnlySpan<float> dy, Span<float> dw, Span<float> db, Workspace ws)
        => ConvolutionReference.BackwardWeights(g, outChannels, batch, x, dy, dw, db);
}
