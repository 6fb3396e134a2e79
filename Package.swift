// swift-tools-version: 6.2
// sensorloop: a single-threaded, allocation-free executor for Raspberry Pi class boards, and
// the firmware-style program built on it. No package dependencies: the Swift toolchain and
// libgpiod (v1 API) only.
import PackageDescription

/// Modules on the loop's hot path are optimised across module boundaries in release builds,
/// so the executor's generic run loop is specialised for the application's task type.
let hotPath: [SwiftSetting] = [
  .unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))
]

let package = Package(
  name: "sensorloop",
  products: [
    .executable(name: "sensorloop", targets: ["sensorloop"]),
    .executable(name: "sensorloop-bench", targets: ["sensorloop-bench"]),
  ],
  targets: [
    // Core executor: time, task slots, wakers, timers, interrupts, sync primitives. Stdlib only.
    // `TaskBody.World` may be ~Copyable (it owns fds): that needs SuppressedAssociatedTypes.
    .target(
      name: "LoopCore",
      swiftSettings: hotPath + [.enableExperimentalFeature("SuppressedAssociatedTypes")]),
    // Thin C shim over epoll, timerfd, eventfd, signalfd, clock_gettime and errno.
    .target(name: "CLinux"),
    // The Linux platform: file descriptors, errno, the epoll reactor and its event sources.
    .target(name: "LoopLinux", dependencies: ["LoopCore", "CLinux"], swiftSettings: hotPath),
    // libgpiod v1 headers (Debian 12 / Pi OS bookworm: 1.6.3).
    .systemLibrary(
      name: "CGPIOD", pkgConfig: "libgpiod", providers: [.apt(["libgpiod-dev"])]),
    // GPIO lines: a libgpiod backend and a mock backend sharing one edge-event decode path.
    .target(
      name: "LoopGPIO", dependencies: ["LoopCore", "LoopLinux", "CGPIOD"], swiftSettings: hotPath),
    // board.json: a small JSON reader with positions, and validation into fixed capacities.
    .target(
      name: "LoopConfig", dependencies: ["LoopCore", "LoopLinux"], linkerSettings: [.linkedLibrary("m")]),
    // The firmware task library and the non-blocking JSON-lines output.
    .target(
      name: "LoopTasks", dependencies: ["LoopCore", "LoopLinux", "LoopGPIO"],
      swiftSettings: hotPath, linkerSettings: [.linkedLibrary("m")]),
    // The program: load a config, wire tasks, run, shut down cleanly.
    .executableTarget(
      name: "sensorloop",
      dependencies: ["LoopCore", "LoopLinux", "LoopGPIO", "LoopConfig", "LoopTasks"],
      swiftSettings: hotPath),

    // Test and benchmark support (never on the board).
    .target(name: "LoopTesting", dependencies: ["LoopCore"]),
    .target(name: "AllocCounter"),
    .target(name: "CBaseline"),
    .executableTarget(
      name: "sensorloop-bench",
      dependencies: ["LoopCore", "LoopLinux", "LoopGPIO", "CBaseline", "AllocCounter"],
      exclude: ["footprint.sh", "README-section.md"], swiftSettings: hotPath),

    .testTarget(name: "LoopCoreTests", dependencies: ["LoopCore", "LoopTesting", "AllocCounter"]),
    .testTarget(
      name: "LoopLinuxTests", dependencies: ["LoopCore", "LoopLinux", "LoopTesting", "AllocCounter"]),
    .testTarget(
      name: "LoopGPIOTests",
      dependencies: ["LoopCore", "LoopLinux", "LoopGPIO", "LoopTesting", "AllocCounter"]),
    // bad/ is the bad-config corpus, read from disk by the tests.
    .testTarget(name: "LoopConfigTests", dependencies: ["LoopCore", "LoopConfig"], exclude: ["bad", "largest.json"]),
    .testTarget(
      name: "LoopTasksTests",
      dependencies: ["LoopCore", "LoopLinux", "LoopGPIO", "LoopTasks", "LoopTesting", "AllocCounter"]),
    .testTarget(name: "SensorloopTests", dependencies: ["LoopConfig"]),
  ],
  swiftLanguageModes: [.v6]
)
