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
  targets = ["image"]
}

# One image per binary, all from docker/Dockerfile; each row names the bake target
# (`docker buildx bake agents` builds one), the binary (also the image name), the port it
# listens on, and the arguments the container runs with when given none.
target "image" {
  name = item.target
  matrix = {
    item = [
      { target = "temponest", bin = "temponest", port = "9000", default_args = "serve" },
      { target = "auth", bin = "temponest-auth", port = "9002", default_args = "" },
      { target = "agents", bin = "temponest-agents", port = "9000", default_args = "" },
      { target = "webhooks", bin = "temponest-webhooks", port = "9004", default_args = "" },
      { target = "scheduler", bin = "temponest-scheduler", port = "9003", default_args = "" },
      { target = "knowledge", bin = "temponest-knowledge", port = "9005", default_args = "" },
    ]
  }
  context    = "."
  dockerfile = "docker/Dockerfile"
  args       = { BIN = item.bin, PORT = item.port, DEFAULT_ARGS = item.default_args }
  tags       = tags(item.bin)
}
