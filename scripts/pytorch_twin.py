#!/usr/bin/env python3
"""PyTorch twin of Mnist.Experiments' networks, for side-by-side checks.

  compare: build the network described in one of our .safetensors files, load its weights, run
           the first N test digits and compare the logits with ours (a raw float32 file written
           by `mnist eval --compare-pytorch`, which drives this mode).
  train:   train the same network with the same hyper-parameters and print one JSON line per
           epoch (seconds, test accuracy), so `mnist bench --compare-pytorch` can time both.

Uses Debian's python3-torch (installed here with libopenblas0-pthread when missing, as root).
"""
import argparse
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import time

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
        subprocess.run(["apt-get", "install", "-y", "-qq", "python3-torch", "libopenblas0-pthread"],
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


def activation(spec):
    name = spec["name"].lower()
    if name == "relu":
        return nn.ReLU()
    if name == "leakyrelu":
        return nn.LeakyReLU(spec.get("slope") or 0.01)
    if name == "elu":
        return nn.ELU(spec.get("alpha") or 1.0)
    if name in ("swish", "silu"):
        return nn.SiLU()
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "tanh":
        return nn.Tanh()
    sys.exit(f"the twin does not know activation {name}")


def build(config):
    """nn.Sequential mirroring our config, so state_dict names ("0.weight", ...) match ours."""
    channels, height, width = config["inputShape"]
    features = None
    layers = []
    for spec in config["layers"]:
        kind = spec["type"]
        if kind == "conv2d":
            k, s, p = spec.get("kernel", 3), spec.get("stride", 1), spec.get("pad", 0)
            layers.append(nn.Conv2d(channels, spec["out"], k, s, p, bias=spec.get("bias", True)))
            channels, height, width = spec["out"], (height + 2 * p - k) // s + 1, (width + 2 * p - k) // s + 1
        elif kind in ("maxpool", "avgpool"):
            size = spec.get("size", 2)
            stride = spec.get("stride") or size
            layers.append((nn.MaxPool2d if kind == "maxpool" else nn.AvgPool2d)(size, stride))
            height, width = (height - size) // stride + 1, (width - size) // stride + 1
        elif kind == "activation":
            layers.append(activation(spec))
        elif kind == "flatten":
            layers.append(nn.Flatten())
            features = channels * height * width
        elif kind == "dense":
            layers.append(nn.Linear(features, spec["out"]))
            features = spec["out"]
        elif kind == "dropout":
            layers.append(nn.Dropout(spec["p"]))
        else:
            sys.exit(f"the twin does not build layer type {kind}")
    return nn.Sequential(*layers)


def classic_config(width=1.0, act="relu"):
    c1, c2, hidden = (max(1, round(v * width)) for v in (32, 64, 128))
    a = {"type": "activation", "name": act}
    return {"inputShape": [1, 28, 28], "numClasses": 10, "layers": [
        {"type": "conv2d", "out": c1, "kernel": 3, "stride": 1, "pad": 1}, a, {"type": "maxpool", "size": 2},
        {"type": "conv2d", "out": c2, "kernel": 3, "stride": 1, "pad": 1}, a, {"type": "maxpool", "size": 2},
        {"type": "flatten"}, {"type": "dense", "out": hidden}, a, {"type": "dropout", "p": 0.25},
        {"type": "dense", "out": 10}]}


# ---------------------------------------------------------------- modes

def compare(args):
    tensors, meta = read_safetensors(args.model)
    config = json.loads(meta["mnist.config"])
    norm = json.loads(meta["mnist.normalization"])
    model = build(config)
    params = {k: v for k, v in tensors.items() if k in model.state_dict()}
    model.load_state_dict(params, strict=True)
    model.eval()
    x, y = load_split(data_dir(args.data_dir), "test", norm["mean"], norm["std"])
    x = x[:args.count]
    with torch.no_grad():
        logits = model(x).numpy()
    ours = np.fromfile(args.logits, dtype="<f4").reshape(logits.shape)
    diff = float(np.abs(logits - ours).max())
    agree = float((logits.argmax(1) == ours.argmax(1)).mean())
    print(json.dumps({"count": len(x), "max_abs_diff": diff, "argmax_agreement": agree}))


def train(args):
    torch.manual_seed(args.seed)
    folder = data_dir(args.data_dir)
    train_images, _ = (read_idx(folder, n) for n in NAMES["train"])
    mean = float(train_images.astype(np.float64).mean() / 255.0)
    std = float((train_images.astype(np.float64) / 255.0).std())
    x, y = load_split(folder, "train", mean, std)
    tx, ty = load_split(folder, "test", mean, std)
    if args.limit:
        x, y = x[:args.limit], y[:args.limit]
    model = build(classic_config(args.width, args.activation))
    steps = args.epochs * ((len(x) + args.batch_size - 1) // args.batch_size)
    if args.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                              nesterov=args.optimizer == "nesterov")
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=steps) if args.one_cycle else None
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(x))
        start = time.perf_counter()
        for i in range(0, len(x), args.batch_size):
            idx = order[i:i + args.batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            if sched:
                sched.step()
        seconds = time.perf_counter() - start
        model.eval()
        with torch.no_grad():
            correct = sum(int((model(tx[i:i + 1000]).argmax(1) == ty[i:i + 1000]).sum()) for i in range(0, len(tx), 1000))
        print(json.dumps({"epoch": epoch, "seconds": seconds, "images_per_second": len(x) / seconds,
                          "test_accuracy": correct / len(tx)}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("compare", help="compare logits with ours on the same weights")
    c.add_argument("--model", required=True)
    c.add_argument("--logits", required=True, help="our logits: raw little-endian float32, count x classes")
    c.add_argument("--count", type=int, default=1000)
    c.add_argument("--data-dir")
    t = sub.add_parser("train", help="train the classic network and time each epoch")
    t.add_argument("--epochs", type=int, default=1)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--lr", type=float, default=0.01)
    t.add_argument("--optimizer", choices=["sgd", "momentum", "nesterov", "adam"], default="momentum")
    t.add_argument("--momentum", type=float, default=0.9)
    t.add_argument("--one-cycle", action="store_true")
    t.add_argument("--width", type=float, default=1.0)
    t.add_argument("--activation", default="relu")
    t.add_argument("--seed", type=int, default=1)
    t.add_argument("--limit", type=int)
    t.add_argument("--data-dir")
    args = parser.parse_args()
    if args.mode == "train" and args.optimizer == "sgd":
        args.momentum = 0.0
    (compare if args.mode == "compare" else train)(args)


if __name__ == "__main__":
    main()
