module Mnist.Tests.IdxTests
