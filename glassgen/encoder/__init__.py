"""Supervised BOTAN: the network, its targets, training, published weights and checkpoints."""
