// swift-tools-version: 6.2
// sensorloop: a single-threaded, allocation-free executor for Raspberry Pi class boards.
// No package dependencies: the Swift toolchain and libgpiod (v1) only.
import PackageDescription

let package = Package(
  name: "sensorloop",
  products: [
    .library(name: "LoopCore", targets: ["LoopCore"]),
  ],
  targets: [
    // The executor: time, task slots, wakers, timers, interrupts, sync primitives. Stdlib only.
    .target(name: "LoopCore"),
    // A virtual platform and trace helpers for deterministic tests of the core.
    .target(name: "LoopTesting", dependencies: ["LoopCore"]),

    .testTarget(name: "LoopCoreTests", dependencies: ["LoopCore", "LoopTesting"]),
  ],
  swiftLanguageModes: [.v6]
)
