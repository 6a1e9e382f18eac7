"""Latent Explorer: PyTorch generative models of MNIST digits and the tools to look inside them."""
