using System.Runtime.InteropServices;

namespace Mnist.Core.IO.Onnx;

/// <summary>A node attribute: an integer, a list of integers or a float (all our layers need).</summary>
public readonly record struct OnnxAttribute(string Name, long? Int = null, long[]? Ints = null, float? Float = null)
{
    public static OnnxAttribute Of(string name, long value) => new(name, Int: value);
    public static OnnxAttribute Of(string name, params long[] values) => new(name, Ints: values);
    public static OnnxAttribute Of(string name, float value) => new(name, Float: value);
}

/// <summary>
/// Builds an ONNX graph in the order a network runs: weights as named initializers, one node per
/// operation (each returns the name of its output, which the next one consumes), a float input and
/// output with a symbolic batch axis. <see cref="ToModel"/> writes the ModelProto bytes.
/// Field numbers are those of onnx.proto (IR version 7, the default opset 13).
/// </summary>
public sealed class OnnxGraph
{
    private const int FloatType = 1; // TensorProto.DataType.FLOAT
    private readonly List<Action<ProtoWriter>> _nodes = [];
    private readonly List<Action<ProtoWriter>> _initializers = [];
    private readonly List<Action<ProtoWriter>> _inputs = [];
    private readonly List<Action<ProtoWriter>> _outputs = [];
    private readonly HashSet<string> _names = [];
    private int _next;

    /// <summary>A constant float tensor (a weight); returns its name.</summary>
    public string Initializer(string name, ReadOnlySpan<float> values, params long[] dims)
    {
        Claim(name);
        byte[] raw = MemoryMarshal.AsBytes(values).ToArray();
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX raw data is little-endian");
        _initializers.Add(t =>
        {
            t.PackedVarints(1, dims);        // dims
            t.Varint(2, FloatType);          // data_type
            t.String(8, name);               // name
            t.Bytes(9, raw);                 // raw_data
        });
        return name;
    }

    /// <summary>One operation; returns the name of its (single) output.</summary>
    public string Node(string opType, IReadOnlyList<string> inputs, params OnnxAttribute[] attributes)
    {
        string output = Fresh(opType);
        _nodes.Add(n =>
        {
            foreach (var input in inputs) n.String(1, input);
            n.String(2, output);
            n.String(3, output);             // node name = its output's
            n.String(4, opType);
            foreach (var a in attributes) n.Message(5, w => Attribute(w, a));
        });
        return output;
    }

    /// <summary>The graph's float input, shaped [batch, ...sampleShape].</summary>
    public string Input(string name, IReadOnlyList<int> sampleShape)
    {
        Claim(name);
        _inputs.Add(v => ValueInfo(v, name, sampleShape));
        return name;
    }

    /// <summary>Marks <paramref name="value"/> as a graph output under <paramref name="name"/> (an Identity when they differ).</summary>
    public void Output(string name, string value, IReadOnlyList<int> sampleShape)
    {
        if (value != name)
        {
            Claim(name);
            _nodes.Add(n =>
            {
                n.String(1, value);
                n.String(2, name);
                n.String(3, name);
                n.String(4, "Identity");
            });
        }
        _outputs.Add(v => ValueInfo(v, name, sampleShape));
    }

    /// <summary>The ModelProto: IR version 7, the given opset, producer, doc string and metadata.</summary>
    public byte[] ToModel(string graphName, string producerVersion, string docString,
        IReadOnlyList<KeyValuePair<string, string>> metadata, int opset = 13)
    {
        var model = new ProtoWriter();
        model.Varint(1, 7);                                       // ir_version
        model.String(2, "Mnist.Experiments");                     // producer_name
        model.String(3, producerVersion);                         // producer_version
        model.String(6, docString);                               // doc_string
        model.Message(7, g =>                                     // graph
        {
            foreach (var node in _nodes) g.Message(1, node);
            g.String(2, graphName);
            foreach (var init in _initializers) g.Message(5, init);
            foreach (var input in _inputs) g.Message(11, input);
            foreach (var output in _outputs) g.Message(12, output);
        });
        model.Message(8, o => o.Varint(2, opset));                // opset_import (default domain)
        foreach (var (key, value) in metadata)
            model.Message(14, m => { m.String(1, key); m.String(2, value); });
        return model.ToArray();
    }

    private static void Attribute(ProtoWriter w, OnnxAttribute a)
    {
        w.String(1, a.Name);
        if (a.Float is float f) { w.Float(2, f); w.Varint(20, 1); }           // FLOAT
        else if (a.Int is long i) { w.Varint(3, i); w.Varint(20, 2); }        // INT
        else if (a.Ints is long[] ints) { w.PackedVarints(8, ints); w.Varint(20, 7); } // INTS
        else throw new ArgumentException($"attribute {a.Name} has no value");
    }

    private static void ValueInfo(ProtoWriter v, string name, IReadOnlyList<int> sampleShape)
    {
        v.String(1, name);
        v.Message(2, type => type.Message(1, tensor =>             // TypeProto.tensor_type
        {
            tensor.Varint(1, FloatType);                            // elem_type
            tensor.Message(2, shape =>                              // TensorShapeProto
            {
                shape.Message(1, d => d.String(2, "batch"));        // dim_param
                foreach (int size in sampleShape) shape.Message(1, d => d.Varint(1, size)); // dim_value
            });
        }));
    }

    private string Fresh(string opType)
    {
        string name;
        do name = $"{opType.ToLowerInvariant()}_{_next++}"; while (!_names.Add(name));
        return name;
    }

    private void Claim(string name)
    {
        if (!_names.Add(name)) throw new ArgumentException($"the ONNX graph already has a value named '{name}'");
    }
}
