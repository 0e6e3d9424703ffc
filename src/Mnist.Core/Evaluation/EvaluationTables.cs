using System.Globalization;
using System.Text;

namespace Mnist.Core.Evaluation;

/// <summary>Plain-text tables of an evaluation, for the terminal and logs.</summary>
public static class EvaluationTables
{
    private static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);

    public static string Summary(EvaluationResult r) =>
        $"loss {F(r.Loss, "F4")}, accuracy {F(r.Accuracy * 100, "F2")}% ({r.Correct}/{r.Count})";

    public static string Confusion(EvaluationResult r)
    {
        var sb = new StringBuilder();
        sb.Append("true\\pred");
        for (int j = 0; j < r.Classes; j++) sb.Append($"{j,6}");
        sb.AppendLine();
        for (int i = 0; i < r.Classes; i++)
        {
            sb.Append($"{i,9}");
            for (int j = 0; j < r.Classes; j++) sb.Append($"{r.Confusion[i, j],6}");
            sb.AppendLine();
        }
        return sb.ToString();
    }

    public static string PerClass(EvaluationResult r)
    {
        var sb = new StringBuilder();
        sb.AppendLine("class  precision  recall      F1  support");
        foreach (var s in r.PerClass())
            sb.AppendLine($"{s.Class,5}  {F(s.Precision * 100, "F2"),8}%  {F(s.Recall * 100, "F2"),6}%  {F(s.F1 * 100, "F2"),6}%  {s.Support,7}");
        return sb.ToString();
    }

    public static string Mistakes(EvaluationResult r, int count = 10)
    {
        var sb = new StringBuilder();
        sb.AppendLine("index  label  predicted  confidence");
        foreach (var m in r.WorstMistakes.Take(count))
            sb.AppendLine($"{m.Index,5}  {m.Label,5}  {m.Predicted,9}  {F(m.Confidence * 100, "F1"),9}%");
        return sb.ToString();
    }
}
