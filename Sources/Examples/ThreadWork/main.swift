// Starts the example: `swift run ThreadWork` (see ThreadWork.swift and ../README.md).

main()
