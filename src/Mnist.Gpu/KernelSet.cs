using ILGPU;
using ILGPU.Runtime;
using Mnist.Core;
using Mnist.Core.Backends;
using Mnist.Core.Kernels;
using Mnist.Gpu.Kernels;

namespace Mnist.Gpu;

/// <summary>Every kernel of the backend, compiled once for one accelerator when it opens.</summary>
internal sealed class KernelSet(Accelerator a)
{
    public readonly Action<Index1D, ArrayView<float>, float> Fill = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, float>(ElementKernels.Fill);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>> Copy = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>>(ElementKernels.Copy);
    public readonly Action<Index1D, float, ArrayView<float>, ArrayView<float>> Axpy = a.LoadAutoGroupedStreamKernel<Index1D, float, ArrayView<float>, ArrayView<float>>(ElementKernels.Axpy);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>> Multiply = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(ElementKernels.Multiply);
    public readonly Action<Index1D, int, ArrayView<float>, ArrayView<float>> AddRowBias = a.LoadAutoGroupedStreamKernel<Index1D, int, ArrayView<float>, ArrayView<float>>(ElementKernels.AddRowBias);
    public readonly Action<Index1D, int, int, ArrayView<float>, ArrayView<float>> SumRows = a.LoadAutoGroupedStreamKernel<Index1D, int, int, ArrayView<float>, ArrayView<float>>(ElementKernels.SumRows);
    public readonly Action<Index1D, RandomStream, float, float, ArrayView<float>> DropoutMask = a.LoadAutoGroupedStreamKernel<Index1D, RandomStream, float, float, ArrayView<float>>(ElementKernels.DropoutMask);
    public readonly Action<Index1D, ActivationFunction, ArrayView<float>, ArrayView<float>> Activate = a.LoadAutoGroupedStreamKernel<Index1D, ActivationFunction, ArrayView<float>, ArrayView<float>>(ElementKernels.Activate);
    public readonly Action<Index1D, ActivationFunction, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> Derive = a.LoadAutoGroupedStreamKernel<Index1D, ActivationFunction, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(ElementKernels.Derive);

    public readonly Action<KernelConfig, GemmShape, ArrayView<float>, ArrayView<float>, ArrayView<float>> Gemm = a.LoadStreamKernel<GemmShape, ArrayView<float>, ArrayView<float>, ArrayView<float>>(GemmKernel.Run);
    public readonly Action<Index1D, int, int, int, float, ArrayView<float>, ArrayView<float>> SumSplits = a.LoadAutoGroupedStreamKernel<Index1D, int, int, int, float, ArrayView<float>, ArrayView<float>>(GemmKernel.SumSplits);

    public readonly Action<Index1D, ConvGeometry, int, ArrayView<float>, ArrayView<float>> Unfold = a.LoadAutoGroupedStreamKernel<Index1D, ConvGeometry, int, ArrayView<float>, ArrayView<float>>(ConvKernels.Unfold);
    public readonly Action<Index1D, ConvGeometry, int, ArrayView<float>, ArrayView<float>> Fold = a.LoadAutoGroupedStreamKernel<Index1D, ConvGeometry, int, ArrayView<float>, ArrayView<float>>(ConvKernels.Fold);
    public readonly Action<Index1D, int, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>> ToImages = a.LoadAutoGroupedStreamKernel<Index1D, int, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>>(ConvKernels.ToImages);
    public readonly Action<Index1D, int, int, int, ArrayView<float>, ArrayView<float>> FromImages = a.LoadAutoGroupedStreamKernel<Index1D, int, int, int, ArrayView<float>, ArrayView<float>>(ConvKernels.FromImages);

    public readonly Action<KernelConfig, int, ArrayView<float>, ArrayView<float>> RowSums = a.LoadStreamKernel<int, ArrayView<float>, ArrayView<float>>(ConvKernels.RowSums);

    public readonly Action<Index1D, PoolGeometry, ArrayView<float>, ArrayView<float>, ArrayView<int>> MaxPoolForward = a.LoadAutoGroupedStreamKernel<Index1D, PoolGeometry, ArrayView<float>, ArrayView<float>, ArrayView<int>>(PoolKernels.MaxForward);
    public readonly Action<Index1D, PoolGeometry, ArrayView<float>, ArrayView<int>, ArrayView<float>> MaxPoolBackward = a.LoadAutoGroupedStreamKernel<Index1D, PoolGeometry, ArrayView<float>, ArrayView<int>, ArrayView<float>>(PoolKernels.MaxBackward);
    public readonly Action<Index1D, PoolGeometry, ArrayView<float>, ArrayView<float>> AvgPoolForward = a.LoadAutoGroupedStreamKernel<Index1D, PoolGeometry, ArrayView<float>, ArrayView<float>>(PoolKernels.AvgForward);
    public readonly Action<Index1D, PoolGeometry, ArrayView<float>, ArrayView<float>> AvgPoolBackward = a.LoadAutoGroupedStreamKernel<Index1D, PoolGeometry, ArrayView<float>, ArrayView<float>>(PoolKernels.AvgBackward);
    public readonly Action<Index1D, int, ArrayView<float>, ArrayView<float>, ArrayView<int>> GlobalMaxForward = a.LoadAutoGroupedStreamKernel<Index1D, int, ArrayView<float>, ArrayView<float>, ArrayView<int>>(PoolKernels.GlobalMaxForward);
    public readonly Action<Index1D, int, ArrayView<float>, ArrayView<int>, ArrayView<float>> GlobalMaxBackward = a.LoadAutoGroupedStreamKernel<Index1D, int, ArrayView<float>, ArrayView<int>, ArrayView<float>>(PoolKernels.GlobalMaxBackward);

    public readonly Action<KernelConfig, NormShape, float, float, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> NormStatistics = a.LoadStreamKernel<NormShape, float, float, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(NormKernels.Statistics);
    public readonly Action<Index1D, float, ArrayView<float>, ArrayView<float>> NormInverseStd = a.LoadAutoGroupedStreamKernel<Index1D, float, ArrayView<float>, ArrayView<float>>(NormKernels.InverseStd);
    public readonly Action<Index1D, NormShape, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> NormApply = a.LoadAutoGroupedStreamKernel<Index1D, NormShape, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(NormKernels.Apply);
    public readonly Action<KernelConfig, NormShape, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> NormBackward = a.LoadStreamKernel<NormShape, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(NormKernels.Backward);

    public readonly Action<Index1D, int, float, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<double>, ArrayView<int>> LossRows = a.LoadAutoGroupedStreamKernel<Index1D, int, float, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<double>, ArrayView<int>>(LossKernels.Rows);
    public readonly Action<KernelConfig, int, ArrayView<double>, ArrayView<int>, ArrayView<float>> LossTotal = a.LoadStreamKernel<int, ArrayView<double>, ArrayView<int>, ArrayView<float>>(LossKernels.Total);
    public readonly Action<Index1D, int, float, float, float, ArrayView<float>, ArrayView<int>, ArrayView<float>> LossBackward = a.LoadAutoGroupedStreamKernel<Index1D, int, float, float, float, ArrayView<float>, ArrayView<int>, ArrayView<float>>(LossKernels.Backward);

    public readonly Action<Index1D, UpdateArgs, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> Update = a.LoadAutoGroupedStreamKernel<Index1D, UpdateArgs, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(UpdateKernels.Step);
}
