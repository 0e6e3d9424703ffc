module Mnist.Tests.FetchTests
