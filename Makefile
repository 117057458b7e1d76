# gazescope: `make run` starts the server on embedded SQLite storage; `make test` runs the test suite.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install lint bench clean

$(BIN)/gazescope: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev,dlib,cnn]"
	touch $@

# the browser's Face Mesh files (npm @mediapipe/face_mesh, pinned, integrity-checked, outside git); offline
# this fails with a warning and the app sends camera frames instead of on-device landmarks
install: $(BIN)/gazescope
	-@$(BIN)/gazescope vendor

run: install
	$(BIN)/gazescope serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m playwright --version >/dev/null
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src

bench: install
	$(BIN)/gazescope bench ../shared/data/videos/desk_webcam_640x480.avi

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist src/*.egg-info
