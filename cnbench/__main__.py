"""``python -m cnbench`` (also what ``accelerate launch -m cnbench`` runs)."""

from cnbench.cli import main

main()
