namespace Mnist.Core.Training;

/// <summary>
/// The defaults of a training run, written once: <see cref="TrainingSpec"/>, the model presets,
/// `mnist train` and the other commands, the sweep specs and the dashboard all read them. They
/// are the best short-run recipe measured here: SGD with Nesterov momentum and a one-cycle
/// schedule sized to the run (the learning rate peaks at <see cref="LearningRate"/>, the momentum
/// cycles between 0.95 and 0.85), so the same settings adapt to the number of epochs.
/// </summary>
public static class TrainingDefaults
{
    /// <summary>The network (see <see cref="Models.Presets.Names"/>).</summary>
    public const string Preset = "classic";

    /// <summary>Channel and hidden-width multiplier of the preset.</summary>
    public const double Width = 1.0;

    public const string Activation = "relu";

    public const string Optimizer = "nesterov";

    /// <summary>The peak learning rate (the constant one for a constant schedule).</summary>
    public const float LearningRate = 0.05f;

    public const string Schedule = "onecycle";

    public const int BatchSize = 64;

    public const int Epochs = 1;

    /// <summary>Fixes the initial weights, each epoch's order and the dropout masks.</summary>
    public const ulong Seed = 1;

    /// <summary>Training images held out for validation (0: none).</summary>
    public const int Validation = 0;
}
