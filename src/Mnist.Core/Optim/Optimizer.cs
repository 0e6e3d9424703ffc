using Mnist.Core.Backends;
using Mnist.Core.Layers;
using Mnist.Core.Tensors;

namespace Mnist.Core.Optim;

/// <summary>
/// Updates a fixed list of parameters from their gradients, one <see cref="Step(float)"/> per
/// batch. The learning rate is passed in each step (it comes from a schedule). State buffers are
/// allocated once, on the first step, and can be exported and imported by name so that a resumed
/// run continues bit for bit.
/// </summary>
public abstract class Optimizer
{
    private readonly Parameter[] _parameters;
    private readonly string[] _bufferNames;
    private string[] _names;
    private Tensor[][]? _state; // [buffer][parameter]

    /// <param name="parameters">What to update; their names must be unique unless <see cref="NameParameters"/> gives others.</param>
    /// <param name="regularization">Penalties for parameters with Decay = true.</param>
    /// <param name="bufferNames">Per-parameter state this optimizer keeps (PyTorch's names).</param>
    protected Optimizer(IReadOnlyList<Parameter> parameters, Regularization regularization, params string[] bufferNames)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        regularization.Validate();
        _parameters = [.. parameters];
        _names = Array.ConvertAll(_parameters, p => p.Name);
        Regularization = regularization;
        _bufferNames = bufferNames;
    }

    /// <summary>The optimizer's name as the factory knows it ("adam", "nesterov", ...).</summary>
    public abstract string Name { get; }

    public IReadOnlyList<Parameter> Parameters => _parameters;

    public Regularization Regularization { get; }

    /// <summary>Steps taken so far (restored by <see cref="LoadState"/>); Adam's bias correction uses it.</summary>
    public long StepCount { get; private set; }

    /// <summary>Applies one update with the given learning rate to every parameter.</summary>
    public void Step(float learningRate)
    {
        if (!float.IsFinite(learningRate) || learningRate < 0)
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "must be finite and non-negative");
        EnsureState();
        StepCount++;
        BeginStep(learningRate);
        for (int i = 0; i < _parameters.Length; i++)
        {
            var parameter = _parameters[i];
            var penalty = new WeightPenalty(Regularization, parameter.Decay, learningRate);
            Update(i, parameter.Value, parameter.Grad, learningRate, penalty);
        }
    }

    /// <summary>
    /// Takes the learning rate (and, for one-cycle, the momentum) the schedule gives for the
    /// current <see cref="StepCount"/>, applies one step, and returns the rate used.
    /// </summary>
    public float Step(LearningRateSchedule schedule)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        long step = StepCount;
        if (schedule.Momentum(step) is float momentum && this is IMomentumOptimizer withMomentum)
            withMomentum.Momentum = momentum;
        float rate = schedule.Rate(step);
        Step(rate);
        return rate;
    }

    /// <summary>Called once per step before the parameters are updated (e.g. bias corrections).</summary>
    protected virtual void BeginStep(float learningRate) { }

    /// <summary>Updates parameter <paramref name="index"/> in place, on its backend.</summary>
    private protected abstract void Update(int index, Tensor value, Tensor grad, float learningRate, in WeightPenalty penalty);

    /// <summary>State buffer <paramref name="buffer"/> of parameter <paramref name="index"/> (on the parameter's backend).</summary>
    protected Tensor Buffer(int buffer, int index) => _state![buffer][index];

    /// <summary>
    /// The state as named tensors, "{parameter}.{buffer}" (e.g. "conv1.weight.exp_avg"). The
    /// tensors are the live buffers: copy or save them before the next step. Save
    /// <see cref="StepCount"/> alongside.
    /// </summary>
    public IEnumerable<(string Name, Tensor Value)> State
    {
        get
        {
            var state = EnsureState();
            for (int b = 0; b < _bufferNames.Length; b++)
                for (int i = 0; i < _parameters.Length; i++)
                    yield return (StateName(i, b), state[b][i]);
        }
    }

    /// <summary>Names <see cref="State"/> will have, in its order.</summary>
    public IEnumerable<string> StateNames =>
        from b in Enumerable.Range(0, _bufferNames.Length)
        from i in Enumerable.Range(0, _parameters.Length)
        select StateName(i, b);

    /// <summary>
    /// Restores state saved from <see cref="State"/> and <see cref="StepCount"/> by an optimizer of
    /// the same kind over the same parameters. The values are copied. Every expected name must be
    /// present with the parameter's shape and nothing else may be: a mismatch throws
    /// <see cref="MnistException"/> listing what is wrong, and leaves this optimizer unchanged.
    /// </summary>
    public void LoadState(IEnumerable<(string Name, Tensor Value)> state, long stepCount)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (stepCount < 0) throw new MnistException($"optimizer step count {stepCount} is negative");
        var given = new Dictionary<string, Tensor>();
        var problems = new List<string>();
        foreach (var (name, value) in state)
            if (!given.TryAdd(name, value)) problems.Add($"'{name}' appears twice");

        var own = EnsureState();
        var expected = new HashSet<string>();
        for (int b = 0; b < _bufferNames.Length; b++)
            for (int i = 0; i < _parameters.Length; i++)
            {
                string name = StateName(i, b);
                expected.Add(name);
                if (!given.TryGetValue(name, out var value)) problems.Add($"'{name}' is missing");
                else if (!value.SameShape(own[b][i].Shape))
                    problems.Add($"'{name}' has shape {Tensor.ShapeText(value.Shape)}, the parameter {Tensor.ShapeText(own[b][i].Shape)}");
            }
        foreach (var name in given.Keys.Where(n => !expected.Contains(n)))
            problems.Add($"'{name}' is not state of this {Name} optimizer");
        if (problems.Count > 0)
            throw new MnistException($"cannot load {Name} optimizer state: {string.Join("; ", problems)}");

        for (int b = 0; b < _bufferNames.Length; b++)
            for (int i = 0; i < _parameters.Length; i++)
                own[b][i].CopyFrom(given[StateName(i, b)]);
        StepCount = stepCount;
    }

    /// <summary>
    /// Names the parameters for the state's names, e.g. a model's dotted names ("7.weight"):
    /// a layer's own names ("weight") repeat across layers.
    /// </summary>
    public void NameParameters(IReadOnlyList<string> names)
    {
        if (names.Count != _parameters.Length)
            throw new ArgumentException($"{names.Count} names for {_parameters.Length} parameters");
        _names = [.. names];
    }

    private string StateName(int index, int buffer)
    {
        var duplicate = _names.GroupBy(n => n).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new InvalidOperationException($"parameter name '{duplicate.Key}' appears {duplicate.Count()} times; optimizer state is keyed by name (see NameParameters)");
        return $"{_names[index]}.{_bufferNames[buffer]}";
    }

    private Tensor[][] EnsureState()
    {
        if (_state is not null) return _state;
        var state = new Tensor[_bufferNames.Length][];
        for (int b = 0; b < state.Length; b++)
            state[b] = Array.ConvertAll(_parameters, p => new Tensor(p.Value.Backend, p.Value.Shape.ToArray()));
        return _state = state;
    }

    public override string ToString() => $"{Name}({Hyperparameters}; {Regularization})";

    /// <summary>The optimizer's own settings, for logs.</summary>
    protected abstract string Hyperparameters { get; }
}

/// <summary>
/// An optimizer with a momentum-like coefficient a schedule may vary per step (one-cycle cycles
/// it): the heavy-ball/Nesterov momentum, or Adam's beta1 (as PyTorch's OneCycleLR does).
/// </summary>
public interface IMomentumOptimizer
{
    float Momentum { get; set; }
}
