namespace Mnist.Core;

/// <summary>
/// An error a person can act on (bad path, corrupt file, bad argument). Front ends print its
/// message alone, without a stack trace, and exit non-zero.
/// </summary>
public class MnistException(string message, Exception? inner = null) : Exception(message, inner);
