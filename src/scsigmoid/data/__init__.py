"""Data stage: dataset sheet, downloads, gene vocabulary, TEDDY-G tokenisation, token corpora."""
