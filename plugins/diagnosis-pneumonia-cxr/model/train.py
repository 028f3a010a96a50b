"""Trains the PneumoniaMNIST chest X-ray CNN and exports it to ONNX.

Run through `npm run models:train -- diagnosis-pneumonia-cxr`, which checks the interpreter, then
evaluates the exported file with onnxruntime-node, chooses the operating threshold on the validation
split and writes the figures into the model card. Usage:

    /usr/bin/python3 train.py DATA.npz OUT.onnx SUMMARY.json

Reproducible: every seed is fixed, PyTorch runs deterministic kernels on one thread, and the
validation split is never used for fitting (only for the summary printed at the end).
"""

import json
import random
import sys
import time

import numpy as np
import onnx
import torch
from torch import nn

SEED = 20231
EPOCHS = 12
BATCH_SIZE = 64
LEARNING_RATE = 2e-3
WEIGHT_DECAY = 1e-4
MAX_SHIFT = 2  # pixels of random translation per training image
OPSET = 13


def fix_seeds():
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)


class PneumoniaCnn(nn.Module):
    """Three conv blocks (16, 32, 64 channels) → global average → one logit."""

    def __init__(self):
        super().__init__()

        def block(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

        self.features = nn.Sequential(
            *block(1, 16),
            nn.MaxPool2d(2),  # 14 × 14
            *block(16, 32),
            nn.MaxPool2d(2),  # 7 × 7
            *block(32, 64),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(64, 1)

    def forward(self, x):
        return self.classifier(self.features(x))


class DeployedModel(nn.Module):
    """What the ONNX file holds: raw grey levels 0–255 in, P(pneumonia) out."""

    def __init__(self, cnn, mean, std):
        super().__init__()
        self.cnn = cnn
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))

    def forward(self, image):
        return torch.sigmoid(self.cnn((image - self.mean) / self.std))


def describe(onnx_path):
    """Says in the file what goes in and out, and where the data came from; checks the graph."""
    model = onnx.load(onnx_path)
    model.doc_string = (
        "P(pneumonia) from a 28 x 28 paediatric chest X-ray. Input image: float32 [N, 1, 28, 28], "
        "grey levels 0-255 as in PneumoniaMNIST (normalised inside the graph). Output probability: "
        "float32 [N, 1]. Research grade: decision support only."
    )
    onnx.helper.set_model_props(
        model,
        {
            "data": "PneumoniaMNIST (MedMNIST v2, Yang et al., Scientific Data 10, 41 (2023), CC BY 4.0), "
            "official train split; from Kermany et al., Cell 172(5), 2018",
            "training": "plugins/diagnosis-pneumonia-cxr/model/train.py",
        },
    )
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, onnx_path)


def load(path):
    with np.load(path) as data:
        return {key: data[key] for key in ("train_images", "train_labels", "val_images", "val_labels")}


def shifted(batch, generator):
    """Random translation by up to MAX_SHIFT pixels (zero padding), one shift per image."""
    n = batch.shape[0]
    padded = nn.functional.pad(batch, (MAX_SHIFT,) * 4)
    offsets = torch.randint(0, 2 * MAX_SHIFT + 1, (n, 2), generator=generator)
    return torch.stack(
        [padded[i, :, dy : dy + 28, dx : dx + 28] for i, (dy, dx) in enumerate(offsets.tolist())]
    )


def roc_auc(labels, scores):
    """Mann–Whitney AUC, ties counted one half (exact, O(P·N) is fine at this size)."""
    pos = scores[labels == 1][:, None]
    neg = scores[labels == 0][None, :]
    return float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size))


def main(data_path, onnx_path, summary_path):
    fix_seeds()
    started = time.time()
    data = load(data_path)
    train_x = torch.from_numpy(data["train_images"].astype(np.float32)).unsqueeze(1)
    train_y = torch.from_numpy(data["train_labels"].astype(np.float32))
    val_x = torch.from_numpy(data["val_images"].astype(np.float32)).unsqueeze(1)
    val_y = data["val_labels"].reshape(-1)
    mean = float(train_x.mean())
    std = float(train_x.std())

    cnn = PneumoniaCnn()
    optimiser = torch.optim.AdamW(cnn.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    steps = EPOCHS * ((len(train_x) + BATCH_SIZE - 1) // BATCH_SIZE)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=LEARNING_RATE, total_steps=steps)
    loss_fn = nn.BCEWithLogitsLoss()
    generator = torch.Generator().manual_seed(SEED)
    normalised = (train_x - mean) / std
    history = []
    for epoch in range(EPOCHS):
        cnn.train()
        order = torch.randperm(len(train_x), generator=generator)
        total = 0.0
        for start in range(0, len(order), BATCH_SIZE):
            index = order[start : start + BATCH_SIZE]
            # Shift the normalised image: the padding is then the data set's mean grey, not black.
            batch = shifted(normalised[index], generator)
            loss = loss_fn(cnn(batch), train_y[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss) * len(index)
        history.append(round(total / len(train_x), 6))
        print(f"epoch {epoch + 1}/{EPOCHS}: training loss {history[-1]:.4f}", flush=True)

    cnn.eval()
    deployed = DeployedModel(cnn, mean, std).eval()
    with torch.no_grad():
        val_p = deployed(val_x).numpy().reshape(-1)
    seconds = time.time() - started
    torch.onnx.export(
        deployed,
        torch.zeros(1, 1, 28, 28),
        onnx_path,
        input_names=["image"],
        output_names=["probability"],
        dynamic_axes={"image": {0: "N"}, "probability": {0: "N"}},
        opset_version=OPSET,
        do_constant_folding=True,
    )
    describe(onnx_path)
    summary = {
        "framework": f"PyTorch {torch.__version__}",
        "seed": SEED,
        "epochs": EPOCHS,
        "batchSize": BATCH_SIZE,
        "optimiser": f"AdamW (weight decay {WEIGHT_DECAY}), one-cycle learning rate, peak {LEARNING_RATE}",
        "augmentation": f"random translation up to {MAX_SHIFT} px",
        "opset": OPSET,
        "parameters": sum(p.numel() for p in cnn.parameters()),
        "trainingImages": len(train_x),
        "normalisation": {"mean": mean, "std": std},
        "trainingLossByEpoch": history,
        "trainingSeconds": round(seconds, 1),
        "torchValidationAuc": roc_auc(val_y, val_p),
    }
    with open(summary_path, "w") as out:
        json.dump(summary, out, indent=2)
        out.write("\n")
    print(f"trained in {seconds:.1f} s; validation AUC (PyTorch) {summary['torchValidationAuc']:.4f}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: train.py DATA.npz OUT.onnx SUMMARY.json")
    main(*sys.argv[1:])
