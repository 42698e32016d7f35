"""The review page: reviewers label samples of AI outputs and export datasets of corrections."""
