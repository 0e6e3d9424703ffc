using System.Text.Json;
using System.Text.Json.Serialization;

namespace Mnist.Web;

/// <summary>How every JSON answer is written: camelCase names, nulls left out.</summary>
public static class WebJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // Answers go to scripts, never into HTML unescaped: keep "->" readable in layer names.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
