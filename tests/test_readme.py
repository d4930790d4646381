"""The README's code examples run as written."""

import re
from pathlib import Path

import torch

import ppgen
from ppgen.models import available_models

README = (Path(__file__).parents[1] / "README.md").read_text()


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_custom_model_example_registers_fits_and_samples():
    block = next(b for b in python_blocks() if "class MyPCA" in b)
    namespace = {}
    if "my_pca" not in available_models():  # registering twice is refused
        exec(block, namespace)
    model = available_models()["my_pca"](5, 2)
    x = torch.randn(64, 5)
    result = ppgen.fit(model, x, steps=20, lr=0.01, progress=False)
    assert len(result.history) == 20 and model.sample(3).shape == (3, 5)


def test_quick_start_is_two_commands():
    quick = README.split("## Quick start", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line for line in quick.splitlines() if line.strip()]
    assert len(commands) == 2
    assert commands[0].endswith("ppgen demo") and "pytest" in commands[1]


def test_users_own_pyro_program_example_runs():
    """The logistic-regression example of "Your own Pyro programs" (with smaller budgets)."""
    block = next(b for b in python_blocks() if "Bayesian logistic regression" in b)
    block = block.replace("steps=2000", "steps=30").replace("steps=500", "steps=10")
    assert "steps=30" in block and "steps=10" in block
    namespace = {}
    exec(block, namespace)
    guide = namespace["guide"]
    assert guide.locs.w.shape == (3,)
