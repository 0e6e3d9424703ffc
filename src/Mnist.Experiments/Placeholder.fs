module Mnist.Experiments.Placeholder
