# Sourced by tools/*: pick_python prints a Python >= 3.11, preferring 3.13 (PRAHO's).
# EXAMPLE_PYTHON overrides the choice.
pick_python() {
  for candidate in "${EXAMPLE_PYTHON:-}" python3.13 /root/.pyenv/versions/3.13.0/bin/python3.13 \
      "$HOME/.pyenv/versions/3.13.0/bin/python3.13" python3; do
    if [ -n "$candidate" ] && "$candidate" -c 'import sys; assert sys.version_info >= (3, 11)' \
        2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  echo "no Python >= 3.11 found (set EXAMPLE_PYTHON)" >&2
  exit 2
}
