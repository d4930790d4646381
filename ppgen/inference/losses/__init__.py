"""Custom objectives ``loss(model, guide, *args) -> tensor`` (MMD, adversarial) for ``fit``."""
