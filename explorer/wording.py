"""The words the pages use for the models' ways of encoding and for the few-shot methods, in one place, so the lab
modules hold only computation and a page's wording can change without touching them."""

# What "reconstruction" means for each way of inverting a model (the interface's ``inversion``).
INVERSION_NOTES = {
    "exact": "This model is invertible: encoding then decoding returns the image itself (up to the "
             "half-level dequantisation offset), so its reconstructions say nothing about compression.",
    "ode": "This model encodes by solving its ODE backwards from the image to the Gaussian: decoding the code "
           "solves it forwards again and returns the image, up to the solver's error and the half-level "
           "dequantisation offset.",
    "posterior-mean": "The encoder's posterior mean is decoded: what survives the squeeze through the latent code.",
    "optimised": "This model has no encoder: each code is found by optimising z until G(z) matches the image. "
                 "Reconstructions are approximate and slower, and show what the generator can draw, not what it encodes.",
}

# The few-shot methods (``fewshot.METHODS``) as the page names them.
FEWSHOT_METHODS = {
    "pixel": "Pixel Gaussian (baseline)",
    "copy": "Copies of the examples (memorisation floor)",
    "flow": "Flow latent Gaussian",
    "bayes": "Flow N(0, I), Bayesian update",
    "cnf": "Continuous flow latent Gaussian",
    "vae": "VAE latent Gaussian",
    "finetune": "Fine-tuned flow",
}
