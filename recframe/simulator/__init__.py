"""The simulation loop: raw environments and the Gymnasium adapter."""
