"""Reading input audio: any file to a 16 kHz mono waveform (audio_io), each decoded once and spooled (decode)."""
