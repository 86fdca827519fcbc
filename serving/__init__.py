"""The web page of seed 000 chapter 7: upload a recording, see its waveform and segment emotions."""
