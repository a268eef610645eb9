"""How fast the MNIST metrics read images: the shipped classifier as trained against the frozen copy they use.

Both read the same MNIST test digits into 128-d features; the table gives images per second on 1 and 2 threads (the
median of ``--repeat`` passes after one warm-up pass), how far the two sets of features lie apart, and the FID between
the test digits and the first training digits computed from each, which should agree to float32 rounding.

    python benchmarks/mnist_backbone.py                  # 10,000 test digits, 5 repeats

Needs MNIST in the data home.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def main(argv: list[str] | None = None) -> int:
    import torch

    from saddlepoint.data.images import load_mnist
    from saddlepoint.metrics.features import feature_statistics, frechet_distance
    from saddlepoint.metrics.mnist_classifier import FrozenMNISTClassifier, load_mnist_classifier
    from saddlepoint.precision import machine_id

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)

    def pixels(images):
        return images.float().div(127.5).sub(1)

    test = pixels(load_mnist(train=False).images[: args.images])
    train = pixels(load_mnist(train=True).images[: args.images])
    trained = load_mnist_classifier()
    readers = {"as trained (eval mode)": trained, "frozen copy (the metrics')": FrozenMNISTClassifier(trained)}

    @torch.no_grad()
    def features(model, x):
        return torch.cat([model.features(b) for b in x.split(1000)])

    print(f"machine: {machine_id(torch.device('cpu'))}, {os.cpu_count()} CPUs; {len(test)} MNIST test digits\n")
    print("| classifier | images/s, 1 thread | images/s, 2 threads | FID(test, train[:n]) |\n|---|---|---|---|")
    feats = {}
    for name, model in readers.items():
        speed = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            features(model, test)  # warm-up: oneDNN builds its kernels
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                features(model, test)
                times.append(time.perf_counter() - t0)
            speed.append(len(test) / statistics.median(times))
        feats[name] = features(model, test)
        fid = frechet_distance(*feature_statistics(features(model, train)), *feature_statistics(feats[name]))
        print(f"| {name} | {speed[0]:,.0f} | {speed[1]:,.0f} | {fid:.6f} |")
    a, b = feats.values()
    print(f"\nlargest feature difference: {float((a - b).abs().max()):.2e} (features up to {float(a.abs().max()):.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
