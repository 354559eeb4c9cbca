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


def still_flow_model(width: float, history: bool = False, seed: int = 0):
    """An untrained flow model whose velocity is zero: a draw is its prior noise, N(0, width²) per component
    for both species at every lag (centre of mass removed); a width of 1 σ puts cores on top of each other."""
    import torch

    from glassgen.flow import paths
    from glassgen.flow.context import LocalEncoder
    from glassgen.flow.model import FlowModel
    from glassgen.flow.velocity import VelocityConfig

    torch.manual_seed(seed)
    m = FlowModel(LocalEncoder(width=8, cutoff=1.5), VelocityConfig(embed_dim=8, hidden=8, n_layers=1, history=history),
                  paths.PriorScale([1.0, 100.0], [[width, width], [width, width]]), "flow")
    with torch.no_grad():
        m.velocity.head[2].weight.zero_()
        m.velocity.head[2].bias.zero_()
    return m
