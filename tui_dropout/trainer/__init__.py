"""The torch side: models, steppers, the training loop, checkpoints and the trainer process. Only this package imports torch."""
