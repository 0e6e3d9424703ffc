using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static Mnist.Core.Kernels.Lanes;

namespace Mnist.Core.Kernels;

/// <summary>
/// Batch normalisation over [batch, channels, plane] spans (the CPU backend's): a channel's
/// values are the [batch, plane] slice. A group of four channels is one task for the kernel
/// threads, so a channel's sums are taken by one thread in a fixed order (float64, vectorised)
/// whatever the thread count; the group's sums run side by side, so their float64 additions
/// overlap instead of each waiting on the last (every channel's own order unchanged).
/// <see cref="TrainingForward"/> normalises a channel right after its statistics, while its
/// values are still in cache. <see cref="BatchNormReference"/> holds the plain loops.
/// </summary>
public static class BatchNormKernels
{
    /// <summary>The batch's mean and 1/√(variance + ε) per channel; the running statistics move toward them.</summary>
    public static void Statistics(ReadOnlySpan<float> x, int batch, int channels, int plane, float momentum, float epsilon,
        Span<float> runningMean, Span<float> runningVar, Span<float> mean, Span<float> invStd) =>
        TrainingForward(x, batch, channels, plane, momentum, epsilon, runningMean, runningVar, mean, invStd, default, default, default, default);

    /// <summary>
    /// <see cref="Statistics"/> and then <see cref="Apply"/> with them, channel by channel (skipped
    /// when <paramref name="y"/> is empty).
    /// </summary>
    public static unsafe void TrainingForward(ReadOnlySpan<float> x, int batch, int channels, int plane, float momentum,
        float epsilon, Span<float> runningMean, Span<float> runningVar, Span<float> mean, Span<float> invStd,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> xhat, Span<float> y)
    {
        fixed (float* px = x, prm = runningMean, prv = runningVar, pm = mean, ps = invStd, pg = gamma, pb = beta, pxh = xhat, py = y)
        {
            var job = Job(ChannelJob.Mode.Forward, batch, channels, plane, px, pm, ps, pxh);
            job.SetForward(momentum, epsilon, prm, prv, y.IsEmpty ? null : pg, pb, py);
            RunChannels(job, batch * channels * plane, channels);
        }
    }

    /// <summary>invStd = 1/√(variance + ε), in float.</summary>
    public static void InverseStd(ReadOnlySpan<float> variance, float epsilon, Span<float> invStd)
    {
        for (int c = 0; c < variance.Length; c++) invStd[c] = 1f / MathF.Sqrt(variance[c] + epsilon);
    }

    /// <summary>xhat = (x − mean)·invStd; y = γ·xhat + β.</summary>
    public static unsafe void Apply(ReadOnlySpan<float> x, int batch, int channels, int plane, ReadOnlySpan<float> mean,
        ReadOnlySpan<float> invStd, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> xhat, Span<float> y)
    {
        fixed (float* px = x, pm = mean, ps = invStd, pg = gamma, pb = beta, pxh = xhat, py = y)
        {
            var job = Job(ChannelJob.Mode.Apply, batch, channels, plane, px, pm, ps, pxh);
            job.SetForward(0f, 0f, null, null, pg, pb, py);
            RunChannels(job, batch * channels * plane, channels);
        }
    }

    /// <summary>dγ, dβ and (when dx is not empty) dx; see Backend.BatchNormBackward.</summary>
    public static unsafe void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> xhat, ReadOnlySpan<float> gamma, ReadOnlySpan<float> invStd,
        int batch, int channels, int plane, bool training, Span<float> dGamma, Span<float> dBeta, Span<float> dx)
    {
        fixed (float* pdy = dy, pxh = xhat, pg = gamma, ps = invStd, pdg = dGamma, pdb = dBeta, pdx = dx)
        {
            var job = Job(ChannelJob.Mode.Backward, batch, channels, plane, null, null, ps, pxh);
            job.SetBackward(training, pdy, pg, pdg, pdb, dx.IsEmpty ? null : pdx);
            RunChannels(job, batch * channels * plane, channels);
        }
    }

    // ---- one channel ----

    /// <summary>Σ over the channel's slices of x, in float64.</summary>
    private static double Sum(ReadOnlySpan<float> x, int batch, int channels, int plane, int c)
    {
        Vector<double> s0 = default, s1 = default;
        double tail = 0;
        int w = Vector<float>.Count;
        for (int n = 0; n < batch; n++)
        {
            var slice = x.Slice((n * channels + c) * plane, plane);
            ref float xs = ref MemoryMarshal.GetReference(slice);
            int i = 0;
            for (; i <= plane - w; i += w)
            {
                Vector.Widen(Load(ref xs, i), out var lo, out var hi);
                s0 += lo;
                s1 += hi;
            }
            for (; i < plane; i++) tail += slice[i];
        }
        return Vector.Sum(s0 + s1) + tail;
    }

    /// <summary>Σ (x − mu)² over the channel's slices, in float64.</summary>
    private static double SumSquares(ReadOnlySpan<float> x, int batch, int channels, int plane, int c, double mu)
    {
        Vector<double> s0 = default, s1 = default, m = new(mu);
        double tail = 0;
        int w = Vector<float>.Count;
        for (int n = 0; n < batch; n++)
        {
            var slice = x.Slice((n * channels + c) * plane, plane);
            ref float xs = ref MemoryMarshal.GetReference(slice);
            int i = 0;
            for (; i <= plane - w; i += w)
            {
                Vector.Widen(Load(ref xs, i), out var lo, out var hi);
                lo -= m;
                hi -= m;
                s0 += lo * lo;
                s1 += hi * hi;
            }
            for (; i < plane; i++)
            {
                double d = slice[i] - mu;
                tail += d * d;
            }
        }
        return Vector.Sum(s0 + s1) + tail;
    }

    /// <summary>xhat = (x − m)·s and y = g·xhat + b over the channel's slices.</summary>
    private static void ApplyChannel(ReadOnlySpan<float> x, int batch, int channels, int plane, int c, float m, float s, float g, float b,
        Span<float> xhat, Span<float> y)
    {
        int w = Vector<float>.Count;
        Vector<float> mv = new(m), sv = new(s), gv = new(g), bv = new(b);
        for (int n = 0; n < batch; n++)
        {
            int start = (n * channels + c) * plane;
            ref float xs = ref Unsafe.Add(ref MemoryMarshal.GetReference(x), start);
            ref float hs = ref Unsafe.Add(ref MemoryMarshal.GetReference(xhat), start);
            ref float ys = ref Unsafe.Add(ref MemoryMarshal.GetReference(y), start);
            int i = 0;
            for (; i <= plane - w; i += w)
            {
                var h = (Load(ref xs, i) - mv) * sv;
                Store(h, ref hs, i);
                Store(gv * h + bv, ref ys, i);
            }
            for (; i < plane; i++)
            {
                float h = (x[start + i] - m) * s;
                xhat[start + i] = h;
                y[start + i] = g * h + b;
            }
        }
    }

    /// <summary>Σ dy and Σ dy·xhat (the product in float) over the channel's slices, in float64.</summary>
    private static (double SumDy, double SumDyXhat) GradientSums(ReadOnlySpan<float> dy, ReadOnlySpan<float> xhat, int batch, int channels,
        int plane, int c)
    {
        Vector<double> a0 = default, a1 = default, p0 = default, p1 = default;
        double sumDy = 0, sumDyXhat = 0;
        int w = Vector<float>.Count;
        for (int n = 0; n < batch; n++)
        {
            int start = (n * channels + c) * plane;
            ref float ds = ref Unsafe.Add(ref MemoryMarshal.GetReference(dy), start);
            ref float hs = ref Unsafe.Add(ref MemoryMarshal.GetReference(xhat), start);
            int i = 0;
            for (; i <= plane - w; i += w)
            {
                var d = Load(ref ds, i);
                Vector.Widen(d, out var lo, out var hi);
                a0 += lo;
                a1 += hi;
                Vector.Widen(d * Load(ref hs, i), out lo, out hi);
                p0 += lo;
                p1 += hi;
            }
            for (; i < plane; i++)
            {
                sumDy += dy[start + i];
                sumDyXhat += dy[start + i] * xhat[start + i];
            }
        }
        return (Vector.Sum(a0 + a1) + sumDy, Vector.Sum(p0 + p1) + sumDyXhat);
    }

    /// <summary>dx = scale·(dy − meanDy − xhat·meanDyXhat) over the channel's slices.</summary>
    private static void InputGradient(ReadOnlySpan<float> dy, ReadOnlySpan<float> xhat, int batch, int channels, int plane, int c,
        float scale, float meanDy, float meanDyXhat, Span<float> dx)
    {
        int w = Vector<float>.Count;
        Vector<float> sv = new(scale), mv = new(meanDy), pv = new(meanDyXhat);
        for (int n = 0; n < batch; n++)
        {
            int start = (n * channels + c) * plane;
            ref float ds = ref Unsafe.Add(ref MemoryMarshal.GetReference(dy), start);
            ref float hs = ref Unsafe.Add(ref MemoryMarshal.GetReference(xhat), start);
            ref float os = ref Unsafe.Add(ref MemoryMarshal.GetReference(dx), start);
            int i = 0;
            for (; i <= plane - w; i += w) Store(sv * (Load(ref ds, i) - mv - Load(ref hs, i) * pv), ref os, i);
            for (; i < plane; i++) dx[start + i] = scale * (dy[start + i] - meanDy - xhat[start + i] * meanDyXhat);
        }
    }

    // ---- the channels as kernel-thread tasks ----

    /// <summary>Below this many elements in all a second thread costs more than it saves.</summary>
    private const int ParallelElements = 1 << 15;

    [ThreadStatic] private static ChannelJob? _job;

    private static unsafe ChannelJob Job(ChannelJob.Mode mode, int batch, int channels, int plane, float* x, float* mean, float* invStd,
        float* xhat)
    {
        var job = _job ??= new ChannelJob();
        job.Set(mode, batch, channels, plane, x, mean, invStd, xhat);
        return job;
    }

    /// <summary>Channels per task, their sums taken side by side.</summary>
    private const int Group = 4;

    private static void RunChannels(ChannelJob job, int elements, int channels)
    {
        int groups = (channels + Group - 1) / Group;
        if (elements < ParallelElements)
            for (int t = 0; t < groups; t++) job.Run(t, 0);
        else KernelThreads.For(groups, job);
    }

    /// <summary>One pass of a batch-norm kernel, a group of channels per task.</summary>
    private sealed unsafe class ChannelJob : IParallelWork
    {
        public enum Mode { Forward, Apply, Backward }

        private Mode _mode;
        private int _batch, _channels, _plane, _length;
        private float* _x, _mean, _invStd, _xhat;
        // Forward and Apply.
        private float _momentum, _epsilon;
        private float* _runningMean, _runningVar, _gamma, _beta, _y;
        // Backward.
        private bool _training;
        private float* _dy, _dGamma, _dBeta, _dx;

        public void Set(Mode mode, int batch, int channels, int plane, float* x, float* mean, float* invStd, float* xhat)
        {
            _mode = mode;
            _batch = batch;
            _channels = channels;
            _plane = plane;
            _length = batch * channels * plane;
            _x = x;
            _mean = mean;
            _invStd = invStd;
            _xhat = xhat;
        }

        public void SetForward(float momentum, float epsilon, float* runningMean, float* runningVar, float* gamma, float* beta, float* y)
        {
            _momentum = momentum;
            _epsilon = epsilon;
            _runningMean = runningMean;
            _runningVar = runningVar;
            _gamma = gamma;
            _beta = beta;
            _y = y;
        }

        public void SetBackward(bool training, float* dy, float* gamma, float* dGamma, float* dBeta, float* dx)
        {
            _training = training;
            _dy = dy;
            _gamma = gamma;
            _dGamma = dGamma;
            _dBeta = dBeta;
            _dx = dx;
        }

        private ReadOnlySpan<float> Whole(float* p) => new(p, _length);

        public void Run(int group, int thread)
        {
            int first = group * Group, end = Math.Min(first + Group, _channels);
            switch (_mode)
            {
                case Mode.Forward: Statistics(first, end); break;
                case Mode.Apply: break;
                case Mode.Backward: Backward(first, end); return;
            }
            if (_y != null)
                for (int c = first; c < end; c++)
                    ApplyChannel(Whole(_x), _batch, _channels, _plane, c, _mean[c], _invStd[c], _gamma[c], _beta[c],
                        new Span<float>(_xhat, _length), new Span<float>(_y, _length));
        }

        private void Statistics(int first, int end)
        {
            var x = Whole(_x);
            int count = _batch * _plane;
            // Two passes in double: the variance of 50k floats should not lose digits.
            double* mu = stackalloc double[Group], squares = stackalloc double[Group];
            if (end - first == Group)
            {
                BatchNormSums.Four(_x, _batch, _channels, _plane, first, null, mu);
                for (int k = 0; k < Group; k++) mu[k] /= count;
                BatchNormSums.Four(_x, _batch, _channels, _plane, first, mu, squares);
            }
            else
                for (int c = first; c < end; c++)
                {
                    mu[c - first] = Sum(x, _batch, _channels, _plane, c) / count;
                    squares[c - first] = SumSquares(x, _batch, _channels, _plane, c, mu[c - first]);
                }
            for (int c = first; c < end; c++)
            {
                double variance = squares[c - first] / count;
                _mean[c] = (float)mu[c - first];
                _invStd[c] = (float)(1.0 / Math.Sqrt(variance + _epsilon));
                _runningMean[c] = (1f - _momentum) * _runningMean[c] + _momentum * _mean[c];
                _runningVar[c] = (1f - _momentum) * _runningVar[c] + _momentum * (float)(variance * count / (count - 1));
            }
        }

        private void Backward(int first, int end)
        {
            double* sums = stackalloc double[4];
            int c = first;
            for (; c + 1 < end; c += 2)
            {
                BatchNormSums.GradientPair(_dy, _xhat, _batch, _channels, _plane, c, sums);
                Gradients(c, sums[0], sums[1]);
                Gradients(c + 1, sums[2], sums[3]);
            }
            if (c < end)
            {
                var (sumDy, sumDyXhat) = GradientSums(Whole(_dy), Whole(_xhat), _batch, _channels, _plane, c);
                Gradients(c, sumDy, sumDyXhat);
            }
        }

        private void Gradients(int c, double sumDy, double sumDyXhat)
        {
            int count = _batch * _plane;
            _dBeta[c] = (float)sumDy;
            _dGamma[c] = (float)sumDyXhat;
            if (_dx == null) return;
            // Training: the batch statistics depend on x too, which removes the gradient's mean
            // and its projection on x̂: dx = γ/σ · (dy − mean(dy) − x̂·mean(dy·x̂)).
            float meanDy = _training ? (float)(sumDy / count) : 0f;
            float meanDyXhat = _training ? (float)(sumDyXhat / count) : 0f;
            InputGradient(Whole(_dy), Whole(_xhat), _batch, _channels, _plane, c, _gamma[c] * _invStd[c], meanDy, meanDyXhat,
                new Span<float>(_dx, _length));
        }
    }
}
