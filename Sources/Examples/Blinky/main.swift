// Starts the example: `swift run Blinky` (see Blinky.swift and ../README.md).

main()
