#!/bin/sh
# Container entrypoint: runs the service binary baked into this image (SERVICE_BIN, fixed at
# build time). Without arguments it passes SERVICE_DEFAULT_ARGS ("serve" for the all-in-one
# `temponest` binary, nothing for single services), so `docker run IMAGE` starts the service and
# `docker run IMAGE migrate` / `docker run IMAGE admin ...` run a subcommand instead.
set -eu
if [ "$#" -eq 0 ] && [ -n "${SERVICE_DEFAULT_ARGS:-}" ]; then
  # Word splitting is intended: the default arguments are a space-separated list.
  # shellcheck disable=SC2086
  set -- $SERVICE_DEFAULT_ARGS
fi
exec "/usr/local/bin/${SERVICE_BIN:?SERVICE_BIN is not set}" "$@"
