"""``hueyctl top``: the live dashboard (see hueyctl/tui/)."""
