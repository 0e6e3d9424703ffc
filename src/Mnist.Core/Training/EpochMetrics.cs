namespace Mnist.Core.Training;

/// <summary>What one epoch achieved. Training loss and accuracy come from the training passes themselves.</summary>
public sealed record EpochMetrics(
    int Epoch,
    double TrainLoss,
    double TrainAccuracy,
    double? ValidationLoss,
    double? ValidationAccuracy,
    double TestLoss,
    double TestAccuracy,
    double Seconds,
    double ImagesPerSecond,
    float LastLearningRate);

/// <summary>Progress inside an epoch, reported after every batch.</summary>
public readonly record struct BatchProgress(
    int Epoch, int Epochs, int Samples, int EpochSamples, double Loss, double Accuracy, double ImagesPerSecond, TimeSpan Elapsed);
