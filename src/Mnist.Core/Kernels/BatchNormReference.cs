namespace Mnist.Core.Kernels;

/// <summary>
/// The plain batch-norm loops that <see cref="BatchNormKernels"/> is tested against: one channel
/// at a time, sums in float64 element by element.
/// </summary>
public static class BatchNormReference
{
    /// <summary>The batch's mean and 1/√(variance + ε) per channel; the running statistics move toward them.</summary>
    public static void Statistics(ReadOnlySpan<float> x, int batch, int channels, int plane, float momentum, float epsilon,
        Span<float> runningMean, Span<float> runningVar, Span<float> mean, Span<float> invStd)
    {
        int count = batch * plane;
        for (int c = 0; c < channels; c++)
        {
            // Two passes in double: the variance of 50k floats should not lose digits.
            double sum = 0;
            for (int n = 0; n < batch; n++)
                foreach (float v in x.Slice((n * channels + c) * plane, plane)) sum += v;
            double mu = sum / count, sq = 0;
            for (int n = 0; n < batch; n++)
                foreach (float v in x.Slice((n * channels + c) * plane, plane)) sq += (v - mu) * (v - mu);
            double variance = sq / count;
            mean[c] = (float)mu;
            invStd[c] = (float)(1.0 / Math.Sqrt(variance + epsilon));
            runningMean[c] = (1f - momentum) * runningMean[c] + momentum * mean[c];
            runningVar[c] = (1f - momentum) * runningVar[c] + momentum * (float)(variance * count / (count - 1));
        }
    }

    /// <summary>xhat = (x − mean)·invStd; y = γ·xhat + β.</summary>
    public static void Apply(ReadOnlySpan<float> x, int batch, int channels, int plane, ReadOnlySpan<float> mean,
        ReadOnlySpan<float> invStd, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> xhat, Span<float> y)
    {
        for (int c = 0; c < channels; c++)
        {
            float m = mean[c], s = invStd[c];
            for (int n = 0; n < batch; n++)
            {
                int start = (n * channels + c) * plane;
                for (int i = start; i < start + plane; i++)
                {
                    xhat[i] = (x[i] - m) * s;
                    y[i] = gamma[c] * xhat[i] + beta[c];
                }
            }
        }
    }

    /// <summary>dγ, dβ and (when dx is not empty) dx; see Backend.BatchNormBackward.</summary>
    public static void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> xhat, ReadOnlySpan<float> gamma, ReadOnlySpan<float> invStd,
        int batch, int channels, int plane, bool training, Span<float> dGamma, Span<float> dBeta, Span<float> dx)
    {
        int count = batch * plane;
        bool inputGradient = !dx.IsEmpty;
        for (int c = 0; c < channels; c++)
        {
            double sumDy = 0, sumDyXhat = 0;
            for (int n = 0; n < batch; n++)
            {
                int start = (n * channels + c) * plane;
                for (int i = start; i < start + plane; i++)
                {
                    sumDy += dy[i];
                    sumDyXhat += dy[i] * xhat[i];
                }
            }
            dBeta[c] = (float)sumDy;
            dGamma[c] = (float)sumDyXhat;
            if (!inputGradient) continue;
            float scale = gamma[c] * invStd[c];
            // Training: the batch statistics depend on x too, which removes the gradient's mean
            // and its projection on x̂: dx = γ/σ · (dy − mean(dy) − x̂·mean(dy·x̂)).
            float meanDy = training ? (float)(sumDy / count) : 0f;
            float meanDyXhat = training ? (float)(sumDyXhat / count) : 0f;
            for (int n = 0; n < batch; n++)
            {
                int start = (n * channels + c) * plane;
                for (int i = start; i < start + plane; i++)
                    dx[i] = scale * (dy[i] - meanDy - xhat[i] * meanDyXhat);
            }
        }
    }
}
