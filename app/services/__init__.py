"""Domain services: plain values in, models or DataFrames out. None of them commits."""
