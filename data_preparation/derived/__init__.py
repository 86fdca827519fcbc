"""What a clip becomes besides its own audio: offline augmented copies (augment) and log-mel images (logmel)."""
