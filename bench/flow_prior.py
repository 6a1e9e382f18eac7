"""The flow with its level-2 prior refitted to the training digits' codes as a Gaussian mixture: bits/dim, samples.

bench flow_levels finds the flow's sample gap in its level-2 model: a real digit's 7 x 7 code decodes to a digit, a
draw from N(0, I) often does not. Here that half of z keeps the flow's bijection but gets another prior: Gaussian
mixtures fitted by EM (scikit-learn, seed 0) to the level-2 codes of the training digits 0-8. Each prior is scored on
the exact test bits/dim of the flow with it (digits 0-8, seeded uniform dequantization, the N(0, I) row
measured in the same pass) and on 3,000 samples: level-2 code from the prior, 14 x 14 half from N(0, I), temperature
1, seed 1, scored as bench temperature scores samples.
"""

from __future__ import annotations

import math

import torch
from sklearn.mixture import GaussianMixture

from explorer.data import load_mnist
from explorer.fewshot import flow_lower, flow_upper
from explorer.models.flow import HALF, IMAGE_DIM, standard_normal_log_prob
from explorer.models.mixture import EM_REGULARISER

from .flow_levels import SAMPLES, SEED, scores, setting
from .timing import table

MIXTURES = ((1, "full"), (10, "full"), (50, "diag"), (100, "diag"))  # components, covariance


def run(quick: bool = False) -> str:
    flow, judge, test, n = setting(quick)
    train = load_mnist("train").seen().as_float()
    # codes and log-dets under seeded uniform dequantization, as the few-shot reference encodes images
    train_codes = flow_upper(flow, *flow_lower(flow, train[:2000] if quick else train))[0][:, HALF:].double().numpy()
    z, log_det = flow_upper(flow, *flow_lower(flow, test))
    fine, level2 = z[:, :HALF], z[:, HALF:]
    rest = standard_normal_log_prob(fine.double()) + log_det - IMAGE_DIM * math.log(256)  # all but level 2's prior

    def bits_per_dim(prior_log_prob: torch.Tensor) -> float:
        return (-(rest + prior_log_prob) / (IMAGE_DIM * math.log(2))).mean().item()

    generator = torch.Generator().manual_seed(SEED)
    drawn_fine = torch.randn(n, HALF, generator=generator)
    rows = [["N(0, I)", "-", f"{bits_per_dim(standard_normal_log_prob(level2.double())):.4f}",
             *scores(flow, torch.cat([drawn_fine, torch.randn(n, HALF, generator=generator)], 1), judge)]]
    for components, covariance in MIXTURES[:2] if quick else MIXTURES:
        mixture = GaussianMixture(components, covariance_type=covariance, reg_covar=EM_REGULARISER, random_state=0)
        mixture.fit(train_codes)
        drawn = torch.as_tensor(mixture.sample(n)[0], dtype=torch.float32)[torch.randperm(n, generator=generator)]
        label = f"{components} Gaussian{'s' * (components > 1)}, {covariance} covariance"
        rows.append([label, f"{parameters(mixture):,}",
                     f"{bits_per_dim(torch.as_tensor(mixture.score_samples(level2.double().numpy()))):.4f}",
                     *scores(flow, torch.cat([drawn_fine, drawn], 1), judge)])
    return (f"The shipped flow's level-2 prior refitted to {len(train_codes):,} training digits' codes; {n:,} samples "
            f"at temperature 1, seed {SEED}, FD floor at this size {judge.floor:.2f}\n\n"
            + table(["level-2 prior", "its parameters", "test bits/dim, digits 0-8", "confident 0-8", "FD"], rows))


def parameters(mixture: GaussianMixture) -> int:
    return int(mixture.weights_.size + mixture.means_.size
               + (mixture.covariances_.size if mixture.covariance_type != "full"
                  else mixture.n_components * HALF * (HALF + 1) // 2))

