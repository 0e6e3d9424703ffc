namespace Mnist.Core.Evaluation;

/// <summary>A misclassified sample and how sure the network was of its wrong answer.</summary>
public sealed record Mistake(int Index, int Label, int Predicted, float Confidence);

/// <summary>Precision, recall and F1 of one class, with its support (true samples).</summary>
public sealed record ClassScore(int Class, double Precision, double Recall, double F1, int Support);

/// <summary>Loss, accuracy and the confusion matrix (rows: true label, columns: prediction) of one split.</summary>
public sealed class EvaluationResult
{
    public EvaluationResult(double loss, int[,] confusion, IReadOnlyList<Mistake> worstMistakes)
    {
        Loss = loss;
        Confusion = confusion;
        WorstMistakes = worstMistakes;
        Classes = confusion.GetLength(0);
        for (int i = 0; i < Classes; i++)
            for (int j = 0; j < Classes; j++)
            {
                Count += confusion[i, j];
                if (i == j) Correct += confusion[i, j];
            }
    }

    public double Loss { get; }
    public int[,] Confusion { get; }
    public int Classes { get; }
    public int Count { get; }
    public int Correct { get; }
    public double Accuracy => Count == 0 ? 0 : (double)Correct / Count;

    /// <summary>The most confident mistakes first.</summary>
    public IReadOnlyList<Mistake> WorstMistakes { get; }

    public IReadOnlyList<ClassScore> PerClass()
    {
        var scores = new List<ClassScore>(Classes);
        for (int c = 0; c < Classes; c++)
        {
            int truePositive = Confusion[c, c], predicted = 0, actual = 0;
            for (int k = 0; k < Classes; k++)
            {
                predicted += Confusion[k, c];
                actual += Confusion[c, k];
            }
            double precision = predicted == 0 ? 0 : (double)truePositive / predicted;
            double recall = actual == 0 ? 0 : (double)truePositive / actual;
            double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            scores.Add(new ClassScore(c, precision, recall, f1, actual));
        }
        return scores;
    }

    /// <summary>Confusion matrix as rows of counts (for JSON and reports).</summary>
    public int[][] ConfusionRows()
    {
        var rows = new int[Classes][];
        for (int i = 0; i < Classes; i++)
        {
            rows[i] = new int[Classes];
            for (int j = 0; j < Classes; j++) rows[i][j] = Confusion[i, j];
        }
        return rows;
    }
}
