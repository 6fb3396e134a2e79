// Starts the example: `swift run ProducerConsumer` (see ProducerConsumer.swift and ../README.md).

main()
