"""Humans in the loop (issue #19): review samples and labels (``sampling``, ``labels``), the datasets
corrections become (``datasets``), and evaluation runs of a model version on them (``evaluations``).
Like every service here they flush and never commit."""
