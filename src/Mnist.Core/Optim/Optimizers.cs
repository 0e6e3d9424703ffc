using System.Diagnostics;
using Mnist.Core.Layers;

namespace Mnist.Core.Optim;

/// <summary>Builds an optimizer from its config.</summary>
public static class Optimizers
{
    /// <summary>
    /// The optimizer <paramref name="config"/> names over <paramref name="parameters"/>; throws
    /// <see cref="MnistException"/> (listing the valid names) for an unknown name or a bad setting.
    /// </summary>
    public static Optimizer Create(OptimizerConfig config, IReadOnlyList<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(config);
        var c = config.Resolve();
        var reg = c.Regularization;
        return c.Name switch
        {
            "sgd" => new Sgd(parameters, reg),
            "momentum" => new MomentumSgd(parameters, c.Momentum!.Value, reg),
            "nesterov" => new Nesterov(parameters, c.Momentum!.Value, reg),
            "adagrad" => new AdaGrad(parameters, c.Eps!.Value, reg),
            "rmsprop" => new RmsProp(parameters, c.Beta2!.Value, c.Eps!.Value, c.Momentum!.Value, reg),
            "adam" => new Adam(parameters, c.Beta1!.Value, c.Beta2!.Value, c.Eps!.Value, reg),
            "adamw" => new AdamW(parameters, c.Beta1!.Value, c.Beta2!.Value, c.Eps!.Value, reg.WeightDecay, reg.L1, reg.L2),
            _ => throw new UnreachableException($"Resolve passed optimizer '{c.Name}'"),
        };
    }
}
