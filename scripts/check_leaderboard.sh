#!/usr/bin/env bash
# Is the committed leaderboard exactly what `cnbench leaderboard` generates from the result files?
# The one staleness check: .ci/run, the pre-commit hook and both GitHub workflows call this script.
#
# It regenerates leaderboard/ in place with the checkout's .venv, then compares the working tree
# with git's index. In a fresh checkout (CI) the index is the last commit. Under pre-commit it is
# what is about to be committed, so a new result file staged together with its regenerated page
# passes, and one staged without it fails.
#
# Exit status: 0 up to date; 1 stale (the regenerated files stay in the working tree, ready to
# review and `git add leaderboard`); 2 `cnbench leaderboard` itself failed.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! .venv/bin/cnbench leaderboard; then
  echo "check_leaderboard: 'cnbench leaderboard' failed, so the leaderboard could not be checked" >&2
  exit 2
fi

# Porcelain lines are "XY path" (X: index, Y: working tree). A line whose Y is a space is already
# staged as it is now; any other (an unstaged edit, an untracked "??" file) is something that
# regeneration changed or that the index does not hold.
stale=$(git status --porcelain --untracked-files=all -- leaderboard | grep -v '^. ' || true)
if [ -n "$stale" ]; then
  echo "leaderboard/ differs from what 'cnbench leaderboard' generates from leaderboard/results:" >&2
  echo "$stale" >&2
  git --no-pager diff --stat -- leaderboard >&2
  echo "Review the regenerated files and add them (git add leaderboard), or remove what should not be there." >&2
  exit 1
fi
echo "leaderboard: up to date"
