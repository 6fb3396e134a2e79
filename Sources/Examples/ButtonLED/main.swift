// Starts the example: `swift run ButtonLED` (see ButtonLED.swift and ../README.md).

main()
