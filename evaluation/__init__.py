"""After training: test-set reports, logits collection and taxonomy checks."""
