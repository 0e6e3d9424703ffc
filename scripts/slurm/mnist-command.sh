# Sourced by the batch scripts: `mnist` runs MNIST_CLI, a built mnist.dll (through dotnet) or a
# command (an installed `mnist` tool).
mnist() {
  case "$MNIST_CLI" in
    *.dll) dotnet "$MNIST_CLI" "$@" ;;
    *) "$MNIST_CLI" "$@" ;;
  esac
}
