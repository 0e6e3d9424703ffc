namespace Mnist.Core.Models;

/// <summary>
/// One layer of a <see cref="ModelConfig"/>, as data. Each kind's spec record lives with its
/// layer (see <see cref="LayerKind"/>); in JSON the "type" field names the kind and input
/// channels and features are not written: the builder infers them from the shapes. Write and
/// read specs through <see cref="ModelConfig"/>, whose JSON options know the kinds.
/// </summary>
public abstract record LayerSpec;
