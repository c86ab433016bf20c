"""Scheduler adapters: Slurm and Kubernetes behind one interface, and the built Slurm."""
