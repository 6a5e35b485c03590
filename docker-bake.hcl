# Every TempoNest image from one compilation (docker/Dockerfile's builder stage is the same for
# all of them, so BuildKit runs it once):
#
#   docker buildx bake                      # all images, loaded as <name>:local
#   TAG=1.2.3,1.2 REGISTRY=ghcr.io/acme/ docker buildx bake --push
#
# CI (.github/workflows/ci.yml, release.yml) sets tags, labels and attestations on top of this.

variable "REGISTRY" {
  # Image name prefix, with its trailing slash (e.g. ghcr.io/acme/); empty for local images.
  default = ""
}

variable "TAG" {
  # One tag, or several separated by commas (1.2.3,1.2,1).
  default = "local"
}

# Every tag of one image: REGISTRY + name + each of TAG's tags.
function "tags" {
  params = [name]
  result = [for tag in split(",", TAG) : "${REGISTRY}${name}:${tag}"]
}

group "default" {
  targets = ["temponest", "auth", "agents", "webhooks", "scheduler", "knowledge"]
}

# What every image shares.
target "_common" {
  context    = "."
  dockerfile = "docker/Dockerfile"
}

# One target per image: its binary, the port it listens on, and the arguments the container
# runs with when given none.
target "temponest" {
  inherits = ["_common"]
  args     = { BIN = "temponest", PORT = "9000", DEFAULT_ARGS = "serve" }
  tags     = tags("temponest")
}

target "auth" {
  inherits = ["_common"]
  args     = { BIN = "temponest-auth", PORT = "9002", DEFAULT_ARGS = "" }
  tags     = tags("temponest-auth")
}

target "agents" {
  inherits = ["_common"]
  args     = { BIN = "temponest-agents", PORT = "9000", DEFAULT_ARGS = "" }
  tags     = tags("temponest-agents")
}

target "webhooks" {
  inherits = ["_common"]
  args     = { BIN = "temponest-webhooks", PORT = "9004", DEFAULT_ARGS = "" }
  tags     = tags("temponest-webhooks")
}

target "scheduler" {
  inherits = ["_common"]
  args     = { BIN = "temponest-scheduler", PORT = "9003", DEFAULT_ARGS = "" }
  tags     = tags("temponest-scheduler")
}

target "knowledge" {
  inherits = ["_common"]
  args     = { BIN = "temponest-knowledge", PORT = "9005", DEFAULT_ARGS = "" }
  tags     = tags("temponest-knowledge")
}
