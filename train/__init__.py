"""Command-line fronts: ``python -m train.ppo``, ``train.evaluate``, ``train.video``."""
