"""The tiny flow recipe the training tests fit: a local encoder and velocity network 8 wide, cutoff 1.2."""
import yaml


def tiny_flow_recipe(folder, out, train_files, val_files=(), task="flow", **train):
    """Write ``folder/out.yaml`` (output ``out``, data files relative to ``folder``) and return its path.

    ``train`` are the recipe's train.* keys; the defaults keep a fit to seconds.
    """
    r = {"task": task, "out": out, "data": {"train": list(train_files), "val": list(val_files)},
         "encoder": {"kind": "local", "width": 8, "cutoff": 1.2}, "model": {"hidden": 8, "n_layers": 2, "cutoff": 1.2},
         "train": dict({"steps": 2, "batch_size": 4, "checkpoint_every": 2, "eval_every": 2, "val_samples": 2}, **train)}
    p = folder / f"{out}.yaml"
    p.write_text(yaml.safe_dump(r))
    return p
