"""Training sparse encoders: teachers, cached candidate scores, ensemble targets, losses, recipes."""
