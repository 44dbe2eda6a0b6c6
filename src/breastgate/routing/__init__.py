"""Routing: study assembly (when a study is stable), rules → jobs, and priors (selection,
C-FIND/C-MOVE, the pre-fetch worker)."""
