using Mnist.Core;
using Mnist.Web;

// The server on its own: dotnet run --project src/Mnist.Web -- --model m.safetensors --port 5000
// (`mnist serve` is the usual way in; it calls WebServer.Run with the same settings).
try
{
    WebServer.Serve(WebServer.Create(args));
    return 0;
}
catch (MnistException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}

/// <summary>The entry point, public so tests can host the app (WebApplicationFactory&lt;Program&gt;).</summary>
public partial class Program;
