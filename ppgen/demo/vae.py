"""Demo section: a VAE trained by the ELBO and by the IWAE bound on binarized digits."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyro
import torch

from ..data import load_dataset
from ..evaluation import (
    active_units,
    elbo,
    independent_bernoulli_log_lik,
    latent_activity,
    log_likelihood,
)
from ..models import VAE
from ..plots import image_grid, plot_latent_activity, plot_reconstructions, unflatten_images
from ..runs.figures import image_meta
from ..runs.tables import save_figure, write_table
from ..training import fit

# The settings of benchmarks/vae_digits.py with fewer particles and steps, so the demo stays short.
LATENT_DIM, HIDDEN, PARTICLES = 20, [100, 100], 5
TRAINING = {"VAE (ELBO)": "trace", "IWAE": "iwae"}


def vae_section(run_dir: Path, quick: bool, progress: bool) -> str:
    """The same VAE trained by the ELBO and by the IWAE bound: NLL, active units, figures."""
    data = load_dataset("digits", binarize="threshold")
    steps, eval_samples = (20, 50) if quick else (3000, 1000)
    images = image_meta(data)
    rows, activities, samples, fitted = [], {}, [], {}
    for label, estimator in TRAINING.items():
        torch.manual_seed(0)
        model = VAE(data.num_features, LATENT_DIM, HIDDEN).init_from_data(data.train)
        result = fit(
            model,
            data,
            estimator=estimator,
            num_particles=PARTICLES,
            steps=steps,
            batch_size=100,
            progress=progress,
        )
        test = data.test.to(result.device)
        pyro.set_rng_seed(0)
        with torch.no_grad():
            rows.append(
                {
                    "model": f"{label}, K={PARTICLES}",
                    f"test NLL (k={eval_samples})": -float(
                        log_likelihood(model, test, eval_samples).mean()
                    ),
                    "test -ELBO": -float(elbo(model, test, 100).mean()),
                    "active units": active_units(model, test),
                    "fit seconds": float(result.history["wall_time"].iloc[-1]),
                }
            )
            activities[label] = latent_activity(model, test)
            samples.append(model.sample(10).cpu())
        fitted[label] = model
    baseline = -float(independent_bernoulli_log_lik(data.train, data.test).mean())
    table = pd.DataFrame(rows)
    write_table(table, run_dir / "vae_vs_iwae")

    save_figure(plot_latent_activity(activities), run_dir / "vae_latent_activity.png")
    grid = unflatten_images(torch.cat(samples), *images)
    save_figure(
        image_grid(grid, suptitle="samples: VAE (top), IWAE (bottom)"), run_dir / "vae_samples.png"
    )
    shown = data.test[:10].to(fitted["IWAE"].device)
    save_figure(
        plot_reconstructions(shown, fitted["IWAE"].reconstruct(shown), *images),
        run_dir / "vae_reconstructions.png",
    )
    return "\n".join(
        [
            "## VAE and IWAE on binarized digits",
            "",
            f"The same VAE ({LATENT_DIM} Gaussian latents, ReLU MLPs {HIDDEN}, Bernoulli pixels) "
            f"trained {steps} steps from the same start by the ELBO and by the importance-weighted "
            f"bound, both with K={PARTICLES} samples per image (Burda et al. 2016). Test NLL is "
            f"importance-sampled with k={eval_samples} (nats per image; "
            "`benchmarks/vae_digits.py` uses k=5000 and K=50); an active unit's posterior mean "
            "varies with the image (variance above 0.01). The baseline to beat, independent "
            f"Bernoulli pixels at their training frequencies: test NLL {baseline:.2f}.",
            "",
            table.to_markdown(index=False, floatfmt=".2f"),
            "",
            "![latent activity](vae_latent_activity.png)",
            "![samples](vae_samples.png)",
            "![reconstructions](vae_reconstructions.png)",
            "",
        ]
    )
