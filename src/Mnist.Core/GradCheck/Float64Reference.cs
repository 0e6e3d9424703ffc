using Mnist.Core.Layers;
using Mnist.Core.Tensors;

namespace Mnist.Core.GradCheck;

/// <summary>
/// The forward pass of a model recomputed in float64 with direct loops, on the model's own
/// float32 weights: the reference a whole network's gradients are checked against. Finite
/// differences of a float64 loss are exact to ~1e-10 with a tiny step, so neither float32 noise
/// nor kinks (ReLU, max pooling) spoil them. Dropout reuses the mask of the model's last training
/// pass; batch norm uses batch statistics in training without touching the running ones.
/// </summary>
public static class Float64Reference
{
    /// <summary>Logits [batch × classes] in float64, and a hash of the kinks the pass selected.</summary>
    public static (double[] Output, ulong Pieces) Forward(Layer model, Tensor input, bool training)
    {
        var x = new double[input.Length];
        var span = input.Span;
        for (int i = 0; i < x.Length; i++) x[i] = span[i];
        ulong pieces = 0;
        var (y, _) = Run(model, x, input.Shape.ToArray(), training, ref pieces);
        return (y, pieces);
    }

    /// <summary>Mean softmax cross-entropy of float64 logits.</summary>
    public static double CrossEntropy(double[] logits, int classes, ReadOnlySpan<int> labels)
    {
        double total = 0;
        for (int n = 0; n < labels.Length; n++)
        {
            var row = logits.AsSpan(n * classes, classes);
            double max = double.NegativeInfinity;
            foreach (double v in row) max = Math.Max(max, v);
            double sum = 0;
            foreach (double v in row) sum += Math.Exp(v - max);
            total += Math.Log(sum) + max - row[labels[n]];
        }
        return total / labels.Length;
    }

    private static (double[] Y, int[] Shape) Run(Layer layer, double[] x, int[] shape, bool training, ref ulong pieces)
    {
        switch (layer)
        {
            case Sequential s:
                foreach (var child in s.Layers) (x, shape) = Run(child, x, shape, training, ref pieces);
                return (x, shape);
            case ResidualBlock r:
                return Residual(r, x, shape, training, ref pieces);
            case Conv2D c:
                return Conv(c, x, shape);
            case MaxPool2D m:
                return Pool(x, shape, m.Size, m.Stride, max: true, ref pieces);
            case AvgPool2D a:
                return Pool(x, shape, a.Size, a.Stride, max: false, ref pieces);
            case Activation act:
                return (ActivationForward(act, x, ref pieces), shape);
            case Flatten:
                return (x, [shape[0], x.Length / shape[0]]);
            case Dense d:
                return DenseForward(d, x, shape[0]);
            case Dropout drop:
                return (DropoutForward(drop, x, training), shape);
            case BatchNorm bn:
                return (BatchNormForward(bn, x, shape, training), shape);
            default:
                throw new NotSupportedException($"no float64 reference for {layer.Kind}");
        }
    }

    private static (double[], int[]) Conv(Conv2D c, double[] x, int[] shape)
    {
        int n = shape[0], ch = shape[1], h = shape[2], w = shape[3];
        int k = c.Kernel, s = c.Stride, p = c.Padding, o = c.OutChannels;
        int oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
        var wt = c.Weight.Value.Span;
        var y = new double[n * o * oh * ow];
        for (int b = 0; b < n; b++)
            for (int oc = 0; oc < o; oc++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        double sum = c.Bias is null ? 0 : c.Bias.Value[oc];
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
        return (y, [n, o, oh, ow]);
    }

    private static (double[], int[]) Pool(double[] x, int[] shape, int size, int stride, bool max, ref ulong pieces)
    {
        int planes = shape[0] * shape[1], h = shape[2], w = shape[3];
        int oh = (h - size) / stride + 1, ow = (w - size) / stride + 1;
        var y = new double[planes * oh * ow];
        for (int pl = 0; pl < planes; pl++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    int first = (pl * h + oy * stride) * w + ox * stride, best = first;
                    double sum = 0;
                    for (int ky = 0; ky < size; ky++)
                        for (int kx = 0; kx < size; kx++)
                        {
                            int i = first + ky * w + kx;
                            sum += x[i];
                            if (x[i] > x[best]) best = i;
                        }
                    if (max) pieces = Pieces.Mix(pieces, (ulong)best);
                    y[(pl * oh + oy) * ow + ox] = max ? x[best] : sum / (size * size);
                }
        return (y, [shape[0], shape[1], oh, ow]);
    }

    private static double[] ActivationForward(Activation act, double[] x, ref ulong pieces)
    {
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double v = x[i];
            y[i] = act switch
            {
                ReLU => v > 0 ? v : 0,
                LeakyReLU l => v > 0 ? v : l.Slope * v,
                ELU e => v > 0 ? v : e.Alpha * (Math.Exp(v) - 1),
                Swish => v / (1 + Math.Exp(-v)),
                Sigmoid => 1 / (1 + Math.Exp(-v)),
                Tanh => Math.Tanh(v),
                _ => throw new NotSupportedException($"no float64 reference for {act.Kind}"),
            };
        }
        if (act is IPiecewise)
        {
            // The sign pattern, hashed as the float32 layers do.
            var signs = new float[x.Length];
            for (int i = 0; i < x.Length; i++) signs[i] = x[i] > 0 ? 1f : 0f;
            pieces = Pieces.Signs(pieces, signs);
        }
        return y;
    }

    private static (double[], int[]) DenseForward(Dense d, double[] x, int batch)
    {
        int inF = d.InFeatures, outF = d.OutFeatures;
        var w = d.Weight.Value.Span;
        var y = new double[batch * outF];
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < outF; o++)
            {
                double sum = d.Bias.Value[o];
                for (int i = 0; i < inF; i++) sum += w[o * inF + i] * x[b * inF + i];
                y[b * outF + o] = sum;
            }
        return (y, [batch, outF]);
    }

    private static double[] DropoutForward(Dropout drop, double[] x, bool training)
    {
        var mask = drop.LastMask;
        if (!training || drop.P == 0f) return x;
        if (mask.Length != x.Length) throw new InvalidOperationException("run the model's training forward pass first: the reference reuses its dropout mask");
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = x[i] * mask[i];
        return y;
    }

    private static double[] BatchNormForward(BatchNorm bn, double[] x, int[] shape, bool training)
    {
        int batch = shape[0], channels = bn.Channels, plane = x.Length / (batch * channels);
        var y = new double[x.Length];
        for (int c = 0; c < channels; c++)
        {
            double mean, variance;
            if (training)
            {
                double sum = 0, sq = 0;
                for (int b = 0; b < batch; b++)
                    for (int i = 0; i < plane; i++) sum += x[(b * channels + c) * plane + i];
                mean = sum / (batch * plane);
                for (int b = 0; b < batch; b++)
                    for (int i = 0; i < plane; i++)
                    {
                        double d = x[(b * channels + c) * plane + i] - mean;
                        sq += d * d;
                    }
                variance = sq / (batch * plane);
            }
            else
            {
                mean = bn.RunningMean[c];
                variance = bn.RunningVar[c];
            }
            double scale = bn.Gamma.Value[c] / Math.Sqrt(variance + bn.Epsilon);
            for (int b = 0; b < batch; b++)
                for (int i = 0; i < plane; i++)
                {
                    int j = (b * channels + c) * plane + i;
                    y[j] = (x[j] - mean) * scale + bn.Beta.Value[c];
                }
        }
        return y;
    }

    private static (double[], int[]) Residual(ResidualBlock r, double[] x, int[] shape, bool training, ref ulong pieces)
    {
        var (h, hShape) = Conv(r.Conv1, x, shape);
        h = BatchNormForward(r.Bn1, h, hShape, training);
        h = ActivationForward(r.Act1, h, ref pieces);
        (h, hShape) = Conv(r.Conv2, h, hShape);
        h = BatchNormForward(r.Bn2, h, hShape, training);
        var shortcut = x;
        if (r.ProjectionConv is not null && r.ProjectionBn is not null)
        {
            var (p, pShape) = Conv(r.ProjectionConv, x, shape);
            shortcut = BatchNormForward(r.ProjectionBn, p, pShape, training);
        }
        var z = new double[h.Length];
        for (int i = 0; i < z.Length; i++) z[i] = h[i] + shortcut[i];
        return (ActivationForward(r.ActOut, z, ref pieces), hShape);
    }
}
