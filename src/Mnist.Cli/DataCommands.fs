module Mnist.Cli.DataCommands
