#!/usr/bin/env python3
"""PyTorch twin of Mnist.Experiments' networks, for side-by-side checks.

  compare: build the network described in one of our .safetensors files (any layer kind of our
           ModelConfig), load its weights and buffers by name, run the first N test digits and
           compare the logits with ours (a raw float32 file written by `mnist eval
           --compare-pytorch`, which drives this mode).
  train:   train the network of one of our model configs (JSON) with the same hyper-parameters
           and print one JSON line per epoch (seconds, test accuracy), so `mnist bench
           --compare-pytorch` can time both. --config also takes one of our .safetensors models
           (its config is in the metadata). --device cuda trains on the GPU with the data moved
           there first (scripts/gpu/h200-check.sh), each epoch timed to a synchronize.

Uses Debian's python3-torch (installed here with libopenblas0-pthread when missing, as root).
"""
import argparse
import gzip
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import time
from collections import OrderedDict

SYSTEM_PYTHON = "/usr/bin/python3"


def ensure_torch():
    """Imports torch, installing Debian's package or switching to the system Python when needed."""
    try:
        import torch  # noqa: F401
        return
    except ImportError:
        pass
    has_torch = lambda: os.path.exists(SYSTEM_PYTHON) and subprocess.run(
        [SYSTEM_PYTHON, "-c", "import torch"], capture_output=True).returncode == 0
    if not has_torch():
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            sys.exit("PyTorch is missing: install python3-torch and libopenblas0-pthread (Debian)")
        print("installing python3-torch and libopenblas0-pthread ...", file=sys.stderr)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "python3-torch", "libopenblas0-pthread"],
                       check=True, env=env, stdout=subprocess.DEVNULL)
    if os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON):
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    sys.exit("PyTorch is installed but cannot be imported by " + sys.executable)


ensure_torch()
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

torch.set_num_threads(int(os.environ.get("TWIN_THREADS", "2")))
torch.set_flush_denormal(True)


# ---------------------------------------------------------------- data

NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def data_dir(given):
    if given:
        return given
    if os.environ.get("MNIST_DATA"):
        return os.environ["MNIST_DATA"]
    cache = os.environ.get("MNIST_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mnist-experiments", "mnist")
    return cache


def read_idx(folder, name):
    raw = os.path.join(folder, name)
    path, opener = (raw, open) if os.path.exists(raw) else (raw + ".gz", gzip.open)
    with opener(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = struct.unpack(">" + "i" * rank, data[4:4 + 4 * rank])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def load_split(folder, split, mean, std):
    images, labels = (read_idx(folder, n) for n in NAMES[split])
    x = (images.astype(np.float32) / 255.0 - mean) / std
    return torch.from_numpy(x[:, None, :, :].copy()), torch.from_numpy(labels.astype(np.int64))


# ---------------------------------------------------------------- model

def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        body = f.read()
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, entry in header.items():
        assert entry["dtype"] == "F32", name
        begin, end = entry["data_offsets"]
        tensors[name] = torch.from_numpy(np.frombuffer(body[begin:end], dtype="<f4").reshape(entry["shape"]).copy())
    return tensors, meta


def canonical(name):
    """Our activation names: case, '-' and '_' ignored; silu is swish."""
    key = (name or "").strip().lower().replace("-", "").replace("_", "")
    return "swish" if key == "silu" else key


def given(value, default):
    """A config field that may be absent or null (0 is a value, not a default)."""
    return default if value is None else value


# An activation by canonical name, from its spec (slope, alpha: as in our ActivationSpec).
ACTIVATIONS = {
    "relu": lambda spec: nn.ReLU(),
    "leakyrelu": lambda spec: nn.LeakyReLU(given(spec.get("slope"), 0.01)),
    "elu": lambda spec: nn.ELU(given(spec.get("alpha"), 1.0)),
    "swish": lambda spec: nn.SiLU(),
    "sigmoid": lambda spec: nn.Sigmoid(),
    "tanh": lambda spec: nn.Tanh(),
}


def activation(name, spec):
    key = canonical(name)
    if key not in ACTIVATIONS:
        sys.exit(f"the twin does not know activation {name} (it knows: {', '.join(ACTIVATIONS)})")
    return ACTIVATIONS[key](spec)


def conv_out(size, kernel, stride, pad):
    return (size + 2 * pad - kernel) // stride + 1


def image(shape, kind):
    if len(shape) != 3:
        sys.exit(f"{kind} needs a [C, H, W] input, not {list(shape)}")
    return shape


# Each layer kind of our ModelConfig: (spec, per-sample input shape) -> (module, output shape).
# The module's own parameter and buffer names are ours ("weight", "running_mean", "conv1.weight").

def conv2d(spec, shape):
    c, h, w = image(shape, "conv2d")
    k, s, p = spec.get("kernel", 3), spec.get("stride", 1), spec.get("pad", 0)
    module = nn.Conv2d(c, spec["out"], k, s, p, bias=spec.get("bias", True))
    return module, (spec["out"], conv_out(h, k, s, p), conv_out(w, k, s, p))


def pool(module_type, kind):
    def build_pool(spec, shape):
        c, h, w = image(shape, kind)
        size = spec.get("size", 2)
        stride = given(spec.get("stride"), size)
        return module_type(size, stride), (c, conv_out(h, size, stride, 0), conv_out(w, size, stride, 0))
    return build_pool


def batchnorm(spec, shape):
    bn = {1: nn.BatchNorm1d, 3: nn.BatchNorm2d}.get(len(shape))
    if bn is None:
        sys.exit(f"batchnorm needs a [features] or [C, H, W] input, not {list(shape)}")
    return bn(shape[0], eps=spec.get("epsilon", 1e-5), momentum=spec.get("momentum", 0.1)), shape


class Residual(nn.Module):
    """Our ResidualBlock: act(bn2(conv2(act1(bn1(conv1(x))))) + shortcut(x)), the shortcut a strided
    1x1 convolution with batch norm when the shape changes, else the identity."""

    def __init__(self, spec, shape):
        super().__init__()
        c, h, w = image(shape, "residual")
        out, stride = spec["out"], spec.get("stride", 1)
        act = spec.get("activation", "relu")
        self.conv1 = nn.Conv2d(c, out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out)
        self.act1 = activation(act, spec)
        self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.shortcut = None
        if c != out or stride != 1:
            self.shortcut = nn.Sequential(OrderedDict(
                conv=nn.Conv2d(c, out, 1, stride, 0, bias=False), bn=nn.BatchNorm2d(out)))
        self.act = activation(act, spec)
        self.out_shape = (out, conv_out(h, 3, stride, 1), conv_out(w, 3, stride, 1))

    def forward(self, x):
        h = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        return self.act(h + (x if self.shortcut is None else self.shortcut(x)))


def residual(spec, shape):
    block = Residual(spec, shape)
    return block, block.out_shape


def dense(spec, shape):
    if len(shape) != 1:
        sys.exit(f"dense needs a [features] input (add a flatten layer), not {list(shape)}")
    return nn.Linear(shape[0], spec["out"]), (spec["out"],)


LAYERS = {
    "conv2d": conv2d,
    "maxpool": pool(nn.MaxPool2d, "maxpool"),
    "avgpool": pool(nn.AvgPool2d, "avgpool"),
    "activation": lambda spec, shape: (activation(spec["name"], spec), shape),
    "flatten": lambda spec, shape: (nn.Flatten(), (math.prod(shape),)),
    "dense": dense,
    "dropout": lambda spec, shape: (nn.Dropout(spec["p"]), shape),
    "batchnorm": batchnorm,
    "residual": residual,
    "globalmaxpool": lambda spec, shape: (nn.AdaptiveMaxPool2d(1), (image(shape, "globalmaxpool")[0], 1, 1)),
}


def build(config):
    """nn.Sequential mirroring our config, so state_dict names ("0.weight", "3.bn1.running_mean") match ours."""
    shape = tuple(config["inputShape"])
    layers = []
    for spec in config["layers"]:
        kind = spec["type"]
        if kind not in LAYERS:
            sys.exit(f"the twin does not build layer type {kind} (it builds: {', '.join(LAYERS)})")
        module, shape = LAYERS[kind](spec, shape)
        layers.append(module)
    return nn.Sequential(*layers)


def load_weights(model, tensors, source):
    """Copies our tensors into the twin by name; both sides must name the same tensors with the same
    shapes. PyTorch's num_batches_tracked has no counterpart (it only matters for momentum=None)."""
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    missing = sorted(set(state) - set(tensors))
    unexpected = sorted(set(tensors) - set(state))
    if missing or unexpected:
        sys.exit(f"{source} does not fit the twin: missing {missing[:5]}, unexpected {unexpected[:5]}")
    for name, target in state.items():
        if tuple(tensors[name].shape) != tuple(target.shape):
            sys.exit(f"{source}: {name} has shape {list(tensors[name].shape)}, the twin expects {list(target.shape)}")
    model.load_state_dict(tensors, strict=False)


def has_batchnorm(model):
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


# ---------------------------------------------------------------- modes

def compare(args):
    tensors, meta = read_safetensors(args.model)
    config = json.loads(meta["mnist.config"])
    norm = json.loads(meta["mnist.normalization"])
    model = build(config)
    load_weights(model, tensors, args.model)
    model.eval()
    x, y = load_split(data_dir(args.data_dir), "test", norm["mean"], norm["std"])
    x = x[:args.count]
    with torch.no_grad():
        logits = model(x).numpy()
    ours = np.fromfile(args.logits, dtype="<f4").reshape(logits.shape)
    # NaN or infinite logits (a diverged model) cannot be compared; they are counted instead.
    finite = np.isfinite(logits) & np.isfinite(ours)
    diff = float(np.abs(logits - ours)[finite].max()) if finite.any() else 0.0
    agree = float((logits.argmax(1) == ours.argmax(1)).mean())
    print(json.dumps({"count": len(x), "max_abs_diff": diff, "argmax_agreement": agree,
                      "nonfinite_ours": int((~np.isfinite(ours)).sum()),
                      "nonfinite_twin": int((~np.isfinite(logits)).sum())}))


def sync(device):
    """Waits for the GPU's queued work, so a timing covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train(args):
    torch.manual_seed(args.seed)
    folder = data_dir(args.data_dir)
    x, y = load_split(folder, "train", 0.0, 1.0)
    if args.limit:
        x, y = x[:args.limit], y[:args.limit]
    # Normalised by the training images' mean and standard deviation, as our Trainer does.
    mean, std = float(x.double().mean()), float(x.double().std(unbiased=False))
    x = (x - mean) / std
    tx, ty = load_split(folder, "test", mean, std)
    if args.config.endswith(".safetensors"):
        model = build(json.loads(read_safetensors(args.config)[1]["mnist.config"]))
    else:
        with open(args.config) as f:
            model = build(json.load(f))
    device = torch.device(args.device)
    model.to(device)
    x, y, tx, ty = x.to(device), y.to(device), tx.to(device), ty.to(device)
    # Batch norm cannot normalise a batch of one: such a last batch is left out, as ours does.
    count = len(x) - 1 if has_batchnorm(model) and len(x) % args.batch_size == 1 and len(x) > 1 else len(x)
    steps = args.epochs * ((count + args.batch_size - 1) // args.batch_size)
    if args.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                              nesterov=args.optimizer == "nesterov")
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=steps) if args.one_cycle else None
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(x), device=device)[:count]
        sync(device)
        start = time.perf_counter()
        for i in range(0, count, args.batch_size):
            idx = order[i:i + args.batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            if sched:
                sched.step()
        sync(device)
        seconds = time.perf_counter() - start
        model.eval()
        with torch.no_grad():
            correct = sum(int((model(tx[i:i + 1000]).argmax(1) == ty[i:i + 1000]).sum()) for i in range(0, len(tx), 1000))
        print(json.dumps({"epoch": epoch, "seconds": seconds, "images_per_second": count / seconds,
                          "test_accuracy": correct / len(tx)}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("compare", help="compare logits with ours on the same weights")
    c.add_argument("--model", required=True)
    c.add_argument("--logits", required=True, help="our logits: raw little-endian float32, count x classes")
    c.add_argument("--count", type=int, default=1000)
    c.add_argument("--data-dir")
    t = sub.add_parser("train", help="train a network and time each epoch")
    t.add_argument("--config", required=True, help="our model config (JSON), e.g. from `mnist summary`")
    t.add_argument("--epochs", type=int, default=1)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--lr", type=float, default=0.01)
    t.add_argument("--optimizer", choices=["sgd", "momentum", "nesterov", "adam"], default="momentum")
    t.add_argument("--momentum", type=float, default=0.9)
    t.add_argument("--one-cycle", action="store_true")
    t.add_argument("--seed", type=int, default=1)
    t.add_argument("--limit", type=int)
    t.add_argument("--data-dir")
    t.add_argument("--device", default="cpu", help="cpu or cuda (data moved to the GPU before the first epoch)")
    args = parser.parse_args()
    if args.mode == "train" and args.optimizer == "sgd":
        args.momentum = 0.0
    (compare if args.mode == "compare" else train)(args)


if __name__ == "__main__":
    main()
