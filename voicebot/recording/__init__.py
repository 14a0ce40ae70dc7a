"""What a call leaves behind: a stereo WAV (debtor left, bot right) and a JSON record."""
