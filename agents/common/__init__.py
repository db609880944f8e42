"""Pieces the agents share: replay buffers, exploration noise, nearest-neighbour search, networks."""
