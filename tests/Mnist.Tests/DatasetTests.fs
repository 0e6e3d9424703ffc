module Mnist.Tests.DatasetTests
