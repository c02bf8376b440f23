"""Model quality figures (precision, recall, average precision) from held-out predictions. No torch."""
