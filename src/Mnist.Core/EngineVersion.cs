namespace Mnist.Core;

/// <summary>
/// The version of the engine's numerics. Experiment run ids hash it together with the run's spec,
/// so results from an engine that computes differently are never mistaken for this one's.
/// Bump it whenever a change can alter any number a training run produces (kernels, layers,
/// initialisation, data order, optimizers, schedules); refactors that keep every bit leave it alone.
/// engine-1: the first engine. engine-2: dropout masks from a counter-based Philox stream, the same
/// on every backend (engine-1 drew them in sequence from xoshiro256**, which only a CPU reproduces).
/// engine-3: ELU, Swish, Sigmoid and Tanh on a vectorised float32 exp/σ/tanh (Kernels/VectorMath.cs),
/// which rounds differently from Math.Exp in the last bits; ReLU networks (classic, resnet) give
/// the same bits as under engine-2.
/// engine-4: 3×3 stride-1 convolutions with 8 or more input and output channels run Winograd's
/// F(2×2, 3×3) on the CPU (Kernels/WinogradConvolution.cs): the same products, summed in another
/// order, so every network with such a layer (classic's conv2, resnet's blocks, best's 3×3 convs)
/// rounds differently from engine-3.
/// </summary>
public static class EngineVersion
{
    public const string Current = "engine-4";
}
