"""Whether a clip is worth keeping: silence (silence), trimmed edges (trim), and why one was set aside (reasons)."""
