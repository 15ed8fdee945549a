"""Test harnesses that tools and tests share (as mmdet.testing): golden training traces."""
