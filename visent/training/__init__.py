"""Training: SGD with early stopping and resume, the stacked trainer, the linear probe, torchrun."""
