using Mnist.Core.Augmentation;
using Mnist.Core.Data;
using Mnist.Core.IO;
using Mnist.Core.Layers;
using Mnist.Core.Models;

namespace Mnist.Core.Inference;

/// <summary>One network of a <see cref="Classifier"/>, with the normalisation its inputs need.</summary>
public sealed record ClassifierMember(Sequential Network, ModelConfig Config, Normalization Normalization)
{
    public static ClassifierMember Of(LoadedModel model) => new(model.Network, model.Config, model.Normalization);

    /// <summary>A second network with this one's weights and buffers (batch-norm statistics), on the same backend.</summary>
    public ClassifierMember Copy()
    {
        var network = ModelBuilder.Build(Config, seed: 0, Network.Backend);
        var source = ModelFile.NamedTensors(Network);
        var target = ModelFile.NamedTensors(network);
        for (int i = 0; i < target.Count; i++) target[i].Value.CopyFrom(source[i].Value);
        return this with { Network = network };
    }
}

/// <summary>
/// What answers a digit: one network or an ensemble of several, each image seen in one or more
/// test-time views. Its probabilities are the mean, over members and views, of each network's
/// softmax on that view of the image normalised its way (a member's own normalisation). With one
/// member and one view it is exactly that network's answer. Evaluator and Predictor run it.
/// </summary>
public sealed class Classifier
{
    public Classifier(IReadOnlyList<ClassifierMember> members, TestTimeAugmentation? views = null)
    {
        if (members.Count == 0) throw new MnistException("a classifier needs at least one network");
        var first = members[0].Config;
        foreach (var m in members.Skip(1))
            if (!m.Config.InputShape.SequenceEqual(first.InputShape) || m.Config.NumClasses != first.NumClasses)
                throw new MnistException("the members of an ensemble must take the same input and answer the same classes");
        Members = members;
        Views = views ?? TestTimeAugmentation.None;
    }

    /// <summary>A single network.</summary>
    public Classifier(Sequential network, ModelConfig config, Normalization normalization, TestTimeAugmentation? views = null)
        : this([new ClassifierMember(network, config, normalization)], views) { }

    public IReadOnlyList<ClassifierMember> Members { get; }
    public TestTimeAugmentation Views { get; }
    public int[] InputShape => Members[0].Config.InputShape;
    public int NumClasses => Members[0].Config.NumClasses;

    /// <summary>One network, one view: its answers are the network's own, computed the plain way.</summary>
    public bool IsPlain => Members.Count == 1 && Views.IsOff;

    /// <summary>The same classifier with other views.</summary>
    public Classifier WithViews(TestTimeAugmentation views) => new(Members, views);

    /// <summary>An independent copy (every member's network rebuilt with the same tensors) for another thread.</summary>
    public Classifier Copy() => new([.. Members.Select(m => m.Copy())], Views);
}
